"""The persistent person registry over a multi-day generated scenario: exports land day by
day and identity is resolved incrementally; a CRM contact planted on day 2 merges two
persons, and on day 3 the source re-delivers that contact with the linking identifier
corrected (a split). Every day the incremental registry must hold the same clusters as a
resolution from scratch over the same landed data (up to the naming of person_ids), the
surviving person of a merge keeps its patient_key, and the key map leads BI from the
retired key to it."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from patient360.dbt_runner import run_dbt
from patient360.pipeline import stage_land
from scenario import MERGE_CONTACT, plant_correction, plant_merge, sql

pytestmark = pytest.mark.slow

# the restricted zone (with the staging views it reads) and the key map built from it
SELECT = ["run", "--select", "+path:models/restricted", "patient_key_map"]


def _resolve(warehouse: Path, day: date, target: Path) -> None:
    run_dbt(SELECT, warehouse, as_of=day.isoformat(), target_dir=target)


def _clusters(warehouse: Path) -> set[frozenset[str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("select person_id, source || '|' || source_record_id from restricted.person_registry")
        groups: dict[int, set[str]] = {}
        for person, record in rows.fetchall():
            groups.setdefault(person, set()).add(record)
    finally:
        con.close()
    return {frozenset(g) for g in groups.values()}


def _from_scratch(warehouse: Path, tmp: Path, day: date) -> set[frozenset[str]]:
    """The same landed data, resolved with no registry at all."""
    scratch = tmp / f"scratch-{day}.duckdb"
    shutil.copy(warehouse, scratch)
    con = duckdb.connect(str(scratch))
    con.execute("drop schema restricted cascade")
    con.close()
    _resolve(scratch, day, tmp / "target-scratch")
    return _clusters(scratch)


def _records(warehouse: Path, person_id: int) -> set[str]:
    query = "select source || '|' || source_record_id from restricted.person_registry where person_id = ?"
    rows = sql(warehouse, query, [person_id])
    return {r for (r,) in rows}


def _together(clusters: set[frozenset[str]], one: set[str], other: set[str]) -> bool:
    return any(c & one and c & other for c in clusters)


def _key(warehouse: Path, person_id: int) -> str:
    return sql(warehouse, "select patient_key from restricted.person_keys where person_id = ?", [person_id])[0][0]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, small_exports) -> dict:
    tmp = tmp_path_factory.mktemp("registry")
    exports = tmp / "exports"
    shutil.copytree(small_exports, exports)
    manifest = json.loads((exports / "_truth" / "manifest.json").read_text())
    end = date.fromisoformat(manifest["parameters"]["end_date"])
    days = [end - timedelta(days=n) for n in range(manifest["parameters"]["days"] - 1, -1, -1)]
    warehouse, target = tmp / "patient360.duckdb", tmp / "target"
    out: dict = {"days": days, "incremental": {}, "scratch": {}, "scope": {}}
    for i, day in enumerate(days):
        if i == 1:
            out["a"], out["b"], planted = plant_merge(warehouse, exports, day)
            out["keys_before"] = {p: _key(warehouse, p) for p in (out["a"], out["b"])}
            out["records"] = {p: _records(warehouse, p) for p in (out["a"], out["b"])}
        if i == 2:
            plant_correction(planted, day)
        stage_land(exports, warehouse, day=day)
        _resolve(warehouse, day, target)
        out["incremental"][day] = _clusters(warehouse)
        out["scope"][day] = sql(warehouse, "select count(*) from restricted.identity_resolution")[0][0]
        out["scratch"][day] = _from_scratch(warehouse, tmp, day)
        if i == 1:
            out["after_merge"] = warehouse.parent / "after-merge.duckdb"
            shutil.copy(warehouse, out["after_merge"])
    out["warehouse"] = warehouse
    _resolve(warehouse, days[-1], target)  # nothing new: nothing to resolve
    out["scope_rerun"] = sql(warehouse, "select count(*) from restricted.identity_resolution")[0][0]
    out["rerun"] = _clusters(warehouse)
    return out


def test_incremental_registry_equals_resolution_from_scratch_every_day(scenario):
    for day in scenario["days"]:
        assert scenario["incremental"][day] == scenario["scratch"][day], f"clusters differ on {day}"


def test_each_run_resolves_only_new_or_changed_records_and_their_blocks(scenario):
    first, *later = scenario["days"]
    records = sum(len(c) for c in scenario["incremental"][first])
    assert scenario["scope"][first] == records  # no registry yet: everything
    assert all(0 < scenario["scope"][day] < records / 2 for day in later)
    assert scenario["scope_rerun"] == 0
    assert scenario["rerun"] == scenario["incremental"][scenario["days"][-1]]


def test_planted_contact_merges_two_persons_and_the_older_id_survives(scenario):
    a, b, wh = scenario["a"], scenario["b"], scenario["after_merge"]
    survivor, retired = min(a, b), max(a, b)
    day2 = scenario["days"][1]
    assert sql(wh, "select retired_person_id, surviving_person_id, merged_on from restricted.identity_merge_log") == [
        (retired, survivor, day2)
    ]
    persons = sql(
        wh, "select distinct person_id from restricted.person_registry where source_record_id = ?", [MERGE_CONTACT]
    )
    assert persons == [(survivor,)]


def test_surviving_person_keeps_its_patient_key_and_the_map_leads_to_it(scenario):
    a, b, wh = scenario["a"], scenario["b"], scenario["after_merge"]
    survivor, retired = min(a, b), max(a, b)
    before = scenario["keys_before"]
    links = sql(wh, "select distinct patient_key from restricted.identity_links where person_id = ?", [survivor])
    assert links == [(before[survivor],)]
    key_map = sql(wh, "select retired_patient_key, surviving_patient_key from marts.patient_key_map")
    assert key_map == [(before[retired], before[survivor])]


def test_corrected_identifier_splits_the_person_again(scenario):
    a, b, wh = scenario["a"], scenario["b"], scenario["warehouse"]
    survivor = min(a, b)
    split = sql(wh, "select person_id, split_on from restricted.identity_split_log")
    assert split == [(survivor, scenario["days"][2])]
    day2, day3 = scenario["days"][1:3]
    one, other = scenario["records"][a], scenario["records"][b]
    assert _together(scenario["incremental"][day2], one, other)
    assert not _together(scenario["incremental"][day3], one, other)
    # the contact stays with the ID holder through its mobile
    assert _together(scenario["incremental"][day3], {f"crm|{MERGE_CONTACT}"}, scenario["records"][a])
