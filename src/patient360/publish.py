"""Publish gated marts in release tiers: one read-only DuckDB file and Parquet files per tier.

BI tools never open the warehouse (one writer process: a reader would block the
pipeline, and the warehouse holds raw and restricted zones). A release is one gated
object per tier (patient360.release_tiers: each mart's dbt `meta.release_tier`):

    <out>/aggregate/   KPI tables, segment sizes, dims, campaign facts (no person key): wide BI
                       access; small cells suppressed (published NULL, patient360.gates.small_cells)
    <out>/person/      person-level pseudonymous marts (patient_key): trusted analysts only
    <out>/activation/  the consent-only activation list: marketing only

Every tier's tables are copied from one consistent snapshot of the `marts` schema (one
read-only transaction for all tiers) into a candidate per tier,

    <out>/<tier>/.marts.duckdb.<pid>.tmp     tables in its default schema `main`, with dbt's comments
    <out>/<tier>/parquet-<stamp>/<t>.parquet with key-value metadata naming the key id

the aggregate candidate is small-cell suppressed in place, and every gate runs on each
candidate's own files (`run_gates(candidate=..., tier=...)`: the bytes to be published,
comments and Parquet metadata included; the aggregate tier also verifies small cells). Only if
no blocking check fails in ANY tier are they swapped in, tier by tier, as

    <out>/<tier>/marts.duckdb            tables in its default schema `main`
    <out>/<tier>/parquet/<table>.parquet via a symlink to a versioned folder
    <out>/<tier>/evidence.html           the privacy officer's offline evidence page (patient360.evidence)
    <out>/<tier>/release.json            the tier's release manifest: id, tier, key id, gate summary,
                                         re-identification risk, small-cell suppression counts, sha256s

Every tier published (and every failed attempt) is recorded in the warehouse's release register
(audit.release_register, patient360.release_register): recipient (`recipient`, default
`bi:<tier>`), tables, checksums, gate verdict, as-of date, key id; the evidence page lists it.
A retired pseudonym key is refused, and so is a candidate whose key columns hold a value that is
not a current person key (patient360.key_rotation: no release mixes keys).

All or nothing: a failing tier deletes every candidate and raises GateFailed; nothing in <out>
changes, so the tiers never mix releases built from different snapshots. `tiers=[...]`
(CLI `--tier`) publishes only those tiers, the others stay as they were. There is no way to
publish without the gate (no flag, no separate entry point).

Files are written under temporary names in the tier's folder and swapped in with an
atomic rename (os.replace), so a reader sees either the previous complete version or
the new one, never a half-built file. The DuckDB file is written with storage version
v1.0.0, readable by the DuckDB 1.x engines bundled with BI drivers (duckdb-engine,
Superset, Metabase's DuckDB driver); DuckDB 2.0's default storage would not be.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from patient360 import release_register as register
from patient360.dbt_vars import dbt_var
from patient360.errors import GateFailed
from patient360.evidence import EVIDENCE, render_evidence
from patient360.gates.candidate import Candidate
from patient360.parquet_metadata import describe_parquet_files
from patient360.pseudonym import key_id, load_key
from patient360.release_tiers import AGGREGATE, TIERS, release_tiers, small_cell_rules
from patient360.warehouse import connect as warehouse_connect
from patient360.warehouse import one

log = logging.getLogger(__name__)

PUBLISHED_SCHEMA = "marts"
STORAGE_VERSION = "v1.0.0"
KEEP_PARQUET_VERSIONS = 2
MANIFEST = "release.json"
DUCKDB_FILE = "marts.duckdb"
PARQUET_DIR = "parquet"


class PublishError(RuntimeError):
    """Nothing to publish, or the warehouse is not in a publishable state."""


@dataclass
class PublishResult:
    """One tier's publication."""

    duckdb_path: Path
    parquet_dir: Path
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    manifest_path: Path | None = None
    key_id: str = ""
    checks_run: int = 0
    tier: str = ""
    suppression: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> primary/complementary/derived

    def render(self) -> str:
        lines = [f"{self.tier or 'marts'}: {len(self.tables)} marts to {self.duckdb_path} and {self.parquet_dir}/"]
        lines += [f"  {name:<40} {rows:>12,}" for name, rows in sorted(self.tables.items())]
        return "\n".join(lines)


