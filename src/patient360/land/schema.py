"""DDL for the raw zone and the landing audit tables, plus the identifier macros.

Everything is `IF NOT EXISTS` / `OR REPLACE`, so `ensure_schema` runs at the start of
every landing. A contract that gains a column gets it added to the raw table
(`ALTER TABLE ... ADD COLUMN`); columns are never dropped by landing.
"""

from __future__ import annotations

import duckdb

from patient360 import identifiers
from patient360.contracts import Contract, all_contracts
from patient360.land import retention

# Load metadata appended to every raw table (see patient360.dbt_sources.LOAD_COLUMNS).
LOAD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_extra", "JSON"),
    ("_file_path", "VARCHAR NOT NULL"),
    ("_file_checksum", "VARCHAR NOT NULL"),
    ("_line_number", "BIGINT NOT NULL"),
    ("_load_id", "VARCHAR NOT NULL"),
    ("_loaded_at", "TIMESTAMP NOT NULL"),
    ("_local_date", "DATE"),  # local date (in the file's zone) of the contract's `local_date_of` column
)

AUDIT_DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.file_loads (
    load_id          VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    table_name       VARCHAR,
    file_path        VARCHAR NOT NULL,   -- relative to the exports folder
    partition_date   DATE,
    file_format      VARCHAR,            -- contract format, or the vendor format
    file_checksum    VARCHAR,            -- sha256 of the delivered bytes
    file_version     INTEGER,            -- 1, 2, ... per file_path (re-deliveries)
    encoding         VARCHAR,
    rows_read        BIGINT NOT NULL,
    rows_landed      BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    status           VARCHAR NOT NULL,
    error            VARCHAR,
    warning          VARCHAR,
    duplicate_of     VARCHAR,            -- for status duplicate_file: the file already landed
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP NOT NULL,
    CHECK (rows_read = rows_landed + rows_quarantined),
    CHECK (status IN ('landed', 'landed_with_quarantine', 'duplicate_file', 'empty', 'rejected', 'failed'))
);
CREATE TABLE IF NOT EXISTS audit.quarantine (
    load_id        VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,
    table_name     VARCHAR,
    file_path      VARCHAR NOT NULL,
    file_checksum  VARCHAR,
    line_number    BIGINT,               -- NULL for file-level findings (rule 'file:<kind>')
    raw_record     VARCHAR,
    rule           VARCHAR NOT NULL,
    detail         VARCHAR,
    quarantined_at TIMESTAMP NOT NULL
);
"""

# Restricted: vendor-export rows that are not readings (device info, alerts, calibrations).
# Patient names / birth dates in vendor metadata are never stored (see land/adapters/dexcom.py).
VENDOR_META_DDL = """
CREATE TABLE IF NOT EXISTS raw_wearable.vendor_file_meta (
    vendor VARCHAR NOT NULL, event_type VARCHAR, event_subtype VARCHAR, device_info VARCHAR,
    source_device_id VARCHAR, transmitter_id VARCHAR, event_at VARCHAR, payload JSON,
    _file_path VARCHAR NOT NULL, _file_checksum VARCHAR NOT NULL, _line_number BIGINT NOT NULL,
    _load_id VARCHAR NOT NULL, _loaded_at TIMESTAMP NOT NULL
);
COMMENT ON TABLE raw_wearable.vendor_file_meta IS
    'RESTRICTED: vendor export metadata rows (no names or birth dates; those are dropped at landing)';
"""


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def raw_table_ddl(contract: Contract) -> str:
    cols = [f"{q(c.name)} {c.type}" for c in contract.columns]
    cols += [f"{q(n)} {t}" for n, t in LOAD_COLUMNS]
    return (
        f"CREATE TABLE IF NOT EXISTS raw_{contract.source}.{q(contract.table)} (\n    " + ",\n    ".join(cols) + "\n)"
    )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or extend) every raw table, the audit tables and the identifier macros
    (`p360_ric_valid` is used by contract checks; see patient360.identifiers).

    DDL goes in as one script and existing columns come from one catalog query: this runs
    at the start of every landing, so it is kept to a few round trips.
    """
    contracts = all_contracts()
    ddl = [*identifiers.macro_sql(), AUDIT_DDL, retention.DDL]
    ddl += [f"CREATE SCHEMA IF NOT EXISTS {schema}" for schema in sorted({f"raw_{c.source}" for c in contracts})]
    ddl += [raw_table_ddl(c) for c in contracts]
    con.execute(";\n".join(d.strip().rstrip(";") for d in ddl))
    have = {
        (s, t, c): typ
        for s, t, c, typ in con.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name LIKE 'raw\\_%' ESCAPE '\\'"
        ).fetchall()
    }
    for contract in contracts:
        for name, typ in [(c.name, c.type) for c in contract.columns] + [(n, t) for n, t in LOAD_COLUMNS[-1:]]:
            old = have.get((f"raw_{contract.source}", contract.table, name))
            if old is None:
                con.execute(f"ALTER TABLE {contract.raw_table} ADD COLUMN {q(name)} {typ}")
            elif old == "TIMESTAMP" and typ.upper() == "TIMESTAMPTZ":
                # a warehouse landed before time zones: its local times were in the contract's zone
                con.execute(
                    f"ALTER TABLE {contract.raw_table} ALTER COLUMN {q(name)} SET DATA TYPE TIMESTAMPTZ "
                    f"USING timezone('{contract.time_zone}', {q(name)})"
                )
    con.execute(VENDOR_META_DDL)
