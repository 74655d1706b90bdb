"""PII detectors shared by the SQL scan (DuckDB, RE2) and Python (`scan_text`).

Every pattern is RE2-compatible (no lookarounds), so the same text runs in DuckDB's
`regexp_matches` and in Python's `re`. Boundaries are spelled as `(?:^|[^0-9])` ...
`(?:[^0-9]|$)` instead of lookarounds; candidates are then validated exactly
(resident ID check digit, region and birth date) so digit runs do not raise alarms.
The identifier rules themselves (resident ID validity, mobile shape) live in
patient360.identifiers; the candidate patterns here only find where to apply them.
"""

from __future__ import annotations

import re

from patient360.gates.pii_normalise import compact_digits, normalise
from patient360.identifiers import (
    MOBILE_COUNTRY_PREFIX,
    bank_card_valid,
    ric15_valid,
    ric18_prefix_plausible,
    ric18_valid,
    yyyymmdd_valid,
)

# --- patterns (RE2 syntax, also valid Python `re` except \p{Han}, see _py) ---------------
# Chinese mobile in text: 1[3-9]x xxxx xxxx, optional +86/0086/86 prefix, spaces or dashes
# between the groups (narrower than the normalisation rule's separators: free text is noisy).
MOBILE = rf"(?:^|[^0-9])(?:{MOBILE_COUNTRY_PREFIX}[ -]?)?1[3-9][0-9][ -]?[0-9]{{4}}[ -]?[0-9]{{4}}(?:[^0-9]|$)"
# 18-digit resident ID candidates (group 1), validated by `ric18_valid` / `p360_ric_valid`.
# [1-8]: every province code starts so; a cheap prefilter, the rule decides.
RIC18 = r"(?:^|[^0-9])([1-8][0-9]{16}[0-9Xx])(?:[^0-9]|$)"
# 15-digit legacy resident ID candidates (group 1): region(6) YYMMDD seq(3), validated by
# `ric15_valid` / `p360_ric15_valid`.
RIC15 = r"(?:^|[^0-9])([1-8][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3})(?:[^0-9]|$)"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# WeChat openid/unionid: 'o' + 27 of [A-Za-z0-9_-] (group 1); must contain an upper-case
# letter (random ids do with p > 0.999999; snake_case vocabulary never does).
WECHAT = r"(?:^|[^A-Za-z0-9_-])(o[A-Za-z0-9_-]{27})(?:[^A-Za-z0-9_-]|$)"
WECHAT_UPPER = r"[A-Z]"
# Device serial: vendor prefix of 2-3 capitals, optional dash, 8-16 upper hex (group 1);
# the hex part (from the 4th character) must mix digits and A-F letters: record ids such
# as RX2988653526 (prefix + decimal digits) and words in capitals are not serials. The
# dictionary of bound serials catches the ~1 % of real serials whose hex is all digits.
DEVICE_SERIAL = r"(?:^|[^A-Za-z0-9])([A-Z]{2,3}-?[0-9A-F]{8,16})(?:[^A-Za-z0-9]|$)"
DEVICE_SERIAL_HEX = r"^...[0-9A-F-]*(?:[0-9][A-F]|[A-F][0-9])"
# Chinese street address fragments: road/street + number, building, unit, room, compound.
ADDRESS = (
    r"(?:路|街|大道|巷|弄|道)[0-9一二三四五六七八九十百]{1,5}号"
    r"|[0-9一二三四五六七八九十]{1,4}(?:栋|幢|号楼)"
    r"|[0-9一二三四五六七八九十]{1,2}单元"
    r"|[0-9]{3,5}(?:室|房|号房)"
    r"|[0-9A-Z]{1,3}(?:座|号院)"
    r"|(?:栋|幢|座|号楼|单元)[0-9]{3,5}"
    r"|\p{Han}{2,}小区"
)
# A full calendar date (Y-M-D in common spellings, or compact YYYYMMDD) between 1900 and 2099.
FULL_DATE = (
    r"(?:^|[^0-9])(?:19|20)[0-9]{2}(?:[-/.年](?:0?[1-9]|1[0-2])[-/.月](?:0?[1-9]|[12][0-9]|3[01])"
    r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))(?:[^0-9]|$)"
)
# Hex digests (md5/sha1/sha256): unreadable, so content patterns skip them; the plain-hash
# check (unkeyed hash of a restricted identifier) examines them instead.
DIGEST = r"[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}"
PSEUDONYM = r"[0-9a-f]{64}"
HAN_RUN = r"\p{Han}{2,}"
TOKEN = r"[A-Za-z0-9-]{6,32}"

