"""Withdrawal of marketing consent, day by day on generated exports.

Days 1-3: the generated exports; the person consents and is on the activation list.
Day 4: the CRM re-exports one of the person's contacts with `consent_withdrawn_at` set (the
opt-in flag itself left as it was: the withdrawal time alone must take them off).
Then: the run as of day 4 and the release made after it leave the person off the activation
list, the person stays in patient_360 and the clinical facts; a backfill as of day 3 computes
the consent in force on day 3 (given) without rewinding the current activation list
(consent history is point-in-time, both record versions are kept).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

WITHDRAWN_AT = "10:30:00+08:00"


def _consenting_patient(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """(patient_key, contact_id) of a person on the activation list with visits on record."""
    return con.execute(
        """SELECT a.patient_key, min(l.source_record_id) FROM marts.seg_marketing_activation a
        JOIN restricted.identity_links l ON l.patient_key = a.patient_key AND l.source = 'crm'
        WHERE a.patient_key IN (SELECT patient_key FROM marts.fct_visits)
        GROUP BY 1 ORDER BY 1 LIMIT 1"""
    ).fetchone()


def _withdraw(con: duckdb.DuckDBPyConnection, contact_id: str, out: Path, day: date) -> None:
    """A new version of the contact's latest row, withdrawn on `day`, as a CRM export file."""
    at = f"{day.isoformat()} {WITHDRAWN_AT}"
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""COPY (SELECT contact_id, mobile, name, wechat_openid, wechat_unionid, source_channel, campaign_id,
                created_at, marketing_consent, consent_at, '{at}' AS consent_withdrawn_at, '{at}' AS updated_at
            FROM raw_crm.contacts WHERE contact_id = ? ORDER BY updated_at DESC LIMIT 1)
        TO '{out}' (HEADER, DELIMITER ',')""".replace("?", "'" + contact_id.replace("'", "''") + "'")
    )


def _state(warehouse: Path, patient_key: str) -> dict[str, object]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        q = "SELECT count(*) FROM {} WHERE patient_key = ?"
        return {
            "activation": con.execute(q.format("marts.seg_marketing_activation"), [patient_key]).fetchone()[0],
            "patient_360": con.execute(q.format("marts.patient_360"), [patient_key]).fetchone()[0],
            "visits": con.execute(q.format("marts.fct_visits"), [patient_key]).fetchone()[0],
            "consent": con.execute(
                "SELECT marketing_consent FROM marts.patient_360 WHERE patient_key = ?", [patient_key]
            ).fetchone()[0],
        }


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, small_exports: Path):
    from patient360.pipeline import stage_land, stage_transform

    root = tmp_path_factory.mktemp("withdrawal")
    exports = root / "exports"
    shutil.copytree(small_exports, exports)
    warehouse = root / "wh" / "patient360.duckdb"
    stage_land(exports, warehouse)
    stage_transform(warehouse, target_dir=root / "target")
    with duckdb.connect(str(warehouse)) as con:
        last = con.execute("SELECT max(partition_date) FROM audit.file_loads").fetchone()[0]
        patient_key, contact_id = _consenting_patient(con)
        day4 = last + timedelta(days=1)
        _withdraw(con, contact_id, exports / "crm" / day4.isoformat() / "contacts.csv", day4)
    before = _state(warehouse, patient_key)
    stage_land(exports, warehouse)
    stage_transform(warehouse, day4, target_dir=root / "target")
    return {"root": root, "warehouse": warehouse, "key": patient_key, "contact": contact_id,
            "last": last, "day4": day4, "before": before, "after": _state(warehouse, patient_key)}  # fmt: skip


def test_consenting_person_is_on_the_list_before(scenario):
    assert scenario["before"]["activation"] == 1
    assert scenario["before"]["consent"] is True


def test_withdrawal_takes_the_person_off_the_list_from_the_next_run(scenario):
    after = scenario["after"]
    assert after["activation"] == 0
    assert after["consent"] is False


def test_person_stays_in_clinical_marts(scenario):
    before, after = scenario["before"], scenario["after"]
    assert after["patient_360"] == 1
    assert after["visits"] == before["visits"] > 0


def test_release_after_withdrawal_leaves_the_person_out(scenario):
    from patient360.pipeline import stage_publish

    release = stage_publish(scenario["warehouse"], out_dir=scenario["root"] / "published")
    activation = release.tiers["activation"].duckdb_path
    person = release.tiers["person"].duckdb_path
    with duckdb.connect(str(activation), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM seg_marketing_activation WHERE patient_key = ?",
                           [scenario["key"]]).fetchone()[0] == 0  # fmt: skip
    with duckdb.connect(str(person), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM patient_360 WHERE patient_key = ?", [scenario["key"]]).fetchone()[0]


def test_consent_history_is_point_in_time(scenario):
    """Both record versions are kept. A backfill as of day 3 computes the consent in force then
    (given), while the current view, and with it the activation list, is not rewound."""
    from patient360.pipeline import stage_transform

    warehouse, key = scenario["warehouse"], scenario["key"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        versions = con.execute(
            "SELECT count(*) FROM staging.stg_crm__contacts WHERE contact_id = ?", [scenario["contact"]]
        ).fetchone()[0]
    assert versions >= 2
    stage_transform(warehouse, scenario["last"], target_dir=scenario["root"] / "target")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        then = con.execute("SELECT marketing_consent FROM intermediate.int_patient__crm WHERE patient_key = ?", [key])
        assert then.fetchone()[0] is True
    assert _state(warehouse, key)["activation"] == 0  # the current list stays as of day 4
