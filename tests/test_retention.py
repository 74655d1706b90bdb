"""Retention: `purge` deletes what is past its period, and the deleted values leave the file's bytes."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from patient360.retention import RetentionPolicy, purge

FAR = 100_000  # days: nothing is that old
TODAY = date(2026, 11, 1)  # small_exports' partitions are 2026-10-29 .. 2026-10-31


@pytest.fixture
def plain_warehouse(tmp_path: Path, small_exports: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """small_exports landed with every value stored uncompressed (visible to a byte scan)."""
    from patient360.pipeline import stage_land

    monkeypatch.setenv("P360_DUCKDB_FORCE_COMPRESSION", "uncompressed")
    warehouse = tmp_path / "wh.duckdb"
    stage_land(small_exports, warehouse)
    return warehouse


def _bytes(warehouse: Path) -> bytes:
    wal = warehouse.with_name(warehouse.name + ".wal")
    return warehouse.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _his_values(warehouse: Path) -> dict[date, list[str]]:
    """partition date -> identifying values (MRN, ID number, address) of raw HIS patient rows that
    occur in no other row of any table, so their bytes belong to that row alone."""
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute(
        "SELECT f.partition_date, [p.mrn, p.id_number, p.address] FROM raw_his.patients p JOIN audit.file_loads f "
        "ON f.load_id = p._load_id AND f.file_path = p._file_path ORDER BY p._line_number"
    ).fetchall()
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
    text = "\n".join(str(r) for s, t in tables for r in con.execute(f"SELECT * FROM {s}.{t}").fetchall())
    con.close()
    out: dict[date, list[str]] = {}
    for day, values in rows:
        out.setdefault(day, []).extend(v for v in values if v and len(v) >= 8 and text.count(v) == 1)
    return out


def test_purge_deletes_old_raw_rows_and_their_bytes(plain_warehouse: Path):
    policy = RetentionPolicy(raw={"his": 2, "crm": FAR, "consult": FAR, "wearable": FAR},
                             quarantine=FAR, snapshots=FAR, releases=FAR)  # fmt: skip
    values = _his_values(plain_warehouse)
    old = values[date(2026, 10, 29)][:30]  # partition older than TODAY - 2 days
    kept = values[date(2026, 10, 30)][:3]
    assert len(old) >= 10 and kept
    before = _bytes(plain_warehouse)
    for value in old + kept:  # the byte scan sees the values while they are stored
        assert value.encode() in before, value

    dry = purge(plain_warehouse, today=TODAY, dry_run=True, policy=policy)
    assert dry.rows["raw_his.patients"] > 0 and _bytes(plain_warehouse) == before  # dry run changes nothing

    report = purge(plain_warehouse, today=TODAY, policy=policy)
    assert report.rewritten and report.rows == dry.rows
    assert report.rows["raw_crm.contacts"] == 0
    con = duckdb.connect(str(plain_warehouse), read_only=True)
    days = {d for (d,) in con.execute(
        "SELECT DISTINCT f.partition_date FROM raw_his.patients p JOIN audit.file_loads f "
        "ON f.load_id = p._load_id AND f.file_path = p._file_path").fetchall()}  # fmt: skip
    crm = con.execute("SELECT count(*) FROM raw_crm.contacts").fetchone()[0]
    con.close()
    assert days == {date(2026, 10, 30)} and crm > 0
    after = _bytes(plain_warehouse)
    assert [v for v in old if v.encode() in after] == []
    for value in kept:  # the scan still sees values that were kept: absence is not compression
        assert value.encode() in after, value
    assert not plain_warehouse.with_name(plain_warehouse.name + ".wal").exists()


def test_purge_deletes_quarantine_and_old_release_versions(plain_warehouse: Path, tmp_path: Path):
    published = tmp_path / "published"
    tier = published / "person"
    for name in ("parquet-20250101T000000-1", "parquet-20260101T000000-2", "parquet-20261101T000000-3"):
        (tier / name).mkdir(parents=True)
        (tier / name / "t.parquet").write_bytes(b"x")
    (tier / "parquet").symlink_to("parquet-20261101T000000-3")
    old = tier / "parquet-20250101T000000-1"
    os.utime(old, (time.time() - 90 * 86400,) * 2)
    con = duckdb.connect(str(plain_warehouse))
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.seg_demo AS SELECT * FROM (VALUES "
                "('k1', DATE '2099-01-01'), ('k2', DATE '2099-12-31')) v(patient_key, as_of_date)")  # fmt: skip
    con.close()
    policy = RetentionPolicy(raw={"his": FAR}, quarantine=0, snapshots=100, releases=30)
    report = purge(plain_warehouse, published, today=date(2100, 1, 1), policy=policy)
    assert report.rows["audit.quarantine"] > 0 and report.rows["restricted.quarantine_raw"] > 0
    assert report.rows["marts.seg_demo"] == 1  # the 2099-01-01 snapshot is older than 100 days
    assert report.releases == [old] and not old.exists()
    assert (tier / "parquet-20260101T000000-2").is_dir()  # superseded but recent: kept
    assert (tier / "parquet").resolve().is_dir()  # the current release is never purged
    con = duckdb.connect(str(plain_warehouse), read_only=True)
    left = con.execute("SELECT (SELECT count(*) FROM audit.quarantine) + (SELECT count(*) FROM "
                       "restricted.quarantine_raw)").fetchone()[0]  # fmt: skip
    con.close()
    assert left == 0


def test_policy_defaults_come_from_the_one_dbt_var():
    policy = RetentionPolicy.from_project()
    assert set(policy.raw) == {"his", "crm", "consult", "wearable"}
    assert all(d > 0 for d in (*policy.raw.values(), policy.quarantine, policy.snapshots, policy.releases))


def test_cli_purge_dry_run_counts_and_changes_nothing(plain_warehouse: Path):
    import subprocess
    import sys

    before = _bytes(plain_warehouse)
    cmd = [sys.executable, "-m", "patient360", "purge", "--warehouse", str(plain_warehouse), "--dry-run",
           "--today", "2100-01-01"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "would delete" in out.stdout and "raw_his.patients" in out.stdout
    assert _bytes(plain_warehouse) == before
    helptext = subprocess.run([sys.executable, "-m", "patient360", "key", "--help"], capture_output=True, text=True)
    assert "rotate" in helptext.stdout
