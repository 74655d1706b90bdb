"""Find export files and inspect their bytes before DuckDB reads them.

One streaming pass per file computes the sha256 of the delivered bytes, inflates gzip
(a truncated or corrupt stream is detected here), detects the encoding, counts physical
lines and captures the first bytes (what detect.py recognises a format by).

Encodings, in order: a UTF-16 byte-order mark means UTF-16; valid UTF-8 is UTF-8;
otherwise the file is tried as GB18030 (the superset of GBK: every GBK file decodes the
same, and rare characters such as 䶮 too). Whether the detected encoding is accepted is
decided by the file's format (a contract's `encodings`, where `gbk` admits GB18030).
A file that is none of these names the encoding it looks like and the byte offset in
the (inflated) file where decoding failed.

Line endings: `\n` and `\r\n` are read as they are. A file with `\r\r\n` (a CRLF file
converted once more) or lone `\r` (classic Mac) is rewritten with `\n` line ends, and
line numbers then count the rewritten lines. UTF-16 and GB18030 files are transcoded to
a temporary UTF-8 file, because DuckDB reads UTF-8 only.
"""

from __future__ import annotations

import codecs
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
HEAD_BYTES = 65536  # what format detection sees of a file


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
    contract: Contract | None  # the contract whose file_glob matches the name (a hint; content decides)

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
    head: str = ""  # the first HEAD_BYTES, decoded (line ends normalised)
    read_path: Path | None = None  # what DuckDB reads (original or transcoded temp file)
    gzip: bool = False
    has_quotes: bool = True  # a '"' occurs: a CSV record may span several physical lines
    problem: FileProblem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def transcoded(self) -> bool:
        return self.read_path is not None and self.read_path.name.endswith(TRANSCODED_SUFFIX)

    def head_lines(self, n: int = 20) -> list[str]:
        """The first `n` complete lines of the head (a cut-off last line is left out)."""
        lines = self.head.split("\n")
        if len(self.head) >= HEAD_BYTES // 4 and len(self.head.encode("utf-8")) >= HEAD_BYTES - 4:
            lines = lines[:-1]
        return [line.rstrip("\r") for line in lines[:n]]


def _match(source: str, name: str) -> Contract | None:
    for c in contracts_for(source):
        if fnmatch.fnmatchcase(name, c.file_glob):
            return c
    return None


def recorded_name(name: str) -> str:
    """The name recorded for a file whose name is not a contract's (vendor exports put the
    patient's name in theirs, e.g. Clarity_Export_Zhou_Meiling_2024-02-29.csv): `~` + the
    first 16 hex digits of the name's sha256 + its extensions. Stable, so re-deliveries
    under the same name are versions; `sha256sum` of the bytes finds a file by checksum."""
    ext = "".join(s for s in Path(name).suffixes if len(s) <= 6 and s[1:].isalnum())[-12:]
    return "~" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:16] + ext.lower()


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
                contract = _match(source, f.name)
                rel = f"{source}/{part.name}/{f.name if contract else recorded_name(f.name)}"
                found.append(ExportFile(source, part_day, f, rel, contract))
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


TRANSCODED_SUFFIX = ".p360-utf8"
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
LABELS = {"gb18030": "GB18030/GBK", "utf-16": "UTF-16"}


def _looks_like(head: bytes) -> str:
    """A guess at an undecodable file's encoding, for the message that rejects it."""
    if head[:2] in UTF16_BOMS or (len(head) > 3 and head[1:4:2] == b"\x00\x00"):
        return "UTF-16"
    try:
        head.decode("gb18030")
        return "GB18030/GBK"
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # only the cut-off end fails
            return "GB18030/GBK"
    try:
        head.decode("big5")
        return "Big5"
    except UnicodeDecodeError:
        return "a legacy single-byte encoding (Latin-1 / Windows-1252?)"


