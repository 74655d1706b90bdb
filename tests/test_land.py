"""Landing: real export files in tmp_path -> real DuckDB warehouse."""

from __future__ import annotations

import gzip
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from patient360.land import land_exports
from patient360.land.files import recorded_name
from test_land_support import (
    DAY,
    EXPECTED_QUARANTINE,
    PATIENT_HEADER,
    C,
    P,
    R,
    S,
    assert_invariant,
    csv_text,
    patient,
    raw_snapshot,
    write_small_exports,
)


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    root = tmp_path / "exports"
    write_small_exports(root)
    return root


def _q(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_lands_valid_rows_and_quarantines_each_planted_defect(exports: Path, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    report = land_exports(exports, wh)
    assert report.ok, report.render()
    by_file = {f.file: f for f in report.files}
    assert set(by_file) == {P, S, C, R}
    assert by_file[P].encoding == "gb18030" and by_file[S].encoding == "utf-8"
    assert (by_file[P].rows_read, by_file[P].rows_landed, by_file[P].rows_quarantined) == (11, 3, 8)
    assert (by_file[S].rows_read, by_file[S].rows_landed, by_file[S].rows_quarantined) == (9, 2, 7)
    assert all(f.status == "landed_with_quarantine" for f in report.files)

    got = set(_q(wh, "SELECT file_path, line_number, rule FROM audit.quarantine WHERE line_number IS NOT NULL"))
    assert got == EXPECTED_QUARANTINE
    assert _q(wh, "SELECT count(*) FROM audit.quarantine WHERE line_number IS NULL") == [(0,)]
    # physical line numbers of landed rows, including after a record with a quoted newline
    assert _q(wh, "SELECT _line_number, mrn, name, address FROM raw_his.patients ORDER BY 1") == [
        (2, "MRN00000001", "张三", "北京市朝阳区"),
        (4, "MRN00000003", "张三", "北京市\n朝阳区, 3号"),
        (12, "MRN00000010", "张三", "北京市朝阳区"),
    ]
    assert _q(wh, "SELECT _line_number FROM raw_consult.sessions ORDER BY 1") == [(1,), (9,)]
    # typed columns
    row = _q(wh, "SELECT fee, rating, prescription_issued, requested_at FROM raw_consult.sessions LIMIT 1")[0]
    assert str(row[0]) == "29.90" and row[1] == 5 and row[2] is True and row[3].year == 2024
    # quarantine keeps a detail naming the value; the raw record of a table with direct
    # identifiers is kept only in the restricted zone, with a purge date
    raw, detail = _q(
        wh,
        "SELECT r.raw_record, q.detail FROM audit.quarantine q JOIN restricted.quarantine_raw r "
        "USING (load_id, file_path, line_number) WHERE q.rule = 'allowed:consult_type'",
    )[0]
    assert '"consult_type": "email"' in raw and "email" in detail
    raw, detail, purge_after = _q(
        wh,
        "SELECT r.raw_record, q.detail, r.purge_after - CAST(r.quarantined_at AS DATE) FROM audit.quarantine q "
        "JOIN restricted.quarantine_raw r USING (load_id, file_path, line_number) "
        "WHERE q.file_path = ? AND q.line_number = 13",
        [P],
    )[0]
    assert raw == "MRN00000099,too,few,columns" and "MISSING COLUMNS" in detail and purge_after == 30
    # every table quarantined here holds direct identifiers: no raw text in the audit zone
    assert _q(wh, "SELECT count(*) FROM audit.quarantine WHERE raw_record IS NOT NULL") == [(0,)]
    meta = _q(wh, "SELECT DISTINCT _file_path, length(_file_checksum), _load_id FROM raw_wearable.readings")
    assert meta == [(R, 64, report.load_id)]
    assert_invariant(wh)
    text = report.render()
    assert P in text and "landed_with_quarantine" in text and "TOTAL" in text


def test_rerun_adds_nothing_and_fresh_run_gives_identical_raw_tables(exports: Path, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    land_exports(exports, wh)
    before = raw_snapshot(wh)
    counts = _q(wh, "SELECT (SELECT count(*) FROM audit.file_loads), (SELECT count(*) FROM audit.quarantine)")
    again = land_exports(exports, wh, day=date.fromisoformat(DAY))
    assert {f.status for f in again.files} == {"already_landed"}
    assert raw_snapshot(wh) == before
    assert _q(wh, "SELECT (SELECT count(*) FROM audit.file_loads), (SELECT count(*) FROM audit.quarantine)") == counts
    wh2 = tmp_path / "wh2.duckdb"
    land_exports(exports, wh2)
    assert raw_snapshot(wh2) == before


def test_redelivered_file_is_a_new_version_replacing_old_rows(exports: Path, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    land_exports(exports, wh, sources=["his"])
    path = exports / P
    path.write_bytes(csv_text(PATIENT_HEADER, [patient(21), patient(22), patient(23, gender="?")]).encode("gbk"))
    report = land_exports(exports, wh, sources=["his"])
    (res,) = report.files
    assert (res.status, res.file_version, res.rows_landed, res.rows_quarantined) == (
        "landed_with_quarantine",
        2,
        2,
        1,
    )
    assert _q(wh, "SELECT mrn FROM raw_his.patients ORDER BY 1") == [("MRN00000021",), ("MRN00000022",)]
    versions = _q(wh, "SELECT file_version, rows_landed FROM audit.file_loads WHERE file_path = ? ORDER BY 1", [P])
    assert versions == [(1, 3), (2, 2)]
    assert_invariant(wh)


def test_same_bytes_under_another_name_is_a_duplicate_file(exports: Path, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    shutil.copy(exports / C, exports / "crm" / DAY / "contacts_copy.csv")
    report = land_exports(exports, wh, sources=["crm"])
    res = {f.file: f for f in report.files}
    dup = res[f"crm/{DAY}/contacts_copy.csv"]
    assert (dup.status, dup.rows_read, dup.duplicate_of) == ("duplicate_file", 0, C)
    assert report.ok
    assert _q(wh, "SELECT count(*) FROM raw_crm.contacts") == [(1,)]
    rows = _q(wh, "SELECT rule, detail FROM audit.quarantine WHERE line_number IS NULL")
    assert rows == [("file:duplicate_file", f"same bytes as already landed {C}; not read again")]
    assert _q(wh, "SELECT duplicate_of FROM audit.file_loads WHERE status = 'duplicate_file'") == [(C,)]


def test_bad_files_are_recorded_and_never_block_good_ones(
    exports: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    day = exports / "his" / DAY
    (day / "visits.csv").write_bytes(b"")  # empty
    good = gzip.compress(
        b"payment_id,mrn,visit_id,amount,method,paid_at\nP1,MRN00000001,V1,10.00,cash,2024-02-29 10:00:00\n"
    )
    (day / "payments.csv.gz").write_bytes(good[: len(good) // 2])  # truncated gzip
    (day / "diagnoses.csv").write_bytes(b"diagnosis_id,visit_id,icd10_code,is_primary,diagnosed_at\n")  # no mrn
    (day / "lab_results.csv").write_bytes(b"lab\xff\xfe,\x81\n")  # neither UTF-8 nor GBK
    (day / "notes.txt").write_text("hello", encoding="utf-8")  # unmatched name
    crm = exports / "crm" / DAY
    (crm / "campaigns.csv").write_bytes("campaign_id,campaign_name\n春季,活动\n".encode("gbk"))  # GBK in a UTF-8 source
    (crm / "referrals.csv").write_text(
        "referral_id,referrer_contact_id,referee_contact_id,referred_at,channel_note\n"
        "RF1,C000000001,C000000002,2024-02-29 10:00:00,wechat\n",
        encoding="utf-8",
    )  # extra column: lands with a warning
    report = land_exports(exports, tmp_path / "wh.duckdb")
    res = {f.file.rsplit("/", 1)[1]: f for f in report.files}
    assert res["visits.csv"].status == "empty"
    assert res["payments.csv.gz"].status == "rejected" and "truncated" in res["payments.csv.gz"].error
    assert res["diagnoses.csv"].status == "rejected" and "mrn" in res["diagnoses.csv"].error
    assert res["lab_results.csv"].status == "rejected" and "GBK" in res["lab_results.csv"].error
    notes = recorded_name("notes.txt")  # not a contract's name: recorded without its text
    assert res[notes].status == "rejected" and "accepted: diagnoses*.csv*" in res[notes].error
    assert res["campaigns.csv"].status == "rejected" and "looks like GBK" in res["campaigns.csv"].error
    assert res["referrals.csv"].status == "landed" and "channel_note" in res["referrals.csv"].warning
    assert not report.ok
    # the good files of the same day still landed
    assert res["patients.csv"].rows_landed == 3 and res["contacts.csv"].rows_landed == 1
    wh = tmp_path / "wh.duckdb"
    assert _q(wh, "SELECT _extra->>'channel_note' FROM raw_crm.referrals") == [("wechat",)]
    file_rules = dict(
        _q(
            wh,
            "SELECT regexp_extract(file_path, '[^/]+$'), rule FROM audit.quarantine WHERE line_number IS NULL",
        )
    )
    assert file_rules == {
        "visits.csv": "file:empty_file", "payments.csv.gz": "file:truncated_gzip",
        "diagnoses.csv": "file:missing_column", "lab_results.csv": "file:bad_encoding",
        notes: "file:unmatched", "campaigns.csv": "file:bad_encoding", "referrals.csv": "file:extra_column",  # noqa: E501
    }  # fmt: skip
    assert_invariant(wh)
    logged = caplog.text
    assert "payments.csv.gz: rejected" in logged and "truncated" in logged
    assert f"his/{DAY}/patients.csv: landed_with_quarantine" in logged


def test_day_and_source_filters(exports: Path, tmp_path: Path) -> None:
    other = exports / "crm" / "2024-03-02"
    other.mkdir()
    shutil.copy(exports / C, other / "contacts.csv")
    (exports / "_truth").mkdir()
    (exports / "_truth" / "dirt.csv").write_text("kind\n", encoding="utf-8")
    wh = tmp_path / "wh.duckdb"
    report = land_exports(exports, wh, day=date(2024, 3, 2), sources=["crm", "his"])
    assert [f.file for f in report.files] == ["crm/2024-03-02/contacts.csv"]
    report = land_exports(exports, wh, sources=["crm"])  # day=None: what is not landed yet
    assert [(f.file, f.status) for f in report.files] == [
        (C, "duplicate_file"),
        ("crm/2024-03-02/contacts.csv", "already_landed"),
    ]
    with pytest.raises(ValueError, match="unknown source"):
        land_exports(exports, wh, sources=["lis"])
