"""`patient360 bench-land`: land_exports vs a bare DuckDB read of the same files, side by
side in one run.

    .venv/bin/patient360 bench-land [--rows 300000] [--repeat 5] [--exports DIR | --use-generator]

Without --exports it writes a synthetic set with DuckDB: wearable readings.csv.gz, crm
contacts.csv and consult sessions.ndjson, `--rows` rows each (readings carry ~0.1%
rule-breaking rows). `--use-generator` uses `patient360.generate` instead (`--rows`
patients, 1 day). With either folder, only files a bare DuckDB reader can read (UTF-8:
not the GBK HIS files) are compared; they are linked into a separate folder that both
sides read.

Each repetition lands into a fresh warehouse file and bare-reads into another fresh
file (`CREATE TABLE tN AS SELECT * FROM read_csv/read_json(file)`, auto-detected types;
landing lands typed columns too); both include connect and close (checkpoint). The
order alternates between repetitions. Reports medians, rows/s, the ratio land/bare and
landing's median seconds per phase (FileResult.phases, summed over files).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import duckdb

from patient360.benchmark.bare import comparable_files, reader_for
from patient360.land import land_exports

DAY = "2024-03-01"
TARGET = 1.5


def synth(root: Path, rows: int) -> None:
    con = duckdb.connect()
    w, c, s = (root / src / DAY for src in ("wearable", "crm", "consult"))
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
    con.execute(f"""COPY (SELECT 'S' || i AS session_id,
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
        con.execute(f"CREATE TABLE t{i} AS SELECT * FROM {reader_for(f)}('{f}')")
    con.close()


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--exports", type=Path, default=None, help="an existing exports folder")
    ap.add_argument("--rows", type=int, default=300_000, help="rows per synthetic file (patients with --use-generator)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--use-generator", action="store_true", help="generate with patient360.generate")


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="p360-bench-") as tmp:
        tmp_path = Path(tmp)
        source = args.exports
        if source is None:
            source = tmp_path / "source"
            if args.use_generator:
                from patient360.generate import generate_exports

                generate_exports(source, patients=args.rows, days=1, seed=1, progress=False)
            else:
                synth(source, args.rows)
        exports = tmp_path / "exports"
        files, skipped = comparable_files(source, exports)
        for note in skipped:
            print(f"  not compared (bare read fails): {note}")
        size = sum(f.stat().st_size for f in files)
        print(f"{len(files)} file(s), {size / 1e6:.1f} MB on disk")
        for f in files:  # warm the page cache so neither side pays the first read
            with f.open("rb") as fh:
                while fh.read(8 << 20):
                    pass
        t_land: list[float] = []
        t_bare: list[float] = []
        phases: dict[str, list[float]] = defaultdict(list)
        rows = 0
        for i in range(args.repeat):
            wh, bw = tmp_path / f"land{i}.duckdb", tmp_path / f"bare{i}.duckdb"
            for side in ("land", "bare") if i % 2 == 0 else ("bare", "land"):
                t0 = time.perf_counter()
                if side == "land":
                    report = land_exports(exports, wh)
                    t_land.append(time.perf_counter() - t0)
                    rows = report.totals()["rows_read"]
                    assert report.ok, report.render()
                    per: dict[str, float] = defaultdict(float)
                    for fr in report.files:
                        for k, v in fr.phases.items():
                            per[k] += v
                    for k, v in per.items():
                        phases[k].append(v)
                else:
                    bare(files, bw)
                    t_bare.append(time.perf_counter() - t0)
            wh.unlink()
            bw.unlink()
        ml, mb = statistics.median(t_land), statistics.median(t_bare)
        print(f"rows read by landing: {rows:,} ({len(files)} files), {args.repeat} repetitions")
        print(f"land_exports : median {ml:.2f}s  {rows / ml:>12,.0f} rows/s  runs {[round(t, 2) for t in t_land]}")
        print(f"bare read    : median {mb:.2f}s  {rows / mb:>12,.0f} rows/s  runs {[round(t, 2) for t in t_bare]}")
        print(
            "landing phases (median s, all files): "
            + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in phases.items())
        )
        print(f"ratio land/bare: {ml / mb:.2f}x (target <= {TARGET}x)")
    return 0
