"""SQLAlchemy dialect `duckdb+p360`: duckdb-engine, with reflection read from DuckDB's own catalog.

Why it exists. duckdb-engine 0.17 reflects through SQLAlchemy's PostgreSQL dialect, i.e. through
DuckDB's *emulation* of `pg_catalog`. SQLAlchemy 2.1 added two things that emulation lacks:

- the column query now also reflects each column's collation, joining
  `pg_catalog.pg_collation.collnamespace`; DuckDB's `pg_collation` has only `oid` and `collname`,
  so binding fails (DuckDB words it `Referenced table "pg_catalog.pg_collation" not found!`);
- constraint and comment queries cast to `REGCLASS` (`classoid = 'pg_catalog.pg_constraint'::regclass`),
  a PostgreSQL type DuckDB 2.0 does not have (`Type with name REGCLASS does not exist!`).

Both are in the driver's SQL, not in the published file: no view or setting in the file can
add a column to a system table (DuckDB refuses to create entries in its system catalog), and
no URL option changes the queries. So this dialect keeps duckdb-engine for connecting and
executing and answers the Inspector's questions from `duckdb_columns()`, `duckdb_tables()`,
`duckdb_views()` and `duckdb_constraints()`, which carry exactly what BI reflection needs:
names, types, nullability, comments and keys.

A BI user connects with `duckdb+p360:////path/to/published/aggregate/marts.duckdb?access_mode=read_only`
(the package registers the name as a SQLAlchemy entry point; `register()` does it in-process).
Plain `duckdb:///` keeps working for queries; only its reflection is broken under SQLAlchemy 2.1.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from duckdb_engine import Dialect as DuckDBEngineDialect
from duckdb_engine import datatypes as duckdb_types
from sqlalchemy import text
from sqlalchemy.dialects import registry
from sqlalchemy.engine.reflection import ObjectKind, ObjectScope
from sqlalchemy.sql import sqltypes

DIALECT_NAME = "duckdb.p360"

# DuckDB type names (as duckdb_columns().data_type spells them) -> SQLAlchemy types whose DDL
# DuckDB reads back as the same type; DECIMAL(p,s) and arrays are handled in _sqla_type.
_TYPES: dict[str, Any] = {
    "BOOLEAN": sqltypes.BOOLEAN,
    "TINYINT": duckdb_types.TinyInteger,
    "SMALLINT": sqltypes.SMALLINT,
    "INTEGER": sqltypes.INTEGER,
    "BIGINT": sqltypes.BIGINT,
    "HUGEINT": duckdb_types.HugeInteger,
    "UTINYINT": duckdb_types.UTinyInteger,
    "USMALLINT": duckdb_types.USmallInteger,
    "UINTEGER": duckdb_types.UInteger,
    "UBIGINT": duckdb_types.UBigInteger,
    "UHUGEINT": duckdb_types.UHugeInteger,
    "FLOAT": sqltypes.REAL,
    "DOUBLE": sqltypes.DOUBLE_PRECISION,
    "VARCHAR": sqltypes.VARCHAR,
    "BLOB": sqltypes.LargeBinary,
    "DATE": sqltypes.DATE,
    "TIME": sqltypes.TIME,
    "TIMESTAMP": sqltypes.TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": lambda: sqltypes.TIMESTAMP(timezone=True),
    "INTERVAL": sqltypes.Interval,
    "UUID": sqltypes.UUID,
    "JSON": sqltypes.JSON,
}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def _sqla_type(data_type: str) -> sqltypes.TypeEngine[Any]:
    if data_type.endswith("[]"):
        return sqltypes.ARRAY(_sqla_type(data_type[:-2]))
    if m := _DECIMAL.fullmatch(data_type):
        return sqltypes.NUMERIC(int(m[1]), int(m[2]))
    factory = _TYPES.get(data_type)
    if factory is None:  # STRUCT, MAP, UNION, ENUM...: named, never guessed
        warnings.warn(f"duckdb+p360: no SQLAlchemy type for DuckDB type {data_type!r}", stacklevel=3)
        return sqltypes.NullType()
    return factory()


class DuckDBReflectionDialect(DuckDBEngineDialect):
    """duckdb-engine whose reflection (the Inspector's get_multi_* calls) reads DuckDB's catalog."""

    driver = "p360"
    supports_statement_cache = False

    def _scope(self, schema: str | None) -> tuple[str, dict[str, Any]]:
        """WHERE clause (and its parameters) for one schema: `schema`, `db.schema`, or the default."""
        if schema is None:
            return "database_name = current_database() and schema_name = current_schema()", {}
        database, name = self.identifier_preparer._separate(schema)
        if database is None:
            return "database_name = current_database() and schema_name = :schema", {"schema": name}
        return "database_name = :database and schema_name = :schema", {"database": database, "schema": name}

    def _relations(self, connection, schema, filter_names, scope, kind) -> dict[str, str | None]:
        """name -> comment of the tables/views asked for (SQLAlchemy's kind/scope/filter_names)."""
        where, params = self._scope(schema)
        temporary = {ObjectScope.DEFAULT: "not temporary", ObjectScope.TEMPORARY: "temporary"}.get(scope, "true")
        parts = []
        if ObjectKind.TABLE in kind:
            parts.append("select table_name as name, comment, temporary, database_name, schema_name "
                         "from duckdb_tables()")  # fmt: skip
        if ObjectKind.VIEW in kind:
            parts.append("select view_name, comment, temporary, database_name, schema_name from duckdb_views() "
                         "where not internal")  # fmt: skip
        if not parts:
            return {}
        sql = f"select name, comment from ({' union all '.join(parts)}) where {where} and {temporary}"
        if filter_names:
            sql += " and list_contains(:names, name)"
            params["names"] = list(filter_names)
        return dict(connection.execute(text(sql), params).fetchall())

    def get_multi_columns(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
        relations = self._relations(connection, schema, filter_names, scope, kind)
        where, params = self._scope(schema)
        out: dict[tuple[str | None, str], list[dict[str, Any]]] = {(schema, name): [] for name in relations}
        rows = connection.execute(
            text(
                "select table_name, column_name, data_type, is_nullable, column_default, comment from duckdb_columns() "
                f"where {where} order by table_name, column_index"
            ),
            params,
        ).fetchall()
        for table, column, data_type, nullable, default, comment in rows:
            if (schema, table) in out:
                out[(schema, table)].append(
                    {
                        "name": column,
                        "type": _sqla_type(data_type),
                        "nullable": nullable,
                        "default": default,
                        "autoincrement": False,
                        "comment": comment,
                    }
                )
        return out.items()

    def _constraints(self, connection, schema, filter_names, scope, kind, constraint_type: str):
        relations = self._relations(connection, schema, filter_names, scope, kind)
        where, params = self._scope(schema)
        params["type"] = constraint_type
        rows = connection.execute(
            text(
                "select table_name, constraint_name, constraint_column_names, constraint_text, "
                f"referenced_table, referenced_column_names from duckdb_constraints() where {where} "
                "and constraint_type = :type order by table_name, constraint_index"
            ),
            params,
        ).fetchall()
        found: dict[str, list[tuple]] = {name: [] for name in relations}
        for row in rows:
            if row[0] in found:
                found[row[0]].append(row[1:])
        return found

    def get_multi_pk_constraint(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
        found = self._constraints(connection, schema, filter_names, scope, kind, "PRIMARY KEY")
        pks = {t: rows[0] if rows else (None, []) for t, rows in found.items()}
        return [((schema, t), {"name": name, "constrained_columns": list(cols)}) for t, (name, cols, *_) in pks.items()]

    def get_multi_foreign_keys(self, connection, schema=None, filter_names=None, scope=None, kind=None,
                               postgresql_ignore_search_path=False, **kw):  # fmt: skip
        found = self._constraints(connection, schema, filter_names, scope, kind, "FOREIGN KEY")
        return [
            (
                (schema, t),
                [
                    {
                        "name": name,
                        "constrained_columns": list(cols),
                        "referred_schema": schema,
                        "referred_table": ref_table,
                        "referred_columns": list(ref_cols),
                        "options": {},
                    }
                    for name, cols, _, ref_table, ref_cols in rows
                ],
            )
            for t, rows in found.items()
        ]

    def get_multi_unique_constraints(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
        found = self._constraints(connection, schema, filter_names, scope, kind, "UNIQUE")
        return [((schema, t), [{"name": r[0], "column_names": list(r[1])} for r in rows]) for t, rows in found.items()]

    def get_multi_check_constraints(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
        found = self._constraints(connection, schema, filter_names, scope, kind, "CHECK")
        return [((schema, t), [{"name": r[0], "sqltext": r[2]} for r in rows]) for t, rows in found.items()]

    def get_multi_indexes(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
        # BI needs none (DuckDB's ART indexes only enforce keys); duckdb-engine warns on every call
        return [((schema, t), []) for t in self._relations(connection, schema, filter_names, scope, kind)]

    def get_indexes(self, connection, table_name, schema=None, **kw):
        return []

    def get_multi_table_comment(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
        relations = self._relations(connection, schema, filter_names, scope, kind)
        return [((schema, t), {"text": comment}) for t, comment in relations.items()]

    def get_multi_table_options(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):
        return [((schema, t), {}) for t in self._relations(connection, schema, filter_names, scope, kind)]


def register() -> None:
    """Make `duckdb+p360://` resolvable in this process (installs get it from the entry point)."""
    registry.register(DIALECT_NAME, __name__, DuckDBReflectionDialect.__name__)
