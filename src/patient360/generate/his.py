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
    guardians = p.index[(p["age"] >= 25) & (p["age"] <= 50) & p["id_number"].notna()].to_numpy()
    kids = np.flatnonzero((p["age"].to_numpy() <= 14) & (rng.random(n) < P.GUARDIAN_MOBILE_RATE))
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


def his_activity(rng, persons: pd.DataFrame, his: pd.DataFrame, tl: Timeline) -> dict[str, pd.DataFrame]:
    # the person's first MRN carries the activity (a duplicate registration is rarely used)
    mrn_of = his.sort_values("registered_at").drop_duplicates("person_id").set_index("person_id")["mrn"]
    p = persons[persons["has_his"]].reset_index(drop=True)
    mrn = p["person_id"].map(mrn_of).to_numpy()
    start = np.maximum(p["active_from"].to_numpy(), p["registered"].to_numpy())
    stop = p["active_to"].to_numpy()
    visits, diagnoses, rx, labs = [], [], [], []

    # Chronic follow-ups: adherent patients every ~30 days, the others with gaps.
    primary = np.select(
        [p["has_diabetes"], p["has_gestational_diabetes"], p["has_hypertension"], p["has_copd"], p["has_oncology"]],
        ["diabetes", "gestational_diabetes", "hypertension", "copd", "oncology"],
        default="",
    )
    chronic = np.flatnonzero(primary != "")
    if len(chronic):
        lo = np.where(p["adherent"].to_numpy()[chronic], 28.0, 34.0)
        hi = np.where(p["adherent"].to_numpy()[chronic], 32.0, 80.0)
        i, day, k = periodic_events(rng, start[chronic], stop[chronic], lo, hi)
        who = chronic[i]
        cond = primary[who]
        spec = np.array([P.CHRONIC_SPECIALTY[c][0] for c in cond])
        dept = np.array([P.CHRONIC_SPECIALTY[c][1] for c in cond])
        vt = np.where(rng.random(len(who)) < 0.25, "online", "outpatient")
        v = pd.DataFrame(
            {
                "who": who,
                "day": day,
                "visit_type": vt,
                "specialty": spec,
                "department": dept,
                "charge": rng.uniform(30, 260, len(who)).round(2),
                "cond": cond,
                "k": k,
            }
        )
        visits.append(v)
        first = v[v["k"] == 0]
        for c in ["diabetes", "gestational_diabetes", "hypertension", "copd", "oncology"]:
            has_c = p[f"has_{c}"].to_numpy()[first["who"].to_numpy()]
            sub = first[has_c]
            diagnoses.append(
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
        drug = np.array([P.DRUGS[c][0] for c in cond]), np.array([P.DRUGS[c][1] for c in cond])
        price = np.array([P.DRUGS[c][2] for c in cond])
        qty = np.where(cond == "gestational_diabetes", 3, 30)
        rx.append(
            pd.DataFrame(
                {
                    "who": who,
                    "day": day,
                    "visit_key": v.index,
                    "drug_code": drug[0],
                    "drug_name": drug[1],
                    "quantity": qty,
                    "days_supplied": 30,
                    "amount": (qty * price).round(2),
                }
            )
        )
        dm = np.isin(cond, ["diabetes", "gestational_diabetes"]) & (k % 3 == 0)
        control = rng.normal(0, 1, len(who))
        labs.append(
            pd.DataFrame(
                {
                    "who": who[dm],
                    "day": day[dm],
                    "visit_key": v.index[dm],
                    "test_code": "HBA1C",
                    "value": np.clip(7.1 + 1.2 * control[dm], 4.5, 14).round(1),
                    "unit": "%",
                }
            )
        )
        bp = cond == "hypertension"
        sbp = np.clip(136 + 14 * control[bp], 95, 210).round(0)
        labs.append(
            pd.DataFrame(
                {
                    "who": who[bp],
                    "day": day[bp],
                    "visit_key": v.index[bp],
                    "test_code": "SBP",
                    "value": sbp,
                    "unit": "mmHg",
                }
            )
        )
        labs.append(
            pd.DataFrame(
                {
                    "who": who[bp],
                    "day": day[bp],
                    "visit_key": v.index[bp],
                    "test_code": "DBP",
                    "value": np.clip(sbp * 0.62 + rng.normal(0, 5, bp.sum()), 50, 130).round(0),
                    "unit": "mmHg",
                }
            )
        )

    # Acute and preventive visits: children to paediatrics, women often gynaecology.
    rate = p["rate"].to_numpy() / 75.0
    i, day = repeat_events(rng, start, stop, rate)
    age, male = p["age"].to_numpy()[i], p["male"].to_numpy()[i]
    r = rng.random(len(i))
    spec = np.where(
        age <= 14,
        "paediatrics",
        np.where(
            ~male & (age < 50) & (r < 0.4),
            "gynaecology",
            np.where(
                r < 0.65,
                "dermatology",
                np.where(r < 0.9, "general", np.where(~male & (age < 45), "reproductive", "neurology")),
            ),
        ),
    )
    vt = np.select([r < 0.04, r < 0.06, r < 0.3], ["emergency", "inpatient", "online"], default="outpatient")
    v2 = pd.DataFrame(
        {
            "who": i,
            "day": day,
            "visit_type": vt,
            "specialty": spec,
            "department": [P.ACUTE[s][0] for s in spec],
            "charge": np.where(vt == "inpatient", rng.uniform(3000, 20000, len(i)), rng.uniform(20, 400, len(i))).round(
                2
            ),
            "cond": "acute",
            "k": 0,
        }
    )
    offset = sum(len(x) for x in visits)
    v2.index = v2.index + offset
    visits.append(v2)
    diagnoses.append(
        pd.DataFrame(
            {
                "who": v2["who"],
                "day": v2["day"],
                "visit_key": v2.index,
                "code": [P.ACUTE[s][1][j % len(P.ACUTE[s][1])] for j, s in enumerate(spec)],
                "primary": True,
            }
        )
    )
    fh = np.flatnonzero(p["has_oncology_family_history"].to_numpy())
    diagnoses.append(pd.DataFrame({"who": fh, "day": start[fh], "visit_key": -1, "code": "Z80.0", "primary": False}))
    with_rx = rng.random(len(v2)) < 0.6
    rx.append(
        pd.DataFrame(
            {
                "who": v2["who"][with_rx],
                "day": v2["day"][with_rx],
                "visit_key": v2.index[with_rx],
                "drug_code": P.DRUGS["acute"][0],
                "drug_name": P.DRUGS["acute"][1],
                "quantity": 21,
                "days_supplied": 7,
                "amount": round(21 * P.DRUGS["acute"][2], 2),
            }
        )
    )

    v = pd.concat(visits)
    v["visit_id"] = new_ids("V", rng, len(v), 10)
    started = random_time(rng, v["day"].to_numpy(), 8, 20)
    length = np.where(
        v["visit_type"] == "inpatient", rng.integers(2, 10, len(v)) * 86400, rng.integers(600, 5400, len(v))
    )
    ended = started + length * SEC
    visit_tbl = pd.DataFrame(
        {
            "visit_id": v["visit_id"].to_numpy(),
            "mrn": mrn[v["who"]],
            "visit_type": v["visit_type"].to_numpy(),
            "department": v["department"].to_numpy(),
            "specialty": v["specialty"].to_numpy(),
            "doctor_id": np.char.add("D", np.char.zfill(rng.integers(1, 400, len(v)).astype(str), 4)),
            "started_at": started,
            "ended_at": np.where(ended <= tl.end_ts, ended, np.datetime64("NaT")),
            "charge_amount": v["charge"].to_numpy(),
        }
    )
    vid_of = pd.Series(v["visit_id"].to_numpy(), index=v.index)

    d = pd.concat(diagnoses, ignore_index=True)
    diag_tbl = pd.DataFrame(
        {
            "diagnosis_id": new_ids("DX", rng, len(d), 10),
            "visit_id": d["visit_key"].map(vid_of).to_numpy(),
            "mrn": mrn[d["who"]],
            "icd10_code": d["code"].to_numpy(),
            "is_primary": d["primary"].to_numpy(),
            "diagnosed_at": random_time(rng, d["day"].to_numpy(), 8, 20),
        }
    )
    diag_tbl = diag_tbl[diag_tbl["visit_id"].notna() | (d["code"] == "Z80.0").to_numpy()]
    diag_tbl.loc[diag_tbl["visit_id"].isna(), "visit_id"] = None

    x = pd.concat(rx, ignore_index=True)
    rx_tbl = pd.DataFrame(
        {
            "prescription_id": new_ids("RX", rng, len(x), 10),
            "visit_id": x["visit_key"].map(vid_of).to_numpy(),
            "mrn": mrn[x["who"]],
            "drug_code": x["drug_code"].to_numpy(),
            "drug_name": x["drug_name"].to_numpy(),
            "quantity": x["quantity"].to_numpy(),
            "days_supplied": x["days_supplied"].to_numpy(),
            "amount": x["amount"].to_numpy(),
            "prescribed_at": random_time(rng, x["day"].to_numpy(), 8, 20),
        }
    )
    lab = (
        pd.concat(labs, ignore_index=True)
        if labs
        else pd.DataFrame(columns=["who", "day", "visit_key", "test_code", "value", "unit"])
    )
    lab_tbl = pd.DataFrame(
        {
            "lab_result_id": new_ids("LB", rng, len(lab), 10),
            "mrn": mrn[lab["who"].astype(int)],
            "visit_id": lab["visit_key"].map(vid_of).to_numpy(),
            "test_code": lab["test_code"].to_numpy(),
            "value": lab["value"].to_numpy(),
            "unit": lab["unit"].to_numpy(),
            "collected_at": random_time(rng, lab["day"].to_numpy(), 8, 12),
        }
    )
    # payments: the visit's charge plus its prescriptions, paid at the visit
    rx_sum = rx_tbl.groupby("visit_id")["amount"].sum()
    pay_amount = (visit_tbl["charge_amount"] + visit_tbl["visit_id"].map(rx_sum).fillna(0)).round(2)
    pay_tbl = pd.DataFrame(
        {
            "payment_id": new_ids("PY", rng, len(visit_tbl), 10),
            "mrn": visit_tbl["mrn"].to_numpy(),
            "visit_id": visit_tbl["visit_id"].to_numpy(),
            "amount": pay_amount.to_numpy(),
            "method": rng.choice(P.PAYMENT_METHODS, len(visit_tbl), p=P.PAYMENT_WEIGHTS),
            "paid_at": visit_tbl["started_at"].to_numpy() + rng.integers(60, 3600, len(visit_tbl)) * SEC,
        }
    )
    pay_tbl = pay_tbl[pay_tbl["paid_at"] <= tl.end_ts]
    return {
        "visits": visit_tbl,
        "diagnoses": diag_tbl,
        "prescriptions": rx_tbl,
        "lab_results": lab_tbl,
        "payments": pay_tbl,
    }
