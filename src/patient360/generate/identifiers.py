"""Realistic direct identifiers, generated vectorised (Faker only builds the pools)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from faker.providers.address.zh_CN import Provider as AddressProvider
from faker.providers.person.zh_CN import Provider as PersonProvider

from patient360.generate.params import MOBILE_NOISY_FORMAT_SHARE, PROVINCE_CODES, RIC_LOWER_X_SHARE
from patient360.identifiers import ric_check_chars

MOBILE_PREFIXES = np.array(
    [
        "130",
        "131",
        "132",
        "133",
        "135",
        "136",
        "137",
        "138",
        "139",
        "150",
        "151",
        "152",
        "155",
        "156",
        "157",
        "158",
        "159",
        "166",
        "177",
        "180",
        "181",
        "183",
        "185",
        "186",
        "187",
        "188",
        "189",
        "199",
    ]
)
WECHAT_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"))


def _gbk_ok(text: str) -> bool:
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


LAST_NAMES = np.array([n for n in PersonProvider.last_names if _gbk_ok(n)])
FIRST_NAMES = np.array([n for n in PersonProvider.first_names if _gbk_ok(n)])
NAME_CHARS = np.array(sorted({c for n in FIRST_NAMES for c in n}))
# Street stems are place names (many Chinese streets are named after cities), districts from Faker.
STREETS = np.array(sorted({s for s in AddressProvider.cities if _gbk_ok(s)}) + ["中山", "人民", "解放", "建设"])
DISTRICTS = np.array(sorted({d for d in AddressProvider.districts if _gbk_ok(d)}))


def _covers_years(names: str, first: int = 1920, last: int = 2030) -> bool:
    """Whether a code's name history ('[-1993]A,[1994-]B' or plain 'A') covers every year."""
    spans: list[tuple[int, int]] = []
    for seg in names.split(","):
        if not seg.startswith("["):
            return True
        lo, hi = seg[1:].split("]")[0].split("-")
        spans.append((int(lo) if lo else first, int(hi) if hi else last))
    year = first
    for start, end in sorted(spans):
        if start > year:
            return False
        year = max(year, end + 1)
    return year > last


def _county_codes(first: int) -> dict[str, np.ndarray]:
    """County-level region codes per province from python-stdnum's GB/T 2260 table, kept
    where the code was assigned in every year since `first`, so an ID with a birth year
    after `first` is valid (most codes date from the 1983 reform)."""
    import stdnum

    codes: dict[str, list[str]] = {}
    province = None
    path = Path(stdnum.__file__).parent / "cn" / "loc.dat"
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        code, _, rest = line.strip().partition(" ")
        names = rest.partition('county="')[2].rstrip('"')
        if province and len(code) == 4 and not code.endswith("00") and _covers_years(names, first):
            codes.setdefault(province, []).append(province + code)
    return {k: np.array(v) for k, v in codes.items()}


COUNTY_CODES_ALWAYS = _county_codes(1920)
COUNTY_CODES_1983 = _county_codes(1983)
_ANY_ALWAYS = np.concatenate(list(COUNTY_CODES_ALWAYS.values()))
_ANY_1983 = np.concatenate(list(COUNTY_CODES_1983.values()))


def mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct 11-digit mobiles."""
    suffix = rng.choice(100_000_000, size=n, replace=False)
    prefix = MOBILE_PREFIXES[rng.integers(0, len(MOBILE_PREFIXES), n)]
    return np.char.add(prefix, np.char.zfill(suffix.astype(str), 8))


def format_mobiles(
    rng: np.random.Generator, mobile: np.ndarray, noisy_share: float = MOBILE_NOISY_FORMAT_SHARE
) -> np.ndarray:
    """As people type them: plain, 138-1234-5678, +86 138 1234 5678, 86-138..."""
    s = pd.Series(mobile, dtype=object)
    style = rng.choice(4, size=len(s), p=[1 - noisy_share, noisy_share / 3, noisy_share / 3, noisy_share / 3])
    a, b, c = s.str[:3], s.str[3:7], s.str[7:]
    out = s.copy()
    out[style == 1] = (a + "-" + b + "-" + c)[style == 1]
    out[style == 2] = ("+86 " + a + " " + b + " " + c)[style == 2]
    out[style == 3] = ("86-" + s)[style == 3]
    return out.to_numpy()


def resident_ids(
    rng: np.random.Generator,
    province: np.ndarray,
    birth: pd.Series,
    male: np.ndarray,
    lower_x_share: float = RIC_LOWER_X_SHARE,
) -> np.ndarray:
    """Valid 18-digit resident ID numbers (region, birth date, sex digit, ISO 7064 check)."""
    n = len(province)
    prov = np.array([PROVINCE_CODES.get(p, "11") for p in province])
    born_1983 = pd.to_datetime(birth).dt.year.to_numpy() >= 1983
    region = np.empty(n, dtype="<U6")
    for code in np.unique(prov):
        for recent in (True, False):
            mask = (prov == code) & (born_1983 == recent)
            # older people: a code valid since before their birth (elsewhere if the province has none)
            pool = COUNTY_CODES_1983.get(code, _ANY_1983) if recent else COUNTY_CODES_ALWAYS.get(code, _ANY_ALWAYS)
            region[mask] = pool[rng.integers(0, len(pool), mask.sum())]
    seq = rng.integers(0, 500, n) * 2 + male.astype(int)  # odd = male
    body = np.char.add(
        np.char.add(region, pd.to_datetime(birth).dt.strftime("%Y%m%d").to_numpy().astype(str)),
        np.char.zfill(seq.astype(str), 3),
    )
    check = ric_check_chars(body)
    lower = (check == "X") & (rng.random(n) < lower_x_share)
    check = np.where(lower, "x", check)
    return np.char.add(body, check)


def break_checksum(ids: np.ndarray) -> np.ndarray:
    """Same number with a wrong check digit (planted dirt)."""
    last = np.array([s[-1].upper() for s in ids])
    wrong = np.where(last == "0", "1", "0")
    return np.array([s[:-1] + w for s, w in zip(ids, wrong, strict=True)])


def names(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.char.add(
        LAST_NAMES[rng.integers(0, len(LAST_NAMES), n)], FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)]
    )


def typo(rng: np.random.Generator, name: np.ndarray, share: float) -> np.ndarray:
    """Replace one character of the given name in `share` of rows."""
    out = name.astype(object).copy()
    for i in np.flatnonzero(rng.random(len(out)) < share):
        s = out[i]
        pos = 1 + rng.integers(0, max(len(s) - 1, 1)) if len(s) > 1 else 0
        out[i] = s[:pos] + NAME_CHARS[rng.integers(0, len(NAME_CHARS))] + s[pos + 1 :]
    return out


def addresses(rng: np.random.Generator, city: np.ndarray) -> np.ndarray:
    n = len(city)
    parts = [
        city,
        np.full(n, "市"),
        DISTRICTS[rng.integers(0, len(DISTRICTS), n)],
        np.full(n, "区"),
        STREETS[rng.integers(0, len(STREETS), n)],
        np.full(n, "路"),
        rng.integers(1, 999, n).astype(str),
        np.full(n, "号"),
        rng.integers(1, 30, n).astype(str),
        np.full(n, "栋"),
        rng.integers(1, 6, n).astype(str),
        np.full(n, "单元"),
        rng.integers(101, 2999, n).astype(str),
        np.full(n, "室"),
    ]
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(out, p)
    return out


def random_tokens(rng: np.random.Generator, n: int, length: int, prefix: str = "") -> np.ndarray:
    idx = rng.integers(0, len(WECHAT_ALPHABET), (n, length))
    chars = WECHAT_ALPHABET[idx]
    return np.array([prefix + "".join(row) for row in chars])


def device_serials(rng: np.random.Generator, vendor_prefix: np.ndarray) -> np.ndarray:
    n = len(vendor_prefix)
    hexpart = np.char.upper(
        np.char.zfill(np.array([format(x, "x") for x in rng.integers(0, 16**10, n, dtype=np.int64)]), 10)
    )
    out = np.char.add(vendor_prefix, hexpart)
    dup = pd.Series(out).duplicated().to_numpy()
    if dup.any():  # serials are unique: redraw the (rare) collisions
        out[dup] = device_serials(rng, vendor_prefix[dup])
        if pd.Series(out).duplicated().any():
            return device_serials(rng, vendor_prefix)
    return out
