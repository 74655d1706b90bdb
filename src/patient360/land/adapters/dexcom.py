"""Dexcom Clarity CSV export (G6 and G7; mg/dL or mmol/L), under any file name
(Clarity's default is `Clarity_Export_<Last>_<First>_<date>.csv`).

Layout (Clarity "Export" documentation): a header row `Index, Timestamp
(YYYY-MM-DDThh:mm:ss), Event Type, Event Subtype, Patient Info, Device Info, Source
Device ID, Glucose Value (mg/dL) | Glucose Value (mmol/L), Insulin Value (u), Carb Value
(grams), Duration (hh:mm:ss), Glucose Rate of Change (<unit>/min), Transmitter Time (Long
Integer), Transmitter ID`, then patient-information rows (`FirstName`, `LastName`,
`DateOfBirth`; Clarity writes them with fewer fields than reading rows), device and alert
rows, then events. Timestamps are the receiver's local display time without an offset.

Only `Event Type = EGV` rows are readings: metric glucose, unit from the header, vendor
dexcom, device_serial = Transmitter ID (else Source Device ID). `Low` / `High` are
censored values (below 40 / above 400 mg/dL, 2.2 / 22.2 mmol/L): see adapters/__init__.
Patient-information rows hold direct identifiers: they are dropped at landing whatever
their width, never stored anywhere (quarantine included); `Patient Info` is never read
into a table; the file's audit warning counts them. Other non-EGV rows (Device, Alert,
Calibration, Insulin, Carbs, ...) go to the restricted `raw_wearable.vendor_file_meta`.
rows_read counts EGV rows plus malformed lines that are not patient information.
"""

from __future__ import annotations

import duckdb

from patient360.land.adapters import Adapter, Input, col, extra_json, header_of, stage_view
from patient360.land.files import FileProblem
from patient360.land.stage import Staged, read_csv_rows
from patient360.land.validate import lit
from patient360.warehouse import one

TS = "Timestamp (YYYY-MM-DDThh:mm:ss)"
GLUCOSE = {"mg/dL": "Glucose Value (mg/dL)", "mmol/L": "Glucose Value (mmol/L)"}
LIMITS = {"mg/dL": ("40", "400"), "mmol/L": ("2.2", "22.2")}  # Low / High: the sensor's range
PII_EVENTS = ("FirstName", "LastName", "DateOfBirth")
REQUIRED = ("Event Type", "Event Subtype", "Device Info", TS, "Transmitter ID", "Source Device ID")
# the raw text of a malformed patient-information line (Event Type is the third field)
PII_LINE_RE = r"^[^,]*,[^,]*,\"?(" + "|".join(PII_EVENTS) + r")\"?(,|$)"


def _unit(header: list[str]) -> str | None:
    return next((u for u, name in GLUCOSE.items() if name in header), None)


def matches(lines: list[str]) -> bool:
    header = header_of(lines[0]) if lines else []
    return "Event Type" in header and TS in header and _unit(header) is not None


def stage(con: duckdb.DuckDBPyConnection, src: Input) -> Staged:
    header = header_of(src.head_lines[0])
    unit = _unit(header)
    missing = [c for c in REQUIRED if c not in header]
    if unit is None or missing:
        raise FileProblem("missing_column", f"dexcom_clarity export lacks column(s): {', '.join(missing)}")
    staged = read_csv_rows(con, src.path, header, src.gz, src.physical_lines, null_padding=True)
    pii_malformed = one(con.execute("SELECT count(*) FROM _malformed WHERE regexp_matches(raw, ?)", [PII_LINE_RE]))[0]
    if pii_malformed:  # never stored, not even in quarantine
        con.execute("DELETE FROM _malformed WHERE regexp_matches(raw, ?)", [PII_LINE_RE])
        staged.malformed -= pii_malformed
    g, et = col(GLUCOSE[unit]), col("Event Type")
    low, high = LIMITS[unit]
    censored = f"CASE lower(trim({g})) WHEN 'low' THEN 'below' WHEN 'high' THEN 'above' END"
    glucose_text = f"CASE WHEN lower(trim({g})) IN ('low', 'high') THEN {g} END"
    used = {"Event Type", TS, GLUCOSE[unit], "Transmitter ID", "Patient Info", "Index"}
    extra = extra_json(header, used, f"'glucose_text', {glucose_text}, 'censored', {censored}")
    select = f"""NULL::VARCHAR AS __layout, NULL::VARCHAR AS __layout_detail,
        coalesce(NULLIF(trim({col("Transmitter ID")}), ''), NULLIF(trim({col("Source Device ID")}), ''))
            AS __v_device_serial,
        'dexcom' AS __v_vendor, 'glucose' AS __v_metric,
        CASE lower(trim({g})) WHEN 'low' THEN {lit(low)} WHEN 'high' THEN {lit(high)} ELSE {g} END AS __v_value,
        {lit(unit)} AS __v_unit,
        replace({col(TS)}, 'T', ' ') AS __v_measured_at,
        {extra} AS _extra"""
    stage_view(con, select, f"{et} = 'EGV'", [h for h in header if h != "Patient Info"])
    egv, pii, other = one(
        con.execute(
            f"""SELECT count(*) FILTER (WHERE {et} = 'EGV'), count(*) FILTER (WHERE {et} IN {PII_EVENTS}),
                   count(*) FILTER (WHERE coalesce({et}, '') <> 'EGV' AND {et} NOT IN {PII_EVENTS})
            FROM _rowsl"""
        )
    )
    staged.rows = egv
    if pii + pii_malformed:
        staged.warnings.append(
            f"{pii + pii_malformed} patient name/birth-date row(s) dropped (direct identifiers, never stored)"
        )
    if other:
        staged.warnings.append(f"{other} non-EGV row(s) kept in raw_wearable.vendor_file_meta")
    staged.after_insert = lambda c, meta: _insert_meta(c, header, meta)
    return staged


def _insert_meta(con: duckdb.DuckDBPyConnection, header: list[str], meta_values: str) -> None:
    """Non-reading rows -> raw_wearable.vendor_file_meta (never the patient-information rows)."""
    et = col("Event Type")
    used = {"Event Type", "Event Subtype", "Device Info", "Source Device ID", "Transmitter ID", TS, "Patient Info"}
    payload = extra_json(header, used | {"Index"})
    con.execute(
        f"""INSERT INTO raw_wearable.vendor_file_meta
        SELECT 'dexcom', {et}, {col("Event Subtype")}, {col("Device Info")}, {col("Source Device ID")},
               {col("Transmitter ID")}, {col(TS)}, {payload}, {meta_values}
        FROM _rowsl WHERE coalesce({et}, '') <> 'EGV' AND coalesce({et}, '') NOT IN {PII_EVENTS}"""
    )


ADAPTER = Adapter(
    name="dexcom_clarity",
    vendor="dexcom",
    description="Dexcom Clarity CSV export (G6/G7, mg/dL or mmol/L; e.g. Clarity_Export_*.csv)",
    matches=matches,
    stage=stage,
)
