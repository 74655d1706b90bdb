"""The patient_360 aggregation written the way many teams would write it instead of dbt:
load the inputs into pandas, group and merge.

Same inputs and the same rules as the dbt models `int_patient__service_summary` and
`patient_360` (the per-person service facts from the event spine, then one row per
person joined with demographics, clinical, CRM facts and the current segment snapshots),
so the benchmark can time both and check that they agree column by column.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd

from patient360.dbt_vars import dbt_var
from patient360.warehouse import one


def _service_summary(events: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    e = events[events["event_date"] <= as_of]
    service = e[e["is_service"]]
    spec = e.dropna(subset=["specialty"]).groupby(["patient_key", "specialty"]).size().rename("n").reset_index()
    # most frequent specialty, ties to the alphabetically first (the SQL's row_number order)
    spec = spec.sort_values(["patient_key", "n", "specialty"], ascending=[True, False, True])
    primary = spec.drop_duplicates("patient_key").set_index("patient_key")["specialty"]
    kind = e["event_type"]
    flags = pd.DataFrame(
        {
            "patient_key": e["patient_key"],
            "visit": kind.str.match(r"visit.").astype(int),  # SQL: like 'visit_%'
            "consult": (kind == "consult_completed").astype(int),
            "prescription": (kind == "prescription").astype(int),
        }
    )
    out = pd.DataFrame(
        {
            "first_service_date": service.groupby("patient_key")["event_date"].min(),
            "last_service_date": service.groupby("patient_key")["event_date"].max(),
            "visit_count": flags.groupby("patient_key")["visit"].sum(),
            "consult_count": flags.groupby("patient_key")["consult"].sum(),
            "prescription_count": flags.groupby("patient_key")["prescription"].sum(),
            "total_revenue": e.groupby("patient_key")["revenue"].sum().round(2),
            "primary_specialty": primary,
        }
    )
    return out.rename_axis("patient_key").reset_index()


def _month(dates: pd.Series) -> pd.Series:
    """Person-tied dates are published as their month (docs/deidentification.md)."""
    return pd.to_datetime(dates).dt.to_period("M").dt.to_timestamp().dt.date


def _period_start(period: object):
    """'2025-03' / '2025-Q2' / '2025' -> the date it starts on; None for unknown/suppressed."""
    text = str(period) if isinstance(period, str) else ""
    if len(text) == 7 and text[4:6] == "-Q":
        return date(int(text[:4]), int(text[6]) * 3 - 2, 1)
    if len(text) == 7 and text[4] == "-":
        return date(int(text[:4]), int(text[5:]), 1)
    return date(int(text), 1, 1) if len(text) == 4 and text.isdigit() else None


def _band_bounds(band: object) -> tuple[int, int] | None:
    text = str(band) if isinstance(band, str) else ""
    if text == "90+":
        return 90, 200
    parts = text.split("-")
    return (int(parts[0]), int(parts[1])) if len(parts) == 2 and all(p.isdigit() for p in parts) else None


def _band_at_least(band: object, years: int) -> bool | None:
    """is_elderly from the published band: None when the band straddles the threshold."""
    b = _band_bounds(band)
    if b is None:
        return None
    return True if b[0] >= years else (False if b[1] < years else None)


def _band_at_most(band: object, years: int) -> bool | None:
    b = _band_bounds(band)
    if b is None:
        return None
    return True if b[1] <= years else (False if b[0] > years else None)


def _snapshot(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], as_of, programme: str | None = None):
    df = con.execute(f"select * from marts.{table}").df()
    df = df[df["as_of_date"] == as_of]
    if programme:
        df = df[df["programme"] == programme]
    return df[["patient_key", *columns]]


def build_patient_360(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """patient_360 computed in pandas from the warehouse's intermediate and segment tables."""
    as_of = pd.Timestamp(one(con.execute("select as_of_date from intermediate.int_run__as_of"))[0])
    events = con.execute("select * from intermediate.int_patient__events").df()
    events["event_date"] = pd.to_datetime(events["event_date"])
    events["revenue"] = events["revenue"].astype(float)
    svc = _service_summary(events, as_of)
    del events
    active = con.execute(
        "select patient_key, max(activity_date) as last_active_date "
        "from intermediate.int_patient__activity_days group by patient_key"
    ).df()
    svc = svc.merge(active, on="patient_key", how="left")

    people = con.execute("select * from intermediate.int_patient__demographics").df()
    people = people[["patient_key", "has_medical_record"]]
    quasi = con.execute("select * from intermediate.int_patient__kanon_quasi").df()
    clin = con.execute("select * from intermediate.int_patient__clinical").df()
    crm = con.execute("select * from intermediate.int_patient__crm").df()

    df = people.merge(
        quasi[["patient_key", "age_band", "gender", "city", "province", "registered_period"]], on="patient_key"
    )
    df = df.merge(svc, on="patient_key", how="left")
    df = df.merge(clin, on="patient_key", how="left", suffixes=("", "_clin"))
    df = df.merge(crm, on="patient_key", how="left", suffixes=("", "_crm"))
    segments = [
        ("seg_lifecycle", ["lifecycle_stage", "community_lifecycle_stage"], None, {}),
        ("seg_rfm_value", ["value_tier", "rfm_score"], None, {}),
        ("seg_need_type", ["need_type"], None, {}),
        ("seg_community_activity", ["community_activity_tier"], None, {}),
        ("seg_disease_programme", ["programme_stage"], "diabetes", {"programme_stage": "diabetes_stage"}),
        ("seg_disease_programme", ["programme_stage"], "oncology", {"programme_stage": "oncology_stage"}),
        ("seg_churn_risk", ["churn_risk_level", "churn_risk_reasons"], None, {}),
        ("seg_points_level", ["points_level"], None, {}),
    ]
    for table, columns, programme, rename in segments:
        df = df.merge(
            _snapshot(con, table, columns, as_of, programme).rename(columns=rename), on="patient_key", how="left"
        )

    def flag(col: str) -> pd.Series:
        return df[col].astype("boolean").fillna(False).astype(bool)

    def count(col: str) -> pd.Series:
        return df[col].fillna(0).astype("int64")

    sbp, dbp = df["latest_sbp"], df["latest_dbp"]
    has_bp = sbp.notna() & dbp.notna()
    bp_ok = (sbp < dbt_var("sbp_target_mmhg")) & (dbp < dbt_var("dbp_target_mmhg"))
    return pd.DataFrame(
        {
            "patient_key": df["patient_key"],
            "age_band": df["age_band"],
            "gender": df["gender"],
            "city": df["city"],
            "province": df["province"],
            "acquisition_channel": df["acquisition_channel"],
            "acquisition_campaign_id": df["acquisition_campaign_id"],
            "registered_period": df["registered_period"],
            "registered_date": df["registered_period"].map(_period_start),
            "first_service_date": _month(df["first_service_date"]),
            "last_service_date": _month(df["last_service_date"]),
            "last_active_date": _month(df["last_active_date"]),
            "visit_count": count("visit_count"),
            "consult_count": count("consult_count"),
            "prescription_count": count("prescription_count"),
            "total_spend": df["total_revenue"].fillna(0.0).round(2),
            "primary_specialty": df["primary_specialty"],
            "is_chronic": flag("is_chronic"),
            "has_diabetes": flag("has_diabetes"),
            "has_hypertension": flag("has_hypertension"),
            "has_copd": flag("has_copd"),
            "has_oncology": flag("has_oncology"),
            "chronic_programmes": df["programmes"],
            "latest_hba1c_pct": df["latest_hba1c_pct"],
            "hba1c_controlled": df["hba1c_controlled"],
            "latest_glucose_mmol": df["latest_glucose_mmol"],
            "latest_sbp": sbp,
            "latest_dbp": dbp,
            "bp_controlled": pd.Series(np.where(has_bp, bp_ok, None), index=df.index, dtype="boolean"),
            "community_member": flag("community_member"),
            "points_balance": count("points_balance"),
            "referrals_made": count("referrals_made"),
            "latest_nps_score": df["latest_nps_score"],
            "marketing_consent": flag("marketing_consent"),
            "is_elderly": df["age_band"].map(lambda b: _band_at_least(b, dbt_var("elderly_min_age"))).astype("boolean"),
            "is_child": df["age_band"].map(lambda b: _band_at_most(b, dbt_var("child_max_age"))).astype("boolean"),
            "has_medical_record": df["has_medical_record"],
            "lifecycle_stage": df["lifecycle_stage"],
            "community_lifecycle_stage": df["community_lifecycle_stage"],
            "value_tier": df["value_tier"],
            "rfm_score": df["rfm_score"],
            "need_type": df["need_type"],
            "community_activity_tier": df["community_activity_tier"],
            "diabetes_stage": df["diabetes_stage"],
            "oncology_stage": df["oncology_stage"],
            "churn_risk_level": df["churn_risk_level"],
            "churn_risk_reasons": df["churn_risk_reasons"],
            "points_level": df["points_level"],
            "as_of_date": as_of.date(),
        }
    )


