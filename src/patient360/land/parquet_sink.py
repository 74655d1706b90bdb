"""Land exports into a raw Parquet zone (the Spark target), files in parallel across processes.

    report = land_to_parquet(exports_dir, spark_warehouse, day=None)

The same landing as the DuckDB sink, not a second one: each worker process keeps a private
DuckDB file (its staging area) with the warehouse's raw and audit schema, runs the shared
`loader.land_file` on one export file (same formats, adapters, contracts, quarantine rules
and per-file accounting), then copies what that file produced out as Parquet:

    <wh>/raw/<source>/<table>/export_date=<day>/<file name>.parquet           landed rows
    <wh>/raw/wearable/vendor_file_meta/export_date=<day>/<file name>.parquet  vendor metadata rows
    <wh>/audit/quarantine/export_date=<day>/<source>~<file name>~v<version>.parquet
    <wh>/restricted/quarantine_raw/export_date=<day>/<source>~<file name>~v<version>.parquet
    <wh>/audit/file_loads/export_date=<day>/<source>~<file name>~<load id>.parquet  (one per attempt)

Columns and types inside each file are those of the DuckDB tables (raw_<source>.<table>,
audit.*, restricted.quarantine_raw); `export_date` (the export partition) exists only as
the folder name, so engines that read Hive partitions add it as one more column.
`<file name>` is the name recorded for the file (vendor names are hashed, files.py).

Atomic per file: every Parquet file is written under the run's private scratch folder
(<wh>/restricted/tmp/, removed by the next run if this one is killed), its row counts are
checked (raw rows = landed, line-level quarantine rows = quarantined, read = landed +
quarantined), fsynced, and only then renamed into place (same file system: rename is
atomic); the file_loads record is renamed last, so it is the commit mark. A run killed
before that leaves no file_loads record, the next run lands the file again, and the
deterministic names replace whatever data files the killed run had already renamed.

Idempotent: the history of file_loads records decides, as in DuckDB: same path + checksum
is skipped (`already_landed`), a new checksum is the next version (its raw file replaces the
previous version's), same bytes as a file landed under another path is `duplicate_file`.
Files run in waves so that duplicates within one run are decided as the sequential sink
decides them: the k-th file of a given byte size goes to wave k (equal bytes imply equal
size), and each wave sees the records of the waves before it.

Not applied here: the `erased` rule (erasure tombstones live in the DuckDB warehouse).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from multiprocessing import get_context
from pathlib import Path

import duckdb

from patient360.land import plan_landing
from patient360.land.files import ExportFile
from patient360.land.loader import LANDED, land_file, new_load_id, record_failure
from patient360.land.report import FileResult, LandingReport
from patient360.land.schema import ensure_schema
from patient360.land.validate import lit
from patient360.private_tmp import private_scratch
from patient360.warehouse import connect, memory_limit, one

log = logging.getLogger("patient360.land")

PARTITION = "export_date"
FILE_LOADS_DIR = ("audit", "file_loads")
LANDED_SQL = ", ".join(lit(s) for s in LANDED)


@dataclass(frozen=True)
class _Task:
    ef: ExportFile
    load_id: str
    warehouse: Path
    scratch: Path
    history: Path | None  # file_loads records of earlier runs and waves, one Parquet file
    memory_limit: str


def land_to_parquet(
    exports_dir: Path,
    spark_warehouse: Path,
    day: date | None = None,
    sources: list[str] | None = None,
    workers: int | None = None,
) -> LandingReport:
    """Land every matching export file into `spark_warehouse` as Parquet; a per-file report."""
    exports_dir, warehouse = Path(exports_dir), Path(spark_warehouse).resolve()
    files, missing = plan_landing(exports_dir, day, sources)
    report = LandingReport(load_id=new_load_id(), missing_partitions=missing)
    workers = max(1, min(workers or os.cpu_count() or 1, len(files) or 1))
    log.info("landing %d file(s) from %s into Parquet under %s with %d process(es) (load %s)",
             len(files), exports_dir, warehouse, workers, report.load_id)  # fmt: skip
    warehouse.mkdir(parents=True, exist_ok=True)
    results: dict[int, FileResult] = {}
    # private_scratch puts scratch next to its argument (<wh>/restricted/tmp/); the purpose has
    # no "-", the folder name's second field must be the pid for a later run to clean up after a kill
    with (
        private_scratch(warehouse / "raw", "parquet") as scratch,
        ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool,
    ):
        limit = _share(memory_limit(), workers)
        for n, wave in enumerate(_waves(files)):
            history = _history_snapshot(warehouse, scratch / f"history-{n}.parquet")
            tasks = [_Task(files[i], report.load_id, warehouse, scratch, history, limit) for i in wave]
            for i, result in zip(wave, pool.map(_land_one, tasks), strict=True):
                results[i] = result
    report.files = [results[i] for i in range(len(files))]
    return report


def _waves(files: list[ExportFile]) -> list[list[int]]:
    """Indexes of `files` by wave: the k-th non-empty file of a byte size goes to wave k."""
    seen: dict[int, int] = {}
    waves: list[list[int]] = []
    for i, ef in enumerate(files):
        size = ef.path.stat().st_size
        k = seen.get(size, 0) if size else 0
        seen[size] = k + 1
        while len(waves) <= k:
            waves.append([])
        waves[k].append(i)
    return waves


def _share(limit: str, workers: int) -> str:
    """Each worker's DuckDB gets an equal share of the pipeline's memory ceiling."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]i?B)\s*", limit, re.IGNORECASE)
    if not m:
        return limit
    unit = m.group(2).upper().replace("I", "")
    mb = float(m.group(1)) * {"KB": 1 / 1000, "MB": 1, "GB": 1000, "TB": 1000_000}[unit]
    return f"{max(64, int(mb / workers))}MB"


