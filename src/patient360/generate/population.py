"""Persons, their true attributes, and the source records that describe them.

Everything is drawn with numpy from one Generator, so a seed fixes the output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from patient360.generate import identifiers as ids
from patient360.generate import params as P
from patient360.generate.events import DAY, Timeline


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    groups = rng.choice(len(P.AGE_GROUPS), size=n, p=[g[2] for g in P.AGE_GROUPS])
    lows = np.array([g[0] for g in P.AGE_GROUPS])[groups]
    highs = np.array([g[1] for g in P.AGE_GROUPS])[groups]
    return rng.integers(lows, highs + 1)


def _prevalence(condition: str, age: np.ndarray) -> np.ndarray:
    table = P.CHRONIC_PREVALENCE[condition]
    bands = sorted(table)
    idx = np.searchsorted(bands, age, side="right") - 1
    return np.array([table[b] for b in bands])[idx]


def build_persons(rng: np.random.Generator, n: int, tl: Timeline) -> pd.DataFrame:
    age = _ages(rng, n)
    male = rng.random(n) < 0.5
    birth = tl.end - (age * 365.25 * DAY).astype("timedelta64[D]") - rng.integers(0, 365, n) * DAY
    city_idx = rng.choice(len(P.CITIES), size=n, p=np.array([c[2] for c in P.CITIES]) / sum(c[2] for c in P.CITIES))
    city = np.array([P.CITIES[i][0] for i in city_idx])
    province = np.array([P.CITIES[i][1] for i in city_idx])
    cond = {c: rng.random(n) < _prevalence(c, age) for c in P.CHRONIC_PREVALENCE}
    cond["gestational_diabetes"] = (~male) & (age >= 25) & (age <= 40) & (rng.random(n) < P.GESTATIONAL_DIABETES_RATE)
    cond["oncology_family_history"] = (age >= 25) & (rng.random(n) < P.ONCOLOGY_FAMILY_HISTORY_RATE)
    chronic = cond["diabetes"] | cond["hypertension"] | cond["copd"] | cond["oncology"] | cond["gestational_diabetes"]

    # Registration: most people arrive during the exported history, some long before.
    history_days = int((tl.end - tl.history_start) / DAY)
    early = rng.random(n) < 0.3
    reg_offset = np.where(early, -rng.integers(1, 1000, n), rng.integers(0, history_days + 1, n))
    registered = np.maximum(tl.history_start + reg_offset * DAY, birth.astype("datetime64[D]") + 7 * DAY)
    # Activity stops for churners somewhere between registration and the end.
    active_from = np.maximum(registered, tl.history_start)
    span = ((tl.end - active_from) / DAY).astype(int)
    churner = rng.random(n) < P.CHURN_SHARE
    stop = active_from + (rng.random(n) * (span + 1)).astype(int) * DAY
    active_to = np.where(churner, stop, tl.end)
    rate = rng.lognormal(0.0, 0.5, n)

    channel_names = list(P.CHANNELS)
    channel = np.array(channel_names)[rng.choice(len(channel_names), size=n, p=[v[0] for v in P.CHANNELS.values()])]
    conversion = np.array([P.CHANNELS[c][1] for c in channel])
    child = age <= 14
    has_crm = (rng.random(n) < P.CRM_SHARE) & ~child
    # CRM leads convert to patients at their channel's rate; everyone else walked into HIS.
    has_his = np.where(has_crm, rng.random(n) < conversion, True) | child
    has_consult = ~child & (has_his | has_crm) & (rng.random(n) < P.CONSULT_SHARE)
    has_wearable = (
        ~child
        & (has_his | has_consult)
        & (rng.random(n) < np.where(chronic, P.WEARABLE_SHARE_CHRONIC, P.WEARABLE_SHARE_OTHER))
    )
    consent = has_crm & (rng.random(n) < P.MARKETING_CONSENT_RATE)
    withdraws = consent & (rng.random(n) < P.CONSENT_WITHDRAWAL_RATE)

    need = np.where(
        chronic,
        "health_management",
        np.where(
            child | (rng.random(n) < 0.55),
            "acute_consult",
            np.where(rng.random(n) < 0.5, "preventive_care", "medical_resource"),
        ),
    )
    all_mobiles = ids.mobiles(rng, 2 * n)  # distinct across everyone, spares included
    persons = pd.DataFrame(
        {
            "person_id": np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 8)),
            "age": age,
            "male": male,
            "birth_date": birth.astype("datetime64[D]"),
            "city": city,
            "province": province,
            "registered": registered.astype("datetime64[D]"),
            "active_from": active_from.astype("datetime64[D]"),
            "active_to": active_to.astype("datetime64[D]"),
            "churner": churner,
            "rate": rate,
            "channel": channel,
            "has_crm": has_crm,
            "has_his": has_his,
            "has_consult": has_consult,
            "has_wearable": has_wearable,
            "consent": consent,
            "withdraws": withdraws,
            "chronic": chronic,
            "need_type": need,
            "adherent": chronic & (rng.random(n) < P.MEDICATION_ADHERENT_SHARE),
            "name": ids.names(rng, n),
            "mobile": all_mobiles[:n],
            "spare_mobile": all_mobiles[n:],  # the number a mobile change moves to
        }
    )
    for c, flag in cond.items():
        persons[f"has_{c}"] = flag
    has_id = child | (rng.random(n) >= P.MISSING_ID_RATE)
    id_numbers = ids.resident_ids(rng, province, pd.Series(birth.astype("datetime64[D]")), male)
    persons["id_number"] = np.where(has_id, id_numbers, None)
    return persons
