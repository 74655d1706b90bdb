"""Incremental equals full refresh, over every mart.

A multi-day scenario lands and builds day by day with incremental dbt builds, as the daily
schedule does: on day 2 a CRM contact merges two persons and real vendor files arrive for
devices nobody has bound yet; on day 3 the contact is corrected (a split), the bindings of
those devices arrive late, a reading arrives for a day three weeks back, and a file of day 2 is
delivered again under a new name. Then a `--full-refresh` build of the same state must give
every mart identically: the latest snapshot of each segment mart (a full refresh keeps only
the snapshot it builds), every row of every other mart.

Floats are compared to 12 significant digits: a sum over the same rows in another order may
differ in its last bits (IEEE addition is not associative); nothing else may differ.
"""

from __future__ import annotations

import math
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from patient360.pipeline import stage_land, stage_transform
from scenario import VENDORS, export_days, plant_correction, plant_merge, sql, write_bindings, write_late_reading

pytestmark = pytest.mark.slow

SNAPSHOT = "as_of_date"


def _rounded(value: object) -> object:
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return float(f"{value:.12g}")
    return value


def _marts(warehouse: Path) -> dict[str, list[tuple]]:
    """Every mart's rows, sorted; a segment mart (snapshots by as_of_date) at its latest snapshot."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_name, list(column_name order by ordinal_position) from information_schema.columns "
            "where table_schema = 'marts' group by 1 order by 1"
        ).fetchall()
        out = {}
        for table, cols in tables:
            where = ""
            if table.startswith("seg_") and SNAPSHOT in cols:
                where = f' where {SNAPSHOT} = (select max({SNAPSHOT}) from marts."{table}")'
            rows = con.execute(f'select * from marts."{table}"{where}').fetchall()
            out[table] = sorted((tuple(_rounded(v) for v in r) for r in rows), key=repr)
        return out
    finally:
        con.close()


def _redeliver(exports: Path, day: date, again_on: date) -> Path:
    """The HIS export of one day delivered again, under a new name, in a later partition."""
    original = next(p for p in sorted((exports / "his" / str(day)).glob("visits*")) if p.is_file())
    copy = exports / "his" / str(again_on) / f"resent_{original.name}"
    shutil.copy(original, copy)
    return copy


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, small_exports: Path) -> dict:
    tmp = tmp_path_factory.mktemp("inc_vs_full")
    exports = tmp / "exports"
    shutil.copytree(small_exports, exports)
    days = export_days(exports)
    assert len(days) >= 3
    warehouse, target = tmp / "patient360.duckdb", tmp / "target"
    state: dict = {}
    for i, day in enumerate(days):
        if i == 1:
            state["a"], state["b"], planted = plant_merge(warehouse, exports, day)
            vendor_dir = exports / "wearable" / str(day)
            for f in VENDORS.iterdir():
                shutil.copy(f, vendor_dir / f.name)
        if i == 2:
            plant_correction(planted, day)
            write_bindings(warehouse, exports / "wearable" / str(day) / "device_bindings_late.csv")
            write_late_reading(warehouse, exports / "wearable" / str(day) / "readings_late.csv", 21)
            _redeliver(exports, days[1], day)
        stage_land(exports, warehouse, day=day)
        stage_transform(warehouse, as_of=day, target_dir=target)
        if i == 1:
            state["merged_keys"] = sql(warehouse, "select count(*) from marts.patient_key_map")[0][0]
    state["unbound_before_bindings"] = sql(
        warehouse, "select count(*) from raw_wearable.device_bindings where device_serial like 'DX7A%'"
    )[0][0]
    state["incremental"] = _marts(warehouse)
    full = tmp / "full" / "patient360.duckdb"
    full.parent.mkdir()
    shutil.copy(warehouse, full)
    stage_transform(full, as_of=days[-1], target_dir=tmp / "target_full", full_refresh=True)
    state["full"] = _marts(full)
    state["warehouse"] = warehouse
    return state


def test_the_scenario_exercised_what_it_plants(runs: dict) -> None:
    """The merge happened (a retired key is mapped), the late bindings landed, and the
    vendor readings are attributed after them: the equality below is not of empty marts."""
    assert runs["merged_keys"] >= 1
    assert runs["unbound_before_bindings"] >= 1
    attributed = sql(
        runs["warehouse"],
        "select coalesce(sum(attributed_records), 0) from marts.kpi_data_coverage where source = 'wearable_readings'"
        " and vendor in ('dexcom', 'fitbit')",
    )[0][0]
    assert attributed > 0


def test_every_mart_equals_a_full_refresh(runs: dict) -> None:
    inc, full = runs["incremental"], runs["full"]
    assert set(inc) == set(full)
    assert len(inc) >= 35 and sum(map(len, inc.values())) > 0
    differ = {t: (len(inc[t]), len(full[t])) for t in inc if inc[t] != full[t]}
    assert not differ, f"marts that differ (incremental rows, full-refresh rows): {differ}"


def test_a_release_after_the_merge_publishes_the_retired_keys_in_the_key_map(runs: dict, tmp_path: Path) -> None:
    """The daily release after a merge: the person tier passes the gate with the key map
    leading from the retired key to the survivor (retired keys are issued keys)."""
    from patient360.pipeline import stage_publish

    warehouse = tmp_path / "patient360.duckdb"
    shutil.copy(runs["warehouse"], warehouse)
    release = stage_publish(warehouse, out_dir=tmp_path / "published", tiers=["person"])
    assert release.tiers["person"].tables["patient_key_map"] >= 1
