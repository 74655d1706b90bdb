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
from patient360.report.page import NOTHING_TO_DRAW

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


@pytest.fixture(scope="module")
def every_cell_shown(published: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a copy of the aggregate release with every suppressed number filled in, as a
    release of a hospital large enough to have no small cell would be (the CI build has 300 patients,
    where most monthly channel cells are under k and the report rightly draws nothing for them)."""
    root = tmp_path_factory.mktemp("every-cell")
    release = root / "marts.duckdb"
    shutil.copy(published / "aggregate" / "marts.duckdb", release)
    con = duckdb.connect(str(release))
    numeric = con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'main' "
        "and (data_type in ('BIGINT', 'INTEGER', 'DOUBLE', 'HUGEINT') or data_type like 'DECIMAL%')"
    ).fetchall()
    for table, column in numeric:
        con.execute(f'update "{table}" set "{column}" = 50 where "{column}" is null')
    con.close()
    return render_report(release, root / "index.html")


def test_publish_writes_one_self_contained_report(published: Path, every_cell_shown: Path) -> None:
    text = (published / REPORT).read_text(encoding="utf-8")
    assert not EXTERNAL.search(text), EXTERNAL.search(text)
    for anchor, title, *_ in SECTIONS:
        assert f"<section id='{anchor}'><h2>{title}</h2>" in text
    assert "Not in this release" not in text  # every KPI table the sections read was published
    assert text.count("class='chart vega-chart'") + text.count(NOTHING_TO_DRAW) >= len(SECTIONS) - 1
    text = every_cell_shown.read_text(encoding="utf-8")
    assert NOTHING_TO_DRAW not in text and text.count("class='chart vega-chart'") >= len(SECTIONS) - 1
    # targets come from dbt vars, not from the report's code
    assert f"target: at most {dbt_var('cac_target_yuan')} yuan" in text
    assert f"target: at least 1:{dbt_var('roi_target')}" in text
    assert f"standard: {dbt_var('consult_response_target_minutes')} min" in text


def _suppressed(section_html: str) -> tuple[int, str]:
    """(rows the section's note names as suppressed, the note's text)."""
    found = re.search(r"(\d+) rows suppressed \(fewer than \d+ people\), left out of the chart: ([^<]*)", section_html)
    return (int(found.group(1)), found.group(2)) if found else (0, "")


def _section(text: str, anchor: str) -> str:
    return text.split(f"<section id='{anchor}'>")[1].split("</section>")[0]


def test_suppressed_cells_are_named_not_dropped(published: Path, tmp_path: Path) -> None:
    release = tmp_path / "marts.duckdb"
    shutil.copy(published / "aggregate" / "marts.duckdb", release)
    con = duckdb.connect(str(release))
    month = con.execute("select min(month) from kpi_nps").fetchone()[0]  # type: ignore[index]
    con.execute("update kpi_nps set responses = 40, promoters = 20, passives = 10, detractors = 10, nps = 25 "
                "where month = ?", [month])  # fmt: skip
    con.close()
    before_n, before_months = _suppressed(_section(render_report(release, tmp_path / "before.html").read_text(), "nps"))
    con = duckdb.connect(str(release))
    con.execute("update kpi_nps set responses = null, promoters = null, nps = null where month = ?", [month])
    con.execute("update kpi_retention set retained_patients = null, retention_rate = null "
                "where cohort_month = (select max(cohort_month) from kpi_retention) and horizon_days = 7")  # fmt: skip
    con.close()
    text = render_report(release, tmp_path / "report.html").read_text(encoding="utf-8")
    after_n, after_months = _suppressed(_section(text, "nps"))
    k = int(dbt_var("k_anonymity"))
    assert f"fewer than {k} people" in _section(text, "nps")
    assert after_n == before_n + 1  # the planted blank is counted, not dropped
    assert f"{month:%Y-%m-%d}" in after_months and f"{month:%Y-%m-%d}" not in before_months
    assert _suppressed(_section(text, "retention"))[0] >= 1 and '"state":"suppressed"' in text.replace(" ", "")


def test_report_command_renders_from_the_published_folder(published: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli" / "index.html"
    assert main(["report", "--published", str(published), "--out", str(out)]) == 0
    assert f"KPI report: {out}" in capsys.readouterr().out and out.stat().st_size > 100_000


@pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (make test installs it as root)")
@pytest.mark.parametrize("which", ["published", "every_cell_shown"])
def test_every_chart_draws_in_chromium_offline(which: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The CI release's own report (small: many cells suppressed, said in words) and the same
    release with every cell shown: no script error, no network request, no chart without marks."""
    fixture = request.getfixturevalue(which)
    report = fixture / REPORT if which == "published" else fixture
    page = open_page(report.as_uri(), ready=f"{CHARTS}.every(e => e.dataset.rendered)", probe=PROBE)
    shot = tmp_path / "kpi-report.png"
    shot.write_bytes(page.screenshot)
    assert page.errors == []
    assert [u for u in page.requests if not u.startswith("file://")] == []
    charts = page.probe
    assert len(charts) >= (len(SECTIONS) - 1 if which == "every_cell_shown" else 3)
    empty = [c["id"] for c in charts if c["rendered"] != "ok" or c["marks"] == 0]
    assert empty == [], f"charts that failed or drew no data mark: {empty}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
