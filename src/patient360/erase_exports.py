"""Export files that hold an erased person: listed, or rewritten without the person's rows.

Exports live outside the warehouse (the source systems' drop folder), so `patient360 erase`
only lists them unless `--rewrite-exports` is given. Every layout landing accepts is read the
way landing reads it:

- native CSV (UTF-8 with or without BOM, UTF-16, GBK/GB18030; comma or tab) and NDJSON, gzip
  or not: a row holds the person when one of its fields (CSV cell, JSON value) IS one of the
  person's record ids, device serials, platform or WeChat ids, resident ID numbers (normalised)
  or mobiles (normalised: separators and +86 allowed). Whole fields are compared, never
  substrings, so another person's row is never taken for the person's;
- Fitbit / Fitabase tables (multi-person): the `Id` field is the device serial without its
  `FB-` prefix (land/adapters/fitbit.py);
- Dexcom Clarity, LibreView and Apple Health exports are one person's export each (name and
  date of birth in their header lines or `<Me>`): a file whose serial (Dexcom transmitter,
  Libre serial number, Apple `AH-` serial of a `sourceName`) is the person's is theirs alone.

Rewriting removes exactly the person's lines and keeps every other byte: the file is split at
its line ends, kept lines are written back as they were read (header, encoding, BOM, CR LF);
only gzip's own header is new. A file left with no data line, a single-person vendor export
and a truncated gzip (landing rejects it; a repaired copy would land) are deleted. The new
file is swapped in atomically. Not handled: a quoted CSV field with a line break inside (one
record on two lines); landing's exports carry none.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import html
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import AnyStr

from patient360.identifiers import MOBILE_SEPARATORS, normalise_id_number, normalise_mobile
from patient360.land.adapters import all_adapters

# adapters whose every file is one person's export (deleted whole); fitbit files hold many people
SINGLE_PERSON = ("dexcom", "abbott", "apple")  # Adapter.vendor
FITBIT_PREFIX = "FB-"
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_SOURCE_NAME = re.compile(r'sourceName="([^"]*)"')


@dataclass(frozen=True)
class Lines:
    """A text file as its raw lines (line end included): joined, they are the file's bytes."""

    bom: bytes
    raw: list[bytes]
    codec: str  # to read a line for matching, never to write it

    def text(self, i: int) -> str:
        return self.raw[i].decode(self.codec, errors="replace").rstrip("\r\n")

    def head(self, n: int = 20) -> list[str]:
        return [self.text(i).lstrip("\ufeff") for i in range(min(n, len(self.raw)))]


