"""Render tables to their contract's file format, plant dirt, write partitions."""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from patient360.contracts import Contract

# Row-level dirt: kind -> {(source, table): column}; the landing rule each must trigger.
ROW_DIRT = {
    "wrong_type": {
        ("his", "visits"): "charge_amount",
        ("his", "prescriptions"): "quantity",
        ("crm", "campaign_stats"): "impressions",
        ("consult", "sessions"): "fee",
        ("wearable", "readings"): "value",
    },
    "negative_amount": {
        ("his", "payments"): "amount",
        ("his", "visits"): "charge_amount",
        ("consult", "sessions"): "fee",
    },
    "future_timestamp": {
        ("his", "visits"): "started_at",
        ("consult", "sessions"): "requested_at",
        ("crm", "points_ledger"): "occurred_at",
        ("wearable", "readings"): "measured_at",
    },
    "out_of_range_vital": {("wearable", "readings"): "value"},
    "invalid_id_checksum": {("his", "patients"): "id_number"},
    "malformed_line": {
        ("his", "visits"): None,
        ("crm", "points_ledger"): None,
        ("consult", "sessions"): None,
        ("crm", "message_events"): None,
    },
}
EXPECTED_RULE = {
    "wrong_type": "type:{col}",
    "negative_amount": "range:{col}",
    "future_timestamp": "future:{col}",
    "out_of_range_vital": "check:vital_in_range",
    "invalid_id_checksum": "check:id_number_checksum",
    "malformed_line": "malformed_line",
    "duplicate_row": "duplicate",
}


@dataclass
class DirtLog:
    rows: list[dict] = field(default_factory=list)

    def add(self, kind, source, table, file, line=None, column=None, rule="", detail=""):
        self.rows.append(
            {
                "kind": kind,
                "source": source,
                "table": table,
                "file": file,
                "line_number": line,
                "column": column,
                "expected_rule": rule,
                "detail": detail,
            }
        )

    def frame(self) -> pd.DataFrame:
        cols = ["kind", "source", "table", "file", "line_number", "column", "expected_rule", "detail"]
        df = pd.DataFrame(self.rows, columns=cols)
        df["line_number"] = df["line_number"].astype("Int64")
        return df


