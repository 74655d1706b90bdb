"""Erasure of one person from every zone of the warehouse (PIPL art. 47): rows and bytes.

    patient360 erase --mobile 13812345678 [--exports DIR [--rewrite-exports]]

1. Resolve: the identifier a request carries (mobile, resident ID number, MRN, CRM contact id),
   normalised by the identity rules (patient360.identifiers), is looked up in the person
   registry (`restricted.identity_observations` / `person_registry`). A mobile shared by
   several people is refused: ask for a stronger identifier.
2. Collect what identifies the person: every source record the registry links (and the records
   of persons merged into them), their identifier values, patient_keys and device serials.
3. Delete, in one transaction: raw rows by the linked record ids (mrn, contact ids, platform
   user ids, binding ids, device serials); quarantine rows whose raw text or detail holds one
   of the person's identifiers; every row of every other table (restricted registry, logs,
   intermediate and incremental state, marts, every segment snapshot) whose person_id,
   patient_key or record-id column names the person. The registry keeps a keyed tombstone
   (`restricted.erasure_tombstones`: HMAC of each normalised identifier under the tombstone key,
   never clear text) so that landing quarantines a re-delivered row with the rule `erased`
   (land/erased.py), and the highest person_id issued so far, so an erased person's id (and
   patient_key) is never reused. The tombstone key is not the pseudonym key: tombstones are
   one-way and must survive a pseudonym key rotation (patient360.tombstone_key).
4. Make the bytes disappear: DuckDB keeps deleted values in freed blocks after DELETE,
   CHECKPOINT and VACUUM, so the database is copied into a fresh file (ATTACH; COPY FROM
   DATABASE), which replaces the old one atomically, and the WAL is removed (rewrite_database).
5. The pipeline then rebuilds (dbt), gates and publishes a new release; superseded release files
   (older parquet-* folders) are deleted; derived artifacts next to the warehouse (dbt target/,
   Great Expectations results, docs, logs) that still hold an identifier are removed.

Exports outside the warehouse are only listed, or rewritten without the person's rows with
`--rewrite-exports` (erase_exports.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from patient360.errors import ConfigError, InputMissing, UsageError
from patient360.identifiers import normalise_id_number, normalise_mobile
from patient360.warehouse import connect

log = logging.getLogger(__name__)

TOMBSTONES = "restricted.erasure_tombstones"
TOMBSTONE_DDL = f"""
CREATE SCHEMA IF NOT EXISTS restricted;
CREATE TABLE IF NOT EXISTS {TOMBSTONES} (
    identifier_type VARCHAR NOT NULL,
    identifier_hmac VARCHAR NOT NULL,
    erased_on       DATE NOT NULL,
    person_id_floor BIGINT,
    key_id          VARCHAR  -- id of the tombstone key (patient360.pseudonym.key_id), never the key
);
-- tombstones made before they recorded their key have key_id NULL: landing refuses them
ALTER TABLE restricted.erasure_tombstones ADD COLUMN IF NOT EXISTS key_id VARCHAR"""
# Raw rows removed after landing, per file version: the landing reconciliation subtracts them.
ROWS_REMOVED_DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.rows_removed (
    removed_on    DATE NOT NULL,
    reason        VARCHAR NOT NULL,
    raw_table     VARCHAR NOT NULL,
    file_path     VARCHAR NOT NULL,
    file_checksum VARCHAR NOT NULL,
    rows_removed  BIGINT NOT NULL
)"""
# Kinds of identifier a tombstone can hold, and the raw/landing columns that carry each.
COLUMN_KINDS: dict[str, str] = {
    "mrn": "mrn",
    "contact_id": "contact_id",
    "referrer_contact_id": "contact_id",
    "referee_contact_id": "contact_id",
    "platform_user_id": "platform_user_id",
    "binding_id": "binding_id",
    "device_serial": "device_serial",
    "id_number": "id_number",
    "mobile": "mobile",
    "wechat_unionid": "wechat_unionid",
}
# Request options -> (registry source, identifier type in identity_observations).
REQUEST_KINDS = {"mobile": None, "id_number": None, "mrn": "his", "contact_id": "crm"}
_RECORD_SOURCES = {"his": "mrn", "crm": "contact_id", "consult": "platform_user_id", "wearable": "binding_id"}


