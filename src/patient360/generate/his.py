"""HIS: patient master records (with identifier noise) and clinical activity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patient360.generate import identifiers as ids
from patient360.generate import params as P
from patient360.generate.events import DAY, SEC, Timeline, new_ids, periodic_events, random_time, repeat_events


def build_his_patients(rng: np.random.Generator, persons: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    p = persons[persons["has_his"]].reset_index(drop=True)
    n = len(p)
    mobile = p["mobile"].to_numpy().copy()
    # Children: often registered with a guardian's phone (an adult HIS patient with an ID number).
    low, high = P.GUARDIAN_AGES
    guardians = p.index[(p["age"] >= low) & (p["age"] <= high) & p["id_number"].notna()].to_numpy()
    kids = np.flatnonzero((p["age"].to_numpy() <= P.CHILD_MAX_AGE) & (rng.random(n) < P.GUARDIAN_MOBILE_RATE))
    if len(guardians) and len(kids):
        mobile[kids] = p["mobile"].to_numpy()[rng.choice(guardians, len(kids))]
    registered_at = random_time(rng, p["registered"].to_numpy())
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
    records["mrn"] = new_ids("MRN", rng, len(records), 8)
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
        change["mobile_raw"] = change["person_id"].map(persons.set_index("person_id")["spare_mobile"]).to_numpy()
        change["mobile"] = ids.format_mobiles(rng, change["mobile_raw"].to_numpy())
        change["version_reason"] = "mobile_change"
        records = pd.concat([records, change], ignore_index=True)
    idn = records["id_number"].astype(object)
    records["id_number"] = np.where(idn.notna(), idn, None)
    return records


CHRONIC_CONDITIONS = ["diabetes", "gestational_diabetes", "hypertension", "copd", "oncology"]
# Internal event frames, before ids: who (person row), day, visit_key (index of the visit row).
LAB_COLUMNS = ["who", "day", "visit_key", "test_code", "value", "unit"]


def his_activity(rng, persons: pd.DataFrame, his: pd.DataFrame, tl: Timeline) -> dict[str, pd.DataFrame]:
    """Visits, diagnoses, prescriptions, lab results and payments of the HIS patients.

    Events are drawn first (chronic follow-ups, then acute visits), tables built after, in this
    order: the order of random draws fixes the output for a seed."""
    # the person's first MRN carries the activity (a duplicate registration is rarely used)
    mrn_of = his.sort_values("registered_at").drop_duplicates("person_id").set_index("person_id")["mrn"]
    p = persons[persons["has_his"]].reset_index(drop=True)
    mrn = p["person_id"].map(mrn_of).to_numpy()
    start = np.maximum(p["active_from"].to_numpy(), p["registered"].to_numpy())
    stop = p["active_to"].to_numpy()
    visits, diagnoses, rx, labs = [], [], [], []
    chronic = _chronic_visits(rng, p, start, stop)
    if chronic is not None:
        visits.append(chronic)
        diagnoses += _chronic_diagnoses(rng, p, chronic)
        rx.append(_chronic_prescriptions(chronic))
        labs += _chronic_labs(rng, chronic)
    acute = _acute_visits(rng, p, start, stop, offset=sum(len(x) for x in visits))
    visits.append(acute)
    diagnoses += _acute_diagnoses(p, acute, start)
    rx.append(_acute_prescriptions(rng, acute))

    v = pd.concat(visits)
    visit_tbl = _visit_table(rng, v, mrn, tl)
    vid_of = pd.Series(visit_tbl["visit_id"].to_numpy(), index=v.index)
    diag_tbl = _diagnosis_table(rng, pd.concat(diagnoses, ignore_index=True), mrn, vid_of)
    rx_tbl = _prescription_table(rng, pd.concat(rx, ignore_index=True), mrn, vid_of)
    lab_tbl = _lab_table(rng, labs, mrn, vid_of)
    return {
        "visits": visit_tbl,
        "diagnoses": diag_tbl,
        "prescriptions": rx_tbl,
        "lab_results": lab_tbl,
        "payments": _payment_table(rng, visit_tbl, rx_tbl, tl),
    }


def _chronic_visits(rng, p: pd.DataFrame, start: np.ndarray, stop: np.ndarray) -> pd.DataFrame | None:
    """Follow-ups of the chronic patients (their primary condition), k = follow-up number."""
    primary = np.select([p[f"has_{c}"] for c in CHRONIC_CONDITIONS], CHRONIC_CONDITIONS, default="")
    chronic = np.flatnonzero(primary != "")
    if not len(chronic):
        return None
    adherent = p["adherent"].to_numpy()[chronic]
    lo = np.where(adherent, P.FOLLOWUP_INTERVAL_DAYS_ADHERENT[0], P.FOLLOWUP_INTERVAL_DAYS_OTHER[0])
    hi = np.where(adherent, P.FOLLOWUP_INTERVAL_DAYS_ADHERENT[1], P.FOLLOWUP_INTERVAL_DAYS_OTHER[1])
    i, day, k = periodic_events(rng, start[chronic], stop[chronic], lo, hi, P.FOLLOWUP_JITTER_DAYS)
    who = chronic[i]
    cond = primary[who]
    return pd.DataFrame(
        {
            "who": who,
            "day": day,
            "visit_type": np.where(rng.random(len(who)) < P.CHRONIC_ONLINE_VISIT_SHARE, "online", "outpatient"),
            "specialty": np.array([P.CHRONIC_SPECIALTY[c][0] for c in cond]),
            "department": np.array([P.CHRONIC_SPECIALTY[c][1] for c in cond]),
            "charge": rng.uniform(*P.CHRONIC_VISIT_CHARGE, len(who)).round(2),
            "cond": cond,
            "k": k,
        }
    )


def _chronic_diagnoses(rng, p: pd.DataFrame, v: pd.DataFrame) -> list[pd.DataFrame]:
    """Every chronic condition is diagnosed at the first follow-up; the visit's own is primary."""
    first = v[v["k"] == 0]
    out = []
    for c in CHRONIC_CONDITIONS:
        sub = first[p[f"has_{c}"].to_numpy()[first["who"].to_numpy()]]
        out.append(
            pd.DataFrame(
                {
                    "who": sub["who"],
                    "day": sub["day"],
                    "visit_key": sub.index,
                    "code": rng.choice(P.ICD10[c], len(sub)),
                    "primary": sub["cond"] == c,
                }
            )
        )
    return out


