"""`patient360 demo` (`make demo`): generate synthetic exports, run the whole pipeline
through Airflow (`airflow dags test` on local SQLite metadata), print where the warehouse
is, the mart row counts and a short KPI summary. Safe to run again (idempotent)."""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from pathlib import Path

import duckdb

from patient360 import paths
from patient360.airflow_env import airflow_env, asset_condition, dags_test, prepare_airflow
from patient360.contracts import SOURCES
from patient360.evidence import TIER_AUDIENCE
from patient360.pseudonym import KEY_ENV, ensure_key_file
from patient360.report import REPORT
from patient360.warehouse import connect, one

DEMO_PATIENTS = 3000
DEMO_DAYS = 30
DEMO_SEED = 42
TRANSFORM_DAG = "patient360_transform"


def _ensure_key() -> None:
    from patient360.tombstone_key import ensure_tombstone_key

    ensure_tombstone_key()
    if os.environ.get(KEY_ENV):
        return
    key_file = ensure_key_file(paths.PROJECT_ROOT / ".secrets" / "pseudonym.key")
    os.environ[KEY_ENV] = key_file.read_text(encoding="utf-8").strip()
    print(f"using local pseudonym key {key_file} (outside git; set {KEY_ENV} to use your own)")


def _generate(exports: Path, patients: int, days: int, seed: int) -> date:
    from patient360.generate import generate_exports

    manifest = exports / "_truth" / "manifest.json"
    if manifest.exists():
        import json

        params = json.loads(manifest.read_text(encoding="utf-8")).get("parameters", {})
        if (params.get("patients"), params.get("days"), params.get("seed")) == (patients, days, seed):
            print(f"reusing generated exports in {exports}")
            return date.fromisoformat(params["end_date"])
    print(f"generating {patients} patients x {days} days of exports into {exports} ...")
    generate_exports(out_dir=exports, patients=patients, days=days, seed=seed, progress=True)
    import json

    return date.fromisoformat(json.loads(manifest.read_text(encoding="utf-8"))["parameters"]["end_date"])


def print_summary(warehouse: Path) -> None:
    published = paths.published_dir() if os.environ.get("P360_PUBLISHED_DIR") else warehouse.parent / "published"
    con = connect(warehouse, read_only=True)
    try:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by table_name"
        ).fetchall()
        print(f"\nwarehouse: {warehouse}")
        for tier, audience in TIER_AUDIENCE.items():
            print(f"published {tier} tier ({audience.split(':')[0]}): {published / tier / 'marts.duckdb'} "
                  f"(+ Parquet in {published / tier / 'parquet'})")  # fmt: skip
        print(f"KPI report: {published / REPORT}")
        print("\nmart row counts:")
        for (name,) in tables:
            n = one(con.execute(f'select count(*) from marts."{name}"'))[0]
            print(f"  marts.{name:<38} {n:>10,}")
        print("\nKPI summary:")
        for label, sql in _KPI_QUERIES:
            try:
                value = one(con.execute(sql))[0]
            except duckdb.Error:
                continue
            print(f"  {label:<44} {value}")
    finally:
        con.close()


_KPI_QUERIES = [
    ("people in patient_360", "select count(*) from marts.patient_360"),
    ("with a medical record", "select count(*) filter (where has_medical_record) from marts.patient_360"),
    ("marketing consent rate", "select printf('%.1f%%', 100 * avg(marketing_consent::int)) from marts.patient_360"),
    ("chronic patients", "select count(*) filter (where is_chronic) from marts.patient_360"),
    (
        "HbA1c control rate (< 7%)",
        "select printf('%.1f%%', 100 * avg(hba1c_controlled::int)) from marts.patient_360 "
        "where hba1c_controlled is not null",
    ),
    (
        "BP control rate (< 140/90)",
        "select printf('%.1f%%', 100 * avg(bp_controlled::int)) from marts.patient_360 where bp_controlled is not null",
    ),
    (
        "lifecycle mix",
        "select string_agg(lifecycle_stage || ' ' || n, ', ' order by n desc) from "
        "(select lifecycle_stage, count(*) n from marts.patient_360 group by 1)",
    ),
    (
        "consults answered within 30 min",
        "select printf('%.1f%%', 100 * sum(within_target_count) / sum(answered_count)) from marts.kpi_consult_response",
    ),
    ("NPS (latest month)", "select round(nps, 1) from marts.kpi_nps order by month desc limit 1"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patients", type=int, default=DEMO_PATIENTS)
    parser.add_argument("--days", type=int, default=DEMO_DAYS)
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    parser.add_argument("--exports", type=Path, default=paths.exports_dir())
    parser.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    parser.add_argument("--airflow-home", type=Path, default=paths.PROJECT_ROOT / ".airflow")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    _ensure_key()
    exports, warehouse = args.exports.resolve(), args.warehouse.resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    end_date = _generate(exports, args.patients, args.days, args.seed)

    env = airflow_env(args.airflow_home.resolve(), exports, warehouse)
    log_file = args.airflow_home.resolve() / "demo-runs.log"
    print(f"preparing local Airflow metadata in {args.airflow_home} ...")
    prepare_airflow(env, log_file=log_file)
    for source in SOURCES:
        print(f"airflow dags test patient360_land_{source} {end_date} (all pending partitions) ...")
        dags_test(
            f"patient360_land_{source}",
            end_date,
            env,
            conf='{"all_pending": true}',
            log_file=log_file,
            show_progress=True,
        )
    condition = asset_condition(env, TRANSFORM_DAG)
    for asset, updated in condition.items():
        print(f"  asset {asset:<28} {'updated ' + updated if updated else 'NOT updated since the last build'}")
    if not condition or not all(condition.values()):
        print(f"{TRANSFORM_DAG} is scheduled on its landing Assets, and not all of them were updated: not run")
        return 1
    print(f"all {len(condition)} Assets updated: airflow dags test {TRANSFORM_DAG} {end_date} (dbt, gates, publish)")
    dags_test(TRANSFORM_DAG, end_date, env, log_file=log_file, show_progress=True)

    print_summary(warehouse)
    print(f"\nAirflow task logs: {log_file}")
    print(f"demo finished in {time.perf_counter() - started:.0f} s")
    return 0
