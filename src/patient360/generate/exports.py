"""Orchestration: build the population and every source table, then write the dated
partitions one day at a time, plant dirt and write the ground truth."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from tqdm import tqdm

from patient360 import __version__
from patient360.contracts import SOURCES, Contract, all_contracts, get_contract
from patient360.generate import acquisition, community, consult, crm, his, truth, wearable, writers
from patient360.generate import dirt as dirt_mod
from patient360.generate import identifiers as ids
from patient360.generate.events import DAY, Timeline
from patient360.generate.params import (
    DEFAULT_DIRT_RATE,
    DEFAULT_END_DATE,
    DEFAULT_HR_PER_DAY,
    HISTORY_DAYS,
    MAX_DIRT_RATE,
)
from patient360.generate.population import build_persons

GBK_SOURCES = {"his"}  # the HIS exporter writes GBK (first encoding of its contracts)
HISTORY_CHUNK_ROWS = 5_000_000  # readings history is written in files of at most this many rows
EXPORT_CHUNK_ROWS = 500_000  # other tables are rendered and written this many rows at a time
PARTITION_COLUMN = {  # the time that puts a record version into a daily partition
    "patients": "updated_at",
    "visits": "started_at",
    "diagnoses": "diagnosed_at",
    "prescriptions": "prescribed_at",
    "lab_results": "collected_at",
    "payments": "paid_at",
    "contacts": "updated_at",
    "campaigns": "start_date",
    "campaign_stats": "stat_date",
    "community_groups": "created_at",
    "group_memberships": "_version_at",
    "points_ledger": "occurred_at",
    "referrals": "referred_at",
    "nps_responses": "answered_at",
    "message_events": "occurred_at",
    "sessions": "requested_at",
    "device_bindings": "_version_at",
}
# File-level dirt: (kind, source, table, file name in the partition).
EXTRA_COLUMN_TABLE = ("crm", "campaign_stats")
DUPLICATE_FILE = ("his", "visits", "visits_resend.csv")
EMPTY_FILE = ("crm", "referrals", "referrals_late.csv")
TRUNCATED_GZIP = ("wearable", "readings", "readings_late.csv.gz")


@dataclass
class GenerateSummary:
    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)  # relative path -> data rows
    seconds: float = 0  # wall-clock time of the run
    dirt: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def add(self, rel: str, source: str, table: str, rows: int) -> None:
        self.files[rel] = rows
        key = f"{source}.{table}"
        self.rows[key] = self.rows.get(key, 0) + rows

    def __str__(self) -> str:
        rate = self.total_rows / self.seconds if self.seconds > 0 else 0
        lines = [
            f"generated {self.total_rows:,} rows in {len(self.files)} files into {self.out_dir} "
            f"in {self.seconds:.1f} s ({rate:,.0f} rows/s); {self.dirt} planted defects in _truth/dirt.csv"
        ]
        lines += [f"  {name:<28} {n:>13,}" for name, n in sorted(self.rows.items())]
        return "\n".join(lines)


def _versioned(df: pd.DataFrame, start_col: str, end_col: str) -> pd.DataFrame:
    """A row is re-exported when it ends (left a group, device unbound): first version without the end."""
    first = df.assign(**{end_col: pd.NaT}).assign(_version_at=df[start_col])
    ended = df[df[end_col].notna()].assign(_version_at=df[end_col])
    return pd.concat([first, ended], ignore_index=True)


def _partitioned(df: pd.DataFrame, col: str, tl: Timeline) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows sorted by partition day (history goes to the first), with each day's start offset."""
    when = pd.to_datetime(df[col]).to_numpy().astype("datetime64[D]")
    part = np.clip(when, tl.window_start, tl.end)
    order = np.lexsort((np.arange(len(df)), part))  # stable
    df = df.iloc[order].reset_index(drop=True)
    days = tl.window_start + np.arange(int((tl.end - tl.window_start) / DAY) + 2) * DAY
    return df, np.searchsorted(part[order], days)


