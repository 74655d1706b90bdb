"""The engine a scheduled pipeline runs on: one environment variable, read in one place.

    P360_TARGET=duckdb   (default) one DuckDB file, one writer process at a time
    P360_TARGET=spark    raw Parquet zone + dbt-spark; no single-writer limit

The DAGs (patient360.orchestration) read it when they are parsed, so scheduler, DAG
processor and workers must share the value (docker-compose.yml and the Helm values set it
for every Airflow component; docs/deployment.md).
"""

from __future__ import annotations

import os

from patient360.errors import ConfigError

TARGET_ENV = "P360_TARGET"
TARGETS = ("duckdb", "spark")
DEFAULT_TARGET = "duckdb"


def current_target() -> str:
    value = os.environ.get(TARGET_ENV, "").strip().lower() or DEFAULT_TARGET
    if value not in TARGETS:
        raise ConfigError(f"{TARGET_ENV}={value!r}: expected one of {', '.join(TARGETS)}")
    return value


def single_writer() -> bool:
    """DuckDB admits one writer process per file; Spark's writers are per table folder."""
    return current_target() == "duckdb"
