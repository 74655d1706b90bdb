"""The release register: who received which release (PIPL: show a regulator every recipient).

`audit.release_register` in the warehouse gets one row per release tier at every publish
(gate passed, or the attempt that failed it), one per export of the activation list
(`patient360 export-activation --to F --recipient R`), and one per key rotation. Each row
names the recipient (a person or system; publishing defaults to `bi:<tier>`, the BI tools
reading that tier), the tables and their row counts, the sha256 of every file handed over,
the gate verdict, the as-of date and the pseudonym key id. The tier's evidence page lists
the tier's register (patient360.evidence).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from patient360.warehouse import connect, relation_exists

DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.release_register (
    release_id   VARCHAR NOT NULL,   -- the release's id (release.json), shared by its tiers
    recorded_at  TIMESTAMP NOT NULL, -- UTC
    kind         VARCHAR NOT NULL,   -- publish | export | key_rotation
    tier         VARCHAR NOT NULL,
    recipient    VARCHAR NOT NULL,   -- who or what system received it
    target       VARCHAR,            -- where it went: the tier folder or the export file
    tables       JSON,               -- table -> rows
    checksums    JSON,               -- file -> sha256
    gate_verdict VARCHAR NOT NULL,   -- passed | failed
    checks_run   INTEGER,
    as_of_date   DATE,
    key_id       VARCHAR,
    CHECK (kind IN ('publish', 'export', 'key_rotation')),
    CHECK (gate_verdict IN ('passed', 'failed'))
);
COMMENT ON TABLE audit.release_register IS
    'Every release tier published, export of the activation list and key rotation: recipient, files, checksums'
"""
COLUMNS = ("release_id", "recorded_at", "kind", "tier", "recipient", "target", "tables", "checksums",
           "gate_verdict", "checks_run", "as_of_date", "key_id")  # fmt: skip


def default_recipient(tier: str) -> str:
    return f"bi:{tier}"


@dataclass
class Entry:
    release_id: str
    kind: str
    tier: str
    recipient: str
    gate_verdict: str
    target: str = ""
    tables: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    checks_run: int | None = None
    as_of_date: date | None = None
    key_id: str = ""
    recorded_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))

    def values(self) -> list:
        return [self.release_id, self.recorded_at, self.kind, self.tier, self.recipient, self.target,
                json.dumps(self.tables, sort_keys=True), json.dumps(self.checksums, sort_keys=True),
                self.gate_verdict, self.checks_run, self.as_of_date, self.key_id]  # fmt: skip


def record(warehouse: Path, entries: list[Entry]) -> None:
    """Append the entries to audit.release_register (one transaction)."""
    if not entries:
        return
    con = connect(warehouse)
    try:
        con.execute(DDL)
        marks = ", ".join("?" for _ in COLUMNS)
        con.executemany(f"INSERT INTO audit.release_register ({', '.join(COLUMNS)}) VALUES ({marks})",
                        [e.values() for e in entries])  # fmt: skip
    finally:
        con.close()


def entries(con: duckdb.DuckDBPyConnection, tier: str | None = None, catalog: str = "") -> list[dict]:
    """The register's rows (oldest first), optionally of one tier; [] when there is none yet.
    `catalog`: the warehouse's name when it is attached to `con` under another name."""
    found = (1,) if relation_exists(con, "audit", "release_register", catalog) else (0,)
    if not found or not found[0]:
        return []
    where, params = ("WHERE tier = ?", [tier]) if tier else ("", [])
    table = f"{catalog}.audit.release_register" if catalog else "audit.release_register"
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM {table} {where} ORDER BY recorded_at, tier", params)
    return [dict(zip(COLUMNS, r, strict=True)) for r in rows.fetchall()]


def read(warehouse: Path, tier: str | None = None) -> list[dict]:
    con = connect(warehouse, read_only=True)
    try:
        return entries(con, tier)
    finally:
        con.close()


def as_of_date(con: duckdb.DuckDBPyConnection, catalog: str = "") -> date | None:
    """The as-of date the warehouse's marts were built for (intermediate.int_run__as_of), if built.
    No query can fail here: the caller may be inside a transaction."""
    found = (1,) if relation_exists(con, "intermediate", "int_run__as_of", catalog) else (0,)
    if not found or not found[0]:
        return None
    prefix = f"{catalog}." if catalog else ""
    row = con.execute(f"SELECT max(as_of_date) FROM {prefix}intermediate.int_run__as_of").fetchone()
    return row[0] if row else None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_activation(warehouse: Path, published: Path, to: Path, recipient: str) -> Entry:
    """Copy the published activation list (its Parquet file, or CSV when `to` ends in .csv) to `to`
    and record the hand-over in the register."""
    from patient360.publish import MANIFEST, PARQUET_DIR
    from patient360.release_tiers import ACTIVATION

    tier_dir = Path(published) / ACTIVATION
    manifest = json.loads((tier_dir / MANIFEST).read_text(encoding="utf-8"))
    tables = manifest["tables"]
    if len(tables) != 1:
        raise ValueError(f"expected one activation table in {tier_dir / MANIFEST}, found {sorted(tables)}")
    (table,) = tables
    source = tier_dir / PARQUET_DIR / f"{table}.parquet"
    to = Path(to)
    to.parent.mkdir(parents=True, exist_ok=True)
    if to.suffix.lower() == ".csv":
        con = connect()
        try:
            con.execute(f"COPY (SELECT * FROM read_parquet(?)) TO '{str(to).replace(chr(39), chr(39) * 2)}' "
                        "(FORMAT csv, HEADER)", [str(source)])  # fmt: skip
        finally:
            con.close()
    else:
        shutil.copyfile(source, to)
    con = connect(tier_dir / "marts.duckdb", read_only=True)
    try:
        as_of = con.execute(f'SELECT max(as_of_date) FROM "{table}"').fetchone()
    finally:
        con.close()
    entry = Entry(manifest["release_id"], "export", ACTIVATION, recipient, "passed" if manifest["gate"]["passed"]
                  else "failed", target=str(to.resolve()), tables={table: tables[table]["rows"]},
                  checksums={to.name: sha256(to)}, checks_run=manifest["gate"]["checks_run"],
                  as_of_date=as_of[0] if as_of else None, key_id=manifest["key_id"])  # fmt: skip
    record(warehouse, [entry])
    return entry
