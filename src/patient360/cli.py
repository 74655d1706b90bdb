"""`patient360` command line: one subcommand per pipeline stage.

Each subcommand calls the same package function the Airflow tasks call, so what an
engineer runs by hand is exactly what the scheduler runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path

from patient360 import paths
from patient360.generate.params import DEFAULT_HR_PER_DAY, HISTORY_DAYS


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from exc


def _cmd_generate(args: argparse.Namespace) -> int:
    from patient360.generate import generate_exports

    summary = generate_exports(
        out_dir=args.out,
        patients=args.patients,
        days=args.days,
        seed=args.seed,
        end_date=args.end_date,
        dirt_rate=args.dirt_rate,
        progress=not args.quiet,
        history_days=args.history_days,
        hr_per_day=args.hr_per_day,
    )
    print(summary)
    return 0


def _cmd_land(args: argparse.Namespace) -> int:
    from patient360.land import land_exports

    report = land_exports(exports_dir=args.exports, warehouse=args.warehouse, day=args.date, sources=args.source)
    print(report.render())
    return 0 if report.ok else 1


def _cmd_run(args: argparse.Namespace) -> int:
    from patient360.pipeline import run_pipeline

    result = run_pipeline(exports_dir=args.exports, warehouse=args.warehouse, day=args.date)
    print(result.render())
    return 0 if result.ok else 1


def _cmd_check(args: argparse.Namespace) -> int:
    from patient360.gates import run_gates

    outcome = run_gates(warehouse=args.warehouse, k=args.k)
    print(outcome.render())
    return 0 if outcome.passed else 1


def _cmd_publish(args: argparse.Namespace) -> int:
    from patient360.publish import publish_marts

    result = publish_marts(warehouse=args.warehouse, out_dir=args.out)
    print(result.render())
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from patient360.benchmark.harness import main as bench_main

    return bench_main(args.bench_args, prog="patient360 bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patient360", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write synthetic HIS/CRM/consult/wearable exports with ground truth")
    g.add_argument("--out", type=Path, required=True, help="export folder to write (DIR/<source>/<YYYY-MM-DD>/...)")
    g.add_argument("--patients", type=int, default=2000)
    g.add_argument("--days", type=int, default=30, help="number of daily partitions")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--end-date", type=_date, default=None, help="last partition date (default: fixed, for determinism)")
    g.add_argument(
        "--dirt-rate", type=float, default=None, help="rate of planted dirty rows (default: contract default)"
    )
    g.add_argument(
        "--history-days", type=int, default=HISTORY_DAYS, help="days of history in the first (full) partition"
    )
    g.add_argument(
        "--hr-per-day", type=int, default=DEFAULT_HR_PER_DAY, help="heart-rate samples per band per day (volume)"
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_cmd_generate)

    ld = sub.add_parser("land", help="land export partitions into the raw zone (audited, idempotent)")
    ld.add_argument("--exports", type=Path, required=True)
    ld.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    ld.add_argument(
        "--date", type=_date, default=None, help="partition to land (default: every partition not yet landed)"
    )
    ld.add_argument("--source", action="append", choices=["his", "crm", "consult", "wearable"], help="repeatable")
    ld.set_defaults(func=_cmd_land)

    r = sub.add_parser("run", help="land -> dbt build -> gates -> publish, in-process without a scheduler")
    r.add_argument("--exports", type=Path, required=True)
    r.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    r.add_argument("--date", type=_date, default=None, help="as-of date (default: latest landed partition)")
    r.set_defaults(func=_cmd_run)

    c = sub.add_parser("check", help="run the Great Expectations gates (quality + PII masking)")
    c.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    c.add_argument(
        "--k",
        type=int,
        default=None,
        help="k-anonymity to verify (default: dbt var k_anonymity; 11 for public release)",
    )
    c.set_defaults(func=_cmd_check)

    p = sub.add_parser("publish", help="publish validated marts to a read-only DuckDB file and Parquet for BI")
    p.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    p.add_argument("--out", type=Path, default=None, help="published folder (default: warehouse/published)")
    p.set_defaults(func=_cmd_publish)
    b = sub.add_parser(
        "bench",
        help="benchmark the pipeline at 10k/100k/1M patients (scripts/bench.py); `patient360 bench -h` for options",
        add_help=False,
    )
    b.set_defaults(func=_cmd_bench)  # its options are the harness's own (parsed there)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.func is _cmd_bench:
        args.bench_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
