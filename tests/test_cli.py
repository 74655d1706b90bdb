"""The `patient360` command is the front door: its help lists every subcommand, and the
developer tools work on tiny inputs (run through the real CLI in a child process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from patient360.cli import main
from patient360.dbt_sources import SOURCES_YAML

PIPELINE = ["generate", "land", "run", "check", "publish", "purge-quarantine"]
TOOLS = ["demo", "airflow", "bench", "bench-generate", "bench-land", "bench-gates", "bench-identity", "dev"]
DEV_TOOLS = ["sources", "docs", "allowlist", "scaffold-yaml"]


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`python -m patient360 ...` (the same `main` as the `patient360` script)."""
    return subprocess.run(
        [sys.executable, "-m", "patient360", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def _listed(help_text: str) -> set[str]:
    """Subcommand names in an argparse help: the first word of each indented line."""
    return {line.split()[0] for line in help_text.splitlines() if line.startswith("    ") and line.strip()}


def test_help_lists_every_subcommand() -> None:
    top = cli("--help")
    assert top.returncode == 0, top.stderr
    assert set(PIPELINE + TOOLS) <= _listed(top.stdout)
    dev = cli("dev", "--help")
    assert dev.returncode == 0, dev.stderr
    assert set(DEV_TOOLS) <= _listed(dev.stdout)


def test_every_subcommand_has_its_options_page(capsys: pytest.CaptureFixture[str]) -> None:
    for command in [*([name] for name in PIPELINE + TOOLS), *(["dev", tool] for tool in DEV_TOOLS)]:
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--help"])
        assert exit_.value.code == 0, command
        assert capsys.readouterr().out.startswith("usage: patient360 " + " ".join(command)), command


def test_dev_sources_check_passes_on_the_repo_fails_on_drift_and_rewrites(tmp_path: Path) -> None:
    assert cli("dev", "sources", "--check").returncode == 0  # the checked-in file
    drifted = tmp_path / "_sources.yml"
    drifted.write_text(SOURCES_YAML.read_text(encoding="utf-8").replace("mrn", "medical_record_no", 1))
    check = cli("dev", "sources", "--check", "--file", drifted)
    assert check.returncode == 1 and "patient360 dev sources" in check.stderr
    assert cli("dev", "sources", "--file", drifted).returncode == 0  # regenerated
    assert drifted.read_text(encoding="utf-8") == SOURCES_YAML.read_text(encoding="utf-8")
    assert cli("dev", "sources", "--check", "--file", drifted).returncode == 0


def _model_yaml(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "_marts.yml").write_text(
        yaml.safe_dump(
            {
                "version": 2,
                "models": [
                    {
                        "name": "visits",
                        "columns": [
                            {"name": "patient_key", "meta": {"pii": "pseudonym"}},
                            {"name": "visit_date", "data_type": "date", "meta": {"pii": "none"}},
                            {"name": "channel", "data_tests": [{"accepted_values": {"values": ["app", "web"]}}]},
                        ],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )


def test_dev_allowlist_drafts_entries_from_model_yaml(tmp_path: Path) -> None:
    _model_yaml(tmp_path / "marts")
    out = cli("dev", "allowlist", tmp_path / "marts")
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout) == {
        "tables": {
            "visits": {
                "columns": {
                    "patient_key": {"privacy": "pseudonym"},
                    "visit_date": {"privacy": "none", "kind": "event_date"},
                    # undeclared in the YAML: TODO, which the allow-list loader rejects until decided
                    "channel": {"privacy": "TODO", "accepted_values": ["app", "web"]},
                }
            }
        }
    }
    assert cli("dev", "allowlist", tmp_path / "missing").returncode == 2


def test_dev_scaffold_yaml_adds_missing_columns_and_keeps_existing_entries(tmp_path: Path) -> None:
    models = tmp_path / "models"
    _model_yaml(models / "marts")
    (models / "marts" / "visits.sql").write_text("-- One row per visit.\nselect 1\n", encoding="utf-8")
    (models / "marts" / "new_mart.sql").write_text("-- A new mart.\nselect 1\n", encoding="utf-8")
    warehouse = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.visits (patient_key VARCHAR, visit_date DATE, channel VARCHAR)")
    con.execute("CREATE TABLE marts.new_mart (patient_key VARCHAR, age_band VARCHAR, mystery INTEGER)")
    con.close()

    out = cli("dev", "scaffold-yaml", "--warehouse", warehouse, "--models-dir", models)
    assert out.returncode == 0, out.stderr
    doc = yaml.safe_load((models / "marts" / "_marts.yml").read_text(encoding="utf-8"))
    by_name = {m["name"]: m for m in doc["models"]}
    visits = {c["name"]: c for c in by_name["visits"]["columns"]}
    assert visits["channel"]["data_tests"]  # kept as written
    assert visits["visit_date"]["data_type"] == "date"
    new = by_name["new_mart"]
    assert new["description"] == "A new mart." and new["config"]["contract"] == {"enforced": True}
    cols = {c["name"]: (c["meta"]["pii"], c["data_type"]) for c in new["columns"]}
    # privacy from where the column name is declared already (the project's dbt meta.pii or a
    # contract); a column declared nowhere gets TODO, which the PII policy rejects
    assert cols == {
        "patient_key": ("pseudonym", "varchar"),
        "age_band": ("quasi", "varchar"),
        "mystery": ("TODO", "integer"),
    }


def test_the_dbt_docs_block_of_the_metric_spec_is_generated_from_docs_metrics_md() -> None:
    """One home for the spec (docs/metrics.md); the dbt project carries a generated copy so it
    builds from a copy of dbt_project/ alone (Cosmos, compose)."""
    from patient360.dbt_docs import METRICS_DOC_BLOCK, METRICS_SPEC, render_metrics_doc

    assert cli("dev", "docs", "--check").returncode == 0
    assert METRICS_DOC_BLOCK.read_text(encoding="utf-8") == render_metrics_doc()
    assert METRICS_SPEC.read_text(encoding="utf-8").strip() in METRICS_DOC_BLOCK.read_text(encoding="utf-8")
