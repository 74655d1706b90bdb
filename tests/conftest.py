"""Shared fixtures. Everything here is real: generated files on disk, a DuckDB
warehouse file, the dbt CLI, Airflow on SQLite metadata."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TEST_KEY = "test-only-pseudonym-key-0123456789abcdef"

# Small enough for CI, big enough that every table and segment has rows.
SMALL = {"patients": 300, "days": 3, "seed": 7}


@pytest.fixture(scope="session", autouse=True)
def pseudonym_key() -> str:
    os.environ["P360_PSEUDONYM_KEY"] = TEST_KEY
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
    return TEST_KEY


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
