from patient360.contracts import PII_CLASSES, SOURCES, all_contracts, contracts_for
from patient360.dbt_sources import SOURCES_YAML, render_sources_yaml


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


def test_dbt_sources_yaml_is_generated_from_contracts():
    # one definition, not two: regenerate with `patient360 dev sources`
    assert SOURCES_YAML.read_text(encoding="utf-8") == render_sources_yaml()
