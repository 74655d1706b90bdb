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

from patient360.identifiers import MOBILE_COUNTRY_PREFIX, ric15_valid, ric18_valid

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
    r"|[0-9]{3,5}室"
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


def scan_text(value: str) -> list[str]:
    """PII types found in one string by the patterns alone (names and other dictionary
    types need the restricted zone). Hex digests are skipped as in the warehouse scan."""
    if not value or _RX["digest"].fullmatch(value):
        return []
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
