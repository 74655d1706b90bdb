"""`patient360 bench` / `scripts/bench.py`: the whole pipeline timed stage by stage at
several scales, with side-by-side comparisons measured in the same run.

For each population size N (default ladder 10k, 100k, 1M):

1. Generate (cached in the work folder): two daily partitions, the first a full export
   carrying a year of history (`--history-days 364`), the second the next day.
2. Repeat `--repeat` times, each on a fresh warehouse, every stage in its own process
   (wall, CPU, peak RSS of the process tree; see measure.py):
   land (first partition) -> dbt full build -> gates -> publish;
   patient_360 in dbt vs the same aggregation in pandas (order alternates, results compared);
   the daily run: land the second partition + dbt build (incremental models) + gates + publish;
   full refresh: dbt build --full-refresh of the same state;
   landing vs a bare DuckDB read of the same files (order alternates).
3. Medians over the repetitions, ratios from the medians, identity precision/recall.

Writes bench/results/bench-<timestamp>.json and .md with the machine's cores and memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import psutil

from patient360 import paths
from patient360.benchmark.bare import comparable_files
from patient360.benchmark.measure import Measurement, run_stage
from patient360.benchmark.report import TARGETS, render_markdown
from patient360.warehouse import one

DEFAULT_LADDER = (10_000, 100_000, 1_000_000)
# A band's heart-rate samples per day, chosen so that 1M patients carry about 100M readings
# a year (the workload of docs/benchmarks.md; ~12% of people own a device, most of them 1-3 readings a day).
BENCH_HR_PER_DAY = 18
BENCH_KEY = "bench-only-pseudonym-key-not-a-secret-0123456789"

PIPELINE = ("land", "dbt_full", "gates", "publish")
DAILY = ("inc_land", "inc_dbt", "inc_gates", "inc_publish")


def _say(text: str) -> None:
    print(text, flush=True)


def _count_rows(warehouse: Path, schema_like: str) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return int(
            one(
                con.execute(
                    "select coalesce(sum(estimated_size), 0) from duckdb_tables() where schema_name like ?",
                    [schema_like],
                )
            )[0]
        )
    finally:
        con.close()


def _partitions(exports: Path) -> list[str]:
    manifest = json.loads((exports / "_truth" / "manifest.json").read_text(encoding="utf-8"))
    start = date.fromisoformat(manifest["parameters"]["window_start"])
    end = date.fromisoformat(manifest["parameters"]["end_date"])
    return [date.fromordinal(d).isoformat() for d in range(start.toordinal(), end.toordinal() + 1)]


def _generate(n: int, args: argparse.Namespace, work: Path, log: Path) -> tuple[Path, Measurement | None]:
    exports = work / f"exports-{n}"
    wanted = {
        "patients": n,
        "days": args.days,
        "seed": args.seed,
        "history_days": args.history_days,
        "hr_per_day": args.hr_per_day,
    }
    manifest = exports / "_truth" / "manifest.json"
    if manifest.exists():
        have = json.loads(manifest.read_text(encoding="utf-8"))["parameters"]
        if all(have.get(k) == v for k, v in wanted.items()):
            _say(f"[{n:,}] reusing generated exports in {exports}")
            return exports, None
    shutil.rmtree(exports, ignore_errors=True)
    _say(f"[{n:,}] generating {n:,} patients, {args.history_days} days of history + {args.days} partitions ...")
    m = run_stage("generate", {"out": str(exports), **wanted}, log)
    _say(f"[{n:,}]   generated {m.result['rows']:,} rows ({m.result['readings']:,} readings) in {m.wall_s:.1f} s")
    return exports, m


def _timed(label: str, stage: str, params: dict, log: Path, out: dict[str, Measurement]) -> Measurement:
    m = run_stage(stage, params, log)
    out[label] = m
    rows = m.result.get("rows")
    extra = f", {rows:,} rows" if isinstance(rows, int) else ""
    _say(f"      {label:<12} {m.wall_s:8.1f} s wall {m.cpu_s:8.1f} s cpu {m.peak_rss_mb:8.0f} MiB peak{extra}")
    return m


def _spark_side(wh: Path, exports: Path, base_days: list[str], run_dir: Path, log: Path, m: dict) -> None:
    """The Spark target on the same first partition, beside DuckDB's land and full build: the
    same exports landed as Parquet, the same dbt project built on a local Spark session."""
    folder = run_dir / "spark"
    shutil.rmtree(folder, ignore_errors=True)
    _timed("spark_land", "spark_land", {"exports": str(exports), "folder": str(folder), "days": base_days}, log, m)
    params = {"folder": str(folder), "as_of": base_days[-1], "target_dir": str(run_dir / "target-spark")}
    _timed("spark_dbt", "spark_dbt", params, log, m)
    m["spark_dbt"].result["rows"] = m["dbt_full"].result.get("rows")
    shutil.rmtree(folder, ignore_errors=True)


def _one_repetition(
    n: int,
    rep: int,
    exports: Path,
    parts: list[str],
    work: Path,
    log: Path,
    compare_set: tuple[list[Path], list[str]],
    spark: bool = False,
) -> dict:
    run_dir = work / f"run-{n}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    wh = run_dir / "patient360.duckdb"
    target = run_dir / "target"
    base_days, new_day = parts[:-1], parts[-1]
    m: dict[str, Measurement] = {}
    extra: dict = {}

    _timed("land", "land", {"exports": str(exports), "warehouse": str(wh), "days": base_days}, log, m)
    raw_rows = _count_rows(wh, "raw_%")
    _timed("dbt_full", "dbt", {"warehouse": str(wh), "as_of": base_days[-1], "target_dir": str(target)}, log, m)
    m["dbt_full"].result["rows"] = raw_rows
    _timed("gates", "gates", {"warehouse": str(wh)}, log, m)
    m["gates"].result["rows"] = raw_rows + _count_rows(wh, "marts")
    extra["gates_passed"] = m["gates"].result.get("passed")
    _timed("publish", "publish", {"warehouse": str(wh), "out": str(run_dir / "published")}, log, m)

    # patient_360: dbt vs pandas, order alternating between repetitions
    p360_out = run_dir / "p360_pandas.parquet"
    sides: list[tuple[str, str, dict[str, Any]]] = [
        ("p360_dbt", "p360_dbt", {"warehouse": str(wh), "as_of": base_days[-1], "target_dir": str(target)}),
        ("p360_pandas", "p360_pandas", {"warehouse": str(wh), "out": str(p360_out)}),
    ]
    for label, stage, params in sides if rep % 2 == 0 else reversed(sides):
        _timed(label, stage, params, log, m)
    from patient360.benchmark.pandas_p360 import compare

    con = duckdb.connect(str(wh), read_only=True)
    try:
        extra["p360_differences"] = compare(con, "marts.patient_360", str(p360_out))
        m["p360_dbt"].result["rows"] = m["p360_pandas"].result["rows"]
    finally:
        con.close()
    _say(f"      patient_360 dbt vs pandas: {'equal' if not extra['p360_differences'] else extra['p360_differences']}")

    # the daily run: one new partition, incremental models
    _timed("inc_land", "land", {"exports": str(exports), "warehouse": str(wh), "days": [new_day]}, log, m)
    raw_rows = _count_rows(wh, "raw_%")
    _timed("inc_dbt", "dbt", {"warehouse": str(wh), "as_of": new_day, "target_dir": str(target)}, log, m)
    m["inc_dbt"].result["rows"] = m["inc_land"].result["rows"]
    _timed("inc_gates", "gates", {"warehouse": str(wh)}, log, m)
    extra["gates_passed"] = extra["gates_passed"] and m["inc_gates"].result.get("passed")
    _timed("inc_publish", "publish", {"warehouse": str(wh), "out": str(run_dir / "published")}, log, m)
    _timed(
        "full_refresh",
        "dbt",
        {"warehouse": str(wh), "as_of": new_day, "target_dir": str(target), "full_refresh": True},
        log,
        m,
    )
    m["full_refresh"].result["rows"] = raw_rows

    # landing vs a bare DuckDB read of the same files (those a bare reader can read)
    cmp_dir = work / f"compare-{n}"
    files, skipped = compare_set
    extra["compare_files"], extra["compare_skipped"] = len(files), skipped
    sides = [
        (
            "land_cmp",
            "land",
            {"exports": str(cmp_dir / "exports"), "warehouse": str(cmp_dir / "land.duckdb"), "days": base_days[:1]},
        ),
        ("bare_read", "bare_read", {"files": [str(f) for f in files], "warehouse": str(cmp_dir / "bare.duckdb")}),
    ]
    for label, stage, params in sides if rep % 2 == 0 else reversed(sides):
        Path(params["warehouse"]).unlink(missing_ok=True)
        _timed(label, stage, params, log, m)
        Path(params["warehouse"]).unlink(missing_ok=True)

    if spark:
        _spark_side(wh, exports, base_days, run_dir, log, m)
    if rep == 0:
        from patient360.identity_eval import score_identity

        score = score_identity(wh, exports)
        extra["identity"] = {"precision": score.precision, "recall": score.recall, "records": score.records}
        _say(f"      {score}")
    return {"stages": {k: vars(v) for k, v in m.items()}, **extra}


def _median(runs: list[dict], stage: str, key: str) -> float:
    return statistics.median(r["stages"][stage][key] for r in runs)


def summarise(n: int, runs: list[dict], generate: Measurement | None) -> dict:
    stages = {}
    for stage in runs[0]["stages"]:
        rows = runs[0]["stages"][stage]["result"].get("rows")
        wall = _median(runs, stage, "wall_s")
        stages[stage] = {
            "wall_s": wall,
            "cpu_s": _median(runs, stage, "cpu_s"),
            "peak_rss_mb": _median(runs, stage, "peak_rss_mb"),
            "wall_s_runs": [r["stages"][stage]["wall_s"] for r in runs],
            "rows": rows,
            "rows_per_s": rows / wall if isinstance(rows, int) and wall > 0 else None,
            # dbt stages: the slowest models of the first repetition (the profile behind a missed target)
            "slowest": runs[0]["stages"][stage]["result"].get("slowest"),
        }
    pipeline = sum(stages[s]["wall_s"] for s in PIPELINE)
    daily = sum(stages[s]["wall_s"] for s in DAILY)
    pandas_engine = statistics.median(r["stages"]["p360_pandas"]["result"]["compute_seconds"] for r in runs)
    dbt_engine = statistics.median(r["stages"]["p360_dbt"]["result"]["model_seconds"] for r in runs)
    summary = {
        "patients": n,
        "repetitions": len(runs),
        "stages": stages,
        "pipeline_wall_s": pipeline,
        "pipeline_peak_rss_mb": max(stages[s]["peak_rss_mb"] for s in PIPELINE),
        "peak_rss_mb": max(st["peak_rss_mb"] for st in stages.values()),
        "daily_wall_s": daily,
        "ratios": {
            "land_vs_bare_read": stages["land_cmp"]["wall_s"] / stages["bare_read"]["wall_s"],
            "pandas_vs_dbt_patient_360": stages["p360_pandas"]["wall_s"] / stages["p360_dbt"]["wall_s"],
            "pandas_vs_dbt_patient_360_engine": pandas_engine / dbt_engine if dbt_engine else None,
            "daily_vs_full_refresh": daily / stages["full_refresh"]["wall_s"],
            "daily_vs_pipeline": daily / pipeline,
            **_spark_ratios(stages),
        },
        "p360_equal": all(not r["p360_differences"] for r in runs),
        "p360_differences": runs[0]["p360_differences"],
        "gates_passed": all(r["gates_passed"] for r in runs),
        "identity": runs[0].get("identity"),
        "load_avg_1m": [
            min(st["result"]["load_avg_1m"] for r in runs for st in r["stages"].values()),
            max(st["result"]["load_avg_1m"] for r in runs for st in r["stages"].values()),
        ],
        "compare_files": runs[0]["compare_files"],
        "compare_skipped": runs[0]["compare_skipped"],
    }
    if generate is not None:
        summary["generate"] = {
            "wall_s": generate.wall_s,
            "cpu_s": generate.cpu_s,
            "peak_rss_mb": generate.peak_rss_mb,
            "rows": generate.result["rows"],
            "readings": generate.result["readings"],
            "rows_per_s": generate.result["rows"] / generate.wall_s,
        }
    return summary


def _spark_ratios(stages: dict) -> dict:
    """Spark / DuckDB for the stages measured on both engines (when the run had --spark)."""
    if "spark_dbt" not in stages:
        return {}
    land = stages["spark_land"]["wall_s"] / stages["land"]["wall_s"]
    build = stages["spark_dbt"]["wall_s"] / stages["dbt_full"]["wall_s"]
    both = (stages["spark_land"]["wall_s"] + stages["spark_dbt"]["wall_s"]) / (
        stages["land"]["wall_s"] + stages["dbt_full"]["wall_s"]
    )
    return {"spark_vs_duckdb_land": land, "spark_vs_duckdb_dbt": build, "spark_vs_duckdb_land_dbt": both}


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    from importlib.metadata import version

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "dbt_core": version("dbt-core"),
        "pandas": version("pandas"),
    }


def _ladder(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected N[,N...], got {text!r}") from exc
    if not sizes or min(sizes) < 50:
        raise argparse.ArgumentTypeError("population sizes must be at least 50")
    return sizes


def _repeats(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected N or N,N,... (one per size), got {text!r}") from exc
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("--repeat must be at least 1")
    return counts


def repeats_per_size(sizes: list[int], counts: list[int]) -> dict[int, int]:
    """`--repeat 3` applies to every size; `--repeat 3,3,1` gives one count per size, the
    last count carrying on for further sizes (a 1M repetition takes half an hour)."""
    return {n: counts[min(i, len(counts) - 1)] for i, n in enumerate(sizes)}


def build_parser(prog: str = "patient360 bench") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description="Time the whole pipeline at several population sizes; medians and side-by-side ratios."
    )
    ladder = ",".join(str(n) for n in DEFAULT_LADDER)
    p.add_argument("--patients", type=_ladder, default=list(DEFAULT_LADDER), help=f"N[,N...] (default {ladder})")
    p.add_argument(
        "--repeat",
        type=_repeats,
        default=[3],
        help="repetitions per size, N or N,N,... one per size (e.g. 3,3,1); medians are reported",
    )
    p.add_argument("--days", type=int, default=2, help="daily partitions (the last one is the incremental day)")
    p.add_argument("--history-days", type=int, default=364, help="history carried by the first partition")
    p.add_argument("--hr-per-day", type=int, default=BENCH_HR_PER_DAY, help="band heart-rate samples per day")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--spark",
        type=_ladder,
        default=[],
        metavar="N[,N...]",
        help="also land and build these sizes on the Spark target (local session), beside DuckDB",
    )
    p.add_argument("--workdir", type=Path, default=paths.PROJECT_ROOT / "bench" / "work", help="data (large)")
    p.add_argument("--out", type=Path, default=paths.PROJECT_ROOT / "bench" / "results", help="JSON + Markdown")
    return p


def main(argv: list[str] | None = None, prog: str = "patient360 bench") -> int:
    args = build_parser(prog).parse_args(argv)
    if args.days < 2:
        raise SystemExit("--days must be at least 2: the last partition is the incremental daily run")
    repeats = repeats_per_size(args.patients, args.repeat)
    os.environ.setdefault("P360_PSEUDONYM_KEY", BENCH_KEY)
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log = work / f"bench-{stamp}.log"
    report: dict[str, Any] = {
        "started": stamp,
        "machine": machine(),
        "targets": TARGETS,
        "parameters": {},
        "scales": [],
    }
    report["parameters"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    report["parameters"]["repeat"] = {str(n): r for n, r in repeats.items()}
    _say(f"benchmark log (every stage's output): {log}")
    for n in args.patients:
        exports, gen = _generate(n, args, work, log)
        parts = _partitions(exports)
        cmp_dir = work / f"compare-{n}"
        shutil.rmtree(cmp_dir, ignore_errors=True)
        compare_set = comparable_files(exports, cmp_dir / "exports", date.fromisoformat(parts[0]))
        runs = []
        for rep in range(repeats[n]):
            _say(f"[{n:,}] repetition {rep + 1}/{repeats[n]}")
            runs.append(_one_repetition(n, rep, exports, parts, work, log, compare_set, spark=n in args.spark))
        summary = summarise(n, runs, gen)
        summary["runs"] = runs
        report["scales"].append(summary)
        _say(f"[{n:,}] pipeline median {summary['pipeline_wall_s']:.1f} s, daily run {summary['daily_wall_s']:.1f} s")
        _write(report, args.out, stamp)  # after every size, so a long ladder leaves partial results
    json_path, md_path = _write(report, args.out, stamp)
    _say(f"\nresults: {json_path}\n         {md_path}\n")
    _say(md_path.read_text(encoding="utf-8"))
    return 0


def _write(report: dict, out: Path, stamp: str) -> tuple[Path, Path]:
    json_path = out / f"bench-{stamp}.json"
    md_path = out / f"bench-{stamp}.md"
    json_path.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return json_path, md_path