def _history_snapshot(warehouse: Path, out: Path) -> Path | None:
    """All file_loads records so far, gathered into one file the workers read."""
    folder = warehouse.joinpath(*FILE_LOADS_DIR)
    if not any(folder.glob(f"{PARTITION}=*/*.parquet")):
        return None
    con = duckdb.connect()
    try:
        glob = lit(str(folder / f"{PARTITION}=*" / "*.parquet"))
        # by name: records written before the audit table gained a column still read
        source = f"read_parquet({glob}, hive_partitioning = false, union_by_name = true)"
        con.execute(f"COPY (SELECT * FROM {source}) TO {lit(str(out))}")
    finally:
        con.close()
    return out


# --- worker process -----------------------------------------------------------------

_STAGE: duckdb.DuckDBPyConnection | None = None
_TABLES: list[str] = []


def _stage(task: _Task) -> duckdb.DuckDBPyConnection:
    """This process's staging DuckDB: the warehouse schema, one file's rows at a time."""
    global _STAGE
    if _STAGE is None:
        _STAGE = connect(task.scratch / f"stage-{os.getpid()}.duckdb")
        # workers = cores: one DuckDB thread each, the parallelism is across files
        _STAGE.execute(f"SET threads = 1; SET memory_limit = {lit(task.memory_limit)}")
        _STAGE.execute(f"SET temp_directory = {lit(str(task.scratch / f'spill-{os.getpid()}'))}")
        ensure_schema(_STAGE)
        _TABLES.extend(
            f"{s}.{t}"
            for s, t in _STAGE.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name LIKE 'raw\\_%' ESCAPE '\\' "
                "OR schema_name IN ('audit', 'restricted')"
            ).fetchall()
        )
    for table in _TABLES:
        _STAGE.execute(f"DELETE FROM {table}")
    return _STAGE


