"""Encodings, line ends, HIS Chinese headers, time zones and retention: real files, real DuckDB."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from patient360.errors import ConfigError
from patient360.land import land_exports
from patient360.land.retention import purge
from test_land_support import CONTACT_HEADER, PATIENT_HEADER, assert_invariant, contact, csv_text, patient

DAY = "2026-11-30"
CN_HEADER = [
    "门诊号",
    "姓名",
    "性别",
    "出生日期",
    "身份证号",
    "手机号",
    "地址",
    "城市",
    "省份",
    "登记时间",
    "医保类型",
    "更新时间",
]  # noqa: E501


def _land(tmp_path: Path, source: str, files: dict[str, bytes]):
    day = tmp_path / "exports" / source / DAY
    day.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (day / name).write_bytes(data)
    wh = tmp_path / "wh.duckdb"
    report = land_exports(tmp_path / "exports", wh, sources=[source])
    return {f.file.rsplit("/", 1)[1]: f for f in report.files}, wh


def _q(wh: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_gb18030_his_file_with_chinese_headers_and_a_rare_character(tmp_path: Path) -> None:
    rows = [patient(1, name="王䶮", gender="男"), patient(2, name="李四", gender="女"), patient(3, gender="未知")]
    text = csv_text(CN_HEADER, rows)
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")  # 䶮 is not in GBK: only GB18030 holds it
    res, wh = _land(tmp_path, "his", {"患者信息导出.csv": text.encode("gb18030")})
    (r,) = res.values()
    assert (r.table, r.encoding, r.rows_read, r.rows_landed, r.rows_quarantined) == ("patients", "gb18030", 3, 2, 1)
    assert _q(wh, "SELECT mrn, name, gender FROM raw_his.patients ORDER BY 1") == [
        ("MRN00000001", "王䶮", "M"),
        ("MRN00000002", "李四", "F"),
    ]
    assert _q(wh, "SELECT line_number, rule FROM audit.quarantine WHERE line_number IS NOT NULL") == [
        (4, "allowed:gender")
    ]


def test_utf16_excel_save_is_detected_and_read(tmp_path: Path) -> None:
    text = csv_text(CONTACT_HEADER, [contact(1), contact(2)]).replace(",", "\t").replace("\n", "\r\n")
    res, wh = _land(tmp_path, "crm", {"contacts.txt": text.encode("utf-16")})  # Excel "Unicode text"
    (r,) = res.values()
    assert (r.table, r.encoding, r.status, r.rows_landed) == ("contacts", "utf-16", "landed", 2)
    assert_invariant(wh)


def test_undecodable_file_names_encoding_and_byte_offset(tmp_path: Path) -> None:
    good = csv_text(PATIENT_HEADER, [patient(1)]).encode("gb18030")
    res, _ = _land(tmp_path, "his", {"patients.csv": good + b"MRN0000000\x81\x20,x\n"})
    r = res["patients.csv"]
    assert r.status == "rejected"
    assert f"offset {len(good) + 10}" in r.error and "GB18030" in r.error and "looks like" in r.error


@pytest.mark.parametrize("eol", [b"\r\r\n", b"\r"])
def test_odd_line_ends_are_read_as_line_breaks(tmp_path: Path, eol: bytes) -> None:
    text = csv_text(PATIENT_HEADER, [patient(1), patient(2), patient(3, gender="?")])
    res, wh = _land(tmp_path, "his", {"patients.csv": text.encode("utf-8").replace(b"\n", eol)})
    r = res["patients.csv"]
    assert (r.status, r.rows_read, r.rows_landed, r.rows_quarantined) == ("landed_with_quarantine", 3, 2, 1)
    assert _q(wh, "SELECT line_number, rule FROM audit.quarantine") == [(4, "allowed:gender")]
    assert "line ends" in r.warning
    assert_invariant(wh)


def test_timestamps_are_instants_in_the_source_zone_and_future_is_judged_as_an_instant(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    soon = now.astimezone().replace(tzinfo=None)  # noqa: DTZ005 - deliberately naive
    rows = [
        contact(1, created_at="2026-11-30 08:00:00", updated_at="2026-11-30 07:30:00"),  # Beijing -> UTC
        contact(2, created_at="2026-11-30T08:00:00Z"),  # explicit instant
        contact(3, created_at="2026-11-30 08:00:00 +0100"),
        # Beijing "now" is 8 h ahead of a UTC server: not the future
        contact(
            4,
            created_at=(now.replace(tzinfo=None) + (datetime(2000, 1, 1, 8) - datetime(2000, 1, 1))).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
        ),  # noqa: E501
        contact(5, created_at=f"{now.year + 1}-01-01 00:00:00"),
    ]
    assert soon  # the server's own zone plays no part
    res, wh = _land(tmp_path, "crm", {"contacts.csv": csv_text(CONTACT_HEADER, rows).encode()})
    got = _q(wh, "SELECT contact_id, created_at FROM raw_crm.contacts ORDER BY 1")
    assert got[:3] == [
        ("C000000001", datetime(2026, 11, 30, 0, 0, tzinfo=UTC)),
        ("C000000002", datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
        ("C000000003", datetime(2026, 11, 30, 7, 0, tzinfo=UTC)),
    ]
    assert len(got) == 4
    assert _q(wh, "SELECT line_number, rule FROM audit.quarantine WHERE line_number IS NOT NULL") == [
        (6, "future:created_at")
    ]
    # the reporting date is the local date in the source's zone, not the UTC date (11-29 23:30)
    assert _q(wh, "SELECT updated_at, _local_date FROM raw_crm.contacts WHERE contact_id = 'C000000001'") == [
        (datetime(2026, 11, 29, 23, 30, tzinfo=UTC), date(2026, 11, 30))
    ]


def test_bad_time_zone_setting_is_a_configuration_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("P360_TIME_ZONES", "crm=Mars/Olympus")
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        _land(tmp_path, "crm", {"contacts.csv": csv_text(CONTACT_HEADER, [contact(1)]).encode()})


def test_unrecognised_file_lists_what_is_accepted(tmp_path: Path) -> None:
    res, _ = _land(tmp_path, "wearable", {"Zhang_San_notes.csv": b"when,what\n2026-11-30,walk\n"})
    (r,) = res.values()
    assert r.status == "rejected" and "Zhang" not in r.file
    for accepted in ("readings*.csv*", "Dexcom Clarity", "LibreView", "Apple Health", "Fitbit sleep"):
        assert accepted in r.error


def test_quarantined_raw_text_with_identifiers_is_restricted_and_purged(tmp_path: Path) -> None:
    rows = [patient(1), patient(2, gender="?")]
    _, wh = _land(tmp_path, "his", {"patients.csv": csv_text(PATIENT_HEADER, rows).encode()})
    assert _q(wh, "SELECT raw_record FROM audit.quarantine WHERE line_number = 3") == [(None,)]
    assert len(_q(wh, "SELECT raw_record FROM restricted.quarantine_raw")) == 1
    assert purge(wh, today=date.today()) == 0  # within the retention period
    assert purge(wh, today=date.today().replace(year=date.today().year + 1)) == 1
    assert _q(wh, "SELECT count(*) FROM restricted.quarantine_raw") == [(0,)]
    assert _q(wh, "SELECT rule FROM audit.quarantine WHERE line_number = 3") == [("allowed:gender",)]


def test_land_and_run_report_rejected_files_the_same_way(tmp_path: Path) -> None:
    from patient360.pipeline import PipelineResult, _land_complete

    day = tmp_path / "exports" / "wearable" / DAY
    day.mkdir(parents=True)
    (day / "Zhang_San_notes.csv").write_bytes(b"when,what\n2026-11-30,walk\n")
    result = PipelineResult(ok=False)
    report = _land_complete(tmp_path / "exports", tmp_path / "wh.duckdb", None, result)
    (line,) = report.problems()
    assert line.startswith("rejected: wearable/") and "accepted:" in line
    assert line in report.render() and line in result.data_problems  # `run` prints and exits 1 on it