def _chronic_prescriptions(v: pd.DataFrame) -> pd.DataFrame:
    """A month's supply of the condition's drug at every follow-up."""
    cond = v["cond"].to_numpy()
    price = np.array([P.DRUGS[c][2] for c in cond])
    qty = np.where(cond == "gestational_diabetes", P.INSULIN_RX_QUANTITY, P.CHRONIC_RX_QUANTITY)
    return pd.DataFrame(
        {
            "who": v["who"].to_numpy(),
            "day": v["day"].to_numpy(),
            "visit_key": v.index,
            "drug_code": np.array([P.DRUGS[c][0] for c in cond]),
            "drug_name": np.array([P.DRUGS[c][1] for c in cond]),
            "quantity": qty,
            "days_supplied": P.CHRONIC_RX_DAYS_SUPPLIED,
            "amount": (qty * price).round(2),
        }
    )


def _chronic_labs(rng, v: pd.DataFrame) -> list[pd.DataFrame]:
    """HbA1c (diabetics, every few follow-ups) and clinic blood pressure (hypertensives)."""
    who, day, cond, k = v["who"].to_numpy(), v["day"].to_numpy(), v["cond"].to_numpy(), v["k"].to_numpy()
    dm = np.isin(cond, ["diabetes", "gestational_diabetes"]) & (k % P.HBA1C_EVERY_NTH_FOLLOWUP == 0)
    control = rng.normal(0, 1, len(who))  # one draw per follow-up: how well the condition is controlled
    hba1c = np.clip(P.HBA1C_MEAN + P.HBA1C_SD * control[dm], *P.HBA1C_CLIP).round(1)
    bp = cond == "hypertension"
    sbp = np.clip(P.SBP_MEAN + P.SBP_SD * control[bp], *P.SBP_CLIP).round(0)
    dbp = np.clip(sbp * P.DBP_PER_SBP + rng.normal(0, P.DBP_NOISE_SD, bp.sum()), *P.DBP_CLIP).round(0)
    return [
        pd.DataFrame(
            {"who": who[m], "day": day[m], "visit_key": v.index[m], "test_code": code, "value": value, "unit": unit}
        )
        for m, code, value, unit in [(dm, "HBA1C", hba1c, "%"), (bp, "SBP", sbp, "mmHg"), (bp, "DBP", dbp, "mmHg")]
    ]


