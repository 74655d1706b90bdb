"""Airflow wiring shared by the DAG files (kept thin: they only declare tasks).

Assets are the contract between the landing DAGs and the transformation DAG: each
landing DAG emits the asset of its source's raw zone, and the transformation DAG is
scheduled when all four have been updated (data-driven, not clock-driven).

Every task body here works for every way a run starts: scheduled, backfilled,
asset-triggered and manual runs with or without a logical date (docs/orchestration.md).
Errors that cannot heal (configuration, contracts, dbt errors, gates) fail the task at
once with one line; transient ones (the warehouse lock held by another process, OS I/O
errors) are raised as they are, so Airflow retries them.

The engine comes from P360_TARGET (patient360.target, default duckdb). On duckdb every task
that writes the warehouse runs in the one-slot `duckdb_writer` pool and DAGs run one task at
a time; on spark there is no single writer: tasks use Airflow's default pool, DAGs may run
SPARK_MAX_ACTIVE_TASKS tasks at once, and tasks that do not depend on each other do.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from patient360 import paths
from patient360.airflow_pools import WAREHOUSE_POOL
from patient360.contracts import SOURCES
from patient360.errors import explain, is_transient
from patient360.target import current_target, single_writer

T = TypeVar("T")

DEFAULT_ARGS = {
    "owner": "patient360",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
}

START_DATE = datetime(2026, 1, 1)

# On spark: tasks of one DAG run at once (landing sources, Cosmos model tasks, docs next to gates)
SPARK_MAX_ACTIVE_TASKS = 8
DEFAULT_POOL = "default_pool"


def writer_pool() -> str:
    """The pool of a task that writes the warehouse: the one-slot pool only where one writer is allowed."""
    return WAREHOUSE_POOL if single_writer() else DEFAULT_POOL


def max_active_tasks() -> int:
    return 1 if single_writer() else SPARK_MAX_ACTIVE_TASKS


def landing_timetable() -> Any:
    """Daily data intervals in UTC: the run for day D starts once D is over and lands D's
    partition (its logical date is D). Airflow 3's plain "@daily" would run at the start
    of D, before D's export exists."""
    from airflow.timetables.interval import CronDataIntervalTimetable

    return CronDataIntervalTimetable("0 0 * * *", timezone="UTC")


def fail_fast(fn: Callable[[], T]) -> T:
    """Run a task body: transient errors propagate (Airflow retries them), every other
    error fails the task at once, without retries, with the one-line explanation."""
    try:
        return fn()
    except (AirflowSkipException, AirflowFailException):
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        raise AirflowFailException(explain(exc)[1]) from exc


def raw_asset(source: str) -> Asset:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    return Asset(name=f"patient360_raw_{source}", uri=f"patient360://warehouse/raw_{source}")


MARTS_ASSET = Asset(name="patient360_marts", uri="patient360://warehouse/marts")
PUBLISHED_ASSET = Asset(name="patient360_published_marts", uri="patient360://published/marts")


def exports_dir() -> Path:
    return paths.exports_dir()


def warehouse() -> Path:
    return paths.warehouse_path()


def spark_warehouse() -> Path:
    return paths.spark_warehouse_dir()


def release_warehouse(refresh: bool = False) -> Path:
    """What the run plan, the gates and publish read: the DuckDB file, or on the Spark target the
    catalogue of views over its Parquet tables (patient360.spark_release); `refresh` re-declares
    the views first (after a dbt build: tables it created appear)."""
    if current_target() == "spark":
        from patient360.spark_release import CATALOGUE, build_catalogue

        return build_catalogue(spark_warehouse()) if refresh else spark_warehouse() / CATALOGUE
    return warehouse()


def published_dir() -> Path | None:
    """Where releases go: the DuckDB default (beside the file), or <Spark warehouse>/published."""
    return spark_warehouse() / "published" if current_target() == "spark" else None


def partition_day(context: Any) -> date | None:
    """The partition a landing run lands: its logical date's day (a scheduled run's logical
    date is the start of the day it covers; a backfill's and a manual run's are the day asked
    for); None, meaning every partition not yet landed, for `all_pending` and for a manual run
    without a logical date."""
    if context["params"].get("all_pending"):
        return None
    logical = context.get("logical_date")
    return logical.date() if logical is not None else None


def run_landing(source: str, context: Any) -> dict:
    """Land one source's partition. A partition that did not arrive skips the task: nothing
    landed, so no Asset event and no transformation for data that is not there."""
    day = partition_day(context)
    if current_target() == "spark":  # the raw Parquet zone; files of the partition in parallel
        from patient360.land.parquet_sink import land_to_parquet

        report = fail_fast(lambda: land_to_parquet(exports_dir(), spark_warehouse(), day=day, sources=[source]))
    else:
        from patient360.pipeline import stage_land

        report = fail_fast(lambda: stage_land(exports_dir(), warehouse(), day=day, sources=[source]))
    if report.missing_partitions:
        raise AirflowSkipException(
            f"no export partition at {report.missing_partitions[0]}: the {source} export for {day} did not "
            "arrive; nothing landed, no Asset event (it lands with the next run of this day or all_pending)"
        )
    return report.totals()


def run_plan(context: Any) -> dict:
    """The transform run's as-of date and whether it is a backfill (patient360.run_plan)."""
    from patient360.run_plan import plan_run

    requested = context["params"].get("as_of_date")
    day = date.fromisoformat(requested) if requested else None
    plan = fail_fast(lambda: plan_run(release_warehouse(refresh=True), day))
    return plan.as_xcom()


