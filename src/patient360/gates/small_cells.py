"""Small-cell suppression of the aggregate tier: applied to the release candidate, verified by the gate.

Convention (BI and every reader rely on it): a suppressed cell is published as NULL.

Rules (declared in the marts' dbt YAML, read by patient360.release_tiers; k = dbt var k_anonymity):

1. primary: a person-count cell (`small_cell: count`) holding 1..k-1 (any value strictly between 0
   and k, for means such as month DAU) is suppressed; 0 is published (nobody to single out);
2. complementary: in every margin (cells that add up to a total, `small_cell_margins`), a suppressed
   cell must not be recoverable by subtraction: while a margin holds suppressed cells whose sum is
   under k (one suppressed cell alone is always recoverable), its smallest published cell is
   suppressed too (zeros last); when none is left, the margin's total cell is;
3. derived: a rate, average or sum over people (`small_cell: {derived_from: [...]}`) is suppressed
   when any count it derives from is, since rate x denominator would give the count back.

The gate (`small_cell_metrics`) checks the candidate's bytes alone, independently of how they were
suppressed: no count cell in 1..k-1, no margin with exactly one NULL cell or whose published total
minus its published cells leaves 1..k-1 people, no derived value next to a NULL count. Only counts
of cells leave this module, never a value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from patient360.gates.metrics import Metric, q
from patient360.release_tiers import Margin, SmallCells

SUITE = "small_cells"
Cell = tuple[int, str]  # (rowid, column)


@dataclass(frozen=True)
class Group:
    members: tuple[Cell, ...]
    total: Cell | None


def _small(value: float | None, k: int) -> bool:
    return value is not None and 0 < value < k


def _load(con: duckdb.DuckDBPyConnection, fq: str, rules: SmallCells,
          row_id: str = "rowid") -> tuple[list[int], dict[Cell, object]]:  # fmt: skip
    """Row ids and every cell the rules look at (count, derived and margin columns). row_id: the
    table's rowid (to update it), or a row number (a view has no rowid; one read, so consistent)."""
    cols = list(dict.fromkeys(rules.counts + list(rules.derived) + _margin_columns(rules.margins)))
    rows = con.execute(f"SELECT {row_id}, {', '.join(q(c) for c in cols)} FROM {fq}").fetchall()
    cells = {(r[0], c): v for r in rows for c, v in zip(cols, r[1:], strict=True)}
    return [r[0] for r in rows], cells


def _margin_columns(margins: list[Margin]) -> list[str]:
    out: list[str] = []
    for m in margins:
        out += list(m.by) + [c for c, _ in m.total_row] + list(m.columns) + ([m.total_column] if m.total_column else [])
    return out


def groups(rowids: list[int], cells: dict[Cell, object], rules: SmallCells) -> Iterator[Group]:
    """Every set of cells that adds up to a total, per the declared margins."""
    for m in rules.margins:
        if not m.is_row_margin:
            for r in rowids:
                total = (r, m.total_column) if m.total_column else None
                yield Group(tuple((r, c) for c in m.columns), total)
            continue
        by_key: dict[tuple, list[int]] = {}
        for r in rowids:
            by_key.setdefault(tuple(cells[(r, c)] for c in m.by), []).append(r)
        for members in by_key.values():
            totals = [r for r in members if m.total_row and all(str(cells[(r, c)]) == v for c, v in m.total_row)]
            parts = [r for r in members if r not in totals]
            for col in rules.counts:
                total = (totals[0], col) if len(totals) == 1 else None
                yield Group(tuple((r, col) for r in parts), total)


def _complement(group: Group, values: dict[Cell, object], gone: set[Cell], k: int) -> Cell | None:
    """The next cell to suppress so that `group`'s suppressed cells are not recoverable, or None."""
    hidden = [c for c in group.members if c in gone]
    if not hidden or len(group.members) < 2 or (group.total is not None and group.total in gone):
        return None
    if len(hidden) >= 2 and sum(_num(values[c]) for c in hidden) >= k:
        return None
    shown = [c for c in group.members if c not in gone and values[c] is not None]
    if shown:  # the smallest non-zero cell first: it loses the least information
        return min(shown, key=lambda c: (float(values[c]) == 0, float(values[c]), c))  # type: ignore[arg-type]
    return group.total


