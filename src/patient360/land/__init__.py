"""Land the four daily exports into DuckDB's raw zone: audited, idempotent, atomic per file.

    report = land_exports(exports_dir, warehouse, day=None, sources=None)

Layout read: `DIR/<source>/<YYYY-MM-DD>/<file>`; every file of a partition is read and
recognised by its content (detect.py): vendor exports (adapters/: Dexcom Clarity,
LibreView, Fitbit, Apple Health) by their header or root element under any name, native
files by a contract's `file_glob` or by a header that fits a contract. `DIR/_truth` is
never read. File names: a name that matches a contract's `file_glob` is recorded as it
is; any other name (vendors put the patient's name in theirs) is recorded as
`~<16 hex digits of sha256(name)><extensions>` (files.recorded_name), in every table.
`day=None` lands every partition; files already landed (same path and sha256) are
skipped, so that means "every partition not yet landed".

Tables written:
- `raw_<source>.<table>`: contract columns, typed, for rows that pass the contract, plus
  `_extra` (JSON of unexpected columns), `_file_path` (relative to the exports folder),
  `_file_checksum` (sha256), `_line_number` (1-based physical line; CSV header = 1),
  `_load_id`, `_loaded_at`, `_local_date`.
- `audit.file_loads`: one row per file attempt (status landed | landed_with_quarantine |
  duplicate_file | empty | rejected | failed), with counts, encoding, version, error and
  warning. Invariant, asserted in each file's transaction and by a CHECK constraint:
  rows_read = rows_landed + rows_quarantined.
- `audit.quarantine`: every row that broke the contract, with its raw text, the first
  rule it broke (order in validate.py) and a detail. File-level findings are one row
  with line_number NULL and rule `file:<kind>` (empty_file, truncated_gzip,
  corrupt_gzip, bad_encoding, missing_column, duplicate_column, duplicate_file,
  extra_column, unmatched); they are not counted in rows_quarantined. Quarantined CSV
  rows that the reader could parse are re-serialised from their fields (quoting may
  differ from the file); malformed lines and NDJSON records keep their exact text.

Idempotency and versions: a file is identified by its path under the exports folder.
Same path + same checksum: skipped, nothing written. Same path, new checksum: a new
version (file_version + 1) whose rows replace the previous version's rows in the raw
table (audit history is kept). Same bytes as a file already landed under another path:
status duplicate_file, not read, `duplicate_of` names the original. A 'failed' attempt
does not count as landed; re-running retries it.

Schema-drift policy (CSV header vs contract; columns matched by name, order free):
- missing required column: the file is rejected (`file:missing_column`), nothing lands;
- missing optional column: the file lands, the column is NULL, a warning is recorded;
- extra column: the file lands, extra values are kept per row in `_extra` (JSON), a
  warning and a `file:extra_column` finding are recorded; the contract is the place
  to adopt the column;
- repeated column name: the file is rejected (`file:duplicate_column`).
NDJSON records are checked key by key the same way (unknown keys -> `_extra`).

Encodings and line ends: detected per file (files.py): UTF-16 with a byte-order mark,
UTF-8, else GB18030 (accepted wherever a contract allows GBK, its subset); anything else
is rejected (`file:bad_encoding`) naming the encoding it looks like and the byte offset.
`\r\r\n` and lone `\r` line ends are read as line breaks.

Time: timestamps are TIMESTAMPTZ instants; local times without an offset are read in the
file's zone (zones.py; default Asia/Shanghai) and `_local_date` keeps the local date of
the contract's `local_date_of` column. Quarantined raw text of tables with direct
identifiers is kept only in `restricted.quarantine_raw`, with a purge date (retention.py).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path

from patient360.contracts import SOURCES
from patient360.errors import InputMissing
from patient360.land import zones
from patient360.land.files import ExportFile, Inspection, discover, inspect
from patient360.land.loader import land_file, new_load_id
from patient360.land.report import FileResult, LandingReport
from patient360.land.schema import ensure_schema
from patient360.private_tmp import private_scratch
from patient360.warehouse import connect

__all__ = ["FileResult", "LandingReport", "land_exports", "plan_landing"]

log = logging.getLogger("patient360.land")


def land_exports(
    exports_dir: Path, warehouse: Path, day: date | None = None, sources: list[str] | None = None
) -> LandingReport:
    """Land every matching export file; returns a per-file report. Closes the connection."""
    exports_dir, warehouse = Path(exports_dir), Path(warehouse)
    files, missing = plan_landing(exports_dir, day, sources)
    report = LandingReport(load_id=new_load_id(), missing_partitions=missing)
    log.info("landing %d file(s) from %s into %s (load %s)", len(files), exports_dir, warehouse, report.load_id)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = connect(warehouse)
    try:
        ensure_schema(con)
        with (
            private_scratch(warehouse, "land") as tmp,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="p360-inspect") as pool,
        ):
            # Inspect (hash, gunzip, decode: Python, mostly GIL-free) the next file while
            # DuckDB lands this one. One file ahead bounds the transcoded GBK copies on disk.
            pending: dict[int, Future[Inspection]] = {}
            for i, ef in enumerate(files):
                for j in (i, i + 1):
                    if j < len(files) and j not in pending:
                        pending[j] = pool.submit(inspect, files[j], Path(tmp))
                report.files.append(land_file(con, ef, report.load_id, Path(tmp), pending.pop(i, None)))
    finally:
        con.close()
    return report


def plan_landing(
    exports_dir: Path, day: date | None = None, sources: list[str] | None = None
) -> tuple[list[ExportFile], list[str]]:
    """The files to land and the partition folders asked for that are missing: the checks
    every sink (DuckDB, Parquet) runs before reading a byte."""
    wanted = list(sources or SOURCES)
    unknown = [s for s in wanted if s not in SOURCES]
    if unknown:  # a usage mistake, before looking at the folder
        raise ValueError(f"unknown source {unknown[0]!r}; expected one of {', '.join(SOURCES)}")
    _check_layout(exports_dir, wanted)
    zones.overrides()  # a bad P360_TIME_ZONES is a configuration error before any file is read
    files = discover(exports_dir, day, wanted)
    missing = []
    if day is not None:
        missing = [
            str(exports_dir / s / day.isoformat()) for s in wanted if not (exports_dir / s / day.isoformat()).is_dir()
        ]
        for folder in missing:
            log.warning("no export partition at %s: the export for %s did not arrive", folder, day)
    return files, missing


LAYOUT = "<exports>/<source>/<YYYY-MM-DD>/<files> with <source> one of " + ", ".join(SOURCES)


def _check_layout(exports_dir: Path, sources: list[str]) -> None:
    """An exports folder that is missing, or holds no partition of the sources asked for, is
    a mistake (a wrong path, an unmounted share), never "nothing to do"."""
    if not exports_dir.is_dir():
        raise InputMissing(f"exports folder not found: {exports_dir} (expected {LAYOUT})")
    partitions = [p for s in sources if (exports_dir / s).is_dir() for p in (exports_dir / s).iterdir() if p.is_dir()]
    if not partitions:
        raise InputMissing(f"no export partitions of {', '.join(sources)} in {exports_dir}: expected {LAYOUT}")
