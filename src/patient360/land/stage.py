"""Read one file with DuckDB's native readers into temp tables, keeping physical line numbers.

CSV: `read_csv` with every column VARCHAR, strict RFC 4180 dialect and `store_rejects`,
so malformed lines go to a rejects table with their raw text instead of failing the
file. NDJSON: each physical line is read as text and parsed with `try(from_json(...))`
in SQL, so a broken line keeps its raw text too.

DuckDB numbers rejects by *logical* line (a record with a quoted newline counts once)
and does not expose a line number for good rows. Good rows are numbered by reader
order (`row_number() OVER ()`; DuckDB preserves insertion order), then mapped to
physical lines with two ASOF joins: one skips the rejected records, one adds the extra
lines of multi-line records. The second is only built when the physical line count
from files.inspect shows that some record spans several lines.

Temp objects (per connection): `_rows` (raw reader output + `_ord`), `_malformed`
(`_line`, `raw`, `detail`), `_rowsl` (view: `_rows` + physical `_line`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from patient360.contracts import Contract
from patient360.land.files import FileProblem
from patient360.land.schema import q
from patient360.land.validate import lit

TEMP_OBJECTS = ("_rowsl", "_stage")
TEMP_TABLES = ("_checked", "_rows", "_malformed", "_rejmap", "_nlcum", "_p360_rej", "_p360_scan")


@dataclass
class Staged:
    rows: int = 0  # records the reader returned
    malformed: int = 0  # records rejected by the reader (already in _malformed)
    extra_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def reset(con: duckdb.DuckDBPyConnection) -> None:
    for view in TEMP_OBJECTS:
        con.execute(f"DROP VIEW IF EXISTS temp.{view}")
    for table in TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _path_sql(path: Path) -> str:
    return lit(str(path))


def _finish_lines(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    header_lines: int,
    physical_lines: int,
    nl_expr: str | None,
) -> None:
    """Build _malformed and the _rowsl view (physical `_line` for every good row)."""
    h = header_lines
    con.execute(
        f"""CREATE TEMP TABLE _malformed AS
        SELECT line - {h} AS _rec, first(csv_line ORDER BY column_idx) AS raw,
               string_agg(error_type || ': ' || error_message, '; ' ORDER BY column_idx) AS detail
        FROM temp._p360_rej GROUP BY line"""
    )
    staged.malformed = con.execute("SELECT count(*) FROM _malformed").fetchone()[0]
    # g = good rows before the j-th rejected record
    con.execute(
        "CREATE TEMP TABLE _rejmap AS SELECT _rec - j AS g, j FROM "
        "(SELECT _rec, row_number() OVER (ORDER BY _rec) AS j FROM _malformed)"
    )
    rec = "r._ord + coalesce(m.j, 0)"
    rec_join = "ASOF LEFT JOIN _rejmap m ON r._ord > m.g" if staged.malformed else ""
    if not staged.malformed:
        rec = "r._ord"
    multiline = physical_lines - h != staged.rows + staged.malformed
    if multiline and nl_expr is not None:
        con.execute(
            f"""CREATE TEMP TABLE _nlcum AS
            SELECT rec, sum(extra) OVER (ORDER BY rec) AS cum FROM (
                SELECT {rec} AS rec, {nl_expr} AS extra FROM _rows r {rec_join}
                UNION ALL
                SELECT _rec, length(raw) - length(replace(raw, chr(10), '')) FROM _malformed
            ) WHERE extra > 0"""
        )
        con.execute(
            f"""CREATE TEMP VIEW _rowsl AS
            SELECT x.* EXCLUDE (_rec), x._rec + {h} + coalesce(e.cum, 0) AS _line
            FROM (SELECT r.*, {rec} AS _rec FROM _rows r {rec_join}) x
            ASOF LEFT JOIN _nlcum e ON x._rec > e.rec"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _malformed AS
            SELECT mm._rec, mm.raw, mm.detail, mm._rec + coalesce(e.cum, 0) AS _rec_phys
            FROM _malformed mm ASOF LEFT JOIN _nlcum e ON mm._rec > e.rec"""
        )
        con.execute(
            f"ALTER TABLE _malformed ADD COLUMN _line BIGINT; UPDATE _malformed SET _line = _rec_phys + {h}"
        )
        last = con.execute(
            "SELECT max(_line) FROM (SELECT _line FROM _rowsl UNION ALL SELECT _line FROM _malformed)"
        )
        top = last.fetchone()[0] or 0
        if top != physical_lines:
            staged.warnings.append(
                f"line numbers may be approximate: last record maps to line {top} of {physical_lines} "
                "(blank lines are skipped by the CSV reader)"
            )
    else:
        con.execute(f"CREATE TEMP VIEW _rowsl AS SELECT r.*, {rec} + {h} AS _line FROM _rows r {rec_join}")
        con.execute(
            f"ALTER TABLE _malformed ADD COLUMN _line BIGINT; UPDATE _malformed SET _line = _rec + {h}"
        )


def read_csv_rows(
    con: duckdb.DuckDBPyConnection, path: Path, header: list[str], gz: bool, physical_lines: int
) -> Staged:
    """`_rows` with one VARCHAR column per header name (in file order)."""
    reset(con)
    staged = Staged()
    cols = "{" + ", ".join(f"{lit(name)}: 'VARCHAR'" for name in header) + "}"
    con.execute(
        f"""CREATE TEMP TABLE _rows AS SELECT row_number() OVER () AS _ord, *
        FROM read_csv({_path_sql(path)}, header = true, delim = ',', quote = '"', escape = '"',
                      strict_mode = true, auto_detect = false, columns = {cols},
                      compression = {"'gzip'" if gz else "'none'"},
                      store_rejects = true, rejects_table = '_p360_rej', rejects_scan = '_p360_scan')"""
    )
    staged.rows = con.execute("SELECT count(*) FROM _rows").fetchone()[0]
    concat = "concat(" + ", ".join(f"coalesce({q(n)}, '')" for n in header) + ")"
    nl_expr = f"length({concat}) - length(replace({concat}, chr(10), ''))"
    _finish_lines(con, staged, 1, physical_lines, nl_expr)
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


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    path: Path,
    header: list[str],
    gz: bool,
    physical_lines: int,
) -> Staged:
    """Stage a contract CSV: map header columns by name; apply the schema-drift policy."""
    names = contract.column_names
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise FileProblem("duplicate_column", f"header repeats column(s): {', '.join(dupes)}")
    missing = [n for n in names if n not in header]
    missing_required = [n for n in missing if contract.column(n).required]
    if missing_required:
        raise FileProblem("missing_column", f"header lacks required column(s): {', '.join(missing_required)}")
    header = [h or f"_unnamed_{i + 1}" for i, h in enumerate(header)]
    staged = read_csv_rows(con, path, header, gz, physical_lines)
    if missing:
        staged.warnings.append(f"optional column(s) missing, landed as NULL: {', '.join(missing)}")
    staged.extra_columns = [h for h in header if h not in names]
    values = [
        f"{q(n)} AS {q('__v_' + n)}" if n in header else f"NULL::VARCHAR AS {q('__v_' + n)}" for n in names
    ]
    extra = (
        "json_object(" + ", ".join(f"{lit(x)}, {q(x)}" for x in staged.extra_columns) + ")"
        if staged.extra_columns
        else "NULL"
    )
    con.execute(
        f"""CREATE TEMP VIEW _stage AS SELECT _line, NULL::VARCHAR AS __malformed, {", ".join(values)},
        CAST({extra} AS JSON) AS _extra, {csv_record(header)} AS _raw FROM _rowsl"""
    )
    return staged


def stage_ndjson(
    con: duckdb.DuckDBPyConnection, contract: Contract, path: Path, gz: bool, physical_lines: int
) -> Staged:
    """Stage NDJSON: one physical line per record; invalid JSON becomes malformed_line."""
    reset(con)
    staged = Staged()
    struct = json.dumps({n: "VARCHAR" for n in contract.column_names})
    # \x1f cannot occur raw in valid JSON; a line containing it is rejected (kept) by the reader.
    con.execute(
        f"""CREATE TEMP TABLE _rows AS
        SELECT row_number() OVER () AS _ord, line,
               CASE WHEN line IS NULL OR trim(line) = '' THEN 'blank line'
                    WHEN NOT json_valid(line) THEN 'invalid JSON'
                    WHEN json_type(line) <> 'OBJECT' THEN 'JSON value is not an object' END AS __malformed
        FROM read_csv({_path_sql(path)}, header = false, delim = '\x1f', quote = '', escape = '',
                      auto_detect = false, columns = {{'line': 'VARCHAR'}},
                      compression = {"'gzip'" if gz else "'none'"},
                      store_rejects = true, rejects_table = '_p360_rej', rejects_scan = '_p360_scan')"""
    )
    staged.rows = con.execute("SELECT count(*) FROM _rows").fetchone()[0]
    _finish_lines(con, staged, 0, physical_lines, None)
    keys = con.execute(
        "SELECT DISTINCT unnest(json_keys(line)) AS k FROM _rows WHERE __malformed IS NULL ORDER BY k"
    ).fetchall()
    staged.extra_columns = [k for (k,) in keys if k not in contract.column_names]
    values = [f"NULLIF(j.{q(n)}, '') AS {q('__v_' + n)}" for n in contract.column_names]
    extra = (
        "json_object("
        + ", ".join(f"{lit(x)}, json_extract(line, {lit('$.' + q(x))})" for x in staged.extra_columns)
        + ")"
        if staged.extra_columns
        else "NULL"
    )
    con.execute(
        f"""CREATE TEMP VIEW _stage AS
        SELECT _line, __malformed, {", ".join(values)},
               CASE WHEN __malformed IS NULL THEN CAST({extra} AS JSON) END AS _extra, line AS _raw
        FROM (SELECT *, CASE WHEN __malformed IS NULL THEN from_json(line, {lit(struct)}) END AS j
              FROM _rowsl)"""
    )
    return staged