def build_tables(rng: np.random.Generator, patients: int, tl: Timeline) -> tuple[dict, dict]:
    """Every source table except readings, plus what the truth and readings need."""
    persons = build_persons(rng, patients, tl)
    campaigns = crm.build_campaigns(rng, tl)
    persons["campaign_id"] = crm.assign_campaigns(persons, campaigns)
    his_patients = his.build_his_patients(rng, persons, tl)
    contacts = crm.build_crm_contacts(rng, persons, tl)
    users = consult.build_consult_users(rng, persons, his_patients)
    sessions = consult.consult_sessions(rng, persons, users, tl)
    sessions["mobile"] = ids.format_mobiles(rng, sessions["mobile"].to_numpy().astype(str))
    active_users = set(sessions["platform_user_id"])
    bindings = wearable.build_bindings(rng, persons, users, tl, active_users)
    tables: dict[tuple[str, str], pd.DataFrame] = {("his", "patients"): his_patients}
    tables.update({("his", k): v for k, v in his.his_activity(rng, persons, his_patients, tl).items()})
    tables[("consult", "sessions")] = sessions
    tables[("crm", "contacts")] = contacts
    tables[("crm", "campaigns")] = campaigns
    paid = acquisition.paid_days(his_patients, tables[("his", "payments")], sessions, users)
    acquired = acquisition.acquisitions(contacts, paid)
    spend = acquisition.campaign_spend(campaigns, acquired)
    tables[("crm", "campaign_stats")] = crm.campaign_stats(rng, campaigns, contacts, spend, tl)
    groups = community.community(rng, persons, contacts, tl)
    groups["group_memberships"] = _versioned(groups["group_memberships"], "joined_at", "left_at")
    tables.update({("crm", k): v for k, v in groups.items()})
    tables[("wearable", "device_bindings")] = _versioned(bindings, "bound_at", "unbound_at")
    context = {
        "persons": persons,
        "his": his_patients,
        "contacts": contacts,
        "consult_users": users[users["platform_user_id"].isin(active_users)],
        "bindings": bindings,
        "acquisitions": acquired,
    }
    return tables, context


def _file_name(contract: Contract) -> str:
    return f"{contract.table}.{'ndjson' if contract.format == 'ndjson' else 'csv'}"


def generate_exports(
    out_dir: Path,
    patients: int,
    days: int,
    seed: int,
    end_date: date | None = None,
    dirt_rate: float | None = None,
    progress: bool = True,
    history_days: int = HISTORY_DAYS,
    hr_per_day: int = DEFAULT_HR_PER_DAY,
) -> GenerateSummary:
    """Write `days` dated partitions ending at `end_date` plus `_truth/`; see the package docstring.

    history_days: days of history the first (full) partition carries before the window.
    hr_per_day: heart-rate samples a band syncs per device-day (wearable volume knob).
    """
    rate = _checked_rate(patients, days, history_days, hr_per_day, dirt_rate)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    end = np.datetime64(end_date or DEFAULT_END_DATE, "D")
    tl = Timeline(end=end, window_start=end - (days - 1) * DAY, history_start=end - (days - 1 + history_days) * DAY)
    rng = np.random.default_rng(seed)  # one generator, drawn in a fixed order: a seed fixes every byte
    summary = GenerateSummary(out_dir=out_dir)
    steps = tqdm(total=2 + days, desc="generate", unit="step", disable=not progress)

    tables, ctx = build_tables(rng, patients, tl)
    parts = {key: _partitioned(df, PARTITION_COLUMN[key[1]], tl) for key, df in tables.items()}
    steps.update()

    # Row dirt goes into the first (full) and last partitions; file-level dirt into the second
    # day when there are three or more, so that day's regular files stay clean.
    file_dirt_day = 1 if days >= 3 else days - 1
    row_dirt_days = {0, days - 1} - ({file_dirt_day} if days > 1 else set())
    log = dirt_mod.DirtLog()
    readings = wearable.ReadingsModel(seed, ctx["bindings"], ctx["persons"], hr_per_day=hr_per_day)
    con = duckdb.connect()
    for k in range(days):
        row_dirt = rate > 0 and k in row_dirt_days
        file_dirt = rate > 0 and k == file_dirt_day
        # Every source's partition folder exists, even on a day it exported no rows: an empty
        # folder is an export that ran, a missing one is an export that did not arrive.
        for source in SOURCES:
            (out_dir / source / str(tl.window_start + k * DAY)).mkdir(parents=True, exist_ok=True)
        _write_partition(out_dir, parts, tl, k, rng, log, summary, rate if row_dirt else 0, file_dirt)
        _write_readings(con, readings, tl, k, out_dir, summary, log, rng, rate, row_dirt)
        if file_dirt:
            _plant_file_dirt(readings, tl, k, out_dir, summary, log)
        steps.update()
    con.close()

    summary.dirt = _write_truth(out_dir / "_truth", ctx, log)
    summary.seconds = time.perf_counter() - started
    run = {"patients": patients, "days": days, "seed": seed}
    knobs = {"history_days": history_days, "hr_per_day": hr_per_day, "dirt_rate": rate}
    _write_manifest(out_dir / "_truth" / "manifest.json", summary, tl, run, knobs)
    steps.update()
    steps.close()
    return summary


