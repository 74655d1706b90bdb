"""BI clients on a real published release, with the project's pinned versions: SQLAlchemy
reflection (the `duckdb+p360` dialect), `pandas.read_parquet`, and dbt's docs as each Parquet
column's description; the release gate reads those descriptions too."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from bi_release import published_duckdb_files, published_parquet_files, published_release  # noqa: F401 (fixture)
from patient360.duckdb_reflection import DIALECT_NAME, DuckDBReflectionDialect, register

pytestmark = pytest.mark.slow


def _catalog(path: Path) -> dict[str, list[tuple[str, str, str | None]]]:
    """table -> [(column, DuckDB type, comment)] from DuckDB's own catalog, in column order."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT c.table_name, c.column_name, c.data_type, d.comment FROM information_schema.columns c "
            "JOIN duckdb_columns() d ON d.database_name = c.table_catalog AND d.schema_name = c.table_schema "
            "AND d.table_name = c.table_name AND d.column_name = c.column_name "
            "WHERE c.table_catalog = current_database() AND c.table_schema = 'main' "
            "ORDER BY c.table_name, c.ordinal_position"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, str, str | None]]] = {}
    for table, column, dtype, comment in rows:
        out.setdefault(table, []).append((column, dtype, comment))
    return out


def _duckdb_type_of(con: duckdb.DuckDBPyConnection, sql_type: str) -> str:
    """What DuckDB makes of a type as SQLAlchemy renders it in DDL (the round trip a BI tool relies on)."""
    return con.execute(f"SELECT typeof(CAST(NULL AS {sql_type}))").fetchall()[0][0]


def test_reflection_matches_duckdbs_catalog_for_every_published_table(release: Path) -> None:
    register()
    scratch = duckdb.connect()  # its own connection: the module's default one is shared by every test
    for path in published_duckdb_files(release):
        catalog = _catalog(path)
        engine = sa.create_engine(f"duckdb+p360:///{path}?access_mode=read_only")
        try:
            inspector = sa.inspect(engine)
            assert sorted(inspector.get_table_names()) == sorted(catalog)
            metadata = sa.MetaData()
            for table, expected in catalog.items():
                columns = inspector.get_columns(table)
                assert [c["name"] for c in columns] == [name for name, _, _ in expected], table
                rendered = [_duckdb_type_of(scratch, c["type"].compile(dialect=engine.dialect)) for c in columns]
                assert rendered == [dtype for _, dtype, _ in expected], table
                assert [c["comment"] for c in columns] == [doc for _, _, doc in expected], table
                autoloaded = sa.Table(table, metadata, autoload_with=engine)
                assert [c.name for c in autoloaded.columns] == [name for name, _, _ in expected], table
            with engine.connect() as con:  # and the reflected table is queryable as reflected
                first = sa.Table(next(iter(catalog)), metadata)
                con.execute(sa.select(sa.func.count()).select_from(first)).scalar_one()
        finally:
            engine.dispose()


def test_the_dialect_is_declared_as_an_entry_point() -> None:
    """An installed package makes `duckdb+p360://` resolvable without any import in the BI tool."""
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    target = project["project"]["entry-points"]["sqlalchemy.dialects"][DIALECT_NAME]
    module, _, name = target.partition(":")
    assert getattr(__import__(module, fromlist=[name]), name) is DuckDBReflectionDialect


def test_pandas_reads_every_published_parquet_file(release: Path) -> None:
    catalogs = {table: cols for path in published_duckdb_files(release) for table, cols in _catalog(path).items()}
    for path in published_parquet_files(release):
        frame = pd.read_parquet(path)
        assert list(frame.columns) == [name for name, _, _ in catalogs[path.stem]], path
        with duckdb.connect() as con:
            assert len(frame) == con.execute(f"SELECT count(*) FROM '{path}'").fetchall()[0][0], path


def test_each_parquet_column_carries_its_dbt_description(release: Path) -> None:
    for duckdb_path in published_duckdb_files(release):
        con = duckdb.connect(str(duckdb_path), read_only=True)
        table_docs = dict(con.execute("SELECT table_name, comment FROM duckdb_tables()").fetchall())
        con.close()
        for table, columns in _catalog(duckdb_path).items():
            schema = pq.read_schema(duckdb_path.parent / "parquet" / f"{table}.parquet")
            for name, _, doc in columns:
                assert doc, f"{table}.{name} has no dbt description"
                assert (schema.field(name).metadata or {}).get(b"description", b"").decode() == doc, f"{table}.{name}"
            assert schema.metadata[b"description"].decode() == table_docs[table], table
            assert b"p360_key_id" in schema.metadata  # what publishing already wrote is kept


def test_gate_scans_parquet_field_descriptions(built_warehouse: Path, tmp_path: Path) -> None:
    """A mobile number hidden in one column's Parquet description (and nowhere else) fails the gate."""
    from patient360.gates import Candidate, collect_metrics
    from patient360.gates.gx_runner import load_suites, validate
    from patient360.gates.schema_allowlist import ALLOWLIST_PATH
    from patient360.parquet_metadata import describe_parquet_files
    from patient360.publish import PublishResult, _build_candidates, _Staged

    warehouse = tmp_path / "wh.duckdb"
    shutil.copy(built_warehouse, warehouse)
    cand = Candidate(tmp_path / "cand.duckdb", tmp_path / "pq")
    staged = _Staged("aggregate", cand, PublishResult(tmp_path / "x", tmp_path / "y", key_id="k", tier="aggregate"))
    _build_candidates(warehouse, [staged], 5)
    con = duckdb.connect(str(cand.duckdb_path))
    con.execute("COMMENT ON COLUMN dim_channel.channel IS 'ask 13812345678'")
    con.close()
    describe_parquet_files(cand.duckdb_path, cand.parquet_dir)  # the Parquet file now says it
    con = duckdb.connect(str(cand.duckdb_path))
    con.execute("COMMENT ON COLUMN dim_channel.channel IS 'Channel'")  # and the DuckDB comment no longer does
    con.close()
    metrics = collect_metrics(warehouse, k=5, allowlist=ALLOWLIST_PATH, gx_dir=tmp_path / "gx", as_of=None,
                              candidate=cand)  # fmt: skip
    found = {(f.table, f.column, f.check) for f in validate(metrics, load_suites()).failures if f.severity == "block"}
    assert ("dim_channel", "(parquet field metadata)", "mobile") in found, found
    assert not {f for f in found if f[1] == "(comments)"}
