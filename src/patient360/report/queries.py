"""The KPI report's data: read-only queries on one gated release file, one function per section.

Every function returns small pandas frames (aggregates only). The release is the gated
aggregate tier, where cells describing fewer than k people are NULL; NULL people counts are
therefore read as "suppressed", while NULL rates next to present counts mean "not measurable"
(nobody eligible yet). Targets come from dbt_project.yml vars (patient360.dbt_vars), never
from numbers written here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from patient360.dbt_vars import dbt_vars

MANIFEST = "release.json"  # written by patient360.publish next to the release file
COVERAGE_TABLE = "kpi_data_coverage"  # unattributed readings and events; read when a release carries it


@dataclass
class Release:
    """One release file opened read-only, with what the report needs to label it."""

    path: Path
    con: duckdb.DuckDBPyConnection
    tables: set[str] = field(default_factory=set)
    k: int = 0
    release_id: str = ""
    published_at: str = ""

    def has(self, *tables: str) -> bool:
        return all(t in self.tables for t in tables)

    def frame(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """A query's rows as a frame; DECIMAL money becomes float so charts can encode it."""
        df = self.con.execute(sql, params or []).df()
        for col in df.columns:
            if df[col].dtype == object and df[col].map(lambda v: isinstance(v, Decimal)).any():
                df[col] = df[col].map(lambda v: None if v is None else float(v)).astype("Float64")
        return df


def open_release(path: Path) -> Release:
    con = duckdb.connect(str(path), read_only=True)
    tables = {t for (t,) in con.execute("select table_name from information_schema.tables").fetchall()}
    rel = Release(path=Path(path), con=con, tables=tables, k=int(dbt_vars().get("k_anonymity", 0)))
    # the release's own id, time and the k its gate verified; a tiered release keeps it one folder up
    manifest = next(
        (d / MANIFEST for d in (Path(path).parent, Path(path).parent.parent) if (d / MANIFEST).is_file()), None
    )
    if manifest is not None:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        rel.release_id, rel.published_at = str(doc.get("release_id", "")), str(doc.get("published_at", ""))
        rel.k = int((doc.get("risk") or {}).get("k") or rel.k)
    return rel


def targets() -> dict[str, Any]:
    """The KPI targets the report draws, from their one home (dbt_project.yml vars)."""
    v = dbt_vars()
    return {
        "cac": v.get("cac_target_yuan"),
        "roi": v.get("roi_target"),
        "ltv_to_cac": v.get("ltv_to_cac_target"),  # not set in the project today: drawn only when it is
        "response_minutes": v.get("consult_response_target_minutes"),
        "ltv_horizon_days": min(v.get("ltv_horizons_days") or [90]),
    }


def channel_funnel(rel: Release) -> pd.DataFrame:
    steps = [
        "impressions",
        "clicks",
        "consult_requests",
        "appointments",
        "acquired_patients",
        "first_visit_patients",
        "repeat_visit_patients",
        "referral_patients",
    ]
    df = rel.frame(f"select channel, {', '.join(steps)} from kpi_channel_funnel where campaign_id = '(all)'")
    long = df.melt(id_vars="channel", value_vars=steps, var_name="step", value_name="count")
    long["half"] = long["step"].map(lambda s: "campaign-reported" if steps.index(s) < 4 else "people attributed")
    long["order"] = long["step"].map(steps.index)
    return long


def channel_cac(rel: Release) -> pd.DataFrame:
    return rel.frame(
        "select month, channel, spend, acquired_patients, cac, meets_cac_target from kpi_channel_economics "
        "where campaign_id = '(all)' and has_spend order by month, channel"
    )


def cohort_returns(rel: Release, horizon_days: int) -> pd.DataFrame:
    """Mature acquisition cohorts only: ROI, LTV and LTV:CAC are null (not comparable) on immature rows."""
    return rel.frame(
        "select acquisition_month, channel, acquired_patients, spend, roi, ltv, ltv_to_cac, meets_roi_target "
        "from kpi_acquisition_cohorts where campaign_id = '(all)' and channel <> 'organic' and is_mature "
        "and horizon_days = ? order by acquisition_month, channel",
        [horizon_days],
    )


def budget_tiers(rel: Release) -> pd.DataFrame:
    return rel.frame(
        "select month, budget_tier, spend, spend_share, target_share, share_gap from kpi_budget_tiers "
        "order by month, budget_tier"
    )


