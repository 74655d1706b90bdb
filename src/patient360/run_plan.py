"""What a transformation run builds: its as-of date, and whether it is a backfill.

One rule for every way a run starts (`patient360 run`, the Airflow transform DAG triggered
by the landing Assets, by hand with or without `as_of_date`, a backfill):

- **as-of date** = the date asked for (CLI `--date`, DAG param `as_of_date`); otherwise the
  newest partition date landed from any of the four sources (`audit.file_loads`). A run never
  reads Airflow's logical date: asset-triggered and plain manual runs have none.
- **backfill** = the as-of date is older than the newest as-of date already built
  (`marts.patient_360.as_of_date`). A backfill rebuilds that date's segment snapshots and
  leaves the current view alone: models tagged `current` (patient_360, the KPI tables, the
  activation list) are excluded, so BI never sees the current view rewound.

docs/orchestration.md describes the same rule for Airflow users.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from patient360.errors import InputMissing
from patient360.warehouse import connect

# dbt selector of the models that show the newest state (see dbt_project.yml `+tags`).
CURRENT_TAG = "tag:current"
LANDED_STATUSES = ("landed", "landed_with_quarantine")


class NothingLanded(InputMissing):
    """No export partition has been landed yet: there is nothing to build."""


@dataclass(frozen=True)
class RunPlan:
    as_of: date
    backfill: bool
    newest_built: date | None
    reason: str  # how the as-of date was chosen, for logs

    def dbt_args(self) -> list[str]:
        """Extra `dbt build` arguments: a backfill leaves the current view untouched."""
        return ["--exclude", CURRENT_TAG] if self.backfill else []

    def as_xcom(self) -> dict[str, str | bool]:
        return {"as_of_date": self.as_of.isoformat(), "backfill": self.backfill, "reason": self.reason}

    def describe(self) -> str:
        kind = f"backfill (newest built {self.newest_built})" if self.backfill else "current"
        return f"as of {self.as_of} ({self.reason}); {kind}"


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    from patient360.warehouse import relation_exists

    return relation_exists(con, schema, table)


def newest_landed_partition(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest partition date with a landed file, over the four sources."""
    if not _table_exists(con, "audit", "file_loads"):
        return None
    row = con.execute(f"SELECT max(partition_date) FROM audit.file_loads WHERE status IN {LANDED_STATUSES}").fetchone()
    return row[0] if row else None


def newest_built_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The as-of date of the current view (None before the first build)."""
    if not _table_exists(con, "marts", "patient_360"):
        return None
    row = con.execute("SELECT max(as_of_date) FROM marts.patient_360").fetchone()
    return row[0] if row else None


def plan_run(warehouse: Path, requested: date | None = None) -> RunPlan:
    """The plan for a run on `warehouse` (opened read-only and closed again)."""
    if not Path(warehouse).exists():
        raise NothingLanded(f"warehouse {warehouse} does not exist: land the exports first (patient360 land)")
    con = connect(warehouse, read_only=True)
    try:
        landed = newest_landed_partition(con)
        built = newest_built_as_of(con)
    finally:
        con.close()
    if landed is None:
        raise NothingLanded(f"no export partition has been landed into {warehouse}: land the exports first")
    as_of, reason = (requested, "requested") if requested else (landed, "newest landed partition")
    return RunPlan(as_of=as_of, backfill=built is not None and as_of < built, newest_built=built, reason=reason)
