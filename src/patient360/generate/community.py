"""CRM community side: groups, memberships, points ledger, referrals, NPS and messages."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patient360.generate import params as P
from patient360.generate.events import DAY, SEC, Timeline, new_ids, random_time, repeat_events, wind_down_keep

GROUPS = [  # (disease type, stage): one group each. Rule: disease-programme stages
    ("diabetes", "newly_diagnosed"),
    ("diabetes", "long_term"),
    ("hypertension", "managed"),
    ("copd", "managed"),
    ("oncology", "rehabilitation"),
    ("pregnancy", "gestational"),
    ("paediatrics", "parents"),
    ("general", "wellness"),
]
# The group a person joins: the first condition they have, in this order, else "general".
GROUP_OF_CONDITION = [("diabetes", 1), ("hypertension", 2), ("copd", 3), ("oncology", 4), ("gestational_diabetes", 5)]
GENERAL_GROUP = 7


def community(rng, persons: pd.DataFrame, contacts: pd.DataFrame, tl: Timeline) -> dict[str, pd.DataFrame]:
    """The community tables. One primary contact per person carries the community activity.
    Built in this order (the order of random draws fixes the output for a seed)."""
    groups = community_groups(tl)
    first = contacts.sort_values("created_at").drop_duplicates("person_id")
    p = persons.set_index("person_id").loc[first["person_id"]].reset_index()
    memberships = group_memberships(rng, p, first, groups, tl)
    ledger = _activity_points(rng, p, first, memberships, tl)
    referrals = patient_referrals(rng, first)
    ledger = _settle_ledger(rng, ledger, referrals, tl)
    nps = nps_responses(rng, p, first, tl)
    messages = message_events(rng, p, first, tl)
    return {
        "community_groups": groups,
        "group_memberships": memberships,
        "points_ledger": ledger,
        "referrals": referrals,
        "nps_responses": nps,
        "message_events": messages,
    }


def community_groups(tl: Timeline) -> pd.DataFrame:
    created = tl.history_start.astype("datetime64[s]") - np.timedelta64(P.GROUPS_CREATED_DAYS_BEFORE_HISTORY, "D")
    return pd.DataFrame(
        {
            "group_id": [f"G{i + 1:03d}" for i in range(len(GROUPS))],
            "group_name": [f"{d}-{s}互助群" for d, s in GROUPS],
            "disease_type": [d for d, _ in GROUPS],
            "stage": [s for _, s in GROUPS],
            "created_at": np.full(len(GROUPS), created),
        }
    )


def group_memberships(rng, p: pd.DataFrame, first: pd.DataFrame, groups: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """Chronic people and community-channel recruits join their condition's group; churners may leave."""
    n = len(p)
    join_rate = np.where(p["chronic"].to_numpy(), P.GROUP_JOIN_RATE_CHRONIC, P.GROUP_JOIN_RATE_OTHER)
    boost = np.where(p["channel"] == "community_group", P.GROUP_JOIN_BOOST_COMMUNITY_CHANNEL, 0)
    group = np.full(n, GENERAL_GROUP)
    for condition, g in reversed(GROUP_OF_CONDITION):
        group = np.where(p[f"has_{condition}"], g, group)
    m = np.flatnonzero(rng.random(n) < join_rate + boost)
    created = first["created_at"].to_numpy()[m].astype("datetime64[D]")
    delay = rng.integers(0, P.GROUP_JOIN_DELAY_DAYS, len(m)) * DAY
    joined = random_time(rng, np.maximum(created, tl.history_start) + delay)
    leaves = p["churner"].to_numpy()[m] & (rng.random(len(m)) < P.GROUP_LEAVE_SHARE_OF_CHURNERS)
    last_active = p["active_to"].to_numpy()[m].astype("datetime64[s]")
    left = np.where(leaves, last_active + P.GROUP_LEAVE_DELAY_SECONDS * SEC, np.datetime64("NaT"))
    left = np.where(left > joined, left, np.datetime64("NaT"))
    reasons = P.GROUP_LEAVE_REASONS
    memberships = pd.DataFrame(
        {
            "membership_id": new_ids("M", rng, len(m), 9),
            "group_id": groups["group_id"].to_numpy()[group[m]],
            "contact_id": first["contact_id"].to_numpy()[m],
            "joined_at": joined,
            "left_at": left,
            "leave_reason": np.where(pd.notna(left), rng.choice(list(reasons), len(m), p=list(reasons.values())), None),
        }
    )
    memberships = memberships[memberships["joined_at"] <= tl.end.astype("datetime64[s]") + np.timedelta64(86399, "s")]
    return memberships.reset_index(drop=True)


