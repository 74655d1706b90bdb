"""docker-compose.yml: validated by docker-compose itself, and structurally."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}


CELERY_SERVICES = {"redis", "airflow-worker-1", "airflow-worker-2"}
SECRETS = {"P360_PSEUDONYM_KEY": "k" * 40, "P360_TOMBSTONE_KEY": "t" * 40, "SUPERSET_SECRET_KEY": "s" * 40,
           "AIRFLOW_JWT_SECRET": "j" * 40}  # fmt: skip


def _compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing in CI (make test installs Debian's docker-compose)")
        pytest.skip("docker-compose not installed (Debian package docker-compose)")
    return exe


def _config(exe: str, *args: str, **env: str) -> dict:
    """The stack as docker-compose renders it (validated by docker-compose itself)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("P360_", "COMPOSE_"))} | SECRETS | env
    proc = subprocess.run(
        [exe, "-f", str(COMPOSE), *args, "config"], cwd=ROOT, env=full, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)["services"]


def test_docker_compose_config_validates():
    exe = _compose()
    secrets = SECRETS
    env = {**os.environ, **secrets}
    rendered = _config(exe)
    # the default stack: LocalExecutor on the DuckDB target
    assert rendered["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert rendered["airflow-scheduler"]["environment"]["P360_TARGET"] == "duckdb"
    # every Airflow service signs and checks task tokens with the one secret from the environment
    assert {rendered[s]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] for s in AIRFLOW_SERVICES} == {"j" * 40}
    # the exports folder the README tells users to fill (./exports) is what the DAGs read
    exports = [v for v in rendered["airflow-scheduler"]["volumes"] if str(v).endswith("/opt/patient360/exports:ro")]
    assert exports and str(exports[0]).startswith(str(ROOT / "exports")), exports
    # secrets are required from the environment, never defaulted
    for name in secrets:
        proc = subprocess.run(
            [exe, "-f", str(COMPOSE), "config", "-q"],
            cwd=ROOT,
            env={k: v for k, v in env.items() if k != name},
            capture_output=True,
            text=True,
        )
        assert proc.returncode != 0 and name in proc.stderr, name


def test_stack_structure():
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = doc["services"]
    assert {"postgres", "airflow-init", "superset"} | AIRFLOW_SERVICES <= set(services)
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        for dep in svc.get("depends_on", {}) or {}:
            assert dep in services, f"{name} depends on unknown {dep}"
    mounts = set(services["airflow-scheduler"]["volumes"])
    for folder in ("dags", "dbt_project", "expectations", "src", "warehouse"):
        assert any(m.startswith(f"./{folder}:") for m in mounts), folder
    assert "${P360_EXPORTS_HOST:-./exports}:/opt/patient360/exports:ro" in mounts
    bi_mounts = services["superset"]["volumes"]
    # the published aggregate tier only (no person-level tier), read-only; Superset's own metadata
    # in a named volume (kept on restart)
    assert bi_mounts == ["./warehouse/published/aggregate:/data/published:ro", "superset-home:/app/superset_home"]
    assert "superset-home" in doc["volumes"]
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    assert env["P360_PSEUDONYM_KEY"].startswith("${P360_PSEUDONYM_KEY:?")  # no literal secret
    assert env["P360_TOMBSTONE_KEY"].startswith("${P360_TOMBSTONE_KEY:?")


def test_celery_profile_validates_with_redis_postgres_and_two_workers():
    exe = _compose()
    rendered = _config(exe, "--profile", "celery", P360_AIRFLOW_EXECUTOR="CeleryExecutor", P360_TARGET="spark")
    assert set(rendered) >= CELERY_SERVICES | AIRFLOW_SERVICES
    for name in AIRFLOW_SERVICES | {"airflow-worker-1", "airflow-worker-2"}:
        env = rendered[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:"), name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name
        assert env["P360_TARGET"] == "spark", name
    for worker in ("airflow-worker-1", "airflow-worker-2"):
        svc = rendered[worker]
        assert svc["command"] in ("celery worker", ["celery", "worker"]), worker
        assert {"redis", "airflow-init"} <= set(svc["depends_on"]), worker
        # a worker runs the tasks: the same package, DAGs, exports and warehouse as the scheduler
        assert sorted(map(str, svc["volumes"])) == sorted(map(str, rendered["airflow-scheduler"]["volumes"]))


def test_celery_services_are_only_in_their_profiles():
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    profiled = {name: svc["profiles"] for name, svc in services.items() if "profiles" in svc}
    assert profiled == {
        "redis": ["celery"],
        "airflow-worker-1": ["celery"],
        "airflow-worker-2": ["celery"],
        "flower": ["flower"],
    }
    # workers always use Celery; the rest of Airflow follows P360_AIRFLOW_EXECUTOR (default LocalExecutor)
    for worker in ("airflow-worker-1", "airflow-worker-2"):
        assert services[worker]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    executor = services["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"]
    assert executor == "${P360_AIRFLOW_EXECUTOR:-LocalExecutor}"
