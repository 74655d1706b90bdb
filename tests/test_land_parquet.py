"""Landing into the raw Parquet zone (Spark target) accounts like the DuckDB landing, is
atomic per file under SIGKILL, and is idempotent. Parquet is read back with DuckDB."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from patient360.land import land_exports
from patient360.land.parquet_sink import land_to_parquet

# per file: what the audit says happened (landed / quarantined counts, status, why)
ACCOUNT = "file_path, table_name, status, rows_read, rows_landed, rows_quarantined, file_version, error, warning"
# per quarantined row: where it was and which rule it broke (the detail of `future:` names the load time)
QUARANTINE = "file_path, line_number, rule, raw_record"
NOT_COMPARED = "_load_id, _loaded_at"  # one run's identity and clock


def _glob(wh: Path, *parts: str) -> str:
    return str(wh.joinpath(*parts, "export_date=*", "*.parquet"))


def _parquet(wh: Path, *parts: str) -> str:
    return f"read_parquet('{_glob(wh, *parts)}', hive_partitioning = false)"


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall(), key=repr)


@pytest.fixture(scope="module")
def both(small_exports: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same exports landed by each sink: (DuckDB file, Parquet warehouse folder)."""
    root = tmp_path_factory.mktemp("land_parquet")
    land_exports(small_exports, root / "wh.duckdb")
    land_to_parquet(small_exports, root / "spark", workers=2)
    return root / "wh.duckdb", root / "spark"


def test_every_file_is_accounted_as_the_duckdb_landing_accounts_it(both: tuple[Path, Path]) -> None:
    db, wh = both
    con = duckdb.connect(str(db), read_only=True)
    try:
        want = _rows(con, f"SELECT {ACCOUNT} FROM audit.file_loads")
        got = _rows(con, f"SELECT {ACCOUNT} FROM {_parquet(wh, 'audit', 'file_loads')}")
        assert {r[2] for r in want} >= {"landed", "landed_with_quarantine", "duplicate_file"}  # a varied export
        assert got == want
        for r in got:
            assert r[3] == r[4] + r[5], r
        want_q = _rows(con, f"SELECT {QUARANTINE} FROM audit.quarantine")
        assert len(want_q) > 5
        assert _rows(con, f"SELECT {QUARANTINE} FROM {_parquet(wh, 'audit', 'quarantine')}") == want_q
        restricted = "file_path, line_number, raw_record, purge_after"
        want_r = _rows(con, f"SELECT {restricted} FROM restricted.quarantine_raw")
        assert want_r
        assert _rows(con, f"SELECT {restricted} FROM {_parquet(wh, 'restricted', 'quarantine_raw')}") == want_r
    finally:
        con.close()


@pytest.mark.parametrize(
    "source, table", [("his", "patients"), ("his", "visits"), ("consult", "sessions"), ("wearable", "readings")]
)
def test_raw_rows_are_the_duckdb_raw_rows(both: tuple[Path, Path], source: str, table: str) -> None:
    db, wh = both
    con = duckdb.connect(str(db), read_only=True)
    try:
        want = _rows(con, f"SELECT * EXCLUDE ({NOT_COMPARED}) FROM raw_{source}.{table}")
        got = _rows(con, f"SELECT * EXCLUDE ({NOT_COMPARED}) FROM {_parquet(wh, 'raw', source, table)}")
    finally:
        con.close()
    assert len(want) > 0
    assert got == want


def test_parquet_columns_and_types_are_the_duckdb_tables(both: tuple[Path, Path]) -> None:
    db, wh = both
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name LIKE 'raw\\_%' ESCAPE '\\' "
            "OR (schema_name, table_name) IN (('audit', 'file_loads'), ('audit', 'quarantine'))"
        ).fetchall()
        compared = 0
        for schema, table in tables:
            folder = wh / ("raw" if schema.startswith("raw_") else schema)
            parts = (schema.removeprefix("raw_"), table) if schema.startswith("raw_") else (table,)
            if not list(folder.glob(f"{'/'.join(parts)}/export_date=*/*.parquet")):
                continue
            want = con.execute(f'DESCRIBE {schema}."{table}"').fetchall()
            got = con.execute(
                f"DESCRIBE SELECT * FROM read_parquet('{_glob(folder, *parts)}', hive_partitioning = false)"
            )
            assert [c[:2] for c in got.fetchall()] == [c[:2] for c in want], f"{schema}.{table}"
            compared += 1
    finally:
        con.close()
    assert compared >= 15


def _tree(wh: Path) -> dict[str, int]:
    """Every file of the zone (not scratch) with its modification time."""
    return {
        str(p.relative_to(wh)): p.stat().st_mtime_ns
        for p in wh.rglob("*")
        if p.is_file() and "tmp" not in p.relative_to(wh).parts
    }


def test_relanding_the_same_files_changes_nothing_and_a_redelivery_replaces(
    small_exports: Path, tmp_path: Path
) -> None:
    exports, wh = tmp_path / "exports", tmp_path / "spark"
    shutil.copytree(small_exports, exports)
    first = land_to_parquet(exports, wh, workers=2)
    before = _tree(wh)
    again = land_to_parquet(exports, wh, workers=2)
    assert {f.status for f in again.files} == {"already_landed"}
    assert _tree(wh) == before

    # a re-delivery (new bytes, same path) is version 2 and its rows replace version 1's
    patients = next(f for f in first.files if f.table == "patients" and f.status == "landed")
    path = exports / patients.file
    lines = path.read_bytes().splitlines(keepends=True)  # bytes: HIS exports may be GBK
    path.write_bytes(b"".join(lines[:2]))  # header + one patient
    third = land_to_parquet(exports, wh, workers=2)
    redelivered = [f for f in third.files if f.status != "already_landed"]
    assert [(f.file, f.file_version, f.rows_landed) for f in redelivered] == [(patients.file, 2, 1)]
    con = duckdb.connect()
    try:
        sql = f"SELECT count(*) FROM {_parquet(wh, 'raw', 'his', 'patients')} WHERE _file_path = ?"
        assert con.execute(sql, [patients.file]).fetchone() == (1,)
    finally:
        con.close()


