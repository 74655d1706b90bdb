"""Register the raw Parquet zone (land.parquet_sink) as Spark tables where the dbt sources look.

    register_raw_tables(spark, warehouse_folder)  # after each landing, before dbt

Every table of dbt_project/models/staging/_sources.yml (schemas raw_<source> and audit),
plus the zone's other tables (audit.quarantine, raw_wearable.vendor_file_meta), becomes an
external Parquet table over its folder:

    CREATE TABLE raw_his.patients (<columns>, export_date DATE) USING parquet
        PARTITIONED BY (export_date) LOCATION '<wh>/raw/his/patients'

Columns and types come from the DuckDB schema of the same tables (land.schema.ensure_schema
on an in-memory database), so both engines read one contract: TIMESTAMPTZ -> TIMESTAMP,
TIMESTAMP -> TIMESTAMP_NTZ, JSON and VARCHAR -> STRING. The tables are dropped and created
again each time (external: dropping one never deletes its files), so a contract that gained a
column is picked up; `MSCK REPAIR TABLE` then finds the partitions landed since. Spark is the
caller's session: the landing itself never starts Spark.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from patient360.land.parquet_sink import PARTITION
from patient360.land.schema import ensure_schema
from patient360.paths import DBT_PROJECT_DIR
from patient360.warehouse import connect

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SOURCES_YML = DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml"
ZONE_EXTRAS = (("audit", "quarantine"), ("raw_wearable", "vendor_file_meta"))
SPARK_TYPES = {
    "VARCHAR": "STRING",
    "JSON": "STRING",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "DOUBLE": "DOUBLE",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "TIMESTAMP": "TIMESTAMP_NTZ",
}


def source_tables(sources_yml: Path = SOURCES_YML) -> list[tuple[str, str]]:
    """(schema, table) of every dbt source table, then the zone's other tables."""
    doc = yaml.safe_load(sources_yml.read_text(encoding="utf-8"))
    found = [(s.get("schema", s["name"]), t["name"]) for s in doc["sources"] for t in s.get("tables", [])]
    return found + [x for x in ZONE_EXTRAS if x not in found]


def location(warehouse: Path, schema: str, table: str) -> Path:
    """The folder land.parquet_sink writes `schema.table` to."""
    if schema.startswith("raw_"):
        return Path(warehouse) / "raw" / schema.removeprefix("raw_") / table
    return Path(warehouse) / schema / table


def spark_columns() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, table) -> [(column, Spark type)] from the DuckDB landing schema."""
    con = connect()
    try:
        ensure_schema(con)
        rows = con.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name LIKE 'raw\\_%' ESCAPE '\\' OR schema_name IN ('audit', 'restricted') "
            "ORDER BY schema_name, table_name, column_index"
        ).fetchall()
    finally:
        con.close()
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, duck_type in rows:
        out.setdefault((schema, table), []).append((column, _spark_type(duck_type)))
    return out


def _spark_type(duck_type: str) -> str:
    if duck_type.startswith("DECIMAL"):
        return duck_type
    if duck_type not in SPARK_TYPES:
        raise ValueError(f"no Spark type for DuckDB type {duck_type}: add it to SPARK_TYPES")
    return SPARK_TYPES[duck_type]


def create_statements(warehouse: Path, tables: list[tuple[str, str]] | None = None) -> list[str]:
    """The Spark SQL that registers the zone (also what a cluster's init script would run)."""
    columns = spark_columns()
    statements: list[str] = []
    for schema, table in tables or source_tables():
        cols = ", ".join(f"`{c}` {t}" for c, t in columns[(schema, table)])
        where = location(warehouse, schema, table).resolve().as_posix().replace("'", "\\'")
        statements += [
            f"CREATE SCHEMA IF NOT EXISTS {schema}",
            f"DROP TABLE IF EXISTS {schema}.{table}",
            f"CREATE TABLE {schema}.{table} ({cols}, `{PARTITION}` DATE) USING parquet "
            f"PARTITIONED BY (`{PARTITION}`) LOCATION '{where}'",
            f"MSCK REPAIR TABLE {schema}.{table}",
        ]
    return statements


def register_raw_tables(spark: SparkSession, warehouse: Path) -> list[str]:
    """Run create_statements in `spark`; returns the tables registered (schema.table)."""
    tables = source_tables()
    for schema, table in tables:
        location(warehouse, schema, table).mkdir(parents=True, exist_ok=True)
    for statement in create_statements(warehouse, tables):
        spark.sql(statement)
    return [f"{s}.{t}" for s, t in tables]
