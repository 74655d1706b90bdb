"""Shared fixtures. Everything here is real: generated files on disk, a DuckDB
warehouse file, the dbt CLI, Airflow on SQLite metadata.

Fixtures that change the process environment do it through a MonkeyPatch and undo it
at teardown; no test may write into the source tree (checked at the end of the session)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import SMALL, TEST_KEY, TEST_TOMBSTONE_KEY

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def pseudonym_key() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("P360_PSEUDONYM_KEY", TEST_KEY)
        mp.setenv("P360_TOMBSTONE_KEY", TEST_TOMBSTONE_KEY)
        for name in ("AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__COSMOS__ENABLE_TELEMETRY"):
            if name not in os.environ:  # a value set by the caller wins
                mp.setenv(name, "False")
        yield TEST_KEY


@pytest.fixture(scope="session", autouse=True)
def dbt_parse_cache(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Path]:
    """One dbt parse cache for the session, shared by the xdist workers (their temp folders
    have one parent): each test's dbt runs start from the last parse instead of the project's
    source (patient360.dbt_parse_cache), as a warehouse's runs do in production."""
    base = tmp_path_factory.getbasetemp()
    folder = (base if worker_id == "master" else base.parent) / "dbt-parse-cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("P360_DBT_PARSE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """AIRFLOW_HOME in tmp for in-process Airflow (DagBag). Airflow reads it once, on
    first import, so it is session-wide: every in-process use shares the same home."""
    home = tmp_path_factory.mktemp("airflow_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_HOME", str(home))
        yield home


@pytest.fixture(scope="session")
def small_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated export set (with planted dirt) shared by the session."""
    from patient360.generate import generate_exports

    out = tmp_path_factory.mktemp("exports")
    generate_exports(out_dir=out, progress=False, **SMALL)
    return out


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory, small_exports: Path) -> Path:
    """small_exports landed and built with dbt (no gates, no publish): a read-only baseline.
    Tests that modify a warehouse copy it first."""
    from patient360.pipeline import stage_land, stage_transform

    root = tmp_path_factory.mktemp("built")
    warehouse = root / "patient360.duckdb"
    stage_land(small_exports, warehouse)
    # unit_tests=True: CI is where dbt unit tests run (scheduled builds leave them out)
    stage_transform(warehouse, target_dir=root / "target", unit_tests=True)
    return warehouse


# --- the source tree stays clean ---------------------------------------------------
# Caches pytest and Python write by design; everything else a test creates belongs in tmp.
_ALLOWED_WRITES = (".pytest_cache", "__pycache__")
_SNAPSHOT = pytest.StashKey[dict[str, str] | None]()
_WRITES = pytest.StashKey[list[str]]()


def _source_tree_snapshot() -> dict[str, str] | None:
    """Every changed, untracked or ignored file of the checkout (git status, each file
    listed) with its mtime, so a file a test overwrote counts too. None outside git."""
    cmd = ["git", "status", "--porcelain", "--ignored", "--untracked-files=all", "--", ".", ":!.venv"]
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    snapshot = {}
    for line in out.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if any(part in path for part in _ALLOWED_WRITES):
            continue
        full = ROOT / path
        snapshot[path] = f"{line[:2]} {full.stat().st_mtime_ns if full.exists() else 'gone'}"
    return snapshot


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_SNAPSHOT] = _source_tree_snapshot()


def _stop_spark() -> None:
    """Stop a Spark session the tests started, and its JVM gateway, while logging still works:
    left to interpreter exit, py4j's finalisers log into closed streams ("Logging error")."""
    import sys

    if "pyspark" not in sys.modules:
        return
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()
    if SparkContext._gateway is not None:
        SparkContext._gateway.shutdown()
        SparkContext._gateway = SparkContext._jvm = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _stop_spark()
    before, after = session.config.stash.get(_SNAPSHOT, None), _source_tree_snapshot()
    if before is None or after is None:
        return
    written = sorted(path for path, state in after.items() if before.get(path) != state)
    written += sorted(f"{path} (removed)" for path in before.keys() - after.keys())
    session.config.stash[_WRITES] = written
    if written:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    written = config.stash.get(_WRITES, [])
    if written:
        terminalreporter.section("tests wrote into the source tree", sep="=", red=True, bold=True)
        terminalreporter.line("write into tmp_path instead; changed since the session started:")
        for path in written:
            terminalreporter.line(f"  {path}")
