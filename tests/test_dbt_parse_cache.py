"""dbt's parse state carries over between runs (patient360.dbt_parse_cache): a run in a new
target folder, on another warehouse folder, for another as-of date, re-parses only the files
that read the date, not the project; the date still reaches the models; a stale or broken
cache costs a full parse, never a failed run. Real dbt runs on real (empty) DuckDB files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from patient360.dbt_runner import run_dbt

pytestmark = pytest.mark.slow

SELECT = ["run", "--select", "int_run__as_of"]


def _run(warehouse: Path, target: Path, as_of: str, **kwargs) -> tuple[str, object]:
    run_dbt(SELECT, warehouse, as_of=as_of, target_dir=target, **kwargs)
    log = (target / "logs" / "dbt.log").read_text(encoding="utf-8")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = con.execute("SELECT as_of_date FROM intermediate.int_run__as_of").fetchone()
    return log, str(stored[0]) if stored else None


def test_a_new_folder_and_date_reuse_the_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P360_DBT_PARSE_CACHE", str(tmp_path / "cache"))
    first, day1 = _run(tmp_path / "a" / "patient360.duckdb", tmp_path / "a" / "dbt", "2026-10-01")
    assert "Unable to do partial parsing" in first and day1 == "2026-10-01"

    second, day2 = _run(tmp_path / "b" / "patient360.duckdb", tmp_path / "b" / "dbt", "2026-10-02")
    assert "Unable to do partial parsing" not in second, "a new warehouse folder or date parsed the project again"
    assert "Partial parsing enabled" in second
    assert day2 == "2026-10-02", "the as-of date did not reach the model through the cached parse"

    # a hand-given var wins over the pipeline's date (and, being a var, re-parses in full)
    _, by_hand = _run(tmp_path / "b" / "patient360.duckdb", tmp_path / "c", "2026-10-02",
                      dbt_vars={"as_of_date": "2026-09-30"})  # fmt: skip
    assert by_hand == "2026-09-30"


def test_a_broken_cache_costs_a_full_parse_not_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("P360_DBT_PARSE_CACHE", str(cache))
    cache.mkdir()
    warehouse = tmp_path / "w" / "patient360.duckdb"
    from patient360.dbt_parse_cache import cache_file

    cache_file(warehouse).write_bytes(b"not a parse state")
    log, day = _run(warehouse, tmp_path / "dbt", "2026-10-03")
    assert day == "2026-10-03" and "Partial parsing enabled" not in log
    assert cache_file(warehouse).read_bytes() != b"not a parse state", "the cache was not refreshed"
