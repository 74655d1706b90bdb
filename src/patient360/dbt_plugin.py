"""dbt-duckdb plugin: prepares every dbt connection with the project's SQL functions.

- the identifier macros (`p360_ric_valid`, `p360_normalise_id_number`, `p360_normalise_mobile`,
  ...; patient360.identifiers), which the dbt macros in normalise.sql call. They are created
  PERSISTENT in the warehouse: staging models are views, and a view is bound again by every
  connection that reads it (gates, GX, the duckdb CLI), so the macros must outlive this one.
  Re-created on every dbt run, the warehouse always holds the current rule.
- `p360_pseudonym(varchar) -> varchar`. DuckDB has no built-in HMAC. Computing it in a
  Python UDF keeps the secret out of SQL text entirely: models call
  `p360_pseudonym(identifier)` and the key is read from the environment here, at
  connection time.
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from patient360.identifiers import install_macros
from patient360.pseudonym import load_key, pseudonymise


def register_pseudonym_udf(conn: DuckDBPyConnection, key: bytes) -> None:
    """Scalar UDF; NULL in gives NULL out without calling Python (DuckDB default)."""

    def _udf(value: str) -> str | None:
        return pseudonymise(value, key)

    conn.create_function("p360_pseudonym", _udf, ["VARCHAR"], "VARCHAR", side_effects=False)


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        install_macros(conn)
        register_pseudonym_udf(conn, load_key())
