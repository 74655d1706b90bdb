"""Verdict reuse: a table's PII value scan is not repeated when nothing it depends on changed.

The value scan (every text detector, the dictionaries, pseudonym integrity, numeric and date
rules over every column: `PiiScanner.scan_table`) is the largest part of a gate run. The same
table content is scanned again and again: by `patient360 check`, then by `publish` on the
person and activation candidates (copies of the same marts), and on the next day for every mart
the daily build did not touch. Its metric rows are a function of

- the table's rows (count and an order-independent sum of DuckDB row hashes) and column types,
- the allow-list rules of its columns,
- the scanner's dictionaries as built in this run (each `gate_*` table's count and hash sum,
  and the romanised name forms), so a new name in the restricted zone invalidates every entry,
- the key's public id, the scan's date and the scanner's code (its source files),

so they are stored under a SHA-256 of all of that, in `<warehouse dir>/gx/pii_scan_cache.json`,
and looked up before scanning. Only names and counts are stored (the metric rows), never values.
Each entry is signed with an HMAC under the pseudonym key: an entry written by anything but a gate
holding the key (a hand-edited file) is ignored, and without a key nothing is reused. The row
fingerprint is DuckDB's 64-bit row hash: it detects changed data, it is not meant to withstand
rows crafted to collide with it (docs/deidentification.md). Comments and Parquet metadata are
scanned on every run: they are small and differ between the warehouse and a candidate.
`P360_GATE_REUSE=0` turns reuse off (every table scanned).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import sys
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from patient360.gates.metrics import Metric, q
from patient360.gates.schema_allowlist import PUBLISHED_SCHEMA
from patient360.pseudonym import key_id
from patient360.warehouse import one

if TYPE_CHECKING:
    from patient360.gates.pii_scan import PiiScanner

log = logging.getLogger(__name__)

CACHE_NAME = "pii_scan_cache.json"
REUSE_ENV = "P360_GATE_REUSE"
MAX_ENTRIES = 1000  # a few days of every tier's tables; the oldest are dropped first
# the scanner's code: its detectors, normaliser, name forms, ID-number macros and record keys
_CODE = ("gates/pii_scan.py", "gates/pii_patterns.py", "gates/pii_normalise.py", "gates/name_forms.py",
         "gates/scan_cache.py", "gates/schema_allowlist.py", "gates/metrics.py", "identifiers.py",
         "record_keys.py", "pseudonym.py")  # fmt: skip
# and the libraries whose behaviour the detectors rely on (casts and regexes, Unicode tables, pinyin)
_LIBRARIES = ("duckdb", "pypinyin")


def cache_path(warehouse: Path) -> Path:
    return Path(warehouse).parent / "gx" / CACHE_NAME


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


class ScanCache:
    """The stored scans of one warehouse; `context` binds them to one scanner's dictionaries."""

    def __init__(self, path: Path | None, key: bytes | None):
        self.path = path
        self._mac_key = hmac.new(key, b"p360 gate scan cache", hashlib.sha256).digest() if key else None
        self.enabled = path is not None and key is not None and os.environ.get(REUSE_ENV, "1") != "0"
        self.entries: dict[str, dict] = {}
        self.reused = self.scanned = 0
        if self.enabled and path is not None and path.is_file():
            self.entries = self._load(path)

    def _load(self, path: Path) -> dict[str, dict]:
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            found = None
        if not isinstance(found, dict):
            log.warning("ignoring an unreadable gate scan cache %s", path)
            return {}
        return {k: e for k, e in found.items() if isinstance(e, dict) and hmac.compare_digest(
            str(e.get("mac", "")), self._mac(k, e.get("rows")))}  # fmt: skip

    def _mac(self, entry: str, rows: object) -> str:
        assert self._mac_key is not None
        return hmac.new(self._mac_key, json.dumps([entry, rows]).encode("utf-8"), hashlib.sha256).hexdigest()

    def context(self, scanner: PiiScanner) -> str:
        """What every scan of this scanner depends on besides the table (computed once per scanner)."""
        found = getattr(scanner, "_p360_cache_context", None)
        if found is None:
            code = Path(__file__).parent.parent
            con = scanner.con
            tables = [
                t
                for (t,) in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'gate\\_%' ESCAPE '\\' "
                    "AND table_name <> 'gate_vals' ORDER BY 1"
                ).fetchall()
            ]
            dictionaries = {
                t: one(con.execute(f"SELECT count(*), sum(hash(x))::HUGEINT FROM {q(t)} AS x")) for t in tables
            }
            found = _digest(
                [hashlib.sha256((code / f).read_bytes()).hexdigest() for f in _CODE],
                [version(lib) for lib in _LIBRARIES],
                sys.version,
                dictionaries,
                sorted(scanner.romanised),
                key_id(scanner.key) if scanner.key else None,
                scanner.today,
                scanner.has_dictionary,
            )
            scanner._p360_cache_context = found  # type: ignore[attr-defined]
        return found

    def key(self, scanner: PiiScanner, table: str, columns: dict[str, str]) -> str | None:
        if not self.enabled:
            return None
        try:
            rows = one(scanner.con.execute(
                f"SELECT count(*), sum(hash(x))::HUGEINT FROM {PUBLISHED_SCHEMA}.{q(table)} AS x"))  # fmt: skip
        except duckdb.Error:
            return None  # scanned, and the scan reports what is wrong with the table
        rules = {c: repr(scanner.allow.rule(table, c)) for c in columns}
        return _digest(self.context(scanner), table, columns, rules, rows, scanner.allow.event_date_min)

    def get(self, key: str | None) -> list[Metric] | None:
        if key is None or key not in self.entries:
            return None
        self.entries[key] = self.entries.pop(key)  # most recently used last
        self.reused += 1
        return [Metric(*row) for row in self.entries[key]["rows"]]

    def put(self, key: str | None, metrics: list[Metric]) -> None:
        self.scanned += 1
        if key is not None and self.enabled:
            rows = [[m.suite, m.table, m.column, m.check, float(m.observed), m.detail] for m in metrics]
            self.entries[key] = {"rows": rows, "mac": self._mac(key, rows)}

    def save(self) -> None:
        if not self.enabled or self.path is None:
            return
        keep = dict(list(self.entries.items())[-MAX_ENTRIES:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(keep), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only folder costs the reuse, not the gate
            log.warning("gate scan cache not saved (%s): %s", self.path, exc)
        if self.reused or self.scanned:
            log.info("PII value scan: %d table(s) scanned, %d reused unchanged (%s)", self.scanned, self.reused,
                     self.path)  # fmt: skip