def compare(con: duckdb.DuckDBPyConnection, mart: str, pandas_parquet: str) -> list[str]:
    """Differences between the dbt mart and the pandas result, column by column (empty: equal).
    Numbers agree within half a cent; NULLs equal NULLs; rows are matched by patient_key."""
    cols = [c for (c,) in con.execute(f"select column_name from (describe {mart})").fetchall()]
    left = con.execute(f"select * from {mart} order by patient_key").df()
    right = con.execute("select * from read_parquet(?) order by patient_key", [pandas_parquet]).df()
    problems = []
    if len(left) != len(right):
        problems.append(f"row count: dbt {len(left)}, pandas {len(right)}")
        return problems
    if list(left["patient_key"]) != list(right["patient_key"]):
        return ["patient_key sets differ"]
    missing = [c for c in cols if c not in right.columns]
    if missing:
        return [f"pandas lacks columns {missing}"]
    for col in cols:
        a, b = left[col], right[col]
        both_null = a.isna().to_numpy() & b.isna().to_numpy()
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(a):
            same = np.isclose(a.astype(float), b.astype(float), atol=0.005, rtol=0) | both_null
        else:
            text_equal = a.astype("string") == b.astype("string")  # dates, flags and text alike
            same = text_equal.fillna(False).to_numpy(dtype=bool) | both_null
        bad = int((~same).sum())
        if bad:
            problems.append(f"{col}: {bad} rows differ")
    return problems
