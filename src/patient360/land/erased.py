"""Landing rule `erased`: a row of a person erased from the warehouse is never landed again.

`patient360 erase` leaves keyed tombstones (`restricted.erasure_tombstones`: HMAC of each
normalised identifier under the tombstone key, patient360.erase and patient360.tombstone_key;
not the pseudonym key, so a key rotation leaves them matching). A re-delivered or late export row whose MRN, CRM
contact id, platform user id, binding id, device serial, resident ID number, mobile or
WeChat union id matches a tombstone is quarantined with rule `erased`, whatever other rule it
broke, and without its raw text (keeping it would undo the erasure). Files are checked only
when tombstones exist, so landing without erasures pays nothing and needs no tombstone key;
with tombstones, a missing tombstone key or one other than theirs stops the landing (rows of
an erased person must never slip through).
"""

from __future__ import annotations

import duckdb

from patient360.contracts import Contract
from patient360.land.schema import q
from patient360.land.validate import lit

UDF = "p360_erasure_mark"
DETAIL = "matches an erasure tombstone: the person was erased; the row is not landed"


def _has_tombstones(con: duckdb.DuckDBPyConnection) -> bool:
    from patient360.erase import TOMBSTONES
    from patient360.warehouse import relation_exists

    return relation_exists(con, "restricted", "erasure_tombstones") and bool(
        con.execute(f"SELECT count(*) FROM {TOMBSTONES}").fetchall()[0][0]
    )


def _register(con: duckdb.DuckDBPyConnection) -> None:
    from patient360.erase import check_tombstone_key, tombstone_hmac
    from patient360.tombstone_key import load_tombstone_key

    known = con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [UDF]).fetchall()
    if known[0][0]:  # once per connection (a landing run's files share one)
        return
    key = load_tombstone_key()
    check_tombstone_key(con, key)

    def mark(kind: str, value: str) -> str | None:
        return tombstone_hmac(kind, value, key)

    con.create_function(UDF, mark, ["VARCHAR", "VARCHAR"], "VARCHAR")


def mark_erased(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    """Rows of `_checked` that match a tombstone get rule `erased` and lose their raw text."""
    from patient360.erase import COLUMN_KINDS, TOMBSTONES

    columns = [c.name for c in contract.columns if c.name in COLUMN_KINDS]
    if not columns or not _has_tombstones(con):
        return
    _register(con)
    terms = [
        f"{UDF}({lit(COLUMN_KINDS[c])}, CAST({q(c)} AS VARCHAR)) IN "
        f"(SELECT identifier_hmac FROM {TOMBSTONES} WHERE identifier_type = {lit(COLUMN_KINDS[c])})"
        for c in columns
    ]
    con.execute(
        f"UPDATE _checked SET _rule = 'erased', _raw = NULL, _detail = {lit(DETAIL)} WHERE {' OR '.join(terms)}"
    )
