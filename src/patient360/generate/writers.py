"""Render tables in their contract's file format and write them (CSV/GBK, NDJSON, gzip)."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from patient360.contracts import Contract


def _numbers(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    arr = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    null = np.isnan(arr)
    return np.where(null, 0, arr), null


def _render(s: pd.Series, type_: str) -> np.ndarray:
    """One column as export text, vectorised (no Python call per value); '' = null."""
    t = type_.upper()
    if len(s) == 0:
        return np.array([], dtype=str)
    if t in ("TIMESTAMP", "TIMESTAMPTZ", "DATE"):  # local wall-clock time, no offset (the source's zone)
        unit = "D" if t == "DATE" else "s"
        arr = pd.to_datetime(s).to_numpy().astype(f"datetime64[{unit}]")
        text = np.char.replace(np.datetime_as_string(arr, unit=unit), "T", " ")  # type: ignore[call-overload]
        return np.where(np.isnat(arr), "", text)
    if t == "BOOLEAN":
        return s.map({True: "true", False: "false"}).fillna("").to_numpy().astype(str)
    if t.startswith("DECIMAL"):
        arr, null = _numbers(s)
        cents = np.round(np.abs(arr) * 100).astype(np.int64)
        sign = np.where(arr < 0, "-", "")
        text = np.char.add(np.char.add(sign, (cents // 100).astype(str)), ".")
        text = np.char.add(text, np.char.zfill((cents % 100).astype(str), 2))
        return np.where(null, "", text)
    if t in ("INTEGER", "BIGINT"):
        arr, null = _numbers(s)
        return np.where(null, "", arr.astype(np.int64).astype(str))
    if t == "DOUBLE":
        arr, null = _numbers(s)
        whole = arr == np.round(arr)
        text = np.where(whole, np.round(arr).astype(np.int64).astype(str), arr.astype(str))
        return np.where(null, "", text)
    obj = s.astype(object)
    return obj.where(obj.notna(), "").astype(str).to_numpy()


def to_strings(df: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Contract column order, every value rendered as the export writes it ('' = null)."""
    out = {}
    for col in contract.columns:
        s = df[col.name] if col.name in df else pd.Series([None] * len(df), index=df.index)
        out[col.name] = pd.Series(_render(s, col.type), dtype=object)
    return pd.DataFrame(out)


def render_csv(s: pd.DataFrame, malformed: set[int], extra_column: bool = False, header: bool = True) -> str:
    """CSV text of `s` (header line unless `header=False`: a later chunk of the same file)."""
    if extra_column:
        s = s.assign(remark="补录")
    buf = io.StringIO()
    s.to_csv(buf, index=False, header=header, lineterminator="\n")
    if not malformed:
        return buf.getvalue()
    lines = buf.getvalue().split("\n")
    first = 1 if header else 0
    for pos in malformed:
        # one field short: the classic truncated export line
        lines[pos + first] = lines[pos + first].rsplit(",", 1)[0]
    return "\n".join(lines)


def render_ndjson(s: pd.DataFrame, contract: Contract, malformed: set[int]) -> str:
    types = {c.name: c.type.upper() for c in contract.columns}
    out = []
    for pos, row in enumerate(s.itertuples(index=False)):
        rec: dict[str, object] = {}
        for name, value in zip(s.columns, row, strict=True):
            if value == "":
                rec[name] = None
            elif types[name] == "BOOLEAN":
                rec[name] = value == "true"
            elif types[name] in ("INTEGER", "BIGINT") and value.lstrip("-").isdigit():
                rec[name] = int(value)
            elif types[name].startswith("DECIMAL") or types[name] == "DOUBLE":
                try:
                    rec[name] = float(value)
                except ValueError:
                    rec[name] = value  # planted wrong type stays text
            else:
                rec[name] = value
        line = json.dumps(rec, ensure_ascii=False)
        out.append(line[: len(line) // 2] if pos in malformed else line)
    return "\n".join(out) + "\n"


def write_bytes(path: Path, data: bytes, gz: bool = False) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        data = gzip.compress(data, compresslevel=5, mtime=0)  # mtime=0: byte-identical reruns
    path.write_bytes(data)
    return len(data)


def copy_readings(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, path: Path) -> None:
    """DuckDB's CSV writer: fast, gzip, and deterministic with insertion order preserved."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute("SET enable_progress_bar = false")
    con.register("frame", frame)
    con.execute(
        "copy (select device_serial, vendor, metric, value, unit, strftime(measured_at, '%Y-%m-%d %H:%M:%S') "
        f"as measured_at from frame) to '{path}' (header, compression gzip)"
    )
    con.unregister("frame")