def _land_one(task: _Task) -> FileResult:
    con = _stage(task)
    ef = task.ef
    if task.history is not None:  # what the loader's skip / version / duplicate look-ups consult
        con.execute(
            f"INSERT INTO audit.file_loads BY NAME SELECT * FROM read_parquet({lit(str(task.history))}) "
            f"WHERE file_path = ? OR status IN ({LANDED_SQL})",
            [ef.rel_path],
        )
    tmp = task.scratch / f"file-{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    result = land_file(con, ef, task.load_id, tmp)
    if result.status == "already_landed":
        return result
    try:
        _publish(con, task, result, tmp)
    except Exception as exc:  # noqa: BLE001 - a file that cannot be written is a failed attempt
        log.exception("%s: writing Parquet failed", ef.rel_path)
        for table in _TABLES:  # as a rolled-back transaction: only the failed attempt's record
            con.execute(f"DELETE FROM {table}")
        record_failure(con, ef, task.load_id, result, exc)
        _publish(con, task, result, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _outputs(task: _Task, r: FileResult) -> Iterator[tuple[Path, str, bool]]:
    """(final path, query, write even when empty) of every Parquet file this attempt writes;
    file_loads last. A landed file's raw file is always written: 0 rows landed is an outcome
    too, and it replaces a previous version's rows."""
    ef, wh = task.ef, task.warehouse
    part, name = f"{PARTITION}={ef.day.isoformat()}", Path(ef.rel_path).name
    # the staging copy of file_loads also holds this run's earlier waves: this file's attempt only
    this_load = f"load_id = {lit(task.load_id)} AND file_path = {lit(ef.rel_path)}"
    if r.status in LANDED and r.table:
        raw = wh / "raw" / ef.source / r.table / part / f"{name}.parquet"
        yield raw, f"SELECT * FROM raw_{ef.source}.{r.table}", True
        meta = wh / "raw" / "wearable" / "vendor_file_meta" / part / f"{name}.parquet"
        yield meta, "SELECT * FROM raw_wearable.vendor_file_meta", meta.exists()
    versioned = f"{ef.source}~{name}~v{r.file_version or 0}.parquet"
    yield wh / "audit" / "quarantine" / part / versioned, f"SELECT * FROM audit.quarantine WHERE {this_load}", False
    yield wh / "restricted" / "quarantine_raw" / part / versioned, "SELECT * FROM restricted.quarantine_raw", False
    attempt = f"{ef.source}~{name}~{task.load_id}.parquet"
    yield wh.joinpath(*FILE_LOADS_DIR, part, attempt), f"SELECT * FROM audit.file_loads WHERE {this_load}", True


def _publish(con: duckdb.DuckDBPyConnection, task: _Task, r: FileResult, tmp: Path) -> None:
    """Write every output under `tmp`, check the accounting on the written files, then rename."""
    staged: list[tuple[Path, Path]] = []
    for i, (final, query, always) in enumerate(_outputs(task, r)):
        if not always and not one(con.execute(f"SELECT count(*) > 0 FROM ({query})"))[0]:
            continue
        out = tmp / f"{i}~{final.name}"
        con.execute(f"COPY ({query}) TO {lit(str(out))} (FORMAT parquet, COMPRESSION zstd)")
        staged.append((out, final))
    _check_accounting(con, task, r, staged)
    for out, final in staged:
        _fsync(out)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(out, final)


def _check_accounting(
    con: duckdb.DuckDBPyConnection, task: _Task, r: FileResult, staged: list[tuple[Path, Path]]
) -> None:
    """Count rows in the written files: landed + quarantined must equal rows read."""
    if r.status not in LANDED:
        return

    def count(kind: str, where: str = "") -> int:
        paths = [out for out, final in staged if final.parts[-4:-2] == tuple(kind.split("/"))]
        if not paths:
            return 0
        files = "[" + ", ".join(lit(str(p)) for p in paths) + "]"
        return one(con.execute(f"SELECT count(*) FROM read_parquet({files}) {where}"))[0]

    landed = count(f"{task.ef.source}/{r.table}")
    quarantined = count("audit/quarantine", "WHERE line_number IS NOT NULL")
    if not (landed == r.rows_landed and quarantined == r.rows_quarantined and r.rows_read == landed + quarantined):
        raise AssertionError(
            f"{r.file}: Parquet holds landed {landed} + quarantined {quarantined}, "
            f"the loader counted read {r.rows_read} = {r.rows_landed} + {r.rows_quarantined}"
        )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
