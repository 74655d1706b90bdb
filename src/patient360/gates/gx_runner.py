"""Great Expectations: the one evaluator of the gates.

DuckDB computed every metric; GX validates the (small, values-free) pandas frame of
metrics with the reviewable suites in expectations/suites, and the gate's failures are
read back from GX's validation results: each failing metric row comes back in
`unexpected_index_list` (result_format COMPLETE, indexed by the frame's name columns),
so the bounds live only in the suite JSON as GX evaluates them. With a `gx_dir` the
results are stored and Data Docs rebuilt in a file context there. (GX's SQL datasource
on DuckDB returns empty results, so metrics are handed over as pandas.) The frame holds
names, rule descriptions and counts, never patient data, so neither can the results.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from patient360.gates.metrics import Metric
from patient360.gates.outcome import Failure
from patient360.paths import EXPECTATIONS_DIR

SUITES_DIR = EXPECTATIONS_DIR / "suites"
FRAME_COLUMNS = ["suite", "table", "column", "check", "observed", "detail"]
# COMPLETE: every failing metric row, identified by its names (GX caps lists in SUMMARY)
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": FRAME_COLUMNS,
                 "partial_unexpected_count": 0}  # fmt: skip
COVERAGE_SUITE = "expectation_coverage"
log = logging.getLogger(__name__)


@dataclass
class GxVerdict:
    failures: list[Failure]
    success: dict[tuple[str, str], bool | None] = field(default_factory=dict)  # (suite, check) -> GX's success
    data_docs_index: Path | None = None


def load_suites(suites_dir: Path = SUITES_DIR) -> dict[str, list[dict]]:
    """suite name -> expectation configurations, from the reviewable JSON files.

    Each expectation selects the metric rows of exactly one (suite, check) with its
    row_condition and names that check in meta, so coverage can be derived from meta.
    """
    out: dict[str, list[dict]] = {}
    for path in sorted(Path(suites_dir).glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for i, exp in enumerate(doc["expectations"]):
            meta, kw = exp.get("meta", {}), exp.get("kwargs", {})
            if meta.get("severity") not in ("block", "warn") or not meta.get("check"):
                raise ValueError(f"{path}: expectation {i}: meta needs check and severity block|warn")
            wanted = row_condition(doc["name"], meta["check"])
            if kw.get("row_condition") != wanted:
                raise ValueError(f"{path}: expectation {i}: row_condition must be {wanted}")
        out[doc["name"]] = doc["expectations"]
    return out


def row_condition(suite: str, check: str) -> str:
    return f'suite=="{suite}" and check=="{check}"'


def coverage_expectations(suites: dict[str, list[dict]]) -> list[dict]:
    """A metric no expectation selects would pass unseen: GX fails every (suite, check) row
    outside the pairs the suites cover (derived from the suites, so there is one list)."""
    pairs = sorted({(name, e["meta"]["check"]) for name, exps in suites.items() for e in exps})
    return [{
        "type": "expect_column_pair_values_to_be_in_set",
        "kwargs": {"column_A": "suite", "column_B": "check", "value_pairs_set": [list(p) for p in pairs]},
        "meta": {"check": "covered", "severity": "block", "detail": "no expectation covers it",
                 "why": "Every metric is checked by an expectation: an unknown check fails closed."},
    }]  # fmt: skip


def metrics_frame(metrics: list[Metric]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "suite": [m.suite for m in metrics],
            "table": [m.table for m in metrics],
            "column": [m.column for m in metrics],
            "check": [m.check for m in metrics],
            "observed": [float(m.observed) for m in metrics],
            "detail": [m.detail for m in metrics],
        },
        columns=FRAME_COLUMNS,
    )


def failures_of(suite: str, result) -> list[Failure]:
    """The failures of one GX expectation result: one per failing metric row it returned."""
    if result.success:
        return []
    meta = result.expectation_config.meta
    rows = (result.result or {}).get("unexpected_index_list") or []
    if not rows:  # GX could not evaluate it (or named no row): the gate cannot vouch for it
        return [Failure("block", suite, "*", "", meta["check"], 0, "Great Expectations: not evaluated")]
    return [
        Failure(
            meta["severity"],
            r["suite"],
            r["table"],
            r["column"],
            r["check"],
            float(r["observed"]),
            meta.get("detail") or r["detail"],
        )  # fmt: skip
        for r in rows
    ]


# The Spark Connect modules GX imports to recognise Connect data frames. Importing them runs
# pyspark.sql.connect.utils.check_dependencies(), which calls sys.exit(0) in a process whose
# __main__ has neither a spec nor a file (`python -c`, an embedding host, a pytest-xdist worker)
# when Spark Connect's own dependencies are missing: a gate that ends its process with success.
_SPARK_CONNECT = ("pyspark.sql.connect", "pyspark.sql.connect.dataframe", "pyspark.sql.connect.session")


def _import_gx() -> None:
    """Import Great Expectations without letting it import Spark Connect (see _SPARK_CONNECT),
    whether or not this process already uses pyspark (the Spark target does). Without pyspark
    loaded, GX does not import it at all: that costs seconds per process and warns about pandas 3.
    The gates evaluate pandas frames, so GX never needs Spark."""
    if "great_expectations" in sys.modules:
        return
    # pyspark in use (the Spark target): keep it, hide only the Connect modules
    names = _SPARK_CONNECT if "pyspark" in sys.modules else ("pyspark", *_SPARK_CONNECT)
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        import great_expectations  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


def _build_data_docs(ctx: Any, result: Any) -> None:
    """The pages of this run's results and suites, and the index, built once. GX's
    UpdateDataDocsAction does the same per suite, re-rendering the index and recompiling every
    Jinja template each time: that was a fifth of a release's time, for the same pages."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    resources: list[Any] = []
    for result_id, run in result.run_results.items():
        resources += [result_id, ExpectationSuiteIdentifier(name=run.suite_name)]
    ctx.build_data_docs(resource_identifiers=resources)


