"""A local Airflow for the demo and tests: SQLite metadata under the project,
no server, examples off, Cosmos telemetry off. Runs DAGs with `airflow dags test`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from patient360 import paths

log = logging.getLogger(__name__)

# One writer process for the DuckDB file: every task that writes it runs in this
# one-slot pool (and DAGs set max_active_tasks=1, so an unconfigured pool still
# cannot run two writers).
WAREHOUSE_POOL = "duckdb_writer"


def airflow_env(airflow_home: Path, exports: Path, warehouse: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(paths.DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
        "P360_EXPORTS": str(exports),
        "P360_WAREHOUSE": str(warehouse),
        "PYTHONUNBUFFERED": "1",
    }


def _airflow() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


def run_airflow(args: list[str], env: dict[str, str], *, log_file: Path | None = None) -> None:
    """Run an `airflow` CLI command; on failure raise with the tail of its output."""
    cmd = [_airflow(), *args]
    log.info("airflow %s", " ".join(args))
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("a", encoding="utf-8") as fh:
            fh.write(f"$ airflow {' '.join(args)}\n{proc.stdout}\n")
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise RuntimeError(f"`airflow {' '.join(args)}` failed (exit {proc.returncode}):\n{tail}")


def prepare_airflow(env: dict[str, str], log_file: Path | None = None) -> None:
    """Migrate the SQLite metadata DB (idempotent) and create the one-slot writer pool."""
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    run_airflow(["db", "migrate"], env, log_file=log_file)
    run_airflow(["pools", "set", WAREHOUSE_POOL, "1", "DuckDB admits one writer process"], env, log_file=log_file)


def dags_test(dag_id: str, day: date, env: dict[str, str], conf: str | None = None, log_file: Path | None = None):
    args = ["dags", "test", dag_id, day.isoformat()]
    if conf:
        args += ["-c", conf]
    run_airflow(args, env, log_file=log_file)
