"""The DAG files import cleanly and are wired as intended (no scheduler needed)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from patient360 import paths


@pytest.fixture(scope="module")
def dagbag(airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(paths.DAGS_DIR), safe_mode=True)


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {
        "patient360_land_his",
        "patient360_land_crm",
        "patient360_land_consult",
        "patient360_land_wearable",
        "patient360_transform",
    } <= set(dagbag.dag_ids)


def test_transform_is_scheduled_by_the_four_landing_assets(dagbag):
    from patient360.orchestration import raw_asset

    transform = dagbag.dags["patient360_transform"]
    landing_outlets = set()
    for source in ("his", "crm", "consult", "wearable"):
        dag = dagbag.dags[f"patient360_land_{source}"]
        for task in dag.tasks:
            landing_outlets |= {o.uri for o in task.outlets}
    assert landing_outlets == {raw_asset(s).uri for s in ("his", "crm", "consult", "wearable")}
    condition = transform.timetable.asset_condition  # AssetAll: runs when all four were updated
    assert type(condition).__name__ == "AssetAll"
    assert {a.uri for a in condition.objects} == landing_outlets


def test_transform_runs_dbt_layers_then_gates_then_publish(dagbag):
    transform = dagbag.dags["patient360_transform"]
    order = {t.task_id: set(t.downstream_task_ids) for t in transform.tasks}
    assert order["plan"] == {"freshness"}
    assert order["freshness"] == {"dbt_build_seeds"}
    layers = ["seeds", "staging", "restricted", "intermediate", "marts"]
    for upstream, downstream in zip(layers, layers[1:], strict=False):
        assert order[f"dbt_build_{upstream}"] == {f"dbt_build_{downstream}"}
    assert order["dbt_build_marts"] == {"dbt_docs"}
    assert order["dbt_docs"] == {"gates"}
    assert order["gates"] == {"publish"}
    assert order["publish"] == {"purge"}
    assert order["purge"] == set()


def test_dbt_tasks_use_cosmos_subprocess_and_the_single_writer_pool(dagbag):
    from cosmos.constants import InvocationMode
    from cosmos.operators.local import DbtBuildLocalOperator

    transform = dagbag.dags["patient360_transform"]
    dbt_tasks = [t for t in transform.tasks if t.task_id.startswith("dbt_build_")]
    assert dbt_tasks and all(isinstance(t, DbtBuildLocalOperator) for t in dbt_tasks)
    assert all(t.invocation_mode == InvocationMode.SUBPROCESS for t in dbt_tasks)
    assert all(t.pool == "duckdb_writer" for t in transform.tasks)
    assert transform.max_active_tasks == 1
    # the pseudonym key is never an operator argument (it would be a rendered field)
    assert all("P360_PSEUDONYM_KEY" not in (t.env or {}) for t in dbt_tasks)


def _models_and_tested(manifest: dict) -> tuple[set[str], set[str]]:
    """The project's models, and those that at least one dbt data test depends on."""
    models = {uid: n["name"] for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    tested = {
        models[uid]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test"
        for uid in n["depends_on"]["nodes"]
        if uid in models
    }
    return set(models.values()), tested


def test_model_level_rendering_with_cosmos(airflow_home, tmp_path, monkeypatch):
    """P360_COSMOS_RENDER=model: Cosmos renders one task per dbt model from the manifest;
    a model with tests as a group `<model>.run` -> `<model>.test`, one without as `<model>_run`."""
    from airflow.dag_processing.dagbag import DagBag

    from patient360.dbt_runner import run_dbt

    target = tmp_path / "target"
    run_dbt(["parse"], tmp_path / "unused.duckdb", target_dir=target)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    models, tested = _models_and_tested(manifest)
    assert {"patient_360", "stg_his__patients", "identity_links"} <= models
    assert tested and models - tested, "both forms must be exercised"

    monkeypatch.setenv("P360_DBT_MANIFEST", str(target / "manifest.json"))
    monkeypatch.setenv("P360_COSMOS_RENDER", "model")
    bag = DagBag(dag_folder=str(paths.DAGS_DIR / "patient360_transform.py"), safe_mode=True)
    assert bag.import_errors == {}
    task_ids = set(bag.dags["patient360_transform"].task_ids)
    for model in sorted(tested):
        assert {f"dbt.{model}.run", f"dbt.{model}.test"} <= task_ids, model
        assert f"dbt.{model}_run" not in task_ids, model
    for model in sorted(models - tested):
        assert f"dbt.{model}_run" in task_ids, model
        assert not {f"dbt.{model}.run", f"dbt.{model}.test"} & task_ids, model
    assert "dbt.channels.test" in task_ids  # a seed with tests


def test_dbt_tasks_take_the_as_of_date_and_backfill_exclusion_from_the_plan_task(dagbag):
    """Never logical_date/ds: asset-triggered and manual runs have none (the template then
    raised UndefinedError under the real scheduler)."""
    transform = dagbag.dags["patient360_transform"]
    for t in transform.tasks:
        if t.task_id.startswith("dbt_build_"):
            assert "xcom_pull(task_ids='plan')" in t.vars["as_of_date"], t.task_id
            assert "logical_date" not in t.vars["as_of_date"] and "ds" not in t.vars["as_of_date"].split()
            assert "tag:current" in t.exclude and "backfill" in t.exclude


def test_landing_runs_after_the_day_it_lands(dagbag):
    """A scheduled landing run for day D starts once D is over (data-interval timetable)."""
    from datetime import UTC, datetime

    dag = dagbag.dags["patient360_land_his"]
    info = dag.timetable.next_dagrun_info(last_automated_data_interval=None, restriction=_restriction(dag))
    assert info is not None
    assert info.logical_date == info.data_interval.start
    assert info.run_after == info.data_interval.end  # runs when the day it lands is over
    assert info.data_interval.end - info.data_interval.start == timedelta(days=1)
    assert info.run_after <= datetime.now(UTC)


def _restriction(dag):
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest=dag.start_date, latest=None, catchup=False)