# PII type names used in findings, reports and tests.
PII_TYPES: tuple[str, ...] = (
    "mobile", "resident_id", "resident_id_15", "email", "wechat_id", "device_serial",
    "address", "birth_date", "name", "record_id", "pseudonym_format", "plain_hash",
    "bank_card", "passport", "travel_permit", "vehicle_plate", "ip_address", "mac_address", "landline",
)  # fmt: skip
# Detected by `find_pii` on normalised text (the Python UDF of the gate), besides the SQL patterns.
EVASION_TYPES: tuple[str, ...] = (
    "mobile", "resident_id", "resident_id_15", "email", "wechat_id", "device_serial", "address", "birth_date",
    "bank_card", "passport", "travel_permit", "vehicle_plate", "ip_address", "mac_address", "landline",
)  # fmt: skip

# restricted.person_identifiers.identifier_type -> PII type reported on a dictionary hit
# (types not listed, e.g. other record ids, report as record_id).
DICTIONARY_TYPES: dict[str, str] = {
    "mobile": "mobile",
    "id_number": "resident_id",
    "name": "name",
    "person_name": "name",
    "email": "email",
    "wechat_openid": "wechat_id",
    "wechat_unionid": "wechat_id",
    "device_serial": "device_serial",
    "address": "address",
    "birth_date": "birth_date",
    "mrn": "record_id",
    "crm_contact_id": "record_id",
    "platform_user_id": "record_id",
    "wearable_binding_id": "record_id",
}


def _py(pattern: str) -> re.Pattern[str]:
    """Python form of an RE2 pattern (Python's `re` has no \\p{Han})."""
    return re.compile(pattern.replace(r"\p{Han}", "[\u3400-\u9fff]"))


def _groups(rx: re.Pattern[str], value: str) -> list[str]:
    # Restart one character after each candidate so candidates sharing a separator are all seen.
    out, pos = [], 0
    while (m := rx.search(value, pos)) is not None:
        out.append(m.group(1))
        pos = m.start(1) + 1
    return out


_RX = {name: _py(p) for name, p in (("mobile", MOBILE), ("ric18", RIC18), ("ric15", RIC15), ("email", EMAIL),
                                     ("wechat", WECHAT), ("serial", DEVICE_SERIAL), ("address", ADDRESS),
                                     ("date", FULL_DATE), ("digest", DIGEST))}  # fmt: skip


def scan_text(value: str, *, normalised: bool = False) -> list[str]:
    """PII types found in one string by the patterns alone (names and other dictionary
    types need the restricted zone). Hex digests are skipped as in the warehouse scan.
    Unless `normalised`, the value is first normalised and the evasion-resistant detectors
    (`find_pii`) run too."""
    if not value or _RX["digest"].fullmatch(value):
        return []
    if not normalised:
        return find_pii(value)
    found: list[str] = []
    if _RX["mobile"].search(value):
        found.append("mobile")
    if any(ric18_valid(c) for c in _groups(_RX["ric18"], value)):
        found.append("resident_id")
    if any(ric15_valid(c) for c in _groups(_RX["ric15"], value)):
        found.append("resident_id_15")
    if _RX["email"].search(value):
        found.append("email")
    if any(re.search(WECHAT_UPPER, c) for c in _groups(_RX["wechat"], value)):
        found.append("wechat_id")
    if any(re.search(DEVICE_SERIAL_HEX, c) for c in _groups(_RX["serial"], value)):
        found.append("device_serial")
    if _RX["address"].search(value):
        found.append("address")
    if _RX["date"].search(value):
        found.append("birth_date")
    return found


