"""The generator: deterministic, contract-valid except the planted dirt, truthful."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from stdnum.cn import ric

from patient360.contracts import all_contracts
from patient360.land import land_exports
from patient360.synth import generate_exports, params


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def test_same_seed_gives_byte_identical_exports(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_exports(a, patients=150, days=2, seed=11, progress=False)
    generate_exports(b, patients=150, days=2, seed=11, progress=False)
    generate_exports(c, patients=150, days=2, seed=12, progress=False)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_layout_formats_and_encodings(small_exports):
    manifest = json.loads((small_exports / "_truth" / "manifest.json").read_text())
    days = sorted(p.name for p in (small_exports / "his").iterdir())
    assert len(days) == manifest["parameters"]["days"]
    assert days[-1] == manifest["parameters"]["end_date"]
    patients = small_exports / "his" / days[0] / "patients.csv"
    raw = patients.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # HIS exports are GBK, as real ones often are
    header = raw.decode("gbk").splitlines()[0].split(",")
    from patient360.contracts import get_contract

    assert header == get_contract("his", "patients").column_names
    first = (small_exports / "consult" / days[0] / "sessions.ndjson").read_text(encoding="utf-8").splitlines()[0]
    assert set(json.loads(first)) == set(get_contract("consult", "sessions").column_names)
    assert list((small_exports / "wearable" / days[0]).glob("readings*.csv.gz"))


def test_clean_generation_lands_without_quarantine(tmp_path):
    exports, wh = tmp_path / "x", tmp_path / "wh.duckdb"
    generate_exports(exports, patients=200, days=2, seed=3, dirt_rate=0, progress=False)
    assert pd.read_csv(exports / "_truth" / "dirt.csv").empty
    report = land_exports(exports, wh)
    assert report.ok, report.render()
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select count(*) from audit.quarantine").fetchone()[0] == 0
    # every contract table received rows
    for c in all_contracts():
        assert con.execute(f"select count(*) from {c.raw_table}").fetchone()[0] > 0, c.raw_table
    con.close()


def test_identity_truth_covers_every_exported_record(small_exports, tmp_path):
    truth = pd.read_csv(small_exports / "_truth" / "identity.csv", dtype=str)
    assert set(truth.source) == {"his", "crm", "consult", "wearable"}
    assert not truth.duplicated(["source", "source_record_id"]).any()
    wh = tmp_path / "wh.duckdb"
    land_exports(small_exports, wh)
    con = duckdb.connect(str(wh), read_only=True)
    exported = {
        "his": "select distinct mrn from raw_his.patients",
        "crm": "select distinct contact_id from raw_crm.contacts",
        "consult": "select distinct platform_user_id from raw_consult.sessions",
        "wearable": "select distinct binding_id from raw_wearable.device_bindings",
    }
    for source, sql in exported.items():
        ids = {r[0] for r in con.execute(sql).fetchall()}
        known = set(truth[truth.source == source].source_record_id)
        assert ids and ids <= known, source
    # the ID numbers exported are valid (upper-cased), apart from planted invalid checksums
    dirt = pd.read_csv(small_exports / "_truth" / "dirt.csv")
    planted = (dirt.kind == "invalid_id_checksum").sum()
    bad = sum(
        not ric.is_valid(i.upper())
        for (i,) in con.execute("select id_number from raw_his.patients where id_number is not null").fetchall()
    )
    assert bad == 0  # planted ones were quarantined, never landed
    assert planted >= 1
    con.close()


def test_identity_noise_is_present(small_exports):
    his = pd.concat(pd.read_csv(p, dtype=str, encoding="gbk") for p in small_exports.glob("his/*/patients.csv"))
    crm = pd.concat(pd.read_csv(p, dtype=str) for p in small_exports.glob("crm/*/contacts.csv"))
    mobiles = pd.concat([his.mobile, crm.mobile]).dropna()
    assert mobiles.str.contains("-").any() and mobiles.str.startswith("+86").any()
    assert his.id_number.dropna().str.endswith("x").any() or his.id_number.dropna().str.endswith("X").any()


def test_population_shapes_follow_the_domain_figures(tmp_path):
    out = tmp_path / "big"
    generate_exports(out, patients=5000, days=1, seed=5, dirt_rate=0, progress=False)
    persons = pd.read_csv(out / "_truth" / "persons.csv")
    age = persons.age
    assert abs((age.between(25, 45)).mean() - 0.62) < 0.03
    assert abs((age >= 60).mean() - 0.18) < 0.03
    assert abs((age <= 14).mean() - 0.14) < 0.03
    elderly_chronic = persons[age >= 60].chronic_conditions.fillna("").ne("").mean()
    assert abs(elderly_chronic - 0.68) < 0.06
    adherent = persons[persons.chronic_conditions.fillna("").ne("")].medication_adherent.mean()
    assert abs(adherent - params.MEDICATION_ADHERENT_SHARE) < 0.05