def test_partition_day_for_every_way_a_landing_run_starts():
    from datetime import UTC, date, datetime

    from patient360.orchestration import partition_day

    d = datetime(2026, 10, 30, tzinfo=UTC)
    assert partition_day({"params": {"all_pending": False}, "logical_date": d}) == date(2026, 10, 30)
    assert partition_day({"params": {"all_pending": True}, "logical_date": d}) is None  # catch-up
    assert partition_day({"params": {"all_pending": False}, "logical_date": None}) is None  # manual, no date


def test_on_spark_there_is_no_single_writer_and_docs_build_beside_the_gates(airflow_home, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("P360_TARGET", "spark")
    bag = DagBag(dag_folder=str(paths.DAGS_DIR), safe_mode=True)
    assert bag.import_errors == {}
    assert len(bag.dags) == 5
    for dag in bag.dags.values():
        assert dag.max_active_tasks > 1, dag.dag_id
        assert all(t.pool == "default_pool" for t in dag.tasks), dag.dag_id
    transform = bag.dags["patient360_transform"]
    order = {t.task_id: set(t.downstream_task_ids) for t in transform.tasks}
    assert order["dbt_build_marts"] == {"dbt_docs", "gates"}
    assert order["dbt_docs"] == set()
    assert order["gates"] == {"publish"}
    dbt_tasks = [t for t in transform.tasks if t.task_id.startswith("dbt_build_")]
    assert {t.profile_config.target_name for t in dbt_tasks} == {"spark"}
    # dbt runs as patient360-dbt there: a plain dbt on Spark has no p360_* functions
    assert {Path(t.dbt_executable_path).name for t in dbt_tasks} == {"patient360-dbt"}


def test_an_unknown_target_is_a_configuration_error_naming_the_variable(airflow_home, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("P360_TARGET", "oracle")
    bag = DagBag(dag_folder=str(paths.DAGS_DIR / "patient360_transform.py"), safe_mode=True)
    assert bag.dags == {} or "patient360_transform" not in bag.dags
    assert any("P360_TARGET" in str(e) for e in bag.import_errors.values()), bag.import_errors
