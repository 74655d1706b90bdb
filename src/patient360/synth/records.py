"""Source records (with identifier noise) and the identity truth that links them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patient360.synth import identifiers as ids
from patient360.synth import params as P
from patient360.synth.population import DAY, SEC, Timeline

WECHAT_CHANNELS = {"private_domain", "community_group", "social_video", "patient_referral"}
VENDORS = {  # device type: [(vendor, serial prefix, glucose unit)]
    "glucose_meter": [("sinocare", "SN", "mmol/L"), ("yuwell", "YW", "mg/dL")],
    "bp_monitor": [("omron", "OM", None), ("yuwell", "YB", None)],
    "band": [("huawei", "HW", None), ("xiaomi", "XM", None)],
}


def _random_time(rng: np.random.Generator, days: np.ndarray, lo_hour: int = 7, hi_hour: int = 22) -> np.ndarray:
    secs = rng.integers(lo_hour * 3600, hi_hour * 3600, len(days))
    return days.astype("datetime64[s]") + secs * SEC


def _ids(prefix: str, rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    nums = rng.choice(10**width, size=n, replace=False)
    return np.char.add(prefix, np.char.zfill(nums.astype(str), width))


def build_campaigns(rng: np.random.Generator, tl: Timeline) -> pd.DataFrame:
    """Three consecutive campaigns per channel covering the exported history."""
    rows = []
    span = int((tl.end - tl.history_start) / DAY) + 1
    specialties = ["endocrinology", "cardiology", "paediatrics", "dermatology", "gynaecology", "general", "oncology"]
    k = 0
    for channel in P.CHANNELS:
        for part in range(3):
            start = tl.history_start + (span * part // 3) * DAY
            end = tl.history_start + (span * (part + 1) // 3 - 1) * DAY
            k += 1
            rows.append(
                {
                    "campaign_id": f"CMP{k:04d}",
                    "campaign_name": f"{channel}-{specialties[k % len(specialties)]}-{part + 1}期",
                    "channel": channel,
                    "specialty": specialties[k % len(specialties)],
                    "start_date": start,
                    "end_date": end,
                    "budget": round(float(rng.uniform(20_000, 400_000)), 2),
                }
            )
    return pd.DataFrame(rows)


def assign_campaigns(persons: pd.DataFrame, campaigns: pd.DataFrame) -> np.ndarray:
    out = np.full(len(persons), None, dtype=object)
    for channel, group in campaigns.groupby("channel"):
        mask = (persons["channel"].to_numpy() == channel) & persons["has_crm"].to_numpy()
        starts = group["start_date"].to_numpy().astype("datetime64[D]")
        reg = persons["registered"].to_numpy()[mask]
        pos = np.searchsorted(starts, reg, side="right") - 1
        chosen = np.where(pos >= 0, group["campaign_id"].to_numpy()[np.clip(pos, 0, None)], None)
        out[mask] = chosen
    return out


def build_his_patients(rng: np.random.Generator, persons: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    p = persons[persons["has_his"]].reset_index(drop=True)
    n = len(p)
    mobile = p["mobile"].to_numpy().copy()
    # Children: often registered with a guardian's phone (an adult HIS patient with an ID number).
    guardians = p.index[(p["age"] >= 25) & (p["age"] <= 50) & p["id_number"].notna()].to_numpy()
    kids = np.flatnonzero((p["age"].to_numpy() <= 14) & (rng.random(n) < P.GUARDIAN_MOBILE_RATE))
    if len(guardians) and len(kids):
        mobile[kids] = p["mobile"].to_numpy()[rng.choice(guardians, len(kids))]
    registered_at = _random_time(rng, p["registered"].to_numpy())
    base = pd.DataFrame(
        {
            "person_id": p["person_id"],
            "name": p["name"],
            "gender": np.where(p["male"], "M", "F"),
            "birth_date": p["birth_date"],
            "id_number": p["id_number"],
            "mobile_raw": mobile,
            "city": p["city"],
            "province": p["province"],
            "registered_at": registered_at,
            "insurance_type": rng.choice(P.INSURANCE_TYPES, n, p=P.INSURANCE_WEIGHTS),
            "address": ids.addresses(rng, p["city"].to_numpy()),
        }
    )
    # A few people registered twice (same ID number, a second MRN, later).
    dup = base[(rng.random(n) < P.DUPLICATE_MRN_RATE) & base["id_number"].notna().to_numpy()].copy()
    later = (tl.end - dup["registered_at"].to_numpy().astype("datetime64[D]")) / DAY
    dup["registered_at"] = dup["registered_at"].to_numpy() + (rng.random(len(dup)) * later).astype(int) * DAY
    records = pd.concat([base, dup], ignore_index=True)
    records["mrn"] = _ids("MRN", rng, len(records), 8)
    records["mobile"] = ids.format_mobiles(rng, records["mobile_raw"].to_numpy())
    records["updated_at"] = records["registered_at"]
    records["version_reason"] = "new"
    # Mobile changes: a later version of the record with a new number.
    change = records[(rng.random(len(records)) < P.MOBILE_CHANGE_RATE)].copy()
    if len(change):
        remaining = np.maximum((tl.end_ts - change["registered_at"].to_numpy()) / SEC, 1).astype(np.int64)
        change["updated_at"] = (
            change["registered_at"].to_numpy() + (rng.random(len(change)) * remaining).astype(np.int64) * SEC
        )
        change["mobile_raw"] = ids.mobiles(rng, len(change))
        change["mobile"] = ids.format_mobiles(rng, change["mobile_raw"].to_numpy())
        change["version_reason"] = "mobile_change"
        records = pd.concat([records, change], ignore_index=True)
    idn = records["id_number"].astype(object)
    records["id_number"] = np.where(idn.notna(), idn, None)
    return records


def build_crm_contacts(rng: np.random.Generator, persons: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    p = persons[persons["has_crm"]].reset_index(drop=True)
    n = len(p)
    created = _random_time(rng, p["registered"].to_numpy() - rng.integers(0, 15, n) * DAY)
    wechat = np.isin(p["channel"].to_numpy(), list(WECHAT_CHANNELS)) & (rng.random(n) < 0.8)
    only_lead = ~p["has_his"].to_numpy() & ~p["has_consult"].to_numpy()
    no_mobile = wechat & only_lead & (rng.random(n) < P.LEAD_WITHOUT_MOBILE_RATE)
    base = pd.DataFrame(
        {
            "person_id": p["person_id"],
            "mobile_raw": np.where(no_mobile, None, p["mobile"].to_numpy()),
            "name": ids.typo(rng, p["name"].to_numpy(), P.NAME_TYPO_RATE),
            "wechat_unionid": np.where(wechat, ids.random_tokens(rng, n, 27, "o"), None),
            "source_channel": p["channel"],
            "campaign_id": p["campaign_id"],
            "created_at": created,
            "marketing_consent": p["consent"].to_numpy(),
            "withdraws": p["withdraws"].to_numpy(),
        }
    )
    # A second contact for some people (another campaign), sharing the phone or WeChat.
    second = base[rng.random(n) < P.SECOND_CRM_CONTACT_RATE].copy()
    second["created_at"] = second["created_at"].to_numpy() + rng.integers(1, 60, len(second)) * DAY
    second["name"] = ids.typo(rng, second["name"].to_numpy(), 0.2)
    contacts = pd.concat([base, second], ignore_index=True)
    contacts = contacts[contacts["created_at"].to_numpy() <= tl.end_ts].reset_index(drop=True)
    m = len(contacts)
    contacts["contact_id"] = _ids("C", rng, m, 9)
    contacts["wechat_openid"] = np.where(contacts["wechat_unionid"].notna(), ids.random_tokens(rng, m, 27, "o"), None)
    mob = contacts["mobile_raw"].to_numpy()
    has_mob = pd.notna(mob)
    formatted = np.full(m, None, dtype=object)
    if has_mob.any():
        formatted[has_mob] = ids.format_mobiles(rng, mob[has_mob].astype(str))
    contacts["mobile"] = formatted
    contacts["consent_at"] = np.where(contacts["marketing_consent"], contacts["created_at"], pd.NaT)
    contacts["consent_withdrawn_at"] = pd.NaT
    contacts["updated_at"] = contacts["created_at"]
    # Consent withdrawal: a later version of the contact.
    wd = contacts[contacts["withdraws"] & contacts["marketing_consent"]].copy()
    if len(wd):
        remaining = np.maximum((tl.end_ts - wd["created_at"].to_numpy()) / SEC, 1).astype(np.int64)
        when = wd["created_at"].to_numpy() + (rng.random(len(wd)) * remaining).astype(np.int64) * SEC
        wd["consent_withdrawn_at"] = when
        wd["updated_at"] = when
        wd["marketing_consent"] = False
        contacts = pd.concat([contacts, wd], ignore_index=True)
    return contacts


def build_consult_users(rng: np.random.Generator, persons: pd.DataFrame, his: pd.DataFrame) -> pd.DataFrame:
    p = persons[persons["has_consult"]].reset_index(drop=True)
    # the consult app knows the person's current phone (after a change, the new one)
    current = his.sort_values("updated_at").groupby("person_id")["mobile_raw"].last()
    mobile = p["person_id"].map(current).fillna(pd.Series(p["mobile"])).to_numpy().astype(str)
    return pd.DataFrame(
        {
            "person_id": p["person_id"],
            "platform_user_id": _ids("U", rng, len(p), 9),
            "mobile_raw": mobile,
            "real_name": ids.typo(rng, p["name"].to_numpy(), P.NAME_TYPO_RATE),
        }
    )


def build_bindings(
    rng: np.random.Generator, persons: pd.DataFrame, consult: pd.DataFrame, tl: Timeline, active_users: set[str]
) -> pd.DataFrame:
    """Device bindings. A device is bound through the consult account of users who use it
    (active_users: the consult export only knows users with sessions), and by phone."""
    p = persons[persons["has_wearable"]].reset_index(drop=True)
    n = len(p)
    dtype = np.where(
        p["has_diabetes"] | p["has_gestational_diabetes"],
        "glucose_meter",
        np.where(p["has_hypertension"], "bp_monitor", "band"),
    )
    pick = rng.integers(0, 2, n)
    vendor = np.array([VENDORS[t][k][0] for t, k in zip(dtype, pick, strict=True)])
    prefix = np.array([VENDORS[t][k][1] for t, k in zip(dtype, pick, strict=True)])
    bound = _random_time(rng, p["active_from"].to_numpy() + rng.integers(0, 20, n) * DAY)
    bound = np.minimum(bound, tl.end_ts - 3600 * SEC)
    users = consult[consult["platform_user_id"].isin(active_users)].set_index("person_id")["platform_user_id"]
    bindings = pd.DataFrame(
        {
            "person_id": p["person_id"],
            "device_serial": ids.device_serials(rng, prefix),
            "vendor": vendor,
            "device_type": dtype,
            "platform_user_id": p["person_id"].map(users).to_numpy(),
            "mobile_raw": p["mobile"].to_numpy(),
            "bound_at": bound,
            "unbound_at": pd.NaT,
        }
    )
    # bound through the consult account when there is one; the device app also asks
    # for a phone number, which most people give
    gave_phone = rng.random(len(bindings)) < 0.7
    bindings.loc[bindings["platform_user_id"].notna() & ~gave_phone, "mobile_raw"] = None
    # Re-binding: the device goes to another person (a new binding), the old one ends.
    candidates = persons[
        ~persons["has_wearable"] & (persons["has_his"] | persons["has_consult"]) & (persons["age"] > 14)
    ]
    rebind = np.flatnonzero(rng.random(n) < P.DEVICE_REBIND_RATE)
    rebind = rebind[: len(candidates)]
    extra = []
    if len(rebind):
        takers = candidates.sample(len(rebind), random_state=int(rng.integers(0, 2**31)))
        for i, (_, taker) in zip(rebind, takers.iterrows(), strict=True):
            start = bindings.at[i, "bound_at"]
            remaining = max(int((tl.end_ts - start) / SEC), 7200)
            when = start + int(rng.integers(3600, remaining)) * SEC
            bindings.at[i, "unbound_at"] = when
            uid = users.get(taker["person_id"])
            extra.append(
                {
                    "person_id": taker["person_id"],
                    "device_serial": bindings.at[i, "device_serial"],
                    "vendor": bindings.at[i, "vendor"],
                    "device_type": bindings.at[i, "device_type"],
                    "platform_user_id": uid,
                    "mobile_raw": taker["mobile"],
                    "bound_at": when + 60 * SEC,
                    "unbound_at": pd.NaT,
                }
            )
    bindings = pd.concat([bindings, pd.DataFrame(extra)], ignore_index=True) if extra else bindings
    bindings["binding_id"] = (
        bindings["device_serial"] + ":" + pd.to_datetime(bindings["bound_at"]).dt.strftime("%Y%m%d")
    )
    mob = bindings["mobile_raw"].to_numpy()
    has_mob = pd.notna(mob)
    formatted = np.full(len(bindings), None, dtype=object)
    if has_mob.any():
        formatted[has_mob] = ids.format_mobiles(rng, mob[has_mob].astype(str))
    bindings["mobile"] = formatted
    return bindings


def identity_truth(his, contacts, consult, bindings) -> pd.DataFrame:
    parts = [
        pd.DataFrame({"source": "his", "source_record_id": his["mrn"], "person_id": his["person_id"]}),
        pd.DataFrame({"source": "crm", "source_record_id": contacts["contact_id"], "person_id": contacts["person_id"]}),
        pd.DataFrame(
            {"source": "consult", "source_record_id": consult["platform_user_id"], "person_id": consult["person_id"]}
        ),
        pd.DataFrame(
            {"source": "wearable", "source_record_id": bindings["binding_id"], "person_id": bindings["person_id"]}
        ),
    ]
    return pd.concat(parts, ignore_index=True).drop_duplicates().sort_values(["source", "source_record_id"])