def _activity_points(rng, p: pd.DataFrame, first: pd.DataFrame, mm: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """Points members earn while in a group: check-ins (once a day at most), health talks,
    tasks and purchases, more often the more engaged the member is."""
    who = p.set_index("person_id").index.get_indexer(first.set_index("contact_id").loc[mm["contact_id"], "person_id"])
    stop = np.minimum(
        p["active_to"].to_numpy()[who],
        np.where(pd.notna(mm["left_at"]), mm["left_at"].to_numpy().astype("datetime64[D]"), tl.end),
    )
    start = mm["joined_at"].to_numpy().astype("datetime64[D]")
    engagement = rng.beta(*P.ENGAGEMENT_BETA, len(mm))
    rows = []
    for event, per_day, points in P.POINTS_EVENTS:
        i, day = repeat_events(rng, start, stop, engagement * per_day)
        keep = wind_down_keep(rng, day, p["wind_down_from"].to_numpy()[who][i])
        i, day = i[keep], day[keep]
        rows.append(
            pd.DataFrame(
                {
                    "contact_id": mm["contact_id"].to_numpy()[i],
                    "event_type": event,
                    "points": points,
                    "occurred_at": random_time(rng, day, *P.POINTS_HOURS),
                }
            )
        )
    ledger = pd.concat(rows, ignore_index=True)
    if len(ledger):  # checkins once a day at most
        ledger["d"] = ledger["occurred_at"].to_numpy().astype("datetime64[D]")
        ledger = ledger[~((ledger["event_type"] == "checkin") & ledger.duplicated(["contact_id", "event_type", "d"]))]
        ledger = ledger.drop(columns="d")
    return ledger


def patient_referrals(rng, first: pd.DataFrame) -> pd.DataFrame:
    """People acquired through patient referral were referred by an earlier contact."""
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
    return referrals


def _settle_ledger(rng, ledger: pd.DataFrame, referrals: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """crm.points_ledger: activity points, referral bonuses, then one redemption for the
    members holding enough points at the end of the window."""
    if len(referrals):
        bonus = pd.DataFrame(
            {
                "contact_id": referrals["referrer_contact_id"],
                "event_type": "referral",
                "points": P.REFERRAL_POINTS,
                "occurred_at": referrals["referred_at"],
            }
        )
        ledger = pd.concat([ledger, bonus])
    redeem = ledger.groupby("contact_id")["points"].sum()
    redeem = redeem[redeem > P.REDEEM_ABOVE_POINTS]
    if len(redeem):
        redeemed_at = tl.end.astype("datetime64[s]") - np.timedelta64(3600 * P.REDEEM_HOURS_BEFORE_END, "s")
        redemption = pd.DataFrame(
            {"contact_id": redeem.index, "event_type": "redeem", "points": -P.REDEEM_POINTS, "occurred_at": redeemed_at}
        )
        ledger = pd.concat([ledger, redemption])
    ledger = ledger.sort_values(["occurred_at", "contact_id"], kind="stable").reset_index(drop=True)
    ledger.insert(0, "entry_id", new_ids("E", rng, len(ledger), 10))
    return ledger


def nps_responses(rng, p: pd.DataFrame, first: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """Some primary contacts answer the NPS survey once, on a day of their active period."""
    ans = np.flatnonzero(rng.random(len(p)) < P.NPS_RESPONSE_SHARE)
    since = np.maximum(p["active_from"].to_numpy()[ans], tl.history_start)
    span = np.maximum(((p["active_to"].to_numpy()[ans] - since) / DAY).astype(int), 0)
    day = since + (rng.random(len(ans)) * (span + 1)).astype(int) * DAY
    score = rng.choice(len(P.NPS_SCORE_SHARES), len(ans), p=P.NPS_SCORE_SHARES)
    nps = pd.DataFrame(
        {
            "response_id": new_ids("N", rng, len(ans), 9),
            "contact_id": first["contact_id"].to_numpy()[ans],
            "score": score,
            "comment": np.array(P.NPS_COMMENTS)[rng.integers(0, len(P.NPS_COMMENTS), len(ans))],
            "answered_at": random_time(rng, day, *P.NPS_HOURS),
        }
    )
    nps = pd.concat([nps, _churn_detractors(rng, p, first)], ignore_index=True)
    nps["comment"] = nps["comment"].where(nps["comment"] != "", None)
    return nps


def _churn_detractors(rng, p: pd.DataFrame, first: pd.DataFrame) -> pd.DataFrame:
    """Churners who say they are unhappy before leaving: an NPS of 0-3 during their wind-down."""
    who = np.flatnonzero(p["churner"].to_numpy() & (rng.random(len(p)) < P.CHURN_DETRACTOR_SHARE))
    since = np.maximum(p["wind_down_from"].to_numpy()[who], p["active_from"].to_numpy()[who])
    span = np.maximum(((p["active_to"].to_numpy()[who] - since) / DAY).astype(int), 0)
    day = since + (rng.random(len(who)) * (span + 1)).astype(int) * DAY
    return pd.DataFrame(
        {
            "response_id": new_ids("N", rng, len(who), 9),
            "contact_id": first["contact_id"].to_numpy()[who],
            "score": rng.integers(0, 4, len(who)),
            "comment": np.array(P.NPS_COMMENTS)[rng.integers(0, len(P.NPS_COMMENTS), len(who))],
            "answered_at": random_time(rng, day, *P.NPS_HOURS),
        }
    )


def message_events(rng, p: pd.DataFrame, first: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """Consenting contacts get a message every few days; people still active open more."""
    cons = np.flatnonzero(p["consent"].to_numpy())
    s0 = np.maximum(first["created_at"].to_numpy()[cons].astype("datetime64[D]"), tl.history_start)
    counts = np.maximum(((tl.end - s0) / DAY).astype(int) // P.MESSAGE_INTERVAL_DAYS, 0)
    i = np.repeat(np.arange(len(cons)), counts)
    k = np.arange(len(i)) - np.repeat(np.cumsum(counts) - counts, counts)
    day = s0[i] + (k * P.MESSAGE_INTERVAL_DAYS + 1) * DAY
    sent_at = random_time(rng, day, *P.MESSAGE_SEND_HOURS)
    active = day < p["wind_down_from"].to_numpy()[cons][i]  # winding down or gone: rarely opened
    opened = rng.random(len(i)) < np.where(active, P.MESSAGE_OPEN_RATE_ACTIVE, P.MESSAGE_OPEN_RATE_INACTIVE)
    contact = first["contact_id"].to_numpy()[cons][i]
    delay = rng.integers(*P.MESSAGE_OPEN_DELAY_SECONDS, opened.sum()) * SEC
    msgs = pd.concat(
        [
            pd.DataFrame({"contact_id": contact, "campaign_id": None, "event_type": "sent", "occurred_at": sent_at}),
            pd.DataFrame(
                {
                    "contact_id": contact[opened],
                    "campaign_id": None,
                    "event_type": "opened",
                    "occurred_at": sent_at[opened] + delay,
                }
            ),
        ],
        ignore_index=True,
    )
    msgs = msgs.sort_values(["occurred_at", "contact_id"], kind="stable").reset_index(drop=True)
    msgs.insert(0, "event_id", new_ids("ME", rng, len(msgs), 10))
    return msgs
