"""The one home of the direct-identifier rules: Chinese resident ID numbers and mobiles.

Each rule is written here once, as constants, and served twice from them: as Python
functions (generator, PII gates, tests) and as DuckDB macros (landing checks, dbt staging,
the warehouse PII scan), whose SQL text is generated below from the same constants.

Decisions (the same everywhere the rules are used):

Resident ID number, 18 characters (GB 11643): region(6) birth date(8) sequence(3) check(1).
- region: the first two digits are a GB/T 2260 province-level code (`PROVINCE_CODES`).
  County codes are not checked: the county list changes over the years and a number keeps
  the code its holder was registered under (stdnum.cn.ric checks counties; we do not).
- birth date: a real calendar date from 1900-01-01 (`BIRTH_DATE_MIN`) to today inclusive
  (in SQL, the session's `current_date`).
- check character: ISO 7064 MOD 11-2 over the first 17 digits, 'X' for 10 (computed by
  python-stdnum in Python; `RIC_WEIGHTS` / `RIC_CHECK_CHARS` spell it for SQL and numpy).
- a lower-case 'x' check character is valid (people type it); normalisation upper-cases it.
- validation sees the value as stored: no spaces, full stops or other characters anywhere.
  Normalisation trims surrounding ASCII spaces (DuckDB's `trim`) first, then upper-cases.
Legacy 15-digit number (issued before 1999): region(6) YYMMDD(6) sequence(3), no check
digit; same region rule, birth date 19YY-MM-DD must be real. It is PII (the gates detect
it) but not a linking identifier: `normalise_id_number` keeps only 18-character numbers.

Mobile: separators (space, tab, '-', '.', '(', ')') are removed, then an optional country
prefix +86 / 0086 / 86, then exactly 11 digits 1[3-9]xxxxxxxxx. Anything else (letters,
landlines, 10 or 12 digits, a leading 2) is not a mobile: normalisation gives NULL / None.

Where the macros live: `install_macros(con)` creates them PERSISTENT in the warehouse (main
schema); landing (`land.schema.ensure_schema`) and the dbt plugin (every dbt connection) both
call it, so the current rule is written into the warehouse before any model uses it. dbt's
staging models are views that call these macros, and DuckDB binds a view when it is read:
persistent macros let every later reader (the gates' read-only connection, GX, the duckdb
CLI) read the staging views without running patient360 code first. The gates also install
TEMP copies on their read-only connection (`temp=True`) so their detectors work on any
database; a temp macro shadows the persistent one of the same name, and both are this text.
"""

from __future__ import annotations

import re
from datetime import date

import duckdb
import numpy as np
from stdnum.cn import ric

# GB/T 2260 province-level codes (first two digits of a resident identity card number).
PROVINCE_CODES: tuple[str, ...] = (
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
    "71", "81", "82",
)  # fmt: skip
# ISO 7064 MOD 11-2: weight of digit i (1..17) is 2**(18-i) mod 11; the check character is
# RIC_CHECK_CHARS[sum(digit * weight) mod 11]. Tested against stdnum.cn.ric.calc_check_digit.
RIC_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RIC_CHECK_CHARS = "10X98765432"
BIRTH_DATE_MIN = date(1900, 1, 1)

# Forms, as RE2 patterns that Python's `re` reads the same way (ASCII classes only).
RIC18_FORM = r"[0-9]{17}[0-9Xx]"
RIC15_FORM = r"[0-9]{15}"
MOBILE_NATIONAL = r"1[3-9][0-9]{9}"
MOBILE_COUNTRY_PREFIX = r"(?:\+86|0086|86)"
MOBILE_SEPARATORS = r"[ \t().-]"
_MOBILE = rf"{MOBILE_COUNTRY_PREFIX}?({MOBILE_NATIONAL})"


