"""What a gate run returns: failures as names and counts, never values."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from patient360.gates.k_anonymity import ReleaseRisk


@dataclass(frozen=True)
class Failure:
    severity: str  # block | warn
    suite: str
    table: str
    column: str
    check: str  # the check or PII type
    observed: float  # a row count (or a measure such as a drift ratio or lag in days)
    detail: str = ""  # the rule, never a data value

    def line(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        obs = int(self.observed) if float(self.observed).is_integer() else round(self.observed, 3)
        text = f"{self.severity.upper():<5} {self.suite:<14} {where:<48} {self.check:<22} rows={obs}"
        return f"{text}  ({self.detail})" if self.detail else text


@dataclass
class GateOutcome:
    failures: list[Failure] = field(default_factory=list)
    data_docs_index: Path | None = None
    results_path: Path | None = None  # our own JSON summary of the run (names and counts)
    checks_run: int = 0
    seconds: float = 0.0
    # Great Expectations' success per (suite, check) expectation; `failures` are read from the same results
    gx_success: dict[tuple[str, str], bool | None] = field(default_factory=dict)
    risk: ReleaseRisk | None = None  # the release's measured re-identification risk (k_anonymity)
    # every metric the suites judged, by name: (suite, table, column, check); for the evidence page
    checked: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(f.severity == "block" for f in self.failures)

    @property
    def blocking(self) -> list[Failure]:
        return [f for f in self.failures if f.severity == "block"]

    def render(self) -> str:
        n_block = len(self.blocking)
        head = (
            f"gates {'PASSED' if self.passed else 'FAILED'}: {self.checks_run} checks, {n_block} blocking, "
            f"{len(self.failures) - n_block} warnings ({self.seconds:.1f} s)"
        )
        order = sorted(self.failures, key=lambda f: (f.severity != "block", f.suite, f.table, f.column, f.check))
        lines = [head, *(f.line() for f in order)]
        if self.data_docs_index:
            lines.append(f"Data Docs: {self.data_docs_index}")
        return "\n".join(lines)