@dataclass
class ReleaseResult:
    """Every tier published by one `publish_marts` call (all gated, all swapped in)."""

    tiers: dict[str, PublishResult] = field(default_factory=dict)
    seconds: float = 0.0
    published_dir: Path | None = None  # the folder holding every tier (and the KPI report)
    report_path: Path | None = None  # the KPI report written from the aggregate tier, if it was published

    @property
    def tables(self) -> dict[str, dict[str, int]]:
        """tier -> table -> rows."""
        return {t: r.tables for t, r in self.tiers.items()}

    def render(self) -> str:
        head = f"published {len(self.tiers)} release tiers in {self.seconds:.1f} s"
        return "\n".join([head, *(r.render() for r in self.tiers.values())])


@dataclass
class _Staged:
    tier: str
    candidate: Candidate
    result: PublishResult
    manifest: str = ""
    evidence: str = ""
    entry: register.Entry | None = None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _chosen(tiers: Iterable[str] | None) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(tiers)) if tiers else TIERS
    unknown = [t for t in chosen if t not in TIERS]
    if unknown:
        raise PublishError(f"unknown release tier(s) {unknown}; expected {', '.join(TIERS)}")
    return chosen


def publish_marts(
    warehouse: Path,
    out_dir: Path | None = None,
    *,
    tiers: Iterable[str] | None = None,
    allowlist: Path | None = None,
    k: int | None = None,
    as_of: date | None = None,
    data_docs_dir: Path | None = None,
    recipient: str | None = None,
) -> ReleaseResult:
    """Build every tier's candidate, gate each, swap them all in (see the module docstring).
    Raises GateFailed when a blocking check fails in any tier (nothing is published) and
    PublishError when there is nothing to publish. tiers: default all. allowlist, k, as_of:
    as for `run_gates` (defaults: the project's); data_docs_dir: Data Docs go to <dir>/<tier>;
    recipient: who receives the release, for the register (default `bi:<tier>`)."""
    from patient360.gates import Candidate, ReleaseGate, run_gates
    from patient360.gates.schema_allowlist import ALLOWLIST_PATH

    started = time.perf_counter()
    key = load_key()  # refuses a missing or weak key before anything is written
    chosen = _chosen(tiers)
    k = int(k if k is not None else dbt_var("k_anonymity"))  # the gate verifies the k suppression used
    warehouse = Path(warehouse)
    out_dir = Path(out_dir) if out_dir else warehouse.parent / "published"
    gx_root = Path(data_docs_dir) if data_docs_dir else warehouse.parent / "gx"
    allowlist = allowlist or ALLOWLIST_PATH
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 10**9:09d}-{os.getpid()}"
    staged: list[_Staged] = []
    for tier in chosen:
        folder = out_dir / tier
        folder.mkdir(parents=True, exist_ok=True)
        cand = Candidate(folder / f".{DUCKDB_FILE}.{os.getpid()}.tmp", folder / f"{PARQUET_DIR}-{stamp}")
        res = PublishResult(folder / DUCKDB_FILE, folder / PARQUET_DIR, key_id=key_id(key), tier=tier)
        staged.append(_Staged(tier, cand, res))
    try:
        built_as_of, history = _build_candidates(warehouse, staged, k, key, _allow(allowlist))
        failed: list[str] = []
        outcomes = {}
        with ReleaseGate(warehouse, allowlist=allowlist, key=key) as gate:  # dictionaries, source checks once
            for s in staged:
                describe_parquet_files(s.candidate.duckdb_path, s.candidate.parquet_dir)  # dbt's docs, gated
                outcomes[s.tier] = run_gates(
                    warehouse, candidate=s.candidate, key=key, k=k, allowlist=allowlist, as_of=as_of,
                    data_docs_dir=gx_root / s.tier, tier=s.tier, release=gate)  # fmt: skip
        for s in staged:
            outcome = outcomes[s.tier]
            log.info("gates on the %s release candidate:\n%s", s.tier, outcome.render())
            if not outcome.passed:
                failed.append(f"{s.tier} ({len(outcome.blocking)} blocking; Data Docs: {outcome.data_docs_index})")
                continue
            s.result.checks_run = outcome.checks_run
            checksums = _checksums(s)  # each file hashed once, for the manifest and the register
            s.manifest = _manifest(stamp, s, outcome, checksums)
            s.entry = _entry(stamp, s, outcome, recipient, as_of or built_as_of, checksums)
            s.evidence = render_evidence(stamp, s.result.key_id, s.result.tables, _columns(s.candidate.duckdb_path),
                                         _allow(allowlist), outcome, tier=s.tier, suppression=s.result.suppression,
                                         register=[*history.get(s.tier, []), s.entry])  # fmt: skip
        if failed:
            _record_failed(warehouse, stamp, staged, failed, recipient, as_of or built_as_of)
            raise GateFailed(f"release tiers failed the gate: {'; '.join(failed)}; nothing published")
    except BaseException:
        for s in staged:
            s.candidate.duckdb_path.unlink(missing_ok=True)
            shutil.rmtree(s.candidate.parquet_dir, ignore_errors=True)
            with contextlib.suppress(OSError):  # a tier folder this attempt created stays absent
                s.result.duckdb_path.parent.rmdir()
        raise
    release = ReleaseResult(published_dir=out_dir)
    for s in staged:
        _swap_in(s)
        release.tiers[s.tier] = s.result
    _remove_single_file_layout(out_dir)
    register.record(warehouse, [s.entry for s in staged if s.entry])
    release.seconds = time.perf_counter() - started
    for r in release.tiers.values():
        r.seconds = release.seconds
    log.info("published tiers %s to %s (key id %s)", ", ".join(chosen), out_dir, key_id(key))
    return release


