"""PII-masking and quality gates on small fixture warehouses built with DuckDB.

A clean warehouse passes; every kind of leak planted into a copy (in a text column, in
an innocently named column, inside a longer string) fails naming table, column and PII
type; and no planted value appears in the validation results, Data Docs or logs.
Great Expectations is the only evaluator: most mutations are checked with the DuckDB
metric pass validated by GX in an ephemeral context (fast, nothing stored); a few runs
go through `run_gates` end to end (file context, stored results, Data Docs).
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from faker import Faker

from patient360.gates import Failure, collect_metrics, run_gates
from patient360.gates.gx_runner import COVERAGE_SUITE, SUITES_DIR, load_suites, validate
from patient360.gates.metrics import Metric
from patient360.gates.schema_allowlist import load_allowlist
from patient360.land.schema import ensure_schema
from patient360.pseudonym import pseudonymise

AS_OF = date(2026, 10, 31)
CITIES = [("北京", "北京"), ("上海", "上海"), ("广州", "广东"), ("成都", "四川")]
BANDS = ["25-29", "30-34", "60-64", "90+"]
ALLOWLIST = """
event_date_min: "2000-01-01"
k_anonymity: {table: patient_360, quasi_identifiers: [age_band, gender, city]}
tables:
  patient_360:
    key: [patient_key]
    columns:
      patient_key: {privacy: pseudonym}
      age_band: {privacy: quasi}
      gender: {privacy: quasi}
      city: {privacy: quasi}
      province: {privacy: quasi}
      visit_count: {privacy: none}
      total_spend: {privacy: none}
      registered_date: {privacy: none, kind: event_date}
      as_of_date: {privacy: none, kind: event_date}
      note: {privacy: none}
  fct_visits:
    key: [visit_id]
    columns:
      visit_id: {privacy: none}
      patient_key: {privacy: pseudonym}
      visit_date: {privacy: none, kind: event_date}
      visit_type: {privacy: none, accepted_values: [outpatient, inpatient, emergency, online]}
      department: {privacy: none}
      charge: {privacy: none}
  seg_lifecycle:
    columns:
      patient_key: {privacy: pseudonym}
      as_of_date: {privacy: none, kind: event_date}
      segment: {privacy: none, accepted_values: [new, active, silent, churned]}
  kpi_retention:
    columns:
      cohort_month: {privacy: none, kind: event_date}
      window_days: {privacy: none}
      cohort_users: {privacy: none}
      retention_rate: {privacy: none}