CHILD = """
import sys
from patient360.cli import main
sys.exit(main(["land", "--target", "spark", "--exports", sys.argv[1], "--warehouse", sys.argv[2]]))
"""


def _big_readings(exports: Path, rows: int) -> Path:
    """A long wearable readings file, so that the landing is still busy when it is killed."""
    day = sorted(p.name for p in (exports / "wearable").iterdir())[0]
    path = exports / "wearable" / day / "readings_bulk.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("device_serial,vendor,metric,value,unit,measured_at\n")
        for i in range(rows):
            f.write(
                f"HW-BULK{i % 500:05d},huawei,heart_rate,{60 + i % 40},bpm,2024-01-01 {i % 24:02d}:{i % 60:02d}:00\n"
            )
    return path


def _written_anywhere(root: Path, suffix: str) -> bool:
    """A file ending in `suffix` exists under root (os.walk skips folders removed meanwhile)."""
    return any(name.endswith(suffix) for _, _, names in os.walk(root) for name in names)


def test_sigkill_mid_run_leaves_no_partial_file_and_the_next_run_completes(small_exports: Path, tmp_path: Path) -> None:
    exports, wh = tmp_path / "exports", tmp_path / "spark"
    shutil.copytree(small_exports, exports)
    bulk = _big_readings(exports, 300_000)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(exports), str(wh)], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180  # generous: the machine may be loaded
        # kill while the long file's Parquet is being written (wherever that happens)
        while not _written_anywhere(wh, f"{bulk.name}.parquet"):
            assert proc.poll() is None, "landing exited before the long file was written"
            assert time.monotonic() < deadline, "the long file was never written"
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    con = duckdb.connect()
    try:
        landed = list((wh / "raw").rglob("*"))
        files = [p for p in landed if p.is_file()]
        assert files and all(p.suffix == ".parquet" for p in files), files
        for p in files:  # every file in the zone is whole: Parquet's footer is written last
            con.execute(f"SELECT count(*) FROM read_parquet('{p}')").fetchone()
        # the run may be killed between a file's data and its file_loads record: none yet is fine
        has_records = bool(list(wh.glob("audit/file_loads/*/*.parquet")))
        sql = f"SELECT file_path FROM {_parquet(wh, 'audit', 'file_loads')}"
        recorded = {r[0] for r in con.execute(sql).fetchall()} if has_records else set()
    finally:
        con.close()
    everything = {str(p.relative_to(exports)) for p in exports.rglob("*") if p.is_file() and "_truth" not in p.parts}
    assert str(bulk.relative_to(exports)) in everything - recorded, "the long file was recorded: not interrupted"
    assert not list(wh.rglob(f"raw/*/*/*/{bulk.name}.parquet")), "the long file landed before its record"

    report = land_to_parquet(exports, wh, workers=2)
    assert not [f.file for f in report.files if f.status == "failed"]
    clean = tmp_path / "clean"
    land_to_parquet(exports, clean, workers=2)
    con = duckdb.connect()
    try:
        for parts in (("raw", "wearable", "readings"), ("raw", "his", "patients"), ("audit", "quarantine")):
            cols = f"* EXCLUDE ({NOT_COMPARED})" if parts[0] == "raw" else QUARANTINE
            assert _rows(con, f"SELECT {cols} FROM {_parquet(wh, *parts)}") == _rows(
                con, f"SELECT {cols} FROM {_parquet(clean, *parts)}"
            ), parts
        latest = f"""SELECT {ACCOUNT} FROM {{}} WHERE status <> 'failed'
            QUALIFY row_number() OVER (PARTITION BY file_path ORDER BY started_at DESC) = 1"""
        assert _rows(con, latest.format(_parquet(wh, "audit", "file_loads"))) == _rows(
            con, latest.format(_parquet(clean, "audit", "file_loads"))
        )
    finally:
        con.close()
    assert not list((wh / "restricted" / "tmp").iterdir())  # the killed run's scratch went at the next start


def _spark_missing() -> str | None:
    if shutil.which("java") is None:
        return "Java is not installed (Spark needs Java 17: apt-get install openjdk-17-jre-headless)"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed"
    return None


@pytest.mark.skipif(_spark_missing() is not None, reason=str(_spark_missing()))
def test_spark_reads_the_registered_zone_as_duckdb_reads_its_raw_tables(both: tuple[Path, Path]) -> None:
    from patient360.spark_engine import spark_session
    from patient360.spark_raw import register_raw_tables

    db, wh = both
    spark = spark_session(wh.parent / "spark-catalog")
    try:
        tables = register_raw_tables(spark, wh)
        assert "raw_his.patients" in tables and "audit.file_loads" in tables
        con = duckdb.connect(str(db), read_only=True)
        try:
            for name in tables:
                want = con.execute(f"SELECT count(*) FROM {name}").fetchone()
                assert spark.sql(f"SELECT count(*) FROM {name}").collect()[0][0] == want[0], name
            # instants survive the trip: the same epoch seconds, whatever the session zone
            want = con.execute("SELECT sum(epoch(measured_at))::BIGINT FROM raw_wearable.readings").fetchone()
            got = spark.sql("SELECT sum(unix_timestamp(measured_at)) FROM raw_wearable.readings").collect()[0][0]
            assert got == want[0]
        finally:
            con.close()
    finally:
        spark.stop()
