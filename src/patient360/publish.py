"""Publish gated marts for BI: a separate read-only DuckDB file and Parquet files.

BI tools never open the warehouse (one writer process: a reader would block the
pipeline, and the warehouse holds raw and restricted zones). A release is one gated
object: the `marts` schema, and nothing else, is copied from one consistent snapshot
(one read-only transaction) into a candidate,

    <out>/.marts.duckdb.<pid>.tmp     tables in its default schema `main`, with dbt's comments
    <out>/parquet-<stamp>/<t>.parquet with key-value metadata naming the key id

every gate runs on those files (`run_gates(candidate=...)`: the bytes to be published,
comments and Parquet metadata included), and only if no blocking check fails are they
swapped in as

    <out>/marts.duckdb            tables in its default schema `main`
    <out>/parquet/<table>.parquet via a symlink to a versioned folder
    <out>/evidence.html           the privacy officer's offline evidence page (patient360.evidence)
    <out>/release.json            the release manifest: id, key id, gate summary, re-identification
                                  risk (k, l, prosecutor risk, suppression, generalisation), sha256s

A failing gate deletes the candidate and raises GateFailed: nothing in <out> changes. There
is no way to publish without the gate (no flag, no separate entry point).

Both are written under temporary names in the same folder and swapped in with an
atomic rename (os.replace), so a reader sees either the previous complete version or
the new one, never a half-built file. The DuckDB file is written with storage version
v1.0.0, readable by the DuckDB 1.x engines bundled with BI drivers (duckdb-engine,
Superset, Metabase's DuckDB driver); DuckDB 2.0's default storage would not be.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from patient360.errors import GateFailed
from patient360.evidence import EVIDENCE, render_evidence
from patient360.parquet_metadata import describe_parquet_files
from patient360.pseudonym import key_id, load_key
from patient360.warehouse import connect as warehouse_connect
from patient360.warehouse import one

log = logging.getLogger(__name__)

PUBLISHED_SCHEMA = "marts"
STORAGE_VERSION = "v1.0.0"
KEEP_PARQUET_VERSIONS = 2
MANIFEST = "release.json"


class PublishError(RuntimeError):
    """Nothing to publish, or the warehouse is not in a publishable state."""


@dataclass
class PublishResult:
    duckdb_path: Path
    parquet_dir: Path
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    manifest_path: Path | None = None
    key_id: str = ""
    checks_run: int = 0

    def render(self) -> str:
        lines = [
            f"published {len(self.tables)} marts in {self.seconds:.1f} s to {self.duckdb_path} and {self.parquet_dir}/"
        ]
        lines += [f"  {name:<40} {rows:>12,}" for name, rows in sorted(self.tables.items())]
        return "\n".join(lines)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def publish_marts(
    warehouse: Path,
    out_dir: Path | None = None,
    *,
    allowlist: Path | None = None,
    k: int | None = None,
    as_of: date | None = None,
    data_docs_dir: Path | None = None,
) -> PublishResult:
    """Build the candidate, gate it, swap it in (see the module docstring). Raises GateFailed
    when a blocking check fails and PublishError when there is nothing to publish.
    allowlist, k, as_of, data_docs_dir: as for `run_gates` (defaults: the project's)."""
    from patient360.gates import Candidate, run_gates
    from patient360.gates.schema_allowlist import ALLOWLIST_PATH, load_allowlist

    started = time.perf_counter()
    key = load_key()  # refuses a missing or weak key before anything is written
    warehouse = Path(warehouse)
    out_dir = Path(out_dir) if out_dir else warehouse.parent / "published"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 10**9:09d}-{os.getpid()}"
    candidate = Candidate(out_dir / f".marts.duckdb.{os.getpid()}.tmp", out_dir / f"parquet-{stamp}")
    result = PublishResult(duckdb_path=out_dir / "marts.duckdb", parquet_dir=out_dir / "parquet", key_id=key_id(key))
    try:
        _build_candidate(warehouse, candidate, result)
        describe_parquet_files(candidate.duckdb_path, candidate.parquet_dir)  # dbt's docs, gated with the rest
        outcome = run_gates(warehouse, candidate=candidate, key=key, k=k, allowlist=allowlist or ALLOWLIST_PATH,
                            as_of=as_of, data_docs_dir=data_docs_dir)  # fmt: skip
        log.info("gates on the release candidate:\n%s", outcome.render())
        if not outcome.passed:
            raise GateFailed(
                f"the release candidate failed {len(outcome.blocking)} blocking checks; nothing published. "
                f"Data Docs: {outcome.data_docs_index}"
            )
        result.checks_run = outcome.checks_run
        manifest = _manifest(stamp, candidate, result, outcome)
        evidence = render_evidence(stamp, result.key_id, result.tables, _columns(candidate.duckdb_path),
                                   load_allowlist(allowlist or ALLOWLIST_PATH), outcome)  # fmt: skip
    except BaseException:
        candidate.duckdb_path.unlink(missing_ok=True)
        shutil.rmtree(candidate.parquet_dir, ignore_errors=True)
        raise

    (candidate.parquet_dir / MANIFEST).write_text(manifest, encoding="utf-8")
    (candidate.parquet_dir / EVIDENCE).write_text(evidence, encoding="utf-8")
    os.replace(candidate.duckdb_path, result.duckdb_path)
    _swap_symlink(out_dir / "parquet", candidate.parquet_dir.name)
    tmp_manifest = out_dir / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp_manifest.write_text(manifest, encoding="utf-8")
    os.replace(tmp_manifest, out_dir / MANIFEST)
    tmp_evidence = out_dir / f".{EVIDENCE}.{os.getpid()}.tmp"
    tmp_evidence.write_text(evidence, encoding="utf-8")
    os.replace(tmp_evidence, out_dir / EVIDENCE)
    result.manifest_path = out_dir / MANIFEST
    _prune_parquet_versions(out_dir, keep=candidate.parquet_dir.name)
    result.seconds = time.perf_counter() - started
    log.info("published %d marts to %s (key id %s)", len(result.tables), result.duckdb_path, result.key_id)
    return result


