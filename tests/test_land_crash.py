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
from patient360.land.loader import PAUSE_ENV, PAUSE_MARKER_ENV
from test_land_support import EXPECTED_QUARANTINE, P, assert_invariant, write_small_exports


def test_sigkill_inside_the_file_transaction_then_rerun(tmp_path: Path) -> None:
    exports, wh, marker = tmp_path / "exports", tmp_path / "wh.duckdb", tmp_path / "paused"
    write_small_exports(exports)
    env = {**os.environ, PAUSE_ENV: "60", PAUSE_MARKER_ENV: str(marker)}
    code = (
        "import sys; from pathlib import Path; from patient360.land import land_exports; "
        "land_exports(Path(sys.argv[1]), Path(sys.argv[2]))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(exports), str(wh)], env=env)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():  # the first file's raw rows are inserted, not committed
            assert proc.poll() is None, "landing exited before reaching the pause hook"
            assert time.monotonic() < deadline, "pause hook never reached"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    con = duckdb.connect(str(wh))
    try:  # nothing of the interrupted file survived
        assert con.execute("SELECT count(*) FROM raw_his.patients").fetchone() == (0,)
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
