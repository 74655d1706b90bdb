"""Keyed pseudonyms: HMAC-SHA256 of a normalised identifier with a secret key.

The key comes from the environment (`P360_PSEUDONYM_KEY`, or a file named by
`P360_PSEUDONYM_KEY_FILE`) and is only ever used inside Python: it is never
interpolated into SQL, so it cannot land in dbt's compiled SQL, `target/`
artifacts, logs or Airflow rendered fields. A plain hash would be reversible by
enumerating the ~10^10 mobile numbers; a keyed one is not without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
import zlib
from collections import Counter
from pathlib import Path

log = logging.getLogger(__name__)

KEY_ENV = "P360_PSEUDONYM_KEY"
KEY_FILE_ENV = "P360_PSEUDONYM_KEY_FILE"
MIN_KEY_LENGTH = 32  # bytes (UTF-8)
# A key must not be guessable: at least this many distinct characters and this much Shannon
# entropy per character (a hex secret of 64 characters has ~4 bits; 'aaaa...' or a repeated
# short phrase has far less). Measured on the characters, so a padded short secret fails too;
# and the key must not compress below MIN_KEY_LENGTH bytes (zlib finds repeated phrases).
MIN_KEY_DISTINCT = 10
MIN_KEY_BITS_PER_CHAR = 3.0
KEY_ID_LENGTH = 16
# The key id is an HMAC of this constant: it names the key in release manifests without
# revealing it, and no identifier can collide with it (identifiers are prefixed by type).
KEY_ID_MESSAGE = "patient360 pseudonym key id v1"


class PseudonymKeyError(RuntimeError):
    """The pseudonym key is missing or too weak."""


def project_key_file() -> Path:
    """The project's local key file (`make demo` creates it; outside git)."""
    from patient360.paths import PROJECT_ROOT

    return PROJECT_ROOT / ".secrets" / "pseudonym.key"


def secret_source(env: str, file_env: str, project_file: Path) -> str:
    """Where a secret comes from, by the one precedence of every key the project uses: the
    variable `env`, then the file named by `file_env`, then the project's `.secrets/` file."""
    if os.environ.get(env):
        return env
    if os.environ.get(file_env):
        return f"{file_env}={os.environ[file_env]}"
    if project_file.is_file():
        return str(project_file)
    return ""


def read_secret(env: str, file_env: str, project_file: Path, what: str) -> str:
    """The secret by that precedence ('' when none of the three places holds one)."""
    secret = os.environ.get(env)
    if not secret and os.environ.get(file_env):
        path = Path(os.environ[file_env])
        if not path.is_file():
            raise PseudonymKeyError(f"{file_env} names {path}, which does not exist (the {what})")
        secret = path.read_text(encoding="utf-8").strip()
    if not secret and project_file.is_file():
        secret = project_file.read_text(encoding="utf-8").strip()
    return secret or ""


def key_source() -> str:
    """Where the key comes from, by the one precedence: P360_PSEUDONYM_KEY, then the file
    named by P360_PSEUDONYM_KEY_FILE, then the project's .secrets/pseudonym.key."""
    return secret_source(KEY_ENV, KEY_FILE_ENV, project_key_file())


def load_key() -> bytes:
    key = read_secret(KEY_ENV, KEY_FILE_ENV, project_key_file(), "pseudonym key")
    if not key:
        raise PseudonymKeyError(
            f"no pseudonym key: export {KEY_ENV} (a secret of at least {MIN_KEY_LENGTH} characters), "
            f"or point {KEY_FILE_ENV} at a file holding it; `make demo` creates {project_key_file()}"
        )
    check_key_strength(key.encode("utf-8"))
    announce_key(key_source(), key_id(key.encode("utf-8")))
    return key.encode("utf-8")


_ANNOUNCED: set[tuple[str, str]] = set()


def announce_key(source: str, kid: str, what: str = "pseudonym key") -> None:
    """One line per process and key: which of the three places the key came from (never the key)."""
    if (source, kid) not in _ANNOUNCED:
        _ANNOUNCED.add((source, kid))
        log.info("%s %s from %s", what, kid, source)


def _bits_per_char(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def check_key_strength(key: bytes, name: str = KEY_ENV) -> None:
    """Refuse keys shorter than MIN_KEY_LENGTH bytes or of low entropy (never echoing the key)."""
    if len(key) < MIN_KEY_LENGTH:
        raise PseudonymKeyError(f"{name} is too short: use at least {MIN_KEY_LENGTH} bytes")
    text = key.decode("utf-8", errors="replace")
    weak = len(set(text)) < MIN_KEY_DISTINCT or _bits_per_char(text) < MIN_KEY_BITS_PER_CHAR
    if weak or len(zlib.compress(key, 9)) < MIN_KEY_LENGTH:
        raise PseudonymKeyError(
            f"{name} has too little entropy (repeated or few distinct characters): "
            "use a random secret, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"
        )


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key (HMAC of a constant): recorded with each release."""
    return hmac.new(key, KEY_ID_MESSAGE.encode("utf-8"), hashlib.sha256).hexdigest()[:KEY_ID_LENGTH]


def pseudonymise(value: str | None, key: bytes) -> str | None:
    """64-hex HMAC-SHA256 of an already normalised identifier (None stays None)."""
    if value is None:
        return None
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def ensure_key_file(path: Path) -> Path:
    """Create a random local key file (mode 600) if none exists; used by the demo only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path
