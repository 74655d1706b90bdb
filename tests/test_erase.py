"""Erasure: one person leaves every zone, and their bytes leave every file.

The warehouse is rewritten with `force_compression='uncompressed'` before and during the
erasure (P360_DUCKDB_FORCE_COMPRESSION), so strings are stored as plain bytes: the scan must
first FIND the person's values (and, afterwards, another person's), else zero hits would prove
nothing (DuckDB's default FSST/dictionary compression can hide strings from a byte scan).
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from patient360.erase import ErasureError, erase_person, file_hits, rewrite_database, scan_tree
from patient360.identifiers import normalise_mobile

UNCOMPRESSED = "uncompressed"


def _person(con: duckdb.DuckDBPyConnection, skip: int = 0) -> dict[str, list[str]]:
    """A person with records in all four sources, an ID number and a name nobody else has."""
    pid = con.execute(
        """WITH names AS (SELECT identifier_value FROM restricted.identity_observations o
                JOIN restricted.person_registry r USING (source, source_record_id)
                WHERE identifier_type = 'person_name' GROUP BY 1 HAVING count(DISTINCT r.person_id) = 1),
           mobiles AS (SELECT identifier_value FROM restricted.identity_observations o
                JOIN restricted.person_registry r USING (source, source_record_id)
                WHERE identifier_type = 'mobile' GROUP BY 1 HAVING count(DISTINCT r.person_id) = 1)
        SELECT r.person_id FROM restricted.person_registry r
        JOIN restricted.identity_observations o USING (source, source_record_id)
        GROUP BY 1
        HAVING count(DISTINCT r.source) = 4
           AND count(*) FILTER (WHERE o.identifier_type = 'id_number') > 0
           AND bool_and(o.identifier_type <> 'person_name' OR o.identifier_value IN (SELECT * FROM names))
           AND bool_and(o.identifier_type <> 'mobile' OR o.identifier_value IN (SELECT * FROM mobiles))
        ORDER BY 1 LIMIT 1 OFFSET ?""",
        [skip],
    ).fetchone()[0]
    rows = con.execute(
        """SELECT o.identifier_type, o.identifier_value, r.source, r.source_record_id
        FROM restricted.person_registry r JOIN restricted.identity_observations o USING (source, source_record_id)
        WHERE r.person_id = ?""",
        [pid],
    ).fetchall()
    out: dict[str, list[str]] = {"record": sorted({r[3] for r in rows})}
    for kind, value, _, _ in rows:
        if kind in ("person_name", "mobile", "id_number"):
            out.setdefault(kind, []).append(value)
    typed = con.execute(
        "SELECT DISTINCT mobile FROM raw_his.patients WHERE id_number = ?", [out["id_number"][0]]
    ).fetchall()
    out["mobile_as_typed"] = [t[0] for t in typed if t[0] and t[0] not in out["mobile"]]
    out["patient_key"] = [
        con.execute("SELECT patient_key FROM restricted.person_keys WHERE person_id = ?", [pid]).fetchone()[0]
    ]
    return {k: sorted(set(v)) for k, v in out.items()}


def _needles(person: dict[str, list[str]]) -> list[str]:
    return sorted({v for k, vals in person.items() if k != "patient_key" for v in vals})


def _hits(root: Path, needles: list[str]) -> dict[str, list[str]]:
    return {str(p): h for p, h in scan_tree(root, needles).items()}


@pytest.fixture(scope="module")
def erased(tmp_path_factory: pytest.TempPathFactory, small_exports: Path):
    """A published warehouse (uncompressed strings); one person erased from it by ID number."""
    from patient360.pipeline import stage_land, stage_publish, stage_transform

    root = tmp_path_factory.mktemp("erase")
    exports = root / "exports"
    shutil.copytree(small_exports, exports)
    original = root / "exports_original"
    shutil.copytree(small_exports, original)
    warehouse = root / "wh" / "patient360.duckdb"
    stage_land(exports, warehouse)
    stage_transform(warehouse, target_dir=root / "target")
    stage_publish(warehouse)
    rewrite_database(warehouse, UNCOMPRESSED)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        person, other = _person(con), _person(con, skip=1)
    before = _hits(warehouse.parent, _needles(person))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("P360_DUCKDB_FORCE_COMPRESSION", UNCOMPRESSED)
        # the request spells the number with surrounding spaces and a lower-case check character
        request = " " + person["id_number"][0].lower() + " "
        result = erase_person(warehouse, "id_number", request, exports=exports, rewrite_exports=True)
    return {"root": root, "warehouse": warehouse, "exports": exports, "original": original, "person": person,
            "other": other, "before": before, "result": result}  # fmt: skip


def test_values_are_visible_before_erasure(erased):
    """The proof's precondition: every needle is found in the bytes before the erasure."""
    found = {n for hits in erased["before"].values() for n in hits}
    assert set(_needles(erased["person"])) <= found, set(_needles(erased["person"])) - found


