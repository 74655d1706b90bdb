"""Identity resolution rules (docs/identity.md) on hand-built cases, resolved by the real
dbt models in DuckDB: each case uses its own identifier values, so one build serves all."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from patient360.dbt_runner import run_dbt

pytestmark = pytest.mark.slow

MODELS = "identity_resolution identity_assignment person_registry identity_merge_log identity_split_log " \
    "person_survivors person_keys identity_links"  # fmt: skip

CASES = {
    "across_sources": [
        ("his", "MRN1", "id_number", "11010519491231002X"),
        ("his", "MRN1", "mobile", "13812345671"),
        ("his", "MRN2", "id_number", "11010519491231002X"),  # re-registered, same ID
        ("crm", "C1", "mobile", "13812345671"),
        ("crm", "C1", "wechat_unionid", "oUNION"),
        ("crm", "C2", "wechat_unionid", "oUNION"),  # second CRM contact, same WeChat
        ("consult", "U1", "platform_user_id", "U1"),
        ("consult", "U1", "mobile", "13812345671"),
        ("wearable", "DEV:20260101", "platform_user_id", "U1"),
        ("crm", "C9", "mobile", "13900000000"),  # a lead who never became a patient
    ],
    "guardian_name": [
        ("his", "MRN_PARENT", "id_number", "110105198001010011"),
        ("his", "MRN_PARENT", "mobile", "13812345672"),
        ("his", "MRN_PARENT", "person_name", "王芳"),
        ("his", "MRN_CHILD", "id_number", "110105201801010022"),
        ("his", "MRN_CHILD", "mobile", "13812345672"),
        ("his", "MRN_CHILD", "person_name", "李小明"),
        ("his", "MRN_CHILD", "birth_date", "2018-01-01"),
        ("consult", "U7", "mobile", "13812345672"),
        # one-character typo of the parent's name; the parent's birth date is unknown, so
        # only the name rule (not the oldest-holder fallback) can take U7 to the parent
        ("consult", "U7", "person_name", "王芬"),
    ],
    "guardian_oldest": [
        ("his", "A", "id_number", "110105198001010033"),
        ("his", "A", "mobile", "13812345673"),
        ("his", "A", "birth_date", "1980-01-01"),
        ("his", "B", "id_number", "110105201801010044"),
        ("his", "B", "mobile", "13812345673"),
        ("his", "B", "birth_date", "2018-01-01"),
        ("crm", "C", "mobile", "13812345673"),
    ],
    "no_bridge": [  # an ID-less contact reaching two ID holders through two different mobiles
        ("his", "P", "id_number", "110105198001010055"),
        ("his", "P", "mobile", "13700000001"),
        ("his", "Q", "id_number", "110105198001010066"),
        ("his", "Q", "mobile", "13700000002"),
        ("crm", "X", "mobile", "13700000001"),
        ("crm", "X", "mobile", "13700000002"),
    ],
    "unlinked": [("crm", "C5", "person_name", "张三")],
}


@pytest.fixture(scope="module")
def resolved(tmp_path_factory) -> dict[str, tuple[int, str]]:
    """(source|record id) -> (person_id, identifier_basis), every case resolved in one build."""
    root = tmp_path_factory.mktemp("identity_rules")
    warehouse = root / "patient360.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema restricted")
    con.execute("create table restricted.identity_observations (source varchar, source_record_id varchar, "
                "identifier_type varchar, identifier_value varchar)")  # fmt: skip
    rows = [(s, f"{case}.{rid}", t, v) for case, obs in CASES.items() for s, rid, t, v in obs]
    con.executemany("insert into restricted.identity_observations values (?, ?, ?, ?)", rows)
    con.close()
    run_dbt(["run", "--select", *MODELS.split()], warehouse, target_dir=root / "target")
    return _links(warehouse)


def _links(warehouse: Path) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("select source_record_id, person_id, identifier_basis from restricted.identity_links")
        return {rid: (person, basis) for rid, person, basis in rows.fetchall()}
    finally:
        con.close()


def _clusters(resolved: dict[str, tuple[int, str]], case: str) -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for rid, (person, _) in resolved.items():
        if rid.startswith(case + "."):
            groups.setdefault(person, set()).add(rid.split(".", 1)[1])
    return {frozenset(g) for g in groups.values()}


def test_links_across_sources_by_id_mobile_unionid_and_platform_user(resolved):
    assert _clusters(resolved, "across_sources") == {
        frozenset({"MRN1", "MRN2", "C1", "C2", "U1", "DEV:20260101"}),
        frozenset({"C9"}),
    }
    assert resolved["across_sources.C1"][1] == "id_number"
    assert resolved["across_sources.C9"][1] == "mobile"


def test_shared_guardian_mobile_does_not_merge_two_id_holders(resolved):
    assert _clusters(resolved, "guardian_name") == {frozenset({"MRN_PARENT", "U7"}), frozenset({"MRN_CHILD"})}


def test_shared_mobile_without_name_goes_to_oldest_holder(resolved):
    assert _clusters(resolved, "guardian_oldest") == {frozenset({"A", "C"}), frozenset({"B"})}


def test_id_less_record_never_bridges_two_id_holders(resolved):
    assert _clusters(resolved, "no_bridge") == {frozenset({"P", "X"}), frozenset({"Q"})}


def test_record_without_linking_identifier_is_its_own_person(resolved):
    assert _clusters(resolved, "unlinked") == {frozenset({"C5"})}
    assert resolved["unlinked.C5"][1] == "source_record"
