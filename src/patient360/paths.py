"""Where things live. One place, so the CLI, DAGs and tests agree."""

from __future__ import annotations

import os
from pathlib import Path

# Repository root when running from a checkout (editable install, the supported mode).
PROJECT_ROOT = Path(os.environ.get("P360_PROJECT_ROOT", Path(__file__).resolve().parents[2]))
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DAGS_DIR = PROJECT_ROOT / "dags"


def warehouse_path() -> Path:
    """The DuckDB warehouse file (pipeline's single writer)."""
    return Path(os.environ.get("P360_WAREHOUSE", PROJECT_ROOT / "warehouse" / "patient360.duckdb"))


def spark_warehouse_dir() -> Path:
    """The Spark target's warehouse folder (raw Parquet zone under raw/, audit/, restricted/)."""
    return Path(os.environ.get("P360_SPARK_WAREHOUSE", PROJECT_ROOT / "warehouse" / "spark"))


def exports_dir() -> Path:
    return Path(os.environ.get("P360_EXPORTS", PROJECT_ROOT / "exports"))


def published_dir() -> Path:
    return Path(os.environ.get("P360_PUBLISHED_DIR", warehouse_path().parent / "published"))
