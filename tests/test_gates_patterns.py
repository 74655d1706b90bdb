"""The PII detectors as plain Python (`scan_text`) and their SQL twins agree."""

from __future__ import annotations

import duckdb
import pytest
from stdnum.cn import ric
from tests.test_identifiers import CASES

from patient360.gates import pii_patterns as P
from patient360.gates.pii_patterns import scan_text
from patient360.identifiers import install_macros, ric15_valid, ric18_valid

POSITIVE = [
    ("13812345678", "mobile"),
    ("138-1234-5678", "mobile"),
    ("+86 138 1234 5678", "mobile"),
    ("0086 138 1234 5678", "mobile"),
    ("008613812345678", "mobile"),
    ("86-13812345678", "mobile"),
    ("请致电13812345678联系", "mobile"),
    ("11010519491231002X", "resident_id"),
    ("身份证11010519491231002x。", "resident_id"),
    ("110105491231002", "resident_id_15"),
    ("zhang.wei@example.com", "email"),
    ("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "wechat_id"),
    ("bound SN0A1B2C3D4E today", "device_serial"),
    ("北京市朝阳区建国路88号3栋2单元1203室", "address"),
    ("住阳光花园小区", "address"),
    ("生日1980-05-01", "birth_date"),
    ("19800501", "birth_date"),
]
NEGATIVE = [
    "d9a9513165d49f55e22271d7e0e1cde3ca5b4dc301b1c8cab244ee3e6a5044fb",  # keyed pseudonym
    "11010519491231002",  # 17 digits
    "110105194912310021",  # wrong check digit
    "outpatient", "内分泌科", "25-29", "90+", "2026-10", "V000123", "oncology_diabetes_programme1",
    "1380013800", "138123456789", "120.5", "RX2988653526", "CMP0003", "S0016342316", "AMX250",
]  # fmt: skip


@pytest.mark.parametrize(("text", "pii"), POSITIVE)
def test_scan_text_finds(text: str, pii: str) -> None:
    assert pii in scan_text(text)


@pytest.mark.parametrize("text", NEGATIVE)
def test_scan_text_ignores(text: str) -> None:
    assert scan_text(text) == []


@pytest.mark.parametrize("value", ["11010519491231002X", "11010519491231002x", "440524188001010014",
                                   "110105194912310021", "99010519491231002X", "11010519491331002X"])  # fmt: skip
def test_ric18_matches_python_stdnum_and_sql(value: str) -> None:
    expected = ric.is_valid(value.upper())
    assert ric18_valid(value) is expected
    con = duckdb.connect()
    install_macros(con, temp=True)
    assert con.execute("SELECT p360_ric_valid(?)", [value]).fetchone()[0] is expected


def test_ric15() -> None:
    assert ric15_valid("110105491231002")
    assert not ric15_valid("990105491231002")  # no such province
    assert not ric15_valid("110105491331002")  # month 13


@pytest.mark.parametrize(("text", "pii"), POSITIVE)
def test_sql_patterns_agree_with_python(text: str, pii: str) -> None:
    pattern = {"mobile": P.MOBILE, "resident_id": P.RIC18, "resident_id_15": P.RIC15, "email": P.EMAIL,
               "wechat_id": P.WECHAT, "device_serial": P.DEVICE_SERIAL, "address": P.ADDRESS,
               "birth_date": P.FULL_DATE}[pii]  # fmt: skip
    assert duckdb.connect().execute("SELECT regexp_matches(?, ?)", [text, pattern]).fetchone()[0]


@pytest.mark.parametrize("value", [c for c in CASES if ric18_valid(c) or ric15_valid(c)])
def test_candidate_patterns_find_every_valid_resident_id(value: str) -> None:
    """The RE2 prefilters are only necessary conditions: every number the rule accepts is a candidate."""
    kind = "resident_id" if ric18_valid(value) else "resident_id_15"
    assert kind in scan_text(f"证件{value}。")


def test_a_romanised_name_that_is_a_word_of_our_documentation_is_not_a_name() -> None:
    """丁彬 romanises to "dingbin" and "binding": the published comments say "binding" (device
    bindings), which flagged a clean 100k release. The documented word is dropped; the name in
    pinyin is still caught."""
    from patient360.gates import name_forms

    def romaniser(name: str) -> list[str] | None:
        return ["ding", "bin"] if name == "丁彬" else None

    name_forms.register_romaniser(romaniser)
    try:
        forms = name_forms.romanised_forms("丁彬", [romaniser])
    finally:
        name_forms.unregister_romaniser(romaniser)
    assert forms == {"dingbin", "binding"}
    effective = forms - name_forms.documented_words()
    assert "binding" in name_forms.documented_words()
    assert name_forms.romanised_hit("patient Ding Bin", effective)
    assert not name_forms.romanised_hit("the device binding active when a reading was measured", effective)


@pytest.mark.parametrize(
    "value",
    ["1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2 X", "110105-19491231-002-x", "ID: 1101 0519 4912 3100 2X."],
)
def test_a_resident_id_with_an_x_check_character_is_found_however_it_is_spaced(value: str) -> None:
    """Separators before the check character X must not hide the ID (the compaction joined
    digits only, so a spaced ID ending in X escaped while one ending in a digit was caught)."""
    assert "resident_id" in P.find_pii(value)


def test_an_x_that_is_a_word_is_not_joined_to_digits() -> None:
    assert P.find_pii("3 x 4 boxes, 2 XL shirts") == []
