"""The KPI report's HTML: sections of charts and notes in one self-contained file.

Vega, Vega-Lite and vega-embed are inlined from vl-convert's bundle (no network asset:
no script, stylesheet, font or image URL). Each chart's container records whether it drew
(`data-rendered="ok"` or `"error"`), and a failure is shown in place and logged to the console.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from functools import cache

import altair as alt
import pandas as pd

STYLE = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}"
    "h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}"
    "table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
    "th{background:#f2f2f2}.note{color:#555}.suppressed{color:#8a5a00}.missing{color:#a00}"
    "nav a{margin-right:1em}.chart{margin:1em 0}"
)


@dataclass
class Section:
    anchor: str
    title: str
    intro: str
    charts: list[alt.TopLevelMixin | None] = field(default_factory=list)  # None: nothing left to draw
    notes: list[str] = field(default_factory=list)  # plain text, escaped on output
    tables: list[str] = field(default_factory=list)  # HTML from html_table
    missing: str = ""  # why the section has nothing to show (table not in this release)


def suppression_note(df: pd.DataFrame, count_cols: list[str], label_cols: list[str], k: int) -> str:
    """Name the rows whose people counts the release suppressed (NULL), so a blank is never silent."""
    present = [c for c in count_cols if c in df.columns]
    mask = df[present].isna().any(axis=1) if present else pd.Series(False, index=df.index)
    if not mask.any():
        return f"No cell of this section is suppressed (every count covers at least {k} people)."
    labels = sorted({" / ".join(str(row[c])[:10] for c in label_cols) for _, row in df[mask].iterrows()})
    shown = ", ".join(labels[:12]) + (f" and {len(labels) - 12} more" if len(labels) > 12 else "")
    return f"{int(mask.sum())} rows suppressed (fewer than {k} people), left out of the chart: {shown}."


def html_table(df: pd.DataFrame, k: int, fmt: dict[str, str] | None = None) -> str:
    """A small table; NULL cells read "suppressed (fewer than k people)"."""
    fmt = fmt or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, row in df.iterrows():
        cells = []
        for col in df.columns:
            value = row[col]
            if pd.isna(value):
                cells.append(f"<td class='suppressed'>suppressed (fewer than {k} people)</td>")
            else:
                text = format(value, fmt[col]) if col in fmt else str(value)
                cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


GLOBALS = "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"  # what EMBED calls


@cache
def vega_bundle() -> str:
    """vega, vega-lite and vega-embed as one script, matching altair's Vega-Lite version."""
    import vl_convert as vlc

    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    version = wanted if wanted in vlc.get_vegalite_versions() else None
    return vlc.javascript_bundle(snippet=GLOBALS, vl_version=version)


def _script_safe(text: str) -> str:
    """Script text must not close its <script> element early (`<\\/` means `</` in strings and regexes alike)."""
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


EMBED = """
const specs = JSON.parse(document.getElementById('p360-specs').textContent);
for (const [id, spec] of Object.entries(specs)) {
  const el = document.getElementById(id);
  vegaEmbed(el, spec, {renderer: 'svg', actions: false})
    .then(() => { el.dataset.rendered = 'ok'; })
    .catch((err) => {
      el.dataset.rendered = 'error';
      el.textContent = 'This chart could not be drawn: ' + err;
      console.error('chart ' + id + ' failed', err);
    });
}
"""


NOTHING_TO_DRAW = "Nothing to draw: every cell of this chart is suppressed (fewer than k people) in this release."


def render_page(title: str, subtitle: str, sections: list[Section]) -> str:
    specs: dict[str, dict] = {}
    body = [f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(subtitle)}</p><nav>"]
    body += [f"<a href='#{s.anchor}'>{html.escape(s.title)}</a>" for s in sections]
    body.append("</nav>")
    for s in sections:
        body.append(f"<section id='{s.anchor}'><h2>{html.escape(s.title)}</h2><p>{html.escape(s.intro)}</p>")
        if s.missing:
            body.append(f"<p class='missing'>{html.escape(s.missing)}</p>")
        for i, chart in enumerate(s.charts):
            if chart is None:
                body.append(f"<p class='missing'>{html.escape(NOTHING_TO_DRAW)}</p>")
                continue
            chart_id = f"chart-{s.anchor}-{i}"
            with alt.data_transformers.disable_max_rows():
                specs[chart_id] = chart.to_dict()
            body.append(f"<div class='chart vega-chart' id='{chart_id}'></div>")
        body += s.tables
        body += [f"<p class='note suppressed'>{html.escape(n)}</p>" for n in s.notes]
        body.append("</section>")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f"<script>{_script_safe(vega_bundle())}</script></head><body>{''.join(body)}"
        f"<script id='p360-specs' type='application/json'>{_script_safe(json.dumps(specs))}</script>"
        f"<script>{EMBED}</script></body></html>\n"
    )
