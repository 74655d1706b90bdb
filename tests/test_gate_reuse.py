"""Verdict reuse (patient360.gates.scan_cache), the way an engineer meets it: `patient360 check`
and `publish` on a real dbt build. A table's PII value scan is reused only while the table, the
restricted zone's dictionaries and the rules are unchanged: a dictionary entry added to the
restricted zone (marts untouched) and a value planted into a mart are both caught on the run
after a reused one, reused metrics equal a fresh scan, a hand-edited cache is ignored, and
publish reuses what check scanned."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from patient360.release_tiers import ACTIVATION, AGGREGATE, PERSON, tier_tables

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
    # the person and activation tiers are copies of the checked marts: every one of their tables
    # is reused (the aggregate tier's small-cell suppression changes some of its tables)
    copies = len(tier_tables(PERSON)) + len(tier_tables(ACTIVATION))
    assert reused >= copies, (scanned, reused, copies)
    assert (wh.parent / "published" / "person" / "release.json").is_file()


def test_reused_metrics_equal_a_fresh_scan(built_warehouse: Path, tmp_path: Path, monkeypatch) -> None:
    from patient360.gates import collect_metrics
    from patient360.gates.schema_allowlist import ALLOWLIST_PATH

    wh = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, wh)

    def pii() -> list:
        found = collect_metrics(wh, k=5, allowlist=ALLOWLIST_PATH, gx_dir=tmp_path / "gx", as_of=None)
        return sorted((m.table, m.column, m.check, m.observed) for m in found if m.suite == "pii_masking")

    first, reused = pii(), pii()
    monkeypatch.setenv("P360_GATE_REUSE", "0")
    assert first == reused == pii() and len(first) > 1000


def test_a_hand_edited_cache_is_not_trusted(built_warehouse: Path, tmp_path: Path) -> None:
    """Entries are signed with the pseudonym key: zeroed counts written into the file are ignored."""
    wh = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, wh)
    _sql(wh, "UPDATE marts.fct_visits SET department = '13912345678' WHERE rowid = 1")
    assert cli("check", "--warehouse", wh).returncode == 1
    cache = wh.parent / "gx" / "pii_scan_cache.json"
    entries = json.loads(cache.read_text(encoding="utf-8"))
    for entry in entries.values():
        entry["rows"] = [[*row[:4], 0.0, row[5]] for row in entry["rows"]]
    cache.write_text(json.dumps(entries), encoding="utf-8")
    forged = cli("check", "--warehouse", wh)
    assert forged.returncode == 1, forged.stdout[-3000:]
    assert "fct_visits.department" in forged.stdout
    assert _scan_counts(forged)[0] == 1  # the edited entry (fct_visits: the others were zeros already)


def test_a_missing_restricted_zone_blocks_every_tier(built_warehouse: Path, tmp_path: Path) -> None:
    """The dictionaries are built once per release; what building them found (no restricted zone:
    names, serials and plain hashes cannot be checked) is reported by every tier, the aggregate
    tier published alone included."""
    wh = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, wh)
    _sql(wh, "DROP TABLE restricted.person_identifiers CASCADE")
    run = cli("publish", "--warehouse", wh, "--tier", AGGREGATE)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "dictionary_unavailable" in run.stdout + run.stderr
    assert not (wh.parent / "published" / AGGREGATE / "release.json").exists()
