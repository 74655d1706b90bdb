"""CRM community side: groups, memberships, points ledger, referrals, NPS and messages."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patient360.generate import params as P
from patient360.generate.events import DAY, Timeline, new_ids, random_time, repeat_events

GROUPS = [  # disease type, stage, share of groups
    ("diabetes", "newly_diagnosed"),
    ("diabetes", "long_term"),
    ("hypertension", "managed"),
    ("copd", "managed"),
    ("oncology", "rehabilitation"),
    ("pregnancy", "gestational"),
    ("paediatrics", "parents"),
    ("general", "wellness"),
]


def community(rng, persons: pd.DataFrame, contacts: pd.DataFrame, tl: Timeline) -> dict[str, pd.DataFrame]:
    groups = pd.DataFrame(
        {
            "group_id": [f"G{i + 1:03d}" for i in range(len(GROUPS))],
            "group_name": [f"{d}-{s}互助群" for d, s in GROUPS],
            "disease_type": [d for d, _ in GROUPS],
            "stage": [s for _, s in GROUPS],
            "created_at": np.full(len(GROUPS), tl.history_start.astype("datetime64[s]") - np.timedelta64(400, "D")),
        }
    )
    # one primary contact per person carries the community activity
    first = contacts.sort_values("created_at").drop_duplicates("person_id")
    p = persons.set_index("person_id").loc[first["person_id"]].reset_index()
    n = len(p)
    chronic = p["chronic"].to_numpy()
    joins = rng.random(n) < np.where(chronic, 0.4, 0.08) + np.where(p["channel"] == "community_group", 0.5, 0)
    group = np.where(
        p["has_diabetes"],
        1,
        np.where(
            p["has_hypertension"],
            2,
            np.where(p["has_copd"], 3, np.where(p["has_oncology"], 4, np.where(p["has_gestational_diabetes"], 5, 7))),
        ),
    )
    m = np.flatnonzero(joins)
    joined = random_time(
        rng,
        np.maximum(first["created_at"].to_numpy()[m].astype("datetime64[D]"), tl.history_start)
        + rng.integers(0, 20, len(m)) * DAY,
    )
    leaves = p["churner"].to_numpy()[m] & (rng.random(len(m)) < 0.5)
    left = np.where(
        leaves,
        p["active_to"].to_numpy()[m].astype("datetime64[s]") + 3600 * np.timedelta64(1, "s"),
        np.datetime64("NaT"),
    )
    left = np.where(left > joined, left, np.datetime64("NaT"))
    memberships = pd.DataFrame(
        {
            "membership_id": new_ids("M", rng, len(m), 9),
            "group_id": groups["group_id"].to_numpy()[group[m]],
            "contact_id": first["contact_id"].to_numpy()[m],
            "joined_at": joined,
            "left_at": left,
            "leave_reason": np.where(
                pd.notna(left),
                rng.choice(["服务体验不好", "需求没满足", "换了别家", "需求变化"], len(m), p=[0.41, 0.27, 0.19, 0.13]),
                None,
            ),
        }
    )
    memberships = memberships[memberships["joined_at"] <= tl.end.astype("datetime64[s]") + np.timedelta64(86399, "s")]

    # Points: members check in (10), attend health talks (50), complete tasks, buy, get referral bonuses (200).
    mm = memberships.reset_index(drop=True)
    who = p.set_index("person_id").index.get_indexer(first.set_index("contact_id").loc[mm["contact_id"], "person_id"])
    stop = np.minimum(
        p["active_to"].to_numpy()[who],
        np.where(pd.notna(mm["left_at"]), mm["left_at"].to_numpy().astype("datetime64[D]"), tl.end),
    )
    start = mm["joined_at"].to_numpy().astype("datetime64[D]")
    engagement = rng.beta(1.2, 2.5, len(mm))
    rows = []
    for event, per_day, points in [
        ("checkin", engagement * 0.9, 10),
        ("health_talk", engagement * 0.08, 50),
        ("task_completed", engagement * 0.15, 20),
        ("purchase", engagement * 0.07, 30),
    ]:
        i, day = repeat_events(rng, start, stop, per_day)
        rows.append(
            pd.DataFrame(
                {
                    "contact_id": mm["contact_id"].to_numpy()[i],
                    "event_type": event,
                    "points": points,
                    "occurred_at": random_time(rng, day, 7, 23),
                }
            )
        )
    ledger = pd.concat(rows, ignore_index=True)
    if len(ledger):  # checkins once a day at most
        ledger["d"] = ledger["occurred_at"].to_numpy().astype("datetime64[D]")
        ledger = ledger[~((ledger["event_type"] == "checkin") & ledger.duplicated(["contact_id", "event_type", "d"]))]
        ledger = ledger.drop(columns="d")

    # Referrals: people acquired through patient referral were referred by an earlier contact.
    referees = first[first["source_channel"] == "patient_referral"]
    earlier = first.sort_values("created_at")
    referrals = pd.DataFrame(columns=["referrer_contact_id", "referee_contact_id", "referred_at"])
    if len(referees) and len(earlier) > 1:
        pool = earlier["contact_id"].to_numpy()
        # vectorised: searchsorted one referee at a time with a Timestamp converted the whole
        # array on every call (quadratic, hours at 1M patients)
        when = referees["created_at"].to_numpy()
        k = np.searchsorted(earlier["created_at"].to_numpy(), when)
        has = k > 0
        referrals = pd.DataFrame(
            {
                "referrer_contact_id": pool[rng.integers(0, k[has])] if has.any() else pool[:0],
                "referee_contact_id": referees["contact_id"].to_numpy()[has],
                "referred_at": when[has],
            }
        )
    referrals = referrals[referrals["referrer_contact_id"] != referrals["referee_contact_id"]]
    referrals.insert(0, "referral_id", new_ids("R", rng, len(referrals), 9))
    if len(referrals):
        ledger = pd.concat(
            [
                ledger,
                pd.DataFrame(
                    {
                        "contact_id": referrals["referrer_contact_id"],
                        "event_type": "referral",
                        "points": 200,
                        "occurred_at": referrals["referred_at"],
                    }
                ),
            ]
        )
    redeem = ledger.groupby("contact_id")["points"].sum()
    redeem = redeem[redeem > 300]
    if len(redeem):
        ledger = pd.concat(
            [
                ledger,
                pd.DataFrame(
                    {
                        "contact_id": redeem.index,
                        "event_type": "redeem",
                        "points": -100,
                        "occurred_at": tl.end.astype("datetime64[s]") - np.timedelta64(3600 * 5, "s"),
                    }
                ),
            ]
        )
    ledger = ledger.sort_values(["occurred_at", "contact_id"], kind="stable").reset_index(drop=True)
    ledger.insert(0, "entry_id", new_ids("E", rng, len(ledger), 10))

    # NPS: a quarter of contacts answer once.
    ans = np.flatnonzero(rng.random(n) < 0.25)
    span = np.maximum(
        (
            (p["active_to"].to_numpy()[ans] - np.maximum(p["active_from"].to_numpy()[ans], tl.history_start)) / DAY
        ).astype(int),
        0,
    )
    day = (
        np.maximum(p["active_from"].to_numpy()[ans], tl.history_start)
        + (rng.random(len(ans)) * (span + 1)).astype(int) * DAY
    )
    score = rng.choice(11, len(ans), p=[0.02, 0.02, 0.02, 0.03, 0.03, 0.05, 0.08, 0.12, 0.18, 0.22, 0.23])
    nps = pd.DataFrame(
        {
            "response_id": new_ids("N", rng, len(ans), 9),
            "contact_id": first["contact_id"].to_numpy()[ans],
            "score": score,
            "comment": np.array(P.NPS_COMMENTS)[rng.integers(0, len(P.NPS_COMMENTS), len(ans))],
            "answered_at": random_time(rng, day, 8, 22),
        }
    )
    nps["comment"] = nps["comment"].where(nps["comment"] != "", None)

    # Messages: consenting contacts get a message every 14 days; engaged people open more.
    cons = np.flatnonzero(p["consent"].to_numpy())
    s0 = np.maximum(first["created_at"].to_numpy()[cons].astype("datetime64[D]"), tl.history_start)
    counts = np.maximum(((tl.end - s0) / DAY).astype(int) // 14, 0)
    i = np.repeat(np.arange(len(cons)), counts)
    k = np.arange(len(i)) - np.repeat(np.cumsum(counts) - counts, counts)
    day = s0[i] + (k * 14 + 1) * DAY
    sent_at = random_time(rng, day, 9, 10)
    active = day <= p["active_to"].to_numpy()[cons][i]
    opened = rng.random(len(i)) < np.where(active, 0.45, 0.04)
    msgs = pd.concat(
        [
            pd.DataFrame(
                {
                    "contact_id": first["contact_id"].to_numpy()[cons][i],
                    "campaign_id": None,
                    "event_type": "sent",
                    "occurred_at": sent_at,
                }
            ),
            pd.DataFrame(
                {
                    "contact_id": first["contact_id"].to_numpy()[cons][i][opened],
                    "campaign_id": None,
                    "event_type": "opened",
                    "occurred_at": sent_at[opened] + rng.integers(60, 20000, opened.sum()) * np.timedelta64(1, "s"),
                }
            ),
        ],
        ignore_index=True,
    )
    msgs = msgs.sort_values(["occurred_at", "contact_id"], kind="stable").reset_index(drop=True)
    msgs.insert(0, "event_id", new_ids("ME", rng, len(msgs), 10))
    return {
        "community_groups": groups,
        "group_memberships": mm,
        "points_ledger": ledger,
        "referrals": referrals,
        "nps_responses": nps,
        "message_events": msgs,
    }
