"""The release's evidence page on a real publish (gates included): per published table and column
what the gate checked and the result, names and counts only, and it renders completely in
headless Chromium with every network request refused."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from browser import chromium_path, open_page
from patient360.evidence import render_evidence
from patient360.gates.outcome import Failure, GateOutcome
from patient360.gates.schema_allowlist import ALLOWLIST_PATH, load_allowlist
from patient360.publish import publish_marts

ROW = re.compile(r"<tr>(.*?)</tr>")
CELL = re.compile(r"<td>(.*?)</td>")


@pytest.fixture(scope="module")
def published(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("evidence")
    shutil.copy(built_warehouse, root / "patient360.duckdb")
    result = publish_marts(root / "patient360.duckdb", root / "published", data_docs_dir=root / "gx")
    return result, root / "published"


def _rows(page: str, table: str) -> dict[str, list[str]]:
    """column -> its cells, from the table under `<h3>table (`."""
    block = re.split(r"<h[23]>", page.split(f"<h3>{table} (", 1)[1], maxsplit=1)[0]
    return {cells[0]: cells for row in ROW.findall(block) if (cells := CELL.findall(row))}


@pytest.mark.slow
def test_every_published_column_shows_its_checks_and_result(published) -> None:
    result, root = published
    for tier, tables in result.tables.items():  # one evidence page per release tier
        page = (root / tier / "evidence.html").read_text(encoding="utf-8")
        for table in tables:
            rows = _rows(page, table)
            assert rows, (tier, table)
            for column, cells in rows.items():
                checked, verdict = cells[-2], cells[-1]
                assert verdict == "pass" and checked != "no check", (tier, table, column, cells)
                if cells[1]:  # a real column (not the whole table or its comments) is on the allow-list
                    assert "schema_allowlist: listed" in checked, (tier, table, column, cells)
    page = (root / "person" / "evidence.html").read_text(encoding="utf-8")
    key = _rows(page, "patient_360")["patient_key"][-2]
    assert "pii_masking: " in key and "quality_marts: key_null" in key
    assert "<h2>Checks on warehouse sources and across tables</h2>" in page and "raw_his.visits" in page


def test_a_failed_check_is_shown_on_its_column() -> None:
    outcome = GateOutcome(
        failures=[Failure("block", "quality_marts", "kpi_nps", "nps", "value_between", 3, "-100..100")],
        checks_run=3,
        checked=[("quality_marts", "kpi_nps", "nps", "value_between"), ("pii_masking", "kpi_nps", "nps", "mobile"),
                 ("quality_marts", "kpi_nps", "", "row_count")],
    )  # fmt: skip
    page = render_evidence("r1", "kid", {"kpi_nps": 9}, {"kpi_nps": {"nps": "DOUBLE", "month": "DATE"}},
                           load_allowlist(ALLOWLIST_PATH), outcome)  # fmt: skip
    rows = _rows(page, "kpi_nps")
    assert rows["nps"][-2] == "pii_masking: 1 PII patterns; quality_marts: value_between; schema_allowlist: listed"
    assert rows["nps"][-1] == "value_between BLOCK"
    assert rows["month"][-2:] == ["schema_allowlist: listed", "pass"]
    assert rows["(whole table)"][-2:] == ["quality_marts: row_count", "pass"]


@pytest.mark.slow
@pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (make test installs it as root)")
def test_evidence_page_renders_completely_offline(published, tmp_path: Path) -> None:
    result, root = published
    path = root / "person" / "evidence.html"
    probe = ("({tables: [...document.querySelectorAll('h3')].map(h => h.textContent.split(' (')[0]), "
             "rows: document.querySelectorAll('td').length, "
             "styled: getComputedStyle(document.querySelector('th')).backgroundColor})")  # fmt: skip
    page = open_page(path.as_uri(), ready="document.getElementById('end-of-evidence')", probe=probe)
    (tmp_path / "evidence.png").write_bytes(page.screenshot)
    assert page.errors == []
    assert [u for u in page.requests if not u.startswith("file://")] == []
    assert set(result.tables["person"]) <= set(page.probe["tables"])
    assert page.probe["rows"] > 1000 and page.probe["styled"] not in ("", "rgba(0, 0, 0, 0)")
    assert page.screenshot[:8] == b"\x89PNG\r\n\x1a\n"
