"""The benchmark's Markdown report and the targets it checks (TARGETS, described in docs/benchmarks.md)."""

from __future__ import annotations

TARGETS = {
    "pipeline_s_at_1m": 300.0,  # land + dbt + gates + publish at 1M patients
    "peak_gib_at_1m": 8.0,  # every stage of the 1M run
    "daily_vs_pipeline_at_1m": 0.05,  # (land one day + dbt + gates + publish) / full pipeline
    "time_1m_vs_100k": 10.0,
    "land_vs_bare_read": 1.5,
    "pandas_vs_dbt_patient_360_at_1m": 5.0,  # at least
}

PIPELINE = ("land", "dbt_full", "gates", "publish")
DAILY = ("inc_land", "inc_dbt", "inc_gates", "inc_publish")

STAGE_LABELS = {
    "land": "landing (first partition: a year of history)",
    "dbt_full": "dbt full build (incl. tests)",
    "gates": "gates (quality + PII masking)",
    "publish": "publish (3 release tiers: DuckDB v1 file + Parquet each)",
    "inc_land": "daily run: land one new day",
    "inc_dbt": "daily run: dbt build (incremental)",
    "inc_gates": "daily run: gates",
    "inc_publish": "daily run: publish",
    "full_refresh": "dbt build --full-refresh",
    "p360_dbt": "patient_360 via dbt run",
    "p360_pandas": "patient_360 via pandas",
    "land_cmp": "landing, comparable files",
    "bare_read": "bare DuckDB read, same files",
    "spark_land": "Spark target: landing as Parquet (same first partition)",
    "spark_dbt": "Spark target: dbt build (local session)",
}


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _load_note(load: list[float] | None, cores: int) -> str:
    """The machine's load when the stages started, and whether it can have inflated wall times."""
    if not load:
        return ""
    verdict = (
        "above the machine's core count: other work shared the machine and inflated wall times"
        if load[1] > cores
        else f"within the machine's {cores} cores"
    )
    return f"- Machine load (1-minute average) when stages started: {load[0]:.1f} to {load[1]:.1f} ({verdict})."


def _scale_section(s: dict, cores: int) -> list[str]:
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
    load = s.get("load_avg_1m")
    out += [
        "",
        _load_note(load, cores),
        f"- Pipeline (land + dbt + gates + publish): **{s['pipeline_wall_s']:.1f} s**, "
        f"peak {s['pipeline_peak_rss_mb']:,.0f} MiB; gates passed: {s['gates_passed']}.",
        f"- Daily run (land one day + incremental dbt + gates + publish): {s['daily_wall_s']:.1f} s = "
        f"**{100 * r['daily_vs_pipeline']:.1f}%** of the full pipeline "
        f"({100 * r['daily_vs_full_refresh']:.1f}% of a dbt full refresh).",
        f"- Landing vs bare DuckDB read of the same {s['compare_files']} files: **{r['land_vs_bare_read']:.2f}×** "
        f"({len(s['compare_skipped'])} files a bare reader cannot read left out: GBK HIS files, planted broken ones).",
        f"- patient_360: pandas / dbt = **{r['pandas_vs_dbt_patient_360']:.1f}×** end to end (process wall time), "
        f"{_num(r['pandas_vs_dbt_patient_360_engine'])}× engine only (pandas load+compute vs dbt model execution); "
        f"results {'equal' if s['p360_equal'] else 'DIFFER: ' + '; '.join(s['p360_differences'])}.",
    ]
    if "spark_vs_duckdb_dbt" in r:
        out.append(
            f"- Spark target / DuckDB on this machine: landing **{r['spark_vs_duckdb_land']:.2f}×**, "
            f"dbt build **{r['spark_vs_duckdb_dbt']:.2f}×**, both **{r['spark_vs_duckdb_land_dbt']:.2f}×** "
            "(above 1: DuckDB is faster)."
        )
    if ident:
        out.append(
            f"- Identity resolution: pairwise precision {ident['precision']:.4f}, recall {ident['recall']:.4f} "
            f"over {ident['records']:,} source records."
        )
    return [*out, ""]


