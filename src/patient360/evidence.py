"""The release's evidence page: one self-contained HTML file a privacy officer reads offline.

It lists every published table and column with its privacy class (from the allow-list, the
copy of dbt meta.pii) and, per column, what the gate checked there and the result; the checks
on warehouse sources and across tables the same way; every expectation and its result, the
k, l and re-identification risk figures and suppression counts. It holds names and counts only, never a data value, and
no network asset (no script, stylesheet, font or image URL): inline CSS only.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable

from patient360.gates.outcome import GateOutcome
from patient360.gates.schema_allowlist import Allowlist

EVIDENCE = "evidence.html"
STYLE = (
    "body{font:14px sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #bbb;padding:.2em .5em;text-align:left}th{background:#eee}"
    ".block{color:#a00;font-weight:bold}.pass{color:#060}.checks{font-size:90%;color:#333}"
)


def _table(head: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    out = ["<table><tr>", *(f"<th>{html.escape(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


TIER_AUDIENCE = {
    "aggregate": "wide BI access: KPI and segment-size tables without a person key; person-count cells under k "
                 "and the cells that would reveal them are suppressed, published as NULL",
    "person": "trusted analysts only: person-level pseudonymous marts (patient_key), k-anonymous and l-diverse",
    "activation": "marketing only: the consent-only activation list",
}  # fmt: skip


def render_evidence(release_id: str, key_id: str, tables: dict[str, int], columns: dict[str, dict[str, str]],
                    allow: Allowlist, outcome: GateOutcome, *, tier: str = "",
                    suppression: dict[str, dict[str, int]] | None = None,
                    register: list | None = None) -> str:  # fmt: skip
    """The page for one release tier. tables: name -> rows; columns: table -> column -> DuckDB type;
    suppression: table -> suppressed cells by rule (aggregate tier); register: the tier's release
    register rows (patient360.release_register.Entry or row dicts), this release last."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Release {html.escape(release_id)}: privacy evidence</title><style>{STYLE}</style></head><body>",
        f"<h1>Release {html.escape(release_id)}{' tier ' + html.escape(tier) if tier else ''}</h1>",
        f"<p>Who may use it: {html.escape(TIER_AUDIENCE.get(tier, 'see docs/deidentification.md'))}.</p>",
        f"<p>Pseudonym key id {html.escape(key_id)}. Gate "
        f"<span class='{'pass' if outcome.passed else 'block'}'>{'PASSED' if outcome.passed else 'FAILED'}</span>: "
        f"{outcome.checks_run} checks, {len(outcome.blocking)} blocking, "
        f"{len(outcome.failures) - len(outcome.blocking)} warnings. No data value appears on this page.</p>",
    ]
    risk = outcome.risk
    if risk is not None:
        parts.append("<h2>Re-identification risk (prosecutor model, ARX)</h2>")
        figures = [
            ("k (k-anonymity)", risk.k), ("l (distinct l-diversity)", risk.l),
            ("sensitive attribute", risk.sensitive_attribute), ("people", risk.records),
            ("equivalence classes", risk.classes), ("smallest class", risk.smallest_class),
            ("classes below k", risk.classes_below_k), ("classes below l", risk.classes_below_l),
            ("highest prosecutor risk (1 / smallest class)", f"{risk.prosecutor_risk_max:.4f}"),
            ("bound (1 / k)", f"{1 / risk.k:.4f}"),
            ("average prosecutor risk (classes / people)", f"{risk.prosecutor_risk_average:.4f}"),
            ("people suppressed", f"{risk.records_suppressed} ({risk.suppressed_share:.2%})"),
        ]  # fmt: skip
        parts.append(_table(["figure", "value"], figures))
        parts.append("<h3>Quasi-identifiers (union over person-level tables)</h3>")
        parts.append(_table(["table.column"], [[c] for c in risk.quasi_identifiers]))
        parts.append("<h3>Generalisation (people by last step applied; 0 none, 10 suppressed)</h3>")
        levels = sorted((int(step), n) for step, n in risk.generalisation_levels.items())
        parts.append(_table(["step", "people"], levels))
    if suppression:
        parts.append("<h2>Small-cell suppression (suppressed cells are NULL)</h2>")
        counts = [(t, n.get("primary", 0), n.get("complementary", 0), n.get("derived", 0))
                  for t, n in sorted(suppression.items())]  # fmt: skip
        parts.append(_table(["table", "cells under k", "complementary cells", "derived values"], counts))
    if register:
        parts.append(_register_section(register))
    parts.append("<h2>Checks</h2>")
    checks = sorted(outcome.gx_success.items())
    parts.append(_table(["suite", "check", "result"],
                        [(s, c, "pass" if ok else "FAIL") for (s, c), ok in checks]))  # fmt: skip
    if outcome.failures:
        parts.append("<h3>Findings (counts only)</h3>")
        findings = [(f.severity, f.suite, f.table, f.column, f.check, f.observed, f.detail) for f in outcome.failures]
        parts.append(_table(["severity", "suite", "table", "column", "check", "observed", "rule"], findings))
    by_place = _checks_by_place(outcome)
    parts.append("<h2>Published tables and columns</h2>")
    parts.append(
        "<p>Per column: its privacy class, what the gate checked there and the result "
        "(PII patterns are the pii_masking suite's value patterns, scanned in every column).</p>"
    )
    for table in sorted(columns):
        parts.append(f"<h3>{html.escape(table)} ({tables.get(table, 0)} rows)</h3>")
        rows: list[tuple[str, ...]] = []
        places = [(col, dtype) for col, dtype in columns[table].items()]
        places += [(extra, "") for extra in ("", "(comments)") if (table, extra) in by_place]
        for col, dtype in places:
            rule = allow.rule(table, col) if dtype else None
            klass = (rule.privacy if rule else "NOT LISTED") if dtype else ""
            by_check = dict(by_place.get((table, col), {}))
            if dtype:  # the allow-list check covers every column; it reports only the ones it rejects
                by_check.setdefault(("schema_allowlist", "listed"), "pass" if rule else "BLOCK")
            what, result = _describe(by_check)
            rows.append((col or "(whole table)", dtype, klass, (rule.kind or "") if rule else "", what, result))
        parts.append(_table(["column", "type", "class", "kind", "checked", "result"], rows))
    others = [(place, by_place[place]) for place in sorted(by_place) if place[0] not in columns]
    if others:
        parts.append("<h2>Checks on warehouse sources and across tables</h2>")
        elsewhere = [(t, c or "(whole table)", *_describe(found)) for (t, c), found in others]
        parts.append(_table(["table", "column", "checked", "result"], elsewhere))
    parts.append("<p id='end-of-evidence'>End of the evidence page.</p></body></html>\n")
    return "".join(parts)


