"""Erasure survives a pseudonym key rotation, through the CLI: erase a person, rotate the key,
deliver the person's old export rows again -> they are quarantined with rule `erased` and the
person comes back in no mart and no release (tombstones are keyed with the tombstone key, which
the rotation does not touch)."""

from __future__ import annotations

import secrets
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from patient360.cli import main
from patient360.pipeline import stage_transform
from test_erase import _person, _redeliver

NEW_KEY = secrets.token_hex(32)


def _one(db: Path, sql: str, params: list | None = None):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchone()[0]


def _persons(wh: Path) -> dict[str, int]:
    """Persons in the registry, in the keys, in the person mart and in the published person tier."""
    published = wh.parent / "published" / "person" / "marts.duckdb"
    return {
        "registry": _one(wh, "SELECT count(DISTINCT person_id) FROM restricted.person_registry"),
        "keys": _one(wh, "SELECT count(*) FROM restricted.person_keys"),
        "mart": _one(wh, "SELECT count(*) FROM marts.patient_360"),
        "release": _one(published, "SELECT count(*) FROM patient_360"),
    }


def test_erased_person_stays_out_after_a_key_rotation(
    built_warehouse: Path, small_exports: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh, published = tmp_path / "wh" / "patient360.duckdb", tmp_path / "wh" / "published"
    wh.parent.mkdir()
    shutil.copy(built_warehouse, wh)
    exports = tmp_path / "exports"
    shutil.copytree(small_exports, exports)
    with duckdb.connect(str(wh), read_only=True) as con:
        person = _person(con)
        last = con.execute("SELECT max(partition_date) FROM audit.file_loads").fetchone()[0]
    where = ["--warehouse", str(wh), "--published", str(published)]

    assert main(["erase", "--id-number", person["id_number"][0], *where]) == 0
    after_erase = _persons(wh)

    key_file = tmp_path / "new.key"
    key_file.write_text(NEW_KEY + "\n", encoding="utf-8")
    assert main(["key", "rotate", "--new-key-file", str(key_file), *where]) == 0
    monkeypatch.setenv("P360_PSEUDONYM_KEY", NEW_KEY)  # from now on every run uses the new key
    assert _persons(wh) == after_erase

    assert _redeliver(small_exports, exports, person, date.fromordinal(last.toordinal() + 1)) > 0
    assert main(["land", "--exports", str(exports), "--warehouse", str(wh)]) == 0
    stage_transform(wh, target_dir=tmp_path / "target")  # what `run` does, with dbt's files kept in tmp
    assert main(["publish", "--warehouse", str(wh), "--out", str(published)]) == 0

    erased = _one(wh, "SELECT count(*) FROM audit.quarantine WHERE rule = 'erased'")
    linked = _one(
        wh,
        "SELECT count(*) FROM restricted.identity_observations WHERE identifier_value IN (SELECT unnest(?))",
        [person["id_number"] + person["record"]],
    )
    raw = _one(wh, "SELECT count(*) FROM raw_his.patients WHERE id_number IN (SELECT unnest(?))", [person["id_number"]])
    assert erased > 0
    assert (linked, raw) == (0, 0)
    assert _persons(wh) == after_erase  # nobody new in the registry, the marts or the release


STRONG = secrets.token_hex(20)


def test_tombstone_key_precedence_variable_then_key_file_then_project_file(monkeypatch, tmp_path) -> None:
    from patient360 import tombstone_key
    from patient360.pseudonym import PseudonymKeyError

    monkeypatch.delenv("P360_TOMBSTONE_KEY", raising=False)
    monkeypatch.delenv("P360_TOMBSTONE_KEY_FILE", raising=False)
    project_file = tmp_path / "project" / ".secrets" / "tombstone.key"
    monkeypatch.setattr(tombstone_key, "project_tombstone_key_file", lambda: project_file)
    with pytest.raises(PseudonymKeyError, match="no tombstone key .* export P360_TOMBSTONE_KEY"):
        tombstone_key.load_tombstone_key()
    assert tombstone_key.ensure_tombstone_key() == project_file and project_file.stat().st_mode & 0o077 == 0
    assert tombstone_key.load_tombstone_key() == project_file.read_text().strip().encode()
    f = tmp_path / "key"
    f.write_text("f" + STRONG + "\n")
    monkeypatch.setenv("P360_TOMBSTONE_KEY_FILE", str(f))
    assert tombstone_key.load_tombstone_key() == ("f" + STRONG).encode()
    monkeypatch.setenv("P360_TOMBSTONE_KEY", "v" + STRONG)
    assert (tombstone_key.load_tombstone_key(), tombstone_key.tombstone_key_source()) == (
        ("v" + STRONG).encode(), "P360_TOMBSTONE_KEY")  # fmt: skip


def test_tombstones_of_another_key_are_refused_not_ignored() -> None:
    from patient360.erase import TOMBSTONE_DDL, TOMBSTONES, check_tombstone_key
    from patient360.errors import ConfigError
    from patient360.pseudonym import key_id

    made_with, other = ("a" + STRONG).encode(), ("b" + STRONG).encode()
    con = duckdb.connect()
    con.execute(TOMBSTONE_DDL)
    con.execute(f"INSERT INTO {TOMBSTONES} VALUES ('mrn', 'x', current_date, 1, ?)", [key_id(made_with)])
    check_tombstone_key(con, made_with)
    with pytest.raises(ConfigError, match=f"tombstone key id\\(s\\) {key_id(made_with)}.*P360_TOMBSTONE_KEY_FILE"):
        check_tombstone_key(con, other)
