"""The semantic layer returns the kpi_ tables' numbers: each MetricFlow metric queried with
`mf query --metrics <kpi> --group-by metric_time__month` (dbt_project/models/marts/kpis/_semantic.yml)
equals the same KPI read with SQL from its kpi_ table, month by month.

Needs the `mf` command of dbt-metricflow; without it the test skips. mf reads the semantic manifest
from <project>/target/, so the test runs it on a copy of the dbt project (and docs/, which holds a
docs block) in a temporary folder, with the manifest of the build, never writing into the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from patient360.pipeline import stage_land, stage_transform

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# the mf of this environment (make installs dbt-metricflow into .venv), else one on PATH
_VENV_MF = Path(sys.executable).with_name("mf")
MF = str(_VENV_MF) if _VENV_MF.exists() else shutil.which("mf")
GENERATION = {"patients": 600, "days": 5, "seed": 11, "dirt_rate": 0.0}

# metric -> SQL giving (month, value) from the kpi_ table; extra group-by -> its column
MONTHLY = {
    "nps": "select month, nps as value from marts.kpi_nps",
    "recall_rate": "select month, recall_rate as value from marts.kpi_recall_winback",
    "winback_rate": "select month, winback_rate as value from marts.kpi_recall_winback",
    "community_winback_rate": "select month, winback_rate as value from marts.kpi_community_winback",
    "channel_spend": "select month, sum(spend) as value from marts.kpi_channel_economics "
    "where campaign_id = '(all)' group by month",
    "revenue_per_patient": "select month, revenue_per_patient as value from marts.kpi_specialty "
    "where specialty = '(all)'",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if MF is None:
        pytest.skip("mf (dbt-metricflow) is not installed")
    from patient360.generate import generate_exports

    root = tmp_path_factory.mktemp("semantic")
    generate_exports(out_dir=root / "exports", progress=False, **GENERATION)
    warehouse = root / "patient360.duckdb"
    stage_land(root / "exports", warehouse)
    stage_transform(warehouse, target_dir=root / "target")
    copy = root / "repo"
    shutil.copytree(ROOT / "dbt_project", copy / "dbt_project", ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copytree(ROOT / "docs", copy / "docs")
    (copy / "dbt_project" / "target").mkdir()
    shutil.copy(root / "target" / "semantic_manifest.json", copy / "dbt_project" / "target")
    return copy / "dbt_project", warehouse


def _mf(project: Path, warehouse: Path, metric: str, group_by: str) -> pd.DataFrame:
    out = project.parent / f"{metric}.csv"
    env = {**os.environ, "P360_WAREHOUSE": str(warehouse), "DBT_PROFILES_DIR": str(project)}
    cmd = [str(MF), "query", "--metrics", metric, "--group-by", group_by, "--csv", str(out)]
    done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    df = pd.read_csv(out)
    df["metric_time__month"] = pd.to_datetime(df["metric_time__month"]).dt.date
    return df


def _kpi(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.mark.parametrize("metric", sorted(MONTHLY))
def test_metric_by_month_equals_the_kpi_table(project, metric):
    project_dir, warehouse = project
    mf = _mf(project_dir, warehouse, metric, "metric_time__month").set_index("metric_time__month")[metric]
    kpi = _kpi(warehouse, MONTHLY[metric]).dropna()
    kpi["month"] = pd.to_datetime(kpi["month"]).dt.date
    assert len(kpi) > 0, f"{metric}: the kpi table has no value"
    got = mf.reindex(kpi["month"]).astype(float).to_numpy()
    assert got == pytest.approx(kpi["value"].astype(float).to_numpy(), rel=1e-9, abs=1e-9), metric


def test_cac_by_month_and_channel_equals_kpi_channel_economics(project):
    project_dir, warehouse = project
    mf = _mf(project_dir, warehouse, "cac", "metric_time__month,channel_month__channel")
    mf = mf.set_index(["metric_time__month", "channel_month__channel"])["cac"]
    kpi = _kpi(
        warehouse,
        "select month, channel, cac from marts.kpi_channel_economics "
        "where campaign_id = '(all)' and channel <> 'organic' and cac is not null",
    )
    kpi["month"] = pd.to_datetime(kpi["month"]).dt.date
    assert len(kpi) > 0
    got = mf.reindex(list(zip(kpi["month"], kpi["channel"], strict=True))).astype(float).to_numpy()
    assert got == pytest.approx(kpi["cac"].astype(float).to_numpy(), rel=1e-9)
