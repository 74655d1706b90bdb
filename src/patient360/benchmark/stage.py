"""One benchmark stage, run in its own process so it is measured alone:

    python -m patient360.benchmark.stage <stage> '<json params>' <result.json>

Each stage calls the same package function the pipeline and Airflow call and writes
what it did (rows, its own timings) to result.json for the harness.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from patient360.warehouse import one

# dbt models that make the patient_360 aggregation: per-person service facts and the mart
P360_MODELS = ("int_patient__service_summary", "patient_360")


def _generate(p: dict) -> dict:
    from patient360.generate import generate_exports

    s = generate_exports(
        Path(p["out"]),
        patients=p["patients"],
        days=p["days"],
        seed=p["seed"],
        history_days=p["history_days"],
        hr_per_day=p["hr_per_day"],
        progress=False,
    )
    return {"rows": s.total_rows, "readings": s.rows.get("wearable.readings", 0), "files": len(s.files)}


def _land(p: dict) -> dict:
    from patient360.land import land_exports

    days: list[date | None] = [date.fromisoformat(d) for d in p["days"]] if p.get("days") else [None]
    totals = {"rows_read": 0, "rows_landed": 0, "rows_quarantined": 0, "files": 0}
    for day in days:
        report = land_exports(Path(p["exports"]), Path(p["warehouse"]), day=day)
        for key, value in report.totals().items():
            if key in totals:
                totals[key] += value
        totals["files"] += len(report.files)
    totals["rows"] = totals["rows_read"]
    return totals


def _dbt_timings(result) -> dict:
    nodes = [r for r in result.run_results().get("results", []) if r.get("unique_id", "").startswith("model.")]
    slowest = sorted(nodes, key=lambda r: r.get("execution_time", 0), reverse=True)[:8]
    return {
        "models": len(nodes),
        "model_seconds": sum(r.get("execution_time", 0) for r in nodes),
        "slowest": {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in slowest},
    }


def _dbt(p: dict) -> dict:
    from patient360.pipeline import stage_transform

    result = stage_transform(
        Path(p["warehouse"]),
        as_of=date.fromisoformat(p["as_of"]),
        target_dir=Path(p["target_dir"]),
        full_refresh=p.get("full_refresh", False),
    )
    return _dbt_timings(result)


def _gates(p: dict) -> dict:
    from patient360.gates import run_gates

    outcome = run_gates(Path(p["warehouse"]))
    return {"passed": outcome.passed, "checks": outcome.checks_run, "failures": [f.line() for f in outcome.blocking]}


def _publish(p: dict) -> dict:
    from patient360.publish import publish_marts

    result = publish_marts(Path(p["warehouse"]), out_dir=Path(p["out"]))
    tables = {t: n for tier in result.tables.values() for t, n in tier.items()}  # every release tier
    return {"tables": len(tables), "rows": sum(tables.values())}


def _bare_read(p: dict) -> dict:
    """What DuckDB alone costs: each file into a table with its auto-detecting reader."""
    con = duckdb.connect(p["warehouse"])
    rows = 0
    try:
        for i, f in enumerate(p["files"]):
            reader = "read_json" if ".ndjson" in f else "read_csv"
            con.execute(f"CREATE TABLE t{i} AS SELECT * FROM {reader}(?)", [f])
            rows += one(con.execute(f"SELECT count(*) FROM t{i}"))[0]
    finally:
        con.close()
    return {"rows": rows}


def _p360_dbt(p: dict) -> dict:
    from patient360.dbt_runner import run_dbt

    result = run_dbt(
        ["run", "--select", *P360_MODELS],
        Path(p["warehouse"]),
        as_of=p["as_of"],
        target_dir=Path(p["target_dir"]),
    )
    return _dbt_timings(result)


def _p360_pandas(p: dict) -> dict:
    from patient360.benchmark.pandas_p360 import build_patient_360

    started = time.perf_counter()
    con = duckdb.connect(p["warehouse"], read_only=True)
    try:
        frame = build_patient_360(con)
    finally:
        con.close()
    compute = time.perf_counter() - started
    out = duckdb.connect()
    out.register("result", frame)
    out.execute("COPY result TO ? (FORMAT parquet)", [p["out"]])
    out.close()
    return {"rows": len(frame), "compute_seconds": compute}


def _spark_land(p: dict) -> dict:
    """The Spark target's landing: the same files into the raw Parquet zone, in parallel."""
    from patient360.land.parquet_sink import land_to_parquet

    days: list[date | None] = [date.fromisoformat(d) for d in p["days"]] if p.get("days") else [None]
    rows = 0
    for day in days:
        rows += land_to_parquet(Path(p["exports"]), Path(p["folder"]), day=day).totals()["rows_read"]
    return {"rows": rows}


def _spark_dbt(p: dict) -> dict:
    """`dbt build --target spark` on a local Spark session over the raw Parquet zone."""
    from patient360.spark_engine import run_dbt_spark, spark_session
    from patient360.spark_raw import register_raw_tables

    folder = Path(p["folder"])
    register_raw_tables(spark_session(folder), folder)
    args = ["build", "--exclude-resource-type", "unit_test"] + (["--full-refresh"] if p.get("full_refresh") else [])
    results = run_dbt_spark(args, folder, target_dir=Path(p["target_dir"]), dbt_vars={"as_of_date": p["as_of"]})
    nodes = [r for r in results if getattr(r.node, "resource_type", "") == "model"]
    slowest = sorted(nodes, key=lambda r: r.execution_time or 0, reverse=True)[:8]
    return {
        "models": len(nodes),
        "model_seconds": sum(r.execution_time or 0 for r in nodes),
        "slowest": {r.node.name: round(r.execution_time or 0, 2) for r in slowest},
    }


STAGES: dict[str, Callable[[dict], dict]] = {
    "generate": _generate,
    "land": _land,
    "dbt": _dbt,
    "gates": _gates,
    "publish": _publish,
    "bare_read": _bare_read,
    "p360_dbt": _p360_dbt,
    "p360_pandas": _p360_pandas,
    "spark_land": _spark_land,
    "spark_dbt": _spark_dbt,
}


def main(argv: list[str]) -> int:
    stage, params, result_path = argv[0], json.loads(argv[1]), Path(argv[2])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = STAGES[stage](params)
    result_path.write_text(json.dumps(result), encoding="utf-8")
    return 0


# An internal process boundary, not a user entry point: measure.run_stage starts each
# stage as `python -m patient360.benchmark.stage` so that it is measured alone.
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
