"""Measure identity resolution against the generator's ground truth (pairwise precision
and recall over the source records present in both)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd


@dataclass(frozen=True)
class IdentityScore:
    precision: float
    recall: float
    records: int
    true_pairs: int
    found_pairs: int

    def __str__(self) -> str:
        return (
            f"identity resolution over {self.records:,} records: pairwise precision {self.precision:.4f}, "
            f"recall {self.recall:.4f} ({self.true_pairs:,} true pairs, {self.found_pairs:,} found)"
        )


def _pairs(groups: pd.Series) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for members in groups:
        out.update(itertools.combinations(sorted(members), 2))
    return out


def score_identity(warehouse: Path, exports: Path) -> IdentityScore:
    truth = pd.read_csv(Path(exports) / "_truth" / "identity.csv", dtype=str)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        links = con.execute("select source, source_record_id, patient_key from restricted.identity_links").df()
    finally:
        con.close()
    truth["rec"] = truth.source + "|" + truth.source_record_id
    links["rec"] = links.source + "|" + links.source_record_id
    common = set(truth.rec) & set(links.rec)
    true_pairs = _pairs(truth[truth.rec.isin(common)].groupby("person_id")["rec"].apply(list))
    found_pairs = _pairs(links[links.rec.isin(common)].groupby("patient_key")["rec"].apply(list))
    hits = len(true_pairs & found_pairs)
    return IdentityScore(
        precision=hits / len(found_pairs) if found_pairs else 1.0,
        recall=hits / len(true_pairs) if true_pairs else 1.0,
        records=len(common),
        true_pairs=len(true_pairs),
        found_pairs=len(found_pairs),
    )