def suppress_table(con: duckdb.DuckDBPyConnection, fq: str, rules: SmallCells, k: int) -> dict[str, int]:
    """Set the table's suppressed cells to NULL in place (the candidate copy); returns cell counts."""
    if not rules.counts:
        return {"primary": 0, "complementary": 0, "derived": 0}
    rowids, values = _load(con, fq, rules)
    gone: set[Cell] = {(r, c) for r in rowids for c in rules.counts if _small(values[(r, c)], k)}  # type: ignore[arg-type]
    primary = len(gone)
    all_groups = list(groups(rowids, values, rules))
    changed = True
    while changed:  # each pass can open a margin elsewhere (a cell sits in a row and a column margin)
        changed = False
        for group in all_groups:
            cell = _complement(group, values, gone, k)
            if cell is not None:
                gone.add(cell)
                changed = True
    complementary = len(gone) - primary
    derived = {(r, d) for d, sources in rules.derived.items() for r in rowids
               if values[(r, d)] is not None and any((r, s) in gone for s in sources)}  # fmt: skip
    for col in dict.fromkeys(c for _, c in gone | derived):
        ids = sorted(r for r, c in gone | derived if c == col)
        con.execute(f"UPDATE {fq} SET {q(col)} = NULL WHERE list_contains(?, rowid)", [ids])
    return {"primary": primary, "complementary": complementary, "derived": len(derived)}


def small_cell_metrics(con: duckdb.DuckDBPyConnection, schema: str, actual: dict[str, dict[str, str]],
                       rules: dict[str, SmallCells], k: int) -> list[Metric]:  # fmt: skip
    """The gate's verification, on the candidate's cells as published (see the module docstring)."""
    out: list[Metric] = []
    for table, spec in sorted(rules.items()):
        if table not in actual:
            continue
        spec = spec.restrict(set(actual[table]))  # noqa: PLW2901 - a missing column is the allow-list's finding
        if not spec.counts:
            continue
        rowids, values = _load(con, f"{q(schema)}.{q(table)}", spec, "row_number() OVER ()")
        for col in spec.counts:
            n = sum(_small(values[(r, col)], k) for r in rowids)  # type: ignore[arg-type]
            out.append(Metric(SUITE, table, col, "small_cell", n, f"person-count cells between 1 and k-1={k - 1}"))
        recoverable = sum(_recoverable(g, values, k) for g in groups(rowids, values, spec))
        why = "margins from which a suppressed cell, or fewer than k people, can be recomputed"
        out.append(Metric(SUITE, table, "", "small_cell_recoverable", recoverable, why))
        for d, sources in spec.derived.items():
            n = sum(values[(r, d)] is not None and any(values[(r, s)] is None for s in sources) for r in rowids)
            why = f"published next to a NULL {'/'.join(sources)}"
            out.append(Metric(SUITE, table, d, "small_cell_derived", n, why))
    return out


def _recoverable(group: Group, values: dict[Cell, object], k: int) -> bool:
    hidden = [c for c in group.members if values[c] is None]
    if not hidden or len(group.members) < 2:
        return False
    if len(hidden) == 1 and (group.total is None or values[group.total] is not None):
        return True  # the margin (here or published elsewhere) minus the others gives it back
    if group.total is None or values[group.total] is None:
        return False
    rest = _num(values[group.total]) - sum(_num(values[c]) for c in group.members if c not in hidden)
    return 0 < rest < k


def _num(value: object) -> float:
    """A cell's value as a number (NULL counts as 0: it is what is left to recover)."""
    return float(value) if isinstance(value, int | float | Decimal) else 0.0
