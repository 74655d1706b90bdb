"""Style gates that CI enforces: ruff on all Python (the SQL is linted with sqlfluff, see README)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_is_clean():
    ruff = Path(sys.executable).with_name("ruff")
    # --no-cache: no test writes into the source tree (ruff would create .ruff_cache/ there)
    proc = subprocess.run(
        [str(ruff), "check", "--no-cache", "src", "tests", "dags", "scripts"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
