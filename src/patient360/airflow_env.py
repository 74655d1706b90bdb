"""A local Airflow for the demo and tests: SQLite metadata under the project,
no server, examples off, Cosmos telemetry off. Runs DAGs with `airflow dags test`."""

from __future__ import annotations

import logging
import os
import sqlite3
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


# Lines of `airflow dags test` output worth showing live (the rest goes to the log file).
_PROGRESS = (
    "[DAG TEST] starting task_id",
    "Done. PASS=",
    "gates PASSED",
    "gates FAILED",
    "BLOCK ",
    "published ",
    "DagRun Finished",
)


def run_airflow(
    args: list[str], env: dict[str, str], *, log_file: Path | None = None, show_progress: bool = False
) -> None:
    """Run an `airflow` CLI command, streaming its output to `log_file` (and progress lines
    to stdout); on failure raise with the tail of its output."""
    cmd = [_airflow(), *args]
    log.info("airflow %s", " ".join(args))
    tail: list[str] = []
    sink = None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        sink = log_file.open("a", encoding="utf-8")
        sink.write(f"$ airflow {' '.join(args)}\n")
    try:
        with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                if sink:
                    sink.write(line)
                tail = (tail + [line.rstrip()])[-40:]
                if show_progress and any(marker in line for marker in _PROGRESS):
                    print("    " + _short(line), flush=True)
            returncode = proc.wait()
    finally:
        if sink:
            sink.close()
    if returncode != 0:
        raise RuntimeError(f"`airflow {' '.join(args)}` failed (exit {returncode}):\n" + "\n".join(tail))


def _short(line: str) -> str:
    """A log line without Airflow's timestamp/level prefix and location suffix."""
    text = line.strip()
    if "] " in text and text.startswith("20"):
        text = text.split("] ", 1)[1] if text.count("]") >= 1 else text
    return text.split(" [", 1)[0][:160]


def prepare_airflow(env: dict[str, str], log_file: Path | None = None) -> None:
    """Migrate the SQLite metadata DB (idempotent), create the one-slot writer pool and
    serialize every DAG, so that the metadata knows which DAG each Asset schedules
    (as a dag-processor would) before the first landing DAG emits one."""
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    run_airflow(["db", "migrate"], env, log_file=log_file)
    run_airflow(["pools", "set", WAREHOUSE_POOL, "1", "DuckDB admits one writer process"], env, log_file=log_file)
    run_airflow(["dags", "reserialize"], env, log_file=log_file)


def dags_test(
    dag_id: str,
    day: date,
    env: dict[str, str],
    conf: str | None = None,
    log_file: Path | None = None,
    show_progress: bool = False,
):
    args = ["dags", "test", dag_id, day.isoformat()]
    if conf:
        args += ["-c", conf]
    run_airflow(args, env, log_file=log_file, show_progress=show_progress)


def asset_condition(env: dict[str, str], consumer_dag_id: str) -> dict[str, str | None]:
    """What the scheduler would check before an asset-scheduled run, read from Airflow's own
    metadata: for every asset `consumer_dag_id` is scheduled on, the time of its newest event
    since the consumer's last successful run ended, or None when that asset has not been
    updated since. `airflow dags test` runs no scheduler,
    so `make demo` checks this before it starts the transformation DAG."""
    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if not url.startswith("sqlite:///"):
        raise ValueError(f"asset_condition reads local SQLite metadata only, not {url.split(':', 1)[0]}")
    con = sqlite3.connect(f"file:{url.removeprefix('sqlite:///')}?mode=ro", uri=True)
    try:
        since = con.execute(
            "SELECT max(end_date) FROM dag_run WHERE dag_id = ? AND state = 'success'", [consumer_dag_id]
        ).fetchone()[0]
        rows = con.execute(
            """SELECT a.name, max(e.timestamp) FILTER (WHERE ? IS NULL OR e.timestamp > ?)
               FROM dag_schedule_asset_reference AS r
               JOIN asset AS a ON a.id = r.asset_id
               LEFT JOIN asset_event AS e ON e.asset_id = a.id
               WHERE r.dag_id = ? GROUP BY a.name ORDER BY a.name""",
            [since, since, consumer_dag_id],
        ).fetchall()
    finally:
        con.close()
    return dict(rows)
