"""End to end through Airflow: `airflow dags test` of the four landing DAGs and the
transform DAG (Cosmos dbt layers -> GX gates -> publish) on SQLite metadata, over
generated data; then a gate failure that must not publish."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from patient360.airflow_env import airflow_env, asset_condition, dags_test, prepare_airflow

pytestmark = pytest.mark.slow
SOURCES = ("his", "crm", "consult", "wearable")


@pytest.fixture(scope="module")
def airflow_run(tmp_path_factory, small_exports):
    root = tmp_path_factory.mktemp("airflow_e2e")
    warehouse = root / "warehouse" / "patient360.duckdb"
    warehouse.parent.mkdir()
    env = airflow_env(root / "airflow_home", small_exports, warehouse)
    log_file = root / "airflow.log"
    prepare_airflow(env, log_file=log_file)
    end_date = date.fromisoformat(
        json.loads((small_exports / "_truth" / "manifest.json").read_text())["parameters"]["end_date"]
    )
    conditions = {}
    for source in SOURCES:
        dags_test(f"patient360_land_{source}", end_date, env, conf='{"all_pending": true}', log_file=log_file)
        conditions[f"after landing {source}"] = asset_condition(env, "patient360_transform")
    dags_test("patient360_transform", end_date, env, log_file=log_file)
    conditions["after the transform"] = asset_condition(env, "patient360_transform")
    return {"root": root, "warehouse": warehouse, "env": env, "log": log_file, "end_date": end_date, **conditions}


def test_full_chain_builds_and_publishes_patient_360(airflow_run):
    con = duckdb.connect(str(airflow_run["warehouse"]), read_only=True)
    try:
        assert con.execute("select count(*) from marts.patient_360").fetchone()[0] > 0
        landed = {s for (s,) in con.execute("select distinct source from audit.file_loads").fetchall()}
        assert landed == set(SOURCES)
    finally:
        con.close()
    published = airflow_run["warehouse"].parent / "published" / "person" / "marts.duckdb"
    assert published.exists()
    pub = duckdb.connect(str(published), read_only=True)
    try:
        schemas = {s for (s,) in pub.execute("select distinct table_schema from information_schema.tables").fetchall()}
        assert not {s for s in schemas if s.startswith("raw_") or s in ("restricted", "staging", "audit")}
        tables = {t for (t,) in pub.execute("select table_name from information_schema.tables").fetchall()}
        assert "patient_360" in tables
    finally:
        pub.close()


def test_transform_is_due_exactly_when_all_four_landing_assets_were_updated(airflow_run):
    """The Asset events the landing DAGs emit, read back from Airflow's metadata: the
    transformation DAG is due only once all four raw Assets have been updated, and not
    again after it has run."""
    names = {f"patient360_raw_{s}" for s in SOURCES}
    for i, source in enumerate(SOURCES):
        condition = airflow_run[f"after landing {source}"]
        assert set(condition) == names
        updated = {name for name, at in condition.items() if at}
        assert updated == {f"patient360_raw_{s}" for s in SOURCES[: i + 1]}
    assert not any(airflow_run["after the transform"].values())


def test_key_not_in_airflow_metadata_or_logs(airflow_run, pseudonym_key):
    home = Path(airflow_run["env"]["AIRFLOW_HOME"])
    files = [p for p in home.rglob("*") if p.is_file()] + [airflow_run["log"]]
    assert any(p.name == "airflow.db" for p in files)
    for path in files:
        assert pseudonym_key.encode() not in path.read_bytes(), f"key leaked into {path}"


def test_failed_gate_stops_publishing_and_keeps_previous_marts(airflow_run, tmp_path):
    """A CRM operator typed a mobile number into a campaign name: dbt carries it into
    a mart, the PII gate must fail the run and the published file must not change."""
    published = airflow_run["warehouse"].parent / "published" / "person" / "marts.duckdb"
    warehouse = tmp_path / "warehouse" / "patient360.duckdb"
    warehouse.parent.mkdir()
    shutil.copy(airflow_run["warehouse"], warehouse)
    (warehouse.parent / "published" / "person").mkdir(parents=True)
    shutil.copy(published, warehouse.parent / "published" / "person" / "marts.duckdb")
    before = (warehouse.parent / "published" / "person" / "marts.duckdb").read_bytes()
    con = duckdb.connect(str(warehouse))
    con.execute("update raw_crm.campaigns set campaign_name = campaign_name || ' 回访 138-1234-5678' where rowid = 0")
    con.close()
    env = {**airflow_run["env"], "P360_WAREHOUSE": str(warehouse)}
    with pytest.raises(RuntimeError, match="failed"):
        dags_test("patient360_transform", airflow_run["end_date"], env, log_file=tmp_path / "airflow.log")
    log_text = (tmp_path / "airflow.log").read_text(encoding="utf-8")
    assert "blocking expectations failed" in log_text
    assert "138-1234-5678" not in log_text  # the gate names the PII type, never the value
    assert (warehouse.parent / "published" / "person" / "marts.duckdb").read_bytes() == before
