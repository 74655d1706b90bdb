"""Planted defects: what is corrupted, where, and the landing rule each must trigger."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from patient360.generate.identifiers import break_checksum

ROW_DIRT: dict[str, dict[tuple[str, str], str | None]] = {
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

FUTURE_TIMESTAMP = "2099-01-01 08:00:00"  # the value a future_timestamp defect writes
# A future start would also break "end after start" checks: those ends are blanked.
FUTURE_CLEARS = {
    ("his", "visits"): ("ended_at",),
    ("consult", "sessions"): ("first_response_at", "closed_at"),
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


def plant_row_dirt(
    rng: np.random.Generator,
    s: pd.DataFrame,
    source: str,
    table: str,
    file: str,
    rate: float,
    log: DirtLog,
    header_lines: int,
) -> tuple[pd.DataFrame, set[int]]:
    """Corrupt distinct rows of a rendered table (binomial(n, rate) rows per kind, at least one
    when there is room); returns the frame and the positions to break as malformed lines.
    Line numbers are logged after duplicates are inserted (each duplicate follows its original)."""
    n = len(s)
    if n == 0 or rate <= 0:
        return s, set()
    chosen = _choose_rows(rng, s, _plan(source, table), rate)
    s = _corrupt(s, chosen, source, table)
    dups = sorted(i for i, (kind, _) in chosen.items() if kind == "duplicate_row")
    # final positions after inserting each duplicate right after its original
    is_dup = np.zeros(n, dtype=bool)
    is_dup[dups] = True
    rows_out = np.repeat(np.arange(n), np.where(is_dup, 2, 1))
    position = np.cumsum(np.where(is_dup, 2, 1)) - np.where(is_dup, 2, 1)
    malformed: set[int] = set()
    for i, (kind, col) in chosen.items():
        line = int(position[i]) + header_lines + 1 + (1 if kind == "duplicate_row" else 0)
        log.add(kind, source, table, file, line, col, EXPECTED_RULE[kind].format(col=col), "planted")
        if kind == "malformed_line":
            malformed.add(int(position[i]))
    return s.iloc[rows_out].reset_index(drop=True), malformed


def _plan(source: str, table: str) -> list[tuple[str, str | None]]:
    """The (kind, column) defects this table gets; every table gets duplicate rows."""
    plan: list[tuple[str, str | None]] = []
    for kind, targets in ROW_DIRT.items():
        if (source, table) in targets:
            plan.append((kind, targets[(source, table)]))
    plan.append(("duplicate_row", None))
    return plan


def _choose_rows(
    rng: np.random.Generator, s: pd.DataFrame, plan: list[tuple[str, str | None]], rate: float
) -> dict[int, tuple[str, str | None]]:
    """Row position -> (kind, column): distinct random rows per kind, only rows a kind can break."""
    n = len(s)
    order = rng.permutation(n)
    taken = np.zeros(n, dtype=bool)
    chosen: dict[int, tuple[str, str | None]] = {}
    for kind, col in plan:
        k = max(int(rng.binomial(n, rate)), 1)
        candidates = order[~taken[order]]
        if kind == "out_of_range_vital":
            candidates = candidates[np.isin(s["metric"].to_numpy()[candidates], ["systolic", "heart_rate"])]
        if kind == "invalid_id_checksum":
            candidates = candidates[s["id_number"].to_numpy()[candidates] != ""]
        pick = candidates[:k]
        taken[pick] = True
        for i in pick:
            chosen[int(i)] = (kind, col)
    return chosen


def _corrupt(s: pd.DataFrame, chosen: dict[int, tuple[str, str | None]], source: str, table: str) -> pd.DataFrame:
    """A copy of the rendered rows with the chosen cells corrupted (duplicates and malformed
    lines are made when the rows are laid out and written)."""
    s = s.copy()
    for i, (kind, col) in chosen.items():
        if kind == "wrong_type":
            s.iat[i, s.columns.get_loc(col)] = "N/A"
        elif kind == "negative_amount":
            s.iat[i, s.columns.get_loc(col)] = "-88.00"
        elif kind == "future_timestamp":
            s.iat[i, s.columns.get_loc(col)] = FUTURE_TIMESTAMP
            for dependent in FUTURE_CLEARS.get((source, table), ()):
                s.iat[i, s.columns.get_loc(dependent)] = ""  # keep the row's other checks passing
        elif kind == "out_of_range_vital":
            s.iat[i, s.columns.get_loc(col)] = "999"
        elif kind == "invalid_id_checksum":
            j = s.columns.get_loc(col)
            s.iat[i, j] = break_checksum(np.array([s.iat[i, j]]))[0]
    return s
