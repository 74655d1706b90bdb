"""Constants shared by the test modules. Imported as a top-level module (`from helpers
import ...`): pytest puts this folder on sys.path (tests/ has no __init__.py), so the
import works the same under `pytest` and `python -m pytest`, from the root or from tests/."""

from __future__ import annotations

TEST_KEY = "test-only-pseudonym-key-0123456789abcdef"
TEST_TOMBSTONE_KEY = "test-only-tombstone-key-fedcba9876543210"

# Small enough for CI, big enough that every table and segment has rows.
SMALL = {"patients": 300, "days": 3, "seed": 7}