def to_strings(df: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Contract column order, every value rendered as the export writes it ('' = null)."""
    out = {}
    for col in contract.columns:
        s = df[col.name] if col.name in df else pd.Series([None] * len(df), index=df.index)
        t = col.type.upper()
        if t == "TIMESTAMP":
            r = pd.to_datetime(s).dt.strftime("%Y-%m-%d %H:%M:%S")
        elif t == "DATE":
            r = pd.to_datetime(s).dt.strftime("%Y-%m-%d")
        elif t == "BOOLEAN":
            r = s.map({True: "true", False: "false"})
        elif t.startswith("DECIMAL"):
            r = pd.to_numeric(s).map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
        elif t in ("INTEGER", "BIGINT"):
            r = pd.to_numeric(s).map(lambda v: "" if pd.isna(v) else str(int(v)))
        elif t == "DOUBLE":
            r = pd.to_numeric(s).map(
                lambda v: "" if pd.isna(v) else (str(int(v)) if float(v).is_integer() else repr(float(v)))
            )
        else:
            r = s.astype(object)
        out[col.name] = r.astype(object).where(pd.notna(r), "").astype(str)
    return pd.DataFrame(out)


def plant_row_dirt(
    rng, s: pd.DataFrame, source: str, table: str, file: str, rate: float, force: bool, log: DirtLog, header_lines: int
) -> tuple[pd.DataFrame, set[int]]:
    """Corrupt distinct rows of a rendered table; returns the frame and rows to break as malformed lines.
    Line numbers are logged after duplicates are inserted (each duplicate follows its original)."""
    n = len(s)
    if n == 0 or rate <= 0:
        return s, set()
    plan: list[tuple[str, str | None]] = []
    for kind, targets in ROW_DIRT.items():
        if (source, table) in targets:
            plan.append((kind, targets[(source, table)]))
    plan.append(("duplicate_row", None))
    order = rng.permutation(n)
    taken = np.zeros(n, dtype=bool)
    chosen: dict[int, tuple[str, str | None]] = {}
    for kind, col in plan:
        k = rng.binomial(n, rate)
        if force:
            k = max(k, 1)
        candidates = order[~taken[order]]
        if kind == "out_of_range_vital":
            candidates = candidates[np.isin(s["metric"].to_numpy()[candidates], ["systolic", "heart_rate"])]
        if kind == "invalid_id_checksum":
            candidates = candidates[s["id_number"].to_numpy()[candidates] != ""]
        pick = candidates[:k]
        taken[pick] = True
        for i in pick:
            chosen[int(i)] = (kind, col)
    s = s.copy()
    malformed: set[int] = set()
    end_future = "2099-01-01 08:00:00"
    for i, (kind, col) in chosen.items():
        if kind == "wrong_type":
            s.iat[i, s.columns.get_loc(col)] = "N/A"
        elif kind == "negative_amount":
            s.iat[i, s.columns.get_loc(col)] = "-88.00"
        elif kind == "future_timestamp":
            s.iat[i, s.columns.get_loc(col)] = end_future
        elif kind == "out_of_range_vital":
            s.iat[i, s.columns.get_loc(col)] = "999"
        elif kind == "invalid_id_checksum":
            from patient360.synth.identifiers import break_checksum

            j = s.columns.get_loc(col)
            s.iat[i, j] = break_checksum(np.array([s.iat[i, j]]))[0]
    dups = sorted(i for i, (kind, _) in chosen.items() if kind == "duplicate_row")
    # final positions after inserting each duplicate right after its original
    is_dup = np.zeros(n, dtype=bool)
    is_dup[dups] = True
    rows_out = np.repeat(np.arange(n), np.where(is_dup, 2, 1))
    position = np.cumsum(np.where(is_dup, 2, 1)) - np.where(is_dup, 2, 1)
    for i, (kind, col) in chosen.items():
        line = int(position[i]) + header_lines + 1 + (1 if kind == "duplicate_row" else 0)
        log.add(kind, source, table, file, line, col, EXPECTED_RULE[kind].format(col=col), "planted")
        if kind == "malformed_line":
            malformed.add(int(position[i]))
    return s.iloc[rows_out].reset_index(drop=True), malformed


def render_csv(s: pd.DataFrame, malformed: set[int], extra_column: bool = False) -> str:
    if extra_column:
        s = s.assign(remark="补录")
    buf = io.StringIO()
    s.to_csv(buf, index=False, lineterminator="\n")
    if not malformed:
        return buf.getvalue()
    lines = buf.getvalue().split("\n")
    for pos in malformed:
        # one field short: the classic truncated export line
        lines[pos + 1] = lines[pos + 1].rsplit(",", 1)[0]
    return "\n".join(lines)


def render_ndjson(s: pd.DataFrame, contract: Contract, malformed: set[int]) -> str:
    types = {c.name: c.type.upper() for c in contract.columns}
    out = []
    for pos, row in enumerate(s.itertuples(index=False)):
        rec = {}
        for name, value in zip(s.columns, row, strict=True):
            if value == "":
                rec[name] = None
            elif types[name] == "BOOLEAN":
                rec[name] = value == "true"
            elif types[name] in ("INTEGER", "BIGINT") and value.lstrip("-").isdigit():
                rec[name] = int(value)
            elif types[name].startswith("DECIMAL") or types[name] == "DOUBLE":
                try:
                    rec[name] = float(value)
                except ValueError:
                    rec[name] = value  # planted wrong type stays text
            else:
                rec[name] = value
        line = json.dumps(rec, ensure_ascii=False)
        out.append(line[: len(line) // 2] if pos in malformed else line)
    return "\n".join(out) + "\n"


def write_bytes(path: Path, data: bytes, gz: bool = False) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        data = gzip.compress(data, compresslevel=5, mtime=0)  # mtime=0: byte-identical reruns
    path.write_bytes(data)
    return len(data)
