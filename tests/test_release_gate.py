"""No path publishes ungated data. On copies of a real dbt build where `check` fails (a mobile,
an ID number and a name planted into marts), the CLI's `publish`, the Airflow publish task body
(the same package call the DAG makes), `pipeline.stage_publish` and `publish.publish_marts`
all refuse, and nothing reaches published/ (no tier: all or nothing). The clean build publishes
every release tier, each with a release manifest naming the key; and the gate judges the
candidate's own bytes: a planted comment, Parquet
metadata or Parquet rows that differ from the gated table are caught."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from helpers import TEST_KEY
from patient360.errors import GateFailed
from patient360.gates.schema_allowlist import ALLOWLIST_PATH
from patient360.pseudonym import key_id
from patient360.release_tiers import TIERS


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patient360", *map(str, args)], capture_output=True, text=True, timeout=600
    )


def _person(wh: Path) -> dict[str, str]:
    con = duckdb.connect(str(wh), read_only=True)
    rows = con.execute("""
        SELECT identifier_type, any_value(identifier_value) FROM restricted.person_identifiers
        WHERE identifier_type IN ('mobile', 'id_number', 'person_name')
          AND patient_key = (SELECT patient_key FROM restricted.person_identifiers
                             WHERE identifier_type IN ('mobile', 'id_number', 'person_name')
                             GROUP BY 1 HAVING count(DISTINCT identifier_type) = 3 ORDER BY 1 LIMIT 1)
        GROUP BY 1""").fetchall()
    con.close()
    return {"name" if t == "person_name" else t: v for t, v in rows}


@pytest.fixture
def planted(built_warehouse: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the built warehouse with a mobile, an ID number and a name in the marts."""
    wh = tmp_path / "wh" / "patient360.duckdb"
    wh.parent.mkdir()
    shutil.copy(built_warehouse, wh)
    p = _person(wh)
    con = duckdb.connect(str(wh))
    con.execute("UPDATE marts.fct_visits SET department = ? WHERE rowid = 1", [p["mobile"]])
    con.execute("UPDATE marts.fct_visits SET department = ? WHERE rowid = 2", [p["id_number"]])
    con.execute("UPDATE marts.fct_prescriptions SET drug_name = ? || drug_name WHERE rowid = 3", [p["name"]])
    con.close()
    return wh, p


@pytest.fixture
def clean(built_warehouse: Path, tmp_path: Path) -> Path:
    wh = tmp_path / "clean" / "patient360.duckdb"
    wh.parent.mkdir()
    shutil.copy(built_warehouse, wh)
    return wh


def _nothing_published(out: Path) -> None:
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*")) if out.exists() else []
    assert left == [], f"published/ is not empty: {left}"


def test_check_fails_on_the_planted_copy(planted) -> None:
    wh, _ = planted
    run = cli("check", "--warehouse", wh)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "fct_visits.department" in run.stdout and "mobile" in run.stdout


def test_cli_publish_refuses_and_publishes_nothing(planted) -> None:
    wh, p = planted
    out = wh.parent / "published"
    run = cli("publish", "--warehouse", wh, "--out", out)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "failed" in run.stderr and "nothing published" in run.stderr
    _nothing_published(out)
    for value in p.values():
        assert value not in run.stdout + run.stderr


def test_dag_publish_task_body_refuses(planted, monkeypatch: pytest.MonkeyPatch) -> None:
    """The body of dags/patient360_transform.py's `publish` task, called as the DAG calls it."""
    from airflow.sdk.exceptions import AirflowFailException

    from patient360.orchestration import fail_fast, warehouse
    from patient360.pipeline import stage_publish

    wh, _ = planted
    monkeypatch.setenv("P360_WAREHOUSE", str(wh))
    with pytest.raises(AirflowFailException, match="nothing published"):
        fail_fast(lambda: stage_publish(warehouse()))
    _nothing_published(wh.parent / "published")


def test_python_api_refuses(planted) -> None:
    from patient360.pipeline import stage_publish
    from patient360.publish import publish_marts

    wh, _ = planted
    with pytest.raises(GateFailed):
        publish_marts(wh)
    with pytest.raises(GateFailed):
        stage_publish(wh, out_dir=wh.parent / "other")
    _nothing_published(wh.parent / "published")
    _nothing_published(wh.parent / "other")


