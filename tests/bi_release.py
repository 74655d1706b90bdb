"""A real published release for the BI tests, and where its files are in either layout.

The release layout is `<out>/marts.duckdb` + `<out>/parquet/` (one tier), or one folder per
tier (`<out>/aggregate/marts.duckdb`, `<out>/aggregate/parquet/`, ...), where dashboards may
read only the aggregate tier. The helpers find the files by pattern, so the tests hold for both.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def aggregate_duckdb(out: Path) -> Path:
    """The file dashboards read: the aggregate tier's, or the single release file."""
    tiered = out / "aggregate" / "marts.duckdb"
    return tiered if tiered.exists() else out / "marts.duckdb"


def published_duckdb_files(out: Path) -> list[Path]:
    files = sorted(out.glob("**/marts.duckdb"))
    assert files, f"no marts.duckdb under {out}"
    return files


def published_parquet_files(out: Path) -> list[Path]:
    files = sorted(p for d in out.glob("**/parquet") for p in d.glob("*.parquet"))
    assert files, f"no Parquet files under {out}"
    return files


@pytest.fixture(scope="module", name="release")
def published_release(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's dbt build, published (gated) to its own folder; returns that folder."""
    from patient360.publish import publish_marts

    root = tmp_path_factory.mktemp("release")
    warehouse = root / "patient360.duckdb"
    shutil.copy(built_warehouse, warehouse)
    out = root / "published"
    publish_marts(warehouse, out, data_docs_dir=root / "gx")
    return out
