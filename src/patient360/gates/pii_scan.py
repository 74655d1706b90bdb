"""Scan every column of every published (`marts`) table for PII, inside DuckDB.

Per column, DuckDB reduces the column to its distinct values with their row counts,
then counts rows matching each detector (RE2 prefilter + exact validation macro),
dictionary hits against `restricted.person_identifiers` (whole value, embedded tokens,
CJK name n-grams) and, for pseudonym columns, format and plain-hash violations. Only
counts come back to Python, so table size is bounded by DuckDB (which spills), not RAM.

Birth-date rule (documented in expectations/README.md): a full date is a suspected birth
date anywhere except in allow-listed `event_date` columns; an event-date column fails if a
value lies outside [event_date_min, today] or if > 10 % of its rows equal the birth date of
the row's own patient (a column of birthdays, not of events; chance level is ~0.3 %).
"""

from __future__ import annotations

import logging
from datetime import date

import duckdb

from patient360.gates import pii_patterns as P
from patient360.gates.metrics import Metric, q, sql_str, table_exists
from patient360.gates.schema_allowlist import DATE_TYPES, PUBLISHED_SCHEMA, Allowlist
from patient360.identifiers import install_macros
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


def _r(pattern: str) -> str:
    return sql_str(pattern)


def _text_pattern_sql(event_date: bool, event_min: str, today: date) -> str:
    nd = "NOT dg AND "
    birth = (
        f"TRY_CAST(v AS DATE) < DATE {sql_str(event_min)} OR TRY_CAST(v AS DATE) > DATE {sql_str(today.isoformat())}"
        if event_date
        else f"{nd}regexp_matches(v, {_r(P.FULL_DATE)})"
    )
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


