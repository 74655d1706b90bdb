"""Quality metrics (DuckDB): marts keys, referential integrity, accepted values, KPI
ranges and row-count drift; raw-zone contract spot checks, reconciliation with
audit.file_loads and freshness. One row per (table, column, check) with a count or a
measure; the suites in expectations/suites/ decide what passes and how severe it is.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import duckdb

from patient360.contracts import all_contracts
from patient360.gates.metrics import Metric, q, sql_str, table_exists
from patient360.gates.schema_allowlist import PUBLISHED_SCHEMA, Allowlist
from patient360.warehouse import one

MARTS = "quality_marts"
RAW = "quality_raw"
LANDED = ("landed", "landed_with_quarantine", "empty")
# KPI column naming rules (kpi_* tables): rates and shares are fractions; money and counts are >= 0.
RATE_RE = re.compile(r"(^|_)(rate|share)$")
NONNEG_RE = re.compile(r"(^|_)(spend|revenue|cost|cac|ltv|budget|fee|fees|amount|charge|count|users|patients)(_|$)")
POINTER_TABLES = ("fct_", "seg_")


def marts_metrics(
    con: duckdb.DuckDBPyConnection, actual: dict[str, dict[str, str]], allow: Allowlist, counts_file: Path
) -> list[Metric]:
    from patient360.release_tiers import may_be_empty

    out: list[Metric] = []
    empty_ok = may_be_empty()
    for table, cols in actual.items():
        fq = f"{PUBLISHED_SCHEMA}.{q(table)}"
        exprs: list[tuple[str, str, str, str]] = [] if table in empty_ok else [("", "row_count", "count(*)", "")]
        key = [c for c in allow.keys.get(table, ()) if c in cols]
        if key:
            nulls = " OR ".join(f"{q(c)} IS NULL" for c in key)
            exprs.append(("+".join(key), "key_null", f"count(*) FILTER (WHERE {nulls})", "key column is null"))
            tup = ", ".join(q(c) for c in key)
            exprs.append(("+".join(key), "key_duplicate", f"count(*) - count(DISTINCT ({tup}))", "rows sharing a key"))
        if "patient_key" in cols:
            exprs.append(("patient_key", "key_null", "count(*) FILTER (WHERE patient_key IS NULL)", "pseudonym null"))
        for col, dtype in cols.items():
            rule = allow.rule(table, col)
            if rule and rule.accepted_values:
                vals = ", ".join(sql_str(v) for v in rule.accepted_values)
                expr = f"count(*) FILTER (WHERE CAST({q(col)} AS VARCHAR) NOT IN ({vals}))"
                exprs.append((col, "accepted_values", expr, "value outside the declared vocabulary"))
            numeric = dtype.upper().startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DOUBLE",
                                                "FLOAT", "DECIMAL", "REAL", "U"))  # fmt: skip
            if table.startswith("kpi_") and numeric and RATE_RE.search(col):
                expr = f"count(*) FILTER (WHERE {q(col)} < 0 OR {q(col)} > 1)"
                exprs.append((col, "kpi_rate_range", expr, "rate or share outside [0, 1]"))
            elif numeric and NONNEG_RE.search(col):
                exprs.append((col, "non_negative", f"count(*) FILTER (WHERE {q(col)} < 0)", "negative money or count"))
        row = one(con.execute(f"SELECT {', '.join(e for _, _, e, _ in exprs)} FROM {fq}"))
        out += [Metric(MARTS, table, c, check, v or 0, d) for (c, check, _, d), v in zip(exprs, row, strict=True)]
        if "patient_key" in cols and table.startswith(POINTER_TABLES) and "patient_360" in actual:
            out += _orphans(con, table, fq, snapshot="as_of_date" in cols)
    out += _drift(out, counts_file)
    return out


def _orphans(con: duckdb.DuckDBPyConnection, table: str, fq: str, snapshot: bool) -> list[Metric]:
    """Rows whose patient_key is not in patient_360. A snapshot table (as_of_date) is held to
    that only for the current snapshot (patient_360's as-of date): older snapshots keep the keys
    in force on their date, and a key retired since by an identity merge is counted apart (warn)."""
    missing = (
        f"t.patient_key IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {PUBLISHED_SCHEMA}.patient_360 AS p WHERE p.patient_key = t.patient_key)"
    )
    if not snapshot:
        n = one(con.execute(f"SELECT count(*) FROM {fq} AS t WHERE {missing}"))[0]
        return [Metric(MARTS, table, "patient_key", "orphan_patient_key", n, "not in patient_360")]
    current = f"(SELECT max(as_of_date) FROM {PUBLISHED_SCHEMA}.patient_360)"
    orphans, retired = one(
        con.execute(
            f"SELECT count(*) FILTER (WHERE t.as_of_date = {current}), "
            f"count(*) FILTER (WHERE t.as_of_date <> {current}) FROM {fq} AS t WHERE {missing}"
        )
    )
    return [
        Metric(MARTS, table, "patient_key", "orphan_patient_key", orphans, "current snapshot: not in patient_360"),
        Metric(MARTS, table, "patient_key", "retired_patient_key", retired, "older snapshots: key retired since"),
    ]


def _drift(metrics: list[Metric], counts_file: Path) -> list[Metric]:
    """Relative change of each mart's row count since the previous run (then store the new counts)."""
    now = {m.table: int(m.observed) for m in metrics if m.check == "row_count"}
    prev = json.loads(counts_file.read_text(encoding="utf-8")) if counts_file.exists() else {}
    out = [
        Metric(MARTS, t, "", "row_count_drift", abs(n - prev[t]) / max(prev[t], 1), f"previous run {prev[t]} rows")
        for t, n in now.items()
        if t in prev
    ]
    counts_file.parent.mkdir(parents=True, exist_ok=True)
    counts_file.write_text(json.dumps(now, indent=1, sort_keys=True), encoding="utf-8")
    return out


def raw_metrics(con: duckdb.DuckDBPyConnection, as_of: date) -> list[Metric]:
    out: list[Metric] = []
    have_audit = table_exists(con, "audit", "file_loads")
    # rows removed on purpose after landing (erasure: patient360.erase) are not a reconciliation gap
    have_removed = have_audit and table_exists(con, "audit", "rows_removed")
    if not have_audit:
        out.append(Metric(RAW, "audit.file_loads", "", "audit_missing", 1, "no landing audit: nothing landed yet"))
    for c in all_contracts():
        schema, table = f"raw_{c.source}", c.table
        if not table_exists(con, schema, table):
            out.append(Metric(RAW, c.raw_table, "", "raw_table_missing", 1, "contract table never landed"))
            continue
        exprs: list[tuple[str, str, str, str]] = [("", "row_count", "count(*)", "")]
        if c.primary_key:
            nulls = " OR ".join(f"{q(k)} IS NULL" for k in c.primary_key)
            exprs.append(("+".join(c.primary_key), "key_null", f"count(*) FILTER (WHERE {nulls})", "primary key null"))
        for col in c.columns:
            if col.required:
                exprs.append((col.name, "required_null", f"count(*) FILTER (WHERE {q(col.name)} IS NULL)", ""))
            if col.min is not None or col.max is not None:
                conds = [f"{q(col.name)} < {col.min}" if col.min is not None else "",
                         f"{q(col.name)} > {col.max}" if col.max is not None else ""]  # fmt: skip
                expr = f"count(*) FILTER (WHERE {' OR '.join(x for x in conds if x)})"
                exprs.append((col.name, "range", expr, f"outside [{col.min}, {col.max}]"))
            if col.not_future:
                expr = f"count(*) FILTER (WHERE CAST({q(col.name)} AS DATE) > DATE {sql_str(as_of.isoformat())})"
                exprs.append((col.name, "future_timestamp", expr, "after the as-of date"))
        row = one(con.execute(f"SELECT {', '.join(e for _, _, e, _ in exprs)} FROM {schema}.{q(table)}"))
        counts = dict(zip([x[1] + x[0] for x in exprs], row, strict=True))
        out += [Metric(RAW, c.raw_table, col, chk, v or 0, d) for (col, chk, _, d), v in zip(exprs, row, strict=True)]
        if have_audit:
            landed = one(
                con.execute(
                    f"""SELECT coalesce(sum(rows_landed), 0) FROM (
                        SELECT rows_landed, row_number() OVER (PARTITION BY file_path
                            ORDER BY file_version DESC, finished_at DESC) AS rn
                        FROM audit.file_loads WHERE source = ? AND table_name = ?
                          AND status IN ({", ".join(map(sql_str, LANDED))})) WHERE rn = 1""",
                    [c.source, c.table],
                )
            )[0]
            if have_removed:  # rows of the file version still landed (a re-delivery replaces them)
                landed -= one(
                    con.execute(
                        """SELECT coalesce(sum(r.rows_removed), 0) FROM audit.rows_removed r
                        WHERE r.raw_table = ? AND EXISTS (SELECT 1 FROM (
                            SELECT file_path, file_checksum, row_number() OVER (PARTITION BY file_path
                                ORDER BY file_version DESC, finished_at DESC) AS rn FROM audit.file_loads) f
                            WHERE f.rn = 1 AND f.file_path = r.file_path AND f.file_checksum = r.file_checksum)""",
                        [c.raw_table],
                    )
                )[0]
            diff = abs(int(counts["row_count"]) - int(landed))
            out.append(Metric(RAW, c.raw_table, "", "reconciliation", diff, f"audit says {landed} rows landed"))
    if have_audit:
        for source in sorted({c.source for c in all_contracts()}):
            latest = one(
                con.execute(
                    f"SELECT max(partition_date) FROM audit.file_loads WHERE source = ? "
                    f"AND status IN ({', '.join(map(sql_str, LANDED))})",
                    [source],
                )
            )[0]
            lag = (as_of - latest).days if latest else 9999
            out.append(Metric(RAW, f"raw_{source}", "", "freshness_lag_days", lag, f"as of {as_of.isoformat()}"))
    return out


def staging_metrics(con: duckdb.DuckDBPyConnection) -> list[Metric]:
    """Every staging view must still resolve against the raw tables it reads."""
    views = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging' ORDER BY 1"
    ).fetchall()
    out = []
    for (view,) in views:
        try:
            con.execute(f"SELECT * FROM staging.{q(view)} LIMIT 0").fetchall()
            broken = 0
        except duckdb.Error:
            broken = 1
        out.append(Metric(RAW, f"staging.{view}", "", "staging_view_broken", broken, "view fails to bind"))
    return out
