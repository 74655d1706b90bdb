"""The identifier rules (patient360.identifiers): Python functions and DuckDB macros agree
on the same cases, known answers hold, and no other file carries a copy of the rule."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from stdnum.cn import ric

from patient360 import identifiers as I
from patient360.generate import identifiers as gen
from patient360.generate.params import PROVINCE_CODES as GENERATOR_PROVINCES

REPO = Path(__file__).resolve().parents[1]


def _with_check(body: str) -> str:
    """17 digits + their correct check character (so only the other parts can be wrong)."""
    return body + ric.calc_check_digit(body + "0")


ID_CASES = [
    "11010519491231002X", "11010519491231002x", "360426199101010071",
    " 11010519491231002x ", "11010519491231002X ", "\t11010519491231002X",  # surrounding blanks
    "110105194912310021",  # wrong check digit
    "11010519491231002Y",  # not a check character
    _with_check("99010519491231002"),  # no such province
    _with_check("11010519490230002"),  # 30 February
    _with_check("11010519000229002"),  # 1900 was not a leap year
    _with_check("11010520000229002"),  # 2000 was
    _with_check(f"110105{date.today().year + 1}0101001"),  # born next year
    _with_check("11010518991231002"),  # before 1900
    _with_check("11010519000101002"),  # 1900-01-01, the first valid day
    "11010519491231002", "1101051949123100210",  # 17 and 19 characters
    "1101051949123100AX", "11010519491231002XX",  # letters
    "110105 19491231002X", "110105.19491231002X", "110105-19491231002X",  # separators inside
    "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits
    "110105491231002", "110105491231002x", "990105491231002", "110105491331002", "110105490229002",  # 15 digits
    "", " ",
]  # fmt: skip
MOBILE_CASES = [
    "13812345678", "19912345678", " 13812345678 ", "\t13812345678", "13812345678\n",
    "138-1234-5678", "138 1234 5678", "138.1234.5678", "(138) 1234-5678",
    "+86 138 1234 5678", "+8613812345678", "+86-138-1234-5678", "(+86) 138 1234 5678",
    "008613812345678", "0086 138 1234 5678", "86-13812345678", "8613812345678",
    "010-12345678", "02112345678", "(010) 1234 5678",  # landlines
    "138123456789", "1381234567", "861381234567", "00861381234567",  # wrong lengths
    "23812345678", "12812345678", "+86 238 1234 5678",  # wrong leading digits
    "tel:13812345678", "138123456７8", "１３８１２３４５６７８", "138/1234/5678", "+85213812345678",
]  # fmt: skip
CASES = [*ID_CASES, *MOBILE_CASES]

PAIRS: dict[str, Callable[[str | None], object]] = {
    "p360_ric_valid": I.ric18_valid,
    "p360_ric15_valid": I.ric15_valid,
    "p360_normalise_id_number": I.normalise_id_number,
    "p360_normalise_mobile": I.normalise_mobile,
}


def _sql_answers(con: duckdb.DuckDBPyConnection, macro: str, values: list[str | None]) -> list[object]:
    rows = con.execute(
        f"SELECT {macro}(v) FROM unnest(?::VARCHAR[]) WITH ORDINALITY t(v, i) ORDER BY i", [values]
    ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("temp", [False, True], ids=["persistent", "temp"])
@pytest.mark.parametrize("macro", list(PAIRS))
def test_python_and_sql_agree_on_every_case(macro: str, temp: bool) -> None:
    con = duckdb.connect()
    I.install_macros(con, temp=temp)
    values: list[str | None] = [*CASES, None]
    python = [PAIRS[macro](v) for v in values]
    sql = _sql_answers(con, macro, values)
    assert {v: (p, s) for v, p, s in zip(values, python, sql, strict=True) if p != s} == {}


def test_cases_cover_both_answers() -> None:
    for fn in PAIRS.values():
        answers = {fn(v) is None or fn(v) is False for v in CASES}
        assert answers == {True, False}, fn.__name__


KNOWN = [
    (I.ric18_valid, "11010519491231002X", True),
    (I.ric18_valid, "11010519491231002x", True),  # lower-case x accepted
    (I.ric18_valid, "360426199101010071", True),
    (I.ric18_valid, "110105194912310021", False),  # check digit should be X
    (I.ric18_valid, "990105194912310023", False),  # province 99
    (I.ric18_valid, "110105194902300020", False),  # 30 February
    (I.ric18_valid, "110105299901010014", False),  # future birth date (stdnum accepts it)
    (I.ric18_valid, "110105189912310023", False),  # before 1900 (stdnum accepts it)
    (I.ric18_valid, "110105190001010028", True),
    (I.ric18_valid, " 11010519491231002X", False),  # validation sees the stored value
    (I.ric18_valid, None, False),
    (I.ric15_valid, "110105491231002", True),
    (I.ric15_valid, "990105491231002", False),
    (I.ric15_valid, "110105491331002", False),
    (I.normalise_id_number, " 11010519491231002x ", "11010519491231002X"),
    (I.normalise_id_number, "110105491231002", None),  # legacy numbers do not link
    (I.normalise_id_number, "110105194912310021", None),
    (I.normalise_mobile, "+86 138 1234 5678", "13812345678"),
    (I.normalise_mobile, "0086-138-1234-5678", "13812345678"),
    (I.normalise_mobile, "86 13812345678", "13812345678"),
    (I.normalise_mobile, "(138) 1234.5678", "13812345678"),
    (I.normalise_mobile, "010-12345678", None),
    (I.normalise_mobile, "23812345678", None),
    (I.normalise_mobile, "138123456789", None),
    (I.normalise_mobile, "tel:13812345678", None),
    (I.normalise_mobile, None, None),
]


@pytest.mark.parametrize(("fn", "value", "expected"), KNOWN)
def test_known_answers(fn: Callable[[str | None], object], value: str | None, expected: object) -> None:
    assert fn(value) == expected


def test_check_characters_match_stdnum() -> None:
    rng = random.Random(11)
    bodies = np.array([f"{rng.randrange(10**17):017d}" for _ in range(2000)])
    assert list(I.ric_check_chars(bodies)) == [ric.calc_check_digit(b + "0") for b in bodies]
    assert I.ric_check_chars(np.array([], dtype=str)).shape == (0,)


def test_valid_numbers_agree_with_stdnum_where_its_rule_is_ours() -> None:
    """On real county codes and birth dates in 1950-2000, our rule and stdnum.cn.ric agree."""
    rng = random.Random(5)
    for _ in range(500):
        born = date(1950, 1, 1).toordinal() + rng.randrange(365 * 50)
        number = _with_check(f"110105{date.fromordinal(born):%Y%m%d}{rng.randrange(1000):03d}")
        if rng.random() < 0.5:
            number = number[:-1] + rng.choice("0123456789X")
        assert I.ric18_valid(number) is ric.is_valid(number), number


def test_generated_identifiers_follow_the_rule() -> None:
    rng = np.random.default_rng(3)
    n = 400
    ids = gen.resident_ids(
        rng,
        np.array(list(GENERATOR_PROVINCES) * (n // len(GENERATOR_PROVINCES) + 1))[:n],
        pd.Series(pd.Timestamp("1920-01-01") + pd.to_timedelta(rng.integers(0, 365 * 100, n), unit="D")),
        rng.random(n) < 0.5,
    )
    assert all(I.ric18_valid(v) for v in ids)
    assert not any(I.ric18_valid(v) for v in gen.break_checksum(ids))
    mobiles = gen.mobiles(rng, n)
    typed = gen.format_mobiles(rng, mobiles, noisy_share=0.9)
    assert [I.normalise_mobile(t) for t in typed] == list(mobiles)
    assert set(GENERATOR_PROVINCES.values()) <= set(I.PROVINCE_CODES)


def test_staging_view_reads_on_a_later_read_only_connection(tmp_path: Path) -> None:
    """Persistent macros: a view that calls them binds on a connection that never installed them."""
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    I.install_macros(con)
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE TABLE raw (id VARCHAR, mobile VARCHAR)")
    con.execute("INSERT INTO raw VALUES (' 11010519491231002x', '+86 138-1234-5678'), ('110105194912310021', '12')")
    con.execute(
        "CREATE VIEW staging.people AS SELECT p360_normalise_id_number(id) AS id, "
        "p360_normalise_mobile(mobile) AS mobile FROM raw"
    )
    con.close()
    ro = duckdb.connect(str(path), read_only=True)
    expected = [("11010519491231002X", "13812345678"), (None, None)]
    assert ro.execute("SELECT * FROM staging.people ORDER BY id NULLS LAST").fetchall() == expected
    I.install_macros(ro, temp=True)  # the gates' TEMP copies shadow the stored ones harmlessly
    assert ro.execute("SELECT * FROM staging.people ORDER BY id NULLS LAST").fetchall() == expected


# --- one home: no copy of the rule elsewhere ------------------------------------------------
OWNER = REPO / "src" / "patient360" / "identifiers.py"
SKIP_DIRS = {"target", "logs", "dbt_packages", "__pycache__"}
COPIES = {
    "weights": re.compile(r"7\W+9\W+10\W+5\W+8\W+4\W+2\W+1\W+6\W+3\W+7\W+9\W+10\W+5\W+8\W+4\W+2"),
    "check table": re.compile(r"10X98765432"),
    "province list": re.compile(r"""['"]11['"]\s*,\s*['"]12['"]\s*,\s*['"]13['"]"""),
}


def _project_text_files() -> list[Path]:
    files = []
    for root in (REPO / "src", REPO / "dbt_project"):
        for path in root.rglob("*"):
            if path.is_file() and not SKIP_DIRS & set(path.relative_to(REPO).parts) and path.suffix != ".pyc":
                files.append(path)
    return files


def test_rule_constants_live_only_in_the_owner_module() -> None:
    owner_text = OWNER.read_text(encoding="utf-8")
    assert all(rx.search(owner_text) for rx in COPIES.values())  # the patterns do find the constants
    found = []
    for path in _project_text_files():
        if path == OWNER:
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        found += [f"{path.relative_to(REPO)}: {what}" for what, rx in COPIES.items() if rx.search(text)]
    assert found == []
