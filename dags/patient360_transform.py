"""Transformation DAG (Airflow): triggered when all four raw-zone Assets were updated (or
by hand, with or without `as_of_date`). plan (as-of date, backfill or not) -> source
freshness -> dbt (rendered by astronomer-cosmos) -> dbt docs -> Great Expectations gates
-> publish (release tiers aggregate, person, activation: all gated or none published) -> purge
(retention, patient360.retention). A failed
gate stops publishing; the previously published marts stay in place.
Execution mode, invocation mode, retries and the one-writer pool: patient360.orchestration.
On P360_TARGET=spark there is no single writer: dbt docs are built while the gates run.
"""

from __future__ import annotations

import os

from airflow.sdk import Param, dag, get_current_context, task

from patient360.contracts import SOURCES
from patient360.orchestration import (
    DEFAULT_ARGS,
    MARTS_ASSET,
    PLAN_TASK_ID,
    PUBLISHED_ASSET,
    START_DATE,
    dbt_layer_tasks,
    dbt_model_task_group,
    fail_fast,
    max_active_tasks,
    published_dir,
    raw_asset,
    release_warehouse,
    run_plan,
    warehouse,
    writer_pool,
)
from patient360.target import current_target, single_writer


@dag(
    dag_id="patient360_transform",
    description="dbt build (Cosmos), GX gates and publishing, scheduled by the landing Assets",
    schedule=[raw_asset(s) for s in SOURCES],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    max_active_tasks=max_active_tasks(),
    default_args=DEFAULT_ARGS,
    params={
        "as_of_date": Param(
            None, type=["null", "string"], description="YYYY-MM-DD; default: the newest landed partition"
        )
    },
    tags=["patient360", "dbt", "gates", "publish"],
)
def patient360_transform():
    @task(task_id=PLAN_TASK_ID, pool=writer_pool())
    def plan() -> dict:
        return run_plan(get_current_context())

    @task(pool=writer_pool())
    def freshness() -> None:
        from patient360.pipeline import stage_freshness

        if current_target() == "spark":  # the same check runs in dbt's build of the sources there
            return
        fail_fast(lambda: stage_freshness(warehouse()))

    if os.environ.get("P360_COSMOS_RENDER", "layer") == "model":
        dbt_first = dbt_last = dbt_model_task_group()
    else:
        layers = dbt_layer_tasks()
        dbt_first, dbt_last = layers[0], layers[-1]

    @task(pool=writer_pool())
    def dbt_docs() -> str:
        from patient360.pipeline import stage_docs

        if current_target() == "spark":  # dbt docs on Spark: `patient360 dbt docs generate --target spark`
            return ""
        return str(fail_fast(lambda: stage_docs(warehouse())))

    @task(outlets=[MARTS_ASSET], pool=writer_pool())
    def gates() -> None:
        from patient360.pipeline import stage_gates

        fail_fast(lambda: stage_gates(release_warehouse(refresh=True)))

    @task(outlets=[PUBLISHED_ASSET], pool=writer_pool())
    def publish() -> dict:
        from patient360.pipeline import stage_publish

        return fail_fast(lambda: stage_publish(release_warehouse(), out_dir=published_dir())).tables

    @task(pool=writer_pool())
    def purge() -> dict:
        from patient360.pipeline import stage_purge

        if current_target() == "spark":  # retention on the Parquet zone: docs/scale.md (not automated yet)
            return {}
        return fail_fast(lambda: stage_purge(warehouse())).rows

    plan() >> freshness() >> dbt_first
    checked = gates()
    checked >> publish() >> purge()
    if single_writer():  # one writer at a time: a chain
        dbt_last >> dbt_docs() >> checked
    else:  # docs and gates only read the build: side by side
        dbt_last >> [dbt_docs(), checked]


patient360_transform()
