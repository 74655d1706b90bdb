"""Release tiers: aggregate (small-cell suppressed, wide BI), person (pseudonymous, trusted
analysts) and activation (consent-only list, marketing), each its own gated file.

Small-cell rules are unit-tested on small DuckDB tables (fast); the real dbt build is published
once per module (the CLI, all three tiers) and checked: each tier holds exactly its tables, no
person-keyed table leaves the person/activation tiers, no small cell and no recoverable cell is
published. A small cell planted into an aggregate candidate, or a candidate that escaped
suppression, blocks the whole release."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from patient360.dbt_vars import dbt_var
from patient360.errors import GateFailed
from patient360.gates import small_cells
from patient360.gates.small_cells import small_cell_metrics, suppress_table
from patient360.pii_classes import MODELS_DIR
from patient360.release_tiers import (
    ACTIVATION,
    AGGREGATE,
    PERSON,
    TIERS,
    Margin,
    SmallCells,
    release_tiers,
    small_cell_rules,
    tier_problems,
    tier_tables,
)

K = 5


def _failing(metrics) -> dict[tuple[str, str, str], float]:
    return {(m.table, m.column, m.check): m.observed for m in metrics if m.observed}


# --- declarations ---------------------------------------------------------------------


def test_every_mart_declares_one_tier_and_no_aggregate_mart_has_a_person_key() -> None:
    assert tier_problems() == []
    assert {t for t, tier in release_tiers().items() if tier is not None} == set(release_tiers())
    assert tier_tables(ACTIVATION) == {"seg_marketing_activation"}
    assert "patient_360" in tier_tables(PERSON)
    assert all(t.startswith("kpi_") or t in {"dim_channel", "dim_campaign", "fct_campaign_daily"}
               for t in tier_tables(AGGREGATE))  # fmt: skip


def test_a_mart_without_a_tier_is_reported(tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR / "marts", models / "marts")
    yml = models / "marts" / "facts" / "_facts.yml"
    yml.write_text(yml.read_text(encoding="utf-8").replace("meta: {release_tier: aggregate}", "meta: {}", 1))
    yml2 = models / "marts" / "core" / "_core.yml"
    yml2.write_text(yml2.read_text(encoding="utf-8").replace("release_tier: person", "release_tier: aggregate"))
    problems = tier_problems(models)
    assert any(p.startswith("dim_channel: meta.release_tier") for p in problems), problems
    assert any(p.startswith("patient_360: has patient_key") for p in problems), problems


def test_every_kpi_person_count_is_declared_with_its_derived_columns() -> None:
    rules = small_cell_rules()
    assert rules["kpi_retention"].counts == ["cohort_size", "eligible_patients", "retained_patients"]
    assert rules["kpi_retention"].derived == {"retention_rate": ("retained_patients", "eligible_patients")}
    assert rules["kpi_segment_sizes"].counts == ["patients"]
    assert set(rules) <= tier_tables(AGGREGATE)


# --- suppression and its verification on small tables ----------------------------------

FUNNEL = SmallCells(
    counts=["people"],
    derived={"rate": ("people",)},
    margins=[Margin(by=("channel",), total_row=(("campaign", "(all)"),))],
)


ACTUAL = {"t": dict.fromkeys(("channel", "campaign", "people", "rate"), "")}


def _table(rows: list[tuple[str, str, int]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (channel VARCHAR, campaign VARCHAR, people BIGINT, rate DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(c, g, n, n / 100) for c, g, n in rows])
    return con


def _cells(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int | None]:
    return {(c, g): n for c, g, n in con.execute("SELECT channel, campaign, people FROM t").fetchall()}


def test_a_lone_small_cell_gets_a_complement_and_its_rate_goes_too() -> None:
    con = _table([("a", "(all)", 40), ("a", "x", 3), ("a", "y", 12), ("a", "z", 25), ("b", "(all)", 9), ("b", "w", 9)])
    counts = suppress_table(con, "t", FUNNEL, K)
    cells = _cells(con)
    assert cells[("a", "x")] is None and cells[("a", "y")] is None  # the next smallest hides the 3
    assert cells[("a", "z")] == 25 and cells[("a", "(all)")] == 40
    assert cells[("b", "w")] == 9  # a group of one cell: its total is itself, nothing to hide
    assert counts == {"primary": 1, "complementary": 1, "derived": 2}
    assert con.execute("SELECT count(*) FROM t WHERE people IS NULL AND rate IS NOT NULL").fetchone() == (0,)
    assert _failing(small_cell_metrics(con, "main", ACTUAL, {"t": FUNNEL}, K)) == {}


def test_suppressed_cells_summing_under_k_are_complemented_until_k() -> None:
    con = _table([("a", "(all)", 60), ("a", "x", 1), ("a", "y", 2), ("a", "z", 7), ("a", "v", 50)])
    suppress_table(con, "t", FUNNEL, K)
    assert [v for (_, g), v in sorted(_cells(con).items()) if v is None] == [None, None, None]
    assert _cells(con)[("a", "z")] is None  # 1 + 2 = 3 < k: the 7 goes too


def test_row_margins_of_columns_are_complemented() -> None:
    rules = SmallCells(counts=["n", "p", "q", "d"], margins=[Margin(columns=("p", "q", "d"), total_column="n")])
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 30 AS n, 2 AS p, 8 AS q, 20 AS d")
    suppress_table(con, "t", rules, K)
    assert con.execute("SELECT n, p, q, d FROM t").fetchone() == (30, None, None, 20)


def test_the_gate_finds_a_small_cell_a_lone_suppression_and_a_derived_leak() -> None:
    con = _table([("a", "(all)", 40), ("a", "x", 3), ("a", "y", 12), ("a", "z", 25)])
    assert _failing(small_cell_metrics(con, "main", ACTUAL, {"t": FUNNEL}, K)) == {("t", "people", "small_cell"): 1}
    con.execute("UPDATE t SET people = NULL WHERE campaign = 'x'")  # hidden, but 40 - 12 - 25 gives it back
    found = _failing(small_cell_metrics(con, "main", ACTUAL, {"t": FUNNEL}, K))
    assert found == {("t", "", "small_cell_recoverable"): 1, ("t", "rate", "small_cell_derived"): 1}
    con.execute("UPDATE t SET people = NULL, rate = NULL WHERE campaign IN ('x', 'y')")  # 3 + 12 >= k
    assert _failing(small_cell_metrics(con, "main", ACTUAL, {"t": FUNNEL}, K)) == {}


# --- the real build, published through the CLI ------------------------------------------


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "patient360", *map(str, args)], capture_output=True, text=True,
                          timeout=900)  # fmt: skip


@pytest.fixture(scope="module")
def published(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`patient360 publish` on a copy of the real build: every tier."""
    wh = tmp_path_factory.mktemp("tiers") / "patient360.duckdb"
    shutil.copy(built_warehouse, wh)
    (wh.parent / "published").mkdir()
    (wh.parent / "published" / "marts.duckdb").write_text("a release of the single-file layout")
    run = _cli("publish", "--warehouse", wh)
    assert run.returncode == 0, run.stderr[-3000:]
    return wh.parent / "published"


