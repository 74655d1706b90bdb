"""Pseudonym key rotation, retired keys, and the check that no release mixes keys.

`patient360 key rotate --new-key-file F` (docs/identity.md "Key rotation"):

1. refuses a new key that is weak, equal to the current one, or retired, and a warehouse whose
   `restricted.person_keys` is not wholly under the current key;
2. computes every person's new `patient_key` = HMAC(new key, 'person_id:<id>') (person_keys is
   keyed on the stable person_id, so the new keys follow from it alone), and in ONE transaction
   writes the old -> new map to `restricted.key_rotation_map`, re-keys every `patient_key` /
   `*_patient_key` column of every warehouse table (older segment snapshots and incremental facts
   included, which a rebuild would not recompute), updates person_keys, records the old key id
   as retired in `audit.pseudonym_keys` and the rotation in the release register;
3. under the new key: rebuilds the incremental facts whose record ids are keyed pseudonyms
   (REBUILD_FULL), runs `dbt build`, rewrites the warehouse into a fresh file (the old keys
   leave its bytes, patient360.compaction), publishes every tier and deletes the superseded
   release versions (they hold old keys).

The map is not published: whoever holds the map and an old release links it to the new one,
which is what a rotation after a leak must prevent. Publishing refuses a retired key, and
`check_release_keys` refuses a candidate whose key columns hold a value that is not a current
person key (a release never mixes keys).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from patient360.errors import P360Error
from patient360.pseudonym import (
    KEY_ENV,
    KEY_FILE_ENV,
    check_key_strength,
    key_id,
    key_source,
    load_key,
    project_key_file,
    pseudonymise,
)
from patient360.warehouse import connect

log = logging.getLogger(__name__)

KEY_CHECK_MESSAGE = "patient360 key check"  # person_keys.key_check = HMAC(key, this) (person_keys.sql)
PERSON_KEYS = "restricted.person_keys"
MAP_TABLE = "restricted.key_rotation_map"
# incremental facts whose record ids are keyed pseudonyms the map does not cover: rebuilt in full
REBUILD_FULL = ("fct_consult_sessions",)

DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.pseudonym_keys (
    key_id           VARCHAR NOT NULL,  -- patient360.pseudonym.key_id, never the key
    status           VARCHAR NOT NULL,  -- retired
    changed_at       TIMESTAMP NOT NULL,
    successor_key_id VARCHAR,
    CHECK (status IN ('retired'))
);
CREATE SCHEMA IF NOT EXISTS restricted;
CREATE TABLE IF NOT EXISTS restricted.key_rotation_map (
    rotated_at      TIMESTAMP NOT NULL,
    old_key_id      VARCHAR NOT NULL,
    new_key_id      VARCHAR NOT NULL,
    old_patient_key VARCHAR NOT NULL,
    new_patient_key VARCHAR NOT NULL
);
COMMENT ON TABLE restricted.key_rotation_map IS
    'RESTRICTED: old -> new patient_key of every pseudonym key rotation; never published'
"""


class KeyRotationError(P360Error):
    """The rotation or a publication was refused (retired key, mixed keys, same key)."""


def key_check(key: bytes) -> str:
    return pseudonymise(KEY_CHECK_MESSAGE, key) or ""


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, catalog: str = "") -> bool:
    from patient360.warehouse import relation_exists

    return relation_exists(con, schema, table, catalog)


def retired_key_ids(con: duckdb.DuckDBPyConnection, catalog: str = "") -> set[str]:
    if not _has_table(con, "audit", "pseudonym_keys", catalog):
        return set()
    table = f"{catalog}.audit.pseudonym_keys" if catalog else "audit.pseudonym_keys"
    return {k for (k,) in con.execute(f"SELECT key_id FROM {table} WHERE status = 'retired'").fetchall()}


def refuse_retired(con: duckdb.DuckDBPyConnection, key: bytes, catalog: str = "") -> None:
    if key_id(key) in retired_key_ids(con, catalog):
        raise KeyRotationError(
            f"the pseudonym key in use (key id {key_id(key)}, from {key_source() or 'nowhere'}) is retired: "
            'switch to the current key (docs/identity.md "Key rotation"); nothing published'
        )


def key_columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> list[str]:
    """The table's person-key columns: `patient_key` and `<role>_patient_key`."""
    return [c for (c,) in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? AND table_name = ? "
        "AND data_type = 'VARCHAR' AND (column_name = 'patient_key' OR column_name LIKE '%\\_patient_key' ESCAPE '\\')",
        [catalog, schema, table]).fetchall()]  # fmt: skip


