"""Describe how to read one file with DuckDB's native readers, and number its physical lines.

A stage is a SQL relation that the checker (validate.py / loader.py) consumes in the
same statement that reads the file: `__malformed` (text or NULL), `__layout` and
`__layout_detail` (a vendor date-layout rule broken, or NULL), one VARCHAR column
`__v_<name>` per contract column and `_extra` (JSON), plus `raw_expr`, the SQL for a
row's raw text, evaluated only for rows that break a rule. Every format, native or
vendor (adapters/), produces this one shape.

CSV: `read_csv` with every column VARCHAR (named `__c1..__cN` so they never clash with
contract names), strict RFC 4180 dialect and `store_rejects`, so malformed lines go to a
rejects table with their raw text instead of failing the file. NDJSON: each physical
line is read as text and parsed once with `try(from_json(line, <struct>))`, so a broken
line keeps its raw text too; unknown keys come from `json_keys`, only on lines that hold
more keys than the struct matched.

Line numbers ("direct" stages, the normal path): the checker writes every record into the
temp table `_checked` in reader order (DuckDB preserves insertion order), so its rowid is
the record's ordinal. DuckDB numbers rejects by *logical* line (a record with a quoted
newline counts once), so ordinals are mapped to physical lines with two ASOF joins: one
skips the rejected records, one adds the extra lines of multi-line records. Both are
only built when needed: the first when the reader rejected something, the second when
the physical line count from files.inspect shows that some record spans several lines
(the per-record newline count `_nl` is only computed for files that contain a quote).

Vendor exports (adapters/) filter and reshape rows, so they are staged in two steps
instead: `_rows` (raw reader output) and the `_rowsl` view (+ physical `_line`).

Contract CSV headers are matched by column name or by one of the column's declared
`aliases` (HIS exports with Chinese headers: 姓名 -> name); a column's `value_aliases`
map exported values onto contract values (性别 男 -> M) before validation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from patient360.contracts import Contract
from patient360.land.files import FileProblem
from patient360.land.schema import q
from patient360.land.validate import lit
from patient360.warehouse import one

TEMP_VIEWS = ("_checkedl", "_rowsl", "_stage")
TEMP_TABLES = ("_checked", "_rows", "_malformed", "_qrows", "_rejmap", "_nlcum", "_p360_rej", "_p360_scan")
REJECTS = "store_rejects = true, rejects_table = '_p360_rej', rejects_scan = '_p360_scan'"


@dataclass
class Staged:
    relation: str = "_stage"  # SQL relation: __malformed, __v_<col> (+ _extra, _line if not direct)
    raw_expr: str = "_raw"  # raw text of a row, evaluated over `relation` for failing rows only
    direct: bool = True  # relation reads the file itself; _line is numbered after the read
    header_lines: int = 1
    nl_expr: str | None = None  # direct CSV: newlines inside a record, when the file has quotes
    keep_raw_when: str | None = None  # also keep `_raw` for valid rows matching this (NDJSON extras)
    carry: list[str] = field(default_factory=list)  # relation columns copied into _checked
    extra_expr: str = "_extra"  # the landed `_extra`, over _checked
    rows: int = 0  # records the reader returned
    malformed: int = 0  # records rejected by the reader (in _malformed after number_lines)
    extra_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # vendor rows that are not readings, written in the file's transaction: (con, meta SQL) -> None
    after_insert: Callable[[duckdb.DuckDBPyConnection, str], object] | None = None
    # this file's quarantined raw text may hold direct identifiers (restricted zone, retention)
    restricted_raw: bool = False


NO_LAYOUT = "NULL::VARCHAR AS __layout, NULL::VARCHAR AS __layout_detail"


def reset(con: duckdb.DuckDBPyConnection) -> None:
    for view in TEMP_VIEWS:
        con.execute(f"DROP VIEW IF EXISTS temp.{view}")
    for table in TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _compression(gz: bool) -> str:
    return "'gzip'" if gz else "'none'"


def number_lines(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    src: str,
    physical_lines: int,
    out_view: str,
    nl_expr: str | None,
) -> None:
    """Build `_malformed` (`_line`, raw, detail) and view `out_view` = `src` + physical `_line`.

    `src` has `_ord`, the 1-based ordinal of each good record in reader order.
    """
    h = staged.header_lines
    con.execute(
        f"""CREATE TEMP TABLE _malformed AS
        SELECT line - {h} AS _rec, first(csv_line ORDER BY column_idx) AS raw,
               string_agg(error_type || ': ' || error_message, '; ' ORDER BY column_idx) AS detail
        FROM temp._p360_rej GROUP BY line"""
    )
    staged.malformed = one(con.execute("SELECT count(*) FROM _malformed"))[0]
    rec, rec_join = "r._ord", ""
    if staged.malformed:
        # g = good rows before the j-th rejected record
        con.execute(
            "CREATE TEMP TABLE _rejmap AS SELECT _rec - j AS g, j FROM "
            "(SELECT _rec, row_number() OVER (ORDER BY _rec) AS j FROM _malformed)"
        )
        rec, rec_join = "r._ord + coalesce(m.j, 0)", "ASOF LEFT JOIN _rejmap m ON r._ord > m.g"
    multiline = physical_lines - h != staged.rows + staged.malformed
    if multiline and nl_expr is not None:
        con.execute(
            f"""CREATE TEMP TABLE _nlcum AS
            SELECT rec, sum(extra) OVER (ORDER BY rec) AS cum FROM (
                SELECT {rec} AS rec, {nl_expr} AS extra FROM {src} r {rec_join}
                UNION ALL
                SELECT _rec, length(raw) - length(replace(raw, chr(10), '')) FROM _malformed
            ) WHERE extra > 0"""
        )
        con.execute(
            f"""CREATE TEMP VIEW {out_view} AS
            SELECT x.* EXCLUDE (_rec), x._rec + {h} + coalesce(e.cum, 0) AS _line
            FROM (SELECT r.*, {rec} AS _rec FROM {src} r {rec_join}) x
            ASOF LEFT JOIN _nlcum e ON x._rec > e.rec"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _malformed AS
            SELECT mm._rec, mm.raw, mm.detail, mm._rec + coalesce(e.cum, 0) AS _rec_phys
            FROM _malformed mm ASOF LEFT JOIN _nlcum e ON mm._rec > e.rec"""
        )
        con.execute(f"ALTER TABLE _malformed ADD COLUMN _line BIGINT; UPDATE _malformed SET _line = _rec_phys + {h}")
        last = con.execute(
            f"SELECT max(_line) FROM (SELECT _line FROM {out_view} UNION ALL SELECT _line FROM _malformed)"
        )
        top = one(last)[0] or 0
        if top != physical_lines:
            staged.warnings.append(
                f"line numbers may be approximate: last record maps to line {top} of {physical_lines} "
                "(blank lines are skipped by the CSV reader)"
            )
    else:
        con.execute(f"CREATE TEMP VIEW {out_view} AS SELECT r.*, {rec} + {h} AS _line FROM {src} r {rec_join}")
        con.execute(f"ALTER TABLE _malformed ADD COLUMN _line BIGINT; UPDATE _malformed SET _line = _rec + {h}")


def number_checked(con: duckdb.DuckDBPyConnection, staged: Staged, physical_lines: int) -> None:
    """After the checker wrote `_checked` from a direct stage: `_malformed` and view `_checkedl`."""
    staged.rows = one(con.execute("SELECT count(*) FROM _checked"))[0]
    nl = staged.nl_expr and "_nl"
    if nl is None and staged.header_lines:  # CSV without quotes: no record spans lines
        nl = "0"
    src = "(SELECT *, rowid + 1 AS _ord FROM _checked)"
    number_lines(con, staged, src, physical_lines, "_checkedl", nl)


def _csv_reader(
    path: Path, columns: list[str], gz: bool, delim: str = ",", skip: int = 0, null_padding: bool = False
) -> str:
    cols = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in columns) + "}"
    return f"""read_csv({lit(str(path))}, header = true, delim = {lit(delim)}, quote = '"', escape = '"',
                      strict_mode = true, auto_detect = false, columns = {cols}, skip = {skip},
                      null_padding = {str(null_padding).lower()}, compression = {_compression(gz)}, {REJECTS})"""


def read_csv_rows(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    header: list[str],
    gz: bool,
    physical_lines: int,
    skip: int = 0,
    null_padding: bool = False,
) -> Staged:
    """Materialised staging (vendor exports): `_rows` with one VARCHAR column per header
    name (in file order) and the `_rowsl` view with physical `_line`. `skip` lines come
    before the header; `null_padding` reads short lines as rows (missing fields NULL)."""
    reset(con)
    staged = Staged(direct=False, carry=["_line", "_extra"], header_lines=1 + skip)
    reader = _csv_reader(path, header, gz, skip=skip, null_padding=null_padding)
    con.execute(f"CREATE TEMP TABLE _rows AS SELECT * FROM {reader}")
    staged.rows = one(con.execute("SELECT count(*) FROM _rows"))[0]
    concat = "concat(" + ", ".join(f"coalesce({q(n)}, '')" for n in header) + ")"
    nl_expr = f"length({concat}) - length(replace({concat}, chr(10), ''))"
    number_lines(con, staged, "(SELECT *, rowid + 1 AS _ord FROM _rows)", physical_lines, "_rowsl", nl_expr)
    return staged


def csv_record(header: list[str], alias: str = "") -> str:
    """SQL re-serialising a staged row as a CSV line (the raw text of a quarantined row)."""
    fields = []
    for name in header:
        col = alias + q(name)
        fields.append(
            f"CASE WHEN {col} IS NULL THEN '' WHEN regexp_matches({col}, '[,\"\\r\\n]') "
            f"THEN '\"' || replace({col}, '\"', '\"\"') || '\"' ELSE {col} END"
        )
    return "concat_ws(',', " + ", ".join(fields) + ")"


def canonical_header(contract: Contract, header: list[str]) -> list[str]:
    """Header names with declared aliases replaced by their contract column name."""
    alias = {a: c.name for c in contract.columns for a in c.aliases}
    return [alias.get(h, h) for h in header]


def _value(col_sql: str, value_aliases: tuple[tuple[str, str], ...]) -> str:
    if not value_aliases:
        return col_sql
    whens = " ".join(f"WHEN {lit(a)} THEN {lit(b)}" for a, b in value_aliases)
    return f"CASE trim({col_sql}) {whens} ELSE {col_sql} END"


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    path: Path,
    header: list[str],
    gz: bool,
    has_quotes: bool = True,
    delim: str = ",",
) -> Staged:
    """Direct stage of a contract CSV: map header columns by name or alias; apply the schema-drift policy."""
    reset(con)
    names = contract.column_names
    header = canonical_header(contract, header)
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise FileProblem("duplicate_column", f"header repeats column(s): {', '.join(dupes)}")
    missing = [n for n in names if n not in header]
    missing_required = [n for n in missing if contract.column(n).required]
    if missing_required:
        raise FileProblem("missing_column", f"header lacks required column(s): {', '.join(missing_required)}")
    header = [h or f"_unnamed_{i + 1}" for i, h in enumerate(header)]
    pos = [f"__c{i + 1}" for i in range(len(header))]
    by_name = {h: q(p) for h, p in zip(header, pos, strict=True)}
    staged = Staged(raw_expr=csv_record(pos), carry=["_extra"])
    if missing:
        staged.warnings.append(f"optional column(s) missing, landed as NULL: {', '.join(missing)}")
    staged.extra_columns = [h for h in header if h not in names]
    values = [
        f"{_value(by_name[n], contract.column(n).value_aliases)} AS {q('__v_' + n)}"
        if n in by_name
        else f"NULL::VARCHAR AS {q('__v_' + n)}"
        for n in names
    ]
    extra = (
        "json_object(" + ", ".join(f"{lit(x)}, {by_name[x]}" for x in staged.extra_columns) + ")"
        if staged.extra_columns
        else "NULL"
    )
    staged.relation = f"""(SELECT *, NULL::VARCHAR AS __malformed, {NO_LAYOUT}, {", ".join(values)},
        CAST({extra} AS JSON) AS _extra FROM {_csv_reader(path, pos, gz, delim)})"""
    if has_quotes:
        concat = "concat(" + ", ".join(f"coalesce({q(p)}, '')" for p in pos) + ")"
        staged.nl_expr = f"length({concat}) - length(replace({concat}, chr(10), ''))"
    return staged


def stage_ndjson(con: duckdb.DuckDBPyConnection, contract: Contract, path: Path, gz: bool) -> Staged:
    """Direct stage of NDJSON: one physical line per record; invalid JSON is malformed_line.

    Each line is parsed once into the contract struct; `json_keys` (a second parse) lists
    unknown keys per record, kept in `_xkeys` (NULL when none). `_extra` is built after the
    read (ndjson_extras), from the kept raw line of only the records that have unknown keys.
    """
    reset(con)
    names = contract.column_names
    struct = lit(json.dumps({n: "VARCHAR" for n in names}))
    known = "[" + ", ".join(lit(n) for n in names) + "]"
    # \x1f cannot occur raw in valid JSON; a line containing it is rejected (kept) by the reader.
    reader = f"""read_csv({lit(str(path))}, header = false, delim = '\x1f', quote = '', escape = '',
                 auto_detect = false, columns = {{'line': 'VARCHAR'}}, compression = {_compression(gz)},
                 {REJECTS})"""
    values = [f"NULLIF(j.{q(n)}, '') AS {q('__v_' + n)}" for n in names]
    staged = Staged(raw_expr="line", header_lines=0, keep_raw_when="_xkeys IS NOT NULL", extra_expr="NULL")
    staged.carry = ["_xkeys"]
    # CASE evaluates each branch only for the rows that reach it: json_valid / json_type
    # run on broken lines only (a valid object starts with '{').
    staged.relation = f"""(SELECT *, {NO_LAYOUT}, {", ".join(values)},
            CASE WHEN __malformed IS NULL
                 THEN NULLIF(list_filter(json_keys(line), lambda k: NOT list_contains({known}, k)), []) END
                AS _xkeys
        FROM (SELECT line, j,
               CASE WHEN line IS NULL OR ascii(line) NOT BETWEEN 33 AND 126 AND trim(line) = '' THEN 'blank line'
                    WHEN j IS NULL AND NOT json_valid(line) THEN 'invalid JSON'
                    WHEN j IS NULL THEN 'JSON value is not an object'
                    WHEN starts_with(ltrim(line), '{{') THEN NULL
                    WHEN json_type(line) <> 'OBJECT' THEN 'JSON value is not an object' END AS __malformed
            FROM (SELECT line, try(from_json(line, {struct})) AS j FROM {reader})))"""
    return staged


def ndjson_extras(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """After the check: the file's unknown keys and the `_extra` expression over `_checked`."""
    keys = con.execute(
        "SELECT DISTINCT unnest(_xkeys) AS k FROM _checked WHERE _xkeys IS NOT NULL ORDER BY k"
    ).fetchall()
    staged.extra_columns = [k for (k,) in keys]
    if staged.extra_columns:
        obj = ", ".join(f"{lit(x)}, json_extract(_raw, {lit('$.' + q(x))})" for x in staged.extra_columns)
        nulls = ", ".join(f"{lit(x)}, NULL" for x in staged.extra_columns)
        staged.extra_expr = (
            f"CAST(CASE WHEN _xkeys IS NULL THEN json_object({nulls}) ELSE json_object({obj}) END AS JSON)"
        )
