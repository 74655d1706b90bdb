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
import time
from datetime import date
from pathlib import Path

from patient360 import paths
from patient360.errors import EXIT_DATA, EXIT_INPUT, EXIT_OK, InputMissing, explain
from patient360.generate.params import DEFAULT_HR_PER_DAY, HISTORY_DAYS
from patient360.release_tiers import TIERS


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from exc


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _existing_warehouse(path: Path) -> Path:
    """Commands that read a warehouse refuse a missing one before creating anything."""
    if not path.is_file():
        raise InputMissing(f"warehouse not found: {path} (land exports first: patient360 land / patient360 run)")
    return path


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
    if args.target == "spark":  # --warehouse names the Spark warehouse folder (raw Parquet zone)
        from patient360.land.parquet_sink import land_to_parquet

        folder = args.warehouse or paths.spark_warehouse_dir()
        report = land_to_parquet(args.exports, folder, day=args.date, sources=args.source)
    else:
        from patient360.land import land_exports

        warehouse = args.warehouse or paths.warehouse_path()
        report = land_exports(exports_dir=args.exports, warehouse=warehouse, day=args.date, sources=args.source)
    print(report.render())
    if not report.ok:
        return EXIT_DATA
    return EXIT_OK if report.complete else EXIT_INPUT


def _cmd_run(args: argparse.Namespace) -> int:
    from patient360.pipeline import run_pipeline, run_spark_pipeline

    if args.target == "spark":  # --warehouse names the Spark warehouse folder
        folder = args.warehouse or paths.spark_warehouse_dir()
        result = run_spark_pipeline(exports_dir=args.exports, folder=folder, day=args.date)
    else:
        result = run_pipeline(
            exports_dir=args.exports, warehouse=args.warehouse or paths.warehouse_path(), day=args.date
        )
    print(result.render())
    return EXIT_OK if result.ok else EXIT_DATA


def _cmd_dbt(args: argparse.Namespace) -> int:
    from patient360.spark_engine import dbt_cli

    dbt_args = [a for a in args.dbt_args if a != "--"]
    if not dbt_args:
        print("usage: patient360 dbt <dbt command and options>, e.g. patient360 dbt build --target spark")
        return 2
    return 0 if dbt_cli(dbt_args) else 1


def _cmd_check(args: argparse.Namespace) -> int:
    from patient360.gates import run_gates

    outcome = run_gates(warehouse=_existing_warehouse(args.warehouse), k=args.k)
    print(outcome.render())
    return 0 if outcome.passed else 1


