"""Airflow pool names: one home for the DAG wiring (orchestration, which the DAG files
import) and the local Airflow setup (airflow_env, which creates the pools). Importing
this module does not import Airflow."""

from __future__ import annotations

# One writer process for the DuckDB file: every task that writes it runs in this
# one-slot pool (and DAGs set max_active_tasks=1, so an unconfigured pool still
# cannot run two writers).
WAREHOUSE_POOL = "duckdb_writer"
