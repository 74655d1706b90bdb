"""The project's YAML declarations (dbt model YAML, the allow-list, contracts), parsed once.

A publish reads the marts' YAML for tiers, small-cell rules, column classes and empty-mart
declarations, once per tier and gate: parsing it every time with PyYAML's pure-Python
loader cost most of a release's CPU. Parsed documents are cached per file, keyed by the
file's modification time and size (an edited file is parsed again), with libyaml's C loader
where PyYAML has it. Callers must not mutate what they get (it is shared).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    """The parsed document of a YAML file (shared: do not mutate)."""
    st = Path(path).stat()
    return _parse(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=256)
def _parse(path: str, mtime_ns: int, size: int) -> Any:
    del mtime_ns, size  # part of the cache key only
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader
