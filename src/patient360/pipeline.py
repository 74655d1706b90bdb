"""The pipeline's stages as plain functions: land -> transform (dbt) -> gates -> publish.

Airflow tasks and `patient360 run` call exactly these. Each stage opens the warehouse,
does its work and closes it again (DuckDB admits one writer process at a time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from patient360.dbt_runner import run_dbt
from patient360.errors import GateFailed, InputMissing, P360Error
from patient360.run_plan import plan_run

log = logging.getLogger(__name__)


class StaleSources(P360Error):
    """`dbt source freshness` found a raw table past its error threshold."""


def stage_land(exports_dir: Path, warehouse: Path, day: date | None = None, sources: list[str] | None = None):
    from patient360.land import land_exports

    report = land_exports(exports_dir=Path(exports_dir), warehouse=Path(warehouse), day=day, sources=sources)
    log.info("landing report:\n%s", report.render())
    if not report.ok:
        # Bad files are recorded in audit.file_loads and do not block the good ones;
        # the run goes on, the gates report freshness and reconciliation.
        log.warning("some files were rejected or failed; see audit.file_loads")
    return report


def stage_transform(
    warehouse: Path,
    as_of: date | None = None,
    *,
    target_dir: Path | None = None,
    full_refresh: bool = False,
    unit_tests: bool = False,
):
    """`dbt build`: every model and data test. dbt unit tests check SQL logic on fixed
    inputs, not the data, so scheduled runs leave them out (dbt's own advice for
    production); `unit_tests=True` runs them, as CI does (the `built_warehouse` fixture in tests/conftest.py)."""
    plan = plan_run(Path(warehouse), as_of)
    log.info("transform %s", plan.describe())
    args = ["build", *plan.dbt_args()] + (["--full-refresh"] if full_refresh else [])
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    result = run_dbt(args, Path(warehouse), as_of=plan.as_of, target_dir=target_dir)
    log_dbt_warnings(result)
    return result


def log_dbt_warnings(result) -> list[str]:
    """Log every dbt test that ended in `warn` (severity warn: the run goes on) as a warning, so it
    stands out in the terminal and the Airflow task log, not only as a WARN line of dbt's output
    (e.g. the data-coverage warning, tests/assert_data_coverage_within_threshold.sql)."""
    warned = [r for r in result.run_results().get("results", []) if r.get("status") == "warn"]
    for r in warned:
        name = str(r.get("unique_id", "?")).removeprefix("test.patient360.")
        log.warning("dbt test %s warns: %s failing row(s)", name, r.get("failures"))
    return [str(r.get("unique_id")) for r in warned]


def stage_freshness(warehouse: Path, target_dir: Path | None = None) -> None:
    """`dbt source freshness` on the raw zone's load times (thresholds: dbt vars
    freshness_warn_after_hours / freshness_error_after_hours). Warnings are logged; a source
    past the error threshold stops the run before anything is rebuilt or published."""
    # artifacts next to the warehouse: a scheduled run never writes into the project folder
    target_dir = target_dir or Path(warehouse).parent / "dbt" / "freshness"
    result = run_dbt(["source", "freshness"], Path(warehouse), target_dir=target_dir, check=False)
    stale = [r for r in result.sources() if r.get("status") in ("error", "runtime error")]
    for r in result.sources():
        if r.get("status") == "warn":
            log.warning("source %s is late (freshness warn threshold)", r.get("unique_id"))
    if stale:
        names = ", ".join(str(r.get("unique_id", "?")).removeprefix("source.patient360.") for r in stale)
        raise StaleSources(f"raw sources past the freshness error threshold: {names} (land the missing exports)")


def stage_docs(warehouse: Path, docs_dir: Path | None = None) -> Path:
    """Build the dbt docs site (every model and column documented) next to the warehouse."""
    docs_dir = Path(docs_dir or Path(warehouse).parent / "docs")
    run_dbt(["docs", "generate"], Path(warehouse), target_dir=docs_dir)
    log.info("dbt docs site: %s", docs_dir / "index.html")
    return docs_dir / "index.html"


def stage_gates(warehouse: Path):
    from patient360.gates import run_gates

    outcome = run_gates(warehouse=Path(warehouse))
    log.info("gates:\n%s", outcome.render())
    if not outcome.passed:
        raise GateFailed(f"blocking expectations failed; marts not published. Data Docs: {outcome.data_docs_index}")
    return outcome


def stage_publish(
    warehouse: Path, out_dir: Path | None = None, tiers: list[str] | None = None, recipient: str | None = None
):
    """Build every release tier's candidate, gate each (the same suites, on the files to be
    published) and swap them in only if all pass; raises GateFailed otherwise (nothing changes
    in published/). Then render the KPI report from the new aggregate tier
    (published/report/index.html). The CLI's `publish`, `run` and the DAG all come here.
    recipient: who receives it, for the release register (default `bi:<tier>`)."""
    from patient360.publish import publish_marts
    from patient360.release_tiers import AGGREGATE
    from patient360.report import write_release_report

    result = publish_marts(warehouse=Path(warehouse), out_dir=out_dir, tiers=tiers, recipient=recipient)
    log.info("published:\n%s", result.render())
    if AGGREGATE in result.tiers and result.published_dir is not None:
        result.report_path = write_release_report(result.published_dir)  # from the release just swapped in
        log.info("KPI report: %s", result.report_path)
    return result


def stage_purge(warehouse: Path, published: Path | None = None):
    """Delete what is past its retention period and rewrite the warehouse (patient360.retention)."""
    from patient360.retention import purge

    report = purge(Path(warehouse), published)
    log.info("%s", report.render())
    return report


@dataclass
class PipelineResult:
    ok: bool
    timings: dict[str, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    data_problems: list[str] = field(default_factory=list)

    def render(self) -> str:
        verdict = "succeeded" if self.ok else "finished with data problems (exit 1)"
        lines = [f"pipeline {verdict}"]
        lines += [f"  {stage:<10} {secs:7.1f} s" for stage, secs in self.timings.items()]
        lines += [f"  {m}" for m in self.messages]
        return "\n".join(lines)


def _land_complete(exports_dir: Path, warehouse: Path, day: date | None, result: PipelineResult):
    report = stage_land(exports_dir, warehouse, day)
    if not report.complete:
        raise InputMissing("export partitions missing: " + ", ".join(report.missing_partitions))
    if not report.ok:  # bad files never block the good ones; the run goes on and says so
        result.data_problems.append("some export files were rejected or failed (see the landing report)")
        result.data_problems += report.problems()
    return report


def _run_steps(steps: list[tuple[str, Callable[[], Any]]], result: PipelineResult) -> PipelineResult:
    for name, step in steps:
        started = time.perf_counter()
        try:
            out = step()
        except Exception as exc:
            exc.add_note(f"stage: {name}")
            raise
        finally:
            result.timings[name] = time.perf_counter() - started
        if name == "publish":
            result.messages += [f"published {tier} tier to {r.duckdb_path}" for tier, r in out.tiers.items()]
    result.messages += result.data_problems
    result.ok = not result.data_problems
    return result


def stage_spark_transform(folder: Path, as_of: date | None = None, *, target_dir: Path | None = None):
    """`dbt build --target spark` on a local Spark session over the folder's raw Parquet zone
    (patient360.spark_engine); returns dbt's node results."""
    from patient360.spark_engine import run_dbt_spark, spark_session
    from patient360.spark_raw import register_raw_tables

    register_raw_tables(spark_session(folder), Path(folder))
    dbt_vars = {"as_of_date": as_of.isoformat()} if as_of else None
    args = ["build", "--exclude-resource-type", "unit_test"]
    return run_dbt_spark(args, Path(folder), target_dir=target_dir, dbt_vars=dbt_vars)


