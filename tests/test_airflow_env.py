"""Reading the transformation DAG's Asset condition from Airflow's REST API answers: the
decision rule on answers shaped like the API's (the real API and metadata database are
exercised end to end in test_airflow_e2e.py)."""

from __future__ import annotations

from patient360.airflow_env import updated_since

CONSUMER = "patient360_transform"


def _asset(name: str, last: str | None, scheduled: tuple[str, ...] = (CONSUMER,)) -> dict:
    return {
        "name": name,
        "scheduled_dags": [{"dag_id": dag_id} for dag_id in scheduled],
        "last_asset_event": {"id": 1 if last else None, "timestamp": last},
    }


def test_an_asset_counts_when_its_newest_event_is_after_the_consumers_last_success():
    assets = [
        _asset("raw_his", "2026-11-02T10:00:00.000001Z"),  # after the last success
        _asset("raw_crm", "2026-11-02T09:00:00Z"),  # exactly at its end: already consumed
        _asset("raw_consult", "2026-11-01T08:00:00Z"),  # before
        _asset("raw_wearable", None),  # never updated
        _asset("marts", "2026-11-03T00:00:00Z", scheduled=()),  # the consumer produces it
        _asset("other", "2026-11-03T00:00:00Z", scheduled=("some_other_dag",)),
    ]
    assert updated_since(CONSUMER, assets, "2026-11-02T09:00:00Z") == {
        "raw_consult": None,
        "raw_crm": None,
        "raw_his": "2026-11-02T10:00:00.000001Z",
        "raw_wearable": None,
    }


def test_before_any_successful_run_every_updated_asset_counts():
    assets = [_asset("raw_his", "2026-11-02T10:00:00Z"), _asset("raw_crm", None)]
    assert updated_since(CONSUMER, assets, None) == {"raw_crm": None, "raw_his": "2026-11-02T10:00:00Z"}
