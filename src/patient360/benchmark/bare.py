"""The files a bare DuckDB reader can read, for the landing-vs-bare-read comparison."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from patient360.land.files import discover


def reader_for(path: Path) -> str:
    return "read_json" if ".ndjson" in path.name else "read_csv"


def comparable_files(exports: Path, out: Path, day=None) -> tuple[list[Path], list[str]]:
    """Hard-link every contract file of `exports` (or of one `day`) that DuckDB's own readers
    can read (UTF-8, intact) into `out`, same layout; both sides of the comparison read `out`.
    Returns the linked files and a note per file left out (GBK HIS files, planted broken files)."""
    con = duckdb.connect()
    kept, skipped = [], []
    try:
        for ef in discover(exports, day):
            if ef.contract is None:
                continue
            try:  # a full read: GBK or broken files fail here
                con.execute(f"SELECT count(*) FROM {reader_for(ef.path)}(?)", [str(ef.path)]).fetchone()
            except duckdb.Error as exc:
                skipped.append(f"{ef.rel_path}: {str(exc).splitlines()[0][:80]}")
                continue
            dest = out / ef.rel_path
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                os.link(ef.path, dest)
            kept.append(dest)
    finally:
        con.close()
    return kept, skipped
