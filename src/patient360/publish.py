"""Publish validated marts for BI: a separate read-only DuckDB file and Parquet files.

BI tools never open the warehouse (one writer process: a reader would block the
pipeline, and the warehouse holds raw and restricted zones). After the gates pass,
the `marts` schema, and nothing else, is copied to

    <out>/marts.duckdb            tables in its default schema `main`
    <out>/parquet/<table>.parquet via a symlink to a versioned folder

Both are written under temporary names in the same folder and swapped in with an
atomic rename (os.replace), so a reader sees either the previous complete version or
the new one, never a half-built file. The DuckDB file is written with storage version
v1.0.0, readable by the DuckDB 1.x engines bundled with BI drivers (duckdb-engine,
Superset, Metabase's DuckDB driver); DuckDB 2.0's default storage would not be.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from patient360.warehouse import connect as warehouse_connect
from patient360.warehouse import one

log = logging.getLogger(__name__)

PUBLISHED_SCHEMA = "marts"
STORAGE_VERSION = "v1.0.0"
KEEP_PARQUET_VERSIONS = 2


class PublishError(RuntimeError):
    """Nothing to publish, or the warehouse is not in a publishable state."""


@dataclass
class PublishResult:
    duckdb_path: Path
    parquet_dir: Path
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def render(self) -> str:
        lines = [
            f"published {len(self.tables)} marts in {self.seconds:.1f} s to {self.duckdb_path} and {self.parquet_dir}/"
        ]
        lines += [f"  {name:<40} {rows:>12,}" for name, rows in sorted(self.tables.items())]
        return "\n".join(lines)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def publish_marts(warehouse: Path, out_dir: Path | None = None) -> PublishResult:
    started = time.perf_counter()
    warehouse = Path(warehouse)
    out_dir = Path(out_dir) if out_dir else warehouse.parent / "published"
    out_dir.mkdir(parents=True, exist_ok=True)
    final_db = out_dir / "marts.duckdb"
    tmp_db = out_dir / f".marts.duckdb.{os.getpid()}.tmp"
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 10**9:09d}-{os.getpid()}"
    version_dir = out_dir / f"parquet-{stamp}"
    tmp_db.unlink(missing_ok=True)

    # an in-memory session attaching the warehouse read-only and the new file read-write
    con = warehouse_connect()  # in-memory session under the pipeline's memory limit
    try:
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        con.execute("use wh")
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ? and table_type = 'BASE TABLE' "
                "order by table_name",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        ]
        if not tables:
            raise PublishError(f"{warehouse} has no tables in schema {PUBLISHED_SCHEMA!r}: run dbt build first")
        con.execute(f"attach '{tmp_db}' as pub (storage_version '{STORAGE_VERSION}')")
        version_dir.mkdir()
        result = PublishResult(duckdb_path=final_db, parquet_dir=out_dir / "parquet")
        for table in tables:
            source = f"{PUBLISHED_SCHEMA}.{_quote(table)}"
            con.execute(f"create table pub.main.{_quote(table)} as select * from {source}")
            con.execute(f"copy (select * from {source}) to '{version_dir / (table + '.parquet')}' (format parquet)")
            _copy_comments(con, table)
            result.tables[table] = one(con.execute(f"select count(*) from pub.main.{_quote(table)}"))[0]
        con.execute("detach pub")
    except Exception:
        tmp_db.unlink(missing_ok=True)
        shutil.rmtree(version_dir, ignore_errors=True)
        raise
    finally:
        con.close()

    os.replace(tmp_db, final_db)
    _swap_symlink(out_dir / "parquet", version_dir.name)
    _prune_parquet_versions(out_dir, keep=version_dir.name)
    result.seconds = time.perf_counter() - started
    log.info("published %d marts to %s", len(tables), final_db)
    return result


def _copy_comments(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Carry dbt's persisted docs (table and column comments) to the BI copy."""
    row = con.execute(
        "select comment from duckdb_tables() where schema_name = ? and table_name = ? and database_name = 'wh'",
        [PUBLISHED_SCHEMA, table],
    ).fetchone()
    if row and row[0]:
        con.execute(f"comment on table pub.main.{_quote(table)} is {_literal(row[0])}")
    for column, comment in con.execute(
        "select column_name, comment from duckdb_columns() where schema_name = ? and table_name = ? "
        "and database_name = 'wh' and comment is not null",
        [PUBLISHED_SCHEMA, table],
    ).fetchall():
        con.execute(f"comment on column pub.main.{_quote(table)}.{_quote(column)} is {_literal(comment)}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _swap_symlink(link: Path, target: str) -> None:
    """Point `link` at `target` atomically (rename a fresh symlink over the old one)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)  # an old real folder from a previous layout
    os.replace(tmp, link)


def _prune_parquet_versions(out_dir: Path, keep: str) -> None:
    versions = sorted(p for p in out_dir.glob("parquet-*") if p.is_dir())
    old = [p for p in versions if p.name != keep][: max(len(versions) - KEEP_PARQUET_VERSIONS, 0)]
    for path in old:  # readers that opened files there keep their handles on Linux
        shutil.rmtree(path, ignore_errors=True)
