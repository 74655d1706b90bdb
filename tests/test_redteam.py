"""Red team: personal data disguised the ways a determined analyst would try, planted into a
copy of the clean fixture warehouse, must each be caught by the gate, naming its table, column
and PII type; the clean warehouse must still pass; and no planted value may reach the gate's
results, Data Docs or logs.

Every case gets its own column (or table, for comments), so each assertion is about one case.
All cases live in one copy and one gate run (Great Expectations validates the metrics), which
keeps the suite fast: the cases are the parameters of cheap assertions on that one outcome.
Places: free-text columns of a new table, columns of existing marts, older snapshot rows,
table and column comments, BLOBs in four encodings, DOUBLE/DECIMAL/BIGINT/INTEGER columns,
key columns (pseudonym integrity) and a VARCHAR column the allow-list marks as an event date.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from patient360.gates import collect_metrics, name_forms, run_gates
from patient360.gates.gx_runner import load_suites, validate
from patient360.pseudonym import pseudonymise
from test_gates import ALLOWLIST, AS_OF, _people, build_clean, hits

EXTRA_NAME = "张晓明"  # a restricted person added to the copy, with a known romanisation
PINYIN = {"张": "zhang", "晓": "xiao", "明": "ming"}
VALID_ID_DIGITS = "110105198506120018"  # an all-digit resident ID (valid check digit)
VISIT_NO, RX_NO, SESSION_NO = "V7310042231", "RX5520193384", "S8816402277"
REDTEAM_ALLOWLIST = (
    ALLOWLIST
    + """
  redteam_events:
    columns:
      patient_key: {privacy: pseudonym}
      visit_day: {privacy: none, kind: event_date}
"""
)


def _fw(text: str) -> str:
    """Full-width form of the ASCII characters of `text`."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _json(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _entities(text: str) -> str:
    return "".join(f"&#{ord(c)};" for c in text)


def _pct(text: str) -> str:
    return "".join(f"%{b:02X}" for b in text.encode("utf-8"))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _zw(text: str, mark: str = "\u200b") -> str:
    return mark.join(text)


