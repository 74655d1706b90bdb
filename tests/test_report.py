"""The KPI report on a real release: the pipeline's publish stage (gates included) on a copy of
the CI build writes published/report/index.html, one offline page whose every chart draws in
headless Chromium, and whose suppressed cells say so instead of vanishing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from browser import chromium_path, open_page
from patient360.cli import main
from patient360.dbt_vars import dbt_var
from patient360.pipeline import stage_publish
from patient360.report import REPORT, SECTIONS, render_report

pytestmark = pytest.mark.slow

# a network reference in any form a browser would fetch
EXTERNAL = re.compile(r"(?i)((src|href)\s*=\s*[\"']?\s*(https?:)?//|<link\b|@import|url\(\s*[\"']?(https?:)?//)")
CHARTS = "[...document.querySelectorAll('.vega-chart')]"
# data marks only (role-mark): axes, legends and titles have other roles; target rules and labels do not count
DATA_MARKS = ", ".join(f"g.role-mark.mark-{m} path" for m in ("rect", "line", "symbol", "area", "arc"))
PROBE = (
    f"{CHARTS}.map(e => ({{id: e.id, rendered: e.dataset.rendered || null, "
    f"marks: e.querySelectorAll('{DATA_MARKS}').length}}))"
)


@pytest.fixture(scope="module")
def published(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    warehouse = root / "patient360.duckdb"
    shutil.copy(built_warehouse, warehouse)
    stage_publish(warehouse)
    return root / "published"


def test_publish_writes_one_self_contained_report(published: Path) -> None:
    text = (published / REPORT).read_text(encoding="utf-8")
    assert not EXTERNAL.search(text), EXTERNAL.search(text)
    for anchor, title, *_ in SECTIONS:
        assert f"<section id='{anchor}'><h2>{title}</h2>" in text
    assert "Not in this release" not in text  # every KPI table the sections read was published
    assert text.count("class='chart vega-chart'") >= len(SECTIONS) - 1  # data coverage is tables only
    # targets come from dbt vars, not from the report's code
    assert f"target: at most {dbt_var('cac_target_yuan')} yuan" in text
    assert f"target: at least 1:{dbt_var('roi_target')}" in text
    assert f"standard: {dbt_var('consult_response_target_minutes')} min" in text


def test_suppressed_cells_are_named_not_dropped(published: Path, tmp_path: Path) -> None:
    release = tmp_path / "marts.duckdb"
    shutil.copy(published / "marts.duckdb", release)
    con = duckdb.connect(str(release))
    month = con.execute("select min(month) from kpi_nps").fetchone()[0]  # type: ignore[index]
    con.execute("update kpi_nps set responses = null, promoters = null, nps = null where month = ?", [month])
    con.execute("update kpi_retention set retained_patients = null, retention_rate = null "
                "where cohort_month = (select max(cohort_month) from kpi_retention) and horizon_days = 7")  # fmt: skip
    con.close()
    text = render_report(release, tmp_path / "report.html").read_text(encoding="utf-8")
    nps = text.split("<section id='nps'>")[1].split("</section>")[0]
    k = int(dbt_var("k_anonymity"))
    assert f"1 rows suppressed (fewer than {k} people), left out of the chart: {month:%Y-%m-%d}" in nps
    retention = text.split("<section id='retention'>")[1].split("</section>")[0]
    assert "1 rows suppressed" in retention and '"state":"suppressed"' in text.replace(" ", "")
    untouched = (published / REPORT).read_text(encoding="utf-8").split("<section id='nps'>")[1]
    assert "No cell of this section is suppressed" in untouched.split("</section>")[0]


def test_report_command_renders_from_the_published_folder(published: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli" / "index.html"
    assert main(["report", "--published", str(published), "--out", str(out)]) == 0
    assert f"KPI report: {out}" in capsys.readouterr().out and out.stat().st_size > 100_000


@pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (make test installs it as root)")
def test_every_chart_draws_in_chromium_offline(published: Path, tmp_path: Path) -> None:
    page = open_page((published / REPORT).as_uri(), ready=f"{CHARTS}.every(e => e.dataset.rendered)", probe=PROBE)
    shot = tmp_path / "kpi-report.png"
    shot.write_bytes(page.screenshot)
    assert page.errors == []
    assert [u for u in page.requests if not u.startswith("file://")] == []
    charts = page.probe
    assert len(charts) >= len(SECTIONS) - 1
    empty = [c["id"] for c in charts if c["rendered"] != "ok" or c["marks"] == 0]
    assert empty == [], f"charts that failed or drew no data mark: {empty}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
