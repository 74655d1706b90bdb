"""Scan every column of every published (`marts`) table for PII, inside DuckDB.

Per column, DuckDB reduces the column to its distinct values with their row counts,
then counts rows matching each detector (RE2 prefilter + exact validation macro, and the
evasion-resistant Python detectors on the normalised value as UDFs), dictionary hits
against `restricted.person_identifiers` and raw record numbers (whole value, embedded
tokens, CJK name n-grams incl. honorific forms, romanised names) and, for pseudonym
columns, format, plain-hash and issuance violations. Comments and Parquet metadata are
scanned as text. Only counts come back to Python; the UDFs see distinct values only.

Birth-date rule (documented in expectations/README.md): a full date held as text is a
suspected birth date anywhere; a DATE/TIMESTAMP value is one except in allow-listed
`event_date` columns; an event-date column fails if a value lies outside [event_date_min,
today] or if > 10 % of its rows equal the birth date of the row's own patient (a column of
birthdays, not of events; chance level is ~0.3 %).
"""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from patient360.gates import name_forms
from patient360.gates import pii_patterns as P
from patient360.gates.candidate import Candidate
from patient360.gates.metrics import Metric, q, sql_str, table_exists
from patient360.gates.pii_normalise import decode_blob, normalise
from patient360.gates.scan_cache import ScanCache
from patient360.gates.schema_allowlist import DATE_TYPES, PUBLISHED_SCHEMA, Allowlist
from patient360.identifiers import install_macros
from patient360.parquet_metadata import ARROW_SCHEMA_KEY, metadata_texts
from patient360.pseudonym import pseudonymise
from patient360.record_keys import RECORD_KEYS
from patient360.warehouse import one

log = logging.getLogger(__name__)

SUITE = "pii_masking"
OWN_BIRTHDAY_SHARE = 0.10
ADDRESS_GRAM = 6
NUMERIC_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                    "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")  # fmt: skip
TEXT_CHECKS = (
    "mobile", "resident_id", "resident_id_15", "email", "wechat_id", "device_serial", "address", "birth_date",
)  # fmt: skip
NUMERIC_CHECKS = ("mobile", "resident_id", "resident_id_15", "bank_card", "birth_date")
# Numbers below this cannot spell an identifier (the smallest is a YYYYMMDD date from 1900).
NUMERIC_FLOOR = 1e7
PERSON_KEY = "patient_key"
HAN_NAME = "[\u3400-\u9fff]+"


def _r(pattern: str) -> str:
    return sql_str(pattern)


def _text_pattern_sql() -> str:
    # A full date held as text is a suspected birth date even in a column the allow-list marks
    # as an event date: event dates are published as DATE, where the event-date rules apply.
    nd = "NOT dg AND "
    birth = f"{nd}regexp_matches(v, {_r(P.FULL_DATE)})"
    exprs = {
        "mobile": f"{nd}regexp_matches(v, {_r(P.MOBILE)})",
        "resident_id": f"{nd}regexp_matches(v, {_r(P.RIC18)}) AND list_bool_or(list_transform("
        f"regexp_extract_all(v, {_r(P.RIC18)}, 1), lambda x: p360_ric_valid(x)))",
        "resident_id_15": f"{nd}regexp_matches(v, {_r(P.RIC15)}) AND list_bool_or(list_transform("
        f"regexp_extract_all(v, {_r(P.RIC15)}, 1), lambda x: p360_ric15_valid(x)))",
        "email": f"{nd}regexp_matches(v, {_r(P.EMAIL)})",
        "wechat_id": f"{nd}regexp_matches(v, {_r(P.WECHAT)}) AND list_bool_or(list_transform("
        f"regexp_extract_all(v, {_r(P.WECHAT)}, 1), lambda x: regexp_matches(x, {_r(P.WECHAT_UPPER)})))",
        "device_serial": f"{nd}regexp_matches(v, {_r(P.DEVICE_SERIAL)}) AND list_bool_or(list_transform("
        f"regexp_extract_all(v, {_r(P.DEVICE_SERIAL)}, 1), lambda x: regexp_matches(x, {_r(P.DEVICE_SERIAL_HEX)})))",
        "address": f"{nd}regexp_matches(v, {_r(P.ADDRESS)})",
        "birth_date": birth,
    }
    return ",\n".join(f"coalesce(sum(n) FILTER (WHERE {e}), 0) AS {k}" for k, e in exprs.items())