class ErasureError(UsageError):
    """The request cannot be answered as given (no such person, or an ambiguous identifier)."""


def normalise(kind: str, value: str | None) -> str | None:
    """The one normalisation of every identifier kind (identity rules for mobile and ID number)."""
    if value is None:
        return None
    if kind == "mobile":
        return normalise_mobile(value)
    if kind == "id_number":
        return normalise_id_number(value)
    return value.strip() or None


def tombstone_hmac(kind: str, value: str | None, key: bytes) -> str | None:
    """Keyed mark of a normalised identifier; the same mark for any spelling of it."""
    norm = normalise(kind, value)
    if norm is None:
        return None
    return hmac.new(key, f"erased:{kind}:{norm}".encode(), hashlib.sha256).hexdigest()


@dataclass
class Person:
    person_ids: set[int] = field(default_factory=set)
    records: dict[str, set[str]] = field(default_factory=dict)  # source -> record ids
    identifiers: dict[str, set[str]] = field(default_factory=dict)  # kind -> normalised values
    names: set[str] = field(default_factory=set)
    patient_keys: set[str] = field(default_factory=set)

    def values(self, kind: str) -> set[str]:
        return self.identifiers.get(kind, set())

    def needles(self) -> set[str]:
        """Every string that identifies the person (for quarantine text and byte scans)."""
        out = set(self.names)
        for values in self.identifiers.values():
            out |= values
        return {v for v in out if v}


@dataclass
class ErasureResult:
    person_ids: list[int]
    rows_deleted: dict[str, int] = field(default_factory=dict)
    artifacts_removed: list[str] = field(default_factory=list)
    exports_found: list[str] = field(default_factory=list)
    exports_rewritten: list[str] = field(default_factory=list)
    leftovers: dict[str, list[str]] = field(default_factory=dict)  # file -> identifiers still found
    seconds: dict[str, float] = field(default_factory=dict)

    def render(self) -> str:
        lines = [f"erased {len(self.person_ids)} person id(s); rows deleted: {sum(self.rows_deleted.values())}"]
        lines += [f"  {t:<55} {n:>7}" for t, n in sorted(self.rows_deleted.items()) if n]
        lines += [f"  removed {a}" for a in self.artifacts_removed]
        lines += [f"  export holds the person (rerun with --rewrite-exports): {e}" for e in self.exports_found]
        lines += [f"  export rewritten without the person: {e}" for e in self.exports_rewritten]
        lines += [f"  {stage:<10} {secs:7.2f} s" for stage, secs in self.seconds.items()]
        lines += [f"  STILL FOUND in {f}: {len(h)} identifier(s)" for f, h in self.leftovers.items()]
        if not self.leftovers:
            lines.append("  final scan of the warehouse and published folders: no identifier found")
        return "\n".join(lines)


def _in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values)) + ")"


def resolve(con: duckdb.DuckDBPyConnection, kind: str, value: str) -> set[int]:
    """person_ids of the request's identifier (a merged-away id resolves to its survivor)."""
    norm = normalise(kind, value)
    if norm is None:
        raise ErasureError(f"{value!r} is not a valid {kind.replace('_', ' ')} (identity normalisation rules)")
    source = REQUEST_KINDS[kind]
    if source is not None:
        sql = "SELECT DISTINCT person_id FROM restricted.person_registry WHERE source = ? AND source_record_id = ?"
        ids = {r[0] for r in con.execute(sql, [source, norm]).fetchall()}
    else:
        sql = """SELECT DISTINCT r.person_id FROM restricted.identity_observations o
            JOIN restricted.person_registry r USING (source, source_record_id)
            WHERE o.identifier_type = ? AND o.identifier_value = ?"""
        ids = {r[0] for r in con.execute(sql, [kind, norm]).fetchall()}
    if not ids:
        raise ErasureError(f"no person in the registry has {kind.replace('_', ' ')} {value!r}")
    if len(ids) > 1:
        raise ErasureError(
            f"{kind.replace('_', ' ')} {value!r} belongs to {len(ids)} people in the registry; "
            "ask the requester for a stronger identifier (resident ID number, MRN or CRM contact id)"
        )
    return ids


