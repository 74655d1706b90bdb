"""Great Expectations gates: data quality and PII masking, run after dbt, before publishing.

    outcome = run_gates(warehouse)          # k: dbt var k_anonymity (dbt_project.yml)
    outcome.passed        # False if any `block` expectation failed
    outcome.render()      # one line per failure: severity, suite, table, column, check, rows

DuckDB computes per-(table, column, check) counts over the read-only warehouse (every
column of every `marts` table is scanned); Great Expectations validates those counts with
the suites in expectations/suites/ and builds Data Docs, and is the only judge: the
failures are the metric rows GX reports as unexpected (gx_runner). Nothing returned,
stored or logged holds a data value: only names and counts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from patient360.dbt_vars import dbt_var
from patient360.gates import gx_runner
from patient360.gates.candidate import (
    CANDIDATE_ALIAS,
    WAREHOUSE_ALIAS,
    Candidate,
    mount,
    open_workspace,
    parquet_metrics,
    unmount,
)
from patient360.gates.k_anonymity import ReleaseRisk, k_anonymity_metrics
from patient360.gates.metrics import Metric, table_exists
from patient360.gates.outcome import Failure, GateOutcome
from patient360.gates.pii_patterns import scan_text
from patient360.gates.pii_scan import PiiScanner, scan_marts
from patient360.gates.quality import marts_metrics, raw_metrics, staging_metrics
from patient360.gates.scan_cache import ScanCache, cache_path
from patient360.gates.schema_allowlist import (
    ALLOWLIST_PATH,
    PUBLISHED_SCHEMA,
    load_allowlist,
    published_columns,
    schema_findings,
)
from patient360.gates.small_cells import SUITE as SMALL_CELLS
from patient360.gates.small_cells import small_cell_metrics
from patient360.pseudonym import PseudonymKeyError, load_key
from patient360.release_tiers import AGGREGATE, small_cell_rules, tier_tables
from patient360.warehouse import connect, one

__all__ = ["Candidate", "Failure", "GateOutcome", "ReleaseGate", "collect_metrics", "run_gates", "scan_text"]

log = logging.getLogger(__name__)


def _as_of(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> date:
    """The run's as-of date: patient_360.as_of_date when built, else today. catalog: the
    warehouse's alias in a candidate workspace (every tier is judged as of the warehouse's date)."""
    if catalog is not None:
        con.execute(f"USE {catalog}")
    try:
        if table_exists(con, "marts", "patient_360"):
            try:
                found = one(con.execute("SELECT max(as_of_date) FROM marts.patient_360"))[0]
                if found:
                    return found
            except duckdb.Error:
                pass
        return date.today()
    finally:
        if catalog is not None:
            con.execute("USE memory")


def _guarded(suite: str, section: str, fn: Callable[[], list[Metric]]) -> list[Metric]:
    # A check that cannot run is a blocking failure, not a crash; only the error class is kept
    # because DuckDB messages can quote data values.
    try:
        return fn()
    except (duckdb.Error, ValueError, KeyError, TypeError) as exc:
        log.error("gate section %s could not run: %s", section, type(exc).__name__)
        return [Metric(suite, section, "", "check_error", 1, type(exc).__name__)]


def _key() -> bytes | None:
    try:
        return load_key()
    except PseudonymKeyError:
        return None  # record pseudonyms cannot be verified: the scan reports it (block)


class ReleaseGate:
    """One gate workspace for every tier of a release (publishing): the warehouse is mirrored,
    the PII dictionaries built and the warehouse's source checks run once, and each tier's
    candidate is mounted in turn as schema `marts`. Each tier is still judged on its own files
    by the same rules as `run_gates(candidate=...)`; only work whose input is the same for every
    tier is shared (at 100k patients the dictionaries alone took 7 s per tier)."""

    def __init__(self, warehouse: Path, *, allowlist: Path = ALLOWLIST_PATH, key: bytes | None = None):
        self.warehouse = Path(warehouse)
        # the dictionaries leave out every published table's vocabulary, as `patient360 check` does
        self.allow = load_allowlist(allowlist)
        self.key = key if key is not None else _key()
        self.con = open_workspace(self.warehouse)
        self.cache = ScanCache(cache_path(self.warehouse), self.key)
        self._scanner: PiiScanner | None = None
        self._setup: list[Metric] = []  # what building the dictionaries found (a missing restricted zone)
        self._sources: dict[date, list[Metric]] = {}

    def __enter__(self) -> ReleaseGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()
        self.cache.save()

    def scanner(self, allow: Any, today: date) -> PiiScanner:
        """The shared scanner, its rules narrowed to this tier's allow-list."""
        if self._scanner is None or self._scanner.today != today:
            self._scanner = PiiScanner(self.con, self.allow, today, self.key)
            self._setup = list(self._scanner.metrics)
        self._scanner.allow, self._scanner.metrics = allow, list(self._setup)  # every tier reports the setup
        return self._scanner

    def source_metrics(self, day: date) -> list[Metric]:
        """The raw-zone and staging checks: they read the warehouse, the same for every tier."""
        if day not in self._sources:
            self.con.execute(f"USE {WAREHOUSE_ALIAS}")  # staging views bind in the warehouse
            try:
                self._sources[day] = _source_metrics(self.con, day)
            finally:
                self.con.execute("USE memory")
        return list(self._sources[day])