def _tables(path: Path) -> dict[str, set[str]]:
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall()
    con.close()
    out: dict[str, set[str]] = {}
    for t, c in rows:
        out.setdefault(t, set()).add(c)
    return out


def test_cli_publish_creates_every_tier_with_its_own_tables_only(published: Path, built_warehouse: Path) -> None:
    con = duckdb.connect(str(built_warehouse), read_only=True)
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'").fetchall()
    built = {t for (t,) in rows}
    con.close()
    for tier in TIERS:
        folder = published / tier
        tables = _tables(folder / "marts.duckdb")
        assert set(tables) == tier_tables(tier) & built, tier
        assert {p.stem for p in (folder / "parquet").glob("*.parquet")} == set(tables), tier
        manifest = json.loads((folder / "release.json").read_text(encoding="utf-8"))
        assert manifest["tier"] == tier and set(manifest["tables"]) == set(tables)
        page = (folder / "evidence.html").read_text(encoding="utf-8")
        assert f"tier {tier}</h1>" in page and "Who may use it" in page
        assert ("Small-cell suppression" in page) == (tier == AGGREGATE)
    assert not (published / "marts.duckdb").exists()  # the single-file layout's release is gone


def test_person_level_tables_never_reach_aggregate_or_activation(published: Path) -> None:
    for tier in (AGGREGATE, ACTIVATION):
        tables = _tables(published / tier / "marts.duckdb")
        assert "patient_360" not in tables and not any(t.startswith("fct_") and "patient_key" in c
                                                       for t, c in tables.items())  # fmt: skip
    assert not any("patient_key" in cols for cols in _tables(published / AGGREGATE / "marts.duckdb").values())
    assert set(_tables(published / ACTIVATION / "marts.duckdb")) == {"seg_marketing_activation"}


