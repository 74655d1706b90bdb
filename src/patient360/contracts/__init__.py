"""Machine-readable source contracts: one YAML per source table.

Both the synthetic generator and the landing code read these; there is no second
definition of a source table anywhere in the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from patient360.yaml_files import load_yaml

CONTRACT_DIR = Path(__file__).parent
SOURCES: tuple[str, ...] = ("his", "crm", "consult", "wearable")
PII_CLASSES = frozenset({"direct", "quasi", "pseudonym", "sensitive", "none"})
# The zone a source's local times are read in unless its contract (or P360_TIME_ZONES) says otherwise.
DEFAULT_TIME_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    pii: str  # privacy class, always explicit: a forgotten class must not read as `none`
    required: bool = False
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    not_future: bool = False
    not_before: str | None = None  # plausibility: an ISO date no value may precede
    aliases: tuple[str, ...] = ()  # other header names the column is exported under (HIS: 姓名)
    value_aliases: tuple[tuple[str, str], ...] = ()  # exported value -> contract value (男 -> M)
    description: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """Every header name this column is recognised by, the contract name first."""
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Check:
    name: str
    sql: str


@dataclass(frozen=True)
class Contract:
    source: str
    table: str
    description: str
    format: str
    encodings: tuple[str, ...]
    file_glob: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    checks: tuple[Check, ...] = field(default=())
    time_zone: str = DEFAULT_TIME_ZONE  # zone of local (offset-less) times in the source's files
    local_date_of: str | None = None  # the timestamp column whose local date is stored as _local_date

    @property
    def raw_table(self) -> str:
        return f"raw_{self.source}.{self.table}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.source}.{self.table} has no column {name!r}")


class ContractError(ValueError):
    """A contract file is malformed."""


def _pii_class(path: Path, column: dict) -> str:
    pii = column.get("pii")
    if pii is None:
        raise ContractError(
            f"{path}: column {column['name']}: no `pii` class; declare one of {'|'.join(sorted(PII_CLASSES))}"
        )
    if pii not in PII_CLASSES:
        raise ContractError(f"{path}: column {column['name']}: unknown pii class {pii!r}")
    return pii


def load_contract(path: Path) -> Contract:
    """Parse and check one contract file (`<source>/<table>.yml`)."""
    doc = load_yaml(path)
    cols = []
    for c in doc["columns"]:
        allowed = c.get("allowed")
        col = Column(
            name=c["name"],
            type=c["type"],
            pii=_pii_class(path, c),
            required=bool(c.get("required", False)),
            allowed=tuple(str(a) for a in allowed) if allowed else None,
            pattern=c.get("pattern"),
            min=c.get("min"),
            max=c.get("max"),
            not_future=bool(c.get("not_future", False)),
            not_before=str(c["not_before"]) if c.get("not_before") else None,
            aliases=tuple(c.get("aliases", ())),
            value_aliases=tuple((str(k), str(v)) for k, v in (c.get("value_aliases") or {}).items()),
            description=c.get("description", ""),
        )
        cols.append(col)
    contract = Contract(
        source=doc["source"],
        table=doc["table"],
        description=doc.get("description", ""),
        format=doc["format"],
        encodings=tuple(doc.get("encodings", ["utf-8"])),
        file_glob=doc["file_glob"],
        primary_key=tuple(doc["primary_key"]),
        columns=tuple(cols),
        checks=tuple(Check(**ch) for ch in doc.get("checks", [])),
        time_zone=doc.get("time_zone", DEFAULT_TIME_ZONE),
        local_date_of=doc.get("local_date_of"),
    )
    if contract.local_date_of is not None and contract.local_date_of not in contract.column_names:
        raise ContractError(f"{path}: local_date_of names no column: {contract.local_date_of}")
    if contract.source != path.parent.name or contract.table != path.stem:
        raise ContractError(f"{path}: source/table must match its folder/file name")
    return contract


@cache
def all_contracts() -> tuple[Contract, ...]:
    """Every contract, ordered by source then table."""
    paths = sorted(CONTRACT_DIR.glob("*/*.yml"), key=lambda p: (SOURCES.index(p.parent.name), p.stem))
    return tuple(load_contract(p) for p in paths)


def contracts_for(source: str) -> list[Contract]:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    return [c for c in all_contracts() if c.source == source]


def get_contract(source: str, table: str) -> Contract:
    for c in all_contracts():
        if c.source == source and c.table == table:
            return c
    raise KeyError(f"no contract for {source}.{table}")