"""


def _people(key: bytes, n: int = 160) -> list[dict]:
    fake = Faker("zh_CN")
    fake.seed_instance(7)
    people = []
    for i in range(n):
        born = fake.date_of_birth(minimum_age=20, maximum_age=90)
        ric = fake.ssn(min_age=20, max_age=90)
        people.append(
            {
                "key": pseudonymise(f"id_number:{ric}", key),
                "name": fake.name(),
                "mobile": fake.phone_number(),
                "id_number": ric,
                "birth_date": born.isoformat(),
                "address": fake.address(),
                "device_serial": f"SN{i:04d}{fake.hexify('^^^^^^', upper=True)}",
                "wechat_openid": "o" + fake.pystr(min_chars=27, max_chars=27)[:27],
                "mrn": f"MRN{i:08d}",
                "email": fake.email(),
            }
        )
    return people


def build_clean(path: Path, people: list[dict]) -> None:
    con = duckdb.connect(str(path))
    ensure_schema(con)  # raw_* tables and audit.file_loads, as landing creates them
    con.execute("CREATE SCHEMA IF NOT EXISTS restricted; CREATE SCHEMA IF NOT EXISTS marts")
    con.execute("CREATE TABLE restricted.person_identifiers (patient_key VARCHAR, identifier_type VARCHAR, "
                "identifier_value VARCHAR)")  # fmt: skip
    rows = [
        [p["key"], t if t != "name" else "person_name", p[t]]
        for p in people
        for t in ("name", "mobile", "id_number", "birth_date", "address", "device_serial", "wechat_openid", "mrn",
                  "email")
    ]  # fmt: skip
    con.executemany("INSERT INTO restricted.person_identifiers VALUES (?, ?, ?)", rows)
    con.execute(
        "CREATE TABLE restricted.identity_links AS SELECT 'his' AS source, identifier_value AS "
        "source_record_id, patient_key FROM restricted.person_identifiers WHERE identifier_type = 'mrn'"
    )
    con.execute("CREATE TABLE marts.patient_360 (patient_key VARCHAR, age_band VARCHAR, gender VARCHAR, city VARCHAR,"
                " province VARCHAR, visit_count BIGINT, total_spend DOUBLE, registered_date DATE, as_of_date DATE,"
                " note VARCHAR)")  # fmt: skip
    # 16 quasi-identifier groups of 10 people each: k-anonymous for k <= 10
    p360 = []
    for i, p in enumerate(people):
        g = i % 16
        city, prov = CITIES[g % 4]
        p360.append([p["key"], BANDS[g // 4], "MF"[g % 2], city, prov, i % 7, 100.0 * (i % 5),
                     date(2025, 1 + i % 12, 1 + i % 28), AS_OF, "常规随访" if i % 3 == 0 else None])  # fmt: skip
    con.executemany("INSERT INTO marts.patient_360 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", p360)
    con.execute("""
        CREATE TABLE marts.fct_visits AS
        SELECT 'V' || lpad(CAST(row_number() OVER () AS VARCHAR), 6, '0') AS visit_id, patient_key,
               DATE '2026-10-01' + CAST(hash(patient_key) % 30 AS INTEGER) AS visit_date,
               ['outpatient', 'online'][1 + CAST(hash(patient_key) % 2 AS INTEGER)] AS visit_type,
               ['内分泌科', '心内科', '儿科'][1 + CAST(hash(patient_key) % 3 AS INTEGER)] AS department,
               120.5 AS charge
        FROM marts.patient_360, range(2)""")
    con.execute("""
        CREATE TABLE marts.seg_lifecycle AS
        SELECT patient_key, as_of_date,
               ['new', 'active', 'silent', 'churned'][1 + CAST(hash(patient_key) % 4 AS INTEGER)] AS segment
        FROM marts.patient_360""")
    con.execute("""
        CREATE TABLE marts.kpi_retention AS
        SELECT DATE '2026-09-01' AS cohort_month, w AS window_days, 160 AS cohort_users, 0.4 AS retention_rate
        FROM (VALUES (7), (30), (90)) AS t(w)""")
    con.close()


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory, pseudonym_key: str) -> Path:
    root = tmp_path_factory.mktemp("gates")
    people = _people(pseudonym_key.encode())
    build_clean(root / "clean.duckdb", people)
    (root / "allowlist.yml").write_text(ALLOWLIST, encoding="utf-8")
    (root / "people.json").write_text(json.dumps(people, ensure_ascii=False), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def people(fixture_dir: Path) -> list[dict]:
    return json.loads((fixture_dir / "people.json").read_text(encoding="utf-8"))


def mutate(fixture_dir: Path, tmp_path: Path, *sql: str, params: list | None = None) -> Path:
    """A copy of the clean warehouse with `sql` applied (`params` bind to every `?`)."""
    wh = tmp_path / "w.duckdb"
    shutil.copy(fixture_dir / "clean.duckdb", wh)
    con = duckdb.connect(str(wh))
    for s in sql:
        con.execute(s, params if "?" in s else None)
    con.close()
    return wh


def failures_of(wh: Path, fixture_dir: Path, tmp_path: Path, k: int = 5) -> list[Failure]:
    """The gate's failures on `wh` as Great Expectations reports them."""
    metrics = collect_metrics(wh, k=k, allowlist=fixture_dir / "allowlist.yml", gx_dir=tmp_path / "gx", as_of=AS_OF)
    return validate(metrics, load_suites()).failures


def hits(failures: list, severity: str = "block") -> set[tuple[str, str, str]]:
    return {(f.table, f.column, f.check) for f in failures if f.severity == severity}


