"""The release candidate the gate judges: the very files that publishing swaps in.

Publishing writes the candidate (a DuckDB file with its table and column comments, and one
Parquet file per table with its key-value metadata) under temporary names, and the gate reads
those bytes, not the warehouse: what passes is exactly what is published. The gate opens an
in-memory workspace where schema `marts` holds views over the candidate's tables, and every
other schema of the warehouse (restricted dictionaries, raw zone, audit) is mirrored as views
over the warehouse attached read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from patient360.gates.metrics import Metric, q, sql_str
from patient360.gates.schema_allowlist import PUBLISHED_SCHEMA
from patient360.warehouse import connect, one

WAREHOUSE_ALIAS = "wh"
CANDIDATE_ALIAS = "cand"


@dataclass(frozen=True)
class Candidate:
    duckdb_path: Path  # tables in schema main, as BI sees them
    parquet_dir: Path  # <table>.parquet for every table

    def parquet(self, table: str) -> Path:
        return self.parquet_dir / f"{table}.parquet"


def open_workspace(warehouse: Path, candidate: Candidate | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory workspace mirroring the warehouse read-only, with `candidate` mounted as
    schema `marts` (none: mount one later with `mount`; publishing mounts each tier in turn)."""
    con = connect()
    try:
        con.execute(f"ATTACH {sql_str(str(warehouse))} AS {WAREHOUSE_ALIAS} (READ_ONLY)")
        con.execute(f"CREATE SCHEMA {PUBLISHED_SCHEMA}")
        mirrored = con.execute(  # tables, and views (the Spark target's catalogue: patient360.spark_release)
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ? "
            "AND table_schema <> ?",
            [WAREHOUSE_ALIAS, PUBLISHED_SCHEMA],
        ).fetchall()
        for schema, table in mirrored:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
            con.execute(f"CREATE VIEW {q(schema)}.{q(table)} AS SELECT * FROM {WAREHOUSE_ALIAS}.{q(schema)}.{q(table)}")
        if candidate is not None:
            mount(con, candidate)
    except Exception:
        con.close()
        raise
    return con


def mount(con: duckdb.DuckDBPyConnection, candidate: Candidate) -> None:
    """Attach the candidate's DuckDB file and expose its tables as views in schema `marts`."""
    con.execute(f"ATTACH {sql_str(str(candidate.duckdb_path))} AS {CANDIDATE_ALIAS} (READ_ONLY)")
    for (table,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'", [CANDIDATE_ALIAS]
    ).fetchall():
        con.execute(f"CREATE VIEW {PUBLISHED_SCHEMA}.{q(table)} AS SELECT * FROM {CANDIDATE_ALIAS}.main.{q(table)}")


def unmount(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the mounted candidate's views and detach its file (the workspace's mirror stays)."""
    con.execute("USE memory")  # a partial mount is undone too
    for (view,) in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE database_name = 'memory' AND schema_name = ?", [PUBLISHED_SCHEMA]
    ).fetchall():
        con.execute(f"DROP VIEW {PUBLISHED_SCHEMA}.{q(view)}")
    con.execute(f"DETACH DATABASE IF EXISTS {CANDIDATE_ALIAS}")


def parquet_metrics(con: duckdb.DuckDBPyConnection, candidate: Candidate, tables: list[str]) -> list[Metric]:
    """Rows that differ between each Parquet file and the gated DuckDB table (a missing file
    counts 1): the Parquet bytes are published too, so they must be the gated rows."""
    out = []
    for table in tables:
        path = candidate.parquet(table)
        if not path.is_file():
            out.append(Metric("schema_allowlist", table, "", "parquet_mismatch", 1, "Parquet file missing"))
            continue
        pq, db = f"read_parquet({sql_str(str(path))})", f"{PUBLISHED_SCHEMA}.{q(table)}"
        n_pq, n_db, extra = one(con.execute(
            f"SELECT (SELECT count(*) FROM {pq}), (SELECT count(*) FROM {db}), "
            f"(SELECT count(*) FROM (SELECT * FROM {pq} EXCEPT ALL SELECT * FROM {db}))"
        ))  # fmt: skip
        out.append(Metric("schema_allowlist", table, "", "parquet_mismatch", abs(n_pq - n_db) + extra,
                          "Parquet rows that are not the gated DuckDB rows"))  # fmt: skip
    return out
