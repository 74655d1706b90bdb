"""Export files that hold an erased person: listed, or rewritten without the person's rows.

Exports live outside the warehouse (the source systems' drop folder), so `patient360 erase`
only lists them unless `--rewrite-exports` is given. A line holds the person when it carries
one of their record ids, resident ID numbers, device serials, platform or WeChat ids, or a
mobile (compared with separators removed). Rewriting keeps the file's encoding (UTF-8 with or
without BOM, UTF-16, GB18030/GBK), line ends and gzip compression, and swaps the new file in
atomically; a file left with no data line is deleted. Files that are not line-based
(Apple Health XML) are listed, never rewritten: delete or re-export them at the source.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

from patient360.identifiers import MOBILE_SEPARATORS

LINE_BASED = (".csv", ".tsv", ".txt", ".ndjson", ".jsonl", ".json")


def _decode(data: bytes) -> tuple[str, str]:
    """(text, codec) for the export encodings landing accepts."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("gb18030"), "gb18030"


def _read(path: Path) -> bytes:
    """The file's text bytes; of a damaged gzip, what can be decompressed (it may hold the person)."""
    data = path.read_bytes()
    if not path.name.endswith(".gz"):
        return data
    out = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        return out.decompress(data)
    except zlib.error:
        return b""


def _needles(person) -> tuple[list[str], list[str]]:
    strong = sorted(v for k, vals in person.identifiers.items() if k != "mobile" for v in vals if v)
    return strong, sorted(person.values("mobile"))


def holds_person(line: str, strong: list[str], mobiles: list[str]) -> bool:
    if any(s in line for s in strong):
        return True
    digits = re.sub(MOBILE_SEPARATORS, "", line) if mobiles else ""
    return any(m in digits for m in mobiles)


def _files(exports: Path) -> Iterator[Path]:
    for path in sorted(exports.rglob("*")):
        if path.is_file() and "_truth" not in path.relative_to(exports).parts:
            yield path


def exports_with_person(exports: Path, person) -> list[Path]:
    """Every export file (gzip read through) with at least one line holding the person."""
    strong, mobiles = _needles(person)
    found = []
    for path in _files(exports):
        text, _ = _decode(_read(path))
        if any(holds_person(line, strong, mobiles) for line in text.splitlines()):
            found.append(path)
    return found


def rewrite_export(path: Path, person) -> bool:
    """Rewrite a line-based export without the person's lines (same encoding, atomic).
    Returns False for a file that is not line-based (left as it is)."""
    plain = path.name.removesuffix(".gz")
    if not plain.lower().endswith(LINE_BASED):
        return False
    strong, mobiles = _needles(person)
    text, codec = _decode(_read(path))
    lines = text.splitlines(keepends=True)
    header = [] if plain.lower().endswith((".ndjson", ".jsonl", ".json")) else lines[:1]
    kept = header + [ln for ln in lines[len(header) :] if not holds_person(ln, strong, mobiles)]
    if len(kept) == len(header):
        path.unlink()
        return True
    data = "".join(kept).encode(codec)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True