def _checked_rate(patients: int, days: int, history_days: int, hr_per_day: int, dirt_rate: float | None) -> float:
    """Validate the size arguments; the dirt rate to use."""
    if patients < 1 or days < 1:
        raise ValueError("patients and days must be at least 1")
    if history_days < 1 or hr_per_day < 1:
        raise ValueError("history_days and hr_per_day must be at least 1")
    rate = DEFAULT_DIRT_RATE if dirt_rate is None else float(dirt_rate)
    if not 0 <= rate < MAX_DIRT_RATE:
        raise ValueError(f"dirt_rate must be in [0, {MAX_DIRT_RATE}), got {rate}")
    return rate


def _write_partition(out_dir: Path, parts: dict, tl: Timeline, k: int, rng, log, summary, row_rate, file_dirt) -> None:
    """Day k's file of every table but readings (none for a table without changes that day),
    with row dirt at `row_rate` and, when `file_dirt`, the extra column and duplicate file."""
    day_dir = str(tl.window_start + k * DAY)
    for contract in all_contracts():
        key = (contract.source, contract.table)
        if key == ("wearable", "readings"):
            continue
        df, offsets = parts[key]
        rows = df.iloc[offsets[k] : offsets[k + 1]]
        if rows.empty:
            continue  # exporters write no file for a table without changes that day
        rel = f"{contract.source}/{day_dir}/{_file_name(contract)}"
        extra = file_dirt and key == EXTRA_COLUMN_TABLE
        if extra:
            log.add(
                "extra_column",
                *EXTRA_COLUMN_TABLE,
                rel,
                None,
                "remark",
                "file:extra_column",
                "extra trailing column remark",
            )
        written = _write_table(out_dir / rel, rows, contract, rng, log, 0 if extra else row_rate, extra)
        summary.add(rel, contract.source, contract.table, written)
        if file_dirt and key == DUPLICATE_FILE[:2]:
            dup = f"his/{day_dir}/{DUPLICATE_FILE[2]}"
            shutil.copyfile(out_dir / rel, out_dir / dup)
            log.add(
                "duplicate_file", *DUPLICATE_FILE[:2], dup, None, None, "file:duplicate_file", f"same bytes as {rel}"
            )
            summary.add(dup, *DUPLICATE_FILE[:2], written)


