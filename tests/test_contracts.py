from pathlib import Path

import pytest
import yaml

from patient360.contracts import (
    CONTRACT_DIR,
    PII_CLASSES,
    SOURCES,
    ContractError,
    all_contracts,
    contracts_for,
    load_contract,
)
from patient360.dbt_sources import SOURCES_YAML, render_sources_yaml
from patient360.pii_classes import model_classes


def test_every_source_has_contracts_and_columns_are_classified():
    assert {c.source for c in all_contracts()} == set(SOURCES)
    for contract in all_contracts():
        assert contract.primary_key, contract.raw_table
        assert set(contract.primary_key) <= set(contract.column_names), contract.raw_table
        for col in contract.columns:
            assert col.pii in PII_CLASSES
    assert {c.table for c in contracts_for("his")} >= {
        "patients",
        "visits",
        "diagnoses",
        "prescriptions",
        "lab_results",
        "payments",
    }


def _contract_copy(tmp_path: Path, edit) -> Path:
    """his/patients.yml written under tmp_path with `edit(column_dicts)` applied."""
    doc = yaml.safe_load((CONTRACT_DIR / "his" / "patients.yml").read_text(encoding="utf-8"))
    edit(doc["columns"])
    path = tmp_path / "his" / "patients.yml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_a_contract_column_without_a_class_is_rejected_naming_file_and_column(tmp_path):
    # a forgotten class must not read as `none`: raw columns are where direct identifiers arrive
    path = _contract_copy(tmp_path, lambda cols: next(c for c in cols if c["name"] == "mobile").pop("pii"))
    with pytest.raises(ContractError, match=r"patients\.yml: column mobile: no `pii` class"):
        load_contract(path)


def test_a_contract_column_with_an_unknown_class_is_rejected(tmp_path):
    path = _contract_copy(tmp_path, lambda cols: next(c for c in cols if c["name"] == "city").update(pii="secret"))
    with pytest.raises(ContractError, match=r"column city: unknown pii class 'secret'"):
        load_contract(path)


def test_staging_columns_keep_the_class_of_their_contract_column():
    """A staging column named like its contract column carries the same value, cleaned at most
    (trimmed, normalised, cast, deduplicated), and cleaning does not change a class. A column
    that generalises a value (birth_date -> age_band) gets a new name, so it is not compared."""
    models = model_classes()
    compared, disagree = 0, []
    for contract in all_contracts():
        staging = models[f"stg_{contract.source}__{contract.table}"]
        for col in contract.columns:
            declared = staging.columns.get(col.name)
            compared += declared is not None
            if declared is not None and declared != col.pii:
                disagree.append(f"{staging.name}.{col.name}: contract {col.pii}, dbt meta.pii {declared}")
    assert not disagree
    assert compared > sum(len(c.columns) for c in all_contracts()) / 2  # most columns keep their name


def test_dbt_sources_yaml_is_generated_from_contracts():
    # one definition, not two: regenerate with `patient360 dev sources`
    assert SOURCES_YAML.read_text(encoding="utf-8") == render_sources_yaml()
