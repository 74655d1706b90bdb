"""Land export files into the raw zone: one DuckDB transaction per file.

A file flows one way: detect and decode (files.inspect: bytes, encoding, line ends) ->
skip if this path+checksum is already recorded -> recognise the format by content
(detect.py) -> file-level problems (empty, truncated gzip, bad encoding, unrecognised,
missing required column, duplicate content) are recorded without reading rows -> stage
(stage.py for native files, adapters/ for vendor exports: one relation shape) ->
validate in SQL (validate.py) -> load: BEGIN; replace the previous version's rows;
insert valid rows into raw_<source>.<table>; insert the rest into audit.quarantine
(raw text of tables with direct identifiers into restricted.quarantine_raw instead);
-> audit: insert the audit.file_loads row; assert rows_read = rows_landed +
rows_quarantined; COMMIT. Any exception rolls the file back and records it as 'failed';
the next file still lands.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from patient360.land import stage
from patient360.land.adapters import Input, header_of
from patient360.land.detect import Format, accepted, detect
from patient360.land.erased import mark_erased
from patient360.land.files import ExportFile, FileProblem, Inspection, _sha256, inspect
from patient360.land.report import FileResult
from patient360.land.retention import purge_after_sql
from patient360.land.schema import q
from patient360.land.validate import detail_case, lit, rule_case, typed_select
from patient360.land.zones import has_clock_changes
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
        self.instant = datetime.now(UTC)  # "now" for not_future: an instant, whatever the server's zone
        self.fmt: Format | None = None
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
            ctx.fmt.name if ctx.fmt else (ctx.ef.contract.format if ctx.ef.contract else None),
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


def _stage(con: duckdb.DuckDBPyConnection, fmt: Format, info: Inspection, tmp_dir: Path) -> stage.Staged:
    assert info.read_path is not None
    gz = info.gzip and not info.transcoded  # transcoded files are plain text
    lines = info.head_lines()
    if fmt.adapter is not None:
        return fmt.adapter.stage(con, Input(info.read_path, gz, lines, info.physical_lines, tmp_dir))
    if fmt.contract.format == "ndjson":
        return stage.stage_ndjson(con, fmt.contract, info.read_path, gz)
    first = lines[0] if lines else ""
    header = header_of(first.replace("\t", ",") if fmt.delimiter == "\t" else first)
    return stage.stage_csv(con, fmt.contract, info.read_path, header, gz, info.has_quotes, fmt.delimiter)


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
        _record_failure(con, ctx, exc)
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


def _record_failure(con: duckdb.DuckDBPyConnection, ctx: _Ctx, exc: BaseException) -> None:
    """A failed attempt: no rows, the error, and its audit row (it does not count as landed)."""
    r, ef = ctx.result, ctx.ef
    r.status, r.error = "failed", f"{type(exc).__name__}: {exc}"
    r.rows_read = r.rows_landed = r.rows_quarantined = 0
    r.warning = None
    if r.checksum is None:
        r.checksum = _sha256(ef.path) if ef.path.exists() else None
    con.execute("BEGIN")
    _audit(con, ctx)
    con.execute("COMMIT")


def record_failure(
    con: duckdb.DuckDBPyConnection, ef: ExportFile, load_id: str, result: FileResult, exc: BaseException
) -> None:
    """Turn `result` into a failed attempt after land_file returned (a sink that could not
    write what the loader staged) and write its audit row on `con`."""
    ctx = _Ctx(ef, load_id)
    ctx.result = result
    _record_failure(con, ctx, exc)


def _land_file(con: duckdb.DuckDBPyConnection, ctx: _Ctx, tmp_dir: Path, inspection: Future[Inspection] | None) -> None:
    ef, r = ctx.ef, ctx.result
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
        ctx.fmt = fmt = detect(ef, info)
        if fmt is None:
            problem = FileProblem(
                "unmatched", f"not a recognised export for {ef.source}; accepted: {accepted(ef.source)}"
            )
            _record_problem(con, ctx, problem, "rejected")
            return
        r.table = fmt.contract.table
        if not fmt.accepts(info.encoding):
            looks = " (looks like GBK)" if info.encoding == "gb18030" else ""
            problem = FileProblem(
                "bad_encoding",
                f"not valid UTF-8{looks}: detected {info.encoding}; "
                f"accepted encodings for this file: {', '.join(fmt.encodings)}",
            )
            _record_problem(con, ctx, problem, "rejected")
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
            staged = _stage(con, fmt, info, tmp_dir)
        except FileProblem as problem:
            _record_problem(con, ctx, problem, "rejected")
            return
        staged.warnings = info.notes + staged.warnings
        staged.restricted_raw = any(c.pii == "direct" for c in fmt.contract.columns)
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
    assert ctx.fmt is not None
    contract, zone = ctx.fmt.contract, ctx.fmt.time_zone
    load_ts = ctx.instant.isoformat(sep=" ")
    cols = ", ".join(q(c) for c in contract.column_names)
    carry = "".join(f", {c}" for c in staged.carry)
    keep = "_rule IS NOT NULL" + (f" OR {staged.keep_raw_when}" if staged.keep_raw_when else "")
    nl = f", {staged.nl_expr} AS _nl" if staged.nl_expr else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _checked AS
        SELECT {cols}{carry}, _rule,
               CASE WHEN {keep} THEN {staged.raw_expr} END AS _raw,
               CASE WHEN _rule IS NOT NULL THEN {detail_case(contract, load_ts)} END AS _detail{nl}
        FROM (SELECT *, {rule_case(contract, load_ts, zone)} AS _rule
              FROM (SELECT {typed_select(contract, zone)} FROM {staged.relation}))"""
    )
    ctx.lap("read_check")
    _separate_clock_change_twins(con, ctx.fmt)
    mark_erased(con, contract)  # after every other rule: an erased person's row never lands
    if staged.direct:
        stage.number_checked(con, staged, physical_lines)
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW _checkedl AS SELECT * FROM _checked")
    if staged.keep_raw_when:
        stage.ndjson_extras(con, staged)
    ctx.lap("lines")


