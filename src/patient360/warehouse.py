"""Opening the DuckDB warehouse the same way everywhere: with a memory ceiling.

DuckDB sizes its buffer pool at 80% of the machine's RAM unless told otherwise; on a
shared 24 GiB machine a 1M-patient build then peaks near 20 GiB. Every connection the
pipeline opens (landing, dbt through profiles.yml, gates, publishing) gets the same
`memory_limit`, P360_DUCKDB_MEMORY_LIMIT (default 5GB); DuckDB spills joins, sorts and
aggregates beyond it to a temporary folder next to the warehouse instead of failing.

P360_DUCKDB_FORCE_COMPRESSION (unset in production) sets DuckDB's `force_compression`, e.g.
`uncompressed`: tests that prove by a byte scan that deleted values are gone need values
stored as plain bytes (compressed strings are not visible to a scan, present or not).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb

MEMORY_LIMIT_ENV = "P360_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "5GB"
FORCE_COMPRESSION_ENV = "P360_DUCKDB_FORCE_COMPRESSION"


def memory_limit() -> str:
    return os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)


def connect(path: Path | str | None = None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (in-memory when `path` is None) under the pipeline's memory limit."""
    config: dict[str, Any] = {"memory_limit": memory_limit()}
    if os.environ.get(FORCE_COMPRESSION_ENV):
        config["force_compression"] = os.environ[FORCE_COMPRESSION_ENV]
    if path is None:
        return duckdb.connect(config=config)
    return duckdb.connect(str(path), read_only=read_only, config=config)


def relation_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str, catalog: str = "") -> bool:
    """Whether `schema.table` exists as a table or a view (the Spark target's catalogue holds views
    over Parquet: patient360.spark_release) in `catalog` (default: the current database)."""
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ? "
        "AND table_catalog = coalesce(nullif(?, ''), current_database())",
        [schema, table, catalog],
    ).fetchone()
    return bool(row and row[0])


def one(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The row a query that always returns one (an aggregate, a count) returned.

    DuckDB types `fetchone()` as optional; a missing row here is a bug, so it raises."""
    row = cursor.fetchone()
    if row is None:
        raise LookupError("expected one row, the query returned none")
    return row