def retention(rel: Release) -> pd.DataFrame:
    df = rel.frame(
        "select cohort_month, horizon_days, cohort_size, eligible_patients, retained_patients, "
        "retention_rate, is_mature from kpi_retention order by cohort_month, horizon_days"
    )
    suppressed = df["eligible_patients"].isna() | df["retained_patients"].isna() | df["cohort_size"].isna()
    df["state"] = "measured"
    df.loc[df["eligible_patients"].fillna(1) == 0, "state"] = "not yet measurable"
    df.loc[suppressed, "state"] = "suppressed"
    df["horizon"] = df["horizon_days"].map(lambda d: f"day {d}")
    return df


def lifecycle_flows(rel: Release) -> pd.DataFrame:
    """Month-over-month movement in the base: people new in the month (registration cohorts), silent
    people recalled and churned people won back (kpi_recall_winback), last 12 months."""
    flows = rel.frame("select month, silent_at_start, recalled, churned_at_start, won_back from kpi_recall_winback")
    if rel.has("kpi_retention"):
        new = rel.frame("select distinct cohort_month as month, cohort_size as new_people from kpi_retention")
        flows = flows.merge(new, on="month", how="left")
    flows = flows.sort_values("month").tail(12)
    value_vars = [
        c for c in ("new_people", "recalled", "won_back", "silent_at_start", "churned_at_start") if c in flows.columns
    ]
    return flows.melt(id_vars="month", value_vars=value_vars, var_name="flow", value_name="people")


def segment_sizes(rel: Release, segment_type: str) -> pd.DataFrame:
    """People per segment per month (kpi_segment_sizes: the aggregate tier's segment sizes, NULL
    where suppressed), for the month-over-month size charts."""
    return rel.frame(
        "select month, segment, patients as people from kpi_segment_sizes "
        "where segment_type = ? order by month, segment",
        [segment_type],
    )


def value_tiers(rel: Release, horizon_days: int) -> pd.DataFrame:
    return rel.frame(
        "select segment, eligible_patients, ltv from kpi_ltv_by_segment "
        "where segment_type = 'value_tier' and horizon_days = ? order by segment",
        [horizon_days],
    )


def churn_reasons(rel: Release) -> pd.DataFrame:
    return rel.frame(
        "select churn_risk_level, reason, reason_count, base_count, reason_share from kpi_churn_reasons "
        "where reason_source = 'warning_signal' and churn_risk_level <> '(all)' "
        "order by churn_risk_level, reason"
    )


def nps(rel: Release) -> pd.DataFrame:
    return rel.frame("select month, responses, promoters, passives, detractors, nps from kpi_nps order by month")


def consult_sla(rel: Release) -> pd.DataFrame:
    """Weekly, so a quiet day does not swing the line: medians of the daily p50/p90 and the pooled share."""
    return rel.frame(
        "select date_trunc('week', requested_date)::date as week, sum(answered_count) as answered, "
        "sum(within_target_count) as within_target, "
        "sum(within_target_count) / sum(answered_count) as within_target_share, "
        "median(p50_response_minutes) as p50_minutes, median(p90_response_minutes) as p90_minutes "
        "from kpi_consult_response where specialty = '(all)' group by 1 order by 1"
    )


def chronic_control(rel: Release) -> pd.DataFrame:
    return rel.frame(
        "select month, programme, programme_patients, measured_patients, controlled_patients, control_rate "
        "from kpi_chronic_control order by month, programme"
    )


def adherence(rel: Release) -> pd.DataFrame:
    return rel.frame(
        "select programme, window_days, patients_with_prescription, adherent_patients, adherent_share, "
        "followup_completion_rate from kpi_medication_adherence order by programme, window_days"
    )


PERIOD_COLUMNS = ("month", "cohort_month", "acquisition_month", "requested_date", "period_start")


def release_coverage(rel: Release) -> pd.DataFrame:
    """Per KPI table of the release: rows, the period it covers and its NULL (suppressed or not
    measurable) cells: what the report could draw on."""
    rows = []
    for table in sorted(t for t in rel.tables if t.startswith("kpi_")):
        cols = [
            c
            for (c,) in rel.con.execute(
                "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
        ]
        period = next((c for c in PERIOD_COLUMNS if c in cols), None)
        span = f"min({period})::varchar, max({period})::varchar" if period else "null, null"
        nulls = " + ".join(f'count(*) - count("{c}")' for c in cols)
        n, first, last, empty = (
            rel.con.execute(f'select count(*), {span}, {nulls} from "{table}"').fetchone() or (0,) * 4
        )
        rows.append(
            {"table": table, "rows": n, "first period": first or "", "last period": last or "", "empty cells": empty}
        )
    return pd.DataFrame(rows, columns=["table", "rows", "first period", "last period", "empty cells"])


def data_coverage(rel: Release) -> pd.DataFrame | None:
    """The coverage table (unattributed readings and events per source) when the release carries it."""
    return rel.frame(f'select * from "{COVERAGE_TABLE}"') if rel.has(COVERAGE_TABLE) else None
