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
from patient360.airflow_env import WAREHOUSE_POOL  # noqa: F401  (re-exported for the DAG files)
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