def test_each_tier_keeps_its_own_verdict_in_the_shared_release_gate(planted) -> None:
    """The tiers of one release share a gate workspace (dictionaries and source checks built once:
    patient360.gates.ReleaseGate). The planted values are in person-tier marts only: the person
    tier fails with them, and the activation tier, gated after it on the same workspace, passes."""
    from patient360.publish import publish_marts

    wh, _ = planted
    with pytest.raises(GateFailed) as failed:
        publish_marts(wh)
    message = str(failed.value)
    assert "person (" in message, message
    assert "activation (" not in message and "aggregate (" not in message, message
    con = duckdb.connect(str(wh), read_only=True)
    verdicts = dict(con.execute("SELECT tier, gate_verdict FROM audit.release_register").fetchall())
    con.close()
    assert verdicts == {"aggregate": "passed", "person": "failed", "activation": "passed"}, verdicts


def test_clean_build_publishes_with_a_manifest_naming_the_key(clean: Path) -> None:
    out = clean.parent / "published"
    run = cli("publish", "--warehouse", clean, "--out", out)
    assert run.returncode == 0, run.stdout + run.stderr
    out = out / "person"  # fct_visits is a person-level mart
    manifest = json.loads((out / "release.json").read_text(encoding="utf-8"))
    assert manifest["key_id"] == key_id(TEST_KEY.encode()) and manifest["tier"] == "person"
    assert manifest["gate"]["passed"] is True and manifest["gate"]["checks_run"] > 100
    import hashlib

    assert manifest["duckdb"]["sha256"] == hashlib.sha256((out / "marts.duckdb").read_bytes()).hexdigest()
    pq = out / "parquet" / "fct_visits.parquet"
    assert manifest["tables"]["fct_visits"]["parquet_sha256"] == hashlib.sha256(pq.read_bytes()).hexdigest()
    kv = dict(duckdb.sql(f"SELECT decode(key), decode(value) FROM parquet_kv_metadata('{pq}')").fetchall())
    assert kv["p360_key_id"] == manifest["key_id"]
    # no source-system record number is published: visit ids are issued keyed pseudonyms
    con = duckdb.connect(str(out / "marts.duckdb"), read_only=True)
    bad = con.execute("SELECT count(*) FROM fct_visits WHERE NOT regexp_full_match(visit_id, '[0-9a-f]{64}')")
    assert bad.fetchone()[0] == 0
    con.close()


def test_a_failed_release_keeps_the_previous_one(clean: Path) -> None:
    from patient360.publish import publish_marts

    out = clean.parent / "published"
    publish_marts(clean, out)
    files = [out / tier / name for tier in TIERS for name in ("marts.duckdb", "release.json")]
    before = {p: p.read_bytes() for p in files}
    parquet_before = {tier: (out / tier / "parquet").resolve() for tier in TIERS}
    con = duckdb.connect(str(clean))
    # only a comment carries the mobile: the comment is copied into the published file; it fails
    # the person tier, and no tier is published (all or nothing)
    con.execute("COMMENT ON COLUMN marts.fct_visits.department IS 'owner 13812345678'")
    con.close()
    with pytest.raises(GateFailed, match="person"):
        publish_marts(clean, out)
    assert {p: p.read_bytes() for p in files} == before
    assert {t: (out / t / "parquet").resolve() for t in parquet_before} == parquet_before
    assert not [p for p in out.rglob(".*")], "candidate files left behind"


def test_gate_reads_the_candidate_parquet_rows_and_metadata(clean: Path, tmp_path: Path) -> None:
    """A Parquet file that is not the gated DuckDB table, or whose metadata carries PII, fails."""
    from patient360.gates import Candidate, collect_metrics
    from patient360.gates.gx_runner import load_suites, validate
    from patient360.publish import PublishResult, _build_candidates, _Staged

    cand = Candidate(tmp_path / "cand.duckdb", tmp_path / "pq")
    _build_candidates(clean, [_Staged("aggregate", cand, PublishResult(tmp_path / "x", tmp_path / "y", key_id="k"))], 5)
    path = cand.parquet("dim_channel")
    duckdb.sql(f"COPY (SELECT * REPLACE ('13812345678' AS channel_label) FROM '{path}') TO '{tmp_path}/t.parquet' "
               "(FORMAT parquet, KV_METADATA {contact: '110105198506120018'})")  # fmt: skip
    shutil.move(tmp_path / "t.parquet", path)
    metrics = collect_metrics(clean, k=5, allowlist=ALLOWLIST_PATH,
                              gx_dir=tmp_path / "gx", as_of=None, candidate=cand, tier="aggregate")  # fmt: skip
    found = {(f.table, f.column, f.check) for f in validate(metrics, load_suites()).failures if f.severity == "block"}
    assert ("dim_channel", "", "parquet_mismatch") in found
    assert ("dim_channel", "(parquet metadata)", "resident_id") in found
