"""Online consult: platform users and their sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patient360.generate import identifiers as ids
from patient360.generate import params as P
from patient360.generate.events import SEC, Timeline, new_ids, random_time, repeat_events


def build_consult_users(rng: np.random.Generator, persons: pd.DataFrame, his: pd.DataFrame) -> pd.DataFrame:
    p = persons[persons["has_consult"]].reset_index(drop=True)
    # the consult app knows the person's current phone (after a change, the new one)
    current = his.sort_values("updated_at").groupby("person_id")["mobile_raw"].last()
    mobile = p["person_id"].map(current).fillna(pd.Series(p["mobile"])).to_numpy().astype(str)
    return pd.DataFrame(
        {
            "person_id": p["person_id"],
            "platform_user_id": new_ids("U", rng, len(p), 9),
            "mobile_raw": mobile,
            "real_name": ids.typo(rng, p["name"].to_numpy(), P.NAME_TYPO_RATE),
        }
    )


COMPLAINTS = [
    "发烧两天，咳嗽",
    "皮肤瘙痒一周",
    "血糖偏高怎么办",
    "血压控制不好",
    "孩子腹泻",
    "复诊开药",
    "胸闷气短",
    "月经不调",
    "头痛失眠",
    "体检报告解读",
]


def consult_sessions(rng, persons: pd.DataFrame, consult: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """consult.sessions of the consult users, requested around the clock at their activity rate."""
    p = persons.set_index("person_id").loc[consult["person_id"]].reset_index()
    start = np.maximum(p["active_from"].to_numpy(), p["registered"].to_numpy())
    i, day = repeat_events(rng, start, p["active_to"].to_numpy(), p["rate"].to_numpy() / P.CONSULT_EVERY_DAYS)
    n = len(i)
    urgency = rng.choice(list(P.CONSULT_URGENCY_SHARES), n, p=list(P.CONSULT_URGENCY_SHARES.values()))
    requested = random_time(rng, day, *P.CONSULT_HOURS)
    timing = _response(rng, urgency, requested, tl)
    ctype = rng.choice(list(P.CONSULT_TYPE_SHARES), n, p=list(P.CONSULT_TYPE_SHARES.values()))
    fees = P.CONSULT_FEES
    fee = np.select([ctype == "text", ctype == "video"], [fees["text"], fees["video"]], default=fees["phone"])
    specialty = np.where(
        p["has_diabetes"].to_numpy()[i],
        "endocrinology",
        np.where(
            p["has_hypertension"].to_numpy()[i],
            "cardiology",
            rng.choice(["paediatrics", "dermatology", "gynaecology", "general"], n),
        ),
    )
    completed = timing["status"] == "completed"
    rated = completed & (rng.random(n) < P.CONSULT_RATED_SHARE)
    ratings = P.CONSULT_RATING_SHARES
    rating = np.where(rated, rng.choice(list(ratings), n, p=list(ratings.values())), -1)
    complaint = _complaints(rng, consult["mobile_raw"].to_numpy()[i])
    sessions = pd.DataFrame(
        {
            "session_id": new_ids("S", rng, n, 10),
            "platform_user_id": consult["platform_user_id"].to_numpy()[i],
            "mobile": consult["mobile_raw"].to_numpy()[i],
            "real_name": consult["real_name"].to_numpy()[i],
            "doctor_id": np.char.add("D", np.char.zfill(rng.integers(*P.DOCTOR_NUMBERS, n).astype(str), 4)),
            "specialty": specialty,
            "consult_type": ctype,
            "urgency": urgency,
            "chief_complaint": complaint,
            "requested_at": requested,
            "first_response_at": timing["first_response_at"],
            "closed_at": timing["closed_at"],
            "status": timing["status"],
            "fee": fee,
            "rating": rating,
            "prescription_issued": completed & (rng.random(n) < P.CONSULT_PRESCRIPTION_SHARE),
            "offline_referral": np.where(
                urgency == "critical",
                rng.random(n) < P.OFFLINE_REFERRAL_RATE_CRITICAL,
                rng.random(n) < P.OFFLINE_REFERRAL_RATE_OTHER,
            ),
        }
    )
    sessions["rating"] = sessions["rating"].astype(object).where(sessions["rating"] > 0, None)
    return sessions[sessions["requested_at"] <= tl.end_ts].reset_index(drop=True)


def _response(rng, urgency: np.ndarray, requested: np.ndarray, tl: Timeline) -> dict[str, np.ndarray]:
    """Status, first response and closing of each session (neither after the export's end).
    The service standard is a reply within 30 minutes; critical cases are answered faster."""
    n = len(urgency)
    minutes = rng.lognormal(np.log(P.CONSULT_RESPONSE_MEDIAN_MIN), P.CONSULT_RESPONSE_SIGMA, n)
    minutes = np.where(urgency == "critical", minutes / P.CRITICAL_RESPONSE_SPEEDUP, minutes)
    r = rng.random(n)
    status = np.where(
        r < P.CONSULT_ABANDON_RATE,
        "abandoned",
        np.where(r < P.CONSULT_ABANDON_RATE + P.CONSULT_REFUND_RATE, "refunded", "completed"),
    )
    answered = (status != "abandoned") | (rng.random(n) < P.ABANDONED_ANSWERED_SHARE)
    first = requested + (minutes * 60).astype(int) * SEC
    closed = first + rng.integers(*P.CONSULT_LENGTH_SECONDS, n) * SEC
    return {
        "status": status,
        "first_response_at": np.where(answered & (first <= tl.end_ts), first, np.datetime64("NaT")),
        "closed_at": np.where(answered & (closed <= tl.end_ts), closed, np.datetime64("NaT")),
    }


def _complaints(rng, mobile: np.ndarray) -> np.ndarray:
    """Chief complaints; people type their phone number into free text: the reason free text is never published."""
    n = len(mobile)
    complaint = np.array(COMPLAINTS)[rng.integers(0, len(COMPLAINTS), n)].astype(object)
    with_phone = rng.random(n) < P.COMPLAINT_WITH_PHONE_RATE
    complaint[with_phone] = complaint[with_phone] + "，请回电" + mobile[with_phone]
    return complaint