# --- clean fixture -----------------------------------------------------------------------
def test_clean_fixture_has_no_blocking_failure(fixture_dir: Path, tmp_path: Path) -> None:
    wh = mutate(fixture_dir, tmp_path)
    assert hits(failures_of(wh, fixture_dir, tmp_path)) == set()


# --- PII planted in three places ---------------------------------------------------------
def _pii_values(p: dict) -> dict[str, tuple[str, str]]:
    m = p["mobile"]
    return {  # case -> (value to plant, PII type expected)
        "mobile_plain": (m, "mobile"),
        "mobile_dashes": (f"{m[:3]}-{m[3:7]}-{m[7:]}", "mobile"),
        "mobile_plus86": (f"+86 {m[:3]} {m[3:7]} {m[7:]}", "mobile"),
        "mobile_86dash": (f"86-{m}", "mobile"),
        "resident_id": (p["id_number"], "resident_id"),
        "resident_id_lower_x": ("11010519491231002x", "resident_id"),
        "resident_id_15": ("110105491231002", "resident_id_15"),
        "email": (p["email"], "email"),
        "wechat_openid": ("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "wechat_id"),
        "wechat_dictionary": (p["wechat_openid"], "wechat_id"),
        "device_serial": (p["device_serial"], "device_serial"),
        "address_pattern": ("北京市朝阳区建国路88号3栋2单元1203室", "address"),
        "address_dictionary": (p["address"], "address"),
        "birth_date": (p["birth_date"], "birth_date"),
        "name": (p["name"], "name"),
        "mrn": (p["mrn"], "record_id"),
    }


_FIELDS = ("mobile", "id_number", "email", "wechat_openid", "device_serial", "address", "birth_date", "name", "mrn")
CASES = list(_pii_values(dict.fromkeys(_FIELDS, "13812345678")))
PLACES = {
    "text_column": ("patient_360", "note", "UPDATE marts.patient_360 SET note = ? WHERE rowid = 5"),
    "innocent_name": ("seg_lifecycle", "segment", "UPDATE marts.seg_lifecycle SET segment = ? WHERE rowid = 3"),
    "inside_string": ("fct_visits", "department",
                      "UPDATE marts.fct_visits SET department = '复诊 备注:' || ? || ' 已通知' WHERE rowid = 7"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_planted_pii_fails_naming_table_column_type(
    fixture_dir: Path, tmp_path: Path, people: list[dict], case: str
) -> None:
    """The same value planted in three places of one copy (distinct tables and columns, so each
    place is asserted on its own): a text column, an innocently named column, inside text."""
    value, pii = _pii_values(people[11])[case]
    wh = mutate(fixture_dir, tmp_path, *(sql for _, _, sql in PLACES.values()), params=[value])
    failures = failures_of(wh, fixture_dir, tmp_path)
    for place, (table, column, _) in PLACES.items():
        assert (table, column, pii) in hits(failures), f"{case} {place} not caught"
    assert value not in "\n".join(f.line() for f in failures)


def test_pseudonym_column_with_plain_sha256_of_mobile_fails(fixture_dir: Path, tmp_path: Path, people) -> None:
    wh = mutate(fixture_dir, tmp_path, "UPDATE marts.fct_visits SET patient_key = sha256(?) WHERE rowid < 3",
                params=[people[0]["mobile"]])  # fmt: skip
    found = hits(failures_of(wh, fixture_dir, tmp_path))
    assert ("fct_visits", "patient_key", "plain_hash") in found
    assert ("fct_visits", "patient_key", "orphan_patient_key") in found


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE marts.patient_360 SET patient_key = md5(patient_key) WHERE rowid = 1",
         ("patient_360", "patient_key", "pseudonym_format")),
        ("UPDATE marts.patient_360 SET patient_key = upper(patient_key) WHERE rowid = 1",
         ("patient_360", "patient_key", "pseudonym_format")),
        ("UPDATE marts.patient_360 SET registered_date = DATE '1975-01-09' WHERE rowid = 1",
         ("patient_360", "registered_date", "birth_date")),
        ("UPDATE marts.patient_360 SET registered_date = (SELECT CAST(identifier_value AS DATE) FROM "
         "restricted.person_identifiers AS r WHERE r.identifier_type = 'birth_date' AND r.patient_key = "
         "patient_360.patient_key) + INTERVAL 30 YEAR",
         ("patient_360", "registered_date", "birth_date")),
        ("UPDATE marts.patient_360 SET visit_count = 13812345678 WHERE rowid = 1",
         ("patient_360", "visit_count", "mobile")),
        ("ALTER TABLE marts.patient_360 ADD COLUMN extra_col VARCHAR", ("patient_360", "extra_col", "unlisted_column")),
        ("CREATE TABLE marts.seg_new AS SELECT 1 AS x", ("seg_new", "", "unlisted_table")),
        ("INSERT INTO marts.patient_360 SELECT patient_key || 'x', age_band, gender, '拉萨', '西藏', 0, 0,"
         " registered_date, as_of_date, NULL FROM marts.patient_360 LIMIT 4",
         ("person-level union", "4 quasi-identifiers", "k_anonymity")),
        ("INSERT INTO marts.fct_visits SELECT * FROM marts.fct_visits LIMIT 1",
         ("fct_visits", "visit_id", "key_duplicate")),
        ("UPDATE marts.seg_lifecycle SET segment = 'vip' WHERE rowid = 1",
         ("seg_lifecycle", "segment", "accepted_values")),
        ("UPDATE marts.kpi_retention SET retention_rate = 1.5", ("kpi_retention", "retention_rate", "kpi_rate_range")),
        ("UPDATE marts.fct_visits SET patient_key = repeat('a', 64) WHERE rowid = 1",
         ("fct_visits", "patient_key", "orphan_patient_key")),
        ("INSERT INTO audit.file_loads VALUES ('l1', 'his', 'visits', 'his/2026-10-31/visits.csv', DATE '2026-10-31',"
         " 'csv', 'abc', 1, 'utf-8', 5, 5, 0, 'landed', NULL, NULL, NULL, now(), now())",
         ("raw_his.visits", "", "reconciliation")),
        ("DROP TABLE marts.kpi_retention", ("kpi_retention", "", "missing_table")),
    ],
    ids=["md5_key", "upper_key", "old_event_date", "event_col_of_birthdays", "numeric_mobile", "new_column",
         "new_table", "k_group_of_4", "duplicate_key", "accepted_values", "kpi_rate", "orphan", "reconciliation",
         "missing_table"],
)  # fmt: skip
def test_mutation_fails(fixture_dir: Path, tmp_path: Path, sql: str, expected: tuple[str, str, str]) -> None:
    wh = mutate(fixture_dir, tmp_path, sql)
    assert expected in hits(failures_of(wh, fixture_dir, tmp_path))


