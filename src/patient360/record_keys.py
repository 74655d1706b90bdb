"""Source-system record numbers leave the warehouse only as keyed pseudonyms.

A visit, prescription or consult-session number is the HIS's (or the consult platform's)
own number: anyone with access to that system re-identifies the row. The fact marts publish
`p360_pseudonym('<prefix>:' || <id>)` instead (dbt_project/models/marts/facts/fct_*.sql spell
the prefixes below). The PII gate re-derives the issued values from the raw zone with the same
key and prefix, so a published value that is not one of them (a raw number, a hash under a
wrong key, a typo in a prefix) fails `pseudonym_not_issued`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordKey:
    raw_table: str  # schema.table in the raw zone holding the source numbers
    id_column: str
    prefix: str  # HMAC message is f"{prefix}:{id}"


RECORD_KEYS: dict[tuple[str, str], RecordKey] = {
    ("fct_visits", "visit_id"): RecordKey("raw_his.visits", "visit_id", "his_visit"),
    ("fct_prescriptions", "prescription_id"): RecordKey("raw_his.prescriptions", "prescription_id", "his_prescription"),
    ("fct_consult_sessions", "session_id"): RecordKey("raw_consult.sessions", "session_id", "consult_session"),
}
