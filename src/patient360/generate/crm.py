"""CRM: campaigns, contacts (leads and patients) and the campaigns' daily funnel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patient360.generate import identifiers as ids
from patient360.generate import params as P
from patient360.generate.events import DAY, SEC, Timeline, new_ids, random_time

WECHAT_CHANNELS = {"private_domain", "community_group", "social_video", "patient_referral"}


def build_campaigns(rng: np.random.Generator, tl: Timeline) -> pd.DataFrame:
    """CAMPAIGNS_PER_CHANNEL consecutive campaigns per channel covering the exported history."""
    rows = []
    span = int((tl.end - tl.history_start) / DAY) + 1
    specialties = ["endocrinology", "cardiology", "paediatrics", "dermatology", "gynaecology", "general", "oncology"]
    k = 0
    for channel in P.CHANNELS:
        for part in range(P.CAMPAIGNS_PER_CHANNEL):
            start = tl.history_start + (span * part // P.CAMPAIGNS_PER_CHANNEL) * DAY
            end = tl.history_start + (span * (part + 1) // P.CAMPAIGNS_PER_CHANNEL - 1) * DAY
            k += 1
            rows.append(
                {
                    "campaign_id": f"CMP{k:04d}",
                    "campaign_name": f"{channel}-{specialties[k % len(specialties)]}-{part + 1}期",
                    "channel": channel,
                    "specialty": specialties[k % len(specialties)],
                    "start_date": start,
                    "end_date": end,
                    "budget": round(float(rng.uniform(*P.CAMPAIGN_BUDGET)), 2),
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


def build_crm_contacts(rng: np.random.Generator, persons: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    p = persons[persons["has_crm"]].reset_index(drop=True)
    n = len(p)
    created = random_time(rng, p["registered"].to_numpy() - rng.integers(0, P.CONTACT_LEAD_TIME_DAYS, n) * DAY)
    wechat = np.isin(p["channel"].to_numpy(), list(WECHAT_CHANNELS)) & (rng.random(n) < P.WECHAT_CONTACT_SHARE)
    only_lead = ~p["has_his"].to_numpy() & ~p["has_consult"].to_numpy()
    no_mobile = wechat & only_lead & (rng.random(n) < P.LEAD_WITHOUT_MOBILE_RATE)
    base = pd.DataFrame(
        {
            "person_id": p["person_id"],
            "mobile_raw": np.where(no_mobile, None, p["mobile"].to_numpy()),
            "name": ids.typo(rng, p["name"].to_numpy(), P.NAME_TYPO_RATE),
            "wechat_unionid": np.where(wechat, ids.random_tokens(rng, n, 27, "o"), None),  # type: ignore[call-overload]
            "source_channel": p["channel"],
            "campaign_id": p["campaign_id"],
            "created_at": created,
            "marketing_consent": p["consent"].to_numpy(),
            "withdraws": p["withdraws"].to_numpy(),
        }
    )
    # A second contact for some people (another campaign), sharing the phone or WeChat.
    second = base[rng.random(n) < P.SECOND_CRM_CONTACT_RATE].copy()
    second["created_at"] = (
        second["created_at"].to_numpy() + rng.integers(*P.SECOND_CONTACT_DELAY_DAYS, len(second)) * DAY
    )
    second["name"] = ids.typo(rng, second["name"].to_numpy(), P.SECOND_CONTACT_NAME_TYPO_RATE)
    contacts = pd.concat([base, second], ignore_index=True)
    contacts = contacts[contacts["created_at"].to_numpy() <= tl.end_ts].reset_index(drop=True)
    m = len(contacts)
    contacts["contact_id"] = new_ids("C", rng, m, 9)
    has_wechat = contacts["wechat_unionid"].notna().to_numpy()
    contacts["wechat_openid"] = np.where(has_wechat, ids.random_tokens(rng, m, 27, "o"), None)  # type: ignore[call-overload]
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


def campaign_stats(
    rng, campaigns: pd.DataFrame, contacts: pd.DataFrame, spend_total: pd.Series, tl: Timeline
) -> pd.DataFrame:
    """Daily funnel per campaign, consistent with the contacts each campaign really acquired; each
    campaign's spend_total (acquisition.campaign_spend) spread over its days by impressions."""
    first = contacts.drop_duplicates("contact_id")
    acquired = (
        first.assign(d=first["created_at"].to_numpy().astype("datetime64[D]")).groupby(["campaign_id", "d"]).size()
    )
    rows = []
    for c in campaigns.itertuples():
        _share, _conv, _cpi, ctr = P.CHANNELS[c.channel]
        days = np.arange(np.datetime64(c.start_date, "D"), np.datetime64(c.end_date, "D") + 1)
        days = days[days <= tl.end]
        leads = np.array([acquired.get((c.campaign_id, d), 0) for d in days])
        appointments = _add_drop_off(rng, leads, "appointments")
        requests = _add_drop_off(rng, appointments, "consult_requests")
        clicks = _add_drop_off(rng, requests, "clicks")
        impressions = clicks + rng.poisson(clicks / ctr)
        weight = (impressions + 1) * rng.uniform(*P.DAILY_SPEND_JITTER, len(days))
        spend = (spend_total[c.campaign_id] * weight / weight.sum()).round(2)
        rows.append(
            pd.DataFrame(
                {
                    "campaign_id": c.campaign_id,
                    "stat_date": days,
                    "impressions": impressions,
                    "clicks": clicks,
                    "consult_requests": requests,
                    "appointments": appointments,
                    "spend": spend,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _add_drop_off(rng, following: np.ndarray, stage: str) -> np.ndarray:
    """A funnel stage's daily count: the next stage's plus the people who stopped at this one."""
    per_unit, per_day = P.FUNNEL_DROP_OFF[stage]
    return following + rng.poisson(following * per_unit + per_day)