def test_k_is_configurable(fixture_dir: Path, tmp_path: Path) -> None:
    wh = mutate(fixture_dir, tmp_path)
    group = ("person-level union", "4 quasi-identifiers", "k_anonymity")
    assert group not in hits(failures_of(wh, fixture_dir, tmp_path, 10))
    found = failures_of(wh, fixture_dir, tmp_path, 11)
    assert group in hits(found)
    [kf] = [f for f in found if f.check == "k_anonymity"]
    assert kf.observed == 16  # all 16 groups of 10 people are too small for k=11


def test_row_count_drift_warns(fixture_dir: Path, tmp_path: Path) -> None:
    wh = mutate(fixture_dir, tmp_path)
    first = failures_of(wh, fixture_dir, tmp_path)  # no previous counts: nothing to compare, counts stored
    assert not [f for f in first if f.check == "row_count_drift"]
    assert json.loads((tmp_path / "gx" / "last_row_counts.json").read_text())["fct_visits"] == 320
    con = duckdb.connect(str(wh))
    con.execute("DELETE FROM marts.fct_visits WHERE rowid % 4 <> 0")
    con.close()
    drift = [f for f in failures_of(wh, fixture_dir, tmp_path) if f.check == "row_count_drift"]
    assert [(f.severity, f.table, f.observed) for f in drift] == [("warn", "fct_visits", 0.75)]  # 240 of 320 gone


