"""Expected problems, as a user meets them through the real `patient360` command: one line on
stderr naming the problem and the fix, the documented exit code, no traceback, nothing
left behind."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from patient360.errors import EXIT_CONFIG, EXIT_DATA, EXIT_INPUT, EXIT_LOCKED, EXIT_OK, EXIT_USAGE


def cli(*args: str | Path, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patient360", *map(str, args)], capture_output=True, text=True, timeout=600, env=env
    )


def _one_line(proc: subprocess.CompletedProcess[str], command: str) -> str:
    errors = [line for line in proc.stderr.splitlines() if f"patient360 {command}: error:" in line]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


def test_missing_and_empty_exports_folders(tmp_path: Path) -> None:
    wh = tmp_path / "wh" / "patient360.duckdb"
    missing = cli("land", "--exports", tmp_path / "nope", "--warehouse", wh)
    assert missing.returncode == EXIT_INPUT
    assert f"exports folder not found: {tmp_path / 'nope'}" in _one_line(missing, "land")
    (tmp_path / "empty" / "his").mkdir(parents=True)  # a source folder without partitions
    for command in ("land", "run"):
        proc = cli(command, "--exports", tmp_path / "empty", "--warehouse", wh)
        assert proc.returncode == EXIT_INPUT, (command, proc.stderr)
        assert "<exports>/<source>/<YYYY-MM-DD>/" in _one_line(proc, command)
    assert not wh.parent.exists()  # nothing was created: no warehouse folder, no published marts


def test_a_missing_partition_is_named(small_exports: Path, tmp_path: Path) -> None:
    proc = cli("land", "--exports", small_exports, "--warehouse", tmp_path / "wh.duckdb", "--date", "2020-01-01")
    assert proc.returncode == EXIT_INPUT, proc.stdout + proc.stderr
    assert f"missing partition: {small_exports / 'his' / '2020-01-01'}" in proc.stdout


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    for args in (
        ["generate", "--out", tmp_path, "--patients", "0"],
        ["land", "--exports", tmp_path, "--date", "31/10"],
    ):
        proc = cli(*args)
        assert proc.returncode == EXIT_USAGE, args
        assert "Traceback" not in proc.stderr and "error: argument" in proc.stderr
    assert not any(tmp_path.iterdir())


def test_check_and_publish_refuse_a_missing_warehouse_and_leave_nothing_behind(tmp_path: Path) -> None:
    wh = tmp_path / "none" / "patient360.duckdb"
    for command in ("check", "publish"):
        proc = cli(command, "--warehouse", wh)
        assert proc.returncode == EXIT_INPUT
        assert f"warehouse not found: {wh}" in _one_line(proc, command)
    assert not (tmp_path / "none").exists()


def test_a_missing_key_is_a_configuration_error(small_exports: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("P360_PSEUDONYM_KEY")}
    env["P360_PSEUDONYM_KEY_FILE"] = str(tmp_path / "missing.key")
    shutil.copytree(small_exports, tmp_path / "exports")
    proc = cli("run", "--exports", tmp_path / "exports", "--warehouse", tmp_path / "wh.duckdb", env=env)
    assert proc.returncode == EXIT_CONFIG
    assert "missing.key, which does not exist" in _one_line(proc, "run")


def test_a_locked_warehouse_names_the_process_holding_it(small_exports: Path, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(wh)!r}); print('ready', flush=True); "
         "time.sleep(120)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        proc = cli("land", "--exports", small_exports, "--warehouse", wh)
        assert proc.returncode == EXIT_LOCKED
        assert f"(PID {holder.pid})" in _one_line(proc, "land")
        assert "--verbose" not in proc.stderr and "Traceback" not in proc.stderr
        verbose = cli("--verbose", "land", "--exports", small_exports, "--warehouse", wh)
        assert verbose.returncode == EXIT_LOCKED and "Traceback" in verbose.stderr  # the traceback on demand
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_check_prints_its_verdict_without_third_party_noise(built_warehouse: Path, tmp_path: Path) -> None:
    wh = tmp_path / "patient360.duckdb"
    shutil.copy(built_warehouse, wh)
    proc = cli("check", "--warehouse", wh)
    assert proc.returncode in (EXIT_OK, EXIT_DATA), proc.stderr
    noise = [line for line in (proc.stdout + proc.stderr).splitlines() if " INFO " in line and "patient360" not in line]
    assert not noise, noise[:5]
    assert len((proc.stdout + proc.stderr).splitlines()) < 60, proc.stdout
    log = (tmp_path / "logs" / "patient360.log").read_text(encoding="utf-8")
    assert "great_expectations" in log  # third-party logging went to the file instead