def _register_section(register: list) -> str:
    """Who received this tier's releases (audit.release_register): names, counts and hashes only."""
    rows = []
    for e in register:
        d = e if isinstance(e, dict) else vars(e)
        tables = d["tables"] if isinstance(d["tables"], dict) else json.loads(d["tables"] or "{}")
        rows.append((d["release_id"], str(d["recorded_at"])[:19], d["kind"], d["recipient"], d["gate_verdict"],
                     d["as_of_date"] or "", d["key_id"], len(tables), d["target"] or ""))  # fmt: skip
    head = ["release", "recorded (UTC)", "kind", "recipient", "gate", "as of", "key id", "tables", "target"]
    return "<h2>Release register (this tier)</h2>" + _table(head, rows)


def _checks_by_place(outcome: GateOutcome) -> dict[tuple[str, str], dict[tuple[str, str], str]]:
    """(table, column) -> (suite, check) -> result ('pass', 'BLOCK' or 'warn'), names only."""
    failed = {(f.suite, f.table, f.column, f.check): f.severity for f in outcome.failures}
    out: dict[tuple[str, str], dict[tuple[str, str], str]] = {}
    for suite, table, column, check in outcome.checked:
        severity = failed.get((suite, table, column, check))
        result = "pass" if severity is None else ("BLOCK" if severity == "block" else "warn")
        place = out.setdefault((table, column), {})
        if place.get((suite, check), "pass") == "pass":  # a check repeated on one column keeps its worst result
            place[(suite, check)] = result
    return out


def _describe(by_check: dict[tuple[str, str], str]) -> tuple[str, str]:
    """What was checked (PII patterns counted, other checks named) and the overall result."""
    if not by_check:
        return "no check", "NOT CHECKED"
    pii = [c for (suite, c) in by_check if suite == "pii_masking"]
    named = sorted(f"{suite}: {c}" for (suite, c) in by_check if suite != "pii_masking")
    what = ([f"pii_masking: {len(pii)} PII patterns"] if pii else []) + named
    bad = sorted(f"{c} {r}" for (_, c), r in by_check.items() if r != "pass")
    return "; ".join(what), ("pass" if not bad else "; ".join(bad))
