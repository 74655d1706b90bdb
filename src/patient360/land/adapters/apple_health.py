"""Apple Health `export.xml` (Health app -> Export All Health Data), under any file name.

Read with a streaming XML parser (expat, no tree is kept): memory stays bounded whatever
the file's size; each supported `<Record>` (nested in a `<Correlation>` or not) is
written to a temporary CSV that DuckDB stages. Records used:

| HK type                                        | metric        | unit                   |
|------------------------------------------------|---------------|------------------------|
| HKQuantityTypeIdentifierHeartRate              | heart_rate    | count/min -> bpm       |
| HKQuantityTypeIdentifierStepCount              | steps         | count -> steps         |
| HKQuantityTypeIdentifierBloodGlucose           | glucose       | mg/dL, mmol<180.15...>/L -> mmol/L |
| HKQuantityTypeIdentifierBloodPressureSystolic  | systolic      | mmHg                   |
| HKQuantityTypeIdentifierBloodPressureDiastolic | diastolic     | mmHg                   |
| HKCategoryTypeIdentifierSleepAnalysis (asleep) | sleep_minutes | endDate - startDate, min |

measured_at = startDate, which carries its offset (`2026-10-30 08:00:00 +0800`), so it
is an instant whatever the loading server's zone. Other record types are skipped (the
audit warning counts them). The `<Me>` element (date of birth, sex) and `sourceName`
(often "<name>'s Apple Watch") are never stored: device_serial = 'AH-' + the first 12
hex digits of sha256(sourceName), stable per device and person, with no name in it.
rows_read counts supported records; a document that is not well-formed XML adds one
malformed line (the records before the fault still land).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from datetime import datetime
from pathlib import Path
from typing import IO, cast
from xml.parsers import expat

import duckdb

from patient360.land.adapters import Adapter, Input
from patient360.land.stage import Staged, reset
from patient360.land.validate import lit
from patient360.warehouse import one

QUANTITY = {
    "HKQuantityTypeIdentifierHeartRate": "heart_rate",
    "HKQuantityTypeIdentifierStepCount": "steps",
    "HKQuantityTypeIdentifierBloodGlucose": "glucose",
    "HKQuantityTypeIdentifierBloodPressureSystolic": "systolic",
    "HKQuantityTypeIdentifierBloodPressureDiastolic": "diastolic",
}
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
UNITS = {"count/min": "bpm", "count": "steps", "mg/dL": "mg/dL", "mmHg": "mmHg", "min": "min"}
COLUMNS = ("xml_line", "hk_type", "metric", "unit", "value", "start_date", "device_serial")


def matches(lines: list[str]) -> bool:
    head = "\n".join(lines[:40])
    return "<HealthData" in head or "<!DOCTYPE HealthData" in head


def _unit(hk_unit: str) -> str:
    if hk_unit.startswith("mmol") and hk_unit.endswith("/L"):
        return "mmol/L"  # Apple writes mmol<180.1558800000541>/L (molar mass of glucose)
    return UNITS.get(hk_unit, hk_unit)


def _minutes(start: str, end: str) -> str:
    fmt = "%Y-%m-%d %H:%M:%S %z"
    try:
        return f"{(datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds() / 60:g}"
    except ValueError:
        return ""


def _serial(source_name: str, cache: dict[str, str]) -> str:
    if source_name not in cache:
        cache[source_name] = "AH-" + hashlib.sha256(source_name.encode("utf-8")).hexdigest()[:12]
    return cache[source_name]


def extract(xml: IO[bytes], out: IO[str]) -> tuple[int, int, str | None]:
    """Stream `xml`, write supported records to `out` (CSV); (records, skipped, parse error)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    parser = expat.ParserCreate()
    counts = [0, 0]
    serials: dict[str, str] = {}

    def start(tag: str, a: dict[str, str]) -> None:
        if tag != "Record":
            return
        kind, line = a.get("type", ""), parser.CurrentLineNumber
        serial = _serial(a.get("sourceName", ""), serials)
        if kind in QUANTITY:
            row = (line, kind, QUANTITY[kind], _unit(a.get("unit", "")), a.get("value", ""), a.get("startDate", ""))
        elif kind == SLEEP and "Asleep" in a.get("value", ""):
            start_d, end_d = a.get("startDate", ""), a.get("endDate", "")
            row = (line, kind, "sleep_minutes", "min", _minutes(start_d, end_d), start_d)
        else:
            counts[1] += 1
            return
        counts[0] += 1
        writer.writerow((*row, serial))

    parser.StartElementHandler = start
    try:
        parser.ParseFile(xml)
    except expat.ExpatError as exc:
        return counts[0], counts[1], f"XML not well-formed at line {exc.lineno}: {expat.ErrorString(exc.code)}"
    return counts[0], counts[1], None


def _open_binary(path: Path, gz: bool) -> IO[bytes]:
    """The export's bytes, inflated when gzipped (Apple exports are often zipped/gzipped)."""
    return cast(IO[bytes], gzip.open(path, "rb") if gz else path.open("rb"))


def stage(con: duckdb.DuckDBPyConnection, src: Input) -> Staged:
    reset(con)
    tmp = src.tmp_dir / f"{src.path.name}.{id(src)}.apple.csv"
    with _open_binary(src.path, src.gz) as xml, tmp.open("w", encoding="utf-8", newline="") as out:
        records, skipped, error = extract(xml, out)
    try:
        cols = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in COLUMNS) + "}"
        con.execute(
            f"CREATE TEMP TABLE _rows AS SELECT * FROM read_csv({lit(str(tmp))}, header = true, "
            f"auto_detect = false, columns = {cols}, quote = '\"', escape = '\"')"
        )
    finally:
        tmp.unlink(missing_ok=True)
    con.execute("CREATE TEMP VIEW _rowsl AS SELECT *, CAST(xml_line AS BIGINT) AS _line FROM _rows")
    con.execute("CREATE TEMP TABLE _malformed (_rec BIGINT, raw VARCHAR, detail VARCHAR, _line BIGINT)")
    if error:
        line = int(error.split("line ", 1)[1].split(":", 1)[0])
        con.execute("INSERT INTO _malformed VALUES (NULL, NULL, ?, ?)", [error, line])
    raw = "'<Record type=\"' || hk_type || '\" unit=\"' || unit || '\" startDate=\"' || start_date || '\" value=\"' || value || '\"/>'"  # noqa: E501
    con.execute(
        f"""CREATE TEMP VIEW _stage AS SELECT _line, NULL::VARCHAR AS __malformed,
            NULL::VARCHAR AS __layout, NULL::VARCHAR AS __layout_detail,
            device_serial AS __v_device_serial, 'apple' AS __v_vendor, metric AS __v_metric,
            NULLIF(value, '') AS __v_value, unit AS __v_unit, start_date AS __v_measured_at,
            CAST(json_object('hk_type', hk_type) AS JSON) AS _extra, {raw} AS _raw
        FROM _rowsl"""
    )
    staged = Staged(direct=False, carry=["_line", "_extra"], header_lines=0)
    staged.rows = one(con.execute("SELECT count(*) FROM _rows"))[0]
    assert staged.rows == records
    staged.malformed = 1 if error else 0
    if skipped:
        staged.warnings.append(f"{skipped} record(s) of other Health types skipped")
    return staged


ADAPTER = Adapter(
    name="apple_health",
    vendor="apple",
    description="Apple Health export.xml (heart rate, steps, glucose, blood pressure, sleep)",
    matches=matches,
    stage=stage,
)
