"""Transformation DAG (Airflow): triggered when all four raw-zone Assets were
updated; dbt build -> Great Expectations gates -> publish marts for BI.
Logic lives in patient360.pipeline; a failed gate stops publishing and the
previously published marts stay in place.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from patient360.contracts import SOURCES
from patient360.orchestration import (
    DEFAULT_ARGS,
    MARTS_ASSET,
    PUBLISHED_ASSET,
    START_DATE,
    WAREHOUSE_POOL,
    logical_day,
    raw_asset,
    warehouse,
)


@dag(
    dag_id="patient360_transform",
    description="dbt build, GX gates and publishing, scheduled by the landing Assets",
    schedule=[raw_asset(s) for s in SOURCES],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    default_args=DEFAULT_ARGS,
    params={"as_of_date": Param(None, type=["null", "string"], description="YYYY-MM-DD; default: logical date")},
    tags=["patient360", "dbt", "gates", "publish"],
)
def patient360_transform():
    def _as_of():
        from datetime import date

        context = get_current_context()
        explicit = context["params"].get("as_of_date")
        return date.fromisoformat(explicit) if explicit else logical_day(context)

    @task(outlets=[MARTS_ASSET], pool=WAREHOUSE_POOL)
    def dbt_build() -> None:
        from patient360.pipeline import stage_transform

        stage_transform(warehouse(), _as_of())

    @task(pool=WAREHOUSE_POOL)
    def gates() -> None:
        from patient360.pipeline import GateFailed, stage_gates

        try:
            stage_gates(warehouse())
        except GateFailed as exc:  # data problem: retrying cannot fix it
            raise AirflowFailException(str(exc)) from exc

    @task(outlets=[PUBLISHED_ASSET], pool=WAREHOUSE_POOL)
    def publish() -> dict:
        from patient360.pipeline import stage_publish

        return stage_publish(warehouse()).tables

    dbt_build() >> gates() >> publish()


patient360_transform()