def test_missing_warehouse_is_a_clear_failure(fixture_dir: Path, tmp_path: Path) -> None:
    found = failures_of(tmp_path / "nope.duckdb", fixture_dir, tmp_path)
    assert [(f.severity, f.table, f.check) for f in found] == [("block", str(tmp_path / "nope.duckdb"),
                                                                 "warehouse_missing")]  # fmt: skip


def test_suites_and_allowlist_are_well_formed() -> None:
    suites = load_suites()
    assert {"pii_masking", "schema_allowlist", "k_anonymity", "quality_marts", "quality_raw"} <= set(suites)
    assert all(e["meta"]["severity"] == "block" for e in suites["pii_masking"])
    allow = load_allowlist()
    assert "patient_360" in allow.tables
    assert allow.rule("patient_360", "patient_key").privacy == "pseudonym"


# --- end to end through Great Expectations --------------------------------------------------
def test_gx_clean_passes_and_builds_data_docs(fixture_dir: Path, tmp_path: Path) -> None:
    wh = mutate(fixture_dir, tmp_path)
    outcome = run_gates(wh, data_docs_dir=tmp_path / "gx", allowlist=fixture_dir / "allowlist.yml", as_of=AS_OF)
    assert outcome.passed, outcome.render()
    assert outcome.gx_success and all(outcome.gx_success[("pii_masking", c)] for c in ("mobile", "name", "plain_hash"))
    assert outcome.data_docs_index.is_file()
    # one page per suite of this run (its validation result and the suite itself), linked from the index
    site = outcome.data_docs_index.parent
    index = outcome.data_docs_index.read_text(encoding="utf-8")
    for suite in [*load_suites(), COVERAGE_SUITE]:
        assert list((site / "validations" / suite).rglob("*.html")), f"no validation page for {suite}"
        assert (site / "expectations" / f"{suite}.html").is_file(), f"no suite page for {suite}"
        assert f"validations/{suite}/" in index, f"the index does not link {suite}"
    duckdb.connect(str(wh)).close()  # the gate closed its read-only connection: a writer can open


def test_gx_missing_marts_fail_clearly(fixture_dir: Path, tmp_path: Path) -> None:
    wh = mutate(fixture_dir, tmp_path, *[f"DROP TABLE marts.{t}" for t in
                                         ("patient_360", "fct_visits", "seg_lifecycle", "kpi_retention")])  # fmt: skip
    outcome = run_gates(wh, data_docs_dir=tmp_path / "gx", allowlist=fixture_dir / "allowlist.yml", as_of=AS_OF)
    assert not outcome.passed
    lines = outcome.render().splitlines()
    for table in ("patient_360", "fct_visits", "seg_lifecycle", "kpi_retention"):
        assert (table, "", "missing_table") in hits(outcome.failures)
        assert any(line.split()[2:4] == [table, "missing_table"] for line in lines), f"{table} not rendered"


def test_gx_leak_fails_and_no_planted_value_escapes(
    fixture_dir: Path, tmp_path: Path, people: list[dict], caplog: pytest.LogCaptureFixture, capfd
) -> None:
    p = people[23]
    planted = [p["mobile"], p["id_number"], p["name"], p["email"], p["device_serial"], p["address"], p["wechat_openid"]]
    wh = mutate(fixture_dir, tmp_path, *[
        f"UPDATE marts.patient_360 SET note = '{v}' WHERE rowid = {i}" for i, v in enumerate(planted)
    ], "UPDATE marts.fct_visits SET department = '{}' || department WHERE rowid = 2".format(p["name"]))  # fmt: skip
    caplog.set_level(logging.DEBUG)
    outcome = run_gates(wh, data_docs_dir=tmp_path / "gx", allowlist=fixture_dir / "allowlist.yml", as_of=AS_OF)
    assert not outcome.passed
    found = hits(outcome.failures)
    for pii in ("mobile", "resident_id", "name", "email", "device_serial", "address", "wechat_id"):
        assert ("patient_360", "note", pii) in found
    assert ("fct_visits", "department", "name") in found
    assert outcome.gx_success[("pii_masking", "mobile")] is False  # GX itself saw the failure
    assert outcome.gx_success[("pii_masking", "name")] is False
    out, err = capfd.readouterr()
    texts = {"render": outcome.render(), "logs": caplog.text, "stdout": out, "stderr": err}
    for f in (tmp_path / "gx").rglob("*"):
        if f.is_file():
            texts[str(f)] = f.read_bytes().decode("utf-8", errors="replace")
    assert any("validations" in k for k in texts) and any(k.endswith("index.html") for k in texts)
    # the results do name the failing metric rows (so the scan below reads the real failure content)
    assert any("validations" in k and '"unexpected_index_list"' in t and '"note"' in t for k, t in texts.items())
    for value in planted:
        escaped = json.dumps(value)[1:-1]  # JSON files store CJK as \\uXXXX
        for where, text in texts.items():
            assert value not in text and escaped not in text, f"a planted value leaked into {where}"


