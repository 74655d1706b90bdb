"""Hand-made export files for the landing tests (no tests in this module).

`write_small_exports` writes one partition per source with a few clean rows and known
planted defects; `EXPECTED_QUARANTINE` lists (file, line, rule) for every one of them.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import duckdb

DAY = "2024-03-01"
FUTURE = "2999-01-01 00:00:00"

PATIENT_HEADER = [
    "mrn",
    "name",
    "gender",
    "birth_date",
    "id_number",
    "mobile",
    "address",
    "city",
    "province",
    "registered_at",
    "insurance_type",
    "updated_at",
]


def patient(i: int, **over: str) -> list[str]:
    row = {
        "mrn": f"MRN{i:08d}", "name": "张三", "gender": "M", "birth_date": "1980-01-02",
        "id_number": "11010519491231002X", "mobile": "13800000000", "address": "北京市朝阳区",
        "city": "北京", "province": "北京", "registered_at": "2020-01-01 10:00:00",
        "insurance_type": "self_pay", "updated_at": "2024-01-01 10:00:00",
    }  # fmt: skip
    row.update(over)
    return [row[h] for h in PATIENT_HEADER]


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def session(i: int, **over: object) -> str:
    rec: dict[str, object] = {
        "session_id": f"S{i}", "platform_user_id": f"U{i:09d}", "mobile": None, "real_name": None,
        "doctor_id": "D1", "specialty": "endocrinology", "consult_type": "text", "urgency": "routine",
        "chief_complaint": "头痛", "requested_at": "2024-02-29 10:00:00", "first_response_at": "2024-02-29 10:05:00",  # noqa: E501
        "closed_at": "2024-02-29 10:30:00", "status": "completed", "fee": 29.9, "rating": 5,
        "prescription_issued": True, "offline_referral": False,
    }  # fmt: skip
    rec.update(over)
    return json.dumps(rec, ensure_ascii=False)


READING_HEADER = ["device_serial", "vendor", "metric", "value", "unit", "measured_at"]
CONTACT_HEADER = [
    "contact_id",
    "mobile",
    "name",
    "wechat_openid",
    "wechat_unionid",
    "source_channel",
    "campaign_id",
    "created_at",
    "marketing_consent",
    "consent_at",
    "consent_withdrawn_at",
    "updated_at",
]


def contact(i: int, **over: str) -> list[str]:
    row = {
        "contact_id": f"C{i:09d}", "mobile": "13900000000", "name": "李四", "wechat_openid": "",
        "wechat_unionid": "", "source_channel": "search", "campaign_id": "CMP1",
        "created_at": "2024-02-01 09:00:00", "marketing_consent": "true", "consent_at": "2024-02-01 09:00:00",
        "consent_withdrawn_at": "", "updated_at": "2024-02-01 09:00:00",
    }  # fmt: skip
    row.update(over)
    return [row[h] for h in CONTACT_HEADER]


def write_small_exports(root: Path) -> None:
    his = root / "his" / DAY
    his.mkdir(parents=True)
    patients = [
        patient(1),                                               # line 2
        patient(2, gender="X"),                                   # line 3 allowed:gender
        patient(3, address="北京市\n朝阳区, 3号"),                  # lines 4-5 (quoted newline)
        patient(4, birth_date="1980-02-30"),                      # line 6 type:birth_date
        patient(5, id_number="110105194912310021"),               # line 7 check:id_number_checksum
        patient(6, mrn=""),                                       # line 8 required:mrn
        patient(7, updated_at=FUTURE),                            # line 9 future:updated_at
        patient(8, registered_at="1970-01-01 00:00:00"),          # line 10 check:birth_before_registration
        patient(9, mrn="MRN123"),                                 # line 11 pattern:mrn
        patient(10, id_number=""),                                # line 12 ok (id_number optional)
    ]  # fmt: skip
    text = csv_text(PATIENT_HEADER, patients)
    lines = text.splitlines(keepends=True)
    lines.insert(12, "MRN00000099,too,few,columns\n")  # line 13 malformed_line
    (his / "patients.csv").write_bytes("".join(lines).encode("gbk"))

    consult = root / "consult" / DAY
    consult.mkdir(parents=True)
    recs = [
        session(1),  # 1
        '{"session_id": "S2", "platform_user_id": ',  # 2 malformed_line
        session(3, consult_type="email"),  # 3 allowed:consult_type
        session(4, fee=-1),  # 4 range:fee
        session(5, rating=4.5),  # 5 type:rating
        session(6, first_response_at="2024-02-29 09:00:00"),  # 6 check:response_after_request
        "[1, 2]",  # 7 malformed_line (not an object)
        session(8, prescription_issued="yes"),  # 8 type:prescription_issued
        session(9),  # 9
    ]
    (consult / "sessions.ndjson").write_text("\n".join(recs) + "\n", encoding="utf-8")

    crm = root / "crm" / DAY
    crm.mkdir(parents=True)
    contacts = [contact(1), contact(2, contact_id="C12"), contact(3, mobile="", wechat_openid="")]
    (crm / "contacts.csv").write_text(csv_text(CONTACT_HEADER, contacts), encoding="utf-8")

    wear = root / "wearable" / DAY
    wear.mkdir(parents=True)
    readings = [
        ["DEV-0001", "omron", "systolic", "128", "mmHg", "2024-02-29 08:00:00"],   # 2
        ["DEV-0001", "omron", "diastolic", "84", "mmHg", "2024-02-29 08:00:00"],   # 3
        ["DEV-0002", "yuwell", "glucose", "6.1", "mmol/L", "2024-02-29 07:30:00"],  # 4
        ["DEV-0002", "yuwell", "glucose", "60", "mmol/L", "2024-02-29 07:35:00"],   # 5 check:vital_in_range
        ["DEV-0002", "yuwell", "glucose", "6.1", "mmHg", "2024-02-29 07:40:00"],    # 6 check:unit_matches_metric  # noqa: E501
        ["DEV-0003", "acme", "steps", "100", "steps", "2024-02-29 23:59:00"],       # 7 allowed:vendor
    ]  # fmt: skip
    with gzip.open(wear / "readings.csv.gz", "wt", encoding="utf-8", newline="") as fh:
        fh.write(csv_text(READING_HEADER, readings))


P = f"his/{DAY}/patients.csv"
S = f"consult/{DAY}/sessions.ndjson"
C = f"crm/{DAY}/contacts.csv"
R = f"wearable/{DAY}/readings.csv.gz"
EXPECTED_QUARANTINE = {
    (P, 3, "allowed:gender"), (P, 6, "type:birth_date"), (P, 7, "check:id_number_checksum"),
    (P, 8, "required:mrn"), (P, 9, "future:updated_at"), (P, 10, "check:birth_before_registration"),
    (P, 11, "pattern:mrn"), (P, 13, "malformed_line"),
    (S, 2, "malformed_line"), (S, 3, "allowed:consult_type"), (S, 4, "range:fee"), (S, 5, "type:rating"),
    (S, 6, "check:response_after_request"), (S, 7, "malformed_line"), (S, 8, "type:prescription_issued"),
    (C, 3, "pattern:contact_id"), (C, 4, "check:has_reachable_identifier"),
    (R, 5, "check:vital_in_range"), (R, 6, "check:unit_matches_metric"), (R, 7, "allowed:vendor"),
}  # fmt: skip
EXPECTED_LANDED = {P: {2: "MRN00000001", 4: "MRN00000003", 12: "MRN00000010"}}


def raw_snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every raw table's rows without _load_id/_loaded_at, sorted: for idempotency checks."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema LIKE 'raw_%' "
            "ORDER BY ALL"
        ).fetchall()
        return {
            f"{s}.{t}": con.execute(f"SELECT * EXCLUDE (_load_id, _loaded_at) FROM {s}.{t} ORDER BY ALL").fetchall()
            for s, t in tables
        }
    finally:
        con.close()


def assert_invariant(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        bad = con.execute(
            "SELECT file_path, rows_read, rows_landed, rows_quarantined FROM audit.file_loads "
            "WHERE rows_read <> rows_landed + rows_quarantined"
        ).fetchall()
        assert bad == []
        # the counts agree with what is actually in the tables, per landed file version
        mismatched = con.execute(
            """SELECT f.file_path, f.rows_quarantined, count(q.rule)
               FROM audit.file_loads f LEFT JOIN audit.quarantine q
                 ON q.load_id = f.load_id AND q.file_path = f.file_path AND q.line_number IS NOT NULL
               GROUP BY ALL HAVING f.rows_quarantined <> count(q.rule)"""
        ).fetchall()
        assert mismatched == []
    finally:
        con.close()
