"""Verdict reuse (patient360.gates.scan_cache), the way an engineer meets it: `patient360 check`
and `publish` on a real dbt build. A table's PII value scan is reused only while the table, the
restricted zone's dictionaries and the rules are unchanged: a dictionary entry added to the
restricted zone (marts untouched) and a value planted into a mart are both caught on the run
after a reused one, and publish reuses what check scanned."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

TABLE, COLUMN = "fct_prescriptions", "drug_code"


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patient360", *map(str, args)], capture_output=True, text=True, timeout=600
    )


def _scan_counts(run: subprocess.CompletedProcess[str]) -> tuple[int, int]:
    found = re.search(r"PII value scan: (\d+) table\(s\) scanned, (\d+) reused", run.stderr)
    assert found, run.stderr[-2000:]
    return int(found.group(1)), int(found.group(2))


def _sql(wh: Path, sql: str, params: list | None = None) -> None:
    con = duckdb.connect(str(wh))
    con.execute(sql, params or [])
    con.close()


def test_reuse_follows_the_tables_and_the_dictionaries(built_warehouse: Path, tmp_path: Path) -> None:
    wh = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, wh)
    con = duckdb.connect(str(wh), read_only=True)
    tables = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'marts'").fetchone()[0]
    code = con.execute(f"SELECT any_value({COLUMN}) FROM marts.{TABLE}").fetchone()[0]
    con.close()

    first = cli("check", "--warehouse", wh)
    assert first.returncode == 0, first.stdout[-3000:]
    assert _scan_counts(first) == (tables, 0)
    again = cli("check", "--warehouse", wh)
    assert again.returncode == 0, again.stdout[-3000:]
    assert _scan_counts(again) == (0, tables)  # nothing changed: every table's scan reused

    # a new restricted identifier that a published value spells: no mart changed, the verdict must
    _sql(wh, "INSERT INTO restricted.person_identifiers SELECT any_value(patient_key), 'wechat_id', ? "
         "FROM restricted.person_identifiers", [code])  # fmt: skip
    caught = cli("check", "--warehouse", wh)
    assert caught.returncode == 1, caught.stdout[-3000:]
    assert f"{TABLE}.{COLUMN}" in caught.stdout
    assert _scan_counts(caught) == (tables, 0)  # new dictionaries: nothing reused

    _sql(wh, "DELETE FROM restricted.person_identifiers WHERE identifier_value = ?", [code])
    assert cli("check", "--warehouse", wh).returncode == 0

    # a planted mobile in one mart: that table is scanned again (the others are reused)
    _sql(wh, "UPDATE marts.fct_visits SET department = '13912345678' WHERE rowid = 1")
    planted = cli("check", "--warehouse", wh)
    assert planted.returncode == 1, planted.stdout[-3000:]
    assert "fct_visits.department" in planted.stdout and "mobile" in planted.stdout
    assert _scan_counts(planted) == (1, tables - 1)


def test_publish_reuses_what_check_scanned(built_warehouse: Path, tmp_path: Path) -> None:
    wh = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, wh)
    assert cli("check", "--warehouse", wh).returncode == 0
    run = cli("publish", "--warehouse", wh)
    assert run.returncode == 0, run.stderr[-3000:]
    scanned, reused = _scan_counts(run)
    # the person and activation tiers are copies of the checked marts; the aggregate tier's
    # small-cell suppression changes some of its tables, which are scanned
    assert reused > 0 and scanned + reused > reused, (scanned, reused)
    assert (wh.parent / "published" / "person" / "release.json").is_file()
