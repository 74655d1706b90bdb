"""Recognise a file's format by its content: the one place that decides what a file is.

Order: a vendor adapter whose signature matches the file's first lines (adapters/); else
the contract whose `file_glob` matches the name; else the source's contract whose columns
the CSV header (names or declared aliases) or the first NDJSON record's keys cover (every
required column present; the most columns matched wins). Otherwise the file is
unrecognised, and the message lists what the source accepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from patient360.contracts import Contract, contracts_for, get_contract
from patient360.land.adapters import Adapter, all_adapters, header_of
from patient360.land.files import ExportFile, Inspection
from patient360.land.stage import canonical_header
from patient360.land.zones import zone_for


@dataclass(frozen=True)
class Format:
    name: str  # audit.file_loads.file_format: csv | ndjson | a vendor format name
    contract: Contract  # the table it lands into
    time_zone: str
    adapter: Adapter | None = None  # None: a native contract file
    delimiter: str = ","

    def accepts(self, encoding: str | None) -> bool:
        """Is the detected encoding allowed? GBK admits GB18030 (its superset); a UTF-16
        byte-order mark is unambiguous Unicode, accepted wherever UTF-8 is."""
        allowed = set(self.adapter.encodings if self.adapter else self.contract.encodings)
        if "gbk" in allowed:
            allowed.add("gb18030")
        if "utf-8" in allowed:
            allowed.add("utf-16")
        return encoding in allowed

    @property
    def encodings(self) -> tuple[str, ...]:
        return self.adapter.encodings if self.adapter else self.contract.encodings


def _native(ef: ExportFile, contract: Contract, delimiter: str = ",") -> Format:
    zone = zone_for(ef.source, f"{contract.source}.{contract.table}", contract.time_zone)
    return Format(contract.format, contract, zone, delimiter=delimiter)


def _by_header(ef: ExportFile, lines: list[str]) -> tuple[Contract | None, str]:
    first = lines[0] if lines else ""
    delim = "\t" if "\t" in first and "," not in first else ","
    if first.lstrip().startswith("{"):
        try:
            names, fmt = list(json.loads(first)), "ndjson"
        except (ValueError, TypeError):
            return None, delim
    else:
        names, fmt = header_of(first.replace("\t", ",") if delim == "\t" else first), "csv"
    best: tuple[int, Contract | None] = (0, None)
    for c in contracts_for(ef.source):
        have = set(canonical_header(c, names))
        if c.format == fmt and set(c.required_columns) <= have:
            best = max(best, (len(have & set(c.column_names)), c), key=lambda t: t[0])
    return best[1], delim


def detect(ef: ExportFile, info: Inspection) -> Format | None:
    lines = info.head_lines()
    for adapter in all_adapters():
        if adapter.source == ef.source and adapter.matches(lines):
            zone = zone_for(ef.source, adapter.name, adapter.time_zone)
            return Format(adapter.name, get_contract(adapter.source, adapter.table), zone, adapter)
    first = lines[0] if lines else ""
    delim = "\t" if "\t" in first and "," not in first else ","
    if ef.contract is not None:
        return _native(ef, ef.contract, delim)
    contract, delim = _by_header(ef, lines)
    return _native(ef, contract, delim) if contract else None


def accepted(source: str) -> str:
    """What `source`'s partition accepts, for the message that rejects an unrecognised file."""
    native = [f"{c.file_glob} ({c.format} with the {c.table} columns)" for c in contracts_for(source)]
    vendor = [a.description for a in all_adapters() if a.source == source]
    return "; ".join(native + vendor)
