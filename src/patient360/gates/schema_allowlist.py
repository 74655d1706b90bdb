"""The published-schema allow-list: every table and column that may leave the warehouse.

`expectations/published_schema_allowlist.yml` is the document a privacy officer signs:
table -> column -> privacy class (`pseudonym | quasi | sensitive | none`; `direct` is
never allowed), optional `kind: event_date` (a date of an event, not of a person) and
optional `accepted_values`. The gate compares it with `information_schema`: an unlisted
table or column, a listed table that is missing, or a `direct` class fails (block).

Which tables and columns are listed is signed off by hand. The privacy class is not
declared here: it is copied from the mart's dbt `meta.pii` (the one declaration), so a
change of class shows up as a reviewed diff of this file too.

    patient360 dev allowlist --check # classes and sign-off vs dbt YAML
    patient360 dev allowlist --sync  # rewrite the classes from meta.pii
    patient360 dev allowlist dbt_project/models/marts   # draft new entries

`--sync` never adds or removes a table or column: a new published column still needs an
entry written and reviewed by hand (start from the draft).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from patient360.paths import EXPECTATIONS_DIR
from patient360.pii_classes import MODELS_DIR, ModelClasses, declared_pii, model_classes
from patient360.yaml_files import load_yaml

ALLOWLIST_PATH = EXPECTATIONS_DIR / "published_schema_allowlist.yml"
PUBLISHED_SCHEMA = "marts"
PRIVACY_CLASSES = {"pseudonym", "quasi", "sensitive", "none"}
DATE_TYPES = {"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"}


class AllowlistError(ValueError):
    """The allow-list file itself is malformed."""


@dataclass(frozen=True)
class ColumnRule:
    privacy: str
    kind: str | None = None
    accepted_values: tuple[str, ...] | None = None

    @property
    def is_event_date(self) -> bool:
        return self.kind == "event_date"


@dataclass
class Allowlist:
    tables: dict[str, dict[str, ColumnRule]]
    event_date_min: str = "2000-01-01"
    k_anonymity: dict = field(default_factory=dict)
    vocabulary: tuple[str, ...] = ()
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def only(self, tables: set[str]) -> Allowlist:
        """The allow-list of one release tier: its tables are expected, any other table is unlisted."""
        keep = {t: cols for t, cols in self.tables.items() if t in tables}
        sensitive = (self.k_anonymity.get("sensitive") or {}).get("table")
        k_anon = self.k_anonymity if sensitive in keep else {}  # l-diversity only where the attribute is published
        return Allowlist(keep, self.event_date_min, k_anon, self.vocabulary,
                         {t: k for t, k in self.keys.items() if t in keep})  # fmt: skip

    def rule(self, table: str, column: str) -> ColumnRule | None:
        return self.tables.get(table, {}).get(column)

    def all_accepted_values(self) -> set[str]:
        out = set(self.vocabulary)
        for cols in self.tables.values():
            for r in cols.values():
                out.update(r.accepted_values or ())
        return out


def load_allowlist(path: Path = ALLOWLIST_PATH) -> Allowlist:
    try:
        doc = load_yaml(Path(path))
    except FileNotFoundError as exc:
        raise AllowlistError(f"{path}: allow-list file not found") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("tables"), dict):
        raise AllowlistError(f"{path}: expected a mapping with a 'tables' key")
    tables: dict[str, dict[str, ColumnRule]] = {}
    keys: dict[str, tuple[str, ...]] = {}
    for table, spec in doc["tables"].items():
        if (spec or {}).get("key"):
            keys[table] = tuple(spec["key"])
        cols = (spec or {}).get("columns")
        if not isinstance(cols, dict) or not cols:
            raise AllowlistError(f"{path}: table {table}: 'columns' must be a non-empty mapping")
        tables[table] = {}
        for col, c in cols.items():
            c = c or {}
            privacy = c.get("privacy")
            if privacy not in PRIVACY_CLASSES:
                raise AllowlistError(
                    f"{path}: {table}.{col}: privacy must be one of {sorted(PRIVACY_CLASSES)}, got {privacy!r}"
                )
            values = c.get("accepted_values")
            tables[table][col] = ColumnRule(privacy, c.get("kind"), tuple(map(str, values)) if values else None)
    return Allowlist(
        tables=tables,
        event_date_min=str(doc.get("event_date_min", "2000-01-01")),
        k_anonymity=doc.get("k_anonymity") or {},
        vocabulary=tuple(map(str, doc.get("vocabulary") or ())),
        keys=keys,
    )


def published_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """table -> column -> DuckDB type, for every table and view in the published schema."""
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_catalog = current_database() ORDER BY table_name, ordinal_position",
        [PUBLISHED_SCHEMA],
    ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for table, column, dtype in rows:
        out.setdefault(table, {})[column] = dtype
    return out


def schema_findings(actual: dict[str, dict[str, str]], allow: Allowlist) -> list[tuple[str, str, str, int]]:
    """(table, column, check, count) for every difference; empty when the schema conforms."""
    out: list[tuple[str, str, str, int]] = []
    for table, cols in actual.items():
        allowed = allow.tables.get(table)
        if allowed is None:
            out.append((table, "", "unlisted_table", 1))
            continue
        for col, dtype in cols.items():
            rule = allowed.get(col)
            if rule is None:
                out.append((table, col, "unlisted_column", 1))
            elif rule.is_event_date and dtype.upper() not in DATE_TYPES and dtype.upper() != "VARCHAR":
                out.append((table, col, "event_date_not_a_date", 1))
        out += [(table, col, "missing_column", 1) for col in allowed if col not in cols]
    out += [(t, "", "missing_table", 1) for t in allow.tables if t not in actual]
    return out


def draft_from_dbt(models_dir: Path) -> dict:
    """A draft allow-list from dbt model YAML (for review, not for the gate)."""
    tables: dict[str, dict] = {}
    for yml in sorted(Path(models_dir).rglob("*.yml")):
        for model in (load_yaml(yml) or {}).get("models", []):
            cols = {}
            for c in model.get("columns", []):
                entry: dict = {"privacy": declared_pii(c) or "TODO"}  # TODO: the loader rejects it
                if str(c.get("data_type", "")).lower() in {"date", "timestamp"}:
                    entry["kind"] = "event_date"
                for t in c.get("data_tests", []) or c.get("tests", []) or []:
                    if isinstance(t, dict) and "accepted_values" in t:
                        av = t["accepted_values"]
                        entry["accepted_values"] = (av.get("arguments") or av).get("values")
                cols[c["name"]] = entry
            tables[model["name"]] = {"columns": cols}
    return {"tables": tables}


def _published_models(models_dir: Path) -> dict[str, ModelClasses]:
    return {name: m for name, m in model_classes(models_dir).items() if m.layer == PUBLISHED_SCHEMA}


def class_drift(path: Path = ALLOWLIST_PATH, models_dir: Path = MODELS_DIR) -> list[str]:
    """Every way the signed allow-list disagrees with the marts' dbt YAML; empty when in step."""
    allow, marts = load_allowlist(path), _published_models(models_dir)
    out = [f"{t}: mart model not allow-listed (add it by hand for sign-off)" for t in marts if t not in allow.tables]
    for table, rules in allow.tables.items():
        model = marts.get(table)
        if model is None:
            out.append(f"{table}: allow-listed but no mart model documents it")
            continue
        out += [f"{table}.{c}: mart column not allow-listed (add it by hand)" for c in model.columns if c not in rules]
        for col, rule in rules.items():
            if col not in model.columns:
                out.append(f"{table}.{col}: allow-listed but not a column of the mart")
            elif rule.privacy != model.columns[col]:
                out.append(f"{table}.{col}: allow-list says {rule.privacy}, dbt meta.pii says {model.columns[col]}")
    return out


_TABLE_LINE = re.compile(r"^  (\w+):\s*$")
_PRIVACY_LINE = re.compile(r"^(      (\w+): \{privacy: )(\w+)")


def sync_classes(path: Path = ALLOWLIST_PATH, models_dir: Path = MODELS_DIR) -> int:
    """Rewrite the privacy class of every listed column from dbt meta.pii; returns how many changed.

    Edits the file line by line so the signed document keeps its comments and layout.
    """
    marts = _published_models(models_dir)
    lines = Path(path).read_text(encoding="utf-8").splitlines(keepends=True)
    table, in_tables, changed = None, False, 0
    for i, line in enumerate(lines):
        in_tables = in_tables or line.startswith("tables:")
        if in_tables and (m := _TABLE_LINE.match(line)):
            table = m.group(1)
        elif in_tables and table in marts and (m := _PRIVACY_LINE.match(line)):
            declared = marts[table].columns.get(m.group(2))
            if declared is not None and declared != m.group(3):
                lines[i] = line[: m.start(3)] + declared + line[m.end(3) :]
                changed += 1
    Path(path).write_text("".join(lines), encoding="utf-8")
    return changed
