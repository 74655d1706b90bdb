"""Which failures Airflow retries (transient) and which fail at once, with their exit codes."""

from __future__ import annotations

import duckdb
import pytest

from patient360.dbt_runner import DbtError
from patient360.errors import (
    EXIT_CONFIG,
    EXIT_DATA,
    EXIT_INPUT,
    EXIT_LOCKED,
    InputMissing,
    WarehouseLocked,
    explain,
    is_transient,
)
from patient360.pipeline import GateFailed
from patient360.pseudonym import PseudonymKeyError

LOCK = duckdb.IOException('IO Error: Could not set lock on file "/w/p.duckdb": Conflicting lock is held in x (PID 42)')


@pytest.mark.parametrize(
    ("exc", "transient", "code"),
    [
        (LOCK, True, EXIT_LOCKED),
        (WarehouseLocked("held"), True, EXIT_LOCKED),
        (OSError(5, "I/O error"), True, EXIT_DATA),
        (GateFailed("blocking expectations failed"), False, EXIT_DATA),
        (DbtError("dbt build failed"), False, EXIT_DATA),
        (PseudonymKeyError("no pseudonym key"), False, EXIT_CONFIG),
        (InputMissing("exports folder not found"), False, EXIT_INPUT),
        (FileNotFoundError(2, "No such file", "/x"), False, EXIT_INPUT),
        (ValueError("bug"), False, EXIT_DATA),
    ],
)
def test_transient_errors_retry_and_the_rest_fail_at_once(exc, transient, code):
    assert is_transient(exc) is transient
    assert explain(exc)[0] == code


def test_a_lock_names_the_process_holding_it():
    assert "(PID 42)" in explain(LOCK)[1] and "/w/p.duckdb" in explain(LOCK)[1]


def test_fail_fast_turns_permanent_errors_into_airflow_fail_and_lets_transient_ones_through():
    from airflow.sdk.exceptions import AirflowFailException

    from patient360.orchestration import fail_fast

    def raise_(exc):
        raise exc

    with pytest.raises(AirflowFailException, match="blocking expectations failed"):
        fail_fast(lambda: raise_(GateFailed("blocking expectations failed")))
    with pytest.raises(duckdb.IOException):
        fail_fast(lambda: raise_(LOCK))
    assert fail_fast(lambda: 7) == 7
