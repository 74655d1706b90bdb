"""Landing DAGs (Airflow): one per source, daily, land that day's export partition
into the raw zone and emit the source's Asset. Logic lives in patient360.pipeline.

Param all_pending=True lands every partition not yet landed (first run, catch-up).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from patient360.contracts import SOURCES
from patient360.orchestration import (
    DEFAULT_ARGS,
    START_DATE,
    WAREHOUSE_POOL,
    exports_dir,
    logical_day,
    raw_asset,
    warehouse,
)


def build_landing_dag(source: str):
    @dag(
        dag_id=f"patient360_land_{source}",
        description=f"Land the {source} export partition of the logical date into raw_{source}",
        schedule="@daily",
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        max_active_tasks=1,
        default_args=DEFAULT_ARGS,
        params={"all_pending": Param(False, type="boolean", description="land every partition not yet landed")},
        tags=["patient360", "landing", source],
    )
    def landing():
        @task(task_id=f"land_{source}", outlets=[raw_asset(source)], pool=WAREHOUSE_POOL)
        def land() -> dict:
            from patient360.pipeline import stage_land

            context = get_current_context()
            day = None if context["params"]["all_pending"] else logical_day(context)
            report = stage_land(exports_dir(), warehouse(), day=day, sources=[source])
            return report.totals()

        land()

    return landing()


for _source in SOURCES:
    globals()[f"patient360_land_{_source}"] = build_landing_dag(_source)
