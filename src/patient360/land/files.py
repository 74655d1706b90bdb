"""Find export files and inspect their bytes before DuckDB reads them.

One streaming pass per file computes the sha256 of the delivered bytes, inflates gzip
(a truncated or corrupt stream is detected here), validates UTF-8, counts physical
lines and captures the header line. GBK files (HIS) are transcoded to a temporary
UTF-8 file, because DuckDB reads UTF-8 only and the `encodings` extension cannot be
installed here.
"""

from __future__ import annotations

import codecs
import csv
import fnmatch
import hashlib
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from patient360.contracts import SOURCES, Contract, contracts_for

log = logging.getLogger(__name__)

CHUNK = 8 << 20
# Vendor exports dropped in wearable/<date>/, mapped onto raw_wearable.readings (see vendors.py).
VENDOR_GLOBS: tuple[tuple[str, str], ...] = (
    ("dexcom_clarity*.csv*", "dexcom_clarity"),
    ("fitbit_heartrate_seconds_merged.csv*", "fitbit_heartrate"),
    ("fitbit_dailyActivity_merged.csv*", "fitbit_daily_activity"),
)


class FileProblem(Exception):
    """A file-level defect: `kind` becomes the quarantine rule `file:<kind>`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ExportFile:
    source: str
    day: date
    path: Path  # absolute
    rel_path: str  # relative to the exports folder, posix: the file's identity
    contract: Contract | None  # None: no contract matches the name
    vendor_format: str | None = None  # dexcom_clarity / fitbit_* for vendor exports

    @property
    def table(self) -> str | None:
        return self.contract.table if self.contract else None


@dataclass
class Inspection:
    checksum: str
    size: int
    encoding: str | None = None
    data_bytes: int = 0  # after gunzip
    physical_lines: int = 0
    header: list[str] | None = None
    read_path: Path | None = None  # what DuckDB reads (original or transcoded temp file)
    gzip: bool = False
    has_quotes: bool = True  # a '"' occurs: a CSV record may span several physical lines
    problem: FileProblem | None = None
    notes: list[str] = field(default_factory=list)


def _match(source: str, name: str) -> tuple[Contract | None, str | None]:
    if source == "wearable":
        for glob, fmt in VENDOR_GLOBS:
            if fnmatch.fnmatchcase(name, glob):
                from patient360.contracts import get_contract

                return get_contract("wearable", "readings"), fmt
    for c in contracts_for(source):
        if fnmatch.fnmatchcase(name, c.file_glob):
            return c, None
    return None, None


def discover(exports_dir: Path, day: date | None = None, sources: list[str] | None = None) -> list[ExportFile]:
    """Every file under DIR/<source>/<YYYY-MM-DD>/, ordered by date, source, table, name.

    `_truth` and other folders that are not a source are never looked at; dot/underscore
    files inside a partition are ignored.
    """
    found: list[ExportFile] = []
    for source in sources or list(SOURCES):
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
        src_dir = exports_dir / source
        if not src_dir.is_dir():
            continue
        for part in sorted(src_dir.iterdir()):
            if not part.is_dir():
                continue
            try:
                part_day = date.fromisoformat(part.name)
            except ValueError:
                log.warning("skipping %s: folder name is not a YYYY-MM-DD partition", part)
                continue
            if day is not None and part_day != day:
                continue
            for f in sorted(part.iterdir()):
                if not f.is_file() or f.name.startswith((".", "_")):
                    continue
                contract, vendor = _match(source, f.name)
                rel = f.relative_to(exports_dir).as_posix()
                found.append(ExportFile(source, part_day, f, rel, contract, vendor))
    order = {s: i for i, s in enumerate(SOURCES)}
    found.sort(key=lambda e: (e.day, order[e.source], e.table or "~", e.path.name))
    return found


def _raw_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _inflate(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """gunzip (multi-member aware); raises FileProblem on a truncated or corrupt stream."""
    d = zlib.decompressobj(wbits=31)
    fed = False  # has the current member received any bytes?
    for chunk in chunks:
        data = chunk
        while data:
            fed = True
            try:
                out = d.decompress(data)
            except zlib.error as exc:
                raise FileProblem("corrupt_gzip", f"gzip stream is corrupt: {exc}") from exc
            if out:
                yield out
            data = b""
            if d.eof:
                data, d, fed = d.unused_data, zlib.decompressobj(wbits=31), False
    if fed and not d.eof:
        raise FileProblem("truncated_gzip", "gzip stream ends before its end marker (truncated file)")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    for chunk in _raw_chunks(path):
        h.update(chunk)
    return h.hexdigest()


def inspect(ef: ExportFile, tmp_dir: Path) -> Inspection:
    """Hash, gunzip, detect encoding, count lines, read the header; transcode GBK."""
    is_gz = ef.path.name.endswith(".gz")
    info = Inspection(checksum="", size=ef.path.stat().st_size, gzip=is_gz)
    hasher = hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        for chunk in _raw_chunks(ef.path):
            hasher.update(chunk)
            yield chunk

    dec = codecs.getincrementaldecoder("utf-8")("strict")
    utf8_ok = True
    head = bytearray()
    newlines = 0
    last = b""
    quotes = False
    try:
        for chunk in _inflate(hashed()) if is_gz else hashed():
            info.data_bytes += len(chunk)
            newlines += chunk.count(b"\n")
            quotes = quotes or b'"' in chunk
            last = chunk[-1:]
            if len(head) < 65536 and b"\n" not in head:
                head += chunk[:65536]
            # an ASCII chunk is valid UTF-8 unless a multi-byte sequence is still open
            if utf8_ok and (not chunk.isascii() or dec.getstate()[0]):
                try:
                    dec.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
        if utf8_ok:
            try:
                dec.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8_ok = False
    except FileProblem as problem:
        info.problem = problem
        info.checksum = _sha256(ef.path)  # gunzip stopped early: hash every byte anyway
        return info
    info.checksum = hasher.hexdigest()
    info.has_quotes = quotes
    info.physical_lines = newlines + (1 if last not in (b"", b"\n") else 0)
    if not bytes(head).strip():
        info.problem = FileProblem("empty_file", "file has no content" + (" after gunzip" if is_gz else ""))
        return info

    allowed = ef.contract.encodings if ef.contract else ("utf-8",)
    if utf8_ok:
        info.encoding, info.read_path = "utf-8", ef.path
    elif "gbk" in allowed:
        try:
            info.read_path = _transcode(ef, tmp_dir)
        except FileProblem as problem:
            info.problem = problem
            return info
        info.encoding = "gbk"
        head = bytearray(bytes(head).split(b"\n", 1)[0].decode("gbk", errors="replace").encode("utf-8"))
    else:
        try:
            bytes(head).split(b"\n", 1)[0].decode("gbk")
            hint = " (looks like GBK)"
        except UnicodeDecodeError:
            hint = ""
        info.problem = FileProblem(
            "bad_encoding", f"not valid UTF-8{hint}; accepted encodings for this file: {', '.join(allowed)}"
        )
        return info
    first = bytes(head).split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r")
    info.header = [h.strip() for h in next(csv.reader([first]))] if first else []
    return info


def _transcode(ef: ExportFile, tmp_dir: Path) -> Path:
    """Decode GBK (strictly) and write UTF-8; raises FileProblem if not GBK either."""
    out = tmp_dir / (ef.rel_path.replace("/", "__") + ".utf8.csv")
    dec = codecs.getincrementaldecoder("gbk")("strict")
    chunks = _inflate(_raw_chunks(ef.path)) if ef.path.name.endswith(".gz") else _raw_chunks(ef.path)
    try:
        with out.open("w", encoding="utf-8", newline="") as fh:
            for chunk in chunks:
                fh.write(dec.decode(chunk))
            fh.write(dec.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        out.unlink(missing_ok=True)
        raise FileProblem("bad_encoding", f"neither UTF-8 nor GBK (byte {exc.start} of a chunk: {exc.reason})") from exc
    return out