# --- dbt through astronomer-cosmos -------------------------------------------------
# Execution: ExecutionMode.LOCAL with InvocationMode.SUBPROCESS. Every dbt call is a
# child process that exits when done, so the DuckDB file lock is released before the
# next task (the in-process dbtRunner keeps the file open and a later GX step in the
# same worker could not open it). All dbt tasks run in the one-slot `duckdb_writer`
# pool and DAGs use max_active_tasks=1: DuckDB admits one writer process, so parallel
# dbt tasks would fail with "Could not set lock on file".
# Rendering: by layer (default; one `dbt build --select path:<layer>` task per layer,
# tests run right after each model inside it) or by model (P360_COSMOS_RENDER=model:
# a Cosmos DbtTaskGroup from the manifest, one task per model with its tests).
DBT_LAYERS = ("seeds", "models/staging", "models/restricted", "models/intermediate", "models/marts")
# The dbt tasks read the plan task's result: never logical_date/ds, which asset-triggered and
# manual runs do not have. A backfill excludes the models that show the current view.
PLAN_TASK_ID = "plan"
DBT_TARGETS = {"duckdb": "dev", "spark": "spark"}  # P360_TARGET -> target of dbt_project/profiles.yml
AS_OF_TEMPLATE = "{{ ti.xcom_pull(task_ids='" + PLAN_TASK_ID + "')['as_of_date'] }}"
EXCLUDE_TEMPLATE = "{{ 'tag:current' if ti.xcom_pull(task_ids='" + PLAN_TASK_ID + "')['backfill'] else '' }}"


def spark_dbt_executable() -> str:
    """`patient360-dbt`: dbt's CLI with a local Spark session holding the project's functions (a
    plain `dbt` on the Spark target has no p360_* UDFs; patient360.spark_engine.dbt_cli)."""
    candidate = Path(sys.executable).with_name("patient360-dbt")
    return str(candidate) if candidate.exists() else "patient360-dbt"


def cosmos_configs():
    import os

    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig
    from cosmos.constants import ExecutionMode, InvocationMode

    from patient360.dbt_runner import dbt_executable

    # P360_DBT_MANIFEST: a manifest parsed elsewhere (tests parse into tmp, not the project's target/)
    manifest = os.environ.get("P360_DBT_MANIFEST") or paths.DBT_PROJECT_DIR / "target" / "manifest.json"
    project = ProjectConfig(
        dbt_project_path=paths.DBT_PROJECT_DIR,
        manifest_path=manifest,
        partial_parse=True,
    )
    profile = ProfileConfig(
        profile_name="patient360",
        target_name=DBT_TARGETS[current_target()],
        profiles_yml_filepath=paths.DBT_PROJECT_DIR / "profiles.yml",
    )
    execution = ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.SUBPROCESS,
        dbt_executable_path=spark_dbt_executable() if current_target() == "spark" else dbt_executable(),
    )
    return project, profile, execution


def dbt_operator_args() -> dict:
    # append_env: the key reaches dbt through the inherited process environment only,
    # never as an operator argument, so it is not stored in Airflow's rendered fields.
    return {
        "append_env": True,
        # unit tests check SQL logic on fixed inputs and run in CI, not in scheduled builds
        "env": {
            "P360_WAREHOUSE": str(warehouse()),
            "P360_SPARK_WAREHOUSE": str(spark_warehouse()),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test",
        },
        "vars": {"as_of_date": AS_OF_TEMPLATE},
        "exclude": EXCLUDE_TEMPLATE,
        "pool": writer_pool(),
    }


def _dbt_build_operator() -> type:
    """Cosmos' `dbt build` operator, failing at once unless dbt could not lock the warehouse."""
    from airflow.exceptions import AirflowException
    from cosmos.operators.local import DbtBuildLocalOperator

    class WarehouseDbtBuildOperator(DbtBuildLocalOperator):
        def handle_exception_subprocess(self, result: Any) -> None:
            if result.exit_code == 0:
                return
            output = list(result.full_output or [])
            self.log.error("\n".join(output))
            if any("Could not set lock on file" in line for line in output):
                raise AirflowException("dbt could not lock the warehouse (another process holds it); retrying")
            errors = [line.strip() for line in output if "ERROR" in line or "FAIL" in line][-3:]
            raise AirflowFailException(f"dbt build failed (exit {result.exit_code}): " + " | ".join(errors))

    return WarehouseDbtBuildOperator


def dbt_layer_tasks() -> list:
    """One Cosmos `dbt build` task per layer, chained in layer order."""
    operator = _dbt_build_operator()
    project, profile, execution = cosmos_configs()
    tasks: list = []
    for layer in DBT_LAYERS:
        task = operator(
            task_id=f"dbt_build_{layer.split('/')[-1]}",
            project_dir=str(project.dbt_project_path),
            profile_config=profile,
            dbt_executable_path=execution.dbt_executable_path,
            invocation_mode=execution.invocation_mode,
            select=[f"path:{layer}"],
            install_deps=False,
            **dbt_operator_args(),
        )
        if tasks:
            tasks[-1] >> task
        tasks.append(task)
    return tasks


def dbt_model_task_group(group_id: str = "dbt"):
    """One task per model (tests after each), rendered by Cosmos from the manifest."""
    from cosmos import DbtTaskGroup, RenderConfig
    from cosmos.constants import LoadMode, TestBehavior

    project, profile, execution = cosmos_configs()
    return DbtTaskGroup(
        group_id=group_id,
        project_config=project,
        profile_config=profile,
        execution_config=execution,
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH),
        operator_args={**dbt_operator_args(), "install_deps": False},
    )