def _cmd_publish(args: argparse.Namespace) -> int:
    from patient360.pipeline import stage_publish

    result = stage_publish(
        _existing_warehouse(args.warehouse), out_dir=args.out, tiers=args.tier, recipient=args.recipient
    )
    print(result.render())
    if result.report_path:
        print(f"KPI report: {result.report_path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from patient360.report import REPORT, release_file, render_report

    release = args.release or release_file(args.published)
    if not release.is_file():
        raise InputMissing(f"no published release at {release} (publish first: patient360 run / patient360 publish)")
    print(f"KPI report: {render_report(release, args.out or args.published / REPORT)}")
    return EXIT_OK


def _cmd_airflow(args: argparse.Namespace) -> int:
    from patient360.airflow_local import ADMIN_USER, demo_airflow
    from patient360.pseudonym import ensure_key_file, project_key_file
    from patient360.tombstone_key import ensure_tombstone_key

    ensure_key_file(project_key_file())
    ensure_tombstone_key()
    airflow = demo_airflow(port=args.port)
    env = airflow.env
    print(f"starting Airflow (metadata in {env['AIRFLOW_HOME']}, component logs in {airflow.log_dir}) ...")
    try:
        airflow.start()
        password = airflow.password() or f"(in {env['AIRFLOW_HOME']}/simple_auth_manager_passwords.json.generated)"
        print(f"Airflow UI: {airflow.url}  user {ADMIN_USER}, password {password}")
        print(f"DAGs: {env['AIRFLOW__CORE__DAGS_FOLDER']}")
        print(f"exports: {env['P360_EXPORTS']}  warehouse: {env['P360_WAREHOUSE']}")
        print("DAGs start paused: unpause patient360_transform first, then the four patient360_land_* DAGs")
        print("Ctrl-C stops every component")
        while True:
            for name, proc in airflow.processes.items():
                if proc.poll() is not None:
                    print(
                        f"airflow {name} exited ({proc.returncode}); see {airflow.log_dir}/{name}.log", file=sys.stderr
                    )
                    return EXIT_DATA
            time.sleep(2)
    except KeyboardInterrupt:
        print("stopping Airflow ...")
        return EXIT_OK
    finally:
        airflow.stop()
        print("Airflow stopped")


def _cmd_purge_quarantine(args: argparse.Namespace) -> int:
    from patient360.land.retention import purge

    deleted = purge(_existing_warehouse(args.warehouse), everything=args.all)
    print(f"purged {deleted} quarantined raw record(s) from restricted.quarantine_raw")
    return EXIT_OK


def _cmd_erase(args: argparse.Namespace) -> int:
    from patient360.erase import erase_person

    kind = next(k for k in ("mobile", "id_number", "mrn", "contact_id") if getattr(args, k))
    if args.rewrite_exports and args.exports is None:
        raise InputMissing("--rewrite-exports needs --exports DIR")
    result = erase_person(
        _existing_warehouse(args.warehouse),
        kind,
        getattr(args, kind),
        published=args.published,
        exports=args.exports,
        rewrite_exports=args.rewrite_exports,
    )
    print(result.render())
    return EXIT_OK


def _cmd_purge(args: argparse.Namespace) -> int:
    from patient360.retention import purge

    report = purge(_existing_warehouse(args.warehouse), args.published, today=args.today, dry_run=args.dry_run)
    print(report.render())
    return EXIT_OK


def _cmd_export_activation(args: argparse.Namespace) -> int:
    from patient360.release_register import export_activation

    published = args.published or args.warehouse.parent / "published"  # publish's default
    if not (published / "activation" / "release.json").is_file():
        raise InputMissing(f"no published activation tier in {published} (publish first: patient360 publish)")
    entry = export_activation(_existing_warehouse(args.warehouse), published, args.to, args.recipient)
    print(
        f"exported {sum(entry.tables.values()):,} rows of release {entry.release_id} to {entry.target} "
        f"for {entry.recipient}; recorded in audit.release_register"
    )
    return EXIT_OK


def _cmd_key_rotate(args: argparse.Namespace) -> int:
    from patient360.key_rotation import rotate

    print(rotate(_existing_warehouse(args.warehouse), args.new_key_file, args.published).render())
    return EXIT_OK


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


def _cmd_dev_docs(args: argparse.Namespace) -> int:
    from patient360.dbt_docs import METRICS_DOC_BLOCK, render_metrics_doc

    text = render_metrics_doc()
    if args.check:
        current = METRICS_DOC_BLOCK.read_text(encoding="utf-8") if METRICS_DOC_BLOCK.exists() else None
        if current != text:
            print(f"{METRICS_DOC_BLOCK} differs from docs/metrics.md: run `patient360 dev docs`", file=sys.stderr)
            return EXIT_DATA
        print(f"{METRICS_DOC_BLOCK} matches docs/metrics.md")
        return EXIT_OK
    METRICS_DOC_BLOCK.write_text(text, encoding="utf-8")
    print(f"wrote {METRICS_DOC_BLOCK}")
    return EXIT_OK


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


def _engine_args(p: argparse.ArgumentParser, on_duckdb: str, on_spark: str) -> None:
    """--target and --warehouse, the same for every command that runs on either engine."""
    from patient360.target import DEFAULT_TARGET, TARGETS

    p.add_argument("--target", choices=TARGETS, default=DEFAULT_TARGET,
                   help=f"duckdb (default): {on_duckdb}; spark: {on_spark}")  # fmt: skip
    where = "the DuckDB file (duckdb) or the Spark warehouse folder (spark; default P360_SPARK_WAREHOUSE)"
    p.add_argument("--warehouse", type=Path, default=None, help=where)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patient360",
        description=__doc__.splitlines()[0],
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on the console, tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_pipeline_commands(sub)
    _add_tool_commands(sub)
    _add_dev_commands(sub)
    return parser


def _add_pipeline_commands(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("generate", help="write synthetic HIS/CRM/consult/wearable exports with ground truth")
    g.add_argument("--out", type=Path, required=True, help="export folder to write (DIR/<source>/<YYYY-MM-DD>/...)")
    g.add_argument("--patients", type=_positive, default=2000)
    g.add_argument("--days", type=_positive, default=30, help="number of daily partitions")
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
    _engine_args(ld, "raw tables in the DuckDB file", "raw Parquet files, files landed in parallel")
    ld.add_argument(
        "--date", type=_date, default=None, help="partition to land (default: every partition not yet landed)"
    )
    ld.add_argument("--source", action="append", choices=["his", "crm", "consult", "wearable"], help="repeatable")
    ld.set_defaults(func=_cmd_land)

    r = sub.add_parser("run", help="land -> dbt build -> gates -> publish, in-process without a scheduler")
    r.add_argument("--exports", type=Path, required=True)
    _engine_args(r, "the embedded warehouse file", "dbt on a local Spark session, tables as Parquet (docs/scale.md)")
    r.add_argument("--date", type=_date, default=None, help="as-of date (default: latest landed partition)")
    r.set_defaults(func=_cmd_run)

    dbt = sub.add_parser(
        "dbt",
        help="dbt's CLI on the bundled project and profile, with the project's functions on either target "
        "(patient360 dbt build --target spark)",
        description="Runs dbt in this process with --project-dir/--profiles-dir of the bundled project. "
        "With --target spark a local Spark session with the project's functions (the keyed pseudonym, "
        "identifier normalisation) is started first; P360_SPARK_WAREHOUSE names its folder.",
    )
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt command and options")
    dbt.set_defaults(func=_cmd_dbt)

    c = sub.add_parser("check", help="run the Great Expectations gates (quality + PII masking)")
    c.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    c.add_argument(
        "--k",
        type=int,
        default=None,
        help="k-anonymity to verify (default: dbt var k_anonymity; 11 for public release)",
    )
    c.set_defaults(func=_cmd_check)

    p = sub.add_parser(
        "publish",
        help="build each release tier's candidate (aggregate, person, activation), gate it, publish only if all pass",
    )
    p.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    p.add_argument("--out", type=Path, default=None, help="published folder (default: warehouse/published)")
    p.add_argument(
        "--tier",
        action="append",
        choices=TIERS,
        default=None,
        help="publish only this tier (repeatable; default: every tier, all or nothing)",
    )
    p.add_argument(
        "--recipient", default=None, help="who or what system receives it, for the release register (default bi:<tier>)"
    )
    p.set_defaults(func=_cmd_publish)

    rp = sub.add_parser("report", help="render the KPI report (one offline HTML page) from the published release")
    rp.add_argument("--published", type=Path, default=paths.published_dir(), help="published folder")
    rp.add_argument("--release", type=Path, default=None, help="release DuckDB file (default: the aggregate tier)")
    rp.add_argument("--out", type=Path, default=None, help="HTML file (default: <published>/report/index.html)")
    rp.set_defaults(func=_cmd_report)

    pq = sub.add_parser(
        "purge-quarantine",
        help="delete restricted quarantined raw text past its retention (P360_QUARANTINE_RETENTION_DAYS, 30 days)",
    )
    pq.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    pq.add_argument("--all", action="store_true", help="purge every row, not only those past their date")
    pq.set_defaults(func=_cmd_purge_quarantine)

    er = sub.add_parser(
        "erase",
        help="erase one person from every zone (rows and bytes), publish a new release (docs/privacy_operations.md)",
    )
    who = er.add_mutually_exclusive_group(required=True)
    who.add_argument("--mobile", help="mobile number (any separators, +86 allowed)")
    who.add_argument("--id-number", dest="id_number", help="18-character resident ID number")
    who.add_argument("--mrn", help="HIS medical record number")
    who.add_argument("--contact-id", dest="contact_id", help="CRM contact id")
    er.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    er.add_argument("--published", type=Path, default=paths.published_dir(), help="published folder")
    er.add_argument("--exports", type=Path, default=None, help="list the export files that hold the person")
    er.add_argument("--rewrite-exports", action="store_true", help="rewrite those files without the person's rows")
    er.set_defaults(func=_cmd_erase)

    pg = sub.add_parser(
        "purge",
        help="delete raw, quarantine, snapshot rows and release versions past retention (dbt var purge_after_days)",
    )
    pg.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    pg.add_argument("--published", type=Path, default=None, help="published folder (default: warehouse/published)")
    pg.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    pg.add_argument("--today", type=_date, default=None, help="YYYY-MM-DD the periods count back from (default today)")
    pg.set_defaults(func=_cmd_purge)

    ea = sub.add_parser("export-activation", help="copy the published activation list to a recipient (registered)")
    ea.add_argument("--to", type=Path, required=True, help="file to write (.parquet, or .csv)")
    ea.add_argument("--recipient", required=True, help="who or what system receives it (release register)")
    ea.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    ea.add_argument("--published", type=Path, default=None, help="published folder (default: warehouse/published)")
    ea.set_defaults(func=_cmd_export_activation)

    ky = sub.add_parser("key", help='pseudonym key management (docs/identity.md "Key rotation")')
    keys = ky.add_subparsers(dest="key_command", required=True)
    kr = keys.add_parser("rotate", help="re-key every patient_key under a new key, retire the old one, republish")
    kr.add_argument("--new-key-file", type=Path, required=True, help="file holding the new key (mode 600)")
    kr.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    kr.add_argument("--published", type=Path, default=None, help="published folder (default: warehouse/published)")
    kr.set_defaults(func=_cmd_key_rotate)


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
    af = sub.add_parser(
        "airflow",
        help="start a complete local Airflow 3 on this project (api-server, scheduler, dag-processor, triggerer)",
    )
    af.add_argument("--port", type=int, default=8080, help="UI and API port on 127.0.0.1 (default 8080)")
    af.set_defaults(func=_cmd_airflow)
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
    dd = tools.add_parser("docs", help="write the dbt docs block of the metric specification from docs/metrics.md")
    dd.add_argument("--check", action="store_true", help="only compare; exit 1 when the block differs")
    dd.set_defaults(func=_cmd_dev_docs)
    a = tools.add_parser("allowlist", help="draft, check or sync the published-schema allow-list against dbt YAML")
    mode = a.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="report drift from the marts' dbt YAML; exit 1 on any")
    mode.add_argument("--sync", action="store_true", help="copy the classes of listed columns from dbt meta.pii")
    a.add_argument("models_dir", nargs="?", type=Path, default=paths.DBT_PROJECT_DIR / "models" / "marts")
    a.set_defaults(func=_cmd_dev_allowlist)
    y = tools.add_parser("scaffold-yaml", help="add missing model/column entries to the dbt folder YAMLs")
    scaffold_yaml.add_arguments(y)
    y.set_defaults(func=scaffold_yaml.run)


EXIT_CODES_HELP = """exit codes:
  0  success
  1  data problem: files rejected, dbt models or tests failed, a blocking gate failed
  2  usage: bad arguments
  3  input missing: exports folder, export partition or warehouse not found or empty
  4  warehouse locked by another process (wait for it, then run again)
  5  configuration: pseudonym key missing or weak"""

# Third-party libraries (Great Expectations, Airflow, dbt adapters) log at INFO; on the console a
# command shows its own progress and warnings only; everything goes to the log file.
CONSOLE_LOGGERS = ("patient360",)


def _log_file(args: argparse.Namespace) -> Path | None:
    warehouse = getattr(args, "warehouse", None)
    if isinstance(warehouse, Path) and warehouse.parent.is_dir():
        return warehouse.parent / "logs" / "patient360.log"
    return None


def _configure_logging(args: argparse.Namespace) -> Path | None:
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    console = logging.StreamHandler()
    console.setFormatter(fmt)
    if not args.verbose:
        console.addFilter(lambda r: r.levelno >= logging.WARNING or r.name.startswith(CONSOLE_LOGGERS))
    root.addHandler(console)
    log_file = _log_file(args)
    if log_file is not None:
        log_file.parent.mkdir(exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(fmt)
        root.addHandler(handler)
    return log_file


def _terminate_like_interrupt() -> None:
    """SIGTERM (kill, a container stop, a scheduler's timeout) unwinds like Ctrl-C, so every
    `finally` runs: scratch files with personal data are removed, the warehouse is closed."""
    import signal
    import threading

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread
        signal.signal(signal.SIGTERM, _raise)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.func is _cmd_bench:
        args.bench_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    log_file = _configure_logging(args)
    _terminate_like_interrupt()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"patient360 {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # expected failures get one line; --verbose adds the traceback
        if args.verbose:
            logging.getLogger("patient360").exception("patient360 %s failed", args.command)
        code, line = explain(exc)
        where = f" (log: {log_file})" if log_file else ""
        print(f"patient360 {args.command}: error: {line}{where}", file=sys.stderr)
        return code
