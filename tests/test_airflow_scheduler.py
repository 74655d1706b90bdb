"""The scheduler's own path, not `airflow dags test`: a real local Airflow 3 (api-server,
scheduler, dag-processor, triggerer; LocalExecutor on SQLite) as `make airflow` starts it.

Day 1: the four landing DAGs are unpaused; the scheduler runs them for yesterday's interval,
they emit their Assets, and the scheduler itself creates the asset-triggered transform run,
which has no logical date and must succeed through publishing. Day 2: landing runs for a
day whose partitions never arrived are skipped with a log line naming the folder, emit no
Asset event, start no transform, and leave the published marts as they were."""

from __future__ import annotations

import hashlib
import socket
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from patient360.airflow_env import run_airflow
from patient360.airflow_local import LocalAirflow, local_env
from patient360.contracts import SOURCES

pytestmark = pytest.mark.slow
LANDING = [f"patient360_land_{s}" for s in SOURCES]
TRANSFORM = "patient360_transform"
TIMEOUT = 420  # seconds for the whole day-1 chain on a loaded 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, check, timeout: float, airflow: LocalAirflow):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        for name, proc in airflow.processes.items():
            assert proc.poll() is None, f"airflow {name} died: see {airflow.log_dir / (name + '.log')}"
        time.sleep(3)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def _runs(airflow: LocalAirflow, dag_id: str) -> list[dict]:
    return airflow.api(f"dags/{dag_id}/dagRuns?order_by=-run_after&limit=50")["dag_runs"]


def _asset_events(airflow: LocalAirflow) -> int:
    return airflow.api("assets/events?limit=1000")["total_entries"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory, pseudonym_key):
    from patient360.generate import generate_exports

    root = tmp_path_factory.mktemp("scheduler")
    day = datetime.now(UTC).date() - timedelta(days=1)  # the newest complete daily interval
    exports, warehouse = root / "exports", root / "warehouse" / "patient360.duckdb"
    # one partition, yesterday's: the first (full) export, as on the day a hospital starts
    generate_exports(out_dir=exports, patients=200, days=1, seed=11, end_date=day, history_days=60, progress=False)
    key_file = root / "pseudonym.key"
    key_file.write_text(pseudonym_key)
    env = local_env(root / "airflow", exports, warehouse, port=_free_port(), key_file=key_file)
    env.pop("P360_PSEUDONYM_KEY", None)  # the key reaches tasks through the key file, as with make airflow
    env.update(
        {
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "5",
        }
    )
    airflow = LocalAirflow(env=env, log_dir=root / "airflow" / "components", port=int(env["AIRFLOW__API__PORT"]))
    started = time.monotonic()
    airflow.start()
    timeline = {"components ready": time.monotonic() - started}
    try:
        yield {"airflow": airflow, "day": day, "warehouse": warehouse, "exports": exports, "timeline": timeline}
    finally:
        import psutil

        tree = []  # every component and every process it started (workers, task processes, dbt)
        for proc in airflow.processes.values():
            parent = psutil.Process(proc.pid)
            tree += [parent, *parent.children(recursive=True)]
        airflow.stop()
        alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"processes left running after stop: {alive}"


@pytest.fixture(scope="module")
def day_one(scheduler):
    airflow = scheduler["airflow"]
    _wait(
        "the DAGs to be parsed", lambda: len(airflow.api("dags?dag_id_pattern=patient360")["dags"]) == 5, 120, airflow
    )
    started = time.monotonic()
    # the consumer first: Asset events emitted while it is paused do not queue a run for it
    for dag_id in [TRANSFORM, *LANDING]:
        run_airflow(["dags", "unpause", dag_id], airflow.env)

    def landed():
        runs = {d: _runs(airflow, d) for d in LANDING}
        done = {d: r[0] for d, r in runs.items() if r and r[0]["state"] in ("success", "failed")}
        return done if len(done) == len(LANDING) else None

    landing = _wait("the four scheduled landing runs", landed, TIMEOUT, airflow)
    scheduler["timeline"]["landing runs done"] = time.monotonic() - started

    def transformed():
        runs = [r for r in _runs(airflow, TRANSFORM) if r["state"] in ("success", "failed")]
        return runs[0] if runs else None

    transform = _wait("the asset-triggered transform run", transformed, TIMEOUT, airflow)
    scheduler["timeline"]["transform run done"] = time.monotonic() - started
    tasks = airflow.api(f"dags/{TRANSFORM}/dagRuns/{transform['dag_run_id']}/taskInstances")["task_instances"]
    scheduler["timeline"].update(
        {f"  task {t['task_id']}": t.get("duration") or 0.0 for t in sorted(tasks, key=lambda t: t["start_date"] or "")}
    )
    print("\n".join(f"{k:<40} {v:7.1f} s" for k, v in scheduler["timeline"].items()))
    return {"landing": landing, "transform": transform, "tasks": tasks}


def test_scheduler_runs_landing_then_creates_and_runs_the_asset_triggered_transform(scheduler, day_one):
    day = scheduler["day"]
    for dag_id, run in day_one["landing"].items():
        assert run["run_type"] == "scheduled", dag_id
        assert run["state"] == "success", dag_id
        assert date.fromisoformat(run["logical_date"][:10]) == day, dag_id  # lands the interval's own day
    transform = day_one["transform"]
    assert transform["run_type"] == "asset_triggered"
    assert transform["logical_date"] is None  # the case `airflow dags test` never exercises
    failed = {t["task_id"]: t["state"] for t in day_one["tasks"] if t["state"] != "success"}
    assert transform["state"] == "success", failed
    published = scheduler["warehouse"].parent / "published" / "person" / "marts.duckdb"
    con = duckdb.connect(str(published), read_only=True)
    try:
        as_of, people = con.execute("select max(as_of_date), count(*) from patient_360").fetchone()
    finally:
        con.close()
    assert as_of == day and people > 0  # as of the newest landed partition


def test_a_missing_partition_is_skipped_without_asset_event_and_publishes_nothing(scheduler, day_one):
    airflow, day = scheduler["airflow"], scheduler["day"]
    missing = day - timedelta(days=5)  # inside the history, but no export partition for that day
    published = scheduler["warehouse"].parent / "published" / "person" / "marts.duckdb"
    before, events_before = _sha(published), _asset_events(airflow)
    transform_runs = len(_runs(airflow, TRANSFORM))
    for dag_id in LANDING:
        airflow.api(f"dags/{dag_id}/dagRuns", method="POST", body={"logical_date": f"{missing}T00:00:00Z"})

    def finished():
        runs = {d: [r for r in _runs(airflow, d) if r["logical_date"][:10] == str(missing)] for d in LANDING}
        done = {d: r[0] for d, r in runs.items() if r and r[0]["state"] in ("success", "failed")}
        return done if len(done) == len(LANDING) else None

    runs = _wait("the landing runs of the missing day", finished, 240, airflow)
    for dag_id, run in runs.items():
        task = airflow.api(f"dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"][0]
        assert task["state"] == "skipped", (dag_id, task["state"])
        source = dag_id.removeprefix("patient360_land_")
        log = airflow.api(
            f"dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/{task['task_id']}/logs/1?full_content=true"
        )
        text = str(log)
        assert f"no export partition at {scheduler['exports'] / source / str(missing)}" in text
    time.sleep(15)  # give the scheduler time to (wrongly) react
    assert _asset_events(airflow) == events_before  # no Asset event for data that did not arrive
    assert len(_runs(airflow, TRANSFORM)) == transform_runs  # so no transform run
    assert _sha(published) == before  # and the published marts are as they were
