"""What a landing run did, per file, for humans (render) and code (ok, files)."""

from __future__ import annotations

from dataclasses import dataclass, field

FAILED_STATUSES = frozenset({"failed", "rejected"})


@dataclass
class FileResult:
    source: str
    table: str | None
    file: str  # relative to the exports folder
    status: str  # audit statuses, plus 'already_landed' (skipped, nothing written)
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    file_version: int | None = None
    encoding: str | None = None
    checksum: str | None = None
    error: str | None = None
    warning: str | None = None
    duplicate_of: str | None = None
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per landing phase

    def log_line(self) -> str:
        text = (
            f"{self.file}: {self.status} (read={self.rows_read} landed={self.rows_landed} "
            f"quarantined={self.rows_quarantined}"
            + (f" version={self.file_version}" if self.file_version else "")
            + f", {self.seconds:.2f}s)"
        )
        if self.error:
            text += f" error: {self.error}"
        if self.warning:
            text += f" warning: {self.warning}"
        return text


@dataclass
class LandingReport:
    load_id: str
    files: list[FileResult] = field(default_factory=list)
    # partition folders asked for (a --date / a scheduled day) that do not exist: the export
    # did not arrive. An existing empty folder is an export with no rows, not a missing one.
    missing_partitions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """False when any file failed or was rejected; quarantined rows alone are fine."""
        return not any(f.status in FAILED_STATUSES for f in self.files)

    def problems(self) -> list[str]:
        """One line per rejected or failed file (unrecognised files say what is accepted):
        what `land` and `run` both print, so a user sees the same outcome either way."""
        return [f"{f.status}: {f.file}: {f.error}" for f in self.files if f.status in FAILED_STATUSES]

    @property
    def complete(self) -> bool:
        """Every partition asked for was there."""
        return not self.missing_partitions

    def totals(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "rows_read": sum(f.rows_read for f in self.files),
            "rows_landed": sum(f.rows_landed for f in self.files),
            "rows_quarantined": sum(f.rows_quarantined for f in self.files),
        }

    def render(self) -> str:
        head = ("source", "table", "file", "read", "landed", "quarantined", "status", "error / warning")
        rows = [
            (
                f.source,
                f.table or "-",
                f.file,
                str(f.rows_read),
                str(f.rows_landed),
                str(f.rows_quarantined),
                f.status,
                "; ".join(x for x in (f.error, f.warning) if x),
            )
            for f in self.files
        ]
        t = self.totals()
        rows.append(
            (
                "",
                "",
                "TOTAL",
                str(t["rows_read"]),
                str(t["rows_landed"]),
                str(t["rows_quarantined"]),
                "ok" if self.ok else "FAILED",
                "",
            )
        )
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
        lines = [f"landing {self.load_id}: {t['files']} file(s)"]
        for r in [head, *rows]:
            lines.append(
                "  ".join(
                    c.ljust(w) if i < 3 or i >= 6 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(r[:-1], widths, strict=True))
                )
                + "  "
                + r[-1]
            )
        lines += self.problems()
        lines += [
            f"missing partition: {m} (the export did not arrive; nothing landed for it)"
            for m in self.missing_partitions
        ]
        return "\n".join(line.rstrip() for line in lines)