def _insert_strings(con: duckdb.DuckDBPyConnection, table: str, values: list[str]) -> None:
    """One statement for the whole list: executemany costs a statement per row (about 130 µs;
    19 s for 150,000 name forms, against 0.07 s as one list parameter)."""
    if values:
        con.execute(f"INSERT INTO {table} SELECT unnest(?::VARCHAR[])", [values])


class PiiScanner:
    """Holds the temp dictionaries for one gate run on one read-only connection.

    key: the pseudonym key, to re-derive the issued record pseudonyms (None: they cannot be
    verified, which blocks). Values are read through `normalise` (UDF `p360_normalise`) so
    full-width, zero-width, escaped and spaced spellings meet the same detectors."""

    def __init__(self, con: duckdb.DuckDBPyConnection, allow: Allowlist, today: date, key: bytes | None = None):
        self.con, self.allow, self.today, self.key = con, allow, today, key
        self.metrics: list[Metric] = []
        # TEMP: the connection is read-only, and the rule must not depend on the warehouse's copy
        install_macros(con, temp=True)
        self.has_dictionary = table_exists(con, "restricted", "person_identifiers")
        self.romanised: set[str] = set()
        self._register_udfs()
        self._build_dictionaries()

    def _add(self, table: str, column: str, check: str, rows: int, detail: str = "") -> None:
        self.metrics.append(Metric(SUITE, table, column, check, float(rows or 0), detail))

    def _register_udfs(self) -> None:
        functions: dict[str, tuple[Any, list[Any], Any]] = {
            "p360_normalise": (normalise, ["VARCHAR"], "VARCHAR"),
            "p360_find_pii": (P.find_pii, ["VARCHAR"], "VARCHAR[]"),
            "p360_numeric_pii": (P.numeric_pii, ["VARCHAR", "VARCHAR"], "VARCHAR[]"),
            "p360_blob_text": (decode_blob, ["BLOB"], "VARCHAR"),
            "p360_romanised_name": (lambda v: name_forms.romanised_hit(v, self.romanised), ["VARCHAR"], "BOOLEAN"),
            "p360_gate_pseudonym": (lambda v: pseudonymise(v, self.key or b""), ["VARCHAR"], "VARCHAR"),
        }
        self.con.execute("SELECT 1").fetchall()  # DuckDB registers functions only with no result pending
        for name, (fn, args, ret) in functions.items():
            with contextlib.suppress(duckdb.InvalidInputException, duckdb.CatalogException):
                self.con.remove_function(name)  # a second scanner on the same connection
            self.con.create_function(name, fn, args, ret, side_effects=False)

    # --- dictionaries from the restricted zone ----------------------------------------
    def _build_dictionaries(self) -> None:
        con = self.con
        con.execute("CREATE OR REPLACE TEMP TABLE gate_dict (pii VARCHAR, uvalue VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE gate_names (name VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE gate_addr_grams (g VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE gate_hashes (h VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE gate_birth (patient_key VARCHAR, birth DATE)")
        con.execute("CREATE OR REPLACE TEMP TABLE gate_issued (k VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE gate_record_keys (tbl VARCHAR, col VARCHAR, k VARCHAR)")
        if not self.has_dictionary:
            self._add("restricted.person_identifiers", "", "dictionary_unavailable", 1,
                      "restricted zone missing: names, serials and plain hashes cannot be checked")  # fmt: skip
            return
        mapping = " ".join(f"WHEN {sql_str(k)} THEN {sql_str(v)}" for k, v in P.DICTIONARY_TYPES.items())
        vocab = sorted(self.allow.all_accepted_values())
        con.execute("CREATE OR REPLACE TEMP TABLE gate_vocab (term VARCHAR)")
        _insert_strings(con, "gate_vocab", vocab)
        src = "restricted.person_identifiers"
        # Birth dates are matched by the date rules, not as dictionary strings (event dates
        # would collide with somebody's birthday); vocabulary terms are never names.
        con.execute(f"""
            INSERT INTO gate_dict
            SELECT DISTINCT CASE identifier_type {mapping} ELSE 'record_id' END, upper(trim(identifier_value))
            FROM {src}
            WHERE identifier_value IS NOT NULL AND length(trim(identifier_value)) >= 2
              AND identifier_type <> 'birth_date'
              AND upper(trim(identifier_value)) NOT IN (SELECT upper(term) FROM gate_vocab)""")
        self._record_dictionary()
        self._name_dictionary(src)
        # Addresses inside longer text: any 6-character CJK run of a restricted address
        # (province+city+district or street spellings are that specific).
        con.execute(f"""
            INSERT INTO gate_addr_grams
            SELECT DISTINCT g FROM (
                SELECT unnest(list_transform(range(1, greatest(length(r) - {ADDRESS_GRAM} + 2, 1)),
                                             lambda s: substr(r, s, {ADDRESS_GRAM}))) AS g
                FROM (SELECT unnest(regexp_extract_all(p360_normalise(identifier_value), {_r(P.HAN_RUN)})) AS r
                      FROM {src} WHERE identifier_type = 'address'))
            WHERE g NOT IN (SELECT term FROM gate_vocab)""")
        con.execute(f"""
            INSERT INTO gate_hashes
            SELECT DISTINCT h FROM (
                SELECT identifier_value AS s FROM {src} WHERE identifier_value IS NOT NULL
                UNION ALL
                SELECT identifier_type || ':' || identifier_value FROM {src} WHERE identifier_value IS NOT NULL
            ), LATERAL (SELECT unnest([sha256(s), md5(s), sha1(s)]) AS h)""")
        con.execute(f"""
            INSERT INTO gate_birth
            SELECT DISTINCT patient_key, TRY_CAST(identifier_value AS DATE) FROM {src}
            WHERE identifier_type = 'birth_date' AND TRY_CAST(identifier_value AS DATE) IS NOT NULL""")
        # The identity map: every person pseudonym issued for the current build, and every one
        # issued before to a person since merged into another (restricted.person_keys keeps them):
        # the published key map (patient_key_map) leads BI from those retired keys to the survivors.
        links = "restricted.identity_links" if table_exists(con, "restricted", "identity_links") else src
        con.execute(f"INSERT INTO gate_issued SELECT DISTINCT patient_key FROM {links} WHERE patient_key IS NOT NULL")
        if table_exists(con, "restricted", "person_keys"):
            con.execute("INSERT INTO gate_issued SELECT patient_key FROM restricted.person_keys "
                        "WHERE patient_key IS NOT NULL")  # fmt: skip

    def _name_dictionary(self, src: str) -> None:
        """Restricted names, normalised like the values, plus their honorific and romanised forms."""
        rows = self.con.execute(f"""
            SELECT DISTINCT p360_normalise(trim(identifier_value)) FROM {src}
            WHERE identifier_type IN ('name', 'person_name')""").fetchall()
        vocab = {t for (t,) in self.con.execute("SELECT term FROM gate_vocab").fetchall()}
        names = {n for (n,) in rows if n and 2 <= len(n) <= 8 and re.fullmatch(HAN_NAME, n) and n not in vocab}
        forms = names | {h for n in names for h in name_forms.honorific_forms(n)}
        _insert_strings(self.con, "gate_names", sorted(forms))
        # A romanised name that is an ordinary word of the project's own documentation ("binding" =
        # Bin Ding) would flag every comment that uses the word: not a name signal on its own.
        self.romanised = {r for n in names for r in name_forms.romanised_forms(n)} - name_forms.documented_words()

    def _record_dictionary(self) -> None:
        """Source record numbers (raw zone) as dictionary entries, and the pseudonyms issued for them."""
        for (table, column), rk in RECORD_KEYS.items():
            schema, raw = rk.raw_table.split(".")
            if not table_exists(self.con, schema, raw):
                continue
            ids = (
                f"SELECT DISTINCT CAST({q(rk.id_column)} AS VARCHAR) AS i FROM {schema}.{q(raw)} "
                f"WHERE {q(rk.id_column)} IS NOT NULL"
            )
            self.con.execute(
                f"INSERT INTO gate_dict SELECT 'record_id', upper(trim(i)) FROM ({ids}) WHERE length(trim(i)) >= 4"
            )
            if self.key:
                self.con.execute(
                    f"INSERT INTO gate_record_keys SELECT ?, ?, p360_gate_pseudonym(? || ':' || i) FROM ({ids})",
                    [table, column, rk.prefix],
                )

    # --- per column ---------------------------------------------------------------------
    def scan_table(self, table: str, columns: dict[str, str]) -> None:
        fq = f"{PUBLISHED_SCHEMA}.{q(table)}"
        numeric = [c for c, t in columns.items() if t.upper().startswith(NUMERIC_PREFIXES)]
        dates = [c for c, t in columns.items() if t.upper() in DATE_TYPES]
        boolean = {c for c, t in columns.items() if t.upper() == "BOOLEAN"}  # cannot carry PII
        text = [c for c in columns if c not in numeric and c not in dates and c not in boolean]
        for col in text:
            blob = columns[col].upper() == "BLOB"
            expr = f"p360_blob_text({q(col)})" if blob else f"CAST({q(col)} AS VARCHAR)"
            self.scan_values(table, col, f"SELECT {expr} AS v FROM {fq} WHERE {q(col)} IS NOT NULL")
            if self._is_pseudonym(table, col):
                self._pseudonym_integrity(table, fq, col, snapshot="as_of_date" in columns)
        if numeric:
            self._scan_numeric(table, fq, {c: columns[c] for c in numeric})
        if dates:
            self._scan_dates(table, fq, dates, has_key=PERSON_KEY in columns)

    def _is_pseudonym(self, table: str, col: str) -> bool:
        rule = self.allow.rule(table, col)
        return col.endswith("_key") or (rule is not None and rule.privacy == "pseudonym")

    def scan_values(self, table: str, col: str, values_sql: str) -> None:
        """Every text detector over the values `values_sql` yields (one column `v`); metric rows
        are labelled (table, col): a published column, a comment or a Parquet metadata entry."""
        con = self.con
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE gate_vals AS
            SELECT v, n, dg, CASE WHEN dg THEN v ELSE p360_normalise(v) END AS nv FROM (
                SELECT v, n, regexp_full_match(v, {_r(P.DIGEST)}) AS dg FROM (
                    SELECT v, count(*) AS n FROM ({values_sql}) WHERE v IS NOT NULL GROUP BY 1))""")
        row = one(con.execute(f"SELECT {_text_pattern_sql()} FROM gate_vals"))
        hits = dict(zip(TEXT_CHECKS, row, strict=True))
        for found in (self._evasion_hits(), self._dictionary_hits()):
            for pii, rows in found.items():
                hits[pii] = max(hits.get(pii, 0), rows)
        names, addresses = self._gram_hits()
        hits["name"] = max(hits.get("name", 0), names, self._romanised_hits())
        hits["address"] = max(hits.get("address", 0), addresses)
        for check in dict.fromkeys((*TEXT_CHECKS, *P.EVASION_TYPES, "name", "record_id")):
            self._add(table, col, check, hits.get(check, 0))
        # Digest-shaped values anywhere must not be unkeyed hashes of a restricted identifier.
        plain = "SELECT coalesce(sum(n), 0) FROM gate_vals WHERE dg AND lower(v) IN (SELECT h FROM gate_hashes)"
        self._add(table, col, "plain_hash", one(con.execute(plain))[0], "unkeyed hash of a restricted identifier")
        if self._is_pseudonym(table, col):
            bad = f"SELECT coalesce(sum(n), 0) FROM gate_vals WHERE NOT regexp_full_match(v, {_r(P.PSEUDONYM)})"
            self._add(table, col, "pseudonym_format", one(con.execute(bad))[0], "not 64 lower-case hex")
        con.execute("DROP TABLE gate_vals")

    def _evasion_hits(self) -> dict[str, int]:
        rows = self.con.execute("""
            SELECT t, sum(n) FROM (SELECT DISTINCT v, n, unnest(p360_find_pii(v)) AS t FROM gate_vals WHERE NOT dg)
            GROUP BY t""").fetchall()
        return {t: int(n) for t, n in rows}

    def _romanised_hits(self) -> int:
        if not self.romanised:
            return 0
        sql = (
            "SELECT coalesce(sum(n), 0) FROM gate_vals "
            "WHERE NOT dg AND regexp_matches(nv, '[A-Za-z]') AND p360_romanised_name(nv)"
        )
        return int(one(self.con.execute(sql))[0])

    def _pseudonym_integrity(self, table: str, fq: str, col: str, snapshot: bool) -> None:
        """Every value of a key column is an issued pseudonym: a person key is in the identity
        map; a record key is the pseudonym of a source record (re-derived with the key). Older
        snapshots of a snapshot table may hold keys retired by identity merges (quality warns)."""
        rows = f"SELECT {q(col)} AS k FROM {fq} WHERE {q(col)} IS NOT NULL"
        if snapshot:
            rows += f" AND as_of_date = (SELECT max(as_of_date) FROM {fq})"
        record = RECORD_KEYS.get((table, col))
        if record is None:
            issued, detail = "SELECT k FROM gate_issued", "not in the restricted identity map"
        elif self.key is None:
            self._add(table, col, "pseudonym_not_issued", 1, "pseudonym key unavailable: record keys unverifiable")
            return
        else:
            issued = f"SELECT k FROM gate_record_keys WHERE tbl = {sql_str(table)} AND col = {sql_str(col)}"
            detail = "not the keyed pseudonym of a source record"
        n = one(self.con.execute(f"SELECT count(*) FROM ({rows}) WHERE k NOT IN ({issued})"))[0]
        self._add(table, col, "pseudonym_not_issued", n, detail)

    def _dictionary_hits(self) -> dict[str, int]:
        if not self.has_dictionary:
            return {}
        rows = self.con.execute(f"""
            WITH toks AS (
                SELECT v, n, upper(trim(nv)) AS tok FROM gate_vals WHERE NOT dg
                UNION ALL
                SELECT v, n, upper(unnest(regexp_extract_all(nv, {_r(P.TOKEN)}))) FROM gate_vals
                WHERE NOT dg AND regexp_matches(nv, {_r(P.TOKEN)})
            )
            SELECT pii, sum(n) FROM (SELECT DISTINCT v, n, d.pii FROM toks JOIN gate_dict AS d ON toks.tok = d.uvalue)
            GROUP BY pii""").fetchall()
        return {pii: int(n) for pii, n in rows}

    def _gram_hits(self) -> tuple[int, int]:
        """Rows containing a restricted name (CJK n-grams of 2-8) or a 6-gram of a restricted address."""
        if not self.has_dictionary:
            return 0, 0
        names, addresses = one(
            self.con.execute(f"""
            WITH runs AS (
                SELECT v, n, unnest(regexp_extract_all(nv, {_r(P.HAN_RUN)})) AS r FROM gate_vals
                WHERE regexp_matches(nv, {_r(P.HAN_RUN)})),
            grams AS (
                SELECT DISTINCT v, n, unnest(flatten(list_transform(range(2, 9), lambda l:
                    list_transform(range(1, greatest(length(r) - l + 2, 1)), lambda s: substr(r, s, l))))) AS g
                FROM runs)
            SELECT (SELECT coalesce(sum(n), 0) FROM (SELECT DISTINCT v, n FROM grams JOIN gate_names ON g = name)),
                   (SELECT coalesce(sum(n), 0) FROM (SELECT DISTINCT v, n FROM grams JOIN gate_addr_grams AS a
                                                     ON grams.g = a.g))
            """)
        )
        return int(names), int(addresses)

    def _scan_numeric(self, table: str, fq: str, cols: dict[str, str]) -> None:
        # Numbers are read as digit strings: an ID stored as DOUBLE (its first 16 digits survive)
        # or as cents in a DECIMAL, a mobile in a BIGINT, a birth date as integer YYYYMMDD. One
        # cheap pass finds the columns with any value >= NUMERIC_FLOOR (usually none).
        maxima = one(self.con.execute(f"SELECT {', '.join(f'max(abs({q(c)}))' for c in cols)} FROM {fq}"))
        for (c, dtype), largest in zip(cols.items(), maxima, strict=True):
            counts: dict[str, int] = {}
            if largest is not None and largest >= NUMERIC_FLOOR:
                t = dtype.upper()
                kind = "decimal" if t.startswith("DECIMAL") else "int"
                kind = "float" if t.startswith(("FLOAT", "DOUBLE", "REAL")) else kind
                rows = self.con.execute(f"""
                    SELECT t, sum(n) FROM (
                        SELECT unnest(p360_numeric_pii(v, {sql_str(kind)})) AS t, n FROM (
                            SELECT CAST({q(c)} AS VARCHAR) AS v, count(*) AS n FROM {fq}
                            WHERE abs({q(c)}) >= {NUMERIC_FLOOR} GROUP BY 1))
                    GROUP BY t""").fetchall()
                counts = {t: int(n) for t, n in rows}
                if kind == "decimal" and self.has_dictionary:
                    counts["mobile"] = counts.get("mobile", 0) + self._restricted_mobiles_as_cents(fq, c)
            for check in NUMERIC_CHECKS:
                self._add(table, c, check, counts.get(check, 0), "number read as a digit string")

    def _restricted_mobiles_as_cents(self, fq: str, col: str) -> int:
        """Rows of a DECIMAL column whose digits, decimal point removed, are a restricted mobile."""
        s = f"CAST(abs({q(col)}) AS VARCHAR)"
        readings = f"[replace({s}, '.', ''), replace(rtrim({s}, '0'), '.', '')]"
        mobiles = "SELECT list(uvalue) FROM gate_dict WHERE pii = 'mobile'"
        sql = (f"SELECT count(*) FROM {fq} WHERE abs({q(col)}) >= {NUMERIC_FLOOR} AND contains({s}, '.') "
               f"AND list_has_any({readings}, ({mobiles}))")  # fmt: skip
        return int(one(self.con.execute(sql))[0])

    def _scan_dates(self, table: str, fq: str, cols: list[str], has_key: bool) -> None:
        lo, hi = sql_str(self.allow.event_date_min), sql_str(self.today.isoformat())
        exprs, labels = [], []
        for c in cols:
            rule = self.allow.rule(table, c)
            if rule is not None and rule.is_event_date:
                d = f"CAST({q(c)} AS DATE)"
                exprs.append(f"count(*) FILTER (WHERE {d} < DATE {lo} OR {d} > DATE {hi})")
                labels.append((c, "event date outside [event_date_min, today]"))
            else:
                exprs.append(f"count({q(c)})")
                labels.append((c, "full date in a column that is not an allow-listed event date"))
        row = one(self.con.execute(f"SELECT {', '.join(exprs)} FROM {fq}"))
        for (c, detail), n in zip(labels, row, strict=True):
            self._add(table, c, "birth_date", n, detail)
        if has_key and self.has_dictionary:
            for c in cols:
                hit, total = one(
                    self.con.execute(f"""
                    SELECT count(*) FILTER (WHERE CAST(t.{q(c)} AS DATE) = b.birth), count(t.{q(c)})
                    FROM {fq} AS t JOIN gate_birth AS b ON t.patient_key = b.patient_key""")
                )
                share_bad = total and hit > OWN_BIRTHDAY_SHARE * total
                detail = "column equals the patients' own birth dates"
                self._add(table, c, "birth_date", hit if share_bad else 0, detail)


def scan_marts(
    con: duckdb.DuckDBPyConnection,
    actual: dict[str, dict[str, str]],
    allow: Allowlist,
    today: date,
    *,
    key: bytes | None = None,
    comments: tuple[str, str] | None = None,
    candidate: Candidate | None = None,
    scanner: PiiScanner | None = None,
    cache: ScanCache | None = None,
) -> list[Metric]:
    """PII metric rows for every column of every published table (zeros included), for their
    table and column comments (`comments`: the (catalog, schema) holding them) and for the
    key-value metadata of the candidate's Parquet files. scanner: one whose dictionaries are
    already built on `con` (a release's tiers share them: patient360.gates.ReleaseGate). cache:
    earlier scans of unchanged tables, reused (patient360.gates.scan_cache)."""
    scanner = scanner or PiiScanner(con, allow, today, key)
    for table, cols in actual.items():
        entry = cache.key(scanner, table, cols) if cache else None
        reused = cache.get(entry) if cache else None
        if reused is not None:
            scanner.metrics += reused
        else:
            log.debug("pii scan %s.%s (%d columns)", PUBLISHED_SCHEMA, table, len(cols))
            before = len(scanner.metrics)
            scanner.scan_table(table, cols)
            if cache:
                cache.put(entry, scanner.metrics[before:])
        if comments is not None:
            scan_comments(scanner, table, *comments)
        if candidate is not None and candidate.parquet(table).is_file():
            scan_parquet_metadata(scanner, table, candidate.parquet(table))
    return scanner.metrics


def scan_parquet_metadata(scanner: PiiScanner, table: str, path: Path) -> None:
    """The file's key-value metadata, and the schema- and field-level metadata (column
    descriptions) that Arrow serialises under `ARROW:schema`, scanned decoded, not as base64."""
    kv = f"parquet_kv_metadata({sql_str(str(path))})"
    pairs = (f"SELECT p360_blob_text(key) || '=' || p360_blob_text(value) AS v FROM {kv} "
             f"WHERE p360_blob_text(key) <> {sql_str(ARROW_SCHEMA_KEY)}")  # fmt: skip
    scanner.scan_values(table, "(parquet metadata)", pairs)
    texts = metadata_texts(path)
    listed = ", ".join(map(sql_str, texts))
    values = f"SELECT unnest([{listed}]::VARCHAR[]) AS v" if texts else "SELECT NULL::VARCHAR AS v"
    scanner.scan_values(table, "(parquet field metadata)", values)


def scan_comments(scanner: PiiScanner, table: str, catalog: str, schema: str) -> None:
    """The table's comment and its columns' comments (copied into the published file) as text."""
    where = f"database_name = {sql_str(catalog)} AND schema_name = {sql_str(schema)} AND table_name = {sql_str(table)}"
    values = (f"SELECT comment AS v FROM duckdb_tables() WHERE {where} "
              f"UNION ALL SELECT comment FROM duckdb_columns() WHERE {where}")  # fmt: skip
    scanner.scan_values(table, "(comments)", values)
