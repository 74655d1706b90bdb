"""Privacy classes of columns, read from where they are declared.

A class (`direct | quasi | pseudonym | sensitive | none`) is declared once per column:

- a model column: dbt `meta.pii` in the folder YAML (dbt_project/models/**/_*.yml),
  enforced on every dbt run by dbt_project/macros/pii_policy.sql;
- a raw source column: `pii` in its source contract (src/patient360/contracts/).

Everything else reads these declarations or is checked against them: the published-schema
allow-list copies the classes of the marts (`patient360 dev allowlist
--sync`, a test fails on drift) and the YAML scaffolder takes the class of a known column name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patient360.contracts import all_contracts
from patient360.paths import DBT_PROJECT_DIR
from patient360.yaml_files import load_yaml

MODELS_DIR = DBT_PROJECT_DIR / "models"


@dataclass(frozen=True)
class ModelClasses:
    """One dbt model's declared columns: name -> meta.pii (None when not declared)."""

    name: str
    path: Path  # the YAML file, relative to the models folder
    columns: dict[str, str | None]

    @property
    def layer(self) -> str:
        """staging | restricted | intermediate | marts: the top folder under models/."""
        return self.path.parts[0]


def declared_pii(column: dict) -> str | None:
    """The class a column entry of a dbt YAML declares, or None."""
    # dbt accepts meta as a column property or under config; both count as the declaration.
    meta = column.get("meta") or (column.get("config") or {}).get("meta") or {}
    return meta.get("pii")


def model_classes(models_dir: Path = MODELS_DIR) -> dict[str, ModelClasses]:
    """Every model documented in the folder YAMLs, by model name."""
    out: dict[str, ModelClasses] = {}
    for yml in sorted(Path(models_dir).rglob("*.yml")):
        for model in (load_yaml(yml) or {}).get("models") or []:
            cols = {c["name"]: declared_pii(c) for c in model.get("columns") or []}
            out[model["name"]] = ModelClasses(model["name"], yml.relative_to(models_dir), cols)
    return out


def classes_by_column_name(models_dir: Path = MODELS_DIR) -> dict[str, set[str]]:
    """Column name -> every class declared for a column of that name (models and contracts).

    One name can rightly carry two classes (a per-person `programme` is sensitive, the same
    word as a KPI dimension is not), so callers must not guess when the set has two members.
    """
    out: dict[str, set[str]] = {}
    for model in model_classes(models_dir).values():
        for col, pii in model.columns.items():
            if pii is not None:
                out.setdefault(col, set()).add(pii)
    for contract in all_contracts():
        for column in contract.columns:
            out.setdefault(column.name, set()).add(column.pii)
    return out