# --- detectors on normalised text (Python only: the gate runs them as a DuckDB UDF) ------------
# Mobiles after separators are gone: optional +86/0086/86 or a leading trunk 0.
_MOBILE_COMPACT = re.compile(r"(?:^|[^0-9])(?:\+?86|0086|0)?1[3-9][0-9]{9}(?:[^0-9]|$)")
_DIGIT_RUN = re.compile(r"[0-9]+[Xx]?")
# Landline: trunk 0 + 2-3 digit area code + 7-8 digit number (10-12 digits), or +86 without the 0.
_LANDLINE = re.compile(r"(?:^|[^0-9+])(?:0|\+86|0086)[1-9][0-9]{1,2}[0-9]{7,8}(?:[^0-9]|$)")
# Passports: ordinary E/G + 8 digits or E + letter + 7 digits; service D/S/P + 7-8 digits.
_PASSPORT = re.compile(r"(?:^|[^A-Z0-9])(?:[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|[DSP]E?[0-9]{7,8})(?:[^A-Z0-9]|$)")
# Exit-entry permits for Hong Kong / Macau: C + 8 digits or C + letter + 7; home-return H/M + 8 or 10.
_PERMIT = re.compile(r"(?:^|[^A-Z0-9])(?:C[0-9]{8}|C[A-HJ-NP-Z][0-9]{7}|[HM][0-9]{8}(?:[0-9]{2})?)(?:[^A-Z0-9]|$)")
_PROVINCE_ABBR = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
_PLATE = re.compile(rf"[{_PROVINCE_ABBR}][A-HJ-NP-Z][·•・.\s-]?[A-HJ-NP-Z0-9]{{4,5}}[A-HJ-NP-Z0-9挂学警港澳]")
_IPV4 = re.compile(
    r"(?:^|[^0-9.])((?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))(?:[^0-9.]|$)"
)
_IPV6 = re.compile(r"(?:^|[^0-9A-Fa-f:])([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?:[^0-9A-Fa-f:]|$)")
_MAC = re.compile(
    r"(?:^|[^0-9A-Fa-f])(?:[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?:[^0-9A-Fa-f]|$)"
)
_WXID = re.compile(r"(?:^|[^A-Za-z0-9_])wxid_[A-Za-z0-9_-]{6,}", re.IGNORECASE)
# Dates beyond FULL_DATE: day-first or month-first with a four-digit year (01/01/1990).
_DMY = re.compile(r"(?:^|[^0-9])(?:0?[1-9]|[12][0-9]|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:19|20)[0-9]{2}(?:[^0-9]|$)")
_MDY = re.compile(r"(?:^|[^0-9])(?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12][0-9]|3[01])[-/.](?:19|20)[0-9]{2}(?:[^0-9]|$)")


def _ipv6(text: str) -> bool:
    import ipaddress

    for cand in _IPV6.findall(text):
        if "::" not in cand and cand.count(":") < 7:
            continue  # times (10:30:00) and ratios are not addresses
        try:
            ipaddress.IPv6Address(cand)
            return True
        except ValueError:
            continue
    return False


def _digit_types(digits: str) -> list[str]:
    """Identifier types of one run of digits (a compacted value)."""
    found = []
    body = digits.upper()
    if len(body) == 18 and ric18_valid(body):
        found.append("resident_id")
    if len(body) == 15 and ric15_valid(body):
        found.append("resident_id_15")
    if body.isdigit() and bank_card_valid(body):
        found.append("bank_card")
    return found


def find_pii(value: str | None) -> list[str]:
    """PII types in one value after normalisation (full-width, zero-width, escapes, separators):
    the evasion-resistant detectors. Hex digests are skipped as in `scan_text`."""
    if not value or _RX["digest"].fullmatch(value):
        return []
    text = normalise(value)
    compact = compact_digits(text)
    found = set(scan_text(text, normalised=True)) | set(scan_text(compact, normalised=True))
    if _MOBILE_COMPACT.search(compact):
        found.add("mobile")
    for run in _DIGIT_RUN.findall(compact):
        found.update(_digit_types(run))
    upper = compact.upper()
    checks = {
        "landline": _LANDLINE.search(compact),
        "passport": _PASSPORT.search(upper),
        "travel_permit": _PERMIT.search(upper),
        "vehicle_plate": _PLATE.search(upper),
        "ip_address": _IPV4.search(text) or _ipv6(text),
        "mac_address": _MAC.search(text),
        "wechat_id": _WXID.search(text),
        "birth_date": _DMY.search(text) or _MDY.search(text),
    }
    found.update(name for name, hit in checks.items() if hit)
    return sorted(found)


def numeric_pii(text: str | None, kind: str) -> list[str]:
    """PII types of a number (its SQL text) read as a digit string. kind: `int` (integer types:
    also YYYYMMDD dates), `float` (DOUBLE/REAL: an 18-digit ID survives only to its first
    digits) or `decimal` (also the digits with the decimal point removed: an ID stored as cents)."""
    if not text:
        return []
    from decimal import Decimal, InvalidOperation

    try:
        number = abs(Decimal(text))
    except InvalidOperation:
        return []
    plain = format(number, "f")
    whole, _, frac = plain.partition(".")
    candidates = {whole}
    if kind == "decimal" and frac.strip("0"):
        candidates.add(whole + frac.rstrip("0"))
        candidates.add(whole + frac)
    found = set()
    for digits in candidates:
        found.update(_digit_types(digits))
        # A mobile has no checksum: with the decimal point removed, money sums of 100-200 million
        # (a segment's revenue at 1M patients) spell one. The cents reading of a mobile is matched
        # against the restricted zone's mobiles instead (PiiScanner._scan_numeric).
        mobile = _MOBILE_COMPACT.fullmatch(digits) or (len(digits) == 11 and re.fullmatch(r"1[3-9][0-9]{9}", digits))
        if mobile and digits == whole:
            found.add("mobile")
        if kind == "float" and ric18_prefix_plausible(digits):
            found.add("resident_id")
        if kind == "int" and yyyymmdd_valid(digits):
            found.add("birth_date")
    return sorted(found)
