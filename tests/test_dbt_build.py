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


def _manifest_columns(built_warehouse: Path) -> dict[tuple[str, str], dict[str, str | None]]:
    """(schema, relation) -> column -> meta.pii, for every model and source of the build's manifest."""
    manifest = json.loads((built_warehouse.parent / "target" / "manifest.json").read_text(encoding="utf-8"))
    out = {}
    for node in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        if node["resource_type"] in ("model", "source") and node["config"].get("materialized") != "ephemeral":
            relation = node.get("identifier") or node["alias"]
            columns = node["columns"].values()
            out[(node["schema"], relation)] = {c["name"]: (c.get("meta") or {}).get("pii") for c in columns}
    return out


def test_every_built_mart_column_is_declared_and_none_is_direct(built_warehouse):
    declared = {rel: cols for (schema, rel), cols in _manifest_columns(built_warehouse).items() if schema == "marts"}
    built: dict[str, list[str]] = {}
    rows = (
        _con(built_warehouse)
        .execute("select table_name, column_name from information_schema.columns where table_schema = 'marts'")
        .fetchall()
    )
    for table, column in rows:
        built.setdefault(table, []).append(column)
    assert built and set(built) == set(declared)
    undeclared = [f"{t}.{c}" for t, cols in built.items() for c in cols if c not in declared[t]]
    assert not undeclared, f"built mart columns without a meta.pii declaration: {undeclared}"
    publishable = {"quasi", "pseudonym", "sensitive", "none"}  # `direct` never; unclassified never
    bad = {f"{t}.{c}": pii for t, cols in declared.items() for c, pii in cols.items() if pii not in publishable}
    assert not bad, f"mart columns declared direct or not classified: {bad}"


# Identifiers of 8+ characters (mobiles, ID numbers, MRNs, serials, openids, addresses) must not
# appear even inside a longer mart value; shorter ones (names) must not be a whole value.
MIN_CONTAINED = 8


def test_no_direct_identifier_value_reaches_a_mart(built_warehouse):
    """Every value of every column declared `direct` outside the marts (raw sources through their
    contracts, staging, restricted) is looked up in every built mart value. Values that are dates
    are left out: birth dates are quasi-identifiers filed with the direct ones in the identity
    tables, and the PII gate handles dates; a birthday can rightly equal an event date."""
    con = _con(built_warehouse)
    con.execute("create temp table direct_values (v varchar, origin varchar)")
    con.execute("create temp table mart_values (v varchar, mart_column varchar)")
    for (schema, rel), cols in _manifest_columns(built_warehouse).items():
        target = "mart_values" if schema == "marts" else "direct_values"
        for col, pii in cols.items():
            if schema == "marts" or pii == "direct":
                con.execute(
                    f'insert into {target} select v, ? from (select distinct trim(cast("{col}" as varchar)) as v'
                    f' from "{schema}"."{rel}") where v <> \'\' and try_cast(v as date) is null',
                    [f"{schema}.{rel}.{col}"],
                )
    origins = {o for (o,) in con.execute("select distinct origin from direct_values").fetchall()}
    assert {"raw_his.patients.mobile", "raw_his.patients.id_number", "raw_his.patients.name",
            "raw_his.patients.mrn", "staging.stg_his__patients.mobile"} <= origins  # fmt: skip
    leaks = con.execute(
        """
        with long_values as (select distinct v from direct_values where length(v) >= ?),
        found as (
            select m.v as mart_value, d.v from mart_values m join direct_values d on m.v = d.v
            union
            select m.v, l.v from (select distinct v from mart_values) m join long_values l on contains(m.v, l.v)
        )
        select m.mart_column, d.origin, count(distinct m.v)
        from found f join mart_values m on m.v = f.mart_value join direct_values d on d.v = f.v
        group by all order by all
        """,
        [MIN_CONTAINED],
    ).fetchall()
    assert not leaks, f"direct identifier values in marts (mart column, identifier column, values): {leaks}"


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
