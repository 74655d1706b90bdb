"""The metric row every gate check produces: counts and measures, never values.

DuckDB computes these; Great Expectations validates frames of them. A row names the
suite, table, column and check and carries one number (`observed`), so nothing a row
holds can leak a patient's data into results, Data Docs or logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from patient360.warehouse import one


@dataclass(frozen=True)
class Metric:
    suite: str
    table: str
    column: str
    check: str
    observed: float
    detail: str = ""


def q(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        one(
            con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ? "
                "AND table_catalog = current_database()",
                [schema, table],
            )
        )[0]
    )


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
