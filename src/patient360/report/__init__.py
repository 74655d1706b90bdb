"""The KPI report: one self-contained HTML page for marketing and operations managers, rendered
from the gated aggregate release after every successful publish (`<published>/report/index.html`).

queries.py reads the release (read-only), charts.py holds the chart specifications, page.py
writes the HTML; this module puts the sections together. `patient360 report` renders it by hand.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from patient360.report import charts, queries
from patient360.report.page import Section, html_table, render_page, suppression_note
from patient360.report.queries import Release

REPORT = Path("report") / "index.html"
AGGREGATE_RELEASE = Path("aggregate") / "marts.duckdb"  # the gated aggregate tier
FLAT_RELEASE = Path("marts.duckdb")  # a release without tiers


def release_file(published_dir: Path) -> Path:
    """The release the report reads: the aggregate tier when the release has tiers."""
    tiered = Path(published_dir) / AGGREGATE_RELEASE
    return tiered if tiered.is_file() else Path(published_dir) / FLAT_RELEASE


def write_release_report(published_dir: Path) -> Path:
    """Render `<published_dir>/report/index.html` from the release in that folder; returns its path."""
    out = Path(published_dir) / REPORT
    render_report(release_file(published_dir), out)
    return out


def render_report(release_db: Path, out_html: Path) -> Path:
    """Read the release file (read-only) and write the report atomically (a reader never sees half a page)."""
    rel = queries.open_release(Path(release_db))
    try:
        sections = [_section(rel, build) for build in SECTIONS]
    finally:
        rel.con.close()
    subtitle = (
        f"Release {rel.release_id or rel.path.name}"
        + (f", published {rel.published_at}" if rel.published_at else "")
        + f". Aggregates only; cells describing fewer than {rel.k} people are suppressed and say so."
    )
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_html.with_name(f".{out_html.name}.{os.getpid()}.tmp")
    tmp.write_text(render_page("Patient 360: KPI report", subtitle, sections), encoding="utf-8")
    os.replace(tmp, out_html)
    return out_html


def _section(rel: Release, build: tuple[str, str, str, tuple[str, ...], Callable[[Release, Section], None]]) -> Section:
    anchor, title, intro, needs, fill = build
    section = Section(anchor, title, intro)
    absent = [t for t in needs if not rel.has(t)]
    if absent:
        section.missing = f"Not in this release: {', '.join(absent)}."
    else:
        fill(rel, section)
    return section


def _funnel(rel: Release, s: Section) -> None:
    df = queries.channel_funnel(rel)
    s.charts.append(charts.funnel(df))
    s.notes.append(suppression_note(df, ["count"], ["channel", "step"], rel.k))


def _economics(rel: Release, s: Section) -> None:
    t = queries.targets()
    cac = queries.channel_cac(rel)
    s.charts.append(
        charts.by_channel_over_time(
            cac, "month", "cac", "CAC (yuan per acquired person)", t["cac"], f"target: at most {t['cac']} yuan"
        )
    )
    s.notes.append("CAC: " + suppression_note(cac, ["acquired_patients"], ["month", "channel"], rel.k))
    cohorts = queries.cohort_returns(rel, t["ltv_horizon_days"])
    if cohorts.empty:
        s.notes.append(f"No acquisition cohort is mature at {t['ltv_horizon_days']} days yet: ROI and LTV:CAC follow.")
        return
    s.charts.append(
        charts.by_channel_over_time(
            cohorts,
            "acquisition_month",
            "roi",
            f"ROI at {t['ltv_horizon_days']} days by acquisition cohort",
            t["roi"],
            f"target: at least 1:{t['roi']}",
        )
    )
    ltv_label = f"target: {t['ltv_to_cac']}" if t["ltv_to_cac"] is not None else ""
    s.charts.append(
        charts.by_channel_over_time(
            cohorts,
            "acquisition_month",
            "ltv_to_cac",
            f"LTV:CAC at {t['ltv_horizon_days']} days by acquisition cohort",
            t["ltv_to_cac"],
            ltv_label,
        )
    )
    if t["ltv_to_cac"] is None:
        s.notes.append("LTV:CAC has no target in dbt_project.yml vars (ltv_to_cac_target), so no target line is drawn.")
    s.notes.append(
        "ROI, LTV:CAC: " + suppression_note(cohorts, ["acquired_patients"], ["acquisition_month", "channel"], rel.k)
    )


def _spend_mix(rel: Release, s: Section) -> None:
    df = queries.budget_tiers(rel)
    s.charts.append(charts.spend_mix(df))
    s.notes.append(suppression_note(df, ["spend_share"], ["month", "budget_tier"], rel.k))


def _retention(rel: Release, s: Section) -> None:
    df = queries.retention(rel)
    s.charts.append(charts.retention_heatmap(df))
    s.notes.append(
        suppression_note(
            df, ["cohort_size", "eligible_patients", "retained_patients"], ["cohort_month", "horizon"], rel.k
        )
    )


def _lifecycle(rel: Release, s: Section) -> None:
    flows = queries.lifecycle_flows(rel)
    s.charts.append(charts.lines(flows, "month", "people", "People moving each month", color="flow", fmt=",d"))
    s.notes.append("Flows: " + suppression_note(flows, ["people"], ["month", "flow"], rel.k))
    if rel.has("kpi_segment_sizes"):
        for segment_type, label in (("lifecycle_stage", "lifecycle stage"), ("value_tier", "value tier")):
            sizes = queries.segment_sizes(rel, segment_type)
            s.charts.append(charts.lines(sizes, "month", "people", f"People per {label}, month by month",
                                         color="segment", fmt=",d"))  # fmt: skip
            s.notes.append(f"Sizes per {label}: " + suppression_note(sizes, ["people"], ["month", "segment"], rel.k))
    else:
        s.notes.append("Segment sizes: this release carries no kpi_segment_sizes table.")
    h = queries.targets()["ltv_horizon_days"]
    if rel.has("kpi_ltv_by_segment"):
        tiers = queries.value_tiers(rel, h)
        s.charts.append(charts.bars(tiers, "segment", "eligible_patients", f"People per value tier (LTV {h} days)"))
        s.tables.append(
            html_table(
                tiers.rename(
                    columns={"segment": "value tier", "eligible_patients": "people", "ltv": f"LTV {h} days (yuan)"}
                ),
                rel.k,
                {f"LTV {h} days (yuan)": ",.0f"},
            )
        )


def _churn(rel: Release, s: Section) -> None:
    df = queries.churn_reasons(rel)
    s.charts.append(charts.grouped_bars(df, "reason", "reason_count", "churn_risk_level", "People by churn signal"))
    s.notes.append(suppression_note(df, ["reason_count", "base_count"], ["churn_risk_level", "reason"], rel.k))


def _nps(rel: Release, s: Section) -> None:
    df = queries.nps(rel)
    s.charts.append(charts.lines(df, "month", "nps", "NPS (-100 to 100)"))
    s.notes.append(suppression_note(df, ["responses", "promoters", "passives", "detractors"], ["month"], rel.k))


def _sla(rel: Release, s: Section) -> None:
    t = queries.targets()
    df = queries.consult_sla(rel)
    long = df.melt(id_vars="week", value_vars=["p50_minutes", "p90_minutes"], var_name="measure", value_name="minutes")
    s.charts.append(
        charts.lines(
            long,
            "week",
            "minutes",
            "First-reply time (minutes, weekly median of daily values)",
            color="measure",
            target=t["response_minutes"],
            target_label=f"standard: {t['response_minutes']} min",
        )
    )
    s.charts.append(charts.lines(df, "week", "within_target_share", "Share answered within the standard", fmt=".0%"))
    s.notes.append(suppression_note(df, ["answered", "within_target"], ["week"], rel.k))


def _clinical(rel: Release, s: Section) -> None:
    control = queries.chronic_control(rel)
    s.charts.append(
        charts.lines(control, "month", "control_rate", "Control rate by programme", color="programme", fmt=".0%")
    )
    s.notes.append(
        "Control: "
        + suppression_note(
            control, ["programme_patients", "measured_patients", "controlled_patients"], ["month", "programme"], rel.k
        )
    )
    if rel.has("kpi_medication_adherence"):
        adh = queries.adherence(rel).assign(window=lambda d: d["window_days"].map(lambda w: f"{w} days"))
        s.charts.append(
            charts.grouped_bars(
                adh,
                "programme",
                "adherent_share",
                "window",
                "Adherent share (PDC) by programme, as of the run date",
                fmt=".0%",
            )
        )
        s.notes.append(
            "Adherence: "
            + suppression_note(adh, ["patients_with_prescription", "adherent_patients"], ["programme", "window"], rel.k)
        )


def _coverage(rel: Release, s: Section) -> None:
    coverage = queries.data_coverage(rel)
    if coverage is None:
        s.notes.append(
            f"Unattributed readings and events: this release has no {queries.COVERAGE_TABLE} table yet; "
            "when a release carries it, it is listed here."
        )
    else:
        s.tables.append(html_table(coverage, rel.k))
    s.tables.append(html_table(queries.release_coverage(rel), rel.k))
    s.notes.append(
        "Empty cells are suppressed counts or rates with nobody to measure yet (for example an immature cohort)."
    )


SECTIONS: list[tuple[str, str, str, tuple[str, ...], Callable[[Release, Section], None]]] = [
    (
        "funnel",
        "Channel funnel",
        "From impressions to referrals, per acquisition channel: campaign-reported steps "
        "and the people attributed to each channel.",
        ("kpi_channel_funnel",),
        _funnel,
    ),
    (
        "economics",
        "CAC, ROI and LTV:CAC by channel",
        "Monthly CAC per channel and the return on mature acquisition "
        "cohorts, against the targets in the project's business rules.",
        ("kpi_channel_economics", "kpi_acquisition_cohorts"),
        _economics,
    ),
    (
        "spend-mix",
        "Spend mix against the 70/20/10 rule",
        "Share of each month's campaign spend on proven, promising and experimental channels.",
        ("kpi_budget_tiers",),
        _spend_mix,
    ),
    (
        "retention",
        "Cohort retention",
        "Share of each registration cohort active again N days later.",
        ("kpi_retention",),
        _retention,
    ),
    (
        "lifecycle",
        "Lifecycle and value tiers",
        "Who is in the base and how people move month to month: new, recalled from silent, won back from churned.",
        ("kpi_recall_winback",),
        _lifecycle,
    ),
    (
        "churn",
        "Churn risk by reason",
        "People at each churn-risk level by the warning signal that fired (a person can show several).",
        ("kpi_churn_reasons",),
        _churn,
    ),
    ("nps", "NPS trend", "Net promoter score by month of answer.", ("kpi_nps",), _nps),
    (
        "sla",
        "Consult response",
        "Online consults: time to the first reply against the service standard.",
        ("kpi_consult_response",),
        _sla,
    ),
    (
        "clinical",
        "Chronic control and adherence",
        "Control rates of chronic programmes by month, and medication adherence as of the run date.",
        ("kpi_chronic_control",),
        _clinical,
    ),
    (
        "coverage",
        "Data coverage",
        "What this release covers: per KPI table its rows, period and empty cells.",
        (),
        _coverage,
    ),
]