def _separate_clock_change_twins(con: duckdb.DuckDBPyConnection, fmt: Format) -> None:
    """Readings that share a displayed local time across a clock change stay distinct.

    When clocks go back, a local time without an offset names two instants an hour apart;
    DuckDB reads it as the later one. For a primary-key timestamp, the first of two valid
    rows with the same key and time (in file order: exports are chronological) is moved to
    the earlier instant. A lone row at such a time keeps the later reading (it cannot be
    told apart). Zones without daylight saving (Asia/Shanghai) skip this."""
    if not has_clock_changes(fmt.time_zone):
        return
    zone = lit(fmt.time_zone)
    pk = fmt.contract.primary_key
    for c in fmt.contract.columns:
        if c.name not in pk or "TIMESTAMPTZ" not in c.type.upper():
            continue
        ts, keys = q(c.name), ", ".join(q(k) for k in pk)
        con.execute(
            f"""UPDATE _checked SET {ts} = {ts} - INTERVAL 1 HOUR WHERE rowid IN (
                SELECT min(rowid) FROM _checked
                WHERE _rule IS NULL AND timezone({zone}, {ts} - INTERVAL 1 HOUR) = timezone({zone}, {ts})
                GROUP BY {keys} HAVING count(*) > 1)"""
        )


def _load_rows(con: duckdb.DuckDBPyConnection, ctx: _Ctx, staged: stage.Staged) -> None:
    ef, r, fmt = ctx.ef, ctx.result, ctx.fmt
    assert fmt is not None
    contract = fmt.contract
    cols = ", ".join(q(c) for c in contract.column_names)
    local_date = (
        f"CAST(timezone({lit(fmt.time_zone)}, {q(contract.local_date_of)}) AS DATE)"
        if contract.local_date_of
        else "NULL::DATE"
    )
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
        con.execute("DELETE FROM raw_wearable.vendor_file_meta WHERE _file_path = ?", [ef.rel_path])
    landed = one(
        con.execute(
            f"INSERT INTO {contract.raw_table} ({cols}, _extra, _file_path, _file_checksum, _line_number, "
            f"_load_id, _loaded_at, _local_date) SELECT {cols}, {staged.extra_expr}, {meta}, {local_date} "
            "FROM _checkedl WHERE _rule IS NULL"
        )
    )[0]
    ctx.lap("insert_raw")
    if staged.after_insert is not None:
        staged.after_insert(con, meta)
    quarantined = _quarantine(con, ctx, staged.restricted_raw)
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


def _quarantine(con: duckdb.DuckDBPyConnection, ctx: _Ctx, restricted: bool) -> int:
    """Failing rows -> audit.quarantine. For tables with direct identifiers the raw text goes
    to restricted.quarantine_raw (with its purge date) and audit.quarantine keeps NULL."""
    ef, r = ctx.ef, ctx.result
    assert ctx.fmt is not None
    head = f"{lit(ctx.load_id)}, {lit(ef.source)}, {lit(ctx.fmt.contract.table)}, {lit(ef.rel_path)}"
    rows = """SELECT _line, _raw AS raw, _rule AS rule, _detail AS detail FROM _checkedl WHERE _rule IS NOT NULL
        UNION ALL SELECT _line, raw, 'malformed_line', detail FROM _malformed"""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _qrows AS {rows}")
    if restricted:
        con.execute(
            f"""INSERT INTO restricted.quarantine_raw
            SELECT {head}, _line, raw, {ctx.started_sql}, {purge_after_sql(ctx.started_sql)}
            FROM _qrows WHERE raw IS NOT NULL"""
        )
    raw = "NULL" if restricted else "raw"
    n = one(
        con.execute(
            f"""INSERT INTO audit.quarantine SELECT {head}, {lit(r.checksum or "")}, _line, {raw}, rule, detail,
                {ctx.started_sql} FROM _qrows"""
        )
    )[0]
    con.execute("DROP TABLE _qrows")
    return n
