"""Land export files into the raw zone: one DuckDB transaction per file.

Per file: inspect bytes (files.py) -> skip if this path+checksum is already recorded ->
file-level problems (empty, truncated gzip, bad encoding, missing required column,
duplicate content) are recorded without reading rows -> stage with the native reader
(stage.py / vendors.py) -> validate in SQL (validate.py) -> BEGIN; replace the previous
version's rows; insert valid rows into raw_<source>.<table>; insert the rest into
audit.quarantine; insert the audit.file_loads row; assert rows_read = rows_landed +
rows_quarantined; COMMIT. Any exception rolls the file back and records it as 'failed';
the next file still lands.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path

import duckdb

from patient360.land import stage, vendors
from patient360.land.files import ExportFile, FileProblem, Inspection, _sha256, inspect
from patient360.land.report import FileResult
from patient360.land.schema import q
from patient360.land.validate import detail_case, lit, rule_case, typed_select
from patient360.warehouse import one

log = logging.getLogger("patient360.land")

LANDED = ("landed", "landed_with_quarantine")


def new_load_id() -> str:
    return f"{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


class _Ctx:
    """Everything about one file's load that the SQL statements need."""

    def __init__(self, ef: ExportFile, load_id: str) -> None:
        self.ef = ef
        self.load_id = load_id
        self.started = datetime.now()
        self.t0 = time.perf_counter()
        self.result = FileResult(source=ef.source, table=ef.table, file=ef.rel_path, status="failed")
        self._lap = self.t0

    def lap(self, phase: str) -> None:
        """Record the seconds since the previous lap under `phase` (FileResult.phases)."""
        now = time.perf_counter()
        self.result.phases[phase] = self.result.phases.get(phase, 0.0) + now - self._lap
        self._lap = now

    @property
    def started_sql(self) -> str:
        return f"TIMESTAMP {lit(self.started.isoformat(sep=' '))}"


