"""A real `dbt build` (models + all dbt tests) over landed generated data."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from helpers import TEST_KEY
from patient360.identity_eval import score_identity

pytestmark = pytest.mark.slow


def _con(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def test_patient_360_is_built_one_row_per_person(built_warehouse):
    con = _con(built_warehouse)
    n, distinct, bad_keys = con.execute(
        "select count(*), count(distinct patient_key), "
        "count(*) filter (where not regexp_full_match(patient_key, '[0-9a-f]{64}')) from marts.patient_360"
    ).fetchone()
    assert n > 0
    assert n == distinct
    assert bad_keys == 0


def test_marts_hold_no_direct_identifier_columns(built_warehouse):
    con = _con(built_warehouse)
    cols = {
        c
        for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'marts'"
        ).fetchall()
    }
    forbidden = {
        "mrn",
        "name",
        "patient_name",
        "contact_name",
        "real_name",
        "mobile",
        "id_number",
        "address",
        "birth_date",
        "wechat_openid",
        "wechat_unionid",
        "device_serial",
        "binding_id",
        "contact_id",
        "platform_user_id",
        "nps_comment",
        "chief_complaint",
        "source_record_id",
        "best_identifier",
    }
    assert not cols & forbidden


def test_pseudonym_key_never_lands_in_dbt_artifacts_or_logs(built_warehouse):
    root = built_warehouse.parent
    project = Path(__file__).resolve().parents[1] / "dbt_project"
    scanned = 0
    for folder in (root / "target", root / "logs", project / "target", project / "logs"):
        for path in folder.rglob("*") if folder.exists() else []:
            if path.is_file():
                scanned += 1
                assert TEST_KEY.encode() not in path.read_bytes(), f"key leaked into {path}"
    assert scanned > 0


def test_identity_resolution_precision_and_recall(built_warehouse, small_exports):
    score = score_identity(built_warehouse, small_exports)
    print(score)
    assert score.records > 0 and score.true_pairs > 0
    assert score.precision >= 0.995
    assert score.recall >= 0.99


def test_every_landed_record_is_linked(built_warehouse):
    con = _con(built_warehouse)
    unlinked = con.execute(
        """
        select count(*) from (
            select 'his' as source, mrn as id from staging.stg_his__patients
            union select 'crm', contact_id from staging.stg_crm__contacts
            union select 'consult', platform_user_id from staging.stg_consult__sessions
            union select 'wearable', binding_id from staging.stg_wearable__device_bindings
        ) r anti join restricted.identity_links l on l.source = r.source and l.source_record_id = r.id
        """
    ).fetchone()[0]
    assert unlinked == 0


def _results_by_type(target: Path) -> dict[str, list[str]]:
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    by_type: dict[str, list[str]] = {}
    for r in results:
        by_type.setdefault(r["unique_id"].split(".")[0], []).append(r["status"])
    return by_type


def test_ci_build_runs_every_dbt_unit_test_and_they_pass(built_warehouse):
    """The session fixture builds with unit_tests=True: every unit test in the manifest ran."""
    target = built_warehouse.parent / "target"
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    statuses = _results_by_type(target)
    assert len(statuses["unit_test"]) == len(manifest["unit_tests"]) > 0
    assert set(statuses["unit_test"]) == {"pass"}
    assert statuses["test"] and set(statuses["test"]) <= {"pass", "warn"}


def test_scheduled_build_leaves_unit_tests_out_but_runs_data_tests(tmp_path, built_warehouse):
    import shutil

    from patient360.pipeline import stage_transform

    warehouse = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, warehouse)
    stage_transform(warehouse, target_dir=tmp_path / "target")
    statuses = _results_by_type(tmp_path / "target")
    assert "unit_test" not in statuses
    assert statuses["model"] and statuses["test"]
