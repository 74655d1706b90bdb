"""A column's privacy class is declared once: dbt `meta.pii` for models, `pii` in the source
contract for raw columns. The published-schema allow-list and the YAML scaffolder's glossary
hold no class of their own (the allow-list's copy is checked and synced from dbt)."""

from __future__ import annotations

import shutil

import yaml

from patient360.contracts import PII_CLASSES
from patient360.gates.schema_allowlist import ALLOWLIST_PATH, class_drift, load_allowlist, sync_classes
from patient360.paths import PROJECT_ROOT
from patient360.pii_classes import MODELS_DIR, classes_by_column_name, model_classes

GLOSSARY = PROJECT_ROOT / "src" / "patient360" / "devtools" / "column_glossary.yml"


def test_signed_allowlist_agrees_with_dbt_meta_pii():
    # fix class drift with `patient360 dev allowlist --sync`; list new columns by hand
    assert class_drift() == []


def test_class_drift_is_reported_and_sync_copies_meta_pii(tmp_path):
    original = ALLOWLIST_PATH.read_text(encoding="utf-8")
    path = tmp_path / "allowlist.yml"
    flipped = original.replace("      is_chronic: {privacy: sensitive}", "      is_chronic: {privacy: none}", 1)
    path.write_text(flipped, encoding="utf-8")
    assert class_drift(path) == ["patient_360.is_chronic: allow-list says none, dbt meta.pii says sensitive"]
    assert sync_classes(path) == 1
    assert path.read_text(encoding="utf-8") == original  # comments and layout kept
    assert class_drift(path) == []


def test_sync_never_lists_a_column_the_privacy_officer_has_not(tmp_path):
    path = tmp_path / "allowlist.yml"
    shutil.copy(ALLOWLIST_PATH, path)
    text = path.read_text(encoding="utf-8").replace("      latest_sbp: {privacy: sensitive}\n", "", 1)
    path.write_text(text, encoding="utf-8")
    assert class_drift(path) == ["patient_360.latest_sbp: mart column not allow-listed (add it by hand)"]
    sync_classes(path)
    assert load_allowlist(path).rule("patient_360", "latest_sbp") is None
    assert class_drift(path) != []


def test_glossary_holds_descriptions_only():
    glossary = yaml.safe_load(GLOSSARY.read_text(encoding="utf-8"))
    assert glossary and all(isinstance(d, str) and d not in PII_CLASSES for d in glossary.values())


def test_classes_by_column_name_reports_every_declared_class():
    known = classes_by_column_name()
    assert known["patient_key"] == {"pseudonym"}
    assert known["id_number"] == {"direct"}  # contracts and staging
    assert known["programme"] == {"sensitive", "none"}  # per person vs KPI dimension: the scaffolder won't guess


def test_no_mart_and_no_allow_listed_table_has_the_internal_person_id():
    # person_id is the warehouse's internal integer id; the person is published as patient_key only
    marts = {m.name: m.columns for m in model_classes(MODELS_DIR).values() if m.layer == "marts"}
    assert "patient_360" in marts and all("patient_key" in marts[t] for t in ("patient_360", "seg_lifecycle"))
    assert [t for t, cols in marts.items() if "person_id" in cols] == []
    allow = load_allowlist()
    assert allow.tables and [t for t, cols in allow.tables.items() if "person_id" in cols] == []
