"""Stop-gap raw zone for the Spark target: copy a landed DuckDB warehouse's raw tables to Spark.

The real Spark landing writes raw Parquet tables itself; until it is wired in, this bridge
lets the dbt project build on Spark from exactly the rows DuckDB landed (which is also what
the cross-engine equality test needs). Every table of the schemas the dbt sources read
(`raw_*` and `audit`) is written by DuckDB as one Parquet file in a folder of its own and registered in the Spark
catalogue under the same schema and name, as an external table over that file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# the schemas dbt_project/models/staging/_sources.yml reads
SOURCE_SCHEMA_FILTER = "table_schema like 'raw\\_%' escape '\\' or table_schema = 'audit'"


def _quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def bridge_raw_from_duckdb(warehouse: Path, spark: SparkSession, parquet_dir: Path) -> list[str]:
    """Export every source table of `warehouse` to `parquet_dir/<schema>/<table>/` and
    (re)register it as `<schema>.<table>` in `spark`. Returns the qualified names bridged."""
    parquet_dir = Path(parquet_dir).resolve()
    bridged: list[str] = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_type = 'BASE TABLE' and ({SOURCE_SCHEMA_FILTER}) order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            folder = parquet_dir / schema / table
            folder.mkdir(parents=True, exist_ok=True)
            con.execute(f"copy {schema}.{table} to '{folder / 'part-0.parquet'}' (format parquet)")
            _register(spark, schema, table, folder)
            bridged.append(f"{schema}.{table}")
    return bridged


def _register(spark: SparkSession, schema: str, table: str, path: Path) -> None:
    spark.sql(f"create database if not exists {_quote(schema)}")
    spark.sql(f"drop table if exists {_quote(schema)}.{_quote(table)}")
    spark.sql(f"create table {_quote(schema)}.{_quote(table)} using parquet location '{path}'")
