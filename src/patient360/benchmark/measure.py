"""Run one benchmark stage in a child process and measure it as a whole.

Wall time from the parent's clock; CPU time (user + system) from the child's rusage,
which includes every descendant it waited for (dbt's subprocesses, DuckDB's threads);
peak memory as the largest sum of RSS over the child's whole process tree, sampled
every `SAMPLE_SECONDS`, and never less than the largest single-process peak the
kernel recorded (ru_maxrss), so a short spike between samples is not lost entirely.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.05


class StageFailed(RuntimeError):
    """A measured stage exited non-zero."""


@dataclass
class Measurement:
    stage: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    result: dict = field(default_factory=dict)  # what the stage reported (rows, timings, ...)


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_stage(stage: str, params: dict, log_file: Path, env: dict[str, str] | None = None) -> Measurement:
    """Run `python -m patient360.benchmark.stage <stage>` with `params`; measure it."""
    with tempfile.NamedTemporaryFile(prefix=f"p360-bench-{stage}-", suffix=".json", delete=False) as fh:
        result_path = Path(fh.name)
    cmd = [sys.executable, "-m", "patient360.benchmark.stage", stage, json.dumps(params), str(result_path)]
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a", encoding="utf-8") as log:
        log.write(f"\n$ {stage} {json.dumps(params)}\n")
        log.flush()
        load = os.getloadavg()[0]  # other work on a shared machine inflates wall time: recorded, not hidden
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        watched = psutil.Process(proc.pid)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _tree_rss(watched))
            time.sleep(SAMPLE_SECONDS)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, tell Popen
    try:
        result = json.loads(result_path.read_text(encoding="utf-8")) if result_path.stat().st_size else {}
    finally:
        result_path.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise StageFailed(f"benchmark stage {stage!r} failed (exit {proc.returncode}); see {log_file}")
    peak_mb = max(peak / 2**20, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB on Linux
    result["load_avg_1m"] = round(load, 2)
    return Measurement(stage, wall, usage.ru_utime + usage.ru_stime, peak_mb, result)