def _audit(con: duckdb.DuckDBPyConnection, ctx: _Ctx, problem: FileProblem | None = None) -> None:
    """Write the file_loads row (and a file-level quarantine row for `problem`)."""
    r = ctx.result
    con.execute(
        """INSERT INTO audit.file_loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            ctx.load_id, r.source, r.table, r.file, ctx.ef.day,
            ctx.ef.vendor_format or (ctx.ef.contract.format if ctx.ef.contract else None),
            r.checksum, r.file_version, r.encoding, r.rows_read, r.rows_landed, r.rows_quarantined,
            r.status, r.error, r.warning, r.duplicate_of, ctx.started, datetime.now(),
        ],
    )  # fmt: skip
    if problem is not None:
        con.execute(
            "INSERT INTO audit.quarantine VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)",
            [
                ctx.load_id,
                r.source,
                r.table,
                r.file,
                r.checksum,
                f"file:{problem.kind}",
                str(problem),
                ctx.started,
            ],
        )


def _record_problem(con: duckdb.DuckDBPyConnection, ctx: _Ctx, problem: FileProblem, status: str) -> None:
    ctx.result.status = status
    if status == "duplicate_file":
        ctx.result.warning = str(problem)
    else:
        ctx.result.error = str(problem)
    con.execute("BEGIN")
    _audit(con, ctx, problem)
    con.execute("COMMIT")


def _stage(con: duckdb.DuckDBPyConnection, ef: ExportFile, info: Inspection) -> stage.Staged:
    assert ef.contract is not None and info.read_path is not None
    gz = info.gzip and info.encoding == "utf-8"  # transcoded files are plain text
    if ef.vendor_format:
        return vendors.stage_vendor(con, ef.vendor_format, info.read_path, info.header or [], gz, info.physical_lines)
    if ef.contract.format == "ndjson":
        return stage.stage_ndjson(con, ef.contract, info.read_path, gz)
    return stage.stage_csv(con, ef.contract, info.read_path, info.header or [], gz, info.has_quotes)


def land_file(
    con: duckdb.DuckDBPyConnection,
    ef: ExportFile,
    load_id: str,
    tmp_dir: Path,
    inspection: Future[Inspection] | None = None,
) -> FileResult:
    """Land one file; `inspection` is files.inspect(ef, tmp_dir) already started elsewhere."""
    ctx = _Ctx(ef, load_id)
    r = ctx.result
    try:
        _land_file(con, ctx, tmp_dir, inspection)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
        log.exception("%s: landing failed", ef.rel_path)
        with contextlib.suppress(duckdb.Error):  # no transaction open
            con.execute("ROLLBACK")
        r.status, r.error = "failed", f"{type(exc).__name__}: {exc}"
        r.rows_read = r.rows_landed = r.rows_quarantined = 0
        r.warning = None
        if r.checksum is None:
            r.checksum = _sha256(ef.path) if ef.path.exists() else None
        con.execute("BEGIN")
        _audit(con, ctx)
        con.execute("COMMIT")
    finally:
        stage.reset(con)
    r.seconds = time.perf_counter() - ctx.t0
    if r.status in ("failed", "rejected"):
        log.error(r.log_line())
    elif r.status != "landed":
        log.warning(r.log_line())
    else:
        log.info(r.log_line())
    return r


def _land_file(con: duckdb.DuckDBPyConnection, ctx: _Ctx, tmp_dir: Path, inspection: Future[Inspection] | None) -> None:
    ef, r = ctx.ef, ctx.result
    if ef.contract is None:
        r.checksum = _sha256(ef.path)
        _record_problem(
            con, ctx, FileProblem("unmatched", "file name matches no contract or vendor format"), "rejected"
        )
        return
    info = inspection.result() if inspection is not None else inspect(ef, tmp_dir)
    ctx.lap("inspect")  # with a prefetched inspection: the time spent waiting for it
    r.checksum, r.encoding = info.checksum, info.encoding
    try:
        seen = con.execute(
            "SELECT status, file_version FROM audit.file_loads WHERE file_path = ? AND file_checksum = ? "
            "AND status <> 'failed' LIMIT 1",
            [ef.rel_path, info.checksum],
        ).fetchone()
        if seen:
            r.status, r.file_version = "already_landed", seen[1]
            return
        prev = one(
            con.execute(
                "SELECT max(file_version) FROM audit.file_loads WHERE file_path = ? AND status <> 'failed'",
                [ef.rel_path],
            )
        )[0]
        r.file_version = (prev or 0) + 1
        if info.problem is not None:
            _record_problem(con, ctx, info.problem, "empty" if info.problem.kind == "empty_file" else "rejected")
            return
        original = con.execute(
            "SELECT file_path FROM audit.file_loads WHERE file_checksum = ? AND file_path <> ? "
            "AND status IN ('landed', 'landed_with_quarantine') ORDER BY started_at LIMIT 1",
            [info.checksum, ef.rel_path],
        ).fetchone()
        if original:
            r.duplicate_of = original[0]
            _record_problem(
                con,
                ctx,
                FileProblem("duplicate_file", f"same bytes as already landed {original[0]}; not read again"),
                "duplicate_file",
            )
            return
        try:
            staged = _stage(con, ef, info)
        except FileProblem as problem:
            _record_problem(con, ctx, problem, "rejected")
            return
        _check(con, ctx, staged, info.physical_lines)
        _load_rows(con, ctx, staged)
    finally:
        if info.read_path is not None and info.read_path != ef.path:
            info.read_path.unlink(missing_ok=True)


def _check(con: duckdb.DuckDBPyConnection, ctx: _Ctx, staged: stage.Staged, physical_lines: int) -> None:
    """Read (direct stages) and validate in one statement into `_checked`; number lines.

    One pass computes the typed values, the rule and (for failing rows only) raw text and
    detail; `_checkedl` is `_checked` plus the physical `_line`.
    """
    contract = ctx.ef.contract
    assert contract is not None
    load_ts = ctx.started.isoformat(sep=" ")
    cols = ", ".join(q(c) for c in contract.column_names)
    carry = "".join(f", {c}" for c in staged.carry)
    keep = "_rule IS NOT NULL" + (f" OR {staged.keep_raw_when}" if staged.keep_raw_when else "")
    nl = f", {staged.nl_expr} AS _nl" if staged.nl_expr else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _checked AS
        SELECT {cols}{carry}, _rule,
               CASE WHEN {keep} THEN {staged.raw_expr} END AS _raw,
               CASE WHEN _rule IS NOT NULL THEN {detail_case(contract, load_ts)} END AS _detail{nl}
        FROM (SELECT *, {rule_case(contract, load_ts)} AS _rule
              FROM (SELECT {typed_select(contract)} FROM {staged.relation}))"""
    )
    ctx.lap("read_check")
    if staged.direct:
        stage.number_checked(con, staged, physical_lines)
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW _checkedl AS SELECT * FROM _checked")
    if staged.keep_raw_when:
        stage.ndjson_extras(con, staged)
    ctx.lap("lines")