def collect(con: duckdb.DuckDBPyConnection, person_ids: set[int]) -> Person:
    """Everything that identifies the person: records, identifiers, keys, retired ids."""
    ids = ", ".join(str(i) for i in sorted(person_ids))
    retired = con.execute(
        f"SELECT retired_person_id FROM restricted.identity_merge_log WHERE surviving_person_id IN ({ids})"
    ).fetchall()
    p = Person(person_ids=set(person_ids) | {r[0] for r in retired})
    ids = ", ".join(str(i) for i in sorted(p.person_ids))
    for source, record in con.execute(
        f"SELECT source, source_record_id FROM restricted.person_registry WHERE person_id IN ({ids})"
    ).fetchall():
        p.records.setdefault(source, set()).add(record)
        p.identifiers.setdefault(_RECORD_SOURCES[source], set()).add(record)
    for kind, value in con.execute(
        f"""SELECT DISTINCT o.identifier_type, o.identifier_value FROM restricted.identity_observations o
            JOIN restricted.person_registry r USING (source, source_record_id) WHERE r.person_id IN ({ids})"""
    ).fetchall():
        if kind == "person_name":
            p.names.add(value)
        elif kind in COLUMN_KINDS.values():
            p.identifiers.setdefault(kind, set()).add(value)
    keys = con.execute(f"SELECT patient_key FROM restricted.person_keys WHERE person_id IN ({ids})").fetchall()
    p.patient_keys = {r[0] for r in keys}
    bindings = p.records.get("wearable", set())
    if bindings:
        serials = con.execute(
            f"SELECT DISTINCT device_serial FROM raw_wearable.device_bindings WHERE binding_id IN {_in_list(bindings)}"
        ).fetchall()
        p.identifiers["device_serial"] = {r[0] for r in serials if r[0]}
    return p


def _shared_mobiles(con: duckdb.DuckDBPyConnection, p: Person) -> set[str]:
    """The person's mobiles that other people's records carry too (never tombstoned)."""
    mobiles = p.values("mobile")
    if not mobiles:
        return set()
    ids = ", ".join(str(i) for i in sorted(p.person_ids))
    rows = con.execute(
        f"""SELECT DISTINCT o.identifier_value FROM restricted.identity_observations o
            JOIN restricted.person_registry r USING (source, source_record_id)
            WHERE o.identifier_type = 'mobile' AND o.identifier_value IN {_in_list(mobiles)}
              AND r.person_id NOT IN ({ids})"""
    ).fetchall()
    return {r[0] for r in rows}


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every base table (schema.table) with its column names."""
    rows = con.execute(
        """SELECT t.schema_name || '.' || t.table_name, list(c.column_name ORDER BY c.column_index)
           FROM duckdb_tables() t JOIN duckdb_columns() c USING (database_name, schema_name, table_name)
           WHERE t.database_name = current_database() AND NOT t.temporary GROUP BY ALL"""
    ).fetchall()
    return {name: cols for name, cols in rows}


def _conditions(p: Person, columns: list[str], raw: bool) -> list[str]:
    """WHERE terms naming the person in a table with these columns."""
    terms: list[str] = []
    ids = ", ".join(str(i) for i in sorted(p.person_ids))
    for col in columns:
        quoted = '"' + col.replace('"', '""') + '"'
        kind = COLUMN_KINDS.get(col)
        if kind in ("mobile", "id_number"):
            continue  # shared mobiles must not take other people's rows; records are matched by id
        if kind is not None and p.values(kind):
            terms.append(f"CAST({quoted} AS VARCHAR) IN {_in_list(p.values(kind))}")
        elif not raw and col.endswith("person_id") and ids:
            terms.append(f"TRY_CAST({quoted} AS BIGINT) IN ({ids})")
        elif not raw and col.endswith("patient_key") and p.patient_keys:
            terms.append(f"CAST({quoted} AS VARCHAR) IN {_in_list(p.patient_keys)}")
    if not raw and {"source", "source_record_id"} <= set(columns):
        for source, records in p.records.items():
            terms.append(f"(source = '{source}' AND source_record_id IN {_in_list(records)})")
    return terms


def _text_match(p: Person, column: str) -> str:
    """A quarantine text column holds one of the person's identifiers (mobiles: any separators)."""
    strong = set(p.needles()) - p.names - p.values("mobile")
    terms = [f"contains({column}, '{v.replace(chr(39), chr(39) * 2)}')" for v in sorted(strong)]
    digits = f"regexp_replace({column}, '[ \\t().-]', '', 'g')"
    terms += [f"contains({digits}, '{m}')" for m in sorted(p.values("mobile"))]
    return "(" + " OR ".join(terms or ["FALSE"]) + ")"


