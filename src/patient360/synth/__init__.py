"""Synthetic HIS / CRM / consult / wearable exports with ground truth.

    generate_exports(out_dir, patients, days, seed, end_date=None, dirt_rate=None, progress=True)

Writes `DIR/<source>/<YYYY-MM-DD>/<table>.<ext>` for the `days` partitions ending at
`end_date` (default a fixed date, so a seed always gives byte-identical files), and
`DIR/_truth/` (identity.csv, persons.csv, dirt.csv, manifest.json). The first partition
is a full export that also carries HISTORY_DAYS of history; later partitions carry
that day's new and changed records. Dirt (defects the landing must quarantine) is
planted at `dirt_rate` per kind and listed in `_truth/dirt.csv`; `dirt_rate=0` is clean.
Wearable readings are generated and written one day at a time, so memory stays bounded.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from tqdm import tqdm

from patient360 import __version__
from patient360.contracts import all_contracts, get_contract
from patient360.synth import activity, crm_activity, records
from patient360.synth import identifiers as ids
from patient360.synth import output as out
from patient360.synth.params import DEFAULT_DIRT_RATE, DEFAULT_END_DATE, HISTORY_DAYS
from patient360.synth.population import DAY, Timeline, build_persons
from patient360.synth.readings import ReadingsModel

__all__ = ["DEFAULT_END_DATE", "GenerateSummary", "generate_exports"]

GBK_SOURCES = {"his"}
HISTORY_CHUNK_ROWS = 5_000_000
PARTITION_COLUMN = {
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


@dataclass
class GenerateSummary:
    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    seconds: float = 0.0
    dirt: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def __str__(self) -> str:
        lines = [
            f"generated {self.total_rows:,} rows in {self.files} files into {self.out_dir} "
            f"in {self.seconds:.1f} s ({self.total_rows / max(self.seconds, 1e-9):,.0f} rows/s); "
            f"{self.dirt} planted defects listed in _truth/dirt.csv"
        ]
        lines += [f"  {name:<28} {n:>12,}" for name, n in sorted(self.rows.items())]
        return "\n".join(lines)


def _versioned(df: pd.DataFrame, start_col: str, end_col: str) -> pd.DataFrame:
    """A row re-exported when it ends (left a group, device unbound): first version without the end."""
    first = df.assign(**{end_col: pd.NaT}).assign(_version_at=df[start_col])
    ended = df[df[end_col].notna()].assign(_version_at=df[end_col])
    return pd.concat([first, ended], ignore_index=True)


def generate_exports(
    out_dir: Path,
    patients: int,
    days: int,
    seed: int,
    end_date: date | None = None,
    dirt_rate: float | None = None,
    progress: bool = True,
) -> GenerateSummary:
    if patients < 1 or days < 1:
        raise ValueError("patients and days must be at least 1")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    end = np.datetime64(end_date or DEFAULT_END_DATE, "D")
    tl = Timeline(end=end, window_start=end - (days - 1) * DAY, history_start=end - (days - 1 + HISTORY_DAYS) * DAY)
    rate = DEFAULT_DIRT_RATE if dirt_rate is None else dirt_rate
    rng = np.random.default_rng(seed)
    summary = GenerateSummary(out_dir=out_dir)

    steps = tqdm(total=7 + days, desc="generate", unit="step", disable=not progress)
    persons = build_persons(rng, patients, tl)
    campaigns = records.build_campaigns(rng, tl)
    persons["campaign_id"] = records.assign_campaigns(persons, campaigns)
    steps.update()
    his = records.build_his_patients(rng, persons, tl)
    contacts = records.build_crm_contacts(rng, persons, tl)
    consult = records.build_consult_users(rng, persons, his)
    sessions = activity.consult_sessions(rng, persons, consult, tl)
    sessions["mobile"] = ids.format_mobiles(rng, sessions["mobile"].to_numpy().astype(str))
    bindings = records.build_bindings(rng, persons, consult, tl, set(sessions["platform_user_id"]))
    steps.update()
    tables: dict[tuple[str, str], pd.DataFrame] = {}
    tables[("his", "patients")] = his
    tables.update({("his", k): v for k, v in activity.his_activity(rng, persons, his, tl).items()})
    steps.update()
    tables[("consult", "sessions")] = sessions
    steps.update()
    tables[("crm", "contacts")] = contacts
    tables[("crm", "campaigns")] = campaigns
    tables[("crm", "campaign_stats")] = crm_activity.campaign_stats(rng, campaigns, contacts, his, tl)
    community = crm_activity.community(rng, persons, contacts, tl)
    community["group_memberships"] = _versioned(community["group_memberships"], "joined_at", "left_at")
    tables.update({("crm", k): v for k, v in community.items()})
    tables[("wearable", "device_bindings")] = _versioned(bindings, "bound_at", "unbound_at")
    steps.update()

    dirt = out.DirtLog()
    parts = [tl.window_start + i * DAY for i in range(days)]
    last = parts[-1]
    for (source, table), df in tables.items():
        col = PARTITION_COLUMN[table]
        when = pd.to_datetime(df[col]).to_numpy().astype("datetime64[D]")
        tables[(source, table)] = df.assign(_part=np.clip(when, tl.window_start, tl.end))
    steps.update()

    readings = ReadingsModel(seed, bindings, persons)
    con = duckdb.connect()
    for day_index, part in enumerate(parts):
        day_dir = str(part)
        for contract in all_contracts():
            key = (contract.source, contract.table)
            if key == ("wearable", "readings"):
                continue
            df = tables[key]
            rows = df[df["_part"] == part]
            if rows.empty and not (rate > 0 and part == last):
                continue  # exporters write no file for a table without changes that day
            sort_col = PARTITION_COLUMN[contract.table]
            rows = rows.sort_values([sort_col, contract.primary_key[0]], kind="stable")
            rel = f"{contract.source}/{day_dir}/{contract.table}.{'ndjson' if contract.format == 'ndjson' else 'csv'}"
            s = out.to_strings(rows, contract)
            header = 0 if contract.format == "ndjson" else 1
            s, malformed = out.plant_row_dirt(
                rng, s, contract.source, contract.table, rel, rate, force=part == last, log=dirt, header_lines=header
            )
            extra = rate > 0 and part == last and key == ("crm", "campaign_stats")
            if extra:
                dirt.add(
                    "extra_column",
                    "crm",
                    "campaign_stats",
                    rel,
                    None,
                    "remark",
                    "file:extra_column",
                    "extra trailing column remark; rows otherwise valid",
                )
            text = (
                out.render_ndjson(s, contract, malformed)
                if contract.format == "ndjson"
                else out.render_csv(s, malformed, extra)
            )
            data = text.encode("gbk" if contract.source in GBK_SOURCES else "utf-8")
            out.write_bytes(out_dir / rel, data)
            summary.files += 1
            summary.rows[f"{contract.source}.{contract.table}"] = summary.rows.get(
                f"{contract.source}.{contract.table}", 0
            ) + len(s)
            if rate > 0 and part == last and key == ("his", "visits"):
                dup = f"his/{day_dir}/visits_resend.csv"
                out.write_bytes(out_dir / dup, data)
                dirt.add(
                    "duplicate_file", "his", "visits", dup, None, None, "file:duplicate_file", f"same bytes as {rel}"
                )
                summary.files += 1
        # wearable readings: the window day, and for the first partition the history too,
        # accumulated into files of at most HISTORY_CHUNK_ROWS rows (bounded memory)
        if day_index == 0:
            chunk, chunk_rows, chunk_no = [], 0, 0
            for k in range(HISTORY_DAYS):
                d = tl.history_start + k * DAY
                frame = readings.day(d, k)
                chunk.append(frame)
                chunk_rows += len(frame)
                if chunk_rows >= HISTORY_CHUNK_ROWS or k == HISTORY_DAYS - 1:
                    chunk_no += 1
                    rel = f"wearable/{day_dir}/readings_history_{chunk_no:03d}.csv.gz"
                    _copy_readings(con, pd.concat(chunk, ignore_index=True), out_dir / rel)
                    summary.rows["wearable.readings"] = summary.rows.get("wearable.readings", 0) + chunk_rows
                    summary.files += 1
                    chunk, chunk_rows = [], 0
        frame = readings.day(part, int((part - tl.history_start) / DAY))
        rel = f"wearable/{day_dir}/readings.csv.gz"
        summary.rows["wearable.readings"] = summary.rows.get("wearable.readings", 0) + len(frame)
        summary.files += 1
        if rate > 0 and part == last:
            contract = get_contract("wearable", "readings")
            s = out.to_strings(frame, contract)
            s, _ = out.plant_row_dirt(rng, s, "wearable", "readings", rel, rate, True, dirt, 1)
            out.write_bytes(out_dir / rel, out.render_csv(s, set()).encode(), gz=True)
            late = f"wearable/{day_dir}/readings_late.csv.gz"
            whole = gzip.compress(out.render_csv(s.head(200), set()).encode(), mtime=0)
            out.write_bytes(out_dir / late, whole[: len(whole) // 2])
            dirt.add(
                "truncated_gzip",
                "wearable",
                "readings",
                late,
                None,
                None,
                "file:truncated_gzip",
                "gzip stream cut in half (a re-send of rows also in readings.csv.gz)",
            )
            summary.files += 1
        else:
            _copy_readings(con, frame, out_dir / rel)
        if rate > 0 and part == last:
            empty = f"crm/{day_dir}/referrals_late.csv"
            out.write_bytes(out_dir / empty, b"")
            dirt.add("empty_file", "crm", "referrals", empty, None, None, "file:empty_file", "zero bytes")
            summary.files += 1
        steps.update()
    con.close()

    truth = out_dir / "_truth"
    truth.mkdir(parents=True, exist_ok=True)
    records.identity_truth(his, contacts, consult, bindings).to_csv(truth / "identity.csv", index=False)
    _persons_truth(persons).to_csv(truth / "persons.csv", index=False)
    dirt_frame = dirt.frame()
    dirt_frame.to_csv(truth / "dirt.csv", index=False)
    summary.dirt = len(dirt_frame)
    summary.seconds = time.perf_counter() - started
    manifest = {
        "generator": "patient360.synth",
        "version": __version__,
        "parameters": {
            "patients": patients,
            "days": days,
            "seed": seed,
            "end_date": str(end),
            "window_start": str(tl.window_start),
            "history_start": str(tl.history_start),
            "dirt_rate": rate,
        },
        "rows": summary.rows,
        "files": summary.files,
        "planted_defects": summary.dirt,
    }
    (truth / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    steps.update()
    steps.close()
    return summary


def _copy_readings(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, path: Path) -> None:
    """DuckDB's CSV writer: fast, gzip, and deterministic with insertion order preserved."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con.register("frame", frame)
    con.execute(
        "copy (select device_serial, vendor, metric, value, unit, strftime(measured_at, '%Y-%m-%d %H:%M:%S') "
        f"as measured_at from frame) to '{path}' (header, compression gzip)"
    )
    con.unregister("frame")


def _persons_truth(persons: pd.DataFrame) -> pd.DataFrame:
    conditions = ["diabetes", "gestational_diabetes", "hypertension", "copd", "oncology"]
    chronic = persons[[f"has_{c}" for c in conditions]].apply(
        lambda r: ";".join(c for c, flag in zip(conditions, r, strict=True) if flag), axis=1
    )
    return pd.DataFrame(
        {
            "person_id": persons["person_id"],
            "birth_date": persons["birth_date"],
            "age": persons["age"],
            "gender": np.where(persons["male"], "M", "F"),
            "city": persons["city"],
            "province": persons["province"],
            "chronic_conditions": chronic,
            "acquisition_channel": np.where(persons["has_crm"], persons["channel"], ""),
            "campaign_id": persons["campaign_id"],
            "marketing_consent": persons["consent"] & ~persons["withdraws"],
            "registered_date": persons["registered"],
            "active_to": persons["active_to"],
            "churner": persons["churner"],
            "need_type": persons["need_type"],
            "medication_adherent": persons["adherent"],
            "has_his": persons["has_his"],
            "has_crm": persons["has_crm"],
            "has_consult": persons["has_consult"],
            "has_wearable": persons["has_wearable"],
        }
    )
