"""The KPI report's chart specifications (altair / Vega-Lite), one function per chart.

Each takes a frame from patient360.report.queries and returns an altair chart; rows whose
value is NULL (suppressed or not measurable) are left out of the marks and listed in the
section's note instead (patient360.report.page). Targets are passed in, never written here.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

WIDTH = 640
SUPPRESSED_GREY = "#d9d9d9"


def _rule(value: float, label: str) -> alt.LayerChart:
    """A dashed horizontal target line with its label."""
    base = alt.Chart(pd.DataFrame({"target": [value], "label": [label]}))
    line = base.mark_rule(color="#c0392b", strokeDash=[6, 4]).encode(y="target:Q")
    text = base.mark_text(align="left", dx=4, dy=-6, color="#c0392b").encode(
        y="target:Q", text="label:N", x=alt.value(0)
    )
    return line + text


def funnel(df: pd.DataFrame) -> alt.HConcatChart | None:
    """Campaign-reported steps in total on a log scale (impressions dwarf appointments); the people
    attributed stacked by channel."""
    reported = df[(df["half"] == "campaign-reported") & df["count"].notna()]
    people = df[(df["half"] == "people attributed") & df["count"].notna()]
    if reported.empty or people.empty:
        return None  # a half with nothing to draw: the page says so instead of an empty chart
    y = alt.Y("step:N", sort=alt.SortField("order"), title=None)
    left = (
        alt.Chart(reported, title="campaign-reported (all channels, log scale)")
        .mark_bar()
        .encode(
            y=y,
            x=alt.X("sum(count):Q", scale=alt.Scale(type="log"), title="count"),
            tooltip=["step:N", alt.Tooltip("sum(count):Q", format=",")],
        )
        .properties(width=WIDTH // 2 - 60, height=160)
    )
    right = (
        alt.Chart(people, title="people attributed, by channel")
        .mark_bar()
        .encode(
            y=y,
            x=alt.X("sum(count):Q", title="people"),
            color=alt.Color("channel:N"),
            tooltip=["channel:N", "step:N", alt.Tooltip("count:Q", format=",")],
        )
        .properties(width=WIDTH // 2 - 60, height=160)
    )
    return alt.hconcat(left, right).resolve_scale(x="independent")


def by_channel_over_time(
    df: pd.DataFrame, x: str, y: str, title: str, target: float | None, target_label: str
) -> alt.Chart | alt.LayerChart | None:
    """One line per channel over months, with the target line when there is a target."""
    data = df[df[y].notna()]
    if data.empty:
        return None  # every cell suppressed or absent: the page says so instead of an empty chart
    chart = (
        alt.Chart(data, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X(f"{x}:T", title=None, axis=alt.Axis(format="%Y-%m", tickCount="month")),
            y=alt.Y(f"{y}:Q", title=title),
            color="channel:N",
            tooltip=[alt.Tooltip(f"{x}:T", format="%Y-%m"), "channel:N", alt.Tooltip(f"{y}:Q", format=",.2f")],
        )
        .properties(width=WIDTH, height=220)
    )
    return chart + _rule(float(target), target_label) if target is not None else chart


def spend_mix(df: pd.DataFrame) -> alt.LayerChart | None:
    """Stacked spend share per month by tier; ticks at each tier's target share (cumulative)."""
    order = {"proven": 0, "promising": 1, "experimental": 2}
    data = df[df["spend_share"].notna()].assign(order=lambda d: d["budget_tier"].map(order))
    if data.empty:
        return None  # every cell suppressed or absent: the page says so instead of an empty chart
    bars = (
        alt.Chart(data, title="Spend share by budget tier (ticks: the 70/20/10 targets)")
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):O", title=None),
            y=alt.Y("spend_share:Q", stack="zero", axis=alt.Axis(format="%"), title="share of the month's spend"),
            color=alt.Color("budget_tier:N", sort=list(order)),
            order="order:Q",
            tooltip=[
                alt.Tooltip("month:T", format="%Y-%m"),
                "budget_tier:N",
                alt.Tooltip("spend_share:Q", format=".0%"),
                alt.Tooltip("target_share:Q", format=".0%"),
                alt.Tooltip("spend:Q", format=",.0f"),
            ],
        )
    )
    targets = data.drop_duplicates("budget_tier").sort_values("order")
    cumulative = targets.assign(edge=targets["target_share"].cumsum())[["budget_tier", "edge"]]
    ticks = (
        alt.Chart(cumulative).mark_rule(color="black", strokeDash=[4, 3]).encode(y="edge:Q", tooltip=["budget_tier:N"])
    )
    return (bars + ticks).properties(width=WIDTH, height=220)


