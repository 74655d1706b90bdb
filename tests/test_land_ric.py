"""`p360_ric_valid` (DuckDB macro) agrees with python-stdnum's stdnum.cn.ric."""

from __future__ import annotations

import random
from datetime import date, timedelta

import duckdb
from stdnum import numdb
from stdnum.cn import ric

from patient360.land.schema import ensure_schema


def _counties() -> list[str]:
    """Real county codes (without validity-year ranges) found by probing stdnum's database."""
    db = numdb.get("cn/loc")
    rng = random.Random(7)
    codes: list[str] = []
    while len(codes) < 40:
        code = f"{rng.choice(['11', '31', '32', '44', '51', '65'])}{rng.randint(0, 99):02d}{rng.randint(0, 99):02d}"  # noqa: E501
        info = {k: v for _, props in db.info(code) for k, v in props.items()}
        if info.get("county") and not info["county"].startswith("["):
            codes.append(code)
    return codes


def _numbers() -> list[str]:
    rng = random.Random(42)
    counties = _counties()
    out = []
    for _ in range(300):
        born = date(1930, 1, 1) + timedelta(days=rng.randint(0, 90 * 365))
        born = min(born, date(2020, 12, 31))
        body = f"{rng.choice(counties)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
        valid = body + ric.calc_check_digit(body + "0")
        out.append(valid)
        mutation = rng.randrange(5)
        if mutation == 0:  # wrong check digit
            wrong = rng.choice([c for c in "0123456789X" if c != valid[-1]])
            out.append(valid[:-1] + wrong)
        elif mutation == 1:  # one digit changed (check digit recomputed for half of them)
            i = rng.randrange(17)
            changed = valid[:i] + str((int(valid[i]) + rng.randint(1, 9)) % 10) + valid[i + 1 :]
            out.append(changed)
        elif mutation == 2:  # impossible date with a correct check digit
            bad = body[:10] + "13" + body[12:]
            out.append(bad + ric.calc_check_digit(bad + "0"))
        elif mutation == 3:  # wrong length / letters
            out.append(rng.choice([valid[:-1], valid + "1", valid[:5] + "A" + valid[6:]]))
        else:  # lower-case x check digit where applicable, else unknown province
            out.append(valid.lower() if valid.endswith("X") else "99" + valid[2:])
    return out


def _stdnum_valid(number: str) -> bool:
    try:
        ric.validate(number)
    except Exception:  # noqa: BLE001 - any stdnum validation error means invalid
        return False
    return True


def test_macro_matches_stdnum_on_generated_and_mutated_numbers() -> None:
    numbers = _numbers()
    con = duckdb.connect()
    ensure_schema(con)
    got = dict(con.execute("SELECT n, p360_ric_valid(n) FROM unnest(?::VARCHAR[]) t(n)", [numbers]).fetchall())
    expected = {n: _stdnum_valid(n) for n in numbers}
    assert sum(expected.values()) >= 300 and sum(not v for v in expected.values()) >= 200
    disagree = {n: (got[n], expected[n]) for n in numbers if got[n] != expected[n]}
    assert disagree == {}


def test_macro_rejects_future_birth_dates_and_null() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    body = f"110105{date.today().year + 1}0101001"
    future = body + ric.calc_check_digit(body + "0")
    assert con.execute("SELECT p360_ric_valid(?), p360_ric_valid(NULL)", [future]).fetchone() == (
        False,
        False,
    )
    assert con.execute("SELECT p360_ric_valid('11010519491231002x')").fetchone() == (True,)