def text_cases(p: dict) -> dict[str, tuple[str, str]]:
    """case -> (value planted in its own VARCHAR column, PII type the gate must report)."""
    m, ric, name, email = p["mobile"], p["id_number"], p["name"], p["email"]
    groups = " ".join(ric[i : i + 4] for i in range(0, 18, 4))
    return {
        # mobiles
        "mobile_fullwidth": (_fw(m), "mobile"),
        "mobile_dots": (f"{m[:3]}.{m[3:7]}.{m[7:]}", "mobile"),
        "mobile_irregular_spaces": (f"{m[:2]} {m[2:5]}  {m[5:6]} {m[6:]}", "mobile"),
        "mobile_every_digit_spaced": (" ".join(m), "mobile"),
        "mobile_zero_width_space": (_zw(m), "mobile"),
        "mobile_zero_width_joiner": (_zw(m, "\u200d"), "mobile"),
        "mobile_bom_inside": (_zw(m, "\ufeff"), "mobile"),
        "mobile_word_joiner": (_zw(m, "\u2060"), "mobile"),
        "mobile_soft_hyphen": (_zw(m, "\u00ad"), "mobile"),
        "mobile_0086": (f"0086{m}", "mobile"),
        "mobile_leading_zero": (f"0{m}", "mobile"),
        "mobile_fullwidth_plus86": (_fw(f"+86 {m}"), "mobile"),
        "mobile_ideographic_spaces": (f"{m[:3]}\u3000{m[3:7]}\u3000{m[7:]}", "mobile"),
        "mobile_nbsp_in_text": (f"请回电\u00a0{m[:3]}\u00a0{m[3:7]}\u00a0{m[7:]}谢谢", "mobile"),
        "mobile_brackets": (f"({m[:3]}) {m[3:7]}-{m[7:]}", "mobile"),
        "mobile_json_escaped": (_json(m), "mobile"),
        "mobile_html_entities": (_entities(m), "mobile"),
        "mobile_percent_encoded": (_pct(m), "mobile"),
        "mobile_base64": (_b64(m), "mobile"),
        "mobile_slashes": (f"{m[:3]}/{m[3:7]}/{m[7:]}", "mobile"),
        # resident ID numbers
        "ric_groups_of_four": (groups, "resident_id"),
        "ric_fullwidth": (_fw(ric), "resident_id"),
        "ric_zero_width": (_zw(ric), "resident_id"),
        "ric_dashes": (f"{ric[:6]}-{ric[6:14]}-{ric[14:]}", "resident_id"),
        "ric_json_escaped": (_json(ric), "resident_id"),
        "ric_base64": (_b64(ric), "resident_id"),
        "ric_in_text_fullwidth_groups": ("证件号" + _fw(groups), "resident_id"),
        "ric_percent_encoded": (_pct(ric), "resident_id"),
        # names
        "name_with_space": (f"{name[0]} {name[1:]}", "name"),
        "name_ideographic_space": (f"{name[0]}\u3000{name[1:]}", "name"),
        "name_zero_width": (_zw(name), "name"),
        "name_json_escaped": (_json(name), "name"),
        "name_html_entities": (_entities(name), "name"),
        "name_percent_encoded": (_pct(name), "name"),
        "name_base64": (_b64(name), "name"),
        "name_traditional_char": ("患者張晓明复诊", "name"),
        "name_honorific_nvshi": (f"{name_forms.surname(name)}女士来电", "name"),
        "name_honorific_xiansheng": (f"联系{name_forms.surname(name)}先生", "name"),
        "name_honorific_xiaojie": (f"{name_forms.surname(name)}小姐", "name"),
        "name_honorific_laoshi": (f"{name_forms.surname(name)}老师", "name"),
        "name_mou": (f"患者{name_forms.surname(name)}某", "name"),
        "name_pinyin_spaced": ("Zhang Xiaoming", "name"),
        "name_pinyin_joined": ("zhangxiaoming", "name"),
        "name_pinyin_given_first": ("XIAOMING ZHANG", "name"),
        "name_pinyin_syllables": ("zhang-xiao-ming called", "name"),
        # e-mail
        "email_fullwidth_at": (email.replace("@", "＠"), "email"),
        "email_all_fullwidth": (_fw(email), "email"),
        "email_zero_width": (_zw(email), "email"),
        # bank cards
        "card_groups": ("6222 0212 3456 7890 128", "bank_card"),
        "card_plain_visa": ("4111111111111111", "bank_card"),
        "card_dashes": ("5500-0000-0000-0004", "bank_card"),
        "card_fullwidth": (_fw("6212260200012345670"), "bank_card"),
        "card_in_text": ("退款至卡号6222021234567890128", "bank_card"),
        # passports and permits
        "passport_e8": ("E12345678", "passport"),
        "passport_letter": (_fw("EA1234567"), "passport"),
        "passport_in_text": ("护照号G23456789已核验", "passport"),
        "permit_hk_macau": ("C12345678", "travel_permit"),
        "permit_hk_macau_letter": ("通行证CA1234567", "travel_permit"),
        "permit_home_return": ("H1234567890", "travel_permit"),
        # vehicle plates
        "plate_dot": ("粤B·12345", "vehicle_plate"),
        "plate_plain": ("车牌京A12345", "vehicle_plate"),
        "plate_new_energy": ("沪AD12345", "vehicle_plate"),
        "plate_fullwidth": ("浙" + _fw("A8K9Q2"), "vehicle_plate"),
        # network identifiers
        "ipv4": ("login from 192.168.1.10", "ip_address"),
        "ipv4_fullwidth_dots": ("10．23．45．67", "ip_address"),
        "ipv6": ("2001:db8:85a3::8a2e:370:7334", "ip_address"),
        "mac_colons": ("00:1A:2B:3C:4D:5E", "mac_address"),
        "mac_dashes": ("手环 00-1a-2b-3c-4d-5e", "mac_address"),
        "mac_dotted": ("001a.2b3c.4d5e", "mac_address"),
        # landlines
        "landline_beijing": ("010-12345678", "landline"),
        "landline_brackets": ("(0755) 8888 6666", "landline"),
        "landline_fullwidth": (_fw("021-55556666"), "landline"),
        "landline_plus86": ("+86 10 1234 5678", "landline"),
        # WeChat ids
        "wxid": ("wxid_abc123xyz", "wechat_id"),
        "wxid_fullwidth": (_fw("wxid_k2j3h4g5"), "wechat_id"),
        # addresses
        "address_fullwidth_digits": ("建国路" + _fw("88") + "号", "address"),
        "address_building_room": ("5栋1203", "address"),
        "address_building_unit_room": ("3号楼2单元501房", "address"),
        "address_zero_width": (_zw(p["address"][:12]), "address"),
        # dates
        "date_dmy_slashes": ("01/01/1990", "birth_date"),
        "date_chinese": ("1990年01月01日", "birth_date"),
        "date_chinese_fullwidth": (_fw("1990") + "年" + _fw("01") + "月" + _fw("01") + "日", "birth_date"),
        "date_dotted": ("1990.01.01", "birth_date"),
        "date_mdy_dashes": ("12-31-1985", "birth_date"),
        # source record numbers
        "visit_number": (f"复诊{VISIT_NO}", "record_id"),
        "prescription_number": (RX_NO, "record_id"),
        "session_number": (_fw(SESSION_NO), "record_id"),
    }


