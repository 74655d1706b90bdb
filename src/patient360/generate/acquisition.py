"""Who was acquired by which campaign and when (written to _truth/acquisitions.csv), and the
campaign spend that buys those patients at the field's return on spend.

The rule is the metric specification's (docs/metrics.md "Acquisition"): a person is acquired on
their first paid day (a visit payment or a completed consult's fee), by the first campaign touch
(a CRM contact created under a campaign) in the ACQUISITION_WINDOW_DAYS before it; organic
otherwise. Spend is calibrated per campaign: the revenue its patients pay in their first
ROI_HORIZON_DAYS, divided by the channel's field ROI (params.CHANNEL_ROI)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patient360.generate import params as P


def paid_days(his_patients: pd.DataFrame, payments: pd.DataFrame, sessions: pd.DataFrame, users: pd.DataFrame):
    """One row per payment event: person_id, day and amount (visit payments and completed consult fees)."""
    person_of_mrn = his_patients.drop_duplicates("mrn").set_index("mrn")["person_id"]
    visits = pd.DataFrame(
        {
            "person_id": payments["mrn"].map(person_of_mrn).to_numpy(),
            "day": payments["paid_at"].to_numpy().astype("datetime64[D]"),
            "amount": payments["amount"].to_numpy(),
        }
    )
    person_of_user = users.drop_duplicates("platform_user_id").set_index("platform_user_id")["person_id"]
    done = sessions[sessions["status"] == "completed"]
    consults = pd.DataFrame(
        {
            "person_id": done["platform_user_id"].map(person_of_user).to_numpy(),
            "day": done["requested_at"].to_numpy().astype("datetime64[D]"),
            "amount": done["fee"].to_numpy(),
        }
    )
    out = pd.concat([visits, consults], ignore_index=True)
    return out[out["amount"] > 0].dropna(subset=["person_id"])


def acquisitions(contacts: pd.DataFrame, paid: pd.DataFrame) -> pd.DataFrame:
    """Per acquired person: acquired_date, the attributed campaign/channel (None = organic) and the
    revenue paid in the first ROI_HORIZON_DAYS (days 0 .. horizon - 1)."""
    first_paid = paid.groupby("person_id")["day"].min().rename("acquired_date").reset_index()
    touches = contacts.drop_duplicates("contact_id")[["person_id", "campaign_id", "source_channel", "created_at"]]
    touches = touches[touches["campaign_id"].notna()].assign(
        touch_date=lambda t: t["created_at"].to_numpy().astype("datetime64[D]")
    )
    m = first_paid.merge(touches, on="person_id", how="left")
    lag = (m["acquired_date"] - m["touch_date"]).dt.days
    m = m[lag.between(0, P.ACQUISITION_WINDOW_DAYS)]
    attributed = m.sort_values(["person_id", "created_at"], kind="stable").drop_duplicates("person_id")
    out = first_paid.merge(
        attributed[["person_id", "campaign_id", "source_channel", "touch_date"]], on="person_id", how="left"
    )
    horizon = paid.merge(first_paid, on="person_id")
    offset = (horizon["day"] - horizon["acquired_date"]).dt.days
    revenue = horizon[(offset >= 0) & (offset < P.ROI_HORIZON_DAYS)].groupby("person_id")["amount"].sum()
    out["revenue_horizon"] = out["person_id"].map(revenue).fillna(0).round(2)
    return out.rename(columns={"source_channel": "channel"}).sort_values("person_id").reset_index(drop=True)


def campaign_spend(campaigns: pd.DataFrame, acquired: pd.DataFrame) -> pd.Series:
    """Total spend per campaign_id: its patients' horizon revenue / the channel's field ROI; a
    campaign that acquired nobody still spends MIN_CAMPAIGN_SPEND."""
    revenue = acquired.groupby("campaign_id")["revenue_horizon"].sum()
    roi = campaigns["channel"].map(P.CHANNEL_ROI).to_numpy()
    total = campaigns["campaign_id"].map(revenue).fillna(0).to_numpy() / roi
    return pd.Series(np.maximum(total, P.MIN_CAMPAIGN_SPEND), index=campaigns["campaign_id"].to_numpy())
