"""k-anonymity of patient_360: every combination of the quasi-identifiers holds >= k people.

Failing groups are counted, never listed: the group values themselves would single out
the people the check protects.
"""

from __future__ import annotations

import duckdb

from patient360.gates.metrics import Metric, q
from patient360.gates.schema_allowlist import PUBLISHED_SCHEMA, Allowlist
from patient360.warehouse import one

SUITE = "k_anonymity"
DEFAULT_QUASI = ("age_band", "gender", "city")


def k_anonymity_metrics(
    con: duckdb.DuckDBPyConnection, actual: dict[str, dict[str, str]], allow: Allowlist, k: int
) -> list[Metric]:
    table = allow.k_anonymity.get("table", "patient_360")
    quasi = tuple(allow.k_anonymity.get("quasi_identifiers", DEFAULT_QUASI))
    label = "+".join(quasi)
    if table not in actual:
        return [Metric(SUITE, table, label, "k_anonymity_table_missing", 1, "table to check is not in marts")]
    missing = [c for c in quasi if c not in actual[table]]
    if missing:
        return [Metric(SUITE, table, label, "k_anonymity_column_missing", len(missing), "quasi-identifier missing")]
    cols = ", ".join(q(c) for c in quasi)
    groups, people = one(
        con.execute(
            f"""SELECT count(*), coalesce(sum(n), 0) FROM (
                SELECT {cols}, count(*) AS n FROM {PUBLISHED_SCHEMA}.{q(table)} GROUP BY ALL) WHERE n < ?""",
            [int(k)],
        )
    )
    detail = f"groups with fewer than k={k} people ({people} people in them)"
    return [Metric(SUITE, table, label, "k_anonymity", groups, detail)]
