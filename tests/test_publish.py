"""Publishing marts for BI: only marts, readable by DuckDB 1.x storage, swapped atomically,
queried the way a BI tool does (SQLAlchemy + duckdb-engine, read-only) while publishing; each
release tier (patient360.release_tiers) in its own folder.
Every publication passes the gate on its candidate (tests/test_release_gate.py covers the
refusals): the small warehouse here is one the gate accepts, with its own allow-list."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from helpers import TEST_KEY
from patient360.land.schema import ensure_schema
from patient360.pseudonym import pseudonymise
from patient360.publish import PublishError
from patient360.publish import publish_marts as _publish_marts

ALLOWLIST = """
k_anonymity: {table: patient_360, quasi_identifiers: [generation]}
tables:
  patient_360:
    key: [patient_key]
    columns:
      generation: {privacy: none}
      patient_key: {privacy: pseudonym}
  kpi_nps:
    columns:
      generation: {privacy: none}
      nps: {privacy: none}
"""


def publish_marts(warehouse: Path, out_dir: Path | None = None):
    allowlist = Path(warehouse).parent / "allowlist.yml"
    allowlist.write_text(ALLOWLIST, encoding="utf-8")
    return _publish_marts(warehouse, out_dir, allowlist=allowlist, data_docs_dir=Path(warehouse).parent / "gx")


def _warehouse(path: Path, generation: int = 1) -> Path:
    con = duckdb.connect(str(path))
    con.create_function("k", lambda v: pseudonymise(v, TEST_KEY.encode()), ["VARCHAR"], "VARCHAR")
    ensure_schema(con)  # raw zone and audit, as landing creates them
    con.execute("create schema if not exists marts; create schema if not exists restricted")
    con.execute(
        f"create or replace table marts.patient_360 as select {generation} as generation, k('id:' || i) as patient_key "
        "from range(5000) t(i)"
    )
    con.execute(f"create or replace table marts.kpi_nps as select {generation} as generation, 10.0 as nps")
    con.execute("comment on column marts.kpi_nps.nps is 'NPS: % promoters minus % detractors'")
    con.execute(
        "create or replace table restricted.identity_links as select 'his' as source, 'MRN' || i as source_record_id, "
        "k('id:' || i) as patient_key from range(5000) t(i)"
    )
    con.execute(  # the persons' keys (dbt's person_keys): publishing checks every key column against them
        "create or replace table restricted.person_keys as select i as person_id, k('id:' || i) as patient_key, "
        "k('patient360 key check') as key_check from range(5000) t(i)"
    )
    con.execute(
        "create or replace table restricted.person_identifiers as select patient_key, 'person_name' as "
        "identifier_type, '张三' as identifier_value from restricted.identity_links limit 1"
    )
    con.close()
    return path


def test_publishes_marts_only_with_counts_comments_and_parquet(tmp_path):
    release = publish_marts(_warehouse(tmp_path / "wh.duckdb"))
    assert release.tables == {"aggregate": {"kpi_nps": 1}, "person": {"patient_360": 5000}, "activation": {}}
    result = release.tiers["aggregate"]
    assert result.duckdb_path == tmp_path / "published" / "aggregate" / "marts.duckdb"
    con = duckdb.connect(str(result.duckdb_path), read_only=True)
    schemas = {s for (s,) in con.execute("select distinct table_schema from information_schema.tables").fetchall()}
    assert schemas == {"main"}  # no raw_*, restricted, staging or audit schema
    tags = con.execute("select tags from duckdb_databases() where database_name = current_database()").fetchone()[0]
    assert tags["storage_version"].startswith("v1.0.0")  # readable by DuckDB 1.x BI drivers
    assert con.execute("select comment from duckdb_columns() where column_name = 'nps'").fetchone()[0].startswith("NPS")
    con.close()
    person = release.tiers["person"].parquet_dir
    assert duckdb.sql(f"select count(*) from '{person}/patient_360.parquet'").fetchall() == [(5000,)]


def test_refuses_a_warehouse_without_marts(tmp_path):
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    with pytest.raises(PublishError, match="no tables in schema 'marts'"):
        publish_marts(tmp_path / "empty.duckdb")


def test_bi_reader_never_sees_a_half_built_or_mixed_publication(tmp_path):
    wh = _warehouse(tmp_path / "wh.duckdb")
    published = publish_marts(wh).tiers["person"].duckdb_path
    # NullPool: like a BI tool opening a connection per query; a pooled connection keeps the
    # file it opened (the previous publication) until it is recycled
    engine = sa.create_engine(f"duckdb:///{published}", connect_args={"read_only": True}, poolclass=sa.pool.NullPool)
    errors: list[Exception] = []
    seen: set[int] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                with engine.connect() as conn:
                    a = conn.execute(
                        sa.text("select min(generation), max(generation), count(*) from patient_360")
                    ).one()
                assert a[0] == a[1] and a[2] == 5000, a  # one consistent generation, whole table
                seen.add(a[0])
            except Exception as exc:  # collected and asserted below
                errors.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    for generation in range(2, 7):
        _warehouse(wh, generation)
        publish_marts(wh)
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=30)
    engine.dispose()
    assert not errors, errors
    assert len(seen) >= 2  # the reader saw publications change underneath it