def numeric_cases(p: dict) -> dict[str, tuple[str, str, str]]:
    """case -> (DuckDB type, SQL literal, PII type)."""
    m = p["mobile"]
    return {
        "num_id_as_double": ("DOUBLE", VALID_ID_DIGITS, "resident_id"),
        "num_id_as_cents": ("DECIMAL(20,2)", f"{VALID_ID_DIGITS[:16]}.{VALID_ID_DIGITS[16:]}", "resident_id"),
        "num_id_as_bigint": ("BIGINT", VALID_ID_DIGITS, "resident_id"),
        "num_id_as_decimal38": ("DECIMAL(38,0)", VALID_ID_DIGITS, "resident_id"),
        "num_mobile_bigint": ("BIGINT", m, "mobile"),
        "num_mobile_double": ("DOUBLE", m, "mobile"),
        "num_mobile_cents": ("DECIMAL(14,2)", f"{m[:9]}.{m[9:]}", "mobile"),
        "num_birth_yyyymmdd_int": ("INTEGER", "19850612", "birth_date"),
        "num_birth_yyyymmdd_bigint": ("BIGINT", "19620228", "birth_date"),
        "num_card_decimal": ("DECIMAL(19,0)", "6222021234567890128", "bank_card"),
        "num_card_hugeint": ("HUGEINT", "4111111111111111", "bank_card"),
    }


def blob_cases(p: dict) -> dict[str, tuple[bytes, str]]:
    return {
        "blob_utf8_mobile": (f"tel {p['mobile']}".encode(), "mobile"),
        "blob_utf16_bom_name": (f"患者{p['name']}".encode("utf-16"), "name"),
        "blob_utf16le_ric": (p["id_number"].encode("utf-16-le"), "resident_id"),
        "blob_gb18030_name": (f"联系人{p['name']}".encode("gb18030"), "name"),
        "blob_utf8_email": (p["email"].encode(), "email"),
        "blob_gbk_address": (p["address"].encode("gb18030"), "address"),
    }


def comment_cases(p: dict) -> dict[str, tuple[str, str, str]]:
    """case -> (TABLE|COLUMN, comment text, PII type)."""
    return {
        "comment_table_mobile": ("TABLE", f"owner {p['mobile']}", "mobile"),
        "comment_column_ric": ("COLUMN", f"e.g. {p['id_number']}", "resident_id"),
        "comment_column_name": ("COLUMN", f"录入人 {p['name']}", "name"),
        "comment_table_email": ("TABLE", f"contact {p['email']}", "email"),
        "comment_column_fullwidth_mobile": ("COLUMN", _fw(p["mobile"]), "mobile"),
        "comment_table_honorific": ("TABLE", f"{name_forms.surname(p['name'])}女士的数据", "name"),
        "comment_column_birth": ("COLUMN", "例如 1990年01月01日", "birth_date"),
    }


def key_cases(p: dict) -> dict[str, str]:
    """case -> a 64-hex value that is not an issued pseudonym."""
    m = p["mobile"]
    return {
        "key_zero_padded_mobile": m.zfill(64),
        "key_sha256_plus86": hashlib.sha256(f"+86{m}".encode()).hexdigest(),
        "key_sha256_newline": hashlib.sha256(f"{m}\n".encode()).hexdigest(),
        "key_hmac_weak_key": hmac.new(b"secret", f"mobile:{m}".encode(), hashlib.sha256).hexdigest(),
        "key_hmac_wrong_strong_key": pseudonymise(f"mobile:{m}", b"another-strong-key-9f86d081884c7d659a2f"),
        "key_sha256_id_lower": hashlib.sha256(p["id_number"].lower().encode()).hexdigest(),
    }


def snapshot_cases(p: dict) -> dict[str, tuple[str, str]]:
    return {
        "old_snapshot_mobile": (p["mobile"], "mobile"),
        "old_snapshot_ric_spaced": (" ".join(p["id_number"]), "resident_id"),
        "old_snapshot_name": (p["name"], "name"),
    }


