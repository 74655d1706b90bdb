"""Landing DAGs (Airflow): one per source, daily. The run for day D starts once D is over,
lands D's export partition into the raw zone and emits the source's Asset. A partition
that did not arrive skips the task (no Asset event). Logic: patient360.orchestration.

Param all_pending=True (or a manual run without a logical date) lands every partition not
yet landed (first run, catch-up). The engine (raw DuckDB tables or the raw Parquet zone)
comes from P360_TARGET (patient360.target).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from patient360.contracts import SOURCES
from patient360.orchestration import (
    DEFAULT_ARGS,
    START_DATE,
    landing_timetable,
    max_active_tasks,
    raw_asset,
    run_landing,
    writer_pool,
)


def build_landing_dag(source: str):
    @dag(
        dag_id=f"patient360_land_{source}",
        description=f"Land the {source} export partition of each day into raw_{source}",
        schedule=landing_timetable(),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        max_active_tasks=max_active_tasks(),
        default_args=DEFAULT_ARGS,
        params={"all_pending": Param(False, type="boolean", description="land every partition not yet landed")},
        tags=["patient360", "landing", source],
    )
    def landing():
        @task(task_id=f"land_{source}", outlets=[raw_asset(source)], pool=writer_pool())
        def land() -> dict:
            return run_landing(source, get_current_context())

        land()

    return landing()


for _source in SOURCES:
    globals()[f"patient360_land_{_source}"] = build_landing_dag(_source)