def split_lines(data: bytes) -> Lines:
    """The file's lines, split after each LF (CR LF stays whole; a lone CR is no line end). UTF-8
    and GBK never hold the byte 0x0A inside a character, so they are split as bytes; UTF-16 is
    split on its decoded text and each line encoded back (exact for valid UTF-16)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            if codec.startswith("utf-16"):
                return Lines(bom, [ln.encode(codec) for ln in _split_lf(body.decode(codec))], codec)
            return Lines(bom, _split_lf(body), codec)
    try:
        data.decode("utf-8")
        codec = "utf-8"
    except UnicodeDecodeError:
        codec = "gb18030"
    return Lines(b"", _split_lf(data), codec)


def _split_lf(data: AnyStr) -> list[AnyStr]:
    nl = data[:0] + (b"\n" if isinstance(data, bytes) else "\n")
    parts = data.split(nl)
    out = [p + nl for p in parts[:-1]]
    return out + [parts[-1]] if parts[-1] else out


def _read(path: Path) -> tuple[bytes, bool]:
    """(the file's bytes, whole?); of a gzip file the content, of a truncated one what can be
    decompressed (it may hold the person) and False."""
    data = path.read_bytes()
    if not path.name.endswith(".gz"):
        return data, True
    out = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        return out.decompress(data), out.eof
    except zlib.error:
        return b"", False


def _squeeze(text: str) -> str:
    return re.sub(MOBILE_SEPARATORS, "", text).upper()


@dataclass(frozen=True)
class Needles:
    """The person's values as export fields carry them."""

    plain: frozenset[str]  # record ids, serials, platform / WeChat ids (compared stripped)
    id_numbers: frozenset[str]
    mobiles: frozenset[str]
    fitbit_ids: frozenset[str]  # serials FB-<Id>, as the Fitbit `Id` field
    squeezed: tuple[str, ...]  # every value without separators, upper case: the cheap pre-filter

    @classmethod
    def of(cls, person) -> Needles:
        plain = {v for k, vals in person.identifiers.items() if k not in ("mobile", "id_number") for v in vals if v}
        fitbit = {v.removeprefix(FITBIT_PREFIX) for v in plain if v.startswith(FITBIT_PREFIX)}
        ids, mobiles = set(person.values("id_number")), set(person.values("mobile"))
        squeezed = {_squeeze(v) for v in plain | ids | mobiles | fitbit}
        return cls(frozenset(plain), frozenset(ids), frozenset(mobiles), frozenset(fitbit), tuple(sorted(squeezed)))

    def maybe_in(self, text: str) -> bool:
        squeezed = _squeeze(text)
        return any(n in squeezed for n in self.squeezed)

    def field(self, value: object, fitbit: bool = False) -> bool:
        text = str(value).strip()
        if text in self.plain or (fitbit and text in self.fitbit_ids):
            return True
        if len(text) > 30:
            return False  # no identifier is this long: free text is not searched for one
        return normalise_id_number(text) in self.id_numbers or normalise_mobile(text) in self.mobiles


def _json_values(value: object) -> Iterator[object]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _json_values(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_values(v)
    elif value is not None:
        yield value


def _fields(text: str, delimiter: str) -> list[object]:
    if text.lstrip().startswith("{"):
        try:
            return list(_json_values(json.loads(text)))
        except ValueError:
            pass  # a broken JSON line: its CSV-ish split still finds quoted ids
    row: list[object] = list(next(csv.reader([text], delimiter=delimiter), []))
    return row


def _layout(lines: Lines) -> str:
    """The vendor adapter whose signature the file's first lines match, else 'native'."""
    head = lines.head()
    for adapter in all_adapters():
        if adapter.matches(head):
            return adapter.vendor
    return "native"


def _apple_serials(text: str) -> set[str]:
    """The device serials landing gives the file's `sourceName`s (land/adapters/apple_health.py)."""
    names = {html.unescape(n) for n in _SOURCE_NAME.findall(text)}
    return {"AH-" + hashlib.sha256(n.encode("utf-8")).hexdigest()[:12] for n in names}


def _has_header(lines: Lines, layout: str) -> bool:
    """A CSV's first line is its header (vendor files with lines above it are single-person)."""
    first = lines.text(0).lstrip() if lines.raw else ""
    return bool(first) and not first.startswith(("{", "<")) and layout not in SINGLE_PERSON


def person_lines(lines: Lines, needles: Needles, layout: str) -> list[int]:
    """Indexes of the lines that hold the person (a header line never does)."""
    first = lines.text(0) if lines.raw else ""
    delimiter = "\t" if "\t" in first and "," not in first else ","
    found = []
    for i in range(int(_has_header(lines, layout)), len(lines.raw)):
        text = lines.text(i)
        if needles.maybe_in(text) and any(needles.field(f, layout == "fitbit") for f in _fields(text, delimiter)):
            found.append(i)
    return found


@dataclass(frozen=True)
class Hit:
    """A file that holds the person."""

    lines: Lines
    layout: str  # Adapter.vendor, or 'native'
    mine: list[int]  # the person's line indexes (a single-person file: all of it)
    whole: bool  # False: a truncated gzip (landing rejects it)

    @property
    def delete_whole(self) -> bool:
        """Deleted rather than rewritten: one person's vendor export, a file with no other data
        line, or a truncated gzip (a repaired copy would land as new data)."""
        kept = len(self.lines.raw) - len(self.mine)
        return self.layout in SINGLE_PERSON or not self.whole or kept <= int(_has_header(self.lines, self.layout))


def _holds(path: Path, needles: Needles) -> Hit | None:
    """How a file holds the person, or None."""
    data, whole = _read(path)
    lines = split_lines(data)
    text = b"".join(lines.raw).decode(lines.codec, errors="replace")
    layout = _layout(lines)
    if layout == "apple":
        return Hit(lines, layout, [], whole) if _apple_serials(text) & needles.plain else None
    if not needles.maybe_in(text):
        return None
    mine = person_lines(lines, needles, layout)
    return Hit(lines, layout, mine, whole) if mine else None


def _files(exports: Path) -> Iterator[Path]:
    for path in sorted(exports.rglob("*")):
        if path.is_file() and "_truth" not in path.relative_to(exports).parts:
            yield path


def exports_with_person(exports: Path, person) -> list[Path]:
    """Every export file (gzip read through) that holds the person, in any accepted layout."""
    needles = Needles.of(person)
    return [path for path in _files(exports) if _holds(path, needles) is not None]


def rewrite_export(path: Path, person) -> bool:
    """Rewrite an export without the person's lines, every other byte kept (atomic swap); a
    single-person vendor export, or a file left without data lines, is deleted. Returns False
    when the file does not hold the person (left as it is)."""
    hit = _holds(path, Needles.of(person))
    if hit is None:
        return False
    if hit.delete_whole:
        path.unlink()
        return True
    drop = set(hit.mine)
    data = hit.lines.bom + b"".join(raw for i, raw in enumerate(hit.lines.raw) if i not in drop)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True