def _remove_single_file_layout(out_dir: Path) -> None:
    """Drop a release of the former single-file layout (<out>/marts.duckdb held every mart, the
    person level included): left in place, a BI mount of <out> would still read it."""
    for name in (DUCKDB_FILE, MANIFEST, EVIDENCE, PARQUET_DIR):
        path = out_dir / name
        if path.is_symlink() or path.is_file():
            path.unlink()
    for old in out_dir.glob(f"{PARQUET_DIR}-*"):
        shutil.rmtree(old, ignore_errors=True)


def _allow(path: Path):
    from patient360.gates.schema_allowlist import load_allowlist

    return load_allowlist(path)


def _swap_in(s: _Staged) -> None:
    """Swap one gated tier in: the DuckDB file, the Parquet folder, the manifest and the evidence page."""
    cand, res = s.candidate, s.result
    folder = res.duckdb_path.parent
    (cand.parquet_dir / MANIFEST).write_text(s.manifest, encoding="utf-8")
    (cand.parquet_dir / EVIDENCE).write_text(s.evidence, encoding="utf-8")
    os.replace(cand.duckdb_path, res.duckdb_path)
    _swap_symlink(res.parquet_dir, cand.parquet_dir.name)
    for name, text in ((MANIFEST, s.manifest), (EVIDENCE, s.evidence)):
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / name)
    res.manifest_path = folder / MANIFEST
    _prune_parquet_versions(folder, keep=cand.parquet_dir.name)


def _tables_by_tier(con: duckdb.DuckDBPyConnection, warehouse: Path, chosen: list[str]) -> dict[str, list[str]]:
    """The warehouse's marts by release tier; a mart with no declared tier is refused (fail closed)."""
    tables = [
        t
        for (t,) in con.execute(
            # views too: on the Spark target the marts are views over Parquet (patient360.spark_release)
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_type in ('BASE TABLE', 'VIEW') and table_catalog = 'wh' order by table_name",
            [PUBLISHED_SCHEMA],
        ).fetchall()
    ]
    if not tables:
        raise PublishError(f"{warehouse} has no tables in schema {PUBLISHED_SCHEMA!r}: run dbt build first")
    declared = release_tiers()
    untiered = [t for t in tables if declared.get(t) not in TIERS]
    if untiered:
        raise PublishError(f"marts without a release tier (dbt meta.release_tier): {', '.join(untiered)}")
    return {tier: [t for t in tables if declared[t] == tier] for tier in chosen}


def _checksums(s: _Staged) -> dict[str, str]:
    """sha256 of every file of the tier's candidate, by its published name."""
    files = {s.result.duckdb_path.name: register.sha256(s.candidate.duckdb_path)}
    return files | {f"{PARQUET_DIR}/{t}.parquet": register.sha256(s.candidate.parquet(t)) for t in s.result.tables}