def test_no_small_or_recoverable_cell_in_the_published_aggregate_tier(published: Path) -> None:
    k = int(dbt_var("k_anonymity"))
    path = published / AGGREGATE / "marts.duckdb"
    con = duckdb.connect(str(path), read_only=True)
    actual = _tables(path)
    metrics = small_cell_metrics(con, "main", {t: dict.fromkeys(c, "") for t, c in actual.items()},
                                 small_cell_rules(), k)  # fmt: skip
    assert {m.check for m in metrics} == {"small_cell", "small_cell_recoverable", "small_cell_derived"}
    assert _failing(metrics) == {}
    # independently of the module: a funnel channel's total minus its published campaigns
    # never leaves 1..k-1 people, and no channel hides exactly one campaign
    rows = con.execute("""
        SELECT channel, max(acquired_patients) FILTER (WHERE campaign_id = '(all)')
                        - sum(acquired_patients) FILTER (WHERE campaign_id <> '(all)'),
               count(*) FILTER (WHERE campaign_id <> '(all)' AND acquired_patients IS NULL),
               count(*) FILTER (WHERE campaign_id <> '(all)')
        FROM kpi_channel_funnel GROUP BY channel""").fetchall()
    assert not [r for r in rows if (r[1] is not None and 0 < r[1] < k) or (r[2] == 1 and r[3] > 1)], rows
    comment = con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 'kpi_nps' "
                          "AND column_name = 'promoters'").fetchone()[0]  # fmt: skip
    assert "NULL when suppressed" in comment
    con.close()
    manifest = json.loads((published / AGGREGATE / "release.json").read_text(encoding="utf-8"))
    assert sum(n["primary"] for n in manifest["suppression"].values()) > 0  # the demo build has small cells
    assert sum(n["complementary"] for n in manifest["suppression"].values()) > 0


def test_a_small_cell_planted_in_the_aggregate_candidate_blocks_it(built_warehouse: Path, tmp_path: Path) -> None:
    from patient360.gates import Candidate, run_gates
    from patient360.publish import PublishResult, _build_candidates, _Staged

    cand = Candidate(tmp_path / "cand.duckdb", tmp_path / "cand_parquet")
    staged = _Staged(AGGREGATE, cand, PublishResult(tmp_path / "x", tmp_path / "y", key_id="k", tier=AGGREGATE))
    _build_candidates(built_warehouse, [staged], K)
    clean = run_gates(built_warehouse, candidate=cand, tier=AGGREGATE, k=K, data_docs_dir=tmp_path / "gx")
    assert not [f for f in clean.blocking if f.suite == "small_cells"], clean.render()
    con = duckdb.connect(str(cand.duckdb_path))
    con.execute("UPDATE kpi_segment_sizes SET patients = 3 WHERE rowid = (SELECT min(rowid) FROM kpi_segment_sizes)")
    con.execute(f"COPY kpi_segment_sizes TO '{cand.parquet('kpi_segment_sizes')}' (FORMAT parquet)")
    con.close()
    outcome = run_gates(built_warehouse, candidate=cand, tier=AGGREGATE, k=K, data_docs_dir=tmp_path / "gx")
    found = {(f.table, f.column, f.check) for f in outcome.blocking}
    assert ("kpi_segment_sizes", "patients", "small_cell") in found, outcome.render()


def test_a_candidate_that_escaped_suppression_publishes_no_tier(
    built_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patient360.publish import publish_marts

    out = tmp_path / "published"
    # the fault: suppression does nothing (the gate judges the bytes, not the code that made them)
    monkeypatch.setattr(small_cells, "suppress_table", lambda *a: {"primary": 0, "complementary": 0, "derived": 0})
    with pytest.raises(GateFailed, match="aggregate"):
        publish_marts(built_warehouse, out, data_docs_dir=tmp_path / "gx")
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) if out.exists() else []
    assert left == [], left


def test_a_daily_run_with_older_snapshots_still_publishes_a_k_anonymous_person_tier(
    built_warehouse: Path, tmp_path: Path
) -> None:
    """Segment marts keep a snapshot per day, and the quasi-identifiers of an older snapshot
    were generalised for that day's population (a person's band can be 60-64 one day and 60-79
    the next). The person tier carries such a table at its latest snapshot only, so the older
    values neither reach the release nor split today's classes: planted older values that
    would single two people out leave `patient360 check` and `publish` passing."""
    wh = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, wh)
    con = duckdb.connect(str(wh))
    latest = con.execute("select max(as_of_date) from marts.seg_special_groups").fetchone()[0]
    # the day before: everyone as today, but two people with a flag nobody else has
    con.execute("""
        insert into marts.seg_special_groups
        select patient_key, as_of_date - 1, is_chronic,
               case when row_number() over (order by patient_key) <= 2 then is_elderly is null end,
               is_child
        from marts.seg_special_groups where as_of_date = ?""", [latest])  # fmt: skip
    con.execute("insert into marts.seg_lifecycle select * replace (as_of_date - 1 as as_of_date) "
                "from marts.seg_lifecycle where as_of_date = ?", [latest])  # fmt: skip
    con.close()
    check = _cli("check", "--warehouse", wh)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    run = _cli("publish", "--warehouse", wh, "--tier", PERSON)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    release = duckdb.connect(str(wh.parent / "published" / PERSON / "marts.duckdb"), read_only=True)
    days = release.execute("select distinct as_of_date from seg_special_groups").fetchall()
    # a snapshot table without quasi-identifiers keeps its history in the release
    history = release.execute("select count(distinct as_of_date) from seg_lifecycle").fetchone()[0]
    release.close()
    assert days == [(latest,)]
    assert history == 2
