"""Transformation DAG (Airflow): triggered when all four raw-zone Assets were
updated; dbt (rendered by astronomer-cosmos) -> Great Expectations gates -> publish.
A failed gate stops publishing; the previously published marts stay in place.
Execution mode, invocation mode and the one-writer pool: see patient360.orchestration.
"""

from __future__ import annotations

import os

from airflow.sdk import Param, dag, task
from airflow.sdk.exceptions import AirflowFailException

from patient360.contracts import SOURCES
from patient360.orchestration import (
    DEFAULT_ARGS,
    MARTS_ASSET,
    PUBLISHED_ASSET,
    START_DATE,
    WAREHOUSE_POOL,
    dbt_layer_tasks,
    dbt_model_task_group,
    raw_asset,
    warehouse,
)


@dag(
    dag_id="patient360_transform",
    description="dbt build (Cosmos), GX gates and publishing, scheduled by the landing Assets",
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
    if os.environ.get("P360_COSMOS_RENDER", "layer") == "model":
        dbt_done = dbt_model_task_group()
    else:
        dbt_done = dbt_layer_tasks()[-1]

    @task(pool=WAREHOUSE_POOL)
    def dbt_docs() -> str:
        from patient360.pipeline import stage_docs

        return str(stage_docs(warehouse()))

    @task(outlets=[MARTS_ASSET], pool=WAREHOUSE_POOL, retries=0)
    def gates() -> None:
        from patient360.pipeline import GateFailed, stage_gates

        try:
            stage_gates(warehouse())
        except GateFailed as exc:  # a data problem: retrying cannot fix it
            raise AirflowFailException(str(exc)) from exc

    @task(outlets=[PUBLISHED_ASSET], pool=WAREHOUSE_POOL)
    def publish() -> dict:
        from patient360.pipeline import stage_publish

        return stage_publish(warehouse()).tables

    dbt_done >> dbt_docs() >> gates() >> publish()


patient360_transform()
