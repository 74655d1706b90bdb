"""Time axis and vectorised event helpers shared by every source."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from patient360.generate import params as P

DAY = np.timedelta64(1, "D")

SEC = np.timedelta64(1, "s")


@dataclass
class Timeline:
    end: np.datetime64  # last partition day
    window_start: np.datetime64  # first partition day
    history_start: np.datetime64  # earliest event carried by the first partition

    @property
    def end_ts(self) -> np.datetime64:
        return self.end + DAY - SEC


def random_time(
    rng: np.random.Generator, days: np.ndarray, lo_hour: int = P.DAY_HOURS[0], hi_hour: int = P.DAY_HOURS[1]
) -> np.ndarray:
    secs = rng.integers(lo_hour * 3600, hi_hour * 3600, len(days))
    return days.astype("datetime64[s]") + secs * SEC


def new_ids(prefix: str, rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    nums = rng.choice(10**width, size=n, replace=False)
    if n == 0:  # np.char.zfill fails on an empty array (short histories can have no events)
        return np.array([], dtype=str)
    return np.char.add(prefix, np.char.zfill(nums.astype(str), width))


def repeat_events(rng, start: np.ndarray, stop: np.ndarray, per_day: np.ndarray):
    """Poisson number of events per person over [start, stop], uniform days. Returns (person idx, day)."""
    span = np.maximum(((stop - start) / DAY).astype(int) + 1, 0)
    counts = rng.poisson(per_day * span)
    idx = np.repeat(np.arange(len(start)), counts)
    offsets = (rng.random(len(idx)) * span[idx]).astype(int)
    return idx, start[idx] + offsets * DAY


def wind_down_keep(rng, day: np.ndarray, wind_down_from: np.ndarray) -> np.ndarray:
    """Which events a person keeps: all before their wind-down starts, CHURN_WIND_DOWN_KEEP of those after."""
    return (day < wind_down_from) | (rng.random(len(day)) < P.CHURN_WIND_DOWN_KEEP)


def periodic_events(rng, start, stop, interval_lo, interval_hi, jitter_days: int):
    """Regular events (refills, follow-ups) every interval days, each 0..jitter_days-1 days late."""
    span = np.maximum(((stop - start) / DAY).astype(int), 0)
    mean_interval = (interval_lo + interval_hi) / 2
    counts = (span // mean_interval).astype(int) + 1
    idx = np.repeat(np.arange(len(start)), counts)
    k = np.arange(len(idx)) - np.repeat(np.cumsum(counts) - counts, counts)
    step = rng.uniform(interval_lo[idx], interval_hi[idx])
    days = start[idx] + (k * step + rng.integers(0, jitter_days, len(idx))).astype(int) * DAY
    keep = days <= stop[idx]
    return idx[keep], days[keep], k[keep]