def _acute_visits(rng, p: pd.DataFrame, start: np.ndarray, stop: np.ndarray, offset: int) -> pd.DataFrame:
    """Acute and preventive visits: children to paediatrics, women often gynaecology.
    Indexed after the `offset` chronic visits (the index is the visit key)."""
    i, day = repeat_events(rng, start, stop, p["rate"].to_numpy() / P.ACUTE_VISIT_EVERY_DAYS)
    age, male = p["age"].to_numpy()[i], p["male"].to_numpy()[i]
    r = rng.random(len(i))  # one draw decides both the specialty and the visit type
    gyn, derm, general = P.ACUTE_SPECIALTY_THRESHOLDS
    other = np.where(~male & (age < P.ACUTE_REPRODUCTIVE_BEFORE_AGE), "reproductive", "neurology")
    spec = np.where(
        age <= P.CHILD_MAX_AGE,
        "paediatrics",
        np.where(
            ~male & (age < P.ACUTE_GYNAECOLOGY_BEFORE_AGE) & (r < gyn),
            "gynaecology",
            np.where(r < derm, "dermatology", np.where(r < general, "general", other)),
        ),
    )
    types = P.ACUTE_VISIT_TYPE_THRESHOLDS
    vt = np.select([r < t for t in types.values()], list(types), default="outpatient")
    inpatient = rng.uniform(*P.INPATIENT_CHARGE, len(i))
    outpatient = rng.uniform(*P.ACUTE_OUTPATIENT_CHARGE, len(i))
    v = pd.DataFrame(
        {
            "who": i,
            "day": day,
            "visit_type": vt,
            "specialty": spec,
            "department": [P.ACUTE[s][0] for s in spec],
            "charge": np.where(vt == "inpatient", inpatient, outpatient).round(2),
            "cond": "acute",
            "k": 0,
        }
    )
    v.index = v.index + offset
    return v


def _acute_diagnoses(p: pd.DataFrame, v: pd.DataFrame, start: np.ndarray) -> list[pd.DataFrame]:
    """The acute visit's diagnosis (codes of its specialty in turn), and the oncology family
    history recorded without a visit when the person's activity starts."""
    spec = v["specialty"].to_numpy()
    codes = [P.ACUTE[s][1][j % len(P.ACUTE[s][1])] for j, s in enumerate(spec)]
    fh = np.flatnonzero(p["has_oncology_family_history"].to_numpy())
    family = P.ICD10["oncology_family_history"][0]
    return [
        pd.DataFrame({"who": v["who"], "day": v["day"], "visit_key": v.index, "code": codes, "primary": True}),
        pd.DataFrame({"who": fh, "day": start[fh], "visit_key": -1, "code": family, "primary": False}),
    ]


def _acute_prescriptions(rng, v: pd.DataFrame) -> pd.DataFrame:
    with_rx = rng.random(len(v)) < P.ACUTE_RX_SHARE
    code, name, price = P.DRUGS["acute"]
    return pd.DataFrame(
        {
            "who": v["who"][with_rx],
            "day": v["day"][with_rx],
            "visit_key": v.index[with_rx],
            "drug_code": code,
            "drug_name": name,
            "quantity": P.ACUTE_RX_QUANTITY,
            "days_supplied": P.ACUTE_RX_DAYS_SUPPLIED,
            "amount": round(P.ACUTE_RX_QUANTITY * price, 2),
        }
    )