# --- Great Expectations is the one evaluator ------------------------------------------------
def _stored_unexpected_rows(gx_dir: Path) -> set[tuple[str, str, str, str, float]]:
    """Every failing metric row in the validation results GX stored under gx_dir."""
    rows = set()
    for f in gx_dir.rglob("*.json"):
        if "validations" not in f.parts:
            continue
        for res in json.loads(f.read_text(encoding="utf-8"))["results"]:
            for r in [] if res["success"] else res["result"]["unexpected_index_list"]:
                rows.add((r["suite"], r["table"], r["column"], r["check"], r["observed"]))
    return rows


def test_failures_are_the_rows_gx_reports_and_bounds_live_in_the_suite_json(fixture_dir: Path, tmp_path: Path) -> None:
    """The gate reports exactly the rows GX's stored results name as unexpected, and editing a
    bound in the suite JSON (nothing else) flips the verdict."""
    wh = mutate(fixture_dir, tmp_path, "UPDATE marts.kpi_retention SET retention_rate = 1.5 WHERE window_days = 7")
    run = {"allowlist": fixture_dir / "allowlist.yml", "as_of": AS_OF}
    outcome = run_gates(wh, data_docs_dir=tmp_path / "gx1", **run)
    kpi = Failure("block", "quality_marts", "kpi_retention", "retention_rate", "kpi_rate_range", 1.0,
                  "rate or share outside [0, 1]")  # fmt: skip
    assert outcome.blocking == [kpi], outcome.render()  # one row of 3 out of [0, 1]
    assert outcome.gx_success[("quality_marts", "kpi_rate_range")] is False
    stored = _stored_unexpected_rows(tmp_path / "gx1")
    assert stored == {(f.suite, f.table, f.column, f.check, f.observed) for f in outcome.failures}

    suites = tmp_path / "suites"
    shutil.copytree(SUITES_DIR, suites)
    doc = json.loads((suites / "quality_marts.json").read_text(encoding="utf-8"))
    [exp] = [e for e in doc["expectations"] if e["meta"]["check"] == "kpi_rate_range"]
    exp["kwargs"]["max_value"] = 1  # the suite now tolerates one row out of range
    (suites / "quality_marts.json").write_text(json.dumps(doc), encoding="utf-8")
    relaxed = run_gates(wh, data_docs_dir=tmp_path / "gx2", suites_dir=suites, **run)
    assert relaxed.passed and kpi not in relaxed.failures, relaxed.render()
    assert relaxed.gx_success[("quality_marts", "kpi_rate_range")] is True


def test_bounds_as_gx_reads_them() -> None:
    """Each metric is judged only by its own (suite, check) expectation, inclusive bounds."""
    metrics = [
        Metric("pii_masking", "patient_360", "note", "mobile", 3, "in text"),
        Metric("pii_masking", "patient_360", "note", "email", 0),
        Metric("quality_marts", "fct_visits", "", "row_count_drift", 0.5, "previous run 8 rows"),  # bound 0.5
        Metric("quality_marts", "seg_lifecycle", "", "row_count_drift", 0.51, "previous run 9 rows"),
        Metric("quality_raw", "raw_his.visits", "", "row_count", 0),  # min_value 1
        Metric("quality_marts", "fct_visits", "", "row_count", 1),
    ]
    verdict = validate(metrics, load_suites())
    assert sorted(verdict.failures, key=lambda f: f.table) == [
        Failure("block", "pii_masking", "patient_360", "note", "mobile", 3.0, "in text"),
        Failure("warn", "quality_raw", "raw_his.visits", "", "row_count", 0.0),
        Failure("warn", "quality_marts", "seg_lifecycle", "", "row_count_drift", 0.51, "previous run 9 rows"),
    ]
    assert verdict.success[("pii_masking", "email")] is True


