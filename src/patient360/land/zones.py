"""Which time zone a file's local times are read in.

Every contract declares `time_zone` (default Asia/Shanghai, contracts.DEFAULT_TIME_ZONE)
and every vendor format declares its own (adapters). A site overrides them with
P360_TIME_ZONES, a comma-separated list of `<key>=<IANA zone>` where the key is a source
(`wearable`) or a format name (`dexcom_clarity`, `his.patients`); a format's entry wins
over its source's, which wins over the declaration:

    P360_TIME_ZONES="wearable=Asia/Shanghai,apple_health=Europe/Berlin"
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from patient360.errors import ConfigError

TIME_ZONES_ENV = "P360_TIME_ZONES"


def _check(zone: str, where: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{where}: unknown time zone {zone!r} (use an IANA name such as Asia/Shanghai)") from exc
    return zone


def overrides() -> dict[str, str]:
    """P360_TIME_ZONES parsed and checked; raises ConfigError on a bad entry."""
    out: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in os.environ.get(TIME_ZONES_ENV, "").split(","))):
        key, sep, zone = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{TIME_ZONES_ENV}: expected <source or format>=<zone>, got {item!r}")
        out[key.strip()] = _check(zone.strip(), TIME_ZONES_ENV)
    return out


def zone_for(source: str, format_name: str, declared: str) -> str:
    """The zone of a file of `format_name` in `source` (format > source > declaration)."""
    o = overrides()
    return o.get(format_name) or o.get(source) or _check(declared, format_name)


@cache
def has_clock_changes(zone: str) -> bool:
    """Does the zone change its UTC offset during the year (daylight saving)?"""
    tz = ZoneInfo(zone)
    year = datetime.now().year
    offsets = {datetime(y, m, 15, tzinfo=tz).utcoffset() for y in (year - 1, year) for m in (1, 4, 7, 10)}
    return len(offsets) > 1