def delete_person(con: duckdb.DuckDBPyConnection, p: Person) -> dict[str, int]:
    """Delete the person's rows from every table (one transaction); returns rows per table."""
    deleted: dict[str, int] = {}
    con.execute(ROWS_REMOVED_DDL)
    serials = p.values("device_serial")
    if serials:  # vendor file headers (patient name, device) of files with the person's readings
        deleted["raw_wearable.vendor_file_meta"] = con.execute(
            f"""DELETE FROM raw_wearable.vendor_file_meta WHERE _file_path IN (SELECT _file_path
                FROM raw_wearable.readings WHERE device_serial IN {_in_list(serials)})"""
        ).fetchone()[0]  # type: ignore[index]
    for table, columns in _tables(con).items():
        schema = table.split(".")[0]
        if table == TOMBSTONES:
            continue
        if table in ("audit.quarantine", "restricted.quarantine_raw"):
            texts = [c for c in ("raw_record", "detail") if c in columns]
            where = " OR ".join(_text_match(p, c) for c in texts)
        else:
            terms = _conditions(p, columns, raw=schema.startswith("raw_"))
            where = " OR ".join(terms)
        if where and schema.startswith("raw_") and {"_file_path", "_file_checksum"} <= set(columns):
            con.execute(
                f"""INSERT INTO audit.rows_removed SELECT current_date, 'erasure', '{table}', _file_path,
                    _file_checksum, count(*) FROM {table} WHERE {where} GROUP BY ALL"""
            )
        if where:
            deleted[table] = con.execute(f"DELETE FROM {table} WHERE {where}").fetchone()[0]  # type: ignore[index]
    return deleted


