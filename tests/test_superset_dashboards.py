"""Superset dashboards as code (bi/superset/patient360_dashboards, Superset's export format).

The structural checks run everywhere. The real one (marked `bi`, run by `make bi-test`) imports
the bundle with `superset import-dashboards` into a real Apache Superset (its own environment,
.venv-superset, SQLite metadata) and runs every chart's query through Superset's chart-data
command against a freshly published release's aggregate file, failing on any error or empty
chart. It takes about two minutes besides the shared dbt build (Superset's migrations most of it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bi_release import aggregate_duckdb, published_release  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]
BI = ROOT / "bi" / "superset"
BUNDLE = BI / "patient360_dashboards"
SUPERSET_PYTHON = Path(os.environ.get("P360_SUPERSET_PYTHON", ROOT / ".venv-superset" / "bin" / "python"))
AUDIENCES = {"patient360-marketing", "patient360-operations", "patient360-clinical"}


def _load(kind: str) -> dict[str, dict]:
    return {str(p.relative_to(BUNDLE)): yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in sorted((BUNDLE / kind).rglob("*.yaml"))}  # fmt: skip


def test_bundle_is_one_consistent_export_reading_only_the_aggregate_release() -> None:
    databases, datasets, charts, dashboards = (
        _load("databases"),
        _load("datasets"),
        _load("charts"),
        _load("dashboards"),
    )
    assert yaml.safe_load((BUNDLE / "metadata.yaml").read_text(encoding="utf-8"))["type"] == "Dashboard"
    (database,) = databases.values()
    assert database["sqlalchemy_uri"] == "duckdb:////data/published/aggregate/marts.duckdb?access_mode=read_only"
    assert not database["allow_dml"] and not database["allow_ctas"] and not database["allow_cvas"]
    dataset_ids = {d["uuid"] for d in datasets.values()}
    assert {d["database_uuid"] for d in datasets.values()} == {database["uuid"]}
    assert all(d["table_name"].startswith("kpi_") for d in datasets.values())  # KPI aggregates, no person rows
    for name, chart in charts.items():
        assert chart["dataset_uuid"] in dataset_ids, name
        metrics = {
            m["metric_name"] for d in datasets.values() if d["uuid"] == chart["dataset_uuid"] for m in d["metrics"]
        }
        for query in json.loads(chart["query_context"])["queries"]:
            assert set(query["metrics"]) <= metrics, name  # saved metrics of the chart's own dataset
    placed = {
        node["meta"]["uuid"] for d in dashboards.values() for node in d["position"].values()
        if isinstance(node, dict) and node.get("type") == "CHART"
    }  # fmt: skip
    assert placed == {c["uuid"] for c in charts.values()}  # every chart is on a dashboard, none is missing
    assert {d["slug"] for d in dashboards.values()} == AUDIENCES


def test_compose_provisions_the_bundle_at_start() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]["superset"]
    # only the aggregate tier is mounted (at /data/published), and the URI names its file read-only
    assert "./warehouse/published/aggregate:/data/published:ro" in compose["volumes"]
    assert compose["environment"]["P360_MARTS_URI"] == "duckdb:////data/published/marts.duckdb?access_mode=read_only"
    init = (ROOT / "docker" / "superset" / "patient360-init.sh").read_text(encoding="utf-8")
    assert 'bundle_zip.py /tmp/patient360_dashboards.zip --uri "${P360_MARTS_URI}"' in init
    assert "superset import-dashboards --path /tmp/patient360_dashboards.zip" in init
    assert "COPY bi/superset/ /app/patient360/" in (ROOT / "docker" / "superset" / "Dockerfile").read_text()


def _superset(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    superset = SUPERSET_PYTHON.parent / "superset"
    return subprocess.run([str(superset), *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.bi
@pytest.mark.slow
def test_every_chart_runs_through_a_real_superset(release: Path, tmp_path: Path) -> None:
    if not SUPERSET_PYTHON.is_file():
        pytest.skip(f"no Superset environment at {SUPERSET_PYTHON}: `make bi-test` builds it and runs this test")
    sys.path.insert(0, str(BI))
    try:
        from bundle_zip import write_bundle
    finally:
        sys.path.remove(str(BI))
    uri = f"duckdb:///{aggregate_duckdb(release)}?access_mode=read_only"
    bundle = write_bundle(tmp_path / "dashboards.zip", uri)
    config = tmp_path / "superset_config.py"
    config.write_text(f'SECRET_KEY = "test-only-superset-secret-0123456789"\n'
                      f'SQLALCHEMY_DATABASE_URI = "sqlite:///{tmp_path / "superset.db"}"\n')  # fmt: skip
    env = {**os.environ, "SUPERSET_CONFIG_PATH": str(config), "SUPERSET_HOME": str(tmp_path / "home"),
           "PYTHONPATH": ""}  # fmt: skip
    for args in (
        ("db", "upgrade"),
        ("fab", "create-admin", "--username", "admin", "--firstname", "A", "--lastname", "U",
         "--email", "admin@example.org", "--password", "test-only"),
        ("init",),
        ("import-dashboards", "--path", str(bundle), "--username", "admin"),
    ):  # fmt: skip
        run = _superset(env, *args)
        assert run.returncode == 0, f"superset {' '.join(args)}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    run = subprocess.run([str(SUPERSET_PYTHON), str(BI / "run_charts.py")], env=env, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    bad = [r for r in results if r["error"] or not r["rows"]]
    assert not bad and run.returncode == 0, json.dumps(bad, indent=1) + run.stderr[-3000:]
    assert {r["chart"] for r in results} == {c["slice_name"] for c in _load("charts").values()}
    assert {r["dashboard"] for r in results} == AUDIENCES
