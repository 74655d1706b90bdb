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


# A child that lands the small exports and stops right after the GBK HIS file was
# transcoded (personal data in clear, UTF-8, on disk): it reports the transcoded file's
# path to a marker and waits `pause` seconds (killed meanwhile, or continues).
CHILD_AFTER_TRANSCODE = """
import sys, time
from pathlib import Path
from patient360.land import files
from patient360.cli import main

exports, warehouse, marker, pause = sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])
transcode = files._transcode

def transcode_then_wait(ef, tmp_dir, encoding, info):
    transcode(ef, tmp_dir, encoding, info)
    marker.write_text(str(next(Path(tmp_dir).iterdir())))
    time.sleep(pause)

files._transcode = transcode_then_wait
sys.exit(main(["land", "--exports", exports, "--warehouse", warehouse]))
"""


def _start_until_transcoded(tmp_path: Path, pause: float) -> tuple[subprocess.Popen[bytes], Path, Path]:
    exports, wh, marker = tmp_path / "exports", tmp_path / "wh.duckdb", tmp_path / "transcoded"
    write_small_exports(exports)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD_AFTER_TRANSCODE, str(exports), str(wh), str(marker), str(pause)]
    )
    deadline = time.monotonic() + 120
    while not (marker.exists() and marker.read_text()):
        assert proc.poll() is None, "landing exited before the GBK file was transcoded"
        assert time.monotonic() < deadline, "the GBK file was never transcoded"
        time.sleep(0.05)
    return proc, wh, Path(marker.read_text())


def test_personal_scratch_is_private_and_a_killed_landings_leftovers_go_at_next_start(tmp_path: Path) -> None:
    from patient360.private_tmp import scratch_root

    proc, wh, transcoded = _start_until_transcoded(tmp_path, pause=120)
    try:
        root = scratch_root(wh)
        assert transcoded.is_relative_to(root), f"personal data transcoded outside the restricted area: {transcoded}"
        assert "北京市" in transcoded.read_text(encoding="utf-8")  # the clear text the rule is about
        for folder in (root.parent, root, transcoded.parent):
            assert folder.stat().st_mode & 0o777 == 0o700, f"{folder} is not private"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert transcoded.exists()  # SIGKILL runs no cleanup: the leftover is there ...

    land_exports(tmp_path / "exports", wh)
    assert list(root.iterdir()) == []  # ... until the next landing starts


def test_sigterm_mid_landing_removes_the_scratch_on_the_way_out(tmp_path: Path) -> None:
    from patient360.private_tmp import scratch_root

    proc, wh, transcoded = _start_until_transcoded(tmp_path, pause=3)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) == 130  # the CLI's documented "interrupted" exit code
    assert not transcoded.exists() and list(scratch_root(wh).iterdir()) == []