def retention_heatmap(df: pd.DataFrame, cohorts: int = 18) -> alt.LayerChart:
    """The latest `cohorts` registration months; grey cells are suppressed or not yet measurable."""
    df = df[df["cohort_month"].isin(sorted(df["cohort_month"].unique())[-cohorts:])]
    base = alt.Chart(df, title="N-day retention by registration cohort").encode(
        x=alt.X("horizon:N", sort=alt.SortField("horizon_days"), title="retention horizon"),
        y=alt.Y("cohort_month:O", timeUnit="yearmonth", title="registration cohort"),
    )
    cells = base.mark_rect().encode(
        color=alt.condition(
            "datum.state === 'measured'",
            alt.Color("retention_rate:Q", scale=alt.Scale(scheme="blues"), legend=alt.Legend(format="%")),
            alt.value(SUPPRESSED_GREY),
        ),
        tooltip=[
            alt.Tooltip("cohort_month:T", format="%Y-%m"),
            "horizon:N",
            "state:N",
            alt.Tooltip("retention_rate:Q", format=".0%"),
            "eligible_patients:Q",
            "retained_patients:Q",
        ],
    )
    labels = (
        base.mark_text(fontSize=10)
        .encode(
            text=alt.Text("label:N"),
            color=alt.condition("datum.retention_rate > 0.6", alt.value("white"), alt.value("black")),
        )
        .transform_calculate(
            label="datum.state === 'measured' ? format(datum.retention_rate, '.0%') : "
            "(datum.state === 'suppressed' ? 'suppressed' : 'n/a')"
        )
    )
    return (cells + labels).properties(width=WIDTH // 2, height=max(160, 18 * df["cohort_month"].nunique()))


def grouped_bars(df: pd.DataFrame, x: str, y: str, color: str, title: str, fmt: str = ",d") -> alt.Chart | None:
    """Horizontal bars of `y` per `x`, one bar per `color` side by side."""
    return bars(df, x, y, title, fmt, color=color)


def bars(df: pd.DataFrame, x: str, y: str, title: str, fmt: str = ",d", color: str | None = None) -> alt.Chart | None:
    """Horizontal bars of `y` per `x` (grouped by `color` when given)."""
    data = df[df[y].notna()]
    if data.empty:
        return None  # every cell suppressed or absent: the page says so instead of an empty chart
    tooltip = [f"{x}:N", *([f"{color}:N"] if color else []), alt.Tooltip(f"{y}:Q", format=fmt)]
    grouping = {"color": f"{color}:N", "yOffset": f"{color}:N"} if color else {}
    return (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(
            y=alt.Y(f"{x}:N", title=None),
            x=alt.X(f"{y}:Q", title=y.replace("_", " "), axis=alt.Axis(format=fmt)),
            tooltip=tooltip,
            **grouping,
        )
        .properties(width=WIDTH - 120 if color else WIDTH // 2)
    )


def lines(
    df: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    color: str | None = None,
    fmt: str = ",.1f",
    target: float | None = None,
    target_label: str = "",
) -> alt.Chart | alt.LayerChart | None:
    data = df[df[y].notna()]
    if data.empty:
        return None  # every cell suppressed or absent: the page says so instead of an empty chart
    enc: dict = {
        "x": alt.X(
            f"{x}:T",
            title=None,
            axis=alt.Axis(format="%Y-%m-%d" if x == "week" else "%Y-%m", tickCount="week" if x == "week" else "month"),
        ),
        "y": alt.Y(f"{y}:Q", title=title, axis=alt.Axis(format=fmt)),
        "tooltip": [alt.Tooltip(f"{x}:T"), alt.Tooltip(f"{y}:Q", format=fmt)] + ([f"{color}:N"] if color else []),
    }
    if color:
        enc["color"] = f"{color}:N"
    chart = alt.Chart(data, title=title).mark_line(point=True).encode(**enc).properties(width=WIDTH, height=200)
    return chart + _rule(float(target), target_label) if target is not None else chart