def inspect(ef: ExportFile, tmp_dir: Path) -> Inspection:
    """Hash, gunzip, detect the encoding, count lines, capture the head; transcode when needed."""
    is_gz = ef.path.name.endswith(".gz")
    info = Inspection(checksum="", size=ef.path.stat().st_size, gzip=is_gz)
    hasher = hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        for chunk in _raw_chunks(ef.path):
            hasher.update(chunk)
            yield chunk

    dec = codecs.getincrementaldecoder("utf-8")("strict")
    utf8_bad_at: int | None = None
    head = bytearray()
    newlines = crs = crlfs = 0
    last = b""
    quotes = False
    try:
        for chunk in _inflate(hashed()) if is_gz else hashed():
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            newlines += chunk.count(b"\n")
            if b"\r" in chunk or last == b"\r":
                crs += chunk.count(b"\r")
                crlfs += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
            quotes = quotes or b'"' in chunk
            # an ASCII chunk is valid UTF-8 unless a multi-byte sequence is still open
            if utf8_bad_at is None and (not chunk.isascii() or dec.getstate()[0]):
                pending = len(dec.getstate()[0])
                try:
                    dec.decode(chunk)
                except UnicodeDecodeError as exc:
                    utf8_bad_at = info.data_bytes - pending + exc.start
            info.data_bytes += len(chunk)
            last = chunk[-1:]
        if utf8_bad_at is None:
            try:
                dec.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8_bad_at = info.data_bytes - len(dec.getstate()[0])
    except FileProblem as problem:
        info.problem = problem
        info.checksum = _sha256(ef.path)  # gunzip stopped early: hash every byte anyway
        return info
    info.checksum = hasher.hexdigest()
    info.has_quotes = quotes
    info.physical_lines = newlines + (1 if last not in (b"", b"\n") else 0)
    head_b = bytes(head)
    if not head_b.strip() or (head_b[:2] in UTF16_BOMS and not head_b[2:].strip(b"\x00\r\n\t ")):
        info.problem = FileProblem("empty_file", "file has no content" + (" after gunzip" if is_gz else ""))
        return info

    odd_endings = crs != crlfs  # a lone \r (also the first \r of \r\r\n)
    if head_b[:2] in UTF16_BOMS:
        encoding = "utf-16"
    elif utf8_bad_at is None:
        encoding = "utf-8"
    else:
        encoding = "gb18030"
    info.encoding = encoding
    if encoding == "utf-8" and not odd_endings:
        info.read_path = ef.path
        info.head = head_b.decode("utf-8", errors="ignore").lstrip("\ufeff")
        return info
    try:
        _transcode(ef, tmp_dir, encoding, info)
    except FileProblem as problem:
        if encoding == "gb18030":  # neither UTF-8 nor GB18030: name the first bad UTF-8 byte too
            problem = FileProblem(
                "bad_encoding",
                f"not UTF-8 (invalid byte at offset {utf8_bad_at}) and {problem}; "
                f"the file looks like {_looks_like(head_b)}",
            )
        info.problem = problem
        return info
    if odd_endings:
        info.notes.append("line ends \\r\\r\\n or lone \\r read as line breaks (line numbers count those)")
    return info


def _normalise_line_ends(text: str, final: bool) -> tuple[str, str]:
    """(text with \\n line ends, trailing \\r run held back for the next piece)."""
    carry = ""
    if not final:
        stripped = text.rstrip("\r")
        carry, text = text[len(stripped) :], stripped
    return text.replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\r", "\n"), carry


def _transcode(ef: ExportFile, tmp_dir: Path, encoding: str, info: Inspection) -> None:
    """Decode strictly, normalise line ends and write UTF-8; counts lines and quotes again.

    Raises FileProblem('bad_encoding') naming the byte offset (in the inflated file)."""
    out = tmp_dir / (ef.rel_path.replace("/", "__") + TRANSCODED_SUFFIX)
    dec = codecs.getincrementaldecoder(encoding)("strict")
    chunks = _inflate(_raw_chunks(ef.path)) if info.gzip else _raw_chunks(ef.path)
    consumed, carry, newlines, quotes, last = 0, "", 0, False, ""
    head: list[str] = []
    try:
        with out.open("w", encoding="utf-8", newline="") as fh:
            for chunk in [*chunks, b""]:
                final = not chunk
                pending = len(dec.getstate()[0])
                try:
                    text = dec.decode(chunk, final=final)
                except UnicodeDecodeError as exc:
                    at = consumed - pending + exc.start
                    raise FileProblem(
                        "bad_encoding", f"not valid {LABELS.get(encoding, encoding)} at byte offset {at} ({exc.reason})"
                    ) from exc
                consumed += len(chunk)
                if not head and text.startswith("\ufeff"):
                    text = text[1:]
                text, carry = _normalise_line_ends(carry + text, final)
                if sum(map(len, head)) < HEAD_BYTES:
                    head.append(text[:HEAD_BYTES])
                newlines += text.count("\n")
                quotes = quotes or '"' in text
                last = text[-1:] or last
                fh.write(text)
    except FileProblem:
        out.unlink(missing_ok=True)
        raise
    info.read_path = out
    info.head = "".join(head)[:HEAD_BYTES]
    info.physical_lines = newlines + (1 if last not in ("", "\n") else 0)
    info.has_quotes = quotes
