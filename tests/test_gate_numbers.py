"""Money read as a digit string, on a real dbt build through `patient360 check`: at 1M patients a
segment's revenue reaches 100-200 million (DECIMAL(18,2)), and with the decimal point removed
130743350.33 spells an 11-digit mobile. A mobile has no checksum, so the cents reading of a
mobile counts only when it is a restricted mobile; the whole-number reading keeps the pattern."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patient360", *map(str, args)], capture_output=True, text=True, timeout=600
    )


def _restricted_mobile(wh: Path) -> str:
    con = duckdb.connect(str(wh), read_only=True)
    (m,) = con.execute(
        "SELECT min(identifier_value) FROM restricted.person_identifiers WHERE identifier_type = 'mobile' "
        "AND regexp_full_match(identifier_value, '1[3-9][0-9]{9}')"
    ).fetchone()
    con.close()
    return m


@pytest.mark.parametrize(
    ("value", "blocks"),
    [
        ("130743350.33", False),  # a 1M-patient segment's revenue: spells 13074335033, nobody's mobile
        ("RESTRICTED_AS_CENTS", True),  # a restricted mobile hidden as cents
        ("13912345678.00", True),  # any mobile as a whole number
    ],
)
def test_money_that_spells_a_mobile(built_warehouse: Path, tmp_path: Path, value: str, blocks: bool) -> None:
    wh = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, wh)
    if value == "RESTRICTED_AS_CENTS":
        m = _restricted_mobile(wh)
        value = f"{m[:9]}.{m[9:]}"
    con = duckdb.connect(str(wh))
    con.execute(f"UPDATE marts.kpi_ltv_by_segment SET horizon_revenue = {value} WHERE rowid = 0")
    con.close()
    run = cli("check", "--warehouse", wh)
    flagged = "kpi_ltv_by_segment.horizon_revenue" in run.stdout and "mobile" in run.stdout
    assert flagged is blocks and run.returncode == (1 if blocks else 0), run.stdout[-3000:]