def _source_metrics(con: duckdb.DuckDBPyConnection, day: date) -> list[Metric]:
    return _guarded("quality_raw", "raw", lambda: raw_metrics(con, day)) + _guarded(
        "quality_raw", "staging", lambda: staging_metrics(con)
    )


def collect_metrics(
    warehouse: Path,
    *,
    k: int,
    allowlist: Path,
    gx_dir: Path,
    as_of: date | None,
    candidate: Candidate | None = None,
    key: bytes | None = None,
    l: int = 2,  # noqa: E741 - the l of l-diversity
    risk: list[ReleaseRisk] | None = None,
    tier: str | None = None,
    release: ReleaseGate | None = None,
) -> list[Metric]:
    """Every metric of every suite, computed in DuckDB on read-only connections.

    candidate: the release files to judge (publishing passes them); without one the gate reads
    the warehouse's `marts` schema (`patient360 check`). key: the pseudonym key (default: the
    configured one), to re-derive issued record pseudonyms. risk: receives the release's measured
    re-identification risk (k_anonymity). tier: the release tier the candidate holds (only its
    marts are expected, nothing else may be in it; the aggregate tier's small cells are verified).
    release: the workspace every tier of one release shares (publishing); it mounts the candidate."""
    if not warehouse.exists():
        return [Metric("schema_allowlist", str(warehouse), "", "warehouse_missing", 1, "file not found")]
    if candidate is not None and release is None:
        with ReleaseGate(warehouse, allowlist=allowlist, key=key) as own:
            return collect_metrics(warehouse, k=k, allowlist=allowlist, gx_dir=gx_dir, as_of=as_of,
                                   candidate=candidate, l=l, risk=risk, tier=tier, release=own)  # fmt: skip
    allow = load_allowlist(allowlist)
    if tier is not None:
        allow = allow.only(tier_tables(tier))
    if release is not None and candidate is None:
        raise ValueError("a ReleaseGate judges candidates: pass the tier's candidate")
    key = release.key if release is not None else key if key is not None else _key()
    cache = release.cache if release is not None else ScanCache(cache_path(warehouse), key)
    con = release.con if release is not None else connect(warehouse, read_only=True)
    try:
        if release is not None and candidate is not None:
            mount(con, candidate)
        actual = published_columns(con)
        day = as_of or _as_of(con, WAREHOUSE_ALIAS if release else None)
        today = max(day, date.today())
        here = one(con.execute("SELECT current_database()"))[0]
        comments = (CANDIDATE_ALIAS, "main") if candidate else (here, "marts")
        metrics = [Metric("schema_allowlist", t, c, chk, n) for t, c, chk, n in schema_findings(actual, allow)]
        metrics += _guarded("pii_masking", "pii_scan", lambda: scan_marts(
            con, actual, allow, today, key=key, comments=comments,
            candidate=candidate, scanner=release.scanner(allow, today) if release else None, cache=cache))  # fmt: skip
        if candidate:
            metrics += _guarded("schema_allowlist", "parquet", lambda: parquet_metrics(con, candidate, list(actual)))
        metrics += _guarded("k_anonymity", "k_anonymity", lambda: k_anonymity_metrics(con, actual, allow, k, l, risk))
        if tier == AGGREGATE:
            metrics += _guarded(SMALL_CELLS, "small_cells", lambda: small_cell_metrics(
                con, PUBLISHED_SCHEMA, actual, small_cell_rules(), k))  # fmt: skip
        counts = gx_dir / "last_row_counts.json"
        metrics += _guarded("quality_marts", "marts", lambda: marts_metrics(con, actual, allow, counts))
        metrics += release.source_metrics(day) if release else _source_metrics(con, day)
    finally:
        if release is not None and candidate is not None:
            unmount(con)
        else:
            con.close()
    if release is None:
        cache.save()
    return metrics