def check_release_keys(con: duckdb.DuckDBPyConnection, warehouse_catalog: str, release_catalog: str,
                       tables: list[str], key: bytes) -> None:  # fmt: skip
    """Refuse a release whose key columns hold a value that is not a person key under `key`
    (release tables in `<release_catalog>.main`, person_keys in `<warehouse_catalog>`)."""
    keyed = {t: key_columns(con, release_catalog, "main", t) for t in tables}
    keyed = {t: cols for t, cols in keyed.items() if cols}
    if not keyed:
        return
    if not _has_table(con, "restricted", "person_keys", warehouse_catalog):
        raise KeyRotationError(f"{PERSON_KEYS} is missing: cannot verify the release's person keys (run dbt build)")
    current = f"(SELECT patient_key FROM {warehouse_catalog}.{PERSON_KEYS} WHERE key_check = ?)"
    stale = con.execute(f"SELECT count(*) FROM {warehouse_catalog}.{PERSON_KEYS} WHERE key_check <> ?",
                        [key_check(key)]).fetchone()  # fmt: skip
    problems = [f"{PERSON_KEYS}: {stale[0]} key(s) under another key"] if stale and stale[0] else []
    for table, cols in keyed.items():
        for col in cols:
            row = con.execute(f'SELECT count(*) FROM {release_catalog}.main."{table}" WHERE "{col}" IS NOT NULL '
                              f'AND "{col}" NOT IN {current}', [key_check(key)]).fetchone()  # fmt: skip
            if row and row[0]:
                problems.append(f"{table}.{col}: {row[0]} value(s) not under key id {key_id(key)}")
    if problems:
        raise KeyRotationError("the release would mix pseudonym keys: " + "; ".join(problems) + "; nothing published")


@dataclass
class Rotation:
    old_key_id: str
    new_key_id: str
    persons: int
    rekeyed: dict[str, int]  # table.column -> values re-keyed in place
    key_file_replaced: Path | None = None

    def render(self) -> str:
        lines = [f"rotated the pseudonym key {self.old_key_id} -> {self.new_key_id}: {self.persons:,} person keys; "
                 f"old key retired; map in {MAP_TABLE} (not published)"]  # fmt: skip
        lines += [f"  re-keyed {c:<55} {n:>10,}" for c, n in sorted(self.rekeyed.items())]
        if self.key_file_replaced:
            lines.append(f"  {self.key_file_replaced} now holds the new key")
        else:
            lines.append(f"  now point {KEY_FILE_ENV} (or {KEY_ENV}) at the new key everywhere: CLI, Airflow, dbt; "
                         "the old key is refused")  # fmt: skip
        return "\n".join(lines)


def read_key_file(path: Path) -> bytes:
    if not Path(path).is_file():
        raise KeyRotationError(f"new key file {path} does not exist")
    key = Path(path).read_text(encoding="utf-8").strip().encode("utf-8")
    check_key_strength(key)
    return key


def _rekey_tables(con: duckdb.DuckDBPyConnection, ids: tuple[str, str]) -> dict[str, int]:
    """Replace every old patient_key by its new one in every table of the warehouse (not the map)."""
    catalog = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
                         "AND NOT temporary ORDER BY 1, 2", [catalog]).fetchall()  # fmt: skip
    done: dict[str, int] = {}
    for schema, table in tables:
        if f"{schema}.{table}" in (MAP_TABLE, PERSON_KEYS):
            continue
        for col in key_columns(con, catalog, schema, table):
            cur = con.execute(
                f'UPDATE {schema}."{table}" AS t SET "{col}" = m.new_patient_key FROM {MAP_TABLE} AS m '
                f'WHERE t."{col}" = m.old_patient_key AND m.old_key_id = ? AND m.new_key_id = ?',
                list(ids),
            )
            done[f"{schema}.{table}.{col}"] = cur.fetchone()[0]  # type: ignore[index]
    return done


