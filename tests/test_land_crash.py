"""A landing killed mid-transaction leaves no partial rows; the re-run lands cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from patient360.land import land_exports
from test_land_support import EXPECTED_QUARANTINE, P, assert_invariant, write_small_exports

# The landing runs in a child process. The fault injection lives here, not in the loader:
# the child wraps the loader's audit-row writer, which `_load_rows` calls as the last
# statement before COMMIT, so that once the first file's raw rows, quarantine rows and
# audit row are all written (not committed) it reports the rows in flight to a marker
# file and waits to be killed.
CHILD = """
import sys, time
from pathlib import Path
from patient360.land import land_exports, loader

exports, warehouse, marker = map(Path, sys.argv[1:4])
write_audit_row = loader._audit

def audit_then_wait_for_the_kill(con, ctx, problem=None):
    write_audit_row(con, ctx, problem)
    if ctx.result.rows_landed:  # inside _load_rows' transaction
        marker.write_text(str(ctx.result.rows_landed + ctx.result.rows_quarantined))
        time.sleep(120)

loader._audit = audit_then_wait_for_the_kill
land_exports(exports, warehouse)
"""


def test_sigkill_inside_the_file_transaction_then_rerun(tmp_path: Path) -> None:
    exports, wh, marker = tmp_path / "exports", tmp_path / "wh.duckdb", tmp_path / "rows_in_flight"
    write_small_exports(exports)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(exports), str(wh), str(marker)])
    try:
        deadline = time.monotonic() + 120  # generous: the machine may be loaded
        while not (marker.exists() and marker.read_text()):
            assert proc.poll() is None, "landing exited before the first file's transaction was written"
            assert time.monotonic() < deadline, "the first file's transaction was never reached"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert int(marker.read_text()) > 0  # rows were written inside the killed transaction

    con = duckdb.connect(str(wh))
    try:  # nothing of the interrupted file survived, whichever raw table it was landing into
        raw = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name LIKE 'raw_%'")
        raw = raw.fetchall()
        assert len(raw) > 1
        for schema, table in raw:
            assert con.execute(f'SELECT count(*) FROM {schema}."{table}"').fetchone() == (0,), f"{schema}.{table}"
        assert con.execute("SELECT count(*) FROM audit.file_loads").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM audit.quarantine").fetchone() == (0,)
    finally:
        con.close()

    report = land_exports(exports, wh)
    assert report.ok and {f.status for f in report.files} == {"landed_with_quarantine"}
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM raw_his.patients").fetchone() == (3,)
        assert con.execute("SELECT count(*) FROM audit.file_loads WHERE file_path = ?", [P]).fetchone() == (1,)
        got = set(con.execute("SELECT file_path, line_number, rule FROM audit.quarantine").fetchall())
    finally:
        con.close()
    assert got == EXPECTED_QUARANTINE
    assert_invariant(wh)
