"""Gates and releases on the Spark target, through the same code as on DuckDB.

The Spark target keeps every table as Parquet under its warehouse folder: the raw zone
(`raw/<source>/<table>/`, landed by land.parquet_sink), the landing's audit records
(`audit/<table>/`) and the tables dbt builds (`tables/<schema>.db/<table>/`). DuckDB reads
Parquet where it lies, so a small *catalogue* file beside them (`catalogue.duckdb`) declares
one view per table - no data is copied - and the gates and `publish` run on it unchanged:
every blocking check scans the full tables (no sampling), the release candidate of each tier
is written from them, and the tables the gate and the release register write
(audit.release_register, the key registry) are ordinary tables of the catalogue.

On a cluster the same views can point at object storage (`s3://...`, `abfss://...`) with
DuckDB's httpfs extension, or the gates can run where the files are (docs/scale.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

CATALOGUE = "catalogue.duckdb"
ZONES = ("raw", "audit", "restricted")  # folders written by the Parquet landing: <zone>/<...>/<table>
DBT_TABLES = "tables"  # spark.sql.warehouse.dir of patient360.spark_engine: <schema>.db/<table>


def parquet_tables(folder: Path) -> list[tuple[str, str, Path]]:
    """(schema, table, folder) of every Parquet table of a Spark warehouse folder that holds data."""
    folder = Path(folder)
    found: list[tuple[str, str, Path]] = []
    for schema_dir in sorted((folder / DBT_TABLES).glob("*.db")):
        found += [(schema_dir.name.removesuffix(".db"), t.name, t) for t in sorted(schema_dir.iterdir()) if t.is_dir()]
    for source_dir in sorted((folder / "raw").glob("*")):
        found += [(f"raw_{source_dir.name}", t.name, t) for t in sorted(source_dir.iterdir()) if t.is_dir()]
    for zone in ZONES[1:]:
        found += [(zone, t.name, t) for t in sorted((folder / zone).glob("*")) if t.is_dir() and t.name != "tmp"]
    return [(s, t, d) for s, t, d in found if next(d.rglob("*.parquet"), None) is not None]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def build_catalogue(folder: Path) -> Path:
    """(Re)declare the catalogue's views over the folder's Parquet tables; returns its path.
    Views dbt's later runs no longer write are dropped; tables of the catalogue are kept."""
    folder = Path(folder).resolve()
    path = folder / CATALOGUE
    con = duckdb.connect(str(path))
    try:
        stale = con.execute("select schema_name, view_name from duckdb_views() where not internal").fetchall()
        for schema, view in stale:
            con.execute(f'drop view "{schema}"."{view}"')
        tables = parquet_tables(folder)
        for schema, table, where in tables:
            files = _literal((where / "**" / "*.parquet").as_posix())
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(
                f'create view "{schema}"."{table}" as select * from '
                f"read_parquet({files}, hive_partitioning = true, union_by_name = true)"
            )
        con.execute("checkpoint")
    finally:
        con.close()
    log.info("catalogue of %d Spark Parquet tables: %s", len(tables), path)
    return path