class PiiScanner:
    """Holds the temp dictionaries for one gate run on one read-only connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, allow: Allowlist, today: date):
        self.con, self.allow, self.today = con, allow, today
        self.metrics: list[Metric] = []
        # TEMP: the connection is read-only, and the rule must not depend on the warehouse's copy
        install_macros(con, temp=True)
        self.has_dictionary = table_exists(con, "restricted", "person_identifiers")
        self._build_dictionaries()

    def _add(self, table: str, column: str, check: str, rows: int, detail: str = "") -> None:
        self.metrics.append(Metric(SUITE, table, column, check, float(rows or 0), detail))

    # --- dictionaries from the restricted zone ----------------------------------------
    def _build_dictionaries(self) -> None:
        con = self.con
        con.execute("CREATE OR REPLACE TEMP TABLE gate_dict (pii VARCHAR, uvalue VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE gate_names (name VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE gate_addr_grams (g VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE gate_hashes (h VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE gate_birth (patient_key VARCHAR, birth DATE)")
        if not self.has_dictionary:
            self._add("restricted.person_identifiers", "", "dictionary_unavailable", 1,
                      "restricted zone missing: names, serials and plain hashes cannot be checked")  # fmt: skip
            return
        mapping = " ".join(f"WHEN {sql_str(k)} THEN {sql_str(v)}" for k, v in P.DICTIONARY_TYPES.items())
        vocab = sorted(self.allow.all_accepted_values())
        con.execute("CREATE OR REPLACE TEMP TABLE gate_vocab (term VARCHAR)")
        if vocab:
            con.executemany("INSERT INTO gate_vocab VALUES (?)", [[t] for t in vocab])
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
        con.execute(f"""
            INSERT INTO gate_names
            SELECT DISTINCT trim(identifier_value) FROM {src}
            WHERE identifier_type IN ('name', 'person_name') AND length(trim(identifier_value)) BETWEEN 2 AND 8
              AND regexp_full_match(trim(identifier_value), {_r(P.HAN_RUN)})
              AND trim(identifier_value) NOT IN (SELECT term FROM gate_vocab)""")
        # Addresses inside longer text: any 6-character CJK run of a restricted address
        # (province+city+district or street spellings are that specific).
        con.execute(f"""
            INSERT INTO gate_addr_grams
            SELECT DISTINCT g FROM (
                SELECT unnest(list_transform(range(1, greatest(length(r) - {ADDRESS_GRAM} + 2, 1)),
                                             lambda s: substr(r, s, {ADDRESS_GRAM}))) AS g
                FROM (SELECT unnest(regexp_extract_all(identifier_value, {_r(P.HAN_RUN)})) AS r FROM {src}
                      WHERE identifier_type = 'address'))
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

    # --- per column ---------------------------------------------------------------------
    def scan_table(self, table: str, columns: dict[str, str]) -> None:
        fq = f"{PUBLISHED_SCHEMA}.{q(table)}"
        numeric = [c for c, t in columns.items() if t.upper().startswith(NUMERIC_PREFIXES)]
        dates = [c for c, t in columns.items() if t.upper() in DATE_TYPES]
        boolean = {c for c, t in columns.items() if t.upper() == "BOOLEAN"}  # cannot carry PII
        text = [c for c in columns if c not in numeric and c not in dates and c not in boolean]
        for col in text:
            self._scan_text_column(table, fq, col)
        if numeric:
            self._scan_numeric(table, fq, numeric)
        if dates:
            self._scan_dates(table, fq, dates, has_key="patient_key" in columns)

    def _is_pseudonym(self, table: str, col: str) -> bool:
        rule = self.allow.rule(table, col)
        return col.endswith("_key") or (rule is not None and rule.privacy == "pseudonym")

    def _scan_text_column(self, table: str, fq: str, col: str) -> None:
        con = self.con
        rule = self.allow.rule(table, col)
        event = rule is not None and rule.is_event_date
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE gate_vals AS
            SELECT v, n, regexp_full_match(v, {_r(P.DIGEST)}) AS dg FROM (
                SELECT CAST({q(col)} AS VARCHAR) AS v, count(*) AS n FROM {fq}
                WHERE {q(col)} IS NOT NULL GROUP BY 1)""")
        row = one(
            con.execute(f"SELECT {_text_pattern_sql(event, self.allow.event_date_min, self.today)} FROM gate_vals")
        )
        hits = dict(zip(TEXT_CHECKS, row, strict=True))
        for pii, rows in self._dictionary_hits().items():
            if pii == "birth_date" and event:
                continue
            hits[pii] = max(hits.get(pii, 0), rows)
        names, addresses = self._gram_hits()
        hits["name"] = max(hits.get("name", 0), names)
        hits["address"] = max(hits.get("address", 0), addresses)
        for check in (*TEXT_CHECKS, "name", "record_id"):
            self._add(table, col, check, hits.get(check, 0))
        # Digest-shaped values anywhere must not be unkeyed hashes of a restricted identifier.
        plain = "SELECT coalesce(sum(n), 0) FROM gate_vals WHERE dg AND lower(v) IN (SELECT h FROM gate_hashes)"
        self._add(table, col, "plain_hash", one(con.execute(plain))[0], "unkeyed hash of a restricted identifier")
        if self._is_pseudonym(table, col):
            bad = f"SELECT coalesce(sum(n), 0) FROM gate_vals WHERE NOT regexp_full_match(v, {_r(P.PSEUDONYM)})"
            self._add(table, col, "pseudonym_format", one(con.execute(bad))[0], "not 64 lower-case hex")
        con.execute("DROP TABLE gate_vals")

    def _dictionary_hits(self) -> dict[str, int]:
        if not self.has_dictionary:
            return {}
        rows = self.con.execute(f"""
            WITH toks AS (
                SELECT v, n, upper(trim(v)) AS tok FROM gate_vals WHERE NOT dg
                UNION ALL
                SELECT v, n, upper(unnest(regexp_extract_all(v, {_r(P.TOKEN)}))) FROM gate_vals
                WHERE NOT dg AND regexp_matches(v, {_r(P.TOKEN)})
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
                SELECT v, n, unnest(regexp_extract_all(v, {_r(P.HAN_RUN)})) AS r FROM gate_vals
                WHERE regexp_matches(v, {_r(P.HAN_RUN)})),
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

    def _scan_numeric(self, table: str, fq: str, cols: list[str]) -> None:
        # Only values with >= 10 digits can hold a mobile or an ID number. One cheap pass finds
        # the columns that have any (usually none); only their large values get string work.
        maxima = one(self.con.execute(f"SELECT {', '.join(f'max(abs({q(c)}))' for c in cols)} FROM {fq}"))
        checks = ("mobile", "resident_id", "resident_id_15")
        for c, largest in zip(cols, maxima, strict=True):
            counts = (0, 0, 0)
            if largest is not None and largest >= 1e10:
                s = f"CAST({q(c)} AS VARCHAR)"
                counts = one(
                    self.con.execute(f"""
                    SELECT count(*) FILTER (WHERE regexp_matches({s}, {_r(P.MOBILE)})),
                        count(*) FILTER (WHERE list_bool_or(list_transform(
                            regexp_extract_all({s}, {_r(P.RIC18)}, 1), lambda x: p360_ric_valid(x)))),
                        count(*) FILTER (WHERE list_bool_or(list_transform(
                            regexp_extract_all({s}, {_r(P.RIC15)}, 1), lambda x: p360_ric15_valid(x))))
                    FROM {fq} WHERE abs({q(c)}) >= 1e10""")
                )
            for check, n in zip(checks, counts, strict=True):
                self._add(table, c, check, n)

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
    con: duckdb.DuckDBPyConnection, actual: dict[str, dict[str, str]], allow: Allowlist, today: date
) -> list[Metric]:
    """PII metric rows for every column of every published table (zeros included)."""
    scanner = PiiScanner(con, allow, today)
    for table, cols in actual.items():
        log.debug("pii scan %s.%s (%d columns)", PUBLISHED_SCHEMA, table, len(cols))
        scanner.scan_table(table, cols)
    return scanner.metrics
