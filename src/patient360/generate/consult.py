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
    p = persons.set_index("person_id").loc[consult["person_id"]].reset_index()
    start = np.maximum(p["active_from"].to_numpy(), p["registered"].to_numpy())
    i, day = repeat_events(rng, start, p["active_to"].to_numpy(), p["rate"].to_numpy() / 40.0)
    n = len(i)
    urgency = rng.choice(["routine", "urgent", "critical"], n, p=[0.85, 0.12, 0.03])
    requested = random_time(rng, day, 0, 24)
    minutes = rng.lognormal(np.log(P.CONSULT_RESPONSE_MEDIAN_MIN), P.CONSULT_RESPONSE_SIGMA, n)
    minutes = np.where(urgency == "critical", minutes / 4, minutes)
    r = rng.random(n)
    status = np.where(
        r < P.CONSULT_ABANDON_RATE,
        "abandoned",
        np.where(r < P.CONSULT_ABANDON_RATE + P.CONSULT_REFUND_RATE, "refunded", "completed"),
    )
    answered = (status != "abandoned") | (rng.random(n) < 0.3)
    first = requested + (minutes * 60).astype(int) * SEC
    closed = first + rng.integers(300, 5400, n) * SEC
    ctype = rng.choice(["text", "video", "phone"], n, p=[0.7, 0.18, 0.12])
    fee = np.select([ctype == "text", ctype == "video"], [29.0, 89.0], default=59.0)
    specialty = np.where(
        p["has_diabetes"].to_numpy()[i],
        "endocrinology",
        np.where(
            p["has_hypertension"].to_numpy()[i],
            "cardiology",
            rng.choice(["paediatrics", "dermatology", "gynaecology", "general"], n),
        ),
    )
    completed = status == "completed"
    rating = np.where(
        completed & (rng.random(n) < 0.7), rng.choice([1, 2, 3, 4, 5], n, p=[0.03, 0.04, 0.13, 0.3, 0.5]), -1
    )
    complaint = np.array(COMPLAINTS)[rng.integers(0, len(COMPLAINTS), n)].astype(object)
    # people type their phone number into free text: the reason free text is never published
    with_phone = rng.random(n) < 0.02
    complaint[with_phone] = complaint[with_phone] + "，请回电" + consult["mobile_raw"].to_numpy()[i][with_phone]
    sessions = pd.DataFrame(
        {
            "session_id": new_ids("S", rng, n, 10),
            "platform_user_id": consult["platform_user_id"].to_numpy()[i],
            "mobile": consult["mobile_raw"].to_numpy()[i],
            "real_name": consult["real_name"].to_numpy()[i],
            "doctor_id": np.char.add("D", np.char.zfill(rng.integers(1, 400, n).astype(str), 4)),
            "specialty": specialty,
            "consult_type": ctype,
            "urgency": urgency,
            "chief_complaint": complaint,
            "requested_at": requested,
            "first_response_at": np.where(answered & (first <= tl.end_ts), first, np.datetime64("NaT")),
            "closed_at": np.where(answered & (closed <= tl.end_ts), closed, np.datetime64("NaT")),
            "status": status,
            "fee": fee,
            "rating": rating,
            "prescription_issued": completed & (rng.random(n) < 0.3),
            "offline_referral": np.where(urgency == "critical", rng.random(n) < 0.8, rng.random(n) < 0.08),
        }
    )
    sessions["rating"] = sessions["rating"].astype(object).where(sessions["rating"] > 0, None)
    return sessions[sessions["requested_at"] <= tl.end_ts].reset_index(drop=True)