def _entry(stamp: str, s: _Staged, outcome, recipient: str | None, as_of: date | None,
           files: dict[str, str]) -> register.Entry:  # fmt: skip
    """The tier's release register row (patient360.release_register)."""
    return register.Entry(stamp, "publish", s.tier, recipient or register.default_recipient(s.tier), "passed",
                          target=str(s.result.duckdb_path.parent), tables=dict(s.result.tables), checksums=files,
                          checks_run=outcome.checks_run, as_of_date=as_of, key_id=s.result.key_id)  # fmt: skip


def _record_failed(warehouse: Path, stamp: str, staged: list[_Staged], failed: list[str], recipient: str | None,
                   as_of: date | None) -> None:  # fmt: skip
    """A refused release is on the register too (verdict failed, no files handed over)."""
    bad = {f.split(" ", 1)[0] for f in failed}
    entries = []
    for s in staged:
        verdict, target = (
            ("failed", "(not published)")
            if s.tier in bad
            else ("passed", "(not published: another tier failed the gate)")
        )
        entries.append(register.Entry(stamp, "publish", s.tier, recipient or register.default_recipient(s.tier),
                                      verdict, target=target, tables=dict(s.result.tables), as_of_date=as_of,
                                      key_id=s.result.key_id))  # fmt: skip
    register.record(warehouse, entries)


def _build_candidates(warehouse: Path, staged: list[_Staged], k: int, key: bytes | None = None,
                      allow=None) -> tuple[date | None, dict[str, list]]:  # fmt: skip
    """Copy every tier's marts from ONE read-only snapshot of the warehouse (one transaction, into a
    staging file: a DuckDB transaction writes to one database only), then write each tier's candidate
    from it; the aggregate tier's person-count cells are suppressed before its Parquet files are written.
    Refuses a retired key and a snapshot whose key columns mix keys (patient360.key_rotation).
    Returns the marts' as-of date and the release register by tier (read in the same snapshot)."""
    from patient360.gates.small_cells import suppress_table
    from patient360.key_rotation import check_release_keys, refuse_retired

    key = key if key is not None else load_key()

    for s in staged:
        s.candidate.duckdb_path.unlink(missing_ok=True)
    stage = staged[0].candidate.duckdb_path.with_name(f".snapshot.{os.getpid()}.tmp")
    stage.unlink(missing_ok=True)
    rules = small_cell_rules()
    con = warehouse_connect()  # in-memory session under the pipeline's memory limit
    try:
        con.execute(f"attach {_literal(str(warehouse))} as wh (read_only)")
        con.execute(f"attach {_literal(str(stage))} as stage")
        con.execute("use wh")
        con.execute("begin transaction")  # every table of every tier from the same snapshot
        refuse_retired(con, key, "wh")
        by_tier = _tables_by_tier(con, warehouse, [s.tier for s in staged])
        comments = {t: _comments(con, t) for tables in by_tier.values() for t in tables}
        for table in comments:
            con.execute(f"create table stage.main.{_quote(table)} as {_released_rows(con, table, allow)}")
        check_release_keys(con, "wh", "stage", list(comments), key)
        history = {s.tier: register.entries(con, s.tier, "wh") for s in staged}
        as_of = register.as_of_date(con, "wh")
        con.execute("commit")
        for s in staged:
            _write_tier(con, s, by_tier[s.tier], comments, rules if s.tier == AGGREGATE else {}, k, suppress_table)
    finally:
        con.close()
        stage.unlink(missing_ok=True)
        stage.with_name(stage.name + ".wal").unlink(missing_ok=True)
    return as_of, history


def _released_rows(con: duckdb.DuckDBPyConnection, table: str, allow) -> str:
    """A person-level snapshot table with a quasi-identifier is released at its latest snapshot
    only (patient360.gates.k_anonymity.released_rows; docs/deidentification.md "Snapshots")."""
    from patient360.gates.k_anonymity import released_rows

    fq = f"{PUBLISHED_SCHEMA}.{_quote(table)}"
    cols = {c for (c,) in con.execute(f"select column_name from (describe {fq})").fetchall()}
    quasi = allow is not None and any((r := allow.rule(table, c)) is not None and r.privacy == "quasi" for c in cols)
    return released_rows(fq, cols, quasi)