def _visit_table(rng, v: pd.DataFrame, mrn: np.ndarray, tl: Timeline) -> pd.DataFrame:
    """his.visits; a visit still going on at the end of the export has no end yet."""
    visit_id = new_ids("V", rng, len(v), 10)
    started = random_time(rng, v["day"].to_numpy(), *P.CLINIC_HOURS)
    stay = rng.integers(*P.INPATIENT_STAY_DAYS, len(v)) * 86400
    length = np.where(v["visit_type"] == "inpatient", stay, rng.integers(*P.VISIT_LENGTH_SECONDS, len(v)))
    ended = started + length * SEC
    return pd.DataFrame(
        {
            "visit_id": visit_id,
            "mrn": mrn[v["who"]],
            "visit_type": v["visit_type"].to_numpy(),
            "department": v["department"].to_numpy(),
            "specialty": v["specialty"].to_numpy(),
            "doctor_id": np.char.add("D", np.char.zfill(rng.integers(*P.DOCTOR_NUMBERS, len(v)).astype(str), 4)),
            "started_at": started,
            "ended_at": np.where(ended <= tl.end_ts, ended, np.datetime64("NaT")),
            "charge_amount": v["charge"].to_numpy(),
        }
    )


def _diagnosis_table(rng, d: pd.DataFrame, mrn: np.ndarray, vid_of: pd.Series) -> pd.DataFrame:
    """his.diagnoses; only the family history is recorded without a visit."""
    diag_tbl = pd.DataFrame(
        {
            "diagnosis_id": new_ids("DX", rng, len(d), 10),
            "visit_id": d["visit_key"].map(vid_of).to_numpy(),
            "mrn": mrn[d["who"]],
            "icd10_code": d["code"].to_numpy(),
            "is_primary": d["primary"].to_numpy(),
            "diagnosed_at": random_time(rng, d["day"].to_numpy(), *P.CLINIC_HOURS),
        }
    )
    family = P.ICD10["oncology_family_history"][0]
    diag_tbl = diag_tbl[diag_tbl["visit_id"].notna() | (d["code"] == family).to_numpy()]
    diag_tbl.loc[diag_tbl["visit_id"].isna(), "visit_id"] = None
    return diag_tbl


def _prescription_table(rng, x: pd.DataFrame, mrn: np.ndarray, vid_of: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prescription_id": new_ids("RX", rng, len(x), 10),
            "visit_id": x["visit_key"].map(vid_of).to_numpy(),
            "mrn": mrn[x["who"]],
            "drug_code": x["drug_code"].to_numpy(),
            "drug_name": x["drug_name"].to_numpy(),
            "quantity": x["quantity"].to_numpy(),
            "days_supplied": x["days_supplied"].to_numpy(),
            "amount": x["amount"].to_numpy(),
            "prescribed_at": random_time(rng, x["day"].to_numpy(), *P.CLINIC_HOURS),
        }
    )


def _lab_table(rng, labs: list[pd.DataFrame], mrn: np.ndarray, vid_of: pd.Series) -> pd.DataFrame:
    lab = pd.concat(labs, ignore_index=True) if labs else pd.DataFrame(columns=LAB_COLUMNS)
    return pd.DataFrame(
        {
            "lab_result_id": new_ids("LB", rng, len(lab), 10),
            "mrn": mrn[lab["who"].astype(int)],
            "visit_id": lab["visit_key"].map(vid_of).to_numpy(),
            "test_code": lab["test_code"].to_numpy(),
            "value": lab["value"].to_numpy(),
            "unit": lab["unit"].to_numpy(),
            "collected_at": random_time(rng, lab["day"].to_numpy(), *P.LAB_HOURS),
        }
    )


def _payment_table(rng, visit_tbl: pd.DataFrame, rx_tbl: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """his.payments: the visit's charge plus its prescriptions, paid at the visit."""
    rx_sum = rx_tbl.groupby("visit_id")["amount"].sum()
    pay_amount = (visit_tbl["charge_amount"] + visit_tbl["visit_id"].map(rx_sum).fillna(0)).round(2)
    n = len(visit_tbl)
    pay_tbl = pd.DataFrame(
        {
            "payment_id": new_ids("PY", rng, n, 10),
            "mrn": visit_tbl["mrn"].to_numpy(),
            "visit_id": visit_tbl["visit_id"].to_numpy(),
            "amount": pay_amount.to_numpy(),
            "method": rng.choice(P.PAYMENT_METHODS, n, p=P.PAYMENT_WEIGHTS),
            "paid_at": visit_tbl["started_at"].to_numpy() + rng.integers(*P.PAYMENT_DELAY_SECONDS, n) * SEC,
        }
    )
    return pay_tbl[pay_tbl["paid_at"] <= tl.end_ts]
