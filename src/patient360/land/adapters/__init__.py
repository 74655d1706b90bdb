"""Vendor export formats: each an adapter whose only job is to produce the staged relation.

A file is recognised by content (detect.py asks each adapter's `matches` with the file's
first lines), whatever its name and wherever it sits in its source's partition. The
adapter then stages it (stage.py's one shape: `_line`, `__malformed`, `__layout`,
`__layout_detail`, `__v_<col>`, `_extra`, `_raw`) for the readings contract; validation,
loading and the audit are the same as for native files.

Formats (one module each): dexcom.py (Dexcom Clarity CSV), libre.py (LibreView CSV),
fitbit.py (Fitbit / Fitabase CSV tables), apple_health.py (Apple Health export.xml).

Censored values: a reading the device reports only as out of its range (Dexcom `Low` /
`High`, Libre `LO` / `HI`) lands with the range limit as `value` and
`_extra.censored` = 'below' | 'above'. Staging (stg_wearable__readings) carries
`censored` to the models and leaves `reading_value` NULL for such rows, so means
exclude them; they are counted through `censored`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from patient360.contracts import DEFAULT_TIME_ZONE
from patient360.land.schema import q
from patient360.land.stage import Staged, csv_record
from patient360.land.validate import lit


@dataclass(frozen=True)
class Input:
    """What an adapter needs of an inspected file."""

    path: Path  # what DuckDB reads (maybe a transcoded copy)
    gz: bool
    head_lines: list[str]
    physical_lines: int
    tmp_dir: Path


@dataclass(frozen=True)
class Adapter:
    name: str  # audit.file_loads.file_format
    vendor: str
    description: str  # one line for "accepted formats"
    matches: Callable[[list[str]], bool]  # the file's first lines -> is it this format?
    stage: Callable[[duckdb.DuckDBPyConnection, Input], Staged]
    source: str = "wearable"
    table: str = "readings"
    time_zone: str = DEFAULT_TIME_ZONE  # zone of the vendor's local times (zones.py overrides)
    encodings: tuple[str, ...] = ("utf-8", "utf-16")


def header_of(line: str) -> list[str]:
    return [h.strip() for h in next(csv.reader([line.lstrip("\ufeff")]))] if line else []


def col(name: str) -> str:
    return q(name)


def extra_json(header: list[str], used: set[str], more: str = "") -> str:
    """`_extra`: the columns an adapter does not map, plus `more` (SQL key/value pairs)."""
    pairs = [f"{lit(h)}, {col(h)}" for h in header if h not in used]
    if more:
        pairs.insert(0, more)
    return f"CAST(json_object({', '.join(pairs)}) AS JSON)" if pairs else "NULL::JSON"


def stage_view(con: duckdb.DuckDBPyConnection, select: str, where: str, header: list[str]) -> None:
    """The `_stage` view over `_rowsl`: one staged row per kept reader row."""
    con.execute(
        f"CREATE TEMP VIEW _stage AS SELECT _line, NULL::VARCHAR AS __malformed, {select}, "
        f"{csv_record(header)} AS _raw FROM _rowsl WHERE {where}"
    )


TWO_DIGIT_YEAR = "two_digit_year"


def parse_local(text: str, formats: list[str], rule: str = TWO_DIGIT_YEAR, layout_note: str = "") -> str:
    """SQL select items `__v_measured_at, __layout, __layout_detail` for a vendor date text.

    The first format that parses wins; a value none parses is passed through unchanged (it
    then fails `type:measured_at`). A two-digit year (`4/12/16`) is ambiguous and breaks
    `layout:two_digit_year` instead of landing in year 16."""
    x = f"trim({text})"
    parsed = "coalesce(" + ", ".join(f"try_strptime({x}, {lit(f)})" for f in formats) + ")"
    two_digit = f"regexp_matches({x}, '^[0-9]{{1,2}}[/.-][0-9]{{1,2}}[/.-][0-9]{{2}}([^0-9]|$)')"
    detail = f"{x} || {lit(': two-digit year is ambiguous; ' + layout_note)}"
    return (
        f"coalesce(strftime({parsed}, '%Y-%m-%d %H:%M:%S'), {text}) AS __v_measured_at, "
        f"CASE WHEN {two_digit} THEN {lit(rule)} END AS __layout, "
        f"CASE WHEN {two_digit} THEN {detail} END AS __layout_detail"
    )


def all_adapters() -> list[Adapter]:
    from patient360.land.adapters import apple_health, dexcom, fitbit, libre

    return [dexcom.ADAPTER, libre.ADAPTER, *fitbit.ADAPTERS, apple_health.ADAPTER]
