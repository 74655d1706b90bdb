"""`make airflow` / `patient360 airflow`: a complete local Airflow 3 on this project.

Starts the api-server (UI, REST API and the execution API that task processes report to),
the scheduler, the dag-processor and the triggerer, each its own process, on SQLite metadata
under the project (LocalExecutor), with:

- the project's `dags/`, examples off, Cosmos telemetry off;
- parallelism sized to the machine (one worker per core; DuckDB admits one writer anyway);
- one JWT secret for every component (generated once into `<home>/jwt_secret`, mode 600):
  the api-server signs task tokens that the scheduler's workers present back;
- the simple auth manager with one admin user; Airflow writes its password to
  `<home>/simple_auth_manager_passwords.json.generated` and we print it;
- the demo's exports folder, warehouse and pseudonym key file (P360_* variables).

Ctrl-C (or SIGTERM) stops every component and every process they started: task processes
start their own sessions, so stopping a process group would miss them; we track the whole
process tree instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from patient360 import paths
from patient360.airflow_env import _airflow, airflow_env, prepare_airflow
from patient360.pseudonym import KEY_FILE_ENV
from patient360.tombstone_key import TOMBSTONE_KEY_FILE_ENV, project_tombstone_key_file

# (name, airflow sub-command): --skip-serve-logs keeps the log servers from listening on every
# interface; logs are read from the shared local folder.
COMPONENTS = (
    ("api-server", ["api-server"]),
    ("scheduler", ["scheduler", "--skip-serve-logs"]),
    ("dag-processor", ["dag-processor"]),
    ("triggerer", ["triggerer", "--skip-serve-logs"]),
)
ADMIN_USER = "admin"
DEFAULT_PORT = 8080


def _jwt_secret(home: Path) -> str:
    path = home / "jwt_secret"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def local_env(
    home: Path,
    exports: Path,
    warehouse: Path,
    *,
    port: int = DEFAULT_PORT,
    key_file: Path | None = None,
    tombstone_key_file: Path | None = None,
) -> dict[str, str]:
    """The environment every component (and so every task) runs with."""
    env = airflow_env(home, exports, warehouse)
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(os.cpu_count() or 2),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": _jwt_secret(home),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        }
    )
    if key_file is not None:
        env[KEY_FILE_ENV] = str(key_file)
    if tombstone_key_file is not None:  # landing checks re-delivered rows against erasure tombstones
        env[TOMBSTONE_KEY_FILE_ENV] = str(tombstone_key_file)
    return env


@dataclass
class LocalAirflow:
    env: dict[str, str]
    log_dir: Path
    port: int = DEFAULT_PORT
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _token: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 180.0) -> None:
        """Migrate the metadata, create the pool, start every component, wait for the API."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        prepare_airflow(self.env, log_file=self.log_dir / "prepare.log")
        for name, args in COMPONENTS:
            out = (self.log_dir / f"{name}.log").open("ab")
            self.processes[name] = subprocess.Popen(
                [_airflow(), *args], env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited with {proc.returncode}: see {self.log_dir}/{name}.log")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise TimeoutError(f"the Airflow api-server did not answer on {self.url} within {timeout:.0f} s")

    def api(self, path: str, *, method: str = "GET", body: dict | None = None) -> Any:
        """Call Airflow's REST API v2 as the admin user (a token from /auth/token)."""
        if self._token is None:
            token = _json_request(
                f"{self.url}/auth/token", "POST", {"username": ADMIN_USER, "password": self.password()}
            )
            self._token = token["access_token"]
        return _json_request(f"{self.url}/api/v2/{path}", method, body, token=self._token)

    def password(self) -> str | None:
        path = Path(self.env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        try:
            return json.loads(path.read_text(encoding="utf-8")).get(ADMIN_USER)
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every component and all its descendants, SIGKILL what is left after `timeout`."""
        tree: list[psutil.Process] = []
        for proc in self.processes.values():
            try:
                parent = psutil.Process(proc.pid)
                tree += [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
        for p in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs(tree, timeout=timeout)
        for p in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        psutil.wait_procs(alive, timeout=10)
        for proc in self.processes.values():
            proc.wait(timeout=10)
        self.processes.clear()


def _json_request(url: str, method: str, body: dict | None = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def demo_airflow(port: int = DEFAULT_PORT) -> LocalAirflow:
    """The local Airflow on the demo's folders: `.airflow/`, `exports/`, the warehouse, the key."""
    home = paths.PROJECT_ROOT / ".airflow"
    key_file = paths.PROJECT_ROOT / ".secrets" / "pseudonym.key"
    tombstone_key_file = project_tombstone_key_file() if project_tombstone_key_file().is_file() else None
    env = local_env(home, paths.exports_dir(), paths.warehouse_path(), port=port, key_file=key_file,
                    tombstone_key_file=tombstone_key_file)  # fmt: skip
    return LocalAirflow(env=env, log_dir=home / "components", port=port)