def _context(gx_dir: Path | None) -> Any:
    _import_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx: Any
    if gx_dir is None:
        ctx = gx.get_context(mode="ephemeral")
    else:
        gx_dir.mkdir(parents=True, exist_ok=True)
        ctx = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def validate(metrics: list[Metric], suites: dict[str, list[dict]], gx_dir: Path | None = None) -> GxVerdict:
    """Validate the metrics with every suite (plus coverage) in one GX checkpoint.

    gx_dir: GX file context where results are stored and Data Docs rebuilt; None runs the
    same checkpoint in an ephemeral context (nothing stored, no Data Docs).
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    _import_gx()
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    ctx = _context(gx_dir)
    ds = ctx.data_sources.add_or_update_pandas("gate_metrics")
    asset = ds.get_asset("metrics") if "metrics" in ds.get_asset_names() else ds.add_dataframe_asset("metrics")
    names = [b.name for b in asset.batch_definitions]
    batch = asset.get_batch_definition("all") if "all" in names else asset.add_batch_definition_whole_dataframe("all")
    vds = []
    for name, exps in {**suites, COVERAGE_SUITE: coverage_expectations(suites)}.items():
        suite = ExpectationSuite(name=name)
        for exp in exps:
            suite.add_expectation_configuration(ExpectationConfiguration(**exp))
        suite = ctx.suites.add_or_update(suite)
        vd = gx.ValidationDefinition(name=name, data=batch, suite=suite)
        vds.append(ctx.validation_definitions.add_or_update(vd))
    checkpoint = ctx.checkpoints.add_or_update(
        gx.Checkpoint(name="patient360_gates", validation_definitions=vds, actions=[], result_format=RESULT_FORMAT)
    )
    result = checkpoint.run(batch_parameters={"dataframe": metrics_frame(metrics)})
    if gx_dir is not None:
        _build_data_docs(ctx, result)
    verdict = GxVerdict(failures=[])
    for run in result.run_results.values():
        for r in run.results:
            verdict.success[(run.suite_name, r.expectation_config.meta["check"])] = r.success
            verdict.failures += failures_of(run.suite_name, r)
    if gx_dir is not None:
        verdict.data_docs_index = Path(ctx.get_docs_sites_urls()[0]["site_url"].removeprefix("file://"))
    return verdict
