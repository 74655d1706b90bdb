"""Vendor export formats mapped onto `raw_wearable.readings`.

Files in `wearable/<date>/`, matched by name (files.VENDOR_GLOBS), read with the same
CSV reader and validated against the same readings contract as native files.

Dexcom Clarity CSV (`dexcom_clarity*.csv`)
    Only `Event Type = EGV` rows are readings: metric glucose, unit mg/dL, vendor dexcom,
    device_serial = Transmitter ID (else Source Device ID), measured_at = Timestamp with
    the `T` replaced by a space. Dexcom reports values outside the sensor range as text:
    `Low` (below 40 mg/dL) and `High` (above 400 mg/dL). We land them as the range limit
    (40 / 400, i.e. "at most" / "at least"), and keep the original text in
    `_extra.glucose_text` with `_extra.censored` = 'below' / 'above', so downstream can
    exclude or flag censored values. Any other text fails `type:value` (quarantined).
    Metadata rows: `FirstName`, `LastName` and `DateOfBirth` hold direct identifiers and
    are dropped at landing (never stored anywhere, `Patient Info` is never read into a
    table; the warning on the file's audit row counts them). The person is reached through
    the device serial and `device_bindings`, like every other device. Remaining non-EGV
    rows (Device, Alert, Calibration, Insulin, Carbs ...) go to the restricted table
    `raw_wearable.vendor_file_meta`. rows_read counts EGV rows (plus malformed lines).

Fitbit (Fitabase / Kaggle "Fitbit Fitness Tracker Data" layout)
    `fitbit_heartrate_seconds_merged.csv` (`Id,Time,Value`, Time like `4/1/2016 7:54:00 AM`)
    -> metric heart_rate, unit bpm. `fitbit_dailyActivity_merged.csv` (`Id,ActivityDate,
    TotalSteps,...`, ActivityDate like `4/12/2016`) -> metric steps, unit steps, measured_at
    midnight of that day; the other daily columns (distances, minutes, calories) are kept
    in `_extra`. device_serial = 'FB-' || Id (Fitbit exports carry a user id, not a serial;
    the prefix keeps it apart from other vendors' serials). vendor fitbit.
    A time that does not parse in the Fitbit format is passed through unchanged and fails
    `type:measured_at`.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from patient360.land.files import FileProblem
from patient360.land.schema import q
from patient360.land.stage import Staged, csv_record, read_csv_rows
from patient360.land.validate import lit
from patient360.warehouse import one

DEXCOM_TS = "Timestamp (YYYY-MM-DDThh:mm:ss)"
DEXCOM_GLUCOSE = "Glucose Value (mg/dL)"
DEXCOM_PII_EVENTS = ("FirstName", "LastName", "DateOfBirth")
DEXCOM_LOW_MGDL = 40
DEXCOM_HIGH_MGDL = 400


@dataclass(frozen=True)
class VendorFormat:
    name: str
    vendor: str
    required_header: tuple[str, ...]


FORMATS = {
    "dexcom_clarity": VendorFormat(
        "dexcom_clarity",
        "dexcom",
        (
            "Event Type",
            "Event Subtype",
            "Device Info",
            DEXCOM_TS,
            DEXCOM_GLUCOSE,
            "Transmitter ID",
            "Source Device ID",
        ),
    ),
    "fitbit_heartrate": VendorFormat("fitbit_heartrate", "fitbit", ("Id", "Time", "Value")),
    "fitbit_daily_activity": VendorFormat("fitbit_daily_activity", "fitbit", ("Id", "ActivityDate", "TotalSteps")),
}


def _col(name: str) -> str:
    return q(name)


def _stage_view(con: duckdb.DuckDBPyConnection, select: str, where: str, header: list[str]) -> None:
    con.execute(
        f"CREATE TEMP VIEW _stage AS SELECT _line, NULL::VARCHAR AS __malformed, {select}, "
        f"{csv_record(header)} AS _raw FROM _rowsl WHERE {where}"
    )


def _extra(header: list[str], used: set[str]) -> str:
    rest = [h for h in header if h not in used]
    return "json_object(" + ", ".join(f"{lit(h)}, {_col(h)}" for h in rest) + ")" if rest else "NULL"


def stage_vendor(
    con: duckdb.DuckDBPyConnection, fmt_name: str, path, header: list[str], gz: bool, physical_lines: int
) -> Staged:
    fmt = FORMATS[fmt_name]
    missing = [c for c in fmt.required_header if c not in header]
    if missing:
        raise FileProblem("missing_column", f"{fmt_name} export lacks column(s): {', '.join(missing)}")
    staged = read_csv_rows(con, path, header, gz, physical_lines)
    if fmt_name == "dexcom_clarity":
        g = _col(DEXCOM_GLUCOSE)
        used = {"Event Type", DEXCOM_TS, DEXCOM_GLUCOSE, "Transmitter ID", "Patient Info"}
        rest = [h for h in header if h not in used]
        extra = (
            "json_object('glucose_text', CASE WHEN lower(trim(" + g + ")) IN ('low', 'high') THEN " + g + " END, "
            "'censored', CASE lower(trim("
            + g
            + ")) WHEN 'low' THEN 'below' WHEN 'high' THEN 'above' END"
            + "".join(f", {lit(h)}, {_col(h)}" for h in rest)
            + ")"
        )
        select = f"""
            coalesce(NULLIF(trim({_col("Transmitter ID")}), ''), NULLIF(trim({_col("Source Device ID")}), ''))
                AS __v_device_serial,
            'dexcom' AS __v_vendor, 'glucose' AS __v_metric,
            CASE lower(trim({g})) WHEN 'low' THEN '{DEXCOM_LOW_MGDL}' WHEN 'high' THEN '{DEXCOM_HIGH_MGDL}'
                 ELSE {g} END AS __v_value,
            'mg/dL' AS __v_unit,
            replace({_col(DEXCOM_TS)}, 'T', ' ') AS __v_measured_at,
            CAST({extra} AS JSON) AS _extra"""
        _stage_view(con, select, f"{_col('Event Type')} = 'EGV'", header)
        counts = one(
            con.execute(
                f"""SELECT count(*) FILTER (WHERE {_col("Event Type")} = 'EGV'),
                       count(*) FILTER (WHERE {_col("Event Type")} IN {DEXCOM_PII_EVENTS}),
                       count(*) FILTER (WHERE coalesce({_col("Event Type")}, '') <> 'EGV'
                                        AND {_col("Event Type")} NOT IN {DEXCOM_PII_EVENTS})
                FROM _rowsl"""
            )
        )
        staged.rows = counts[0]
        if counts[1]:
            staged.warnings.append(f"{counts[1]} patient name/birth-date metadata row(s) dropped (PII, not landed)")
        if counts[2]:
            staged.warnings.append(f"{counts[2]} non-EGV row(s) kept in raw_wearable.vendor_file_meta")
        return staged
    if fmt_name == "fitbit_heartrate":
        ts = _col("Time")
        select = f"""
            'FB-' || {_col("Id")} AS __v_device_serial, 'fitbit' AS __v_vendor, 'heart_rate' AS __v_metric,
            {_col("Value")} AS __v_value, 'bpm' AS __v_unit,
            coalesce(strftime(try_strptime(trim({ts}), '%m/%d/%Y %I:%M:%S %p'), '%Y-%m-%d %H:%M:%S'), {ts})
                AS __v_measured_at,
            CAST({_extra(header, {"Id", "Time", "Value"})} AS JSON) AS _extra"""
    else:
        d = _col("ActivityDate")
        select = f"""
            'FB-' || {_col("Id")} AS __v_device_serial, 'fitbit' AS __v_vendor, 'steps' AS __v_metric,
            {_col("TotalSteps")} AS __v_value, 'steps' AS __v_unit,
            coalesce(strftime(try_strptime(trim({d}), '%m/%d/%Y'), '%Y-%m-%d %H:%M:%S'), {d})
                AS __v_measured_at,
            CAST({_extra(header, {"Id", "ActivityDate", "TotalSteps"})} AS JSON) AS _extra"""
    _stage_view(con, select, "TRUE", header)
    return staged


def insert_vendor_meta(con: duckdb.DuckDBPyConnection, fmt_name: str, meta_values: str) -> int:
    """Non-reading Dexcom rows -> raw_wearable.vendor_file_meta (never the PII rows)."""
    if fmt_name != "dexcom_clarity":
        return 0
    et = _col("Event Type")
    used = {
        "Event Type",
        "Event Subtype",
        "Device Info",
        "Source Device ID",
        "Transmitter ID",
        DEXCOM_TS,
        "Patient Info",
    }
    cols = con.execute("SELECT column_name FROM (DESCRIBE _rows)").fetchall()
    rest = [c for (c,) in cols if c not in used and c != "_ord"]
    payload = "json_object(" + ", ".join(f"{lit(h)}, {_col(h)}" for h in rest) + ")" if rest else "NULL"
    n = con.execute(
        f"""INSERT INTO raw_wearable.vendor_file_meta
        SELECT 'dexcom', {et}, {_col("Event Subtype")}, {_col("Device Info")}, {_col("Source Device ID")},
               {_col("Transmitter ID")}, {_col(DEXCOM_TS)}, CAST({payload} AS JSON), {meta_values}
        FROM _rowsl WHERE coalesce({et}, '') <> 'EGV' AND coalesce({et}, '') NOT IN {DEXCOM_PII_EVENTS}"""
    ).fetchone()
    return n[0] if n else 0
