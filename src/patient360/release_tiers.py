"""Release tiers and small-cell rules, read from where they are declared: the marts' dbt YAML.

Every mart names its tier once, in its model's `config.meta.release_tier`:

    aggregate   KPI tables, segment sizes, dims and campaign facts with no person key: wide BI
                access; every cell that counts people is small-cell suppressed (published NULL)
    person      person-level pseudonymous marts (patient_key): trusted analysts only;
                k-anonymity, l-diversity and the prosecutor-risk bound apply
    activation  the consent-only activation list: marketing only

Which cells count people is declared per column of an aggregate mart, in `meta.small_cell`:

    small_cell: count                       # counts people (or their events: fewer than k events
                                            # means fewer than k people): NULL when 1..k-1
    small_cell: {derived_from: [a, b]}      # a rate, average or sum over the people counted in the
                                            # count columns a, b: NULL when any of them is NULL or under k

and the margins a table's cells add up to, in the model's `config.meta.small_cell_margins`:

    - {by: [channel], total_row: {campaign_id: '(all)'}}   # rows sharing `by` add up (to the total row)
    - {columns: [promoters, passives, detractors], total_column: responses}   # columns of a row add up

A margin with no total in the table (no total_row) is still treated as known (another table or
release may publish it), so suppression is complemented there too. patient360.small_cells applies
and verifies these rules; k is the dbt var k_anonymity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from patient360.pii_classes import MODELS_DIR
from patient360.yaml_files import load_yaml

AGGREGATE, PERSON, ACTIVATION = "aggregate", "person", "activation"
TIERS = (AGGREGATE, PERSON, ACTIVATION)
MARTS_LAYER = "marts"
COUNT = "count"


class TierError(ValueError):
    """A mart without a valid tier, or a malformed small-cell declaration."""


@dataclass(frozen=True)
class Margin:
    """Cells that add up to a total: rows sharing `by` (one count column at a time) or `columns` of one row."""

    by: tuple[str, ...] = ()
    total_row: tuple[tuple[str, str], ...] = ()  # (column, value) pairs that mark the total row
    columns: tuple[str, ...] = ()
    total_column: str | None = None

    @property
    def is_row_margin(self) -> bool:
        return not self.columns

    def columns_used(self) -> set[str]:
        extra = {self.total_column} if self.total_column else set()
        return set(self.by) | {c for c, _ in self.total_row} | set(self.columns) | extra


@dataclass
class SmallCells:
    """One aggregate mart's declared person-count cells, derived columns and margins."""

    counts: list[str] = field(default_factory=list)
    derived: dict[str, tuple[str, ...]] = field(default_factory=dict)
    margins: list[Margin] = field(default_factory=list)

    def restrict(self, columns: set[str]) -> SmallCells:
        """The rules over the columns a table really has (the allow-list gate reports missing ones)."""
        margins = [m for m in self.margins if m.columns_used() <= columns]
        counts = [c for c in self.counts if c in columns]
        derived = {d: src for d, src in self.derived.items() if d in columns and set(src) <= set(counts)}
        return SmallCells(counts, derived, margins)

    def note(self, column: str) -> str | None:
        """What the published column comment adds about suppression (None: not a small-cell column)."""
        if column in self.counts:
            return "Aggregate release: NULL when suppressed (1 to k-1 people, or complementary suppression)."
        if column in self.derived:
            return f"Aggregate release: NULL when {', '.join(self.derived[column])} is suppressed."
        return None


def _meta(entry: dict) -> dict:
    # dbt accepts meta as a property or under config; both count as the declaration
    return entry.get("meta") or (entry.get("config") or {}).get("meta") or {}


def _mart_models(models_dir: Path) -> list[dict]:
    out: list[dict] = []
    for yml in sorted((Path(models_dir) / MARTS_LAYER).rglob("*.yml")):
        out += (load_yaml(yml) or {}).get("models") or []
    return out


def release_tiers(models_dir: Path = MODELS_DIR) -> dict[str, str | None]:
    """Every documented mart -> its declared tier (None when it declares none)."""
    return {m["name"]: _meta(m).get("release_tier") for m in _mart_models(models_dir)}


def may_be_empty(models_dir: Path = MODELS_DIR) -> set[str]:
    """Marts declared `meta.may_be_empty: true`: empty is a normal state for them (the key map
    before any identity merge), so the gate's "every mart has rows" check leaves them out."""
    return {m["name"] for m in _mart_models(models_dir) if _meta(m).get("may_be_empty") is True}


def tier_tables(tier: str, models_dir: Path = MODELS_DIR) -> set[str]:
    if tier not in TIERS:
        raise TierError(f"unknown release tier {tier!r}; expected one of {', '.join(TIERS)}")
    return {name for name, t in release_tiers(models_dir).items() if t == tier}


def tier_problems(models_dir: Path = MODELS_DIR) -> list[str]:
    """Every mart without a valid tier and every person-keyed mart in the aggregate tier."""
    out = []
    for model in _mart_models(models_dir):
        tier = _meta(model).get("release_tier")
        if tier not in TIERS:
            out.append(f"{model['name']}: meta.release_tier must be one of {TIERS}, got {tier!r}")
        cols = {c["name"] for c in model.get("columns") or []}
        if tier == AGGREGATE and "patient_key" in cols:
            out.append(f"{model['name']}: has patient_key, so it cannot be in the aggregate tier")
    return out


def _margin(spec: dict, table: str) -> Margin:
    if "columns" in spec:
        return Margin(columns=tuple(spec["columns"]), total_column=spec.get("total_column"))
    if "by" not in spec:
        raise TierError(f"{table}: a small_cell_margins entry needs `by` or `columns`")
    total = tuple((str(c), str(v)) for c, v in (spec.get("total_row") or {}).items())
    return Margin(by=tuple(spec["by"]), total_row=total)


def small_cell_rules(models_dir: Path = MODELS_DIR) -> dict[str, SmallCells]:
    """Aggregate mart -> its small-cell declarations (marts that declare none are left out)."""
    out: dict[str, SmallCells] = {}
    for model in _mart_models(models_dir):
        name, rules = model["name"], SmallCells()
        for col in model.get("columns") or []:
            spec = _meta(col).get("small_cell")
            if spec == COUNT:
                rules.counts.append(col["name"])
            elif isinstance(spec, dict) and spec.get("derived_from"):
                rules.derived[col["name"]] = tuple(spec["derived_from"])
            elif spec is not None:
                raise TierError(f"{name}.{col['name']}: small_cell must be `count` or {{derived_from: [...]}}")
        rules.margins = [_margin(m, name) for m in _meta(model).get("small_cell_margins") or []]
        unknown = {c for cols in rules.derived.values() for c in cols} - set(rules.counts)
        if unknown:
            raise TierError(f"{name}: derived_from names columns not declared `small_cell: count`: {sorted(unknown)}")
        if rules.counts:
            out[name] = rules
    return out
