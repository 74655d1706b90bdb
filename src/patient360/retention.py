"""Data retention: how long each zone keeps personal data, and the purge that enforces it.

The periods are one dbt var, `purge_after_days` in dbt_project.yml (documented defaults in
docs/business_rules.md "Data retention"):

    raw            per source: raw_<source>.* rows whose export file's partition date is older
    quarantine     audit.quarantine rows quarantined longer ago
    quarantine_raw restricted.quarantine_raw rows past their own `purge_after` date (set at
                   landing, patient360.land.retention; P360_QUARANTINE_RETENTION_DAYS overrides)
    snapshots      segment snapshots (marts.seg_*, one per as_of_date) with an older as_of_date;
                   a table's newest snapshot always stays
    releases       superseded release versions (published/<tier>/parquet-<stamp>, never the
                   current one) older than this, deleted as whole folders

`patient360 purge [--dry-run]` (and the transform DAG's `purge` task after publishing) counts
what is past its period, deletes it in one transaction, and then rewrites the warehouse into a
fresh file (patient360.compaction): a DELETE alone leaves the values in the file's bytes.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from patient360.compaction import rewrite
from patient360.dbt_vars import dbt_var
from patient360.warehouse import connect, one

SNAPSHOT_PREFIX = "seg_"
SNAPSHOT_DATE = "as_of_date"


@dataclass(frozen=True)
class RetentionPolicy:
    raw: dict[str, int]
    quarantine: int
    snapshots: int
    releases: int

    @classmethod
    def from_project(cls) -> RetentionPolicy:
        v = dict(dbt_var("purge_after_days"))
        return cls(raw={s: int(d) for s, d in v["raw"].items()}, quarantine=int(v["quarantine"]),
                   snapshots=int(v["snapshots"]), releases=int(v["releases"]))  # fmt: skip


@dataclass
class PurgeReport:
    today: date
    dry_run: bool
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows past retention
    releases: list[Path] = field(default_factory=list)  # release version folders past retention
    rewritten: bool = False

    def render(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        total = sum(self.rows.values())
        lines = [f"purge as of {self.today}: {verb} {total:,} rows, {len(self.releases)} release versions"]
        lines += [f"  {t:<45} {n:>10,}" for t, n in sorted(self.rows.items()) if n]
        lines += [f"  release {p}" for p in self.releases]
        if self.rewritten:
            lines.append("  warehouse rewritten into a fresh file (deleted values gone from its bytes)")
        return "\n".join(lines)


def _tables(con: duckdb.DuckDBPyConnection, schema_like: str, column: str) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT DISTINCT t.schema_name, t.table_name FROM duckdb_tables() t JOIN duckdb_columns() c "
        "USING (database_name, schema_name, table_name) WHERE t.schema_name LIKE ? AND c.column_name = ? "
        "AND t.database_name = current_database() ORDER BY 1, 2",
        [schema_like, column],
    ).fetchall()


def _targets(con: duckdb.DuckDBPyConnection, policy: RetentionPolicy, today: date) -> dict[str, tuple[str, list]]:
    """table -> (WHERE clause, parameters) selecting its rows past retention."""
    out: dict[str, tuple[str, list]] = {}
    has_loads = bool(_tables(con, "audit", "partition_date"))
    for source, days in policy.raw.items():
        if not has_loads:
            break
        for schema, table in _tables(con, f"raw_{source}", "_load_id"):
            # the age of a raw row is its export file's partition date (its load time when it has none)
            where = ("EXISTS (SELECT 1 FROM audit.file_loads f WHERE f.load_id = r._load_id AND f.file_path = "
                     "r._file_path AND coalesce(f.partition_date, CAST(f.started_at AS DATE)) < ?)")  # fmt: skip
            out[f"{schema}.{table}"] = (where, [today - timedelta(days=days)])
    if _tables(con, "audit", "quarantined_at"):
        out["audit.quarantine"] = ("CAST(quarantined_at AS DATE) < ?", [today - timedelta(days=policy.quarantine)])
    if _tables(con, "restricted", "purge_after"):
        out["restricted.quarantine_raw"] = ("purge_after < ?", [today])
    for schema, table in _tables(con, "marts", SNAPSHOT_DATE):
        if table.startswith(SNAPSHOT_PREFIX):
            # the newest snapshot always stays: a current-state mart holds one as_of_date only
            newest = f"(SELECT max({SNAPSHOT_DATE}) FROM {schema}.{table})"
            out[f"{schema}.{table}"] = (f"{SNAPSHOT_DATE} < ? AND {SNAPSHOT_DATE} < {newest}",
                                        [today - timedelta(days=policy.snapshots)])  # fmt: skip
    return out


def _old_releases(published: Path, days: int) -> list[Path]:
    """Release version folders no `parquet` symlink points at, older than `days`."""
    cutoff = time.time() - days * 86400
    found = []
    for link in sorted(published.glob("*/parquet")):
        current = link.resolve() if link.is_symlink() else None
        for version in sorted(link.parent.glob("parquet-*")):
            if version.is_dir() and version.resolve() != current and version.stat().st_mtime < cutoff:
                found.append(version)
    return found


def _record_removed(con: duckdb.DuckDBPyConnection, table: str, where: str, params: list) -> None:
    """Count the raw rows about to go per landed file version in audit.rows_removed (the one ledger
    erasure and retention share), so the gate's landed-vs-raw reconciliation still adds up."""
    from patient360.erase import ROWS_REMOVED_DDL

    con.execute(ROWS_REMOVED_DDL)
    con.execute(
        f"INSERT INTO audit.rows_removed SELECT current_date, 'retention', '{table}', _file_path, _file_checksum, "
        f"count(*) FROM {table} r WHERE {where} GROUP BY ALL",
        params,
    )


def purge(warehouse: Path, published: Path | None = None, *, today: date | None = None, dry_run: bool = False,
          policy: RetentionPolicy | None = None) -> PurgeReport:  # fmt: skip
    """Delete everything past its retention period (see the module docstring) and make the bytes
    disappear; `dry_run` only counts. published: default <warehouse folder>/published."""
    warehouse = Path(warehouse)
    policy = policy or RetentionPolicy.from_project()
    report = PurgeReport(today=today or date.today(), dry_run=dry_run)
    con = connect(warehouse)
    try:
        con.execute("BEGIN TRANSACTION")
        for table, (where, params) in _targets(con, policy, report.today).items():
            report.rows[table] = one(con.execute(f"SELECT count(*) FROM {table} r WHERE {where}", params))[0]
            if report.rows[table] and not dry_run:
                if table.startswith("raw_"):  # the landing reconciliation subtracts what retention removed
                    _record_removed(con, table, where, params)
                con.execute(f"DELETE FROM {table} r WHERE {where}", params)
        con.execute("ROLLBACK" if dry_run else "COMMIT")
    finally:
        con.close()
    if any(report.rows.values()) and not dry_run:
        rewrite(warehouse)
        report.rewritten = True
    published = Path(published) if published else warehouse.parent / "published"
    report.releases = _old_releases(published, policy.releases) if published.is_dir() else []
    for version in [] if dry_run else report.releases:
        shutil.rmtree(version)
    return report
