"""Airflow wiring shared by the DAG files (kept thin: they only declare tasks).

Assets are the contract between the landing DAGs and the transformation DAG: each
landing DAG emits the asset of its source's raw zone, and the transformation DAG is
scheduled when all four have been updated (data-driven, not clock-driven).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from airflow.sdk import Asset

from patient360 import paths
from patient360.airflow_pools import WAREHOUSE_POOL  # noqa: F401  (re-exported for the DAG files)
from patient360.contracts import SOURCES

DEFAULT_ARGS = {
    "owner": "patient360",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
}

START_DATE = datetime(2026, 1, 1)


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


def logical_day(context: dict) -> date | None:
    """The run's logical date as a date (None for asset-triggered runs, which have none)."""
    logical = context.get("logical_date")
    return logical.date() if logical is not None else None


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
AS_OF_TEMPLATE = "{{ params.as_of_date or (ds if logical_date else '') }}"


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
        target_name="dev",
        profiles_yml_filepath=paths.DBT_PROJECT_DIR / "profiles.yml",
    )
    execution = ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.SUBPROCESS,
        dbt_executable_path=dbt_executable(),
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
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test",
        },
        "vars": {"as_of_date": AS_OF_TEMPLATE},
        "pool": WAREHOUSE_POOL,
    }


def dbt_layer_tasks() -> list:
    """One Cosmos `dbt build` task per layer, chained in layer order."""
    from cosmos.operators.local import DbtBuildLocalOperator

    project, profile, execution = cosmos_configs()
    tasks: list = []
    for layer in DBT_LAYERS:
        task = DbtBuildLocalOperator(
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
