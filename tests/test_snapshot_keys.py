"""Segment snapshots follow identity merges: exports land day by day and the segments are
built each day; a CRM contact planted on day 2 merges two persons (as in
test_identity_registry). After day 2, no row of any snapshot, day 1's included, carries the
retired patient_key: the day-1 rows of the merged person are rewritten to the surviving key,
and where both persons had a row in one snapshot the survivor's own row stays (one row per
person and snapshot)."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from patient360.dbt_runner import run_dbt
from patient360.pipeline import stage_land
from scenario import plant_merge as _plant_merge
from scenario import sql as _sql
from test_identity_registry import _key

pytestmark = pytest.mark.slow

SELECT = ["run", "--select", "+path:models/marts/segments", "+patient_key_map"]
# the survivor's day-1 row is removed from this snapshot before day 2 (as if the person had
# not been in it), so the retired person's row must be rewritten, not dropped
REWRITTEN = "seg_points_level"


def _build(warehouse: Path, day: date, target: Path) -> None:
    run_dbt(SELECT, warehouse, as_of=day.isoformat(), target_dir=target)


def _snapshots(warehouse: Path) -> dict[str, list[str]]:
    """Every segment table with its snapshot grain (the columns after patient_key that make a row)."""
    query = """
        select table_name from duckdb_columns()
        where schema_name = 'marts' and table_name like 'seg%' and column_name = 'as_of_date'
    """
    names = sorted(t for (t,) in _sql(warehouse, query))
    return {t: ["as_of_date", "programme"] if t == "seg_disease_programme" else ["as_of_date"] for t in names}


def _rows(warehouse: Path, table: str, key: str, day: date) -> list[tuple]:
    return _sql(warehouse, f"select * from marts.{table} where patient_key = ? and as_of_date = ?", [key, day])


@pytest.fixture(scope="module")
def merged(tmp_path_factory, small_exports) -> dict:
    tmp = tmp_path_factory.mktemp("snapshots")
    exports = tmp / "exports"
    shutil.copytree(small_exports, exports)
    manifest = json.loads((exports / "_truth" / "manifest.json").read_text())
    end = date.fromisoformat(manifest["parameters"]["end_date"])
    day1, day2 = (end - timedelta(days=manifest["parameters"]["days"] - 1 - n) for n in (0, 1))
    warehouse, target = tmp / "patient360.duckdb", tmp / "target"
    stage_land(exports, warehouse, day=day1)
    run_dbt(["seed"], warehouse, target_dir=target)
    _build(warehouse, day1, target)
    a, b, _ = _plant_merge(warehouse, exports, day2)
    survivor, retired = min(a, b), max(a, b)
    keys = {"survivor": _key(warehouse, survivor), "retired": _key(warehouse, retired)}
    con = duckdb.connect(str(warehouse))
    con.execute(f"delete from marts.{REWRITTEN} where patient_key = ? and as_of_date = ?", [keys["survivor"], day1])
    con.close()
    before = tmp / "day1.duckdb"
    shutil.copy(warehouse, before)
    stage_land(exports, warehouse, day=day2)
    _build(warehouse, day2, target)
    return {"day1": day1, "day2": day2, "keys": keys, "before": before, "after": warehouse}


def test_the_scenario_merges_two_persons_who_were_both_in_the_day_1_snapshots(merged):
    keys, before = merged["keys"], merged["before"]
    assert _sql(merged["after"], "select retired_patient_key, surviving_patient_key from marts.patient_key_map") == [
        (keys["retired"], keys["survivor"])
    ]
    assert _rows(before, "seg_lifecycle", keys["retired"], merged["day1"])
    assert _rows(before, "seg_lifecycle", keys["survivor"], merged["day1"])
    assert _rows(before, REWRITTEN, keys["retired"], merged["day1"])


def test_no_snapshot_row_carries_a_retired_key_after_the_merge(merged):
    retired, after = merged["keys"]["retired"], merged["after"]
    tables = _snapshots(after)
    assert len(tables) == 11
    for table in tables:
        assert _sql(after, f"select count(*) from marts.{table} where patient_key = ?", [retired]) == [(0,)], table


def test_earlier_snapshots_keep_one_row_per_person_the_survivors_own_where_it_had_one(merged):
    keys, day1, before, after = merged["keys"], merged["day1"], merged["before"], merged["after"]
    history = {t: g for t, g in _snapshots(after).items() if t != "seg_marketing_activation"}  # current only
    assert len(history) == 10
    for table, grain in history.items():
        cols = ", ".join(["patient_key", *grain])
        dupes = f"select count(*) from (select {cols} from marts.{table} group by all having count(*) > 1)"
        assert _sql(after, dupes) == [(0,)], table
        own = _rows(before, table, keys["survivor"], day1)
        if own:  # the survivor's own day-1 row stays as it was; the retired person's row is gone
            assert _rows(after, table, keys["survivor"], day1) == own, table
    # where the survivor had no day-1 row, the retired person's row now carries the surviving key
    moved = [r[1:] for r in _rows(before, REWRITTEN, keys["retired"], day1)]
    assert [r[1:] for r in _rows(after, REWRITTEN, keys["survivor"], day1)] == moved
