"""Point-in-time correctness (docs/metrics.md "Point in time"): a snapshot for as-of date D built on
the full history equals the one built on the exports truncated at D (only partitions <= D). Every
segment snapshot for D and every KPI table must be identical, row for row.

One thing legitimately differs: the pseudonym. patient_key is the keyed hash of a person's best
identifier, and a record landed after D (an HIS registration carrying an ID number) can improve it.
Identity resolution lives in the restricted zone and is not a snapshot; the test maps the truncated
build's keys to the full build's through the source records both know, requires that map to be
one-to-one, and then requires identical tables."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from patient360.dbt_runner import run_dbt
from patient360.pipeline import stage_land

pytestmark = pytest.mark.slow

GENERATION = {"patients": 300, "days": 10, "seed": 23, "dirt_rate": 0.0}
SEGMENTS = [
    "seg_lifecycle",
    "seg_rfm_value",
    "seg_need_type",
    "seg_community_activity",
    "seg_disease_programme",
    "seg_special_groups",
    "seg_churn_risk",
    "seg_points_level",
    "seg_data_richness",
    "seg_priority_quadrant",
]
KPIS = [
    "kpi_retention",
    "kpi_engagement",
    "kpi_channel_funnel",
    "kpi_channel_economics",
    "kpi_acquisition_cohorts",
    "kpi_budget_tiers",
    "kpi_consult_response",
    "kpi_nps",
    "kpi_chronic_control",
    "kpi_medication_adherence",
    "kpi_recall_winback",
    "kpi_community",
    "kpi_community_winback",
    "kpi_ltv_by_segment",
    "kpi_churn_reasons",
    "kpi_specialty",
    "kpi_prescription_time",
]


@pytest.fixture(scope="module")
def full_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from patient360.generate import generate_exports

    out = tmp_path_factory.mktemp("pit_exports")
    generate_exports(out_dir=out, progress=False, **GENERATION)
    return out


def _truncate(exports: Path, as_of: date, out: Path) -> Path:
    """A copy of the export folder keeping only the daily partitions dated on or before as_of."""
    for source in exports.iterdir():
        if source.name.startswith("_"):
            continue
        for partition in source.iterdir():
            if date.fromisoformat(partition.name) <= as_of:
                shutil.copytree(partition, out / source.name / partition.name)
    return out


def _build(exports: Path, root: Path, as_of: date) -> Path:
    warehouse = root / "patient360.duckdb"
    stage_land(exports, warehouse)
    run_dbt(
        ["build", "--exclude-resource-type", "unit_test", "--exclude-resource-type", "test"],
        warehouse,
        as_of=as_of.isoformat(),
        target_dir=root / "target",
    )
    return warehouse


def _table(warehouse: Path, name: str, as_of: date) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        where = f"where as_of_date = date '{as_of}'" if name.startswith("seg_") else ""
        df = con.execute(f"select * from marts.{name} {where}").df()
    finally:
        con.close()
    return df.sort_values(list(df.columns), kind="stable", na_position="first").reset_index(drop=True)


def _key_map(full: Path, truncated: Path) -> dict[str, str]:
    """Truncated-build patient_key -> full-build patient_key, through the source records both link."""
    con = duckdb.connect(str(truncated), read_only=True)
    try:
        con.execute(f"attach '{full}' as full_wh (read_only)")
        pairs = con.execute(
            "select distinct t.patient_key, f.patient_key from restricted.identity_links as t "
            "inner join full_wh.restricted.identity_links as f "
            "on t.source = f.source and t.source_record_id = f.source_record_id"
        ).fetchall()
    finally:
        con.close()
    mapping = dict(pairs)
    assert len(mapping) == len(pairs), "a truncated-build person is split across full-build keys"
    assert len(set(mapping.values())) == len(mapping), "full-build keys merge truncated-build people"
    return mapping


def _window_start(exports: Path) -> date:
    return min(date.fromisoformat(p.name) for p in (exports / "his").iterdir())


@pytest.mark.parametrize("offset_days", [2, 6])
def test_snapshot_on_full_history_equals_snapshot_on_truncated_exports(full_exports, tmp_path, offset_days):
    as_of = _window_start(full_exports) + timedelta(days=offset_days)
    full = _build(full_exports, tmp_path / "full", as_of)
    truncated = _build(_truncate(full_exports, as_of, tmp_path / "cut"), tmp_path / "truncated", as_of)
    keys = _key_map(full, truncated)
    different = []
    for name in SEGMENTS + KPIS:
        a, b = _table(full, name, as_of), _table(truncated, name, as_of)
        if "patient_key" in b.columns:
            b["patient_key"] = b["patient_key"].map(keys)
            b = b.sort_values(list(b.columns), kind="stable", na_position="first").reset_index(drop=True)
        assert len(a) > 0 or name in ("kpi_budget_tiers",), f"{name} is empty as of {as_of}"
        try:
            pd.testing.assert_frame_equal(a, b, check_dtype=False)
        except AssertionError as err:
            different.append(f"{name}: {str(err).splitlines()[0:3]}")
    assert not different, f"as of {as_of}, the full history leaks into: {different}"
