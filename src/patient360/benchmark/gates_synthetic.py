"""`patient360 bench-gates`: run_gates on synthetic warehouses with a 100k and a 1M-row
patient_360 (plus a readings-like fact of 10 rows per person) built with DuckDB SQL.

The synthetic warehouse has no raw zone, so the raw-zone checks report audit_missing
(expected). Each size is built in one child process and measured in another (median of 3 runs,
peak RSS of the measuring process), so sizes are measured side by side in one run.

    .venv/bin/patient360 bench-gates [--sizes 100000 1000000] [--dir /tmp/bench_gates]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

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
      acquisition_channel: {privacy: none}
      primary_specialty: {privacy: none}
      lifecycle_stage: {privacy: none, accepted_values: [new, active, silent, churned]}
      visit_count: {privacy: none}
      total_spend: {privacy: none}
      latest_hba1c_pct: {privacy: sensitive}
      is_chronic: {privacy: sensitive}
      registered_date: {privacy: none, kind: event_date}
      last_active_date: {privacy: none, kind: event_date}
      as_of_date: {privacy: none, kind: event_date}
  fct_wearable_readings:
    columns:
      patient_key: {privacy: pseudonym}
      measured_date: {privacy: none, kind: event_date}
      metric: {privacy: none, accepted_values: [glucose, sbp, dbp, heart_rate, steps]}
      value: {privacy: sensitive}
      unit: {privacy: none}
"""

BUILD_SQL = """
CREATE SCHEMA restricted; CREATE SCHEMA marts;
CREATE TABLE people AS
SELECT i, sha256('k:' || i) AS patient_key,
       ['王','李','张','刘','陈','杨','黄','赵'][1 + i % 8]
         || ['伟','芳','娜','敏','静','丽','强','磊','军','洋'][1 + (i // 8) % 10]
         || ['华','明','英','平','红','刚'][1 + (i // 80) % 6] AS name,
       '13' || lpad(CAST(i AS VARCHAR), 9, '0') AS mobile,
       DATE '1940-01-01' + CAST(i % 25000 AS INTEGER) AS birth_date,
       'SN' || upper(substr(md5(CAST(i AS VARCHAR)), 1, 10)) AS device_serial
FROM range({n}) AS t(i);
CREATE TABLE restricted.person_identifiers AS
SELECT patient_key, 'person_name' AS identifier_type, name AS identifier_value FROM people
UNION ALL SELECT patient_key, 'mobile', mobile FROM people
UNION ALL SELECT patient_key, 'birth_date', CAST(birth_date AS VARCHAR) FROM people
UNION ALL SELECT patient_key, 'device_serial', device_serial FROM people
UNION ALL SELECT patient_key, 'mrn', 'MRN' || lpad(CAST(i AS VARCHAR), 8, '0') FROM people;
CREATE TABLE marts.patient_360 AS
SELECT patient_key,
       ['25-29','30-34','35-39','40-44','60-64','90+'][1 + i % 6] AS age_band, ['M','F'][1 + i % 2] AS gender,
       ['北京','上海','广州','成都','杭州'][1 + i % 5] AS city,
       ['北京','上海','广东','四川','浙江'][1 + i % 5] AS province,
       ['search','social','community'][1 + i % 3] AS acquisition_channel,
       ['endocrinology','cardiology','paediatrics'][1 + i % 3] AS primary_specialty,
       ['new','active','silent','churned'][1 + i % 4] AS lifecycle_stage,
       i % 20 AS visit_count, (i % 1000) * 1.5 AS total_spend, 5 + (i % 40) / 10.0 AS latest_hba1c_pct,
       i % 3 = 0 AS is_chronic, DATE '2024-01-01' + CAST(i % 600 AS INTEGER) AS registered_date,
       DATE '2026-10-01' + CAST(i % 30 AS INTEGER) AS last_active_date, DATE '2026-10-31' AS as_of_date
FROM people;
CREATE TABLE marts.fct_wearable_readings AS
SELECT patient_key, DATE '2026-10-01' + CAST(d AS INTEGER) AS measured_date,
       ['glucose','sbp','dbp','heart_rate','steps'][1 + (i + d) % 5] AS metric,
       50 + ((i * 7 + d * 13) % 1000) / 10.0 AS value, ['mmol/L','mmHg','bpm','steps'][1 + d % 4] AS unit
FROM people, range(10) AS r(d);
DROP TABLE people;
"""


def build(path: Path, n: int) -> None:
    import duckdb

    if path.exists():
        return
    con = duckdb.connect(str(path))
    con.execute(BUILD_SQL.format(n=n))
    con.close()


def measure(path: Path) -> dict:
    from patient360.gates import run_gates

    allow = path.parent / "bench_allowlist.yml"
    allow.write_text(ALLOWLIST, encoding="utf-8")
    times = []
    for _ in range(3):
        started = time.perf_counter()
        outcome = run_gates(path, data_docs_dir=path.parent / f"gx_{path.stem}", allowlist=allow)
        times.append(time.perf_counter() - started)
    return {
        "median_s": statistics.median(times),
        "runs_s": [round(t, 2) for t in times],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "blocking_failures": sorted({f.check for f in outcome.blocking}),
        "checks": outcome.checks_run,
    }


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench_gates"))
    # the child processes' roles (internal: `python -m patient360 bench-gates --build ...`)
    ap.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("-n", type=int, help=argparse.SUPPRESS)


def _child(*args: str) -> list[str]:
    """This benchmark in a child process (its own peak RSS), through the CLI."""
    return [sys.executable, "-m", "patient360", "bench-gates", *args]


def run(args: argparse.Namespace) -> int:
    if args.build:
        build(args.build, args.n)
        return 0
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    args.dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for n in args.sizes:
        path = args.dir / f"wh_{n}.duckdb"
        t0 = time.perf_counter()
        subprocess.run(_child("--build", str(path), "-n", str(n)), check=True)
        built = time.perf_counter() - t0
        out = subprocess.run(_child("--measure", str(path)), check=True, capture_output=True, text=True)
        results[n] = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"patient_360 {n:>9,} rows + readings {10 * n:>11,} rows: build {built:6.1f} s | run_gates median "
            f"{results[n]['median_s']:6.1f} s (runs {results[n]['runs_s']}) | peak RSS "
            f"{results[n]['peak_rss_mb']:7.0f} MB | {results[n]['checks']} checks, "
            f"blocking: {results[n]['blocking_failures']}",
            flush=True,
        )
    if len(results) > 1:
        small, large = min(results), max(results)
        print(f"time ratio {large // small}x rows: {results[large]['median_s'] / results[small]['median_s']:.1f}x")
    return 0