def _write_truth(truth_dir: Path, ctx: dict, log: dirt_mod.DirtLog) -> int:
    """identity.csv, persons.csv and dirt.csv; returns the number of planted defects."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    identity = truth.identity_truth(ctx["his"], ctx["contacts"], ctx["consult_users"], ctx["bindings"])
    identity.to_csv(truth_dir / "identity.csv", index=False, lineterminator="\n")
    truth.persons_truth(ctx["persons"]).to_csv(truth_dir / "persons.csv", index=False, lineterminator="\n")
    ctx["acquisitions"].to_csv(truth_dir / "acquisitions.csv", index=False, lineterminator="\n")
    dirt_frame = log.frame()
    dirt_frame.to_csv(truth_dir / "dirt.csv", index=False, lineterminator="\n")
    return len(dirt_frame)


def _write_manifest(path: Path, summary: GenerateSummary, tl: Timeline, run: dict, knobs: dict) -> None:
    """manifest.json: run (patients, days, seed), the timeline, knobs (history_days, hr_per_day, dirt_rate)."""
    dates = {"end_date": str(tl.end), "window_start": str(tl.window_start), "history_start": str(tl.history_start)}
    manifest = {
        "generator": "patient360.generate",
        "version": __version__,
        "parameters": {**run, **dates, **knobs},
        "rows": dict(sorted(summary.rows.items())),
        "files": dict(sorted(summary.files.items())),
        "planted_defects": summary.dirt,
    }  # no timings: the manifest is byte-identical for a seed
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _write_table(path: Path, rows: pd.DataFrame, contract: Contract, rng, log, rate: float, extra: bool) -> int:
    """Render and write one export file in chunks of EXPORT_CHUNK_ROWS rows, planting row dirt
    at `rate` per chunk (line numbers logged file-wide), so that the text of a 10M-row first
    partition is never all in memory at once. Returns the data rows written."""
    encoding = "gbk" if contract.source in GBK_SOURCES else "utf-8"
    rel = path.relative_to(path.parents[2]).as_posix()
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("wb") as fh:
        for start in range(0, len(rows), EXPORT_CHUNK_ROWS):
            s = writers.to_strings(rows.iloc[start : start + EXPORT_CHUNK_ROWS], contract)
            malformed: set[int] = set()
            if rate > 0:
                before = written + (0 if contract.format == "ndjson" else 1)  # lines above this chunk
                s, malformed = dirt_mod.plant_row_dirt(rng, s, contract.source, contract.table, rel, rate, log, before)
            if contract.format == "ndjson":
                text = writers.render_ndjson(s, contract, malformed)
            else:
                text = writers.render_csv(s, malformed, extra, header=start == 0)
            fh.write(text.encode(encoding))
            written += len(s)
    return written


def _write_readings(con, readings, tl, k, out_dir, summary, log, rng, rate, row_dirt) -> None:
    """The day's readings; the first partition also carries the history, in bounded chunks."""
    part = tl.window_start + k * DAY
    day_dir = str(part)
    history_days = int((tl.window_start - tl.history_start) / DAY)
    if k == 0:
        chunk, chunk_rows, chunk_no = [], 0, 0
        for h in range(history_days):
            frame = readings.day(tl.history_start + h * DAY, h)
            chunk.append(frame)
            chunk_rows += len(frame)
            if chunk_rows >= HISTORY_CHUNK_ROWS or h == history_days - 1:
                chunk_no += 1
                rel = f"wearable/{day_dir}/readings_history_{chunk_no:03d}.csv.gz"
                writers.copy_readings(con, pd.concat(chunk, ignore_index=True), out_dir / rel)
                summary.add(rel, "wearable", "readings", chunk_rows)
                chunk, chunk_rows = [], 0
    frame = readings.day(part, history_days + k)
    rel = f"wearable/{day_dir}/readings.csv.gz"
    if row_dirt:
        contract = get_contract("wearable", "readings")
        s = writers.to_strings(frame, contract)
        s, _ = dirt_mod.plant_row_dirt(rng, s, "wearable", "readings", rel, rate, log, 1)
        writers.write_bytes(out_dir / rel, writers.render_csv(s, set()).encode(), gz=True)
        summary.add(rel, "wearable", "readings", len(s))
    else:
        writers.copy_readings(con, frame, out_dir / rel)
        summary.add(rel, "wearable", "readings", len(frame))


def _plant_file_dirt(readings, tl, k, out_dir, summary, log) -> None:
    day_dir = str(tl.window_start + k * DAY)
    contract = get_contract("wearable", "readings")
    late = f"wearable/{day_dir}/{TRUNCATED_GZIP[2]}"
    history_days = int((tl.window_start - tl.history_start) / DAY)
    s = writers.to_strings(readings.day(tl.window_start + k * DAY, history_days + k).head(200), contract)
    whole = gzip.compress(writers.render_csv(s, set()).encode(), mtime=0)
    writers.write_bytes(out_dir / late, whole[: len(whole) // 2])
    log.add("truncated_gzip", *TRUNCATED_GZIP[:2], late, None, None, "file:truncated_gzip", "gzip stream cut in half")
    summary.add(late, *TRUNCATED_GZIP[:2], 0)
    empty = f"crm/{day_dir}/{EMPTY_FILE[2]}"
    writers.write_bytes(out_dir / empty, b"")
    log.add("empty_file", *EMPTY_FILE[:2], empty, None, None, "file:empty_file", "zero bytes")
    summary.add(empty, *EMPTY_FILE[:2], 0)
