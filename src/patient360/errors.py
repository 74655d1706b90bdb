"""Expected failures, their one-line explanations and the CLI's documented exit codes.

Every condition a user can meet without a bug (a locked warehouse, a missing exports
folder or partition, a bad key, a failed gate) is explained in one line that names the
problem and the fix; `patient360 --verbose` adds the traceback. The Airflow tasks use
`is_transient` to decide between retrying and failing at once.

Exit codes (README "Command line"):
    0  success
    1  data problem: files rejected, dbt models or tests failed, a blocking gate failed
    2  usage: bad arguments
    3  input missing: exports folder, export partition or warehouse not found / empty
    4  warehouse locked by another process (transient: retry when it is done)
    5  configuration: pseudonym key missing or weak, bad settings
"""

from __future__ import annotations

import re

import duckdb

EXIT_OK, EXIT_DATA, EXIT_USAGE, EXIT_INPUT, EXIT_LOCKED, EXIT_CONFIG = 0, 1, 2, 3, 4, 5


class P360Error(RuntimeError):
    """An expected failure with a one-line message and an exit code."""

    exit_code = EXIT_DATA


class UsageError(P360Error):
    exit_code = EXIT_USAGE


class InputMissing(P360Error):
    """Exports folder, partition or warehouse not there (or empty)."""

    exit_code = EXIT_INPUT


class WarehouseLocked(P360Error):
    exit_code = EXIT_LOCKED


class GateFailed(P360Error):
    """A blocking expectation failed: nothing is published."""


class ConfigError(P360Error):
    exit_code = EXIT_CONFIG


_LOCK = re.compile(r'Could not set lock on file "([^"]+)".*?\(PID (\d+)\)', re.S)


def explain(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line naming the problem and the fix) for an expected failure; a bug
    gets exit 1 and its type and message (the traceback is one --verbose away). Notes added
    on the way up (`stage: transform`) are appended in brackets."""
    code, line = _explain(exc)
    notes = getattr(exc, "__notes__", None)
    return code, f"{line} [{'; '.join(notes)}]" if notes else line


def _explain(exc: BaseException) -> tuple[int, str]:
    from patient360.dbt_runner import DbtError
    from patient360.pseudonym import PseudonymKeyError

    if isinstance(exc, P360Error):
        return exc.exit_code, str(exc)
    if isinstance(exc, PseudonymKeyError):
        return EXIT_CONFIG, str(exc)
    if isinstance(exc, duckdb.IOException) and (m := _LOCK.search(str(exc))):
        return EXIT_LOCKED, (
            f"warehouse {m.group(1)} is in use by another process (PID {m.group(2)}): "
            "wait for it to finish (or stop it) and run the command again"
        )
    if isinstance(exc, DbtError):
        return EXIT_DATA, str(exc)
    if isinstance(exc, FileNotFoundError):
        return EXIT_INPUT, f"{exc.strerror or 'not found'}: {exc.filename or exc}"
    return EXIT_DATA, f"{type(exc).__name__}: {exc}"


def is_transient(exc: BaseException) -> bool:
    """Worth a retry: the warehouse lock held by another process, or an I/O error of the OS.
    Everything else (templates, configuration, contracts, gates, dbt errors) cannot heal."""
    if isinstance(exc, WarehouseLocked):
        return True
    if isinstance(exc, duckdb.IOException) and _LOCK.search(str(exc)):
        return True
    if isinstance(exc, P360Error | FileNotFoundError | PermissionError):
        return False
    # dbt's own lock failures arrive as WarehouseLocked (patient360.dbt_runner)
    return isinstance(exc, OSError)
