"""Ground truth written to DIR/_truth: identity links and true person attributes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patient360.generate import params as P

CONDITIONS = ["diabetes", "gestational_diabetes", "hypertension", "copd", "oncology"]


def identity_truth(
    his: pd.DataFrame, contacts: pd.DataFrame, consult_users: pd.DataFrame, bindings: pd.DataFrame
) -> pd.DataFrame:
    """One row per source record present in the exports (record versions collapse to one)."""
    parts = [
        pd.DataFrame({"source": "his", "source_record_id": his["mrn"], "person_id": his["person_id"]}),
        pd.DataFrame({"source": "crm", "source_record_id": contacts["contact_id"], "person_id": contacts["person_id"]}),
        pd.DataFrame(
            {
                "source": "consult",
                "source_record_id": consult_users["platform_user_id"],
                "person_id": consult_users["person_id"],
            }
        ),
        pd.DataFrame(
            {"source": "wearable", "source_record_id": bindings["binding_id"], "person_id": bindings["person_id"]}
        ),
    ]
    out = pd.concat(parts, ignore_index=True).drop_duplicates()
    if out.duplicated(["source", "source_record_id"]).any():
        raise AssertionError("a source record id belongs to two persons")
    return out.sort_values(["source", "source_record_id"], kind="stable").reset_index(drop=True)


def _age_band(age: np.ndarray) -> np.ndarray:
    edges = [b[0] for b in P.AGE_BANDS]
    return np.array([b[1] for b in P.AGE_BANDS])[np.searchsorted(edges, age, side="right") - 1]


def persons_truth(persons: pd.DataFrame) -> pd.DataFrame:
    chronic = pd.Series("", index=persons.index)
    for c in CONDITIONS:
        flag = persons[f"has_{c}"].to_numpy()
        chronic = chronic.where(~flag, chronic + np.where(chronic == "", "", ";") + c)
    return pd.DataFrame(
        {
            "person_id": persons["person_id"],
            "birth_date": persons["birth_date"],
            "age": persons["age"],
            "age_band": _age_band(persons["age"].to_numpy()),
            "gender": np.where(persons["male"], "M", "F"),
            "city": persons["city"],
            "province": persons["province"],
            "chronic_conditions": chronic,
            "acquisition_channel": np.where(persons["has_crm"], persons["channel"], ""),
            "campaign_id": persons["campaign_id"],
            "marketing_consent": persons["consent"] & ~persons["withdraws"],
            "registered_date": persons["registered"],
            "last_active_date": persons["active_to"],
            "churned_on": np.where(persons["churner"], persons["active_to"].astype(str), ""),
            "need_type": persons["need_type"],
            "medication_adherent": persons["adherent"],
            "has_his": persons["has_his"],
            "has_crm": persons["has_crm"],
            "has_consult": persons["has_consult"],
            "has_wearable": persons["has_wearable"],
        }
    )
