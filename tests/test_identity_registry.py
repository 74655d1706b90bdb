"""The persistent person registry over a multi-day generated scenario: exports land day by
day and identity is resolved incrementally; a CRM contact planted on day 2 merges two
persons, and on day 3 the source re-delivers that contact with the linking identifier
corrected (a split). Every day the incremental registry must hold the same clusters as a
resolution from scratch over the same landed data (up to the naming of person_ids), the
surviving person of a merge keeps its patient_key, and the key map leads BI from the
retired key to it."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from patient360.dbt_runner import run_dbt
from patient360.pipeline import stage_land

pytestmark = pytest.mark.slow

# the restricted zone (with the staging views it reads) and the key map built from it
SELECT = ["run", "--select", "+path:models/restricted", "patient_key_map"]
MERGE_CONTACT = "C990000001"


def _resolve(warehouse: Path, day: date, target: Path) -> None:
    run_dbt(SELECT, warehouse, dbt_vars={"as_of_date": day.isoformat()}, target_dir=target)


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


def _sql(warehouse: Path, query: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


PERSON_IDS = """
    with po as (
        select r.person_id, o.identifier_type as t, o.identifier_value as v
        from restricted.person_registry as r
        inner join restricted.identity_observations as o
            on o.source = r.source and o.source_record_id = r.source_record_id
    ),
    holders as (select distinct person_id from po where t = 'id_number'),
    lone_mobiles as (select v from po where t = 'mobile' group by v having count(distinct person_id) = 1)
    select
        (select min(person_id || '|' || v) from po where t = 'mobile' and v in (select v from lone_mobiles)
            and person_id in (select person_id from holders)),
        (select min(person_id || '|' || v) from po where t = 'wechat_unionid'
            and person_id not in (select person_id from holders))
"""


def _plant_merge(warehouse: Path, exports: Path, day: date) -> tuple[int, int, Path]:
    """A new CRM contact carrying the mobile of an ID holder (person a) and the WeChat unionid
    of a CRM-only person (person b): rule 2 then puts a and b together."""
    holder, lead = _sql(warehouse, PERSON_IDS)[0]
    a, mobile = holder.split("|")
    b, unionid = lead.split("|")
    template = next((exports / "crm").glob("*/contacts.csv"))
    with template.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header, row = reader.fieldnames, next(reader)
    at = f"{day} 10:00:00"
    row |= {"contact_id": MERGE_CONTACT, "mobile": mobile, "wechat_unionid": unionid, "wechat_openid": ""}
    row |= {"created_at": at, "updated_at": at, "consent_at": "", "marketing_consent": "false"}
    path = exports / "crm" / str(day) / "contacts_planted.csv"
    _write_csv(path, header, row)
    return int(a), int(b), path


def _plant_correction(planted: Path, day: date) -> None:
    """The source re-delivers the same contact version with the unionid corrected away."""
    with planted.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header, row = reader.fieldnames, next(reader)
    _write_csv(planted.parent.parent / str(day) / "contacts_corrected.csv", header, row | {"wechat_unionid": ""})


def _write_csv(path: Path, header: list[str], row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerow(row)


def _records(warehouse: Path, person_id: int) -> set[str]:
    query = "select source || '|' || source_record_id from restricted.person_registry where person_id = ?"
    rows = _sql(warehouse, query, [person_id])
    return {r for (r,) in rows}


def _together(clusters: set[frozenset[str]], one: set[str], other: set[str]) -> bool:
    return any(c & one and c & other for c in clusters)


def _key(warehouse: Path, person_id: int) -> str:
    return _sql(warehouse, "select patient_key from restricted.person_keys where person_id = ?", [person_id])[0][0]


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
            out["a"], out["b"], planted = _plant_merge(warehouse, exports, day)
            out["keys_before"] = {p: _key(warehouse, p) for p in (out["a"], out["b"])}
            out["records"] = {p: _records(warehouse, p) for p in (out["a"], out["b"])}
        if i == 2:
            _plant_correction(planted, day)
        stage_land(exports, warehouse, day=day)
        _resolve(warehouse, day, target)
        out["incremental"][day] = _clusters(warehouse)
        out["scope"][day] = _sql(warehouse, "select count(*) from restricted.identity_resolution")[0][0]
        out["scratch"][day] = _from_scratch(warehouse, tmp, day)
        if i == 1:
            out["after_merge"] = warehouse.parent / "after-merge.duckdb"
            shutil.copy(warehouse, out["after_merge"])
    out["warehouse"] = warehouse
    _resolve(warehouse, days[-1], target)  # nothing new: nothing to resolve
    out["scope_rerun"] = _sql(warehouse, "select count(*) from restricted.identity_resolution")[0][0]
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
    assert _sql(wh, "select retired_person_id, surviving_person_id, merged_on from restricted.identity_merge_log") == [
        (retired, survivor, day2)
    ]
    persons = _sql(
        wh, "select distinct person_id from restricted.person_registry where source_record_id = ?", [MERGE_CONTACT]
    )
    assert persons == [(survivor,)]


def test_surviving_person_keeps_its_patient_key_and_the_map_leads_to_it(scenario):
    a, b, wh = scenario["a"], scenario["b"], scenario["after_merge"]
    survivor, retired = min(a, b), max(a, b)
    before = scenario["keys_before"]
    links = _sql(wh, "select distinct patient_key from restricted.identity_links where person_id = ?", [survivor])
    assert links == [(before[survivor],)]
    key_map = _sql(wh, "select retired_patient_key, surviving_patient_key from marts.patient_key_map")
    assert key_map == [(before[retired], before[survivor])]


def test_corrected_identifier_splits_the_person_again(scenario):
    a, b, wh = scenario["a"], scenario["b"], scenario["warehouse"]
    survivor = min(a, b)
    split = _sql(wh, "select person_id, split_on from restricted.identity_split_log")
    assert split == [(survivor, scenario["days"][2])]
    day2, day3 = scenario["days"][1:3]
    one, other = scenario["records"][a], scenario["records"][b]
    assert _together(scenario["incremental"][day2], one, other)
    assert not _together(scenario["incremental"][day3], one, other)
    # the contact stays with the ID holder through its mobile
    assert _together(scenario["incremental"][day3], {f"crm|{MERGE_CONTACT}"}, scenario["records"][a])
