"""Identity resolution rules on hand-built cases (no dbt)."""

import pandas as pd

from patient360.identity import resolve_identities


def _obs(rows):
    return pd.DataFrame(rows, columns=["source", "source_record_id", "identifier_type", "identifier_value"])


def _clusters(result):
    groups = result.groupby("best_identifier")["source_record_id"].apply(frozenset)
    return set(groups)


def test_links_across_sources_by_id_mobile_unionid_and_platform_user():
    obs = _obs(
        [
            ("his", "MRN1", "id_number", "11010519491231002X"),
            ("his", "MRN1", "mobile", "13812345678"),
            ("his", "MRN2", "id_number", "11010519491231002X"),  # re-registered, same ID
            ("crm", "C1", "mobile", "13812345678"),
            ("crm", "C1", "wechat_unionid", "oUNION"),
            ("crm", "C2", "wechat_unionid", "oUNION"),  # second CRM contact, same WeChat
            ("consult", "U1", "platform_user_id", "U1"),
            ("consult", "U1", "mobile", "13812345678"),
            ("wearable", "DEV:20260101", "platform_user_id", "U1"),
            ("crm", "C9", "mobile", "13900000000"),  # a lead who never became a patient
        ]
    )
    result = resolve_identities(obs)
    assert _clusters(result) == {frozenset({"MRN1", "MRN2", "C1", "C2", "U1", "DEV:20260101"}), frozenset({"C9"})}
    keyed = dict(zip(result.source_record_id, result.best_identifier, strict=True))
    assert keyed["C1"] == "id_number:11010519491231002X"
    assert keyed["C9"] == "mobile:13900000000"


def test_shared_guardian_mobile_does_not_merge_two_id_holders():
    obs = _obs(
        [
            ("his", "MRN_PARENT", "id_number", "110105198001010011"),
            ("his", "MRN_PARENT", "mobile", "13812345678"),
            ("his", "MRN_PARENT", "person_name", "王芳"),
            ("his", "MRN_PARENT", "birth_date", "1980-01-01"),
            ("his", "MRN_CHILD", "id_number", "110105201801010022"),
            ("his", "MRN_CHILD", "mobile", "13812345678"),
            ("his", "MRN_CHILD", "person_name", "李小明"),
            ("his", "MRN_CHILD", "birth_date", "2018-01-01"),
            ("consult", "U7", "mobile", "13812345678"),
            ("consult", "U7", "person_name", "王芬"),  # one-character typo of the parent's name
        ]
    )
    result = resolve_identities(obs)
    assert _clusters(result) == {frozenset({"MRN_PARENT", "U7"}), frozenset({"MRN_CHILD"})}


def test_shared_mobile_without_name_goes_to_oldest_holder():
    obs = _obs(
        [
            ("his", "A", "id_number", "110105198001010011"),
            ("his", "A", "mobile", "13812345678"),
            ("his", "A", "birth_date", "1980-01-01"),
            ("his", "B", "id_number", "110105201801010022"),
            ("his", "B", "mobile", "13812345678"),
            ("his", "B", "birth_date", "2018-01-01"),
            ("crm", "C", "mobile", "13812345678"),
        ]
    )
    assert _clusters(resolve_identities(obs)) == {frozenset({"A", "C"}), frozenset({"B"})}


def test_record_without_linking_identifier_keeps_its_own_key():
    result = resolve_identities(_obs([("crm", "C5", "person_name", "张三")]))
    assert result.loc[0, "best_identifier"] == "crm:C5"
    assert result.loc[0, "identifier_basis"] == "source_record"