def run_gates(
    warehouse: Path,
    *,
    k: int | None = None,
    data_docs_dir: Path | None = None,
    allowlist: Path = ALLOWLIST_PATH,
    suites_dir: Path = gx_runner.SUITES_DIR,
    as_of: date | None = None,
    candidate: Candidate | None = None,
    key: bytes | None = None,
    tier: str | None = None,
    release: ReleaseGate | None = None,
) -> GateOutcome:
    """Run every suite on the warehouse (opened read-only, closed before returning).

    data_docs_dir: the GX project folder (default `<warehouse dir>/gx`); Data Docs are
    rebuilt there on every run and `outcome.data_docs_index` points at index.html. candidate,
    tier: a release tier's candidate files (publishing); without them the warehouse's marts.
    release: a ReleaseGate shared by every tier of one release (publishing).
    """
    started = time.perf_counter()
    warehouse = Path(warehouse)
    if k is None:  # the same k and l the dbt models generalise to
        k = int(dbt_var("k_anonymity"))
    l = int(dbt_var("l_diversity"))  # noqa: E741
    risk: list[ReleaseRisk] = []
    gx_dir = Path(data_docs_dir) if data_docs_dir else warehouse.parent / "gx"
    metrics = collect_metrics(warehouse, k=k, allowlist=Path(allowlist), gx_dir=gx_dir, as_of=as_of,
                              candidate=candidate, key=key, l=l, risk=risk, tier=tier, release=release)  # fmt: skip
    verdict = gx_runner.validate(metrics, gx_runner.load_suites(Path(suites_dir)), gx_dir)
    outcome = GateOutcome(
        failures=verdict.failures,
        data_docs_index=verdict.data_docs_index,
        results_path=gx_dir / "last_run.json",
        checks_run=len(metrics),
        seconds=time.perf_counter() - started,
        gx_success=verdict.success,
        risk=risk[0] if risk else None,
        checked=[(m.suite, m.table, m.column, m.check) for m in metrics],
    )
    summary: dict[str, Any] = {"passed": outcome.passed, "checks_run": outcome.checks_run}
    summary["failures"] = [asdict(f) for f in outcome.failures]
    summary["risk"] = outcome.risk.as_dict() if outcome.risk else None
    assert outcome.results_path is not None  # set just above
    outcome.results_path.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    log.info("gates %s: %d checks, %d failures", "passed" if outcome.passed else "FAILED", len(metrics),
             len(outcome.failures))  # fmt: skip
    return outcome
