"""Wearable readings, generated one day at a time (bounded memory at any scale)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patient360.synth.population import DAY, SEC

GLUCOSE_MGDL_VENDORS = {"yuwell"}


class ReadingsModel:
    """Per-device baselines fixed once; `day(d)` draws that day's readings."""

    def __init__(self, seed: int, bindings: pd.DataFrame, persons: pd.DataFrame) -> None:
        rng = np.random.default_rng([seed, 7])
        self.seed = seed
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
        self.glucose_mu = rng.uniform(5.8, 10.5, n)
        self.sbp_mu = rng.normal(138, 12, n)
        self.dbp_mu = self.sbp_mu * 0.62
        self.hr_mu = rng.normal(72, 7, n)
        self.steps_mu = rng.uniform(2000, 11000, n)

    def day(self, d: np.datetime64, day_index: int) -> pd.DataFrame:
        rng = np.random.default_rng([self.seed, 11, day_index])
        on = (self.bound.astype("datetime64[D]") <= d) & (self.last_day >= d) & (rng.random(len(self.serial)) < 0.75)
        frames = []
        plans = [  # device type, metric, readings per device-day, unit
            ("glucose_meter", "glucose", 2, None),
            ("bp_monitor", "systolic", 1, "mmHg"),
            ("band", "heart_rate", 3, "bpm"),
            ("band", "steps", 1, "steps"),
            ("band", "sleep_minutes", 1, "min"),
        ]
        bp_times = None
        for dtype, metric, per, unit in plans:
            idx = np.flatnonzero(on & (self.dtype == dtype))
            repeats = 1 + rng.poisson(per - 1, len(idx)) if metric == "glucose" else per
            idx = np.repeat(idx, repeats)
            t = d.astype("datetime64[s]") + rng.integers(6 * 3600, 23 * 3600, len(idx)) * SEC
            if metric == "sleep_minutes":
                t = d.astype("datetime64[s]") + 7 * 3600 * SEC + rng.integers(0, 60, len(idx)) * SEC
            t = np.clip(t, self.bound[idx], self.unbound[idx] - SEC)
            if metric == "glucose":
                mmol = np.clip(rng.normal(self.glucose_mu[idx], 1.6), 2.5, 30).round(1)
                mgdl = np.isin(self.vendor[idx], list(GLUCOSE_MGDL_VENDORS))
                value = np.where(mgdl, (mmol * 18).round(0), mmol)
                units = np.where(mgdl, "mg/dL", "mmol/L")
            elif metric == "systolic":
                value = np.clip(rng.normal(self.sbp_mu[idx], 9), 80, 230).round(0)
                units = np.full(len(idx), unit)
                bp_times = (idx, t, np.clip(rng.normal(self.dbp_mu[idx], 6), 45, 140).round(0))
            elif metric == "heart_rate":
                value, units = np.clip(rng.normal(self.hr_mu[idx], 9), 40, 180).round(0), np.full(len(idx), unit)
            elif metric == "steps":
                value, units = np.maximum(rng.normal(self.steps_mu[idx], 2500), 0).round(0), np.full(len(idx), unit)
            else:
                value, units = np.clip(rng.normal(420, 60, len(idx)), 120, 720).round(0), np.full(len(idx), unit)
            frames.append(
                pd.DataFrame(
                    {
                        "device_serial": self.serial[idx],
                        "vendor": self.vendor[idx],
                        "metric": metric,
                        "value": value,
                        "unit": units,
                        "measured_at": t,
                    }
                )
            )
        if bp_times is not None:
            idx, t, dia = bp_times
            frames.append(
                pd.DataFrame(
                    {
                        "device_serial": self.serial[idx],
                        "vendor": self.vendor[idx],
                        "metric": "diastolic",
                        "value": dia,
                        "unit": "mmHg",
                        "measured_at": t,
                    }
                )
            )
        out = pd.concat(frames, ignore_index=True)
        # a device never sends two readings of one metric at the same second (the table's key)
        return (
            out.drop_duplicates(["device_serial", "metric", "measured_at"])
            .sort_values(["measured_at", "device_serial", "metric"], kind="stable")
            .reset_index(drop=True)
        )

    @property
    def days_total(self) -> int:
        return len(self.serial)


__all__ = ["DAY", "ReadingsModel"]
