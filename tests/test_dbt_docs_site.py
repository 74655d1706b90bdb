"""The dbt docs site (from the CI build's manifest): the project's own overview page, an owner
for every model, and exposures for the KPI report and the Superset dashboards whose lineage
names the models they read."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from patient360.report import queries

pytestmark = pytest.mark.slow
DASHBOARDS = ("superset_marketing", "superset_operations", "superset_clinical_programmes")


@pytest.fixture(scope="module")
def manifest(built_warehouse: Path) -> dict:
    return json.loads((built_warehouse.parent / "target" / "manifest.json").read_text(encoding="utf-8"))


def test_overview_page_is_the_projects(manifest: dict) -> None:
    overview = manifest["docs"]["doc.patient360.__overview__"]["block_contents"]
    for heading in ("## Layers", "## What leaves the warehouse", "## Owners", "## Where to start"):
        assert heading in overview


def test_every_model_has_an_owner(manifest: dict) -> None:
    groups = {g["name"]: g["owner"] for g in manifest["groups"].values()}
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    unowned = [n["name"] for n in models if not (groups.get(n.get("group") or "") or {}).get("name")]
    assert models and unowned == []


def test_exposures_name_the_models_they_read(manifest: dict) -> None:
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert {"kpi_report", *DASHBOARDS} <= set(exposures)
    for exposure in exposures.values():
        deps = exposure["depends_on"]["nodes"]
        assert deps and all(manifest["nodes"][d]["resource_type"] == "model" for d in deps)
        assert exposure["owner"]["name"]
    read = set(re.findall(r"\bfrom ((?:kpi|seg)_\w+)", inspect.getsource(queries)))
    declared = {d.rsplit(".", 1)[1] for d in exposures["kpi_report"]["depends_on"]["nodes"]}
    assert read and read == declared  # the report's lineage is what its queries read
