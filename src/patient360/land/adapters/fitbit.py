"""Fitbit CSV tables (Fitabase / "Fitbit Fitness Tracker Data" layout and Fitbit's own
account export), recognised by their header under any file name.

| header                                   | metric        | unit  | period  |
|------------------------------------------|---------------|-------|---------|
| Id, Time, Value (heartrate_seconds)      | heart_rate    | bpm   | sample  |
| Id, ActivityMinute, Steps (minuteSteps)  | steps         | steps | minute  |
| Id, ActivityHour, StepTotal (hourlySteps)| steps         | steps | hour    |
| Id, ActivityDate, TotalSteps, ...        | steps         | steps | day     |
| Id, ActivityDay, StepTotal (dailySteps)  | steps         | steps | day     |
| Id, SleepDay, TotalSleepRecords, TotalMinutesAsleep, TotalTimeInBed | sleep_minutes | min | day |

device_serial = 'FB-' || Id (Fitbit exports carry a user id, not a serial; the prefix
keeps it apart from other vendors' serials). vendor fitbit. `_extra.period` names the
aggregation, so minute, hourly and daily steps of one device stay apart in staging.
Unmapped columns (distances, minutes, calories, time in bed) stay in `_extra`.

Dates: `M/D/YYYY h:mm:ss AM` (Fitabase), `M/D/YYYY` and `YYYY-MM-DD[ HH:MM:SS]`
(account export): both daily date styles are read. A two-digit year (`4/12/16`, what a
spreadsheet re-save writes) breaks `layout:two_digit_year` instead of landing in the
year 16; a value no layout parses fails `type:measured_at`.
"""

from __future__ import annotations

from functools import partial

import duckdb

from patient360.land.adapters import Adapter, Input, col, extra_json, header_of, parse_local, stage_view
from patient360.land.files import FileProblem
from patient360.land.stage import Staged, read_csv_rows
from patient360.land.validate import lit

FORMATS = ["%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]
NOTE = "Fitbit dates are M/D/YYYY or YYYY-MM-DD"
# name: (time column, value column, metric, unit, period)
TABLES = {
    "fitbit_heartrate": ("Time", "Value", "heart_rate", "bpm", "sample"),
    "fitbit_minute_steps": ("ActivityMinute", "Steps", "steps", "steps", "minute"),
    "fitbit_hourly_steps": ("ActivityHour", "StepTotal", "steps", "steps", "hour"),
    "fitbit_daily_activity": ("ActivityDate", "TotalSteps", "steps", "steps", "day"),
    "fitbit_daily_steps": ("ActivityDay", "StepTotal", "steps", "steps", "day"),
    "fitbit_sleep_day": ("SleepDay", "TotalMinutesAsleep", "sleep_minutes", "min", "day"),
}
DESCRIPTIONS = {
    "fitbit_heartrate": "Fitbit heart rate seconds (Id,Time,Value)",
    "fitbit_minute_steps": "Fitbit minute steps (Id,ActivityMinute,Steps)",
    "fitbit_hourly_steps": "Fitbit hourly steps (Id,ActivityHour,StepTotal)",
    "fitbit_daily_activity": "Fitbit daily activity (Id,ActivityDate,TotalSteps,...)",
    "fitbit_daily_steps": "Fitbit daily steps (Id,ActivityDay,StepTotal)",
    "fitbit_sleep_day": "Fitbit sleep per day (Id,SleepDay,...,TotalMinutesAsleep) -> sleep_minutes",
}


def matches(name: str, lines: list[str]) -> bool:
    header = header_of(lines[0]) if lines else []
    ts, value = TABLES[name][:2]
    return bool(header) and header[0] == "Id" and ts in header and value in header


def stage(name: str, con: duckdb.DuckDBPyConnection, src: Input) -> Staged:
    header = header_of(src.head_lines[0])
    ts, value, metric, unit, period = TABLES[name]
    if not matches(name, src.head_lines):
        raise FileProblem("missing_column", f"{name} export lacks Id, {ts} or {value}")
    staged = read_csv_rows(con, src.path, header, src.gz, src.physical_lines)
    select = f"""{parse_local(col(ts), FORMATS, layout_note=NOTE)},
        'FB-' || trim({col("Id")}) AS __v_device_serial, 'fitbit' AS __v_vendor, {lit(metric)} AS __v_metric,
        {col(value)} AS __v_value, {lit(unit)} AS __v_unit,
        {extra_json(header, {"Id", ts, value}, f"'period', {lit(period)}")} AS _extra"""
    stage_view(con, select, "TRUE", header)
    return staged


ADAPTERS = [
    Adapter(
        name=name,
        vendor="fitbit",
        description=DESCRIPTIONS[name],
        matches=partial(matches, name),
        stage=partial(stage, name),
    )
    for name in TABLES
]
