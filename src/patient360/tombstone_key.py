"""The tombstone key: the long-lived secret of erasure tombstones, apart from the pseudonym key.

An erasure tombstone is HMAC(tombstone key, "erased:<type>:<value>") of a normalised
identifier (patient360.erase). It is one-way and the identifier is gone from the warehouse, so
a tombstone can never be recomputed under another key: were tombstones keyed with the pseudonym
key, `patient360 key rotate` would silently stop them matching and a re-delivered export of an
erased person would be linked again. Tombstones therefore have their own key, which is never
rotated (the pseudonym key is rotated as before; the tombstone key does not take part).

The key is found by the same precedence as the pseudonym key (patient360.pseudonym):
`P360_TOMBSTONE_KEY`, then the file named by `P360_TOMBSTONE_KEY_FILE`, then the project's
`.secrets/tombstone.key` (the demo creates it). Each tombstone records the id of the key it was
made with, so landing refuses to run against tombstones of another key instead of letting the
erased person back in (docs/privacy_operations.md "Tombstone key").
"""

from __future__ import annotations

import os
from pathlib import Path

from patient360.pseudonym import (
    MIN_KEY_LENGTH,
    PseudonymKeyError,
    announce_key,
    check_key_strength,
    ensure_key_file,
    key_id,
    read_secret,
    secret_source,
)

TOMBSTONE_KEY_ENV = "P360_TOMBSTONE_KEY"
TOMBSTONE_KEY_FILE_ENV = "P360_TOMBSTONE_KEY_FILE"
WHAT = "tombstone key"


def project_tombstone_key_file() -> Path:
    """The project's local tombstone key file (`make demo` creates it; outside git)."""
    from patient360.paths import PROJECT_ROOT

    return PROJECT_ROOT / ".secrets" / "tombstone.key"


def tombstone_key_source() -> str:
    return secret_source(TOMBSTONE_KEY_ENV, TOMBSTONE_KEY_FILE_ENV, project_tombstone_key_file())


def ensure_tombstone_key() -> Path | None:
    """The demo's local tombstone key file (created, mode 600, unless a variable names the key)."""
    if os.environ.get(TOMBSTONE_KEY_ENV) or os.environ.get(TOMBSTONE_KEY_FILE_ENV):
        return None
    return ensure_key_file(project_tombstone_key_file())


def load_tombstone_key() -> bytes:
    """The tombstone key (refused when missing or weak, with what to do)."""
    key = read_secret(TOMBSTONE_KEY_ENV, TOMBSTONE_KEY_FILE_ENV, project_tombstone_key_file(), WHAT)
    if not key:
        raise PseudonymKeyError(
            f"no tombstone key (erasure needs one, kept apart from the pseudonym key and never rotated): "
            f"export {TOMBSTONE_KEY_ENV} (a secret of at least {MIN_KEY_LENGTH} characters), or point "
            f"{TOMBSTONE_KEY_FILE_ENV} at a file holding it; `make demo` creates {project_tombstone_key_file()}"
        )
    check_key_strength(key.encode("utf-8"), TOMBSTONE_KEY_ENV)
    announce_key(tombstone_key_source(), key_id(key.encode("utf-8")), WHAT)
    return key.encode("utf-8")