def plant(wh: Path, p: dict, issued: list[str]) -> None:
    con = duckdb.connect(str(wh))
    con.execute("INSERT INTO restricted.person_identifiers VALUES (?, 'person_name', ?)", [issued[0], EXTRA_NAME])
    for table, col, value in (("raw_his.visits", "visit_id", VISIT_NO), ("raw_his.prescriptions", "prescription_id",
                              RX_NO), ("raw_consult.sessions", "session_id", SESSION_NO)):  # fmt: skip
        con.execute(f"INSERT INTO {table} ({col}, _file_path, _file_checksum, _line_number, _load_id, _loaded_at) "
                    "VALUES (?, 'f', 'c', 1, 'l', now())", [value])  # fmt: skip
    filler = "常规随访"
    texts = text_cases(p)
    con.execute("CREATE TABLE marts.redteam_text AS SELECT range AS i FROM range(10)")
    for case, (value, _) in texts.items():
        con.execute(f'ALTER TABLE marts.redteam_text ADD COLUMN "{case}" VARCHAR DEFAULT {filler!r}')
        con.execute(f'UPDATE marts.redteam_text SET "{case}" = ? WHERE i = 3', [value])
    con.execute("CREATE TABLE marts.redteam_num AS SELECT range AS i FROM range(10)")
    for case, (dtype, literal, _) in numeric_cases(p).items():
        con.execute(f'ALTER TABLE marts.redteam_num ADD COLUMN "{case}" {dtype} DEFAULT 42')
        con.execute(f'UPDATE marts.redteam_num SET "{case}" = CAST(? AS {dtype}) WHERE i = 3', [literal])
    con.execute("CREATE TABLE marts.redteam_blob AS SELECT range AS i FROM range(10)")
    for case, (data, _) in blob_cases(p).items():
        con.execute(f"ALTER TABLE marts.redteam_blob ADD COLUMN \"{case}\" BLOB DEFAULT '\\x00'::BLOB")
        con.execute(f'UPDATE marts.redteam_blob SET "{case}" = ? WHERE i = 3', [data])
    for case, (kind, text, _) in comment_cases(p).items():
        con.execute(f"CREATE TABLE marts.{case} (x INTEGER)")
        target = f"TABLE marts.{case}" if kind == "TABLE" else f"COLUMN marts.{case}.x"
        con.execute(f"COMMENT ON {target} IS " + "'" + text.replace("'", "''") + "'")
    con.execute("CREATE TABLE marts.redteam_keys AS SELECT range AS i FROM range(10)")
    for case, value in key_cases(p).items():
        con.execute(f'ALTER TABLE marts.redteam_keys ADD COLUMN "{case}_key" VARCHAR')
        con.execute(f'UPDATE marts.redteam_keys SET "{case}_key" = ? WHERE i <> 3', [issued[1]])
        con.execute(f'UPDATE marts.redteam_keys SET "{case}_key" = ? WHERE i = 3', [value])
    # older snapshot rows (as_of_date before the current one) of a snapshot table
    con.execute("CREATE TABLE marts.redteam_snap AS SELECT DATE '2026-10-31' - CAST(range AS INTEGER) AS as_of_date "
                "FROM range(5)")  # fmt: skip
    for case, (value, _) in snapshot_cases(p).items():
        con.execute(f'ALTER TABLE marts.redteam_snap ADD COLUMN "{case}" VARCHAR DEFAULT {filler!r}')
        con.execute(f"UPDATE marts.redteam_snap SET \"{case}\" = ? WHERE as_of_date < DATE '2026-10-31'", [value])
    # a VARCHAR column the allow-list marks as an event date, holding birth dates
    con.execute("CREATE TABLE marts.redteam_events AS SELECT patient_key, CAST(registered_date AS VARCHAR) AS "
                "visit_day FROM marts.patient_360")  # fmt: skip
    con.execute("UPDATE marts.redteam_events SET visit_day = '2010-05-01' WHERE rowid = 4")
    con.close()


