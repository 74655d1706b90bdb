"""Re-identification risk of a release: k-anonymity, l-diversity and prosecutor risk over the
union of every person-level table's quasi-identifiers.

The quasi-identifiers are the published columns whose class is `quasi` (dbt meta.pii, copied
into the allow-list) in every table with a `patient_key`: an analyst can join those tables on
the key, so a person's quasi-identifier record is the union of them all. A column seen in
several snapshots (as_of_date) counts with every distinct value it took, as an analyst would
see it. Equivalence classes are the people sharing the same union record.

Risk follows ARX's prosecutor model (docs/deidentification.md): a person in a class of size
n is re-identified with probability 1/n; the highest risk is 1/(smallest class) and the
average risk is (number of classes) / (number of records). The gate blocks a release whose
highest risk exceeds 1/k, a class with fewer than l distinct values of the sensitive
attribute (unless nobody in it has one), and reports the share of people suppressed.

Failing classes are counted, never listed: the class values themselves would single out the
people the check protects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import duckdb

from patient360.gates.metrics import Metric, q, table_exists
from patient360.gates.schema_allowlist import PUBLISHED_SCHEMA, Allowlist
from patient360.warehouse import one

SUITE = "k_anonymity"
PERSON_KEY = "patient_key"
SUPPRESSED = "suppressed"
NO_SENSITIVE = "none"
LEVELS_MODEL = ("intermediate", "int_patient__kanon_quasi")  # who generalised what (the dbt model)
SNAPSHOT = "as_of_date"  # the snapshot column of segment marts


def released_rows(fq_table: str, columns: set[str], quasi: bool = True) -> str:
    """The rows of a person-level table that a release may carry: a snapshot table with a
    quasi-identifier only at its latest snapshot (every row otherwise)."""
    if quasi and SNAPSHOT in columns and PERSON_KEY in columns:
        return f"SELECT * FROM {fq_table} WHERE {SNAPSHOT} = (SELECT max({SNAPSHOT}) FROM {fq_table})"
    return f"SELECT * FROM {fq_table}"


@dataclass
class ReleaseRisk:
    """What the release measures: counts and ratios, never a value."""

    k: int
    l: int  # noqa: E741 - the l of l-diversity
    quasi_identifiers: list[str] = field(default_factory=list)  # table.column
    sensitive_attribute: str = ""
    records: int = 0
    classes: int = 0
    smallest_class: int = 0
    classes_below_k: int = 0
    records_below_k: int = 0
    classes_below_l: int = 0
    prosecutor_risk_max: float = 0.0
    prosecutor_risk_average: float = 0.0
    records_suppressed: int = 0
    generalisation_levels: dict[str, int] = field(default_factory=dict)  # last step applied -> people

    @property
    def suppressed_share(self) -> float:
        return self.records_suppressed / self.records if self.records else 0.0

    def as_dict(self) -> dict:
        return asdict(self) | {"suppressed_share": round(self.suppressed_share, 6)}


def quasi_columns(actual: dict[str, dict[str, str]], allow: Allowlist) -> list[tuple[str, str]]:
    """(table, column) of every published quasi-identifier in a person-level table."""
    return [
        (table, col)
        for table, cols in sorted(actual.items())
        if PERSON_KEY in cols
        for col in sorted(cols)
        if (rule := allow.rule(table, col)) is not None and rule.privacy == "quasi"
    ]


def _union_records_sql(
    qis: list[tuple[str, str]], sensitive: tuple[str, str] | None, actual: dict[str, dict[str, str]]
) -> str:
    """One row per person: the union quasi-identifier record (a signature string), whether every
    part of it is suppressed, and the sensitive value."""

    def rows(t: str) -> str:
        return f"({released_rows(f'{PUBLISHED_SCHEMA}.{q(t)}', set(actual.get(t, {})))})"

    parts = " UNION ALL ".join(
        f"SELECT {q(PERSON_KEY)} AS pk, '{t}.{c}' AS attr, coalesce(CAST({q(c)} AS VARCHAR), '') AS v FROM {rows(t)}"
        for t, c in qis
    )
    sens = (
        f"SELECT {q(PERSON_KEY)} AS pk, coalesce(string_agg(DISTINCT CAST({q(sensitive[1])} AS VARCHAR), '|'), "
        f"'{NO_SENSITIVE}') AS s FROM {rows(sensitive[0])} GROUP BY 1"
        if sensitive
        else f"SELECT NULL AS pk, '{NO_SENSITIVE}' AS s"
    )
    return f"""
        WITH long AS ({parts}),
        per_attr AS (
            SELECT pk, attr, string_agg(DISTINCT v, '|' ORDER BY v) AS vals,
                   bool_and(v IN ('{SUPPRESSED}', '')) AS gone
            FROM long GROUP BY pk, attr),
        person AS (
            SELECT pk, string_agg(attr || '=' || vals, ';' ORDER BY attr) AS qi, bool_and(gone) AS suppressed
            FROM per_attr GROUP BY pk),
        sens AS ({sens})
        SELECT person.qi, person.suppressed, coalesce(sens.s, '{NO_SENSITIVE}') AS s
        FROM person LEFT JOIN sens USING (pk)"""


def measure_risk(con: duckdb.DuckDBPyConnection, qis: list[tuple[str, str]], sensitive: tuple[str, str] | None,
                 k: int, l: int, actual: dict[str, dict[str, str]]) -> ReleaseRisk:  # noqa: E741  # fmt: skip
    risk = ReleaseRisk(k=k, l=l, quasi_identifiers=[f"{t}.{c}" for t, c in qis],
                       sensitive_attribute=".".join(sensitive) if sensitive else "")  # fmt: skip
    row = one(con.execute(f"""
        WITH records AS ({_union_records_sql(qis, sensitive, actual)}),
        classes AS (
            SELECT qi, count(*) AS n, count(DISTINCT s) AS distinct_s, bool_and(s = '{NO_SENSITIVE}') AS none_s
            FROM records GROUP BY qi)
        SELECT (SELECT count(*) FROM records), count(*), min(n),
               count(*) FILTER (WHERE n < ?), coalesce(sum(n) FILTER (WHERE n < ?), 0),
               count(*) FILTER (WHERE distinct_s < ? AND NOT none_s),
               (SELECT count(*) FILTER (WHERE suppressed) FROM records)
        FROM classes""", [k, k, l]))  # fmt: skip
    risk.records, risk.classes, smallest, risk.classes_below_k, risk.records_below_k, risk.classes_below_l, sup = row
    risk.smallest_class, risk.records_suppressed = int(smallest or 0), int(sup or 0)
    if risk.records:
        risk.prosecutor_risk_max = 1.0 / risk.smallest_class
        risk.prosecutor_risk_average = risk.classes / risk.records
    risk.generalisation_levels = _levels(con)
    return risk


def _levels(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """People by the last generalisation step the dbt model applied (0 = none, 10 = suppressed)."""
    schema, table = LEVELS_MODEL
    if not table_exists(con, schema, table):
        return {}
    rows = con.execute(f"SELECT generalisation_level, count(*) FROM {q(schema)}.{q(table)} GROUP BY 1 ORDER BY 1")
    return {str(level): int(n) for level, n in rows.fetchall()}


def k_anonymity_metrics(
    con: duckdb.DuckDBPyConnection,
    actual: dict[str, dict[str, str]],
    allow: Allowlist,
    k: int,
    l: int = 2,  # noqa: E741
    report: list[ReleaseRisk] | None = None,
) -> list[Metric]:
    """The suite's metrics; `report` (when given) receives the measured ReleaseRisk."""
    spec = allow.k_anonymity.get("sensitive")  # none declared: no l-diversity to verify
    sensitive = (str(spec["table"]), str(spec["column"])) if spec else None
    qis = quasi_columns(actual, allow)
    label = "person-level union"
    if not qis:  # nobody can be singled out by what is not published: nothing to measure
        return [Metric(SUITE, label, "", "k_anonymity_column_missing", 0, "no quasi-identifier is published")]
    if sensitive and (sensitive[1] not in actual.get(sensitive[0], {}) or PERSON_KEY not in actual[sensitive[0]]):
        return [Metric(SUITE, sensitive[0], sensitive[1], "k_anonymity_table_missing", 1,
                       "sensitive attribute for l-diversity is not published with patient_key")]  # fmt: skip
    risk = measure_risk(con, qis, sensitive, int(k), int(l), actual)
    if report is not None:
        report.append(risk)
    cols = f"{len(qis)} quasi-identifiers"
    return [
        Metric(SUITE, label, cols, "k_anonymity", risk.classes_below_k,
               f"classes with fewer than k={k} people ({risk.records_below_k} people in them)"),
        Metric(SUITE, label, cols, "l_diversity", risk.classes_below_l,
               f"classes with fewer than l={l} distinct {risk.sensitive_attribute} values"),
        Metric(SUITE, label, cols, "prosecutor_risk_excess", max(0.0, risk.prosecutor_risk_max - 1.0 / k),
               f"highest prosecutor risk above 1/k={1 / k:.4f}"),
        Metric(SUITE, label, cols, "prosecutor_risk_max", risk.prosecutor_risk_max, "1 / smallest class"),
        Metric(SUITE, label, cols, "prosecutor_risk_average", risk.prosecutor_risk_average, "classes / records"),
        Metric(SUITE, label, cols, "suppressed_share", risk.suppressed_share,
               "people with every quasi-identifier suppressed"),
    ]  # fmt: skip