def _held_back(s: dict, stages: tuple[str, ...]) -> str:
    """Which stage dominates a sum of stages, and for a dbt stage its slowest models (the profile)."""
    st = s["stages"]
    worst = max(stages, key=lambda name: st[name]["wall_s"])
    share = st[worst]["wall_s"] / sum(st[name]["wall_s"] for name in stages)
    text = f"{worst} {st[worst]['wall_s']:.0f} s ({100 * share:.0f}%)"
    slowest = st[worst].get("slowest")
    if slowest:
        text += "; slowest models: " + ", ".join(f"{m} {t:.0f} s" for m, t in list(slowest.items())[:4])
    return text


def _growth_cause(small: dict, big: dict) -> str:
    """The pipeline stage whose time grew most between two sizes."""
    growth = {n: big["stages"][n]["wall_s"] / max(small["stages"][n]["wall_s"], 1e-9) for n in PIPELINE}
    worst = max(growth, key=lambda n: growth[n])
    a, b = small["stages"][worst]["wall_s"], big["stages"][worst]["wall_s"]
    return f"{worst} grew {growth[worst]:.1f}× ({a:.0f} → {b:.0f} s)"


def _landing_cause(s: dict) -> str:
    land, bare = s["stages"]["land_cmp"]["wall_s"], s["stages"]["bare_read"]["wall_s"]
    return f"landing {land:.1f} s vs bare read {bare:.1f} s: +{land - bare:.1f} s for contracts, quarantine and audit"


def _pandas_cause(s: dict) -> str:
    engine = s["ratios"].get("pandas_vs_dbt_patient_360_engine")
    dbt = s["stages"]["p360_dbt"]["wall_s"]
    text = f"dbt's process start-up and parse: p360_dbt {dbt:.1f} s end to end"
    return text + (f"; engine only {engine:.1f}×" if engine else "")


def _peak_stage(s: dict) -> str:
    name = max(s["stages"], key=lambda k: s["stages"][k]["peak_rss_mb"])
    return f"{name} {s['stages'][name]['peak_rss_mb'] / 1024:.1f} GiB"


def _targets(scales: list[dict]) -> list[str]:
    by_n = {s["patients"]: s for s in scales}
    rows = []

    def row(name: str, limit: float, measured: float, at_most: bool, where: str, cause: str = "") -> None:
        met = measured <= limit if at_most else measured >= limit
        sign = "≤" if at_most else "≥"
        off = "" if met else f" ({measured / limit:.2f}× the limit)"
        verdict = "met" if met else f"**missed**{off}"
        rows.append(
            f"| {name} | {sign} {limit:g} | {_num(measured, 2)} | {verdict} | {where} | {'' if met else cause} |"
        )

    big = by_n.get(1_000_000)
    if big:
        row(
            "pipeline at 1M (s)",
            TARGETS["pipeline_s_at_1m"],
            big["pipeline_wall_s"],
            True,
            "1M",
            _held_back(big, PIPELINE),
        )
        peak = big.get("peak_rss_mb", big["pipeline_peak_rss_mb"]) / 1024
        row("peak memory of any stage at 1M (GiB)", TARGETS["peak_gib_at_1m"], peak, True, "1M", _peak_stage(big))
        d = big["ratios"].get("daily_vs_pipeline", big["ratios"]["daily_vs_full_refresh"])
        row(
            "daily run / full pipeline at 1M", TARGETS["daily_vs_pipeline_at_1m"], d, True, "1M", _held_back(big, DAILY)
        )
        if 100_000 in by_n:
            g = big["pipeline_wall_s"] / by_n[100_000]["pipeline_wall_s"]
            cause = _growth_cause(by_n[100_000], big)
            row("time 1M / time 100k", TARGETS["time_1m_vs_100k"], g, True, "1M vs 100k", cause)
    for s in scales:
        n = f"{s['patients']:,}"
        ratio = s["ratios"]["land_vs_bare_read"]
        row("landing / bare read", TARGETS["land_vs_bare_read"], ratio, True, n, _landing_cause(s))
        row(
            "pandas / dbt patient_360",
            TARGETS["pandas_vs_dbt_patient_360_at_1m"],
            s["ratios"]["pandas_vs_dbt_patient_360"],
            False,
            n if s["patients"] == 1_000_000 else f"{n} (info)",
            _pandas_cause(s),
        )
    head = [
        "## Targets",
        "",
        "| target | limit | measured | verdict | scale | held back by |",
        "|---|---|---:|---|---|---|",
    ]
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
        lines += _scale_section(s, m["cores"])
    return "\n".join(lines)