def test_no_byte_of_the_person_is_left(erased):
    """Warehouse file, WAL, Parquet, release files, logs, gate results, dbt artifacts, report:
    zero hits in UTF-8 and GBK; another person's values are still found (the scan can see)."""
    root = erased["warehouse"].parent
    assert _hits(root, _needles(erased["person"])) == {}
    assert _hits(root, erased["person"]["patient_key"]) == {}
    other = erased["other"]["id_number"][0]
    assert file_hits(erased["warehouse"], [other]) == [other]


def test_rows_are_gone_and_tombstones_are_keyed(erased):
    person = erased["person"]
    with duckdb.connect(str(erased["warehouse"]), read_only=True) as con:
        tombstones = con.execute("SELECT identifier_type, identifier_hmac FROM restricted.erasure_tombstones")
        tombstones = tombstones.fetchall()
        registry = con.execute(
            "SELECT count(*) FROM restricted.person_registry WHERE source_record_id IN (SELECT unnest(?))",
            [person["record"]],
        ).fetchone()[0]
    assert registry == 0
    kinds = {t[0] for t in tombstones}
    assert {"id_number", "mobile", "mrn", "contact_id"} <= kinds
    assert all(len(h) == 64 and h not in _needles(person) for _, h in tombstones)


def test_new_release_is_gated_and_superseded_releases_are_deleted(erased):
    published = erased["warehouse"].parent / "published"
    for tier in ("aggregate", "person", "activation"):
        folder = published / tier
        assert len(list(folder.glob("parquet-*"))) == 1, list(folder.glob("parquet-*"))
        manifest = json.loads((folder / "release.json").read_text(encoding="utf-8"))
        assert manifest["tier"] == tier
    assert (published / "report" / "index.html").is_file()


def test_exports_were_rewritten_without_the_person(erased):
    result, person = erased["result"], erased["person"]
    assert result.exports_rewritten
    strong = [v for k in ("id_number", "record") for v in person[k]]
    for path in erased["exports"].rglob("*"):
        if path.is_file() and "_truth" not in path.parts:
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" and _gz_ok(path) else path.read_bytes()
            assert not [s for s in strong if s.encode() in data], path


def _gz_ok(path: Path) -> bool:
    try:
        gzip.decompress(path.read_bytes())
    except (EOFError, OSError):
        return False
    return True


def _redeliver(original: Path, exports: Path, person: dict[str, list[str]], day: date) -> int:
    """A late export: the person's lines of every plain file of the original set (CSV with its
    header), delivered again in a new partition. Returns the number of files written."""
    strong = [v.encode() for k in ("id_number", "record") for v in person[k]]
    copied = 0
    for path in original.rglob("*"):
        if not path.is_file() or path.suffix not in (".csv", ".ndjson") or "_truth" in path.parts:
            continue
        lines = path.read_bytes().splitlines(keepends=True)
        head = lines[:1] if path.suffix == ".csv" else []
        mine = [ln for ln in lines[len(head) :] if any(s in ln for s in strong)]
        if mine:
            target = exports / path.relative_to(original).parts[0] / day.isoformat() / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"".join(head + mine))
            copied += 1
    return copied


def test_relanding_old_exports_does_not_bring_the_person_back(erased):
    from patient360.pipeline import stage_land, stage_transform

    warehouse, person = erased["warehouse"], erased["person"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        last = con.execute("SELECT max(partition_date) FROM audit.file_loads").fetchone()[0]
    assert _redeliver(erased["original"], erased["exports"], person, date.fromordinal(last.toordinal() + 1)) > 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("P360_DUCKDB_FORCE_COMPRESSION", UNCOMPRESSED)
        stage_land(erased["exports"], warehouse)
        stage_transform(warehouse, target_dir=erased["root"] / "target")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        erased_rows = con.execute("SELECT count(*) FROM audit.quarantine WHERE rule = 'erased'").fetchone()[0]
        linked = con.execute(
            "SELECT count(*) FROM restricted.identity_observations WHERE identifier_value IN (SELECT unnest(?))",
            [person["id_number"] + person["record"]],
        ).fetchone()[0]
    assert erased_rows > 0
    assert linked == 0
    assert _hits(warehouse.parent, _needles(person)) == {}  # quarantined without raw text


def test_unknown_and_ambiguous_requests_are_refused(erased):
    with pytest.raises(ErasureError, match="no person"):
        erase_person(erased["warehouse"], "id_number", erased["person"]["id_number"][0])
    with pytest.raises(ErasureError, match="not a valid mobile"):
        erase_person(erased["warehouse"], "mobile", "12345")
    assert normalise_mobile("+86 " + erased["other"]["mobile"][0]) == erased["other"]["mobile"][0]


def test_cli_erase_needs_one_identifier_and_a_warehouse(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from patient360.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["erase", "--help"])
    assert exit_.value.code == 0 and "--rewrite-exports" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["erase", "--mobile", "13800000000", "--mrn", "MRN00000001"])
    assert exit_.value.code == 2  # one identifier per request
    assert main(["erase", "--mrn", "MRN00000001", "--warehouse", str(tmp_path / "none.duckdb")]) == 3
