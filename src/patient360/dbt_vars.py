"""The business-rule vars of dbt_project.yml, for Python code that applies the same rules.

Thresholds live once, in dbt_project.yml `vars:`; the gates (k-anonymity) and the
benchmark's pandas reimplementation read them from there instead of repeating them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from patient360.paths import DBT_PROJECT_DIR
from patient360.yaml_files import load_yaml


@cache
def dbt_vars() -> dict[str, Any]:
    project = load_yaml(DBT_PROJECT_DIR / "dbt_project.yml")
    return dict(project.get("vars") or {})


def dbt_var(name: str) -> Any:
    """A var's default from dbt_project.yml; KeyError names the var when it is not there."""
    values = dbt_vars()
    if name not in values:
        raise KeyError(f"dbt var {name!r} is not defined in {DBT_PROJECT_DIR / 'dbt_project.yml'}")
    return values[name]
