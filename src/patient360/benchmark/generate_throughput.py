"""`patient360 bench-generate`: generator throughput (rows/s) and peak memory (RSS) per
population size.

Each size runs in a fresh subprocess so its peak RSS is its own (getrusage of the child).

    .venv/bin/patient360 bench-generate                       # 10k and 100k patients
    .venv/bin/patient360 bench-generate --sizes 10000 100000 1000000 --days 185
    .venv/bin/patient360 bench-generate --with-1m             # adds 1,000,000 (takes long)

`--days 185` with the 180 days of history gives one year of wearable readings.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
from patient360.generate import generate_exports
out, patients, days, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t0 = time.perf_counter()
s = generate_exports(Path(out), patients=patients, days=days, seed=seed, progress=False)
print(json.dumps({"rows": s.total_rows, "files": len(s.files), "seconds": time.perf_counter() - t0,
                  "readings": s.rows.get("wearable.readings", 0),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(patients: int, days: int, seed: int, workdir: Path) -> dict:
    out = workdir / f"p{patients}"
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(out), str(patients), str(days), str(seed)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"generation of {patients} patients failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - started
    result["bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out, ignore_errors=True)
    return result


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--with-1m", action="store_true", help="also run 1,000,000 patients")
    ap.add_argument("--days", type=int, default=185, help="partitions (plus 180 history days)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temp dir)")


def run(args: argparse.Namespace) -> int:
    sizes = sorted(set(args.sizes + ([1_000_000] if args.with_1m else [])))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="p360-bench-gen-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"days={args.days} (+180 history), seed={args.seed}, workdir={workdir}")
    cols = ["patients", "rows", "readings", "files", "seconds", "rows/s", "peak RSS MB", "GB out"]
    widths = [10, 13, 13, 6, 8, 10, 12, 7]
    header = " ".join(f"{c:>{w}}" for c, w in zip(cols, widths, strict=True))
    print(header)
    results = []
    for n in sizes:
        r = measure(n, args.days, args.seed, workdir)
        results.append((n, r))
        print(
            f"{n:>10,} {r['rows']:>13,} {r['readings']:>13,} {r['files']:>6} {r['seconds']:>8.1f} "
            f"{r['rows'] / r['seconds']:>10,.0f} {r['peak_rss_mb']:>12,.0f} {r['bytes'] / 1e9:>7.2f}",
            flush=True,
        )
    if len(results) > 1:
        (n0, r0), (n1, r1) = results[0], results[-1]
        print(
            f"ratio {n1:,}/{n0:,} patients: time x{r1['seconds'] / r0['seconds']:.1f}, "
            f"peak RSS x{r1['peak_rss_mb'] / r0['peak_rss_mb']:.1f} (size x{n1 / n0:.0f})"
        )
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"max child RSS (getrusage children): {children:,.0f} MB")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