# --- Python -------------------------------------------------------------------------------
def _birth_date_ok(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return BIRTH_DATE_MIN <= born <= date.today()


def ric18_valid(value: str | None) -> bool:
    """18-character resident ID as stored: province, birth date and check character (x or X)."""
    if value is None or not re.fullmatch(RIC18_FORM, value):
        return False
    return (
        value[:2] in PROVINCE_CODES
        and _birth_date_ok(value[6:14])
        and ric.calc_check_digit(value) == value[17].upper()  # stdnum ignores the last character
    )


def ric15_valid(value: str | None) -> bool:
    """15-digit legacy resident ID: province and a real 19YYMMDD birth date."""
    if value is None or not re.fullmatch(RIC15_FORM, value):
        return False
    return value[:2] in PROVINCE_CODES and _birth_date_ok("19" + value[6:12])


def normalise_id_number(value: str | None) -> str | None:
    """Trimmed, upper-cased 18-character resident ID, or None unless it is valid."""
    if value is None:
        return None
    number = value.strip(" ").upper()
    return number if ric18_valid(number) else None


def normalise_mobile(value: str | None) -> str | None:
    """11-digit Chinese mobile, or None unless the value is one (see the module docstring)."""
    if value is None:
        return None
    m = re.fullmatch(_MOBILE, re.sub(MOBILE_SEPARATORS, "", value))
    return m.group(1) if m else None


_WEIGHTS = np.array(RIC_WEIGHTS)
_CHECKS = np.array(list(RIC_CHECK_CHARS))


def ric_check_chars(bodies: np.ndarray) -> np.ndarray:
    """Check characters ('0'-'9', 'X') for an array of 17-digit ID bodies, vectorised."""
    digits = np.frombuffer("".join(bodies).encode("ascii"), dtype=np.uint8).reshape(len(bodies), 17) - ord("0")
    return _CHECKS[(digits @ _WEIGHTS) % 11]


# --- SQL (DuckDB macros, generated from the constants above) ---------------------------------
def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _birth_date_sql(yyyymmdd: str) -> str:
    return (
        f"CAST(try_strptime({yyyymmdd}, '%Y%m%d') AS DATE) BETWEEN DATE '{BIRTH_DATE_MIN.isoformat()}' AND current_date"
    )


def _ric18_sql() -> str:
    # ascii() - 48 instead of CAST: DuckDB may evaluate every AND operand, and a CAST of a
    # non-digit would raise where this only gives a wrong (and ignored) sum.
    weighted = " + ".join(f"{w} * (ascii(substr(s, {i}, 1)) - 48)" for i, w in enumerate(RIC_WEIGHTS, start=1))
    return f"""coalesce(
        regexp_full_match(s, {_sql_str(RIC18_FORM)})
        AND substr(s, 1, 2) IN ({", ".join(map(_sql_str, PROVINCE_CODES))})
        AND {_birth_date_sql("substr(s, 7, 8)")}
        AND substr({_sql_str(RIC_CHECK_CHARS)}, ({weighted}) % 11 + 1, 1) = upper(substr(s, 18, 1)),
        FALSE)"""


def _ric15_sql() -> str:
    return f"""coalesce(
        regexp_full_match(s, {_sql_str(RIC15_FORM)})
        AND substr(s, 1, 2) IN ({", ".join(map(_sql_str, PROVINCE_CODES))})
        AND {_birth_date_sql("'19' || substr(s, 7, 6)")},
        FALSE)"""


MACRO_BODIES: dict[str, str] = {
    "p360_ric_valid": _ric18_sql(),
    "p360_ric15_valid": _ric15_sql(),
    "p360_normalise_id_number": "CASE WHEN p360_ric_valid(upper(trim(s))) THEN upper(trim(s)) END",
    "p360_normalise_mobile": (
        f"nullif(regexp_extract(regexp_replace(s, {_sql_str(MOBILE_SEPARATORS)}, '', 'g'), "
        f"{_sql_str('^' + _MOBILE + '$')}, 1), '')"
    ),
}


def macro_sql(*, temp: bool = False) -> list[str]:
    """CREATE OR REPLACE statements for every identifier macro (p360_ric_valid first: the
    normalisation macro calls it)."""
    kind = "TEMP MACRO" if temp else "MACRO"
    return [f"CREATE OR REPLACE {kind} {name}(s) AS ({body})" for name, body in MACRO_BODIES.items()]


def install_macros(con: duckdb.DuckDBPyConnection, *, temp: bool = False) -> None:
    """Create the macros on `con`: persistent in its database, or TEMP (read-only connections)."""
    for statement in macro_sql(temp=temp):
        con.execute(statement)


# --- Other identifiers the PII gate detects (never linked, only refused) -----------------------
# Bank card (ISO/IEC 7812): 16-19 digits, an issuer prefix of the card schemes used in China
# (UnionPay 62/60/81, Visa 4, Mastercard 51-55/22-27, JCB 35, Amex 34/37), Luhn check digit.
BANK_CARD_PREFIX = r"(?:62|60|81|4|5[1-5]|2[2-7]|35|3[47])"


def luhn_valid(digits: str) -> bool:
    """ISO/IEC 7812 Luhn check over a string of ASCII digits."""
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        total += d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
    return total % 10 == 0


def bank_card_valid(digits: str) -> bool:
    return 16 <= len(digits) <= 19 and re.match(BANK_CARD_PREFIX, digits) is not None and luhn_valid(digits)


def ric18_prefix_plausible(digits: str) -> bool:
    """18 digits whose region and birth date are valid: a resident ID that lost its last digits
    to floating point (a DOUBLE keeps ~16 significant digits, so the check digit is gone)."""
    return len(digits) == 18 and digits[:2] in PROVINCE_CODES and _birth_date_ok(digits[6:14])


def yyyymmdd_valid(digits: str) -> bool:
    """An integer spelling of a calendar date from BIRTH_DATE_MIN to today."""
    return len(digits) == 8 and _birth_date_ok(digits)