def _load_rows(con: duckdb.DuckDBPyConnection, ctx: _Ctx, staged: stage.Staged) -> None:
    ef, r = ctx.ef, ctx.result
    contract = ef.contract
    assert contract is not None
    cols = ", ".join(q(c) for c in contract.column_names)
    meta = f"{lit(ef.rel_path)}, {lit(r.checksum or '')}, _line, {lit(ctx.load_id)}, {ctx.started_sql}"
    problem = None
    warnings = list(staged.warnings)
    if staged.extra_columns:
        text = f"extra column(s) kept in _extra: {', '.join(staged.extra_columns)}"
        warnings.insert(0, text)
        problem = FileProblem("extra_column", text)

    con.execute("BEGIN")
    if r.file_version and r.file_version > 1:  # re-delivery: this version replaces the old rows
        con.execute(f"DELETE FROM {contract.raw_table} WHERE _file_path = ?", [ef.rel_path])
        if ef.vendor_format:
            con.execute("DELETE FROM raw_wearable.vendor_file_meta WHERE _file_path = ?", [ef.rel_path])
    landed = one(
        con.execute(
            f"INSERT INTO {contract.raw_table} ({cols}, _extra, _file_path, _file_checksum, _line_number, "
            f"_load_id, _loaded_at) SELECT {cols}, {staged.extra_expr}, {meta} FROM _checkedl WHERE _rule IS NULL"
        )
    )[0]
    ctx.lap("insert_raw")
    if ef.vendor_format:
        vendors.insert_vendor_meta(con, ef.vendor_format, meta)
    quarantined = one(
        con.execute(
            f"""INSERT INTO audit.quarantine
        SELECT {lit(ctx.load_id)}, {lit(ef.source)}, {lit(contract.table)}, {lit(ef.rel_path)},
               {lit(r.checksum or "")}, _line, _raw, _rule, _detail, {ctx.started_sql}
        FROM _checkedl WHERE _rule IS NOT NULL
        UNION ALL
        SELECT {lit(ctx.load_id)}, {lit(ef.source)}, {lit(contract.table)}, {lit(ef.rel_path)},
               {lit(r.checksum or "")}, _line, raw, 'malformed_line', detail, {ctx.started_sql}
        FROM _malformed"""
        )
    )[0]
    r.rows_read = staged.rows + staged.malformed
    r.rows_landed, r.rows_quarantined = landed, quarantined
    r.status = "landed_with_quarantine" if quarantined else "landed"
    r.warning = "; ".join(warnings) or None
    if r.rows_read != r.rows_landed + r.rows_quarantined:
        raise AssertionError(
            f"{ef.rel_path}: rows_read {r.rows_read} != landed {r.rows_landed} + quarantined {r.rows_quarantined}"  # noqa: E501
        )
    _audit(con, ctx, problem)
    con.execute("COMMIT")
    ctx.lap("quarantine_commit")