def _write_tier(con: duckdb.DuckDBPyConnection, s: _Staged, tables: list[str], comments: dict, rules: dict,
                k: int, suppress_table: Callable) -> None:  # fmt: skip
    alias = f"pub_{s.tier}"
    con.execute(f"attach {_literal(str(s.candidate.duckdb_path))} as {alias} (storage_version '{STORAGE_VERSION}')")
    s.candidate.parquet_dir.mkdir()
    kv = f"kv_metadata {{p360_key_id: {_literal(s.result.key_id)}, p360_release_tier: {_literal(s.tier)}}}"
    for table in tables:
        target = f"{alias}.main.{_quote(table)}"
        con.execute(f"create table {target} as select * from stage.main.{_quote(table)}")
        rule = None
        if table in rules:
            cols = {c for (c,) in con.execute(f"select column_name from (describe {target})").fetchall()}
            rule = rules[table].restrict(cols)
            s.result.suppression[table] = suppress_table(con, target, rule, k)
        path = _literal(str(s.candidate.parquet(table)))
        con.execute(f"copy (select * from {target}) to {path} (format parquet, {kv})")
        _set_comments(con, target, comments[table], rule.note if rule else lambda _: None)
        s.result.tables[table] = one(con.execute(f"select count(*) from {target}"))[0]
    con.execute(f"detach {alias}")


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


def _manifest(stamp: str, s: _Staged, outcome, files: dict[str, str]) -> str:
    """The tier's release manifest: which key pseudonymised it, what the gate checked, the files' hashes."""
    cand, result = s.candidate, s.result
    doc = {
        "release_id": stamp,
        "tier": s.tier,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "key_id": result.key_id,
        "gate": {"passed": outcome.passed, "checks_run": outcome.checks_run,
                 "warnings": len(outcome.failures) - len(outcome.blocking)},
        # re-identification risk as measured on the candidate (docs/deidentification.md)
        "risk": outcome.risk.as_dict() if outcome.risk else None,
        # small-cell suppression (aggregate tier): suppressed cells per table, published as NULL
        "suppression": result.suppression,
        "duckdb": {"file": result.duckdb_path.name, "sha256": files[result.duckdb_path.name]},
        "parquet_dir": cand.parquet_dir.name,
        "tables": {t: {"rows": n, "parquet_sha256": files[f"{PARQUET_DIR}/{t}.parquet"]}
                   for t, n in result.tables.items()},
    }  # fmt: skip
    return json.dumps(doc, indent=1, sort_keys=True)


def _comments(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str | None, dict[str, str]]:
    """dbt's persisted docs of a mart: its table comment and column comments (read in the snapshot)."""
    row = con.execute(
        "select comment from duckdb_tables() where schema_name = ? and table_name = ? and database_name = 'wh' "
        "union all select comment from duckdb_views() where schema_name = ? and view_name = ? "
        "and database_name = 'wh'",
        [PUBLISHED_SCHEMA, table, PUBLISHED_SCHEMA, table],
    ).fetchone()
    cols = con.execute(
        "select column_name, coalesce(comment, '') from duckdb_columns() where schema_name = ? and table_name = ? "
        "and database_name = 'wh'",
        [PUBLISHED_SCHEMA, table],
    ).fetchall()
    return (row[0] if row else None), dict(cols)


def _set_comments(con: duckdb.DuckDBPyConnection, target: str, comments: tuple[str | None, dict[str, str]],
                  note: Callable[[str], str | None]) -> None:  # fmt: skip
    """Carry dbt's docs to the BI copy; `note` adds what a column's suppression means (aggregate
    tier: suppressed cells are NULL)."""
    table_comment, columns = comments
    if table_comment:
        con.execute(f"comment on table {target} is {_literal(table_comment)}")
    for column, comment in columns.items():
        text = " ".join(part for part in (comment, note(column)) if part)
        if text:
            con.execute(f"comment on column {target}.{_quote(column)} is {_literal(text)}")


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
    versions = sorted(p for p in out_dir.glob(f"{PARQUET_DIR}-*") if p.is_dir())
    old = [p for p in versions if p.name != keep][: max(len(versions) - KEEP_PARQUET_VERSIONS, 0)]
    for path in old:  # readers that opened files there keep their handles on Linux
        shutil.rmtree(path, ignore_errors=True)
