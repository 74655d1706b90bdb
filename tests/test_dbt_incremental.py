"""Incremental snapshots and facts: backfills, re-keyed people and late readings. (Every mart of a
multi-day incremental run equals a full refresh: test_incremental_equals_full_refresh.py.)"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from patient360.pipeline import stage_land, stage_transform

pytestmark = pytest.mark.slow


def _snapshot(con, schema: str, table: str) -> list[tuple]:
    cols = [
        c
        for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]
    order = ", ".join(f'"{c}"' for c in cols)
    return con.execute(f'select * from "{schema}"."{table}" order by {order}').fetchall()


def test_backfill_rebuilds_only_its_own_snapshot(tmp_path, built_warehouse):
    """Segment history is kept per as-of date: rebuilding a past date (a backfill) replaces
    that date's snapshot and leaves the other dates untouched."""
    import shutil

    warehouse = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    current = con.execute("select max(as_of_date) from marts.seg_lifecycle").fetchone()[0]
    before = con.execute("select * from marts.seg_lifecycle where as_of_date = ? order by all", [current]).fetchall()
    con.close()
    past = current - timedelta(days=1)
    stage_transform(warehouse, as_of=past, target_dir=tmp_path / "target")
    con = duckdb.connect(str(warehouse), read_only=True)
    dates = {d for (d,) in con.execute("select distinct as_of_date from marts.seg_lifecycle").fetchall()}
    after = con.execute("select * from marts.seg_lifecycle where as_of_date = ? order by all", [current]).fetchall()
    backfilled = con.execute("select count(*) from marts.seg_lifecycle where as_of_date = ?", [past]).fetchone()[0]
    con.close()
    assert dates == {past, current}
    assert after == before  # the other date's snapshot is untouched
    assert backfilled > 0


def test_rekeyed_people_leave_no_stale_rows_in_the_current_snapshot(tmp_path, built_warehouse, monkeypatch):
    """Every patient_key changes (a key rotation: the extreme of identity merges re-keying
    people). Re-running the same as-of date must replace its snapshots wholesale: no row
    keeps a retired key, dbt's tests and the quality gate pass, and the incremental facts
    follow the new keys."""
    import shutil

    from patient360.gates import run_gates
    from patient360.pseudonym import KEY_ENV

    warehouse = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, warehouse)
    monkeypatch.setenv(KEY_ENV, "rotated-test-only-pseudonym-key-fedcba9876543210")
    stage_transform(warehouse, target_dir=tmp_path / "target")  # dbt build: raises if a dbt test fails
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        people = con.execute("select count(*) from marts.patient_360").fetchone()[0]
        for (table,) in con.execute(
            "select table_name from information_schema.columns where table_schema = 'marts' "
            "and column_name = 'patient_key' and table_name <> 'patient_360' group by table_name"
        ).fetchall():
            stale = con.execute(
                f'select count(*) from marts."{table}" t where not exists '
                "(select 1 from marts.patient_360 p where p.patient_key = t.patient_key)"
            ).fetchone()[0]
            assert stale == 0, f"{table} keeps {stale} rows under retired keys"
        assert con.execute("select count(*) from marts.seg_lifecycle").fetchone()[0] == people
    finally:
        con.close()
    outcome = run_gates(warehouse, data_docs_dir=tmp_path / "gx")
    assert outcome.passed, outcome.render()


def test_late_readings_for_an_old_day_are_rebuilt_like_a_full_refresh(tmp_path, built_warehouse, small_exports):
    """A vendor re-sends readings of a day long before the lookback window (one changed
    value, one new reading): the incremental run rebuilds that day and the wearable tables
    equal a full refresh."""
    import shutil

    warehouse = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        latest = con.execute("select max(measured_date) from intermediate.int_wearable__daily").fetchone()[0]
        old_day = latest - timedelta(days=20)
        serial, metric, at, value, unit, vendor = con.execute(
            # raw measured_at is an instant; the export writes Beijing local time
            "select device_serial, metric, timezone('Asia/Shanghai', measured_at), value, unit, vendor "
            "from raw_wearable.readings where _local_date = ? and metric = 'heart_rate' order by all limit 1",
            [old_day],
        ).fetchone()
        before = con.execute(
            "select sum(reading_count) from intermediate.int_wearable__daily where measured_date = ?", [old_day]
        ).fetchone()[0]
    finally:
        con.close()
    exports = tmp_path / "exports"
    resend = exports / "wearable" / str(latest + timedelta(days=1)) / "readings_resend.csv"
    resend.parent.mkdir(parents=True)
    resend.write_text(
        "device_serial,vendor,metric,value,unit,measured_at\n"
        f"{serial},{vendor},{metric},{value + 7},{unit},{at:%Y-%m-%d %H:%M:%S}\n"
        f"{serial},{vendor},{metric},{value},{unit},{at + timedelta(seconds=1):%Y-%m-%d %H:%M:%S}\n",
        encoding="utf-8",
    )
    report = stage_land(exports, warehouse)
    assert report.totals()["rows_landed"] == 2, report.render()
    stage_transform(warehouse, as_of=latest, target_dir=tmp_path / "target")
    con = duckdb.connect(str(warehouse), read_only=True)
    incremental = {t: _snapshot(con, "intermediate" if t.startswith("int_") else "marts", t)
                   for t in ("int_wearable__daily", "fct_wearable_daily")}  # fmt: skip
    after = con.execute(
        "select sum(reading_count) from intermediate.int_wearable__daily where measured_date = ?", [old_day]
    ).fetchone()[0]
    con.close()
    assert after == before + 1  # the new reading; the re-sent one replaced its old version
    stage_transform(warehouse, as_of=latest, target_dir=tmp_path / "target", full_refresh=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    for table, rows in incremental.items():
        schema = "intermediate" if table.startswith("int_") else "marts"
        assert _snapshot(con, schema, table) == rows, f"{table} differs from a full refresh"
    con.close()
