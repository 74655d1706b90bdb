"""Wearables: device bindings (with re-binding) and readings drawn one day at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patient360.generate import identifiers as ids
from patient360.generate import params as P
from patient360.generate.events import DAY, SEC, Timeline, random_time

VENDORS: dict[str, list[tuple[str, str, str | None]]] = {  # device type: [(vendor, serial prefix, glucose unit)]
    "glucose_meter": [("sinocare", "SN", "mmol/L"), ("yuwell", "YW", "mg/dL")],
    "bp_monitor": [("omron", "OM", None), ("yuwell", "YB", None)],
    "band": [("huawei", "HW", None), ("xiaomi", "XM", None)],
}


def build_bindings(
    rng: np.random.Generator, persons: pd.DataFrame, consult: pd.DataFrame, tl: Timeline, active_users: set[str]
) -> pd.DataFrame:
    """Device bindings. A device is bound through the consult account of users who use it
    (active_users: the consult export only knows users with sessions), and by phone."""
    users = consult[consult["platform_user_id"].isin(active_users)].set_index("person_id")["platform_user_id"]
    bindings = _first_bindings(rng, persons[persons["has_wearable"]].reset_index(drop=True), users, tl)
    bindings = _rebind(rng, persons, bindings, users, tl)
    bindings["binding_id"] = (
        bindings["device_serial"] + ":" + pd.to_datetime(bindings["bound_at"]).dt.strftime("%Y%m%d")
    )
    mob = bindings["mobile_raw"].to_numpy()
    has_mob = pd.notna(mob)
    formatted = np.full(len(bindings), None, dtype=object)
    if has_mob.any():
        formatted[has_mob] = ids.format_mobiles(rng, mob[has_mob].astype(str))
    bindings["mobile"] = formatted
    return bindings


def _first_bindings(rng: np.random.Generator, p: pd.DataFrame, users: pd.Series, tl: Timeline) -> pd.DataFrame:
    """One device per wearable user, of the type their condition calls for."""
    n = len(p)
    dtype = np.where(
        p["has_diabetes"] | p["has_gestational_diabetes"],
        "glucose_meter",
        np.where(p["has_hypertension"], "bp_monitor", "band"),
    )
    pick = rng.integers(0, 2, n)
    vendor = np.array([VENDORS[t][k][0] for t, k in zip(dtype, pick, strict=True)])
    prefix = np.array([VENDORS[t][k][1] for t, k in zip(dtype, pick, strict=True)])
    bound = random_time(rng, p["active_from"].to_numpy() + rng.integers(0, P.DEVICE_BOUND_DELAY_DAYS, n) * DAY)
    bound = np.minimum(bound, tl.end_ts - 3600 * SEC)
    bindings = pd.DataFrame(
        {
            "person_id": p["person_id"],
            "device_serial": ids.device_serials(rng, prefix),
            "vendor": vendor,
            "device_type": dtype,
            "platform_user_id": p["person_id"].map(users).to_numpy(),
            "mobile_raw": p["mobile"].to_numpy(),
            "bound_at": bound,
            "unbound_at": pd.NaT,
        }
    )
    # bound through the consult account when there is one; the device app also asks
    # for a phone number, which most people give
    gave_phone = rng.random(len(bindings)) < P.DEVICE_PHONE_GIVEN_SHARE
    bindings.loc[bindings["platform_user_id"].notna() & ~gave_phone, "mobile_raw"] = None
    return bindings


def _rebind(
    rng: np.random.Generator, persons: pd.DataFrame, bindings: pd.DataFrame, users: pd.Series, tl: Timeline
) -> pd.DataFrame:
    """Re-binding: the device goes to another adult (a new binding), the old binding ends."""
    candidates = persons[
        ~persons["has_wearable"] & (persons["has_his"] | persons["has_consult"]) & (persons["age"] > P.CHILD_MAX_AGE)
    ]
    rebind = np.flatnonzero(rng.random(len(bindings)) < P.DEVICE_REBIND_RATE)
    rebind = rebind[: len(candidates)]
    extra = []
    if len(rebind):
        takers = candidates.sample(len(rebind), random_state=int(rng.integers(0, 2**31)))
        for i, (_, taker) in zip(rebind, takers.iterrows(), strict=True):
            start = np.datetime64(bindings.at[i, "bound_at"], "s")
            # re-bound on a later day than the first binding: binding ids (serial:YYYYMMDD) stay unique
            next_day = (start.astype("datetime64[D]") + DAY).astype("datetime64[s]")
            remaining = int((tl.end_ts - next_day) / SEC) - 120
            if remaining <= 0:
                continue
            when = next_day + int(rng.integers(0, remaining)) * SEC
            bindings.at[i, "unbound_at"] = when
            extra.append(
                {
                    "person_id": taker["person_id"],
                    "device_serial": bindings.at[i, "device_serial"],
                    "vendor": bindings.at[i, "vendor"],
                    "device_type": bindings.at[i, "device_type"],
                    "platform_user_id": users.get(taker["person_id"]),
                    "mobile_raw": taker["mobile"],
                    "bound_at": when + 60 * SEC,
                    "unbound_at": pd.NaT,
                }
            )
    return pd.concat([bindings, pd.DataFrame(extra)], ignore_index=True) if extra else bindings


GLUCOSE_MGDL_VENDORS = {"yuwell"}


class ReadingsModel:
    """Per-device baselines fixed once; `day(d)` draws that day's readings."""

    def __init__(
        self, seed: int, bindings: pd.DataFrame, persons: pd.DataFrame, hr_per_day: int = P.DEFAULT_HR_PER_DAY
    ) -> None:
        rng = np.random.default_rng([seed, 7])
        self.seed = seed
        self.hr_per_day = hr_per_day
        b = bindings.reset_index(drop=True)
        active_to = b["person_id"].map(persons.set_index("person_id")["active_to"]).to_numpy().astype("datetime64[D]")
        self.serial = b["device_serial"].to_numpy()
        self.vendor = b["vendor"].to_numpy()
        self.dtype = b["device_type"].to_numpy()
        self.bound = b["bound_at"].to_numpy().astype("datetime64[s]")
        unbound = pd.to_datetime(b["unbound_at"]).to_numpy().astype("datetime64[s]")
        self.unbound = np.where(np.isnat(unbound), np.datetime64("2262-01-01T00:00:00"), unbound)
        self.last_day = np.minimum(active_to, self.unbound.astype("datetime64[D]"))
        n = len(b)
        self.glucose_mu = rng.uniform(*P.GLUCOSE_BASELINE_MMOL, n)
        self.sbp_mu = rng.normal(*P.SBP_BASELINE, n)
        self.dbp_mu = self.sbp_mu * P.DBP_PER_SBP
        self.hr_mu = rng.normal(*P.HEART_RATE_BASELINE, n)
        self.steps_mu = rng.uniform(*P.STEPS_BASELINE, n)

    def day(self, d: np.datetime64, day_index: int) -> pd.DataFrame:
        """The readings of day `d`, from a generator of its own (days can be drawn in any order)."""
        rng = np.random.default_rng([self.seed, 11, day_index])
        on = (self.bound.astype("datetime64[D]") <= d) & (self.last_day >= d)
        on &= rng.random(len(self.serial)) < P.DEVICE_SYNC_DAY_SHARE
        frames = []
        plans = [  # device type, metric, readings per device-day, unit
            ("glucose_meter", "glucose", P.GLUCOSE_READINGS_PER_DAY, None),
            ("bp_monitor", "systolic", 1, "mmHg"),
            ("band", "heart_rate", self.hr_per_day, "bpm"),
            ("band", "steps", 1, "steps"),
            ("band", "sleep_minutes", 1, "min"),
        ]
        diastolic = None
        for dtype, metric, per, unit in plans:
            idx = np.flatnonzero(on & (self.dtype == dtype))
            repeats = 1 + rng.poisson(per - 1, len(idx)) if metric == "glucose" else per
            idx = np.repeat(idx, repeats)
            t = random_time(rng, np.full(len(idx), d), *P.READING_HOURS)
            if metric == "sleep_minutes":  # drawn after the time above, which it replaces
                t = d.astype("datetime64[s]") + P.SLEEP_REPORT_HOUR * 3600 * SEC + rng.integers(0, 60, len(idx)) * SEC
            t = np.clip(t, self.bound[idx], self.unbound[idx] - SEC)
            value, units = self._values(rng, metric, idx, unit)
            frames.append(self._frame(idx, metric, value, units, t))
            if metric == "systolic":  # the monitor measures diastolic at the same time
                dia = np.clip(rng.normal(self.dbp_mu[idx], P.DBP_DAILY_SD), *P.DBP_HOME_CLIP).round(0)
                diastolic = self._frame(idx, "diastolic", dia, "mmHg", t)
        if diastolic is not None:
            frames.append(diastolic)
        out = pd.concat(frames, ignore_index=True)
        # a device never sends two readings of one metric at the same second (the table's key)
        return (
            out.drop_duplicates(["device_serial", "metric", "measured_at"])
            .sort_values(["measured_at", "device_serial", "metric"], kind="stable")
            .reset_index(drop=True)
        )

    def _values(self, rng: np.random.Generator, metric: str, idx: np.ndarray, unit: str | None) -> tuple:
        """Values and units of one metric's readings (devices idx), around each device's baseline."""
        if metric == "glucose":  # meters measure mmol/L; some vendors display mg/dL
            mmol = np.clip(rng.normal(self.glucose_mu[idx], P.GLUCOSE_SD_MMOL), *P.GLUCOSE_CLIP_MMOL).round(1)
            mgdl = np.isin(self.vendor[idx], list(GLUCOSE_MGDL_VENDORS))
            return np.where(mgdl, (mmol * P.MGDL_PER_MMOL_GLUCOSE).round(0), mmol), np.where(mgdl, "mg/dL", "mmol/L")
        if metric == "systolic":
            value = np.clip(rng.normal(self.sbp_mu[idx], P.SBP_DAILY_SD), *P.SBP_HOME_CLIP)
        elif metric == "heart_rate":
            value = np.clip(rng.normal(self.hr_mu[idx], P.HEART_RATE_SD), *P.HEART_RATE_CLIP)
        elif metric == "steps":
            value = np.maximum(rng.normal(self.steps_mu[idx], P.STEPS_SD), 0)
        else:
            value = np.clip(rng.normal(*P.SLEEP_MINUTES, len(idx)), *P.SLEEP_MINUTES_CLIP)
        return value.round(0), np.full(len(idx), unit)

    def _frame(self, idx: np.ndarray, metric: str, value: np.ndarray, unit, t: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "device_serial": self.serial[idx],
                "vendor": self.vendor[idx],
                "metric": metric,
                "value": value,
                "unit": unit,
                "measured_at": t,
            }
        )

    @property
    def days_total(self) -> int:
        return len(self.serial)
