"""Every Makefile target can run: `make -n <target>` (a dry run: recipes are printed, not
executed) succeeds, and everything its recipes invoke exists — scripts in the repository,
`python -m` modules, tools in the virtualenv, `patient360` subcommands. Targets are parsed
from the Makefile, so a target added later is checked too."""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from patient360.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = ROOT / "Makefile"
# The virtualenv running this test stands in for $(VENV): its bin holds the tools `make test` installed.
VENV = Path(sys.executable).parent.parent
BIN = VENV / "bin"

RULE = re.compile(r"^(?P<targets>[^\s:#=$.][^:#=]*?)\s*::?(?!=)")
SCRIPT = re.compile(r"(?<![\w./$-])((?:[\w.-]+/)*[\w-]+\.(?:py|sh))\b")
PYTHON_MODULE = re.compile(r"\bpython[\d.]*(?:\s+-[A-Za-ln-z]+)*\s+-m\s+([A-Za-z_][\w.]*)")
CLI_COMMAND = re.compile(re.escape(str(BIN)) + r"/patient360(?:\s+-\S+)*\s+([a-z][\w-]*)")


def makefile_targets(text: str) -> list[str]:
    """Explicit targets of the rules (not special targets like .PHONY, not variable names like $(STAMP))."""
    targets: list[str] = []
    for line in text.splitlines():
        match = RULE.match(line)
        if match:
            targets += [t for t in match["targets"].split() if t not in targets]
    return targets


def dry_run(target: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-n", "-f", str(MAKEFILE), target, f"VENV={VENV}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def missing_references(recipe: str) -> list[str]:
    """What a dry-run recipe invokes that is not there (empty when everything exists)."""
    missing = []
    for path in SCRIPT.findall(recipe.replace(f"{ROOT}/", "")):
        if not (ROOT / path).is_file():
            missing.append(f"script {path}")
    for module in PYTHON_MODULE.findall(recipe):
        if importlib.util.find_spec(module) is None:
            missing.append(f"module {module} (python -m)")
    for tool in re.findall(re.escape(str(BIN)) + r"/([\w.+-]+)", recipe):
        if not (BIN / tool).is_file():
            missing.append(f"tool {BIN / tool}")
    commands = cli_commands()
    for command in CLI_COMMAND.findall(recipe):
        if command not in commands:
            missing.append(f"patient360 subcommand {command!r}")
    return missing


def cli_commands() -> set[str]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


TARGETS = makefile_targets(MAKEFILE.read_text(encoding="utf-8"))


def test_targets_are_parsed_from_the_makefile():
    assert {"test", "demo", "bench", "clean"} <= set(TARGETS), TARGETS
    assert not [t for t in TARGETS if t.startswith((".", "$"))], TARGETS


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", TARGETS)
def test_every_target_dry_runs_and_what_it_invokes_exists(target):
    proc = dry_run(target)
    assert proc.returncode == 0, f"make -n {target}:\n{proc.stdout}{proc.stderr}"
    assert missing_references(proc.stdout) == [], f"make -n {target}:\n{proc.stdout}"


def test_missing_references_are_found():
    """The checker itself: each kind of missing reference is reported."""
    recipe = "\n".join(
        [
            f"{BIN}/python scripts/no_such_script.py --x 1",
            f"{BIN}/python -m patient360.no_such_module",
            f"{BIN}/no-such-tool check src",
            f"{BIN}/patient360 -v no-such-command --patients 10",
            f"{BIN}/python -m pytest -m 'not slow' tests/test_makefile.py",
        ]
    )
    assert missing_references(recipe) == [
        "script scripts/no_such_script.py",
        "module patient360.no_such_module (python -m)",
        f"tool {BIN / 'no-such-tool'}",
        "patient360 subcommand 'no-such-command'",
    ]