def run_spark_pipeline(exports_dir: Path, folder: Path, day: date | None = None) -> PipelineResult:
    """The same run on the Spark target: land as Parquet (files in parallel), dbt build on Spark,
    then the gates and the release on the Spark tables' Parquet through a catalogue of views
    (patient360.spark_release). Releases go to <folder>/published."""
    from patient360.land.parquet_sink import land_to_parquet
    from patient360.pseudonym import load_key
    from patient360.spark_release import build_catalogue

    load_key()
    folder = Path(folder).resolve()
    result = PipelineResult(ok=False)
    catalogue = folder / "catalogue.duckdb"

    def land() -> None:
        report = land_to_parquet(exports_dir, folder, day=day)
        if not report.complete:
            raise InputMissing("export partitions missing: " + ", ".join(report.missing_partitions))
        if not report.ok:
            result.data_problems.append("some export files were rejected or failed (see the landing report)")
            result.data_problems += report.problems()

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("land", land),
        ("transform", lambda: stage_spark_transform(folder, day, target_dir=folder / "target")),
        ("catalogue", lambda: build_catalogue(folder)),
        ("gates", lambda: stage_gates(catalogue)),
        ("publish", lambda: stage_publish(catalogue, out_dir=folder / "published")),
    ]
    return _run_steps(steps, result)


def run_pipeline(exports_dir: Path, warehouse: Path, day: date | None = None) -> PipelineResult:
    """Land every pending partition (or `day`), build, gate, publish, purge: in-process, no scheduler.

    Raises P360Error subclasses for expected failures (missing exports, stale sources, a failed
    gate) so the CLI can explain them; `result.ok` is False when files were rejected."""
    from patient360.pseudonym import load_key

    load_key()  # a missing or weak key fails now, not after minutes of landing
    result = PipelineResult(ok=False)
    warehouse = Path(warehouse)
    steps = [
        ("land", lambda: _land_complete(exports_dir, warehouse, day, result)),
        ("freshness", lambda: stage_freshness(warehouse)),
        ("transform", lambda: stage_transform(warehouse, day)),
        ("docs", lambda: stage_docs(warehouse)),
        ("gates", lambda: stage_gates(warehouse)),
        ("publish", lambda: stage_publish(warehouse)),
        ("purge", lambda: stage_purge(warehouse)),
    ]
    return _run_steps(steps, result)
