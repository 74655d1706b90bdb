"""Benchmark: land_exports vs a bare DuckDB read of the same files, side by side in one run.

    python scripts/bench_land.py [--exports DIR] [--rows 1000000] [--repeat 3]

Without --exports it writes a synthetic set with DuckDB (wearable readings.csv.gz,
crm contacts.csv, consult sessions.ndjson, ~`--rows` rows each minus a little dirt), or
uses the project generator when `patient360.generate` is importable and --use-generator
is given. Each repetition lands into a fresh warehouse file; "bare" is
`CREATE TABLE AS SELECT * FROM read_csv/read_json(file)` per file into a fresh file.
Reports medians, the ratio land/bare and rows/s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from patient360.land import land_exports
from patient360.land.files import discover

DAY = "2024-03-01"


def synth(root: Path, rows: int) -> None:
    con = duckdb.connect()
    w = root / "wearable" / DAY
    c = root / "crm" / DAY
    s = root / "consult" / DAY
    for d in (w, c, s):
        d.mkdir(parents=True, exist_ok=True)
    con.execute(f"""COPY (SELECT 'DEV-' || lpad(CAST(i % 5000 AS VARCHAR), 6, '0') AS device_serial,
            ['omron', 'yuwell', 'huawei'][i % 3 + 1] AS vendor,
            CASE WHEN i % 997 = 0 THEN 'glucose' ELSE 'heart_rate' END AS metric,
            CASE WHEN i % 997 = 0 THEN 99 ELSE 60 + i % 50 END AS value,
            CASE WHEN i % 997 = 0 THEN 'mmol/L' ELSE 'bpm' END AS unit,
            strftime(TIMESTAMP '2024-02-01' + to_seconds(i), '%Y-%m-%d %H:%M:%S') AS measured_at
        FROM range({rows}) t(i)) TO '{w / "readings.csv.gz"}' (HEADER, COMPRESSION gzip)""")
    con.execute(f"""COPY (SELECT 'C' || lpad(CAST(i AS VARCHAR), 9, '0') AS contact_id,
            '139' || lpad(CAST(i AS VARCHAR), 8, '0') AS mobile, '王' || (i % 100) AS name,
            NULL AS wechat_openid, NULL AS wechat_unionid, 'search' AS source_channel, 'CMP1' AS campaign_id,
            strftime(TIMESTAMP '2023-01-01' + to_seconds(i), '%Y-%m-%d %H:%M:%S') AS created_at,
            CASE WHEN i % 2 = 0 THEN 'true' ELSE 'false' END AS marketing_consent,
            strftime(TIMESTAMP '2023-01-01' + to_seconds(i), '%Y-%m-%d %H:%M:%S') AS consent_at,
            NULL AS consent_withdrawn_at,
            strftime(TIMESTAMP '2023-06-01' + to_seconds(i), '%Y-%m-%d %H:%M:%S') AS updated_at
        FROM range({rows}) t(i)) TO '{c / "contacts.csv"}' (HEADER)""")
    con.execute(f"""COPY (SELECT 'S' || i AS session_id,   # noqa: E501
            'U' || lpad(CAST(i AS VARCHAR), 9, '0') AS platform_user_id,
            'D' || (i % 300) AS doctor_id, 'endocrinology' AS specialty, 'text' AS consult_type,
            'routine' AS urgency,
            strftime(TIMESTAMP '2024-01-01' + to_seconds(i), '%Y-%m-%d %H:%M:%S') AS requested_at,
            'completed' AS status, 29.9 AS fee, 1 + i % 5 AS rating, i % 3 = 0 AS prescription_issued,
            FALSE AS offline_referral
        FROM range({rows}) t(i)) TO '{s / "sessions.ndjson"}' (FORMAT json)""")
    con.close()


def bare(files: list[Path], warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse))
    for i, f in enumerate(files):
        reader = "read_json" if ".ndjson" in f.name else "read_csv"
        con.execute(f"CREATE TABLE t{i} AS SELECT * FROM {reader}('{f}')")
    con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exports", type=Path, default=None)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--use-generator", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="p360-bench-") as tmp:
        tmp_path = Path(tmp)
        exports = args.exports
        if exports is None:
            exports = tmp_path / "exports"
            if args.use_generator:
                from patient360.generate import generate_exports

                generate_exports(exports, patients=args.rows, days=3, seed=1, progress=False)
            else:
                synth(exports, args.rows)
        files = [ef.path for ef in discover(exports) if ef.contract is not None and ef.vendor_format is None]
        size = sum(f.stat().st_size for f in files)
        print(f"{len(files)} file(s), {size / 1e6:.1f} MB on disk, from {exports}")
        t_land, t_bare, rows = [], [], 0
        for i in range(args.repeat):
            wh = tmp_path / f"land{i}.duckdb"
            t0 = time.perf_counter()
            report = land_exports(exports, wh)
            t_land.append(time.perf_counter() - t0)
            rows = report.totals()["rows_read"]
            t0 = time.perf_counter()
            bare(files, tmp_path / f"bare{i}.duckdb")
            t_bare.append(time.perf_counter() - t0)
            (tmp_path / f"land{i}.duckdb").unlink()
            (tmp_path / f"bare{i}.duckdb").unlink()
        ml, mb = statistics.median(t_land), statistics.median(t_bare)
        print(f"rows read by landing: {rows:,}")
        print(
            f"land_exports : median {ml:.2f}s  ({rows / ml:,.0f} rows/s)  runs {[round(t, 2) for t in t_land]}"  # noqa: E501
        )
        print(
            f"bare read    : median {mb:.2f}s  ({rows / mb:,.0f} rows/s)  runs {[round(t, 2) for t in t_bare]}"  # noqa: E501
        )
        print(f"ratio land/bare: {ml / mb:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
