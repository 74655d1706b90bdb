"""Land a small generated export set: every planted defect in _truth/dirt.csv is quarantined
with its expected rule, and nothing else is (exact match)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from patient360 import generate
from patient360.generate import exports as generate_exports_module
from patient360.land import land_exports
from test_land_support import assert_invariant


def _key(source: str, table: str, file: str, line: object, rule: str) -> tuple:
    # dirt.csv may name the file by path (relative to the exports folder) or by name only
    return (source, table, file.rsplit("/", 1)[-1], None if line in (None, "") else int(line), rule)


@pytest.mark.parametrize("chunk_rows", [None, 37], ids=["one_chunk", "many_chunks"])
def test_generated_dirt_is_quarantined_exactly(tmp_path: Path, monkeypatch, chunk_rows) -> None:
    """Also with exports written in many small chunks (as 1M-patient exports are): dirt and
    its logged line numbers stay exact across chunk boundaries."""
    if chunk_rows:
        monkeypatch.setattr(generate_exports_module, "EXPORT_CHUNK_ROWS", chunk_rows)
    exports, wh = tmp_path / "exports", tmp_path / "wh.duckdb"
    generate.generate_exports(exports, patients=300, days=3, seed=7, progress=False)
    with (exports / "_truth" / "dirt.csv").open(encoding="utf-8", newline="") as fh:
        dirt = [row for row in csv.DictReader(fh) if row["expected_rule"] != "duplicate"]
    assert dirt, "the generator planted no dirt"
    expected = Counter(
        _key(
            d["source"],
            d["table"],
            d["file"],
            d["line_number"] if not d["expected_rule"].startswith("file:") else None,
            d["expected_rule"],
        )
        for d in dirt
    )
    report = land_exports(exports, wh)
    assert all(f.status not in ("failed",) for f in report.files), report.render()
    con = duckdb.connect(str(wh), read_only=True)
    try:
        got = Counter(
            _key(*row)
            for row in con.execute(
                "SELECT source, table_name, file_path, line_number, rule FROM audit.quarantine"
            ).fetchall()
        )
        landed = con.execute("SELECT sum(rows_landed) FROM audit.file_loads").fetchone()[0]
    finally:
        con.close()
    assert got - expected == Counter(), "quarantined but not planted"
    assert expected - got == Counter(), "planted but not quarantined"
    assert landed > 0
    assert_invariant(wh)
