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
    """Every person's true attributes; the draws' order is the output's (a seed fixes both)."""
    age, male, birth, city, province = _demographics(rng, n, tl)
    cond = _conditions(rng, age, male)
    chronic = cond["diabetes"] | cond["hypertension"] | cond["copd"] | cond["oncology"] | cond["gestational_diabetes"]
    life = _lifecycle(rng, n, birth, tl)
    child = age <= P.CHILD_MAX_AGE
    reach = _sources(rng, n, child, chronic)
    need = _need_type(rng, n, child, chronic)
    all_mobiles = ids.mobiles(rng, 2 * n)  # distinct across everyone, spares included
    persons = pd.DataFrame(
        {
            "person_id": np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 8)),
            "age": age,
            "male": male,
            "birth_date": birth.astype("datetime64[D]"),
            "city": city,
            "province": province,
            **life,
            **reach,
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
    persons["id_number"] = np.where(has_id, id_numbers, None)  # type: ignore[call-overload]  # numpy stubs: None branch
    return persons


def _demographics(rng: np.random.Generator, n: int, tl: Timeline) -> tuple[np.ndarray, ...]:
    """Age, sex, birth date, city and province."""
    age = _ages(rng, n)
    male = rng.random(n) < P.MALE_SHARE
    birth = (
        tl.end
        - (age * P.DAYS_PER_YEAR * DAY).astype("timedelta64[D]")
        - rng.integers(0, P.BIRTHDAY_SPREAD_DAYS, n) * DAY
    )
    weights = np.array([c[2] for c in P.CITIES]) / sum(c[2] for c in P.CITIES)
    city_idx = rng.choice(len(P.CITIES), size=n, p=weights)
    city = np.array([P.CITIES[i][0] for i in city_idx])
    province = np.array([P.CITIES[i][1] for i in city_idx])
    return age, male, birth, city, province


def _conditions(rng: np.random.Generator, age: np.ndarray, male: np.ndarray) -> dict[str, np.ndarray]:
    """Condition name -> who has it (chronic conditions plus oncology family history)."""
    n = len(age)
    cond = {c: rng.random(n) < _prevalence(c, age) for c in P.CHRONIC_PREVALENCE}
    low, high = P.GESTATIONAL_DIABETES_AGES
    cond["gestational_diabetes"] = (
        (~male) & (age >= low) & (age <= high) & (rng.random(n) < P.GESTATIONAL_DIABETES_RATE)
    )
    cond["oncology_family_history"] = (age >= P.FAMILY_HISTORY_MIN_AGE) & (
        rng.random(n) < P.ONCOLOGY_FAMILY_HISTORY_RATE
    )
    return cond


def _lifecycle(rng: np.random.Generator, n: int, birth: np.ndarray, tl: Timeline) -> dict[str, np.ndarray]:
    """Registration, the active period (churners stop somewhere before the end) and activity rate."""
    # Most people arrive during the exported history, some long before.
    history_days = int((tl.end - tl.history_start) / DAY)
    early = rng.random(n) < P.EARLY_REGISTRATION_SHARE
    reg_offset = np.where(
        early, -rng.integers(1, P.EARLY_REGISTRATION_MAX_DAYS, n), rng.integers(0, history_days + 1, n)
    )
    registered = np.maximum(
        tl.history_start + reg_offset * DAY, birth.astype("datetime64[D]") + P.MIN_AGE_AT_REGISTRATION_DAYS * DAY
    )
    active_from = np.maximum(registered, tl.history_start)
    span = ((tl.end - active_from) / DAY).astype(int)  # type: ignore[operator]  # numpy stubs: datetime64 minus
    churner = rng.random(n) < P.CHURN_SHARE
    stop = active_from + (rng.random(n) * (span + 1)).astype(int) * DAY
    active_to = np.where(churner, stop, tl.end)
    return {
        "registered": registered.astype("datetime64[D]"),
        "active_from": active_from.astype("datetime64[D]"),
        "active_to": active_to.astype("datetime64[D]"),
        # churners wind down before they stop (params.CHURN_WIND_DOWN_DAYS); others never do
        "wind_down_from": np.where(churner, stop - P.CHURN_WIND_DOWN_DAYS * DAY, tl.end + DAY).astype("datetime64[D]"),
        "churner": churner,
        "rate": rng.lognormal(P.ACTIVITY_RATE_LOG_MEAN, P.ACTIVITY_RATE_SIGMA, n),
    }


def _sources(rng: np.random.Generator, n: int, child: np.ndarray, chronic: np.ndarray) -> dict[str, np.ndarray]:
    """Acquisition channel, which sources know the person, and marketing consent."""
    channel_names = list(P.CHANNELS)
    channel = np.array(channel_names)[rng.choice(len(channel_names), size=n, p=[v[0] for v in P.CHANNELS.values()])]
    conversion = np.array([P.CHANNELS[c][1] for c in channel])
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
    return {
        "channel": channel,
        "has_crm": has_crm,
        "has_his": has_his,
        "has_consult": has_consult,
        "has_wearable": has_wearable,
        "consent": consent,
        "withdraws": withdraws,
    }


def _need_type(rng: np.random.Generator, n: int, child: np.ndarray, chronic: np.ndarray) -> np.ndarray:
    acute = child | (rng.random(n) < P.ACUTE_NEED_SHARE)
    preventive = rng.random(n) < P.PREVENTIVE_NEED_SHARE
    return np.where(
        chronic,
        "health_management",
        np.where(acute, "acute_consult", np.where(preventive, "preventive_care", "medical_resource")),
    )
