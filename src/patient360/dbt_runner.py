"""Run the dbt CLI for the bundled project as a subprocess.

A subprocess, not dbt's in-process runner: DuckDB admits one writer process and the
in-process runner keeps the warehouse file open after it returns, so a later stage
in the same process (gates, publish, an Airflow task) could not open it. The child
exits, the lock goes with it. Output is streamed line by line so long builds show
progress in the terminal and in Airflow task logs.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from patient360 import dbt_parse_cache
from patient360.errors import P360Error, WarehouseLocked, explain
from patient360.paths import DBT_PROJECT_DIR
from patient360.pseudonym import load_key

log = logging.getLogger(__name__)


class DbtError(P360Error):
    """dbt exited non-zero."""


@dataclass(frozen=True)
class DbtResult:
    command: list[str]
    returncode: int
    target_dir: Path

    def run_results(self) -> dict:
        path = self.target_dir / "run_results.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def sources(self) -> list[dict]:
        """Per-source results of `dbt source freshness` (sources.json), else []."""
        path = self.target_dir / "sources.json"
        return json.loads(path.read_text(encoding="utf-8")).get("results", []) if path.exists() else []


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(
    args: list[str],
    warehouse: Path,
    *,
    as_of: date | str | None = None,
    dbt_vars: dict | None = None,
    target_dir: Path | None = None,
    check: bool = True,
) -> DbtResult:
    """Run `dbt <args>` against `warehouse`; raise DbtError on failure when check.

    `as_of` is the run's as-of date (the models' `as_of_date`), passed as P360_AS_OF_DATE so
    that a new date does not cost a full parse (patient360.dbt_parse_cache); `--vars
    as_of_date` given by hand still wins."""
    load_key()  # fail fast with a clear message instead of deep inside a model
    target_dir = (target_dir or DBT_PROJECT_DIR / "target").resolve()
    warehouse = Path(warehouse).resolve()
    cmd = [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    cmd += ["--target-path", str(target_dir)]
    if dbt_vars:
        cmd += ["--vars", json.dumps(dbt_vars)]
    env = {
        **os.environ,
        # relative to the working folder below: the profile dbt hashes for its parse state
        # then does not name the warehouse's folder, so the state carries over between folders
        "P360_WAREHOUSE": warehouse.name,
        "P360_AS_OF_DATE": str(as_of) if as_of else "",
        "DBT_LOG_PATH": str(target_dir.parent / "logs" if target_dir.name == "target" else target_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
    }
    warehouse.parent.mkdir(parents=True, exist_ok=True)  # dbt runs there (a new warehouse too)
    cached = dbt_parse_cache.cache_file(warehouse)
    dbt_parse_cache.seed(target_dir, cached)
    log.info("running: %s", " ".join(cmd))
    with subprocess.Popen(
        cmd, cwd=warehouse.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        locked = ""
        for line in proc.stdout:
            log.info("dbt | %s", line.rstrip())
            if "Could not set lock on file" in line:
                locked = line.strip()
        returncode = proc.wait()
    dbt_parse_cache.keep(target_dir, cached)
    result = DbtResult(cmd, returncode, target_dir)
    if returncode != 0 and locked:  # another process holds the warehouse: transient, say who
        raise WarehouseLocked(explain(duckdb.IOException(locked))[1])
    if check and returncode != 0:
        raise DbtError(f"dbt {' '.join(args)} failed (exit {returncode}); see the dbt output above and {target_dir}")
    return result
