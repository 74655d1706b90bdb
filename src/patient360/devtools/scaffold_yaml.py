"""`patient360 dev scaffold-yaml`: add missing model/column entries to the folder YAMLs
of the dbt project.

Reads the columns each model really has from a built warehouse, keeps every entry
already in the YAML, and appends missing columns with a description from
column_glossary.yml and the privacy class already declared for a column of the same
name (dbt meta.pii or a source contract). Where none is declared, or the declarations
disagree, it writes `TODO`, which the PII policy rejects, so nothing unclassified can be
built. Marts get `data_type` and an enforced contract.

    .venv/bin/patient360 dev scaffold-yaml --warehouse warehouse/patient360.duckdb [FOLDER ...]
"""

from __future__ import annotations

import argparse
import re
from functools import cache
from pathlib import Path

import duckdb
import yaml

from patient360.paths import DBT_PROJECT_DIR
from patient360.pii_classes import classes_by_column_name
from patient360.warehouse import connect

MODELS = DBT_PROJECT_DIR / "models"
GLOSSARY_PATH = Path(__file__).with_name("column_glossary.yml")
SCHEMA_OF = {"staging": "staging", "restricted": "restricted", "intermediate": "intermediate", "marts": "marts"}


def _leading_comment(path: Path) -> str:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("--"):
            lines.append(line[2:].strip())
        elif path.suffix == ".py" and line.startswith('"""'):
            return line.strip('"').strip()
        else:
            break
    return " ".join(lines)


@cache
def _glossary() -> dict[str, str]:
    return yaml.safe_load(GLOSSARY_PATH.read_text(encoding="utf-8"))


def known_class(column: str, models: Path = MODELS) -> str:
    """The class declared for every other column of this name, or TODO (none, or they disagree)."""
    found = classes_by_column_name(MODELS).get(column, set()) | classes_by_column_name(models).get(column, set())
    if len(found) > 1:
        print(f"  {column}: declared as {' and '.join(sorted(found))} elsewhere; decide and replace TODO")
    return next(iter(found)) if len(found) == 1 else "TODO"


def scaffold(folder: Path, con: duckdb.DuckDBPyConnection, models: Path = MODELS) -> Path:
    """Complete `folder`'s YAML (`_<folder>.yml`) from the warehouse; returns its path."""
    top = folder.relative_to(models).parts[0]
    schema = SCHEMA_OF[top]
    yml = folder / f"_{folder.name}.yml"
    doc = yaml.safe_load(yml.read_text(encoding="utf-8")) if yml.exists() else {"version": 2, "models": []}
    doc.setdefault("models", [])
    by_name = {m["name"]: m for m in doc["models"]}
    for path in sorted([*folder.glob("*.sql"), *folder.glob("*.py")]):
        name = path.stem
        model = by_name.get(name)
        if model is None:
            model = {"name": name, "description": _leading_comment(path) or "TODO"}
            doc["models"].append(model)
            by_name[name] = model
        if top == "marts":
            model.setdefault("config", {})["contract"] = {"enforced": True}
        cols = model.setdefault("columns", [])
        known = {c["name"] for c in cols}
        actual = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, name],
        ).fetchall()
        for col, dtype in actual:
            if col in known:
                if top == "marts":
                    next(c for c in cols if c["name"] == col)["data_type"] = dtype.lower()
                continue
            pii, desc = known_class(col, models), _glossary().get(col, "TODO")
            entry = {"name": col, "description": desc, "meta": {"pii": pii}}
            if top == "marts":
                entry["data_type"] = dtype.lower()
            cols.append(entry)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    text = re.sub(r"\n(  - name: )", r"\n\n\1", text)  # blank line between models
    yml.write_text(text, encoding="utf-8")
    return yml


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", type=Path, required=True, help="a built warehouse (the models' real columns)")
    parser.add_argument("--models-dir", type=Path, default=MODELS, help="dbt models folder (default: the project's)")
    parser.add_argument("folders", nargs="*", type=Path, help="model folders inside it (default: all)")


def run(args: argparse.Namespace) -> int:
    models = args.models_dir.resolve()
    folders = [f.resolve() for f in args.folders] or sorted(
        {p.parent for p in models.rglob("*.sql")} | {p.parent for p in models.rglob("*.py")}
    )
    con = connect(args.warehouse, read_only=True)
    try:
        for folder in folders:
            print(f"wrote {scaffold(folder, con, models)}")
    finally:
        con.close()
    return 0