def test_verdict_follows_gx_semantics_of_the_suite_json(tmp_path: Path) -> None:
    """`mostly` in the suite JSON is GX's semantics (a share of the selected rows may fail):
    a reading of min/max alone would still fail these rows; GX's verdict is the gate's."""
    shutil.copytree(SUITES_DIR, tmp_path / "suites")
    path = tmp_path / "suites" / "quality_marts.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    [exp] = [e for e in doc["expectations"] if e["meta"]["check"] == "kpi_rate_range"]
    exp["kwargs"]["mostly"] = 0.5
    path.write_text(json.dumps(doc), encoding="utf-8")
    suites = load_suites(tmp_path / "suites")
    rate = "quality_marts", "kpi_retention"
    rates = [Metric(*rate, "a", "kpi_rate_range", 1), Metric(*rate, "b", "kpi_rate_range", 0),
             Metric(*rate, "c", "kpi_rate_range", 0)]  # fmt: skip
    assert validate(rates, suites).failures == []  # 2 of 3 rows within bounds: mostly 0.5 holds
    rates[1] = Metric(*rate, "b", "kpi_rate_range", 2)
    assert [(f.column, f.observed) for f in validate(rates, suites).failures] == [("a", 1.0), ("b", 2.0)]


def test_uncovered_metric_blocks() -> None:
    """A metric no expectation selects fails closed (a new check, or a suite with no JSON)."""
    metrics = [Metric("pii_masking", "patient_360", "note", "tax_number", 0), Metric("billing", "t", "c", "x", 0)]
    verdict = validate(metrics, load_suites())
    assert sorted(verdict.failures, key=lambda f: f.suite) == [
        Failure("block", "billing", "t", "c", "x", 0.0, "no expectation covers it"),
        Failure("block", "pii_masking", "patient_360", "note", "tax_number", 0.0, "no expectation covers it"),
    ]


def test_expectation_gx_cannot_evaluate_blocks() -> None:
    suites = load_suites()
    [exp] = [e for e in suites["quality_marts"] if e["meta"]["check"] == "row_count_drift"]  # a warn
    exp["kwargs"]["column"] = "no_such_column"
    failures = validate([Metric("quality_marts", "fct_visits", "", "row_count_drift", 0)], suites).failures
    assert failures == [Failure("block", "quality_marts", "*", "", "row_count_drift", 0,
                                "Great Expectations: not evaluated")]  # fmt: skip


def test_suite_whose_row_condition_disagrees_with_its_check_is_rejected(tmp_path: Path) -> None:
    doc = json.loads((SUITES_DIR / "pii_masking.json").read_text(encoding="utf-8"))
    doc["expectations"][0]["kwargs"]["row_condition"] = 'suite=="pii_masking" and check=="mobil"'
    (tmp_path / "pii_masking.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match="row_condition must be"):
        load_suites(tmp_path)


@pytest.mark.parametrize("spark_in_use", [False, True], ids=["without_pyspark", "pyspark_already_imported"])
def test_the_gate_process_survives_great_expectations_import_under_python_c(spark_in_use: bool) -> None:
    """pyspark (installed for the Spark target) ends a `python -c` process with exit 0 when GX
    probes Spark Connect: the gates import GX without it, also in a process that already imported
    pyspark (the Spark target's; a pytest-xdist worker after a Spark test), so it reports."""
    import subprocess
    import sys

    code = "from patient360.gates import gx_runner; gx_runner._import_gx(); print('gate process alive')"
    if spark_in_use:
        code = "import pyspark.sql; " + code
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "gate process alive" in run.stdout, run.stderr[-2000:]