def _build_candidate(warehouse: Path, candidate, result: PublishResult) -> None:
    """Copy schema `marts` from one read-only snapshot of the warehouse into the candidate files."""
    candidate.duckdb_path.unlink(missing_ok=True)
    con = warehouse_connect()  # in-memory session under the pipeline's memory limit
    try:
        con.execute(f"attach {_literal(str(warehouse))} as wh (read_only)")
        con.execute("use wh")
        con.execute("begin transaction")  # every table from the same snapshot
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ? and table_type = 'BASE TABLE' "
                "and table_catalog = 'wh' order by table_name",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        ]
        if not tables:
            raise PublishError(f"{warehouse} has no tables in schema {PUBLISHED_SCHEMA!r}: run dbt build first")
        con.execute(f"attach {_literal(str(candidate.duckdb_path))} as pub (storage_version '{STORAGE_VERSION}')")
        candidate.parquet_dir.mkdir()
        kv = f"kv_metadata {{p360_key_id: {_literal(result.key_id)}}}"
        for table in tables:
            source = f"{PUBLISHED_SCHEMA}.{_quote(table)}"
            con.execute(f"create table pub.main.{_quote(table)} as select * from {source}")
            target = _literal(str(candidate.parquet(table)))
            con.execute(f"copy (select * from {source}) to {target} (format parquet, {kv})")
            _copy_comments(con, table)
            result.tables[table] = one(con.execute(f"select count(*) from pub.main.{_quote(table)}"))[0]
        con.execute("commit")
        con.execute("detach pub")
    finally:
        con.close()


def _columns(duckdb_path: Path) -> dict[str, dict[str, str]]:
    """table -> column -> type of the candidate file (names only, for the evidence page)."""
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                           "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()  # fmt: skip
    finally:
        con.close()
    out: dict[str, dict[str, str]] = {}
    for table, column, dtype in rows:
        out.setdefault(table, {})[column] = dtype
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(stamp: str, candidate, result: PublishResult, outcome) -> str:
    """The release manifest: which key pseudonymised it, what the gate checked, the files' hashes."""
    doc = {
        "release_id": stamp,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "key_id": result.key_id,
        "gate": {"passed": outcome.passed, "checks_run": outcome.checks_run,
                 "warnings": len(outcome.failures) - len(outcome.blocking)},
        # re-identification risk as measured on the candidate (docs/deidentification.md)
        "risk": outcome.risk.as_dict() if outcome.risk else None,
        "duckdb": {"file": result.duckdb_path.name, "sha256": _sha256(candidate.duckdb_path)},
        "parquet_dir": candidate.parquet_dir.name,
        "tables": {t: {"rows": n, "parquet_sha256": _sha256(candidate.parquet(t))} for t, n in result.tables.items()},
    }  # fmt: skip
    return json.dumps(doc, indent=1, sort_keys=True)


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