@pytest.fixture(scope="module")
def redteam(tmp_path_factory: pytest.TempPathFactory, pseudonym_key: str) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("redteam")
    people = _people(pseudonym_key.encode())
    build_clean(root / "clean.duckdb", people)
    (root / "allowlist.yml").write_text(REDTEAM_ALLOWLIST, encoding="utf-8")
    (root / "clean_allowlist.yml").write_text(ALLOWLIST, encoding="utf-8")
    p = people[11]
    wh = root / "planted.duckdb"
    shutil.copy(root / "clean.duckdb", wh)
    plant(wh, p, [people[40]["key"], people[41]["key"]])
    romaniser = lambda name: [PINYIN.get(c, "") for c in name] if set(name) <= set(PINYIN) else None  # noqa: E731
    name_forms.register_romaniser(romaniser)
    try:
        metrics = collect_metrics(wh, k=5, allowlist=root / "allowlist.yml", gx_dir=root / "gx", as_of=AS_OF)
        failures = validate(metrics, load_suites()).failures
        clean = collect_metrics(root / "clean.duckdb", k=5, allowlist=root / "clean_allowlist.yml", gx_dir=root / "gx0",
                                as_of=AS_OF)  # fmt: skip
        clean_failures = validate(clean, load_suites()).failures
        yield {"root": root, "wh": wh, "person": p, "found": hits(failures), "clean": hits(clean_failures)}
    finally:
        name_forms.unregister_romaniser(romaniser)


_P = dict.fromkeys(("mobile", "id_number", "name", "email", "address", "birth_date"), "x")
_P.update(name="王芳", id_number="11010519491231002X", mobile="13812345678", address="北京市朝阳区建国路88号")
TEXT = list(text_cases(_P))
NUMERIC = list(numeric_cases(_P))
BLOBS = list(blob_cases(_P))
COMMENTS = list(comment_cases(_P))
KEYS = list(key_cases(_P))
SNAPSHOT = list(snapshot_cases(_P))


def test_there_are_at_least_100_planted_cases() -> None:
    total = len(TEXT) + len(NUMERIC) + len(BLOBS) + len(COMMENTS) + len(KEYS) + len(SNAPSHOT) + 1
    assert total >= 100, total


@pytest.mark.parametrize("case", TEXT)
def test_text_evasion_is_caught(redteam: dict, case: str) -> None:
    pii = text_cases(redteam["person"])[case][1]
    assert ("redteam_text", case, pii) in redteam["found"]


@pytest.mark.parametrize("case", NUMERIC)
def test_number_as_digit_string_is_caught(redteam: dict, case: str) -> None:
    pii = numeric_cases(redteam["person"])[case][2]
    assert ("redteam_num", case, pii) in redteam["found"]


@pytest.mark.parametrize("case", BLOBS)
def test_blob_text_is_caught(redteam: dict, case: str) -> None:
    pii = blob_cases(redteam["person"])[case][1]
    assert ("redteam_blob", case, pii) in redteam["found"]


@pytest.mark.parametrize("case", COMMENTS)
def test_comment_is_caught(redteam: dict, case: str) -> None:
    pii = comment_cases(redteam["person"])[case][2]
    assert (case, "(comments)", pii) in redteam["found"]


@pytest.mark.parametrize("case", KEYS)
def test_key_that_was_never_issued_is_caught(redteam: dict, case: str) -> None:
    assert ("redteam_keys", f"{case}_key", "pseudonym_not_issued") in redteam["found"]


@pytest.mark.parametrize("case", SNAPSHOT)
def test_older_snapshot_is_caught(redteam: dict, case: str) -> None:
    pii = snapshot_cases(redteam["person"])[case][1]
    assert ("redteam_snap", case, pii) in redteam["found"]


def test_varchar_event_date_column_of_dates_is_caught(redteam: dict) -> None:
    assert ("redteam_events", "visit_day", "birth_date") in redteam["found"]


def test_clean_warehouse_passes_the_same_gate(redteam: dict) -> None:
    assert redteam["clean"] == set()


def test_no_planted_value_escapes_results_data_docs_or_logs(
    redteam: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd
) -> None:
    caplog.set_level(logging.DEBUG)
    outcome = run_gates(redteam["wh"], data_docs_dir=tmp_path / "gx", allowlist=redteam["root"] / "allowlist.yml",
                        as_of=AS_OF)  # fmt: skip
    assert not outcome.passed
    out, err = capfd.readouterr()
    texts = {"render": outcome.render(), "logs": caplog.text, "stdout": out, "stderr": err}
    texts.update({str(f): f.read_bytes().decode("utf-8", errors="replace") for f in (tmp_path / "gx").rglob("*")
                  if f.is_file()})  # fmt: skip
    p = redteam["person"]
    planted = [v for v, _ in text_cases(p).values() if len(v) >= 8] + [p["mobile"], p["id_number"], p["name"]]
    for value in planted:
        escaped = json.dumps(value)[1:-1]
        for where, text in texts.items():
            assert value not in text and escaped not in text, f"a planted value leaked into {where}"
