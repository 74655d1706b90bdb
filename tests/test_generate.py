"""The synthetic generator: deterministic, every file honours its contract except exactly
the rows listed in _truth/dirt.csv, identity truth is consistent and resolvable, and the
population matches the domain mix."""

from __future__ import annotations

import ast
import csv
import fnmatch
import gzip
import hashlib
import io
import json
import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from stdnum.cn import ric

from patient360.contracts import Contract, all_contracts, get_contract
from patient360.generate import DEFAULT_END_DATE, generate_exports

END = date(2026, 3, 31)
SMALL = {"patients": 400, "days": 3, "seed": 11, "end_date": END}


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    generate_exports(out, progress=False, **SMALL)
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate_exports(out, patients=300, days=2, seed=5, end_date=END, dirt_rate=0, progress=False)
    return out


def _data_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "_truth" not in p.parts)


def _contract_for(root: Path, path: Path) -> Contract:
    rel = path.relative_to(root)
    source, day, name = rel.parts
    date.fromisoformat(day)  # partition folders are dates
    matches = [c for c in all_contracts() if c.source == source and fnmatch.fnmatch(name, c.file_glob)]
    assert len(matches) == 1, f"{rel}: matches {len(matches)} contracts"
    return matches[0]


def _read_text(path: Path, contract: Contract) -> str:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode(contract.encodings[0])  # the generator writes the first listed encoding


def _dirt(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "_truth" / "dirt.csv", dtype=str, keep_default_na=False)


def _ric_valid(x: str) -> bool:
    return ric.is_valid(x)


def _violations(con: duckdb.DuckDBPyConnection, contract: Contract, rows: list[list[str]]) -> dict[int, set[str]]:
    """Row index -> violated rules, checked in DuckDB from the contract (one definition)."""
    names = contract.column_names
    frame = pd.DataFrame(rows, columns=names, dtype=object).replace("", None)
    con.register("raw", frame)
    out: dict[int, set[str]] = defaultdict(set)
    load_time = f"TIMESTAMP '{END + timedelta(days=1)} 00:00:00'"
    typed = []
    for c in contract.columns:
        col = f'"{c.name}"'
        typed.append(f"TRY_CAST({col} AS {c.type}) AS {col}")
        rules = [(f"type:{c.name}", f"{col} IS NOT NULL AND TRY_CAST({col} AS {c.type}) IS NULL")]
        if c.required:
            rules.append((f"required:{c.name}", f"{col} IS NULL"))
        if c.allowed:
            values = ", ".join("'" + a.replace("'", "''") + "'" for a in c.allowed)
            rules.append((f"allowed:{c.name}", f"{col} IS NOT NULL AND {col} NOT IN ({values})"))
        if c.pattern:
            rules.append((f"pattern:{c.name}", f"{col} IS NOT NULL AND NOT regexp_full_match({col}, '{c.pattern}')"))
        num = f"TRY_CAST({col} AS DOUBLE)"
        if c.min is not None:
            rules.append((f"range:{c.name}", f"{num} < {c.min}"))
        if c.max is not None:
            rules.append((f"range:{c.name}", f"{num} > {c.max}"))
        if c.not_future:
            rules.append((f"future:{c.name}", f"TRY_CAST({col} AS TIMESTAMP) >= {load_time}"))
        for rule, sql in rules:
            for (i,) in con.execute(
                f"SELECT i FROM (SELECT row_number() OVER () - 1 AS i, * FROM raw) WHERE {sql}"
            ).fetchall():
                out[i].add(rule)
    typed_sql = f"SELECT row_number() OVER () - 1 AS i, {', '.join(typed)} FROM raw"
    for check in contract.checks:
        for (i,) in con.execute(f"SELECT i FROM ({typed_sql}) WHERE NOT ({check.sql})").fetchall():
            out[i].add(f"check:{check.name}")
    con.unregister("raw")
    return out


def _rule_matches(expected: str, got: set[str]) -> bool:
    if expected == "malformed_line":
        return True  # checked on the raw line
    if expected.startswith("type:"):
        # a value that does not cast is also out of every other rule's reach
        return expected in got
    return got == {expected}


