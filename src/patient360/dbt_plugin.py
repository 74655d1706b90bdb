"""dbt-duckdb plugin: registers `p360_pseudonym(varchar) -> varchar` on every connection.

DuckDB has no built-in HMAC. Computing it in a Python UDF keeps the secret out of
SQL text entirely: models call `p360_pseudonym(identifier)` and the key is read
from the environment here, at connection time.
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from patient360.pseudonym import load_key, pseudonymise


def register_pseudonym_udf(conn: DuckDBPyConnection, key: bytes) -> None:
    """Scalar UDF; NULL in gives NULL out without calling Python (DuckDB default)."""

    def _udf(value: str) -> str | None:
        return pseudonymise(value, key)

    conn.create_function("p360_pseudonym", _udf, ["VARCHAR"], "VARCHAR", side_effects=False)


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register_pseudonym_udf(conn, load_key())
