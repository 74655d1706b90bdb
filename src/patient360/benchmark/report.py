"""The benchmark's Markdown report and the targets it checks (TARGETS, described in docs/benchmarks.md)."""

from __future__ import annotations

TARGETS = {
    "pipeline_s_at_1m": 480.0,  # land + dbt + gates + publish at 1M patients
    "peak_gib_at_1m": 8.0,
    "daily_vs_full_refresh_at_1m": 0.05,
    "time_1m_vs_100k": 11.0,
    "land_vs_bare_read": 1.5,
    "pandas_vs_dbt_patient_360": 5.0,  # at least
}

STAGE_LABELS = {
    "land": "landing (first partition: a year of history)",
    "dbt_full": "dbt full build (incl. tests)",
    "gates": "gates (quality + PII masking)",
    "publish": "publish (3 release tiers: DuckDB v1 file + Parquet each)",
    "inc_land": "daily run: land one new day",
    "inc_dbt": "daily run: dbt build (incremental)",
    "full_refresh": "dbt build --full-refresh",
    "p360_dbt": "patient_360 via dbt run",
    "p360_pandas": "patient_360 via pandas",
    "land_cmp": "landing, comparable files",
    "bare_read": "bare DuckDB read, same files",
}


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _scale_section(s: dict) -> list[str]:
    out = [f"## {s['patients']:,} patients", ""]
    gen = s.get("generate")
    if gen:
        out += [
            f"Generated {gen['rows']:,} rows ({gen['readings']:,} wearable readings) in {gen['wall_s']:.1f} s "
            f"({gen['rows_per_s']:,.0f} rows/s, peak {gen['peak_rss_mb']:,.0f} MiB).",
            "",
        ]
    out += [
        "| stage | wall s (median) | wall s, each run | CPU s | peak RSS MiB | rows | rows/s |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for name, st in s["stages"].items():
        runs = ", ".join(f"{t:.1f}" for t in st["wall_s_runs"])
        out.append(
            f"| {STAGE_LABELS.get(name, name)} | {_num(st['wall_s'])} | {runs} | {_num(st['cpu_s'])} | "
            f"{_num(st['peak_rss_mb'], 0)} | {_num(st['rows'])} | {_num(st['rows_per_s'], 0)} |"
        )
    r = s["ratios"]
    ident = s.get("identity") or {}
    out += [
        "",
        f"- Pipeline (land + dbt + gates + publish): **{s['pipeline_wall_s']:.1f} s**, "
        f"peak {s['pipeline_peak_rss_mb']:,.0f} MiB; gates passed: {s['gates_passed']}.",
        f"- Daily run (land one day + incremental dbt): {s['daily_wall_s']:.1f} s = "
        f"**{100 * r['daily_vs_full_refresh']:.1f}%** of a full refresh.",
        f"- Landing vs bare DuckDB read of the same {s['compare_files']} files: **{r['land_vs_bare_read']:.2f}×** "
        f"({len(s['compare_skipped'])} files a bare reader cannot read left out: GBK HIS files, planted broken ones).",
        f"- patient_360: pandas / dbt = **{r['pandas_vs_dbt_patient_360']:.1f}×** end to end (process wall time), "
        f"{_num(r['pandas_vs_dbt_patient_360_engine'])}× engine only (pandas load+compute vs dbt model execution); "
        f"results {'equal' if s['p360_equal'] else 'DIFFER: ' + '; '.join(s['p360_differences'])}.",
    ]
    if ident:
        out.append(
            f"- Identity resolution: pairwise precision {ident['precision']:.4f}, recall {ident['recall']:.4f} "
            f"over {ident['records']:,} source records."
        )
    return [*out, ""]


def _targets(scales: list[dict]) -> list[str]:
    by_n = {s["patients"]: s for s in scales}
    rows = []

    def row(name: str, limit: str, measured: float | None, met: bool | None, where: str) -> None:
        verdict = "–" if met is None else ("met" if met else "**missed**")
        rows.append(f"| {name} | {limit} | {_num(measured, 2)} | {verdict} | {where} |")

    big = by_n.get(1_000_000)
    if big:
        row("pipeline at 1M (s)", "≤ 480", big["pipeline_wall_s"], big["pipeline_wall_s"] <= 480, "1M")
        peak = big["pipeline_peak_rss_mb"] / 1024
        row("peak memory at 1M (GiB)", "≤ 8", peak, peak <= 8, "1M")
        d = big["ratios"]["daily_vs_full_refresh"]
        row("daily run / full refresh at 1M", "≤ 0.05", d, d <= 0.05, "1M")
        if 100_000 in by_n:
            g = big["pipeline_wall_s"] / by_n[100_000]["pipeline_wall_s"]
            row("time 1M / time 100k", "≤ 11", g, g <= 11, "1M vs 100k")
    for s in scales:
        n = f"{s['patients']:,}"
        lb = s["ratios"]["land_vs_bare_read"]
        row("landing / bare read", "≤ 1.5", lb, lb <= 1.5, n)
        pd_ratio = s["ratios"]["pandas_vs_dbt_patient_360"]
        row("pandas / dbt patient_360", "≥ 5", pd_ratio, pd_ratio >= 5, n)
    head = ["## Targets", "", "| target | limit | measured | verdict | scale |", "|---|---|---:|---|---|"]
    return [*head, *rows, ""]


def _scaling(scales: list[dict]) -> list[str]:
    out = [
        "## Growth",
        "",
        "| patients | pipeline s | × previous size | daily run s | full refresh s | gates s | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    prev = None
    for s in scales:
        growth = f"{s['pipeline_wall_s'] / prev:.2f}" if prev else "–"
        out.append(
            f"| {s['patients']:,} | {s['pipeline_wall_s']:.1f} | {growth} | {s['daily_wall_s']:.1f} | "
            f"{s['stages']['full_refresh']['wall_s']:.1f} | {s['stages']['gates']['wall_s']:.1f} | "
            f"{s['pipeline_peak_rss_mb']:,.0f} |"
        )
        prev = s["pipeline_wall_s"]
    return [*out, ""]


def _repeat_text(repeat: int | dict) -> str:
    if isinstance(repeat, dict):
        return ", ".join(f"{int(n):,} × {r}" for n, r in repeat.items())
    return f"{repeat} each"


def render_markdown(report: dict) -> str:
    m = report["machine"]
    p = report["parameters"]
    lines = [
        f"# patient360 benchmark {report['started']}",
        "",
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}; Python {m['python']}, DuckDB {m['duckdb']}, "
        f"dbt-core {m['dbt_core']}, pandas {m['pandas']}.",
        f"Data: {p['history_days']} days of history + {p['days']} daily partitions, seed {p['seed']}, "
        f"{p['hr_per_day']} heart-rate samples per band-day. "
        f"Repetitions per size: {_repeat_text(p['repeat'])}; medians, "
        "every stage in its own process (wall, CPU incl. children, peak RSS of the process tree).",
        "",
    ]
    if len(report["scales"]) > 1:
        lines += _scaling(report["scales"])
    lines += _targets(report["scales"])
    for s in report["scales"]:
        lines += _scale_section(s)
    return "\n".join(lines)