def _parse(path: Path, contract: Contract) -> tuple[list[list[str]], list[int], set[int]]:
    """Records with their physical line numbers, and the line numbers that do not parse."""
    text = _read_text(path, contract)
    names = contract.column_names
    rows, lines, bad = [], [], set()
    if contract.format == "ndjson":
        for n, line in enumerate(text.splitlines(), start=1):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                bad.add(n)
                continue
            assert list(rec) == names, f"{path}:{n}: keys not in contract order"
            rows.append(
                ["" if v is None else (str(v).lower() if isinstance(v, bool) else str(v)) for v in rec.values()]
            )
            lines.append(n)
        return rows, lines, bad
    physical = text.split("\n")
    assert physical[-1] == "", f"{path}: no final newline"
    reader = csv.reader(io.StringIO(text), strict=True)
    header = next(reader)
    assert header[: len(names)] == names, f"{path}: header {header}"
    width = len(header)
    for n, line in enumerate(physical[1:-1], start=2):
        fields = next(csv.reader([line]))
        if len(fields) != width:
            bad.add(n)
            continue
        rows.append(fields[: len(names)])
        lines.append(n)
    return rows, lines, bad


def test_every_file_honours_its_contract_except_the_planted_dirt(exports: Path) -> None:
    dirt = _dirt(exports)
    kinds = set(dirt["kind"])
    for kind in [
        "duplicate_row", "duplicate_file", "malformed_line", "wrong_type", "out_of_range_vital",
        "future_timestamp", "negative_amount", "invalid_id_checksum", "empty_file", "truncated_gzip", "extra_column",
    ]:  # fmt: skip
        assert kind in kinds, f"no {kind} planted"
    row_dirt = dirt[dirt["line_number"] != ""]
    assert not row_dirt.duplicated(["file", "line_number"]).any(), "two defects in one row"
    file_dirt = set(dirt.loc[dirt["line_number"] == "", "file"])
    expected = {(r.file, int(r.line_number)): r.expected_rule for r in row_dirt.itertuples()}
    found: dict[tuple[str, int], str] = {}
    con = duckdb.connect()
    con.create_function("p360_ric_valid", _ric_valid, ["VARCHAR"], "BOOLEAN")
    checked_rows = 0
    for path in _data_files(exports):
        rel = path.relative_to(exports).as_posix()
        contract = _contract_for(exports, path)
        if rel in file_dirt:
            kind = dirt.loc[dirt["file"] == rel, "kind"].item()
            if kind == "empty_file":
                assert path.stat().st_size == 0
            elif kind == "truncated_gzip":
                with pytest.raises((EOFError, OSError)):
                    gzip.decompress(path.read_bytes())
            elif kind == "extra_column":
                assert _read_text(path, contract).split("\n", 1)[0].endswith(",remark")
            elif kind == "duplicate_file":
                originals = [p for p in path.parent.iterdir() if p != path and p.read_bytes() == path.read_bytes()]
                assert originals, f"{rel}: no file with the same bytes"
            if kind != "extra_column":
                continue  # the extra-column file's rows are otherwise valid: check them below
        rows, lines, bad = _parse(path, contract)
        for n in bad:
            found[(rel, n)] = "malformed_line"
        for i, rules in _violations(con, contract, rows).items():
            key = (rel, lines[i])
            assert key in expected, f"{rel} line {lines[i]}: unplanted violation {sorted(rules)}"
            assert _rule_matches(expected[key], rules), f"{rel} line {lines[i]}: {rules} != {expected[key]}"
            found[key] = expected[key]
        # duplicate rows: identical to the line before
        seen_prev = None
        for row, n in zip(rows, lines, strict=True):
            if row == seen_prev and (rel, n) in expected:
                found[(rel, n)] = "duplicate"
            seen_prev = row
        checked_rows += len(rows)
    con.close()
    assert checked_rows > 10_000
    missing = {k: v for k, v in expected.items() if found.get(k) != v}
    assert not missing, f"planted but not observed: {list(missing.items())[:5]}"


def test_file_layout_and_formats(exports: Path) -> None:
    days = sorted({p.relative_to(exports).parts[1] for p in _data_files(exports)})
    assert days == [str(END - timedelta(days=i)) for i in (2, 1, 0)]
    first = exports / "his" / days[0] / "visits.csv"
    raw = first.read_bytes()
    assert raw.decode("gbk").startswith("visit_id,mrn,")
    with pytest.raises(UnicodeDecodeError):
        (exports / "his" / days[0] / "patients.csv").read_bytes().decode("utf-8")  # GBK, with Chinese names
    # the first partition is the full export: it carries history from before the window
    visits = pd.read_csv(first, encoding="gbk")
    assert pd.to_datetime(visits["started_at"]).min() < pd.Timestamp(END - timedelta(days=90))
    with gzip.open(exports / "wearable" / days[0] / "readings.csv.gz", "rt", encoding="utf-8") as fh:
        assert fh.readline().strip() == ",".join(get_contract("wearable", "readings").column_names)
    line = (exports / "consult" / days[-1] / "sessions.ndjson").read_text(encoding="utf-8").splitlines()[-1]
    assert set(json.loads(line)) == set(get_contract("consult", "sessions").column_names)
    manifest = json.loads((exports / "_truth" / "manifest.json").read_text())
    assert manifest["parameters"]["seed"] == SMALL["seed"]
    assert sum(manifest["rows"].values()) == sum(manifest["files"].values())


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    def digest(root: Path) -> dict[str, str]:
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    args = {"patients": 150, "days": 2, "progress": False}
    generate_exports(tmp_path / "a", seed=3, **args)
    generate_exports(tmp_path / "b", seed=3, **args)
    generate_exports(tmp_path / "c", seed=4, **args)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b
    assert a != c
    assert json.loads((tmp_path / "a" / "_truth" / "manifest.json").read_text())["parameters"]["end_date"] == str(
        DEFAULT_END_DATE
    )


