"""One as-of rule for every way a run starts, and backfills that never rewind what BI sees."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from patient360.run_plan import NothingLanded, newest_landed_partition, plan_run

pytestmark = pytest.mark.slow


def _copy(built_warehouse: Path, tmp_path: Path) -> Path:
    warehouse = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, warehouse)
    return warehouse


def test_plan_defaults_to_the_newest_landed_partition_and_spots_backfills(built_warehouse, small_exports):
    import json

    end = json.loads((small_exports / "_truth" / "manifest.json").read_text())["parameters"]["end_date"]
    plan = plan_run(built_warehouse)
    assert str(plan.as_of) == end and not plan.backfill and plan.reason == "newest landed partition"
    older = plan_run(built_warehouse, plan.as_of - timedelta(days=3))
    assert older.backfill and older.dbt_args() == ["--exclude", "tag:current"]
    assert plan_run(built_warehouse, plan.as_of).dbt_args() == []


def test_nothing_landed_is_a_clear_error(tmp_path):
    with pytest.raises(NothingLanded, match="does not exist"):
        plan_run(tmp_path / "none.duckdb")
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(NothingLanded, match="no export partition has been landed"):
        plan_run(empty)


def test_dbt_default_as_of_is_the_same_rule(built_warehouse, tmp_path):
    """dbt run without vars (an engineer at the dbt CLI) picks the date the pipeline would."""
    from patient360.dbt_runner import run_dbt

    warehouse = _copy(built_warehouse, tmp_path)
    run_dbt(["build", "--select", "int_run__as_of", "--exclude-resource-type", "unit_test"], warehouse,
            target_dir=tmp_path / "target")  # fmt: skip
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        (dbt_as_of,) = con.execute("select as_of_date from intermediate.int_run__as_of").fetchone()
        assert dbt_as_of == newest_landed_partition(con)
    finally:
        con.close()


CURRENT = ("patient_360", "seg_marketing_activation", "kpi_engagement", "kpi_retention", "kpi_channel_economics")


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list:
    return con.execute(f"select * from marts.{table} order by all").fetchall()


def test_a_backfill_rebuilds_its_snapshot_and_never_rewinds_the_current_view(built_warehouse, tmp_path):
    """Build the newest date, then an older one: the older snapshot appears, patient_360, the
    activation list, the KPI tables and the published release still show the newest date."""
    from patient360.pipeline import stage_publish, stage_transform

    warehouse = _copy(built_warehouse, tmp_path)
    con = duckdb.connect(str(warehouse), read_only=True)
    newest = con.execute("select max(as_of_date) from marts.patient_360").fetchone()[0]
    before = {t: _rows(con, t) for t in CURRENT}
    con.close()
    older = newest - timedelta(days=2)
    stage_transform(warehouse, older, target_dir=tmp_path / "target")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert {d for (d,) in con.execute("select distinct as_of_date from marts.seg_lifecycle").fetchall()} >= {
            older,
            newest,
        }
        for table in CURRENT:
            assert _rows(con, table) == before[table], f"{table} was rewound by the backfill"
        assert con.execute("select max(as_of_date) from marts.seg_marketing_activation").fetchone()[0] == newest
    finally:
        con.close()
    published = stage_publish(warehouse, tmp_path / "published")
    pub = duckdb.connect(str(published.tiers["person"].duckdb_path), read_only=True)
    try:
        assert pub.execute("select max(as_of_date), min(as_of_date) from patient_360").fetchone() == (newest, newest)
        snapshots = {d for (d,) in pub.execute("select distinct as_of_date from seg_lifecycle").fetchall()}
        assert {older, newest} <= snapshots
    finally:
        pub.close()


def test_freshness_fails_the_run_when_a_source_stops_arriving(built_warehouse, tmp_path):
    """`dbt source freshness` on when each source's export last landed: fresh passes; a source
    whose last file landed three days ago stops the run, naming its tables."""
    from patient360.pipeline import StaleSources, stage_freshness

    warehouse = _copy(built_warehouse, tmp_path)
    stage_freshness(warehouse, target_dir=tmp_path / "fresh")
    con = duckdb.connect(str(warehouse))
    con.execute("update audit.file_loads set finished_at = finished_at - interval 3 day where source = 'his'")
    con.close()
    with pytest.raises(StaleSources, match="raw_his.patients") as err:
        stage_freshness(warehouse, target_dir=tmp_path / "stale")
    assert "raw_crm" not in str(err.value)
