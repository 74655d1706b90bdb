"""Key rotation: every patient_key changes consistently across warehouse and tiers, joins still
work, the old key is refused; every publish, the rotation and an activation export are on the
release register; a release never mixes keys."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import duckdb
import pytest

from helpers import TEST_KEY
from patient360.key_rotation import KeyRotationError, check_release_keys, key_check, rotate
from patient360.pseudonym import key_id, pseudonymise

NEW_KEY = secrets.token_hex(32)


def _read(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _keys(db: Path, table: str) -> set[str]:
    return {k for (k,) in _read(db, f'SELECT patient_key FROM "{table}" WHERE patient_key IS NOT NULL')}


@pytest.fixture(scope="module")
def rotated(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the built warehouse published under the test key, then rotated to NEW_KEY."""
    from patient360.pipeline import stage_publish

    root = tmp_path_factory.mktemp("rotation")
    wh = root / "patient360.duckdb"
    shutil.copy(built_warehouse, wh)
    con = duckdb.connect(str(wh))  # other tests publish the shared build too: count only this test's releases
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    con.execute("DROP TABLE IF EXISTS audit.release_register")
    con.close()
    published = root / "published"
    stage_publish(wh, published, recipient="analyst:alice")
    person = published / "person" / "marts.duckdb"
    before = {
        "patient_360": _keys(person, "patient_360"),
        "activation": _keys(published / "activation" / "marts.duckdb", "seg_marketing_activation"),
        "visits": _read(person, "SELECT count(*) FROM fct_visits v JOIN patient_360 p USING (patient_key)")[0][0],
    }
    key_file = root / "new.key"
    key_file.write_text(NEW_KEY + "\n", encoding="utf-8")
    rotation = rotate(wh, key_file, published)
    return {"wh": wh, "published": published, "before": before, "rotation": rotation, "key_file": key_file}


def test_every_key_is_recomputed_under_the_new_key(rotated: dict) -> None:
    wh, new = rotated["wh"], NEW_KEY.encode()
    rows = _read(wh, "SELECT person_id, patient_key, key_check FROM restricted.person_keys")
    assert rows and all(k == pseudonymise(f"person_id:{p}", new) and c == key_check(new) for p, k, c in rows)
    assert rotated["rotation"].old_key_id == key_id(TEST_KEY.encode())
    assert rotated["rotation"].new_key_id == key_id(new)


def test_tiers_change_consistently_and_joins_still_work(rotated: dict) -> None:
    wh, published, before = rotated["wh"], rotated["published"], rotated["before"]
    person = published / "person" / "marts.duckdb"
    current = {k for (k,) in _read(wh, "SELECT patient_key FROM restricted.person_keys")}
    mapping = dict(_read(wh, "SELECT old_patient_key, new_patient_key FROM restricted.key_rotation_map"))
    after = _keys(person, "patient_360")
    assert after and after <= current and not after & before["patient_360"]
    assert {mapping[k] for k in before["patient_360"]} == after  # the same people, each under its new key
    activation = _keys(published / "activation" / "marts.duckdb", "seg_marketing_activation")
    assert {mapping[k] for k in before["activation"]} == activation
    assert activation <= after  # the activation list still joins to the person tier
    joined = _read(person, "SELECT count(*) FROM fct_visits v JOIN patient_360 p USING (patient_key)")[0][0]
    assert joined == before["visits"] > 0
    for path in published.glob("*/marts.duckdb"):  # every tier's every key column is under the new key
        for (table,) in _read(path, "SELECT table_name FROM duckdb_tables()"):
            cols = [c for (c,) in _read(path, "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                                        "AND column_name LIKE '%patient_key'", [table])]  # fmt: skip
            for col in cols:
                sql = f'SELECT DISTINCT "{col}" FROM "{table}" WHERE "{col}" IS NOT NULL'
                values = {v for (v,) in _read(path, sql)}
                assert values <= current, (path, table, col)
    versions = [p.name for p in (published / "person").glob("parquet-*")]
    assert versions == [(published / "person" / "parquet").resolve().name]  # releases under the old key: gone


def test_the_old_key_is_retired_and_refused(rotated: dict, tmp_path: Path) -> None:
    from patient360.publish import publish_marts

    wh = rotated["wh"]
    assert _read(wh, "SELECT key_id, successor_key_id FROM audit.pseudonym_keys WHERE status = 'retired'") == [
        (key_id(TEST_KEY.encode()), key_id(NEW_KEY.encode()))
    ]
    with pytest.raises(KeyRotationError, match="retired"):  # the session's key is the old one
        publish_marts(wh, tmp_path / "published")
    assert not (tmp_path / "published" / "person" / "marts.duckdb").exists()


def test_register_records_publishes_rotation_and_export(rotated: dict, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from patient360.release_register import export_activation, read

    monkeypatch.setenv("P360_PSEUDONYM_KEY", NEW_KEY)
    wh, published = rotated["wh"], rotated["published"]
    entry = export_activation(wh, published, tmp_path / "list.csv", "crm:wechat-campaigns")
    rows = read(wh)
    publishes = [r for r in rows if r["kind"] == "publish"]
    assert sorted(r["tier"] for r in publishes) == sorted(["aggregate", "person", "activation"] * 2)
    assert {r["recipient"] for r in publishes if r["key_id"] == key_id(TEST_KEY.encode())} == {"analyst:alice"}
    assert {r["recipient"] for r in publishes if r["key_id"] == key_id(NEW_KEY.encode())} == {
        "bi:aggregate", "bi:person", "bi:activation"}  # fmt: skip
    assert all(r["gate_verdict"] == "passed" and r["as_of_date"] and r["checksums"] != "{}" for r in publishes)
    assert [r["kind"] for r in rows].count("key_rotation") == 1
    (export,) = [r for r in rows if r["kind"] == "export"]
    assert export["recipient"] == "crm:wechat-campaigns" and export["target"] == str((tmp_path / "list.csv").resolve())
    assert entry.checksums["list.csv"] in export["checksums"]
    evidence = (published / "person" / "evidence.html").read_text(encoding="utf-8")
    assert "Release register" in evidence and "analyst:alice" in evidence and "bi:person" in evidence


def test_a_release_mixing_keys_is_refused() -> None:
    key, other = TEST_KEY.encode(), NEW_KEY.encode()
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS wh; ATTACH ':memory:' AS rel; CREATE SCHEMA wh.restricted")
    con.execute("CREATE TABLE wh.restricted.person_keys (person_id BIGINT, patient_key VARCHAR, key_check VARCHAR)")
    con.executemany("INSERT INTO wh.restricted.person_keys VALUES (?, ?, ?)",
                    [(i, pseudonymise(f"person_id:{i}", key), key_check(key)) for i in range(3)])  # fmt: skip
    con.execute("CREATE TABLE rel.main.t (patient_key VARCHAR, surviving_patient_key VARCHAR)")
    con.execute("INSERT INTO rel.main.t VALUES (?, ?)", [pseudonymise("person_id:0", key), None])
    check_release_keys(con, "wh", "rel", ["t"], key)  # one key throughout: accepted
    con.execute("INSERT INTO rel.main.t VALUES (?, ?)", [None, pseudonymise("person_id:1", other)])
    with pytest.raises(KeyRotationError, match="t.surviving_patient_key: 1 value"):
        check_release_keys(con, "wh", "rel", ["t"], key)
