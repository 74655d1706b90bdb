"""patient360 command line: pipeline stages, the demo, benchmarks and developer tools.

The project's one front door (also `python -m patient360`): one subcommand per pipeline
stage, the demo, the benchmarks and the developer tools (`patient360 --help`).

Each pipeline subcommand calls the same package function the Airflow tasks call, so what
an engineer runs by hand is exactly what the scheduler runs. Commands whose options live
with their code (demo, focused benchmarks, dev scaffold-yaml) take them from the
module's `add_arguments` and run its `run(args)`.
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


def _cmd_dev_sources(args: argparse.Namespace) -> int:
    from patient360.dbt_sources import SOURCES_YAML, render_sources_yaml

    target: Path = args.file or SOURCES_YAML
    text = render_sources_yaml()
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            print(f"{target} differs from the source contracts: run `patient360 dev sources`", file=sys.stderr)
            return 1
        print(f"{target} matches the source contracts")
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


def _cmd_dev_allowlist(args: argparse.Namespace) -> int:
    import yaml

    from patient360.gates.schema_allowlist import ALLOWLIST_PATH, class_drift, draft_from_dbt, sync_classes

    if args.sync:
        print(f"{sync_classes()} class(es) updated in {ALLOWLIST_PATH}")
    if args.check or args.sync:
        drift = class_drift()
        print("\n".join(drift) or "allow-list in step with dbt meta.pii")
        return 1 if drift else 0
    if not args.models_dir.is_dir():
        print(f"not a folder: {args.models_dir}", file=sys.stderr)
        return 2
    print(yaml.safe_dump(draft_from_dbt(args.models_dir), allow_unicode=True, sort_keys=False, width=200), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patient360", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_pipeline_commands(sub)
    _add_tool_commands(sub)
    _add_dev_commands(sub)
    return parser


def _add_pipeline_commands(sub: argparse._SubParsersAction) -> None:
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


def _add_tool_commands(sub: argparse._SubParsersAction) -> None:
    """The demo and the benchmarks (modules with light imports: heavy ones happen in `run`)."""
    from patient360 import demo
    from patient360.benchmark import gates_synthetic, generate_throughput, identity_quality, land_vs_bare

    d = sub.add_parser(
        "demo",
        help="generate exports and run the whole pipeline through a local Airflow (make demo)",
        description=(demo.__doc__ or "").split("\n\n")[0],
    )
    demo.add_arguments(d)
    d.set_defaults(func=demo.run)
    b = sub.add_parser(
        "bench",
        help="benchmark the pipeline at 10k/100k/1M patients; `patient360 bench -h` for options",
        add_help=False,
    )
    b.set_defaults(func=_cmd_bench)  # its options are the harness's own (parsed there)
    for name, module, text in (
        ("bench-generate", generate_throughput, "focused benchmark: generator throughput and peak memory"),
        ("bench-land", land_vs_bare, "focused benchmark: landing vs a bare DuckDB read of the same files"),
        ("bench-gates", gates_synthetic, "focused benchmark: the gates on synthetic 100k/1M-row marts"),
        ("bench-identity", identity_quality, "focused benchmark: identity precision/recall and stage timings"),
    ):
        cmd = sub.add_parser(name, help=text, description=(module.__doc__ or text).split("\n\n")[0])
        module.add_arguments(cmd)
        cmd.set_defaults(func=module.run)


def _add_dev_commands(sub: argparse._SubParsersAction) -> None:
    from patient360.devtools import scaffold_yaml

    dev = sub.add_parser("dev", help="developer tools: dbt sources from contracts, allow-list drafts, model YAML")
    tools = dev.add_subparsers(dest="dev_command", required=True, metavar="TOOL")
    s = tools.add_parser("sources", help="write dbt's sources YAML from the source contracts")
    s.add_argument("--check", action="store_true", help="only compare; exit 1 when the file differs")
    s.add_argument("--file", type=Path, default=None, help="default: dbt_project/models/staging/_sources.yml")
    s.set_defaults(func=_cmd_dev_sources)
    a = tools.add_parser("allowlist", help="draft, check or sync the published-schema allow-list against dbt YAML")
    mode = a.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="report drift from the marts' dbt YAML; exit 1 on any")
    mode.add_argument("--sync", action="store_true", help="copy the classes of listed columns from dbt meta.pii")
    a.add_argument("models_dir", nargs="?", type=Path, default=paths.DBT_PROJECT_DIR / "models" / "marts")
    a.set_defaults(func=_cmd_dev_allowlist)
    y = tools.add_parser("scaffold-yaml", help="add missing model/column entries to the dbt folder YAMLs")
    scaffold_yaml.add_arguments(y)
    y.set_defaults(func=scaffold_yaml.run)


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
