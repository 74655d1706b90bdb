"""Oracle tests: KPIs recomputed independently in pandas from the generator's truth
(_truth/acquisitions.csv, _truth/persons.csv) and the raw export files, compared with the marts.

Tolerances are stated per check: the marts see the data through identity resolution (a few people
split or merged) and planted dirt is off here, so acquisition counts agree within 5 % per channel
and shares within a few points. Calibration targets (docs/business_rules.md "Channels and their
economics", "Population mix") are checked on the same data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from patient360.pipeline import stage_land, stage_transform

pytestmark = pytest.mark.slow

GENERATION = {"patients": 2000, "days": 5, "seed": 42, "dirt_rate": 0.0}


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from patient360.generate import generate_exports

    root = tmp_path_factory.mktemp("oracle")
    exports = root / "exports"
    generate_exports(out_dir=exports, progress=False, **GENERATION)
    warehouse = root / "patient360.duckdb"
    stage_land(exports, warehouse)
    stage_transform(warehouse, target_dir=root / "target")
    return exports, warehouse


def _sql(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _spend_by_channel(exports: Path) -> pd.Series:
    stats = pd.concat([pd.read_csv(f) for f in sorted(exports.glob("crm/*/campaign_stats.csv"))])
    campaigns = pd.concat([pd.read_csv(f) for f in sorted(exports.glob("crm/*/campaigns.csv"))])
    channel = campaigns.drop_duplicates("campaign_id").set_index("campaign_id")["channel"]
    stats = stats.drop_duplicates(["campaign_id", "stat_date"], keep="last")
    return stats.groupby(stats["campaign_id"].map(channel))["spend"].sum()


def test_acquisitions_and_cac_per_channel_match_the_truth(oracle):
    exports, warehouse = oracle
    truth = pd.read_csv(exports / "_truth" / "acquisitions.csv")
    expected_n = truth["channel"].fillna("organic").value_counts()
    spend = _spend_by_channel(exports)
    mart = _sql(
        warehouse,
        "select channel, sum(acquired_patients) as n, sum(spend) as spend "
        "from marts.kpi_channel_economics where campaign_id = '(all)' group by channel",
    ).set_index("channel")
    for channel, n in expected_n.items():
        got = int(mart.loc[channel, "n"])
        assert abs(got - n) <= max(2, 0.05 * n), f"{channel}: {got} acquired in the mart, {n} in the truth"
    for channel in spend.index:
        cac_truth = spend[channel] / expected_n[channel]
        cac_mart = float(mart.loc[channel, "spend"]) / float(mart.loc[channel, "n"])
        assert cac_mart == pytest.approx(cac_truth, rel=0.05), channel
        assert cac_mart <= 800, f"{channel}: CAC {cac_mart:.0f} above the 800-yuan target"


def test_cohort_roi_follows_the_field_per_channel(oracle):
    """90-day ROI over all mature cohorts: outdoor ads about 1:2, community groups about 1:8 (+-25 %)."""
    _, warehouse = oracle
    roi = _sql(
        warehouse,
        "select channel, sum(horizon_revenue) / sum(spend) as roi from marts.kpi_acquisition_cohorts "
        "where campaign_id = '(all)' and horizon_days = 90 and is_mature and spend > 0 group by channel",
    ).set_index("channel")["roi"]
    assert float(roi["outdoor_ads"]) == pytest.approx(2.0, rel=0.25)
    assert float(roi["community_group"]) == pytest.approx(8.0, rel=0.25)


def test_adherence_and_health_management_share_match_the_truth(oracle):
    exports, warehouse = oracle
    persons = pd.read_csv(exports / "_truth" / "persons.csv", keep_default_na=False)
    chronic = persons[persons["chronic_conditions"] != ""]
    truth_adherent = (chronic["medication_adherent"].astype(str) == "True").mean()
    mart = _sql(
        warehouse,
        "select adherent_share from marts.kpi_medication_adherence "
        "where programme = 'all_chronic' and window_days = 90",
    )["adherent_share"].iloc[0]
    assert truth_adherent == pytest.approx(0.35, abs=0.05)  # the generator's field figure
    assert mart == pytest.approx(truth_adherent, abs=0.08), "PDC-measured adherence strays from the truth"
    share = _sql(
        warehouse,
        "select avg((need_type = 'health_management')::int) as s from marts.patient_360 where need_type <> 'unknown'",
    )["s"].iloc[0]
    served = persons[persons["has_his"].astype(str) == "True"]
    truth_share = (served["need_type"] == "health_management").mean()
    assert share == pytest.approx(truth_share, abs=0.06)
