"""Developer aid: add missing model/column entries to the folder YAMLs of the dbt project.

Reads the columns each model really has from a built warehouse, keeps every entry
already in the YAML, and appends missing columns with a description from
column_glossary.yml and the privacy class already declared for a column of the same
name (dbt meta.pii or a source contract). Where none is declared, or the declarations
disagree, it writes `TODO`, which the PII policy rejects, so nothing unclassified can be
built. Marts get `data_type` and an enforced contract.

    python scripts/devtools/scaffold_model_yaml.py --warehouse warehouse/patient360.duckdb
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import duckdb
import yaml

from patient360.pii_classes import classes_by_column_name

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "dbt_project" / "models"
GLOSSARY = yaml.safe_load((Path(__file__).parent / "column_glossary.yml").read_text(encoding="utf-8"))
KNOWN_CLASSES = classes_by_column_name(MODELS)
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


def known_class(column: str) -> str:
    """The class declared for every other column of this name, or TODO (none, or they disagree)."""
    found = KNOWN_CLASSES.get(column, set())
    if len(found) > 1:
        print(f"  {column}: declared as {' and '.join(sorted(found))} elsewhere; decide and replace TODO")
    return next(iter(found)) if len(found) == 1 else "TODO"


def scaffold(folder: Path, con: duckdb.DuckDBPyConnection) -> None:
    top = folder.relative_to(MODELS).parts[0]
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
            entry = {"name": col, "description": GLOSSARY.get(col, "TODO"), "meta": {"pii": known_class(col)}}
            if top == "marts":
                entry["data_type"] = dtype.lower()
            cols.append(entry)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    text = re.sub(r"\n(  - name: )", r"\n\n\1", text)  # blank line between models
    yml.write_text(text, encoding="utf-8")
    print(f"wrote {yml.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("folders", nargs="*", help="model folders (default: all)")
    args = parser.parse_args()
    con = duckdb.connect(str(args.warehouse), read_only=True)
    folders = [Path(f).resolve() for f in args.folders] or sorted(
        {p.parent for p in MODELS.rglob("*.sql")} | {p.parent for p in MODELS.rglob("*.py")}
    )
    for folder in folders:
        scaffold(folder, con)


if __name__ == "__main__":
    main()