def check_tombstone_key(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Refuse a tombstone key other than the one the existing tombstones were made with: they
    would silently stop matching and an erased person's re-delivered rows would be linked again."""
    from patient360.pseudonym import key_id

    others = con.execute(
        f"SELECT DISTINCT coalesce(key_id, 'none recorded') FROM {TOMBSTONES} WHERE key_id IS DISTINCT FROM ?",
        [key_id(key)],
    ).fetchall()
    if others:
        from patient360.tombstone_key import TOMBSTONE_KEY_FILE_ENV, tombstone_key_source

        raise ConfigError(
            f"the erasure tombstones were made with tombstone key id(s) {', '.join(sorted(o[0] for o in others))}, "
            f"but the tombstone key in use ({key_id(key)}, from {tombstone_key_source()}) is another: point "
            f"{TOMBSTONE_KEY_FILE_ENV} at the key they were made with (docs/privacy_operations.md)"
        )


def add_tombstones(con: duckdb.DuckDBPyConnection, p: Person, key: bytes, shared_mobiles: set[str]) -> int:
    """Tombstones of the person's identifiers under the tombstone `key` (never the pseudonym key)."""
    from patient360.pseudonym import key_id

    con.execute(TOMBSTONE_DDL)
    check_tombstone_key(con, key)
    floor = con.execute(
        "SELECT greatest((SELECT coalesce(max(person_id), 0) FROM restricted.person_registry),"
        " (SELECT coalesce(max(person_id), 0) FROM restricted.person_keys))"
    ).fetchone()[0]  # type: ignore[index]
    rows = {
        (kind, tombstone_hmac(kind, v, key))
        for kind, values in p.identifiers.items()
        for v in values
        if not (kind == "mobile" and v in shared_mobiles)
    }
    con.executemany(
        f"INSERT INTO {TOMBSTONES} VALUES (?, ?, ?, ?, ?)",
        [[kind, mark, date.today(), floor, key_id(key)] for kind, mark in sorted(rows) if mark],
    )
    return len(rows)


def rewrite_database(path: Path, force_compression: str | None = None) -> None:
    """Copy the database into a fresh file and swap it in: freed blocks of deleted rows are left
    behind (DELETE + CHECKPOINT + VACUUM keep the values in the file). The WAL is checkpointed
    into the old file first and removed with it."""
    path = Path(path)
    fresh = path.with_name(f".{path.name}.erase.{os.getpid()}.tmp")
    fresh.unlink(missing_ok=True)
    con = connect(None)
    try:
        if force_compression:  # tests: strings stay readable as bytes, so a scan can prove absence
            con.execute(f"PRAGMA force_compression='{force_compression}'")
        con.execute(f"ATTACH '{path}' AS old_db")
        con.execute("CHECKPOINT old_db")
        con.execute(f"ATTACH '{fresh}' AS new_db")
        con.execute("COPY FROM DATABASE old_db TO new_db")
        con.execute("DETACH new_db")
        con.execute("DETACH old_db")
    finally:
        con.close()
    os.replace(fresh, path)
    for leftover in (path.with_name(path.name + ".wal"), fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)


def file_hits(path: Path, needles: Iterable[str]) -> list[str]:
    """The needles found in a file's bytes, in UTF-8 or GBK."""
    data = path.read_bytes()
    found = []
    for n in needles:
        forms = {n.encode("utf-8")}
        with contextlib.suppress(UnicodeEncodeError):
            forms.add(n.encode("gbk"))
        if any(f in data for f in forms):
            found.append(n)
    return found


def scan_tree(root: Path, needles: Iterable[str]) -> dict[Path, list[str]]:
    """Every file under root whose bytes hold a needle (UTF-8 or GBK), with the needles found."""
    needles = [n for n in needles if n]
    out: dict[Path, list[str]] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            hits = file_hits(path, needles)
            if hits:
                out[path] = hits
    return out


def prune_releases(published: Path) -> list[str]:
    """Delete every release version a tier's `parquet` link does not point at."""
    removed = []
    for link in published.glob("*/parquet"):
        if not link.is_symlink():
            continue
        keep = os.readlink(link)
        for old in link.parent.glob("parquet-*"):
            if old.is_dir() and old.name != Path(keep).name:
                shutil.rmtree(old)
                removed.append(str(old))
    return removed


def remove_derived_artifacts(warehouse: Path, needles: set[str]) -> list[str]:
    """Files next to the warehouse (dbt target/, gx results, docs, logs, reports) that still hold an
    identifier are regenerable artifacts: removed. The warehouse and published releases are not
    touched here (rewritten and re-published instead)."""
    keep = {warehouse.name, warehouse.name + ".wal"}
    removed = []
    for path, hits in scan_tree(warehouse.parent, needles).items():
        if path.name in keep or "published" in path.relative_to(warehouse.parent).parts:
            continue
        if path.suffix == ".log":  # redacted in place: a running logger keeps appending to it
            _redact_log(path, hits)
        else:
            path.unlink()
        removed.append(str(path))
    return removed


def _redact_log(path: Path, needles: list[str]) -> None:
    """Drop the log lines that hold a needle (UTF-8 or GBK bytes), in place."""
    forms = [f for n in needles for f in {n.encode("utf-8"), n.encode("gb18030")}]
    with path.open("r+b") as fh:
        kept = [line for line in fh.readlines() if not any(f in line for f in forms)]
        fh.seek(0)
        fh.writelines(kept)
        fh.truncate()


def erase_from_warehouse(warehouse: Path, kind: str, value: str, tombstone_key: bytes) -> tuple[Person, ErasureResult]:
    """Steps 1-4 of the module docstring; the caller rebuilds and publishes."""
    import time

    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise InputMissing(f"warehouse not found: {warehouse}")
    t0 = time.perf_counter()
    con = connect(warehouse)
    try:
        person = collect(con, resolve(con, kind, value))
        shared = _shared_mobiles(con, person)
        con.execute("BEGIN")
        add_tombstones(con, person, tombstone_key, shared)
        result = ErasureResult(person_ids=sorted(person.person_ids))
        result.rows_deleted = delete_person(con, person)
        con.execute("COMMIT")
    finally:
        con.close()
    result.seconds["delete"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    rewrite_database(warehouse, os.environ.get("P360_DUCKDB_FORCE_COMPRESSION"))
    result.seconds["rewrite"] = time.perf_counter() - t1
    return person, result


def erase_person(
    warehouse: Path,
    kind: str,
    value: str,
    *,
    published: Path | None = None,
    exports: Path | None = None,
    rewrite_exports: bool = False,
) -> ErasureResult:
    """The whole erasure: warehouse rows and bytes, a new gated release, superseded releases
    and derived artifacts removed, exports listed (or rewritten). Raises GateFailed when the new
    release does not pass its gate (the warehouse is erased already; fix and publish again)."""
    import time

    from patient360.erase_exports import exports_with_person, rewrite_export
    from patient360.pipeline import stage_publish, stage_transform
    from patient360.pseudonym import key_id, load_key
    from patient360.tombstone_key import load_tombstone_key

    warehouse = Path(warehouse)
    tombstone_key = load_tombstone_key()  # both keys are checked before anything is deleted
    if key_id(tombstone_key) == key_id(load_key()):
        raise ConfigError("the tombstone key must not be the pseudonym key: a key rotation would orphan the tombstones")
    person, result = erase_from_warehouse(warehouse, kind, value, tombstone_key)
    t0 = time.perf_counter()
    # dbt artifacts next to the warehouse (scanned below), never in the project folder
    stage_transform(warehouse, target_dir=warehouse.parent / "dbt" / "erase")
    rewrite_database(warehouse, os.environ.get("P360_DUCKDB_FORCE_COMPRESSION"))  # dbt's deletes too
    result.seconds["rebuild"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    published = Path(published) if published else warehouse.parent / "published"
    stage_publish(warehouse, out_dir=published)
    result.artifacts_removed += prune_releases(published)
    result.seconds["publish"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result.artifacts_removed += remove_derived_artifacts(warehouse, person.needles())
    for root in {warehouse.parent, published}:  # the check a privacy officer would run
        result.leftovers.update({str(p): h for p, h in scan_tree(root, person.needles() - person.names).items()})
    result.seconds["scan"] = time.perf_counter() - t0
    if exports is not None:
        t0 = time.perf_counter()
        for path in exports_with_person(Path(exports), person):
            if rewrite_exports:
                rewrite_export(path, person)
                result.exports_rewritten.append(str(path))
            else:
                result.exports_found.append(str(path))
        result.seconds["exports"] = time.perf_counter() - t0
    return result
