"""Dexcom Clarity and Fitbit exports land into raw_wearable.readings (fixtures: tests/fixtures/vendors)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from patient360.land import land_exports
from test_land_support import assert_invariant

FIXTURES = Path(__file__).parent / "fixtures" / "vendors"
DAY = "2024-02-29"


@pytest.fixture
def landed(tmp_path: Path):
    day = tmp_path / "exports" / "wearable" / DAY
    day.mkdir(parents=True)
    for f in FIXTURES.iterdir():
        shutil.copy(f, day / (f.name if f.name.startswith("fitbit_") else "dexcom_clarity_export.csv"))
    wh = tmp_path / "wh.duckdb"
    report = land_exports(tmp_path / "exports", wh)
    con = duckdb.connect(str(wh), read_only=True)
    yield report, con, wh
    con.close()


def test_dexcom_clarity_egv_rows_become_glucose_readings(landed) -> None:
    report, con, _ = landed
    res = {f.file.rsplit("/", 1)[1]: f for f in report.files}["dexcom_clarity_export.csv"]
    assert (res.status, res.rows_read, res.rows_landed, res.rows_quarantined) == (
        "landed_with_quarantine",
        5,
        4,
        1,
    )
    assert "3 patient name/birth-date metadata row(s) dropped" in res.warning
    rows = con.execute(
        "SELECT _line_number, device_serial, vendor, metric, value, unit, measured_at, "
        "_extra->>'glucose_text', _extra->>'censored' FROM raw_wearable.readings WHERE vendor = 'dexcom' ORDER BY 1"  # noqa: E501
    ).fetchall()
    assert rows == [
        (8, "8GQK2L", "dexcom", "glucose", 112.0, "mg/dL", datetime(2024, 2, 28, 23, 55, 12), None, None),
        (9, "8GQK2L", "dexcom", "glucose", 40.0, "mg/dL", datetime(2024, 2, 29, 0, 0, 12), "Low", "below"),
        (10, "8GQK2L", "dexcom", "glucose", 400.0, "mg/dL", datetime(2024, 2, 29, 0, 5, 12), "High", "above"),
        (13, "8GQK2L", "dexcom", "glucose", 121.0, "mg/dL", datetime(2024, 2, 29, 0, 20, 12), None, None),
    ]
    q = con.execute("SELECT line_number, rule FROM audit.quarantine WHERE file_path LIKE '%dexcom%'").fetchall()
    assert q == [(11, "type:value")]
    meta = con.execute("SELECT _line_number, event_type FROM raw_wearable.vendor_file_meta ORDER BY 1").fetchall()
    assert meta == [(5, "Device"), (6, "Alert"), (7, "Alert"), (12, "Calibration")]


def test_dexcom_patient_names_are_never_stored(landed) -> None:
    _, con, _ = landed
    tables = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('information_schema')"  # noqa: E501
    ).fetchall()
    assert len(tables) > 10

    def hits(pattern: str) -> int:
        return sum(
            con.execute(
                f"SELECT count(*) FROM {schema}.{table} t WHERE regexp_matches(CAST(t AS VARCHAR), ?)",
                [pattern],
            ).fetchone()[0]
            for schema, table in tables
        )

    assert hits("Android G6") > 0  # the scan does see vendor text
    assert hits("Meiling|Zhou|1975-06-02") == 0


def test_fitbit_heart_rate_and_daily_steps(landed) -> None:
    report, con, wh = landed
    res = {f.file.rsplit("/", 1)[1]: f for f in report.files}
    hr = res["fitbit_heartrate_seconds_merged.csv"]
    assert (hr.rows_read, hr.rows_landed, hr.rows_quarantined) == (6, 4, 2)
    rows = con.execute(
        "SELECT device_serial, metric, unit, value, measured_at FROM raw_wearable.readings "
        "WHERE metric = 'heart_rate' ORDER BY measured_at"
    ).fetchall()
    assert rows[0] == ("FB-2022484408", "heart_rate", "bpm", 93.0, datetime(2016, 4, 1, 7, 54))
    assert rows[-1][4] == datetime(2016, 4, 12, 23, 59, 55)
    assert datetime(2016, 4, 1, 12, 3, 10) in [r[4] for r in rows]
    steps = con.execute(
        "SELECT device_serial, value, measured_at, CAST(_extra->>'Calories' AS INTEGER) FROM raw_wearable.readings "  # noqa: E501
        "WHERE metric = 'steps' ORDER BY measured_at"
    ).fetchall()
    assert steps == [
        ("FB-1503960366", 13162.0, datetime(2016, 4, 12), 1985),
        ("FB-1503960366", 10735.0, datetime(2016, 4, 13), 1797),
    ]
    q = con.execute(
        "SELECT regexp_extract(file_path, '[^/]+$'), line_number, rule FROM audit.quarantine "
        "WHERE file_path LIKE '%fitbit%' ORDER BY ALL"
    ).fetchall()
    assert q == [
        ("fitbit_dailyActivity_merged.csv", 4, "check:vital_in_range"),
        ("fitbit_heartrate_seconds_merged.csv", 6, "type:measured_at"),
        ("fitbit_heartrate_seconds_merged.csv", 7, "check:vital_in_range"),
    ]
    con.close()
    assert_invariant(wh)
