"""Great Expectations: validate the metric frame against the suites in expectations/suites.

DuckDB computed every metric; GX validates the (small, values-free) pandas frame of
metrics with the reviewable suites, stores validation results and builds Data Docs in a
file context under `<gx_dir>`. (GX's SQL datasource on DuckDB returns empty results, see
GX issues 10738/11579, so metrics are handed over as pandas.) result_format is SUMMARY
over the metric frame: its "unexpected values" are counts, never patient data.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from patient360.gates.metrics import Metric
from patient360.paths import EXPECTATIONS_DIR

SUITES_DIR = EXPECTATIONS_DIR / "suites"
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0, "include_unexpected_rows": False}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpectationSpec:
    suite: str
    check: str
    severity: str
    min_value: float | None
    max_value: float | None
    config: dict

    def violated(self, observed: float) -> bool:
        return (self.min_value is not None and observed < self.min_value) or (
            self.max_value is not None and observed > self.max_value
        )


def load_suites(suites_dir: Path = SUITES_DIR) -> dict[str, list[ExpectationSpec]]:
    """suite name -> expectation specs, from the reviewable JSON files."""
    out: dict[str, list[ExpectationSpec]] = {}
    for path in sorted(Path(suites_dir).glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        specs = []
        for i, exp in enumerate(doc["expectations"]):
            meta, kw = exp.get("meta", {}), exp.get("kwargs", {})
            if meta.get("severity") not in ("block", "warn") or not meta.get("check"):
                raise ValueError(f"{path}: expectation {i}: meta needs check and severity block|warn")
            bounds = (kw.get("min_value"), kw.get("max_value"))
            specs.append(ExpectationSpec(doc["name"], meta["check"], meta["severity"], *bounds, exp))
        out[doc["name"]] = specs
    return out


def metrics_frame(metrics: list[Metric]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "suite": [m.suite for m in metrics],
            "table": [m.table for m in metrics],
            "column": [m.column for m in metrics],
            "check": [m.check for m in metrics],
            "observed": [float(m.observed) for m in metrics],
        }
    )


def run_checkpoint(frame: pd.DataFrame, suites: dict[str, list[ExpectationSpec]], gx_dir: Path) -> tuple[dict, Path]:
    """Validate `frame` with every suite; returns ({suite: [(spec, success)]}, data docs index)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    gx_dir.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    ds = ctx.data_sources.add_or_update_pandas("gate_metrics")
    asset = ds.get_asset("metrics") if "metrics" in ds.get_asset_names() else ds.add_dataframe_asset("metrics")
    names = [b.name for b in asset.batch_definitions]
    batch = asset.get_batch_definition("all") if "all" in names else asset.add_batch_definition_whole_dataframe("all")
    vds = []
    for name, specs in suites.items():
        suite = ExpectationSuite(name=name)
        for spec in specs:
            suite.add_expectation_configuration(ExpectationConfiguration(**spec.config))
        suite = ctx.suites.add_or_update(suite)
        vd = gx.ValidationDefinition(name=name, data=batch, suite=suite)
        vds.append(ctx.validation_definitions.add_or_update(vd))
    checkpoint = ctx.checkpoints.add_or_update(
        gx.Checkpoint(
            name="patient360_gates",
            validation_definitions=vds,
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            result_format=RESULT_FORMAT,
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame})
    by_suite: dict[str, list] = {}
    for run in result.run_results.values():
        name = run.suite_name
        success = {r.expectation_config.meta["check"]: r.success for r in run.results}
        by_suite[name] = [(spec, success.get(spec.check)) for spec in suites[name]]
    index = Path(ctx.get_docs_sites_urls()[0]["site_url"].removeprefix("file://"))
    return by_suite, index