def test_dirt_rate_zero_is_clean(clean: Path) -> None:
    assert _dirt(clean).empty
    names = {p.name for p in _data_files(clean)}
    assert not names & {"visits_resend.csv", "referrals_late.csv", "readings_late.csv.gz"}
    con = duckdb.connect()
    con.create_function("p360_ric_valid", _ric_valid, ["VARCHAR"], "BOOLEAN")
    for path in _data_files(clean):
        contract = _contract_for(clean, path)
        rows, _lines, bad = _parse(path, contract)
        assert not bad, path
        assert not _violations(con, contract, rows), path


def _normalise_mobile(m: str) -> str:
    digits = re.sub(r"\D", "", m)
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def _identifiers(root: Path) -> dict[tuple[str, str], set[str]]:
    """Every normalised identifier seen on each source record (all versions)."""
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)

    def add(key: tuple[str, str], kind: str, value: object) -> None:
        if isinstance(value, str) and value:
            ids[key].add(f"{kind}:{_normalise_mobile(value) if kind == 'mobile' else value.upper()}")

    for p in sorted(root.glob("his/*/patients*.csv")):
        for r in pd.read_csv(p, encoding="gbk", dtype=str, keep_default_na=False).itertuples():
            add(("his", r.mrn), "id", r.id_number)
            add(("his", r.mrn), "mobile", r.mobile)
    for p in sorted(root.glob("crm/*/contacts*.csv")):
        for r in pd.read_csv(p, dtype=str, keep_default_na=False).itertuples():
            add(("crm", r.contact_id), "mobile", r.mobile)
            add(("crm", r.contact_id), "unionid", r.wechat_unionid)
    for p in sorted(root.glob("consult/*/sessions*.ndjson")):
        for line in p.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            add(("consult", rec["platform_user_id"]), "mobile", rec["mobile"])
            add(("consult", rec["platform_user_id"]), "user", rec["platform_user_id"])
    for p in sorted(root.glob("wearable/*/device_bindings*.csv")):
        for r in pd.read_csv(p, dtype=str, keep_default_na=False).itertuples():
            add(("wearable", r.binding_id), "mobile", r.mobile)
            add(("wearable", r.binding_id), "user", r.platform_user_id)
    return ids


def test_identity_truth_is_complete_and_resolvable(clean: Path) -> None:
    truth = pd.read_csv(clean / "_truth" / "identity.csv", dtype=str)
    assert not truth.duplicated(["source", "source_record_id"]).any()
    ids = _identifiers(clean)
    assert set(ids) == set(zip(truth["source"], truth["source_record_id"], strict=True))
    binding = truth[truth["source"] == "wearable"]["source_record_id"]
    assert binding.str.fullmatch(r"[A-Za-z0-9-]+:\d{8}").all()
    persons = set(pd.read_csv(clean / "_truth" / "persons.csv", dtype=str)["person_id"])
    assert set(truth["person_id"]) <= persons
    # every record of a multi-record person shares an identifier with another of its records
    by_person = truth.groupby("person_id")
    linked = 0
    for _pid, group in by_person:
        keys = list(zip(group["source"], group["source_record_id"], strict=True))
        if len(keys) < 2:
            continue
        for key in keys:
            others = set().union(*(ids[k] for k in keys if k != key))
            assert ids[key] & others, f"{key} shares no identifier with its person's other records"
            linked += 1
    assert linked > 100
    # an ID number never spans two persons
    idn = [(v, pid) for (s, r), vals in ids.items() for v in vals if v.startswith("id:")
           for pid in truth.loc[(truth["source"] == s) & (truth["source_record_id"] == r), "person_id"]]  # fmt: skip
    assert pd.DataFrame(idn, columns=["id", "pid"]).groupby("id")["pid"].nunique().max() == 1


