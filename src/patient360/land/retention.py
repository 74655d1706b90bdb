"""Retention of quarantined raw text that may hold direct identifiers.

Quarantined rows of a table with a `direct` column (HIS patients, CRM contacts, device
readings, ...) keep their raw text only in `restricted.quarantine_raw`, never in
`audit.quarantine` (whose `raw_record` is NULL for them). Each row carries `purge_after`:
the quarantine date plus P360_QUARANTINE_RETENTION_DAYS (default: dbt var
`purge_after_days.quarantine_raw`, 30), long enough to correct and re-deliver the file. Every
retention period lives in that one var (patient360.retention); `patient360 purge` deletes
this table's rows past `purge_after` together with everything else past retention, and

    patient360 purge-quarantine --warehouse warehouse/patient360.duckdb   [--all]

purges only this table (`--all`: everything). The audit rows (rule, detail, line number) stay
until their own period (`purge_after_days.quarantine`).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from patient360.dbt_vars import dbt_var
from patient360.errors import ConfigError
from patient360.warehouse import connect, one

RETENTION_ENV = "P360_QUARANTINE_RETENTION_DAYS"

DDL = """
CREATE SCHEMA IF NOT EXISTS restricted;
CREATE TABLE IF NOT EXISTS restricted.quarantine_raw (
    load_id        VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,
    table_name     VARCHAR,
    file_path      VARCHAR NOT NULL,
    line_number    BIGINT,
    raw_record     VARCHAR,
    quarantined_at TIMESTAMP NOT NULL,
    purge_after    DATE NOT NULL
);
COMMENT ON TABLE restricted.quarantine_raw IS
    'RESTRICTED: raw text of quarantined rows of tables with direct identifiers; purged after purge_after'
"""


def retention_days() -> int:
    raw = os.environ.get(RETENTION_ENV, str(dbt_var("purge_after_days")["quarantine_raw"]))
    if not raw.isdigit():
        raise ConfigError(f"{RETENTION_ENV} must be a whole number of days, got {raw!r}")
    return int(raw)


def purge_after_sql(quarantined_at_sql: str) -> str:
    return f"CAST({quarantined_at_sql} AS DATE) + {retention_days()}"


def purge(warehouse: Path, today: date | None = None, everything: bool = False) -> int:
    """Delete restricted raw text past its purge date (or all of it); returns rows deleted."""
    con = connect(warehouse)
    try:
        con.execute(DDL)
        cond = "TRUE" if everything else "purge_after < ?"
        params = [] if everything else [today or date.today()]
        return one(con.execute(f"DELETE FROM restricted.quarantine_raw WHERE {cond}", params))[0]
    finally:
        con.close()
