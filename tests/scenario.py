"""Planted days of a multi-day scenario, shared by the incremental tests: a CRM contact that
merges two persons and its later correction (a split), real vendor files whose devices are
bound a day late, and a reading delivered late for an old day."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb

VENDORS = Path(__file__).parent / "fixtures" / "vendors"
DEXCOM, FITBIT = "DX7A21B9C4", "FB-2022484408"  # Dexcom G7 transmitter, Fitbit user id
MERGE_CONTACT = "C990000001"


def sql(warehouse: Path, query: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def export_days(exports: Path) -> list[date]:
    """The daily partitions of a generated export set, oldest first (its manifest)."""
    params = json.loads((exports / "_truth" / "manifest.json").read_text())["parameters"]
    end = date.fromisoformat(params["end_date"])
    return [end - timedelta(days=n) for n in range(params["days"] - 1, -1, -1)]


PERSON_IDS = """
    with po as (
        select r.person_id, o.identifier_type as t, o.identifier_value as v
        from restricted.person_registry as r
        inner join restricted.identity_observations as o
            on o.source = r.source and o.source_record_id = r.source_record_id
    ),
    holders as (select distinct person_id from po where t = 'id_number'),
    lone_mobiles as (select v from po where t = 'mobile' group by v having count(distinct person_id) = 1)
    select
        (select min(person_id || '|' || v) from po where t = 'mobile' and v in (select v from lone_mobiles)
            and person_id in (select person_id from holders)),
        (select min(person_id || '|' || v) from po where t = 'wechat_unionid'
            and person_id not in (select person_id from holders))
"""


def plant_merge(warehouse: Path, exports: Path, day: date) -> tuple[int, int, Path]:
    """A new CRM contact carrying the mobile of an ID holder (person a) and the WeChat unionid
    of a CRM-only person (person b): rule 2 then puts a and b together."""
    holder, lead = sql(warehouse, PERSON_IDS)[0]
    a, mobile = holder.split("|")
    b, unionid = lead.split("|")
    template = next((exports / "crm").glob("*/contacts.csv"))
    with template.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header, row = reader.fieldnames, next(reader)
    at = f"{day} 10:00:00"
    row |= {"contact_id": MERGE_CONTACT, "mobile": mobile, "wechat_unionid": unionid, "wechat_openid": ""}
    row |= {"created_at": at, "updated_at": at, "consent_at": "", "marketing_consent": "false"}
    path = exports / "crm" / str(day) / "contacts_planted.csv"
    write_csv(path, header, row)
    return int(a), int(b), path


def plant_correction(planted: Path, day: date) -> None:
    """The source re-delivers the same contact version with the unionid corrected away."""
    with planted.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header, row = reader.fieldnames, next(reader)
    write_csv(planted.parent.parent / str(day) / "contacts_corrected.csv", header, row | {"wechat_unionid": ""})


def write_csv(path: Path, header: list[str], row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerow(row)


def write_late_reading(warehouse: Path, path: Path, days_back: int) -> None:
    """A generated device's new reading for a day long before the lookback window, in a new file."""
    day = sql(warehouse, f"select max(measured_date) - {days_back} from intermediate.int_wearable__daily")[0][0]
    serial, metric, at, value, unit, vendor = sql(
        warehouse,
        "select device_serial, metric, timezone('Asia/Shanghai', measured_at), value, unit, vendor "
        "from raw_wearable.readings where _local_date = ? and metric = 'heart_rate' order by all limit 1",
        [day],
    )[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "device_serial,vendor,metric,value,unit,measured_at\n"
        f"{serial},{vendor},{metric},{value},{unit},{at + timedelta(seconds=1):%Y-%m-%d %H:%M:%S}\n",
        encoding="utf-8",
    )


def write_bindings(warehouse: Path, path: Path) -> tuple[str, date]:
    """Bind the Dexcom transmitter and the Fitbit id to a known consult user from 2016 on, and
    re-export a generated binding closed 10 days before the latest reading (a re-bound device:
    its later readings lose their attribution). Returns the closed binding and its last day."""
    user = sql(warehouse, "select min(platform_user_id) from staging.stg_consult__sessions")[0][0]
    closed_on = sql(warehouse, "select max(measured_date) - 10 from intermediate.int_wearable__daily")[0][0]
    closed = sql(
        warehouse,
        "select b.binding_id, b.device_serial, b.vendor, b.device_type, coalesce(b.platform_user_id, ''), "
        "coalesce(b.mobile, ''), strftime(timezone('Asia/Shanghai', b.bound_at), '%Y-%m-%d %H:%M:%S') "
        "from raw_wearable.device_bindings as b inner join intermediate.int_wearable__daily as d "
        "on d.binding_id = b.binding_id and d.measured_date > ? "
        "where b.unbound_at is null group by all order by count(*) desc, 1 limit 1",
        [closed_on],
    )[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "binding_id,device_serial,vendor,device_type,platform_user_id,mobile,bound_at,unbound_at\n"
        f"{DEXCOM}:20160101,{DEXCOM},dexcom,cgm,{user},,2016-01-01 00:00:00,\n"
        f"{FITBIT}:20160101,{FITBIT},fitbit,band,{user},,2016-01-01 00:00:00,\n"
        + ",".join(closed)
        + f",{closed_on} 23:59:59\n",
        encoding="utf-8",
    )
    return closed[0], closed_on
