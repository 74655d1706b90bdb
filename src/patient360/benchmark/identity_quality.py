"""`patient360 bench-identity`: identity resolution quality and pipeline timing at
several sizes.

    .venv/bin/patient360 bench-identity [--sizes 3000 20000] [--days 30]

For each size: generate (seed 42), land, dbt build, then report pairwise precision and
recall against the generator's truth and the seconds per stage.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 20000])
    parser.add_argument("--days", type=int, default=30)


def run(args: argparse.Namespace) -> int:
    from patient360.generate import generate_exports
    from patient360.identity_eval import score_identity
    from patient360.pipeline import stage_land, stage_transform

    os.environ.setdefault("P360_PSEUDONYM_KEY", "bench-only-key-" + "x" * 32)
    print(
        f"{'patients':>9} {'records':>9} {'precision':>9} {'recall':>7} {'generate s':>10} {'land s':>7} {'dbt s':>7}"
    )
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            t0 = time.perf_counter()
            generate_exports(root / "exports", patients=n, days=args.days, seed=42, progress=False)
            t1 = time.perf_counter()
            stage_land(root / "exports", root / "wh.duckdb")
            t2 = time.perf_counter()
            stage_transform(root / "wh.duckdb", target_dir=root / "target")
            t3 = time.perf_counter()
            s = score_identity(root / "wh.duckdb", root / "exports")
            quality = f"{n:>9,} {s.records:>9,} {s.precision:>9.4f} {s.recall:>7.4f}"
            print(f"{quality} {t1 - t0:>10.1f} {t2 - t1:>7.1f} {t3 - t2:>7.1f}")
    return 0