def test_identifier_formats_are_realistic(clean: Path) -> None:
    patients = pd.concat(
        pd.read_csv(p, encoding="gbk", dtype=str, keep_default_na=False) for p in clean.glob("his/*/patients*.csv")
    )
    with_id = patients[patients["id_number"] != ""]
    assert all(ric.is_valid(x) for x in with_id["id_number"])
    assert (with_id["id_number"].str[6:14] == patients.loc[with_id.index, "birth_date"].str.replace("-", "")).all()
    mobiles = patients["mobile"][patients["mobile"] != ""]
    assert mobiles.str.fullmatch(r"1\d{10}").any() and mobiles.str.startswith("+86 ").any()
    assert mobiles.str.contains(r"^\d{3}-\d{4}-\d{4}$").any()
    assert all(len(_normalise_mobile(m)) == 11 for m in mobiles)


def test_population_mix_matches_domain_targets(tmp_path: Path) -> None:
    generate_exports(tmp_path, patients=5000, days=1, seed=1, dirt_rate=0, progress=False)
    persons = pd.read_csv(tmp_path / "_truth" / "persons.csv", dtype={"chronic_conditions": str})
    band = persons["age_band"].value_counts(normalize=True)
    assert band["25-45"] == pytest.approx(0.62, abs=0.03)
    assert band["60+"] == pytest.approx(0.18, abs=0.03)
    assert band["0-14"] == pytest.approx(0.14, abs=0.03)
    seniors = persons[persons["age_band"] == "60+"]
    assert seniors["chronic_conditions"].notna().mean() == pytest.approx(0.68, abs=0.05)
    chronic = persons[persons["chronic_conditions"].notna()]
    assert chronic["medication_adherent"].mean() == pytest.approx(0.35, abs=0.05)
    assert persons["churned_on"].notna().any() and persons["churned_on"].isna().any()


def _heart_rate_readings(root: Path) -> int:
    con = duckdb.connect()
    try:
        files = [str(p) for p in root.glob("wearable/*/readings*.csv.gz") if "late" not in p.name]
        return con.execute(
            "select count(*) from read_csv(?, union_by_name = true) where metric = 'heart_rate'", [files]
        ).fetchone()[0]
    finally:
        con.close()


def test_history_days_and_heart_rate_density_are_parameters(tmp_path):
    """The benchmark's volume knobs: history carried by the first partition, heart-rate
    samples per band-day (readings scale with it, everything else stays the same)."""
    base = {"patients": 300, "days": 2, "seed": 3, "end_date": END, "dirt_rate": 0, "progress": False}
    generate_exports(tmp_path / "a", history_days=10, hr_per_day=2, **base)
    generate_exports(tmp_path / "b", history_days=10, hr_per_day=6, **base)
    params = json.loads((tmp_path / "a" / "_truth" / "manifest.json").read_text())["parameters"]
    assert params["history_start"] == str(END - timedelta(days=1 + 10))
    assert (params["history_days"], params["hr_per_day"]) == (10, 2)
    hr_a, hr_b = _heart_rate_readings(tmp_path / "a"), _heart_rate_readings(tmp_path / "b")
    assert hr_a > 0 and 2.5 < hr_b / hr_a < 3.5  # 6 vs 2 samples a day, the same devices and days
    same = ("his/{d}/patients.csv", "crm/{d}/contacts.csv")
    first = str(END - timedelta(days=1))
    for rel in same:
        path = rel.format(d=first)
        assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes()
    with pytest.raises(ValueError, match="history_days"):
        generate_exports(tmp_path / "c", history_days=0, **base)


GENERATE_DIR = Path(__file__).resolve().parents[1] / "src" / "patient360" / "generate"
MAX_FUNCTION_LINES = 80  # end_lineno - lineno: a function must fit on a screen


def _modules() -> list[Path]:
    modules = sorted(GENERATE_DIR.glob("*.py"))
    assert len(modules) > 5, f"generator modules not found under {GENERATE_DIR}"
    return modules


def test_every_figure_lives_in_params() -> None:
    """No float literal in a generator module other than params.py: the population's
    probabilities, shares, rates, means and spreads are named constants there. There is no
    allow-list on purpose: a neutral value is written as an int (0, 1) or given a name."""
    found = [
        f"{path.name}:{node.lineno}: {node.value!r}"
        for path in _modules()
        if path.name != "params.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and type(node.value) is float
    ]
    assert not found, "figures outside generate/params.py (name them there):\n" + "\n".join(found)


def test_generator_functions_fit_on_a_screen() -> None:
    long = [
        f"{path.name}:{node.lineno} {node.name}: {node.end_lineno - node.lineno} lines"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them):\n" + "\n".join(long)
