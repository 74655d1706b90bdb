"""A local Airflow for the demo and tests: SQLite metadata under the project,
no server, examples off, Cosmos telemetry off. Runs DAGs with `airflow dags test`."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path

from patient360 import paths
from patient360.airflow_pools import WAREHOUSE_POOL

log = logging.getLogger(__name__)


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
    if that is later than the end of the consumer's last successful run, else None.
    `airflow dags test` runs no scheduler, so `make demo` checks this before it starts the
    transformation DAG.

    Read through Airflow's public REST API (v2), served in a child process by Airflow's own
    API app without an api-server: the child gets the instance's configuration from `env`
    (Airflow reads it from the environment when imported), with the local-only simple auth
    manager letting it in as admin."""
    api_env = {
        **env,
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    }
    code = "import sys; from patient360.airflow_env import _query_asset_condition as q; q(sys.argv[1], sys.argv[2])"
    with tempfile.TemporaryDirectory(prefix="p360-assets-") as tmp:
        out = Path(tmp) / "condition.json"  # Airflow logs to stdout: the answer goes to a file
        cmd = [sys.executable, "-c", code, consumer_dag_id, str(out)]
        proc = subprocess.run(cmd, env=api_env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).splitlines()[-40:]
            raise RuntimeError(f"reading the Asset condition of {consumer_dag_id} failed:\n" + "\n".join(tail))
        return json.loads(out.read_text(encoding="utf-8"))


def _query_asset_condition(consumer_dag_id: str, out: str) -> None:
    """In a process configured for the Airflow instance: ask its REST API, write the answer."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient  # calls the ASGI app in-process, no server or port

    api = TestClient(create_app(apps="core"))

    def get(path: str, **params: str | int) -> dict:
        response = api.get(f"/api/v2{path}", params=params)
        response.raise_for_status()
        return response.json()

    assets = get("/assets", dag_ids=consumer_dag_id, limit=100)
    if assets["total_entries"] > len(assets["assets"]):
        raise RuntimeError(f"{consumer_dag_id}: more assets than one page of the REST API")
    runs = get(f"/dags/{consumer_dag_id}/dagRuns", state="success", order_by="-end_date", limit=1)
    since = runs["dag_runs"][0]["end_date"] if runs["dag_runs"] else None
    condition = updated_since(consumer_dag_id, assets["assets"], since)
    Path(out).write_text(json.dumps(condition), encoding="utf-8")


def updated_since(consumer_dag_id: str, assets: list[dict], since: str | None) -> dict[str, str | None]:
    """Asset name -> its last event's time when later than `since`, else None, for the
    assets (REST API AssetResponse dicts) that schedule `consumer_dag_id`; the API's
    `dag_ids` filter also returns the assets a DAG produces or consumes in a task."""
    after = datetime.fromisoformat(since) if since else None
    condition: dict[str, str | None] = {}
    for asset in assets:
        if consumer_dag_id not in {ref["dag_id"] for ref in asset["scheduled_dags"]}:
            continue
        last = (asset.get("last_asset_event") or {}).get("timestamp")
        fresh = last is not None and (after is None or datetime.fromisoformat(last) > after)
        condition[asset["name"]] = last if fresh else None
    return dict(sorted(condition.items()))