def rekey_warehouse(warehouse: Path, old: bytes, new: bytes) -> Rotation:
    """Steps 1-2 of the module docstring, in one transaction."""
    ids = (key_id(old), key_id(new))
    if ids[0] == ids[1]:
        raise KeyRotationError("the new key is the key in use: nothing to rotate")
    con = connect(warehouse)
    try:
        con.execute(DDL)
        if ids[1] in retired_key_ids(con):
            raise KeyRotationError(f"key id {ids[1]} is retired: choose a new key")
        refuse_retired(con, old)
        if not _has_table(con, "restricted", "person_keys"):
            raise KeyRotationError(f"{PERSON_KEYS} is missing: build the warehouse first (dbt build)")
        other = con.execute(f"SELECT count(*) FROM {PERSON_KEYS} WHERE key_check <> ?", [key_check(old)]).fetchone()
        if other and other[0]:
            raise KeyRotationError(f"{other[0]} person key(s) are not under the key in use ({ids[0]}): "
                                   "build with the current key before rotating")  # fmt: skip
        persons = [str(p) for (p,) in con.execute(f"SELECT person_id FROM {PERSON_KEYS}").fetchall()]
        now = datetime.now(UTC).replace(tzinfo=None)
        con.execute("BEGIN TRANSACTION")
        con.executemany(f"INSERT INTO {MAP_TABLE} VALUES (?, ?, ?, ?, ?)",
                        [(now, *ids, pseudonymise(f"person_id:{p}", old), pseudonymise(f"person_id:{p}", new))
                         for p in persons])  # fmt: skip
        rekeyed = _rekey_tables(con, ids)
        con.execute(f"UPDATE {PERSON_KEYS} AS k SET patient_key = m.new_patient_key, key_check = ? FROM {MAP_TABLE} "
                    "AS m WHERE k.patient_key = m.old_patient_key AND m.old_key_id = ? AND m.new_key_id = ?",
                    [key_check(new), *ids])  # fmt: skip
        con.execute("INSERT INTO audit.pseudonym_keys VALUES (?, 'retired', ?, ?)", [ids[0], now, ids[1]])
        con.execute("COMMIT")
    finally:
        con.close()
    _register(warehouse, ids, len(persons))
    return Rotation(ids[0], ids[1], len(persons), rekeyed)


def _register(warehouse: Path, ids: tuple[str, str], persons: int) -> None:
    from patient360.release_register import Entry, record

    record(warehouse, [Entry(f"key-rotation-{ids[0]}-{ids[1]}", "key_rotation", "restricted", "restricted zone",
                             "passed", target=MAP_TABLE, tables={MAP_TABLE: persons}, key_id=ids[1])])  # fmt: skip


@contextlib.contextmanager
def using_key_file(path: Path) -> Iterator[None]:
    """Within the block this process (and the dbt it starts) reads the key from `path`."""
    saved = {name: os.environ.get(name) for name in (KEY_ENV, KEY_FILE_ENV)}
    os.environ.pop(KEY_ENV, None)
    os.environ[KEY_FILE_ENV] = str(Path(path).resolve())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def rotate(warehouse: Path, new_key_file: Path, published: Path | None = None, *, rebuild: bool = True) -> Rotation:
    """Rotate to the key in `new_key_file` (the module docstring's steps 1-3)."""
    from patient360.compaction import rewrite
    from patient360.dbt_runner import run_dbt
    from patient360.pipeline import stage_publish, stage_transform

    warehouse = Path(warehouse)
    new = read_key_file(new_key_file)
    rotation = rekey_warehouse(warehouse, load_key(), new)
    if project_key_file().is_file() and key_source() == str(project_key_file()):
        tmp = project_key_file().with_name(f".{project_key_file().name}.{os.getpid()}.tmp")
        tmp.write_text(new.decode("utf-8") + "\n", encoding="utf-8")
        tmp.chmod(0o600)
        os.replace(tmp, project_key_file())  # the project's key file now holds the new key, the old is gone
        rotation.key_file_replaced = project_key_file()
    if rebuild:
        with using_key_file(new_key_file):
            target = warehouse.parent / "dbt" / "key-rotation"
            run_dbt(["run", "--full-refresh", "--select", *REBUILD_FULL], warehouse, target_dir=target)
            stage_transform(warehouse, target_dir=target)
            rewrite(warehouse)  # the replaced keys leave the file's bytes
            release = stage_publish(warehouse, published)
        _drop_superseded(release.published_dir)
    return rotation


def _drop_superseded(published: Path | None) -> None:
    """Delete release versions other than the current one of each tier: they hold retired keys."""
    if published is None:
        return
    for link in published.glob("*/parquet"):
        for version in link.parent.glob("parquet-*"):
            if version.is_dir() and version.resolve() != link.resolve():
                shutil.rmtree(version)
