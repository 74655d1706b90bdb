"""Private scratch folders for files that hold personal data (transcoded HIS exports, ...).

The system temp folder is shared by every user of the machine and outlives the process
that wrote there, so personal data never goes there. Scratch lives inside the
warehouse's restricted area,

    <warehouse dir>/restricted/tmp/<purpose>-<pid>-<random>/     mode 0700, parents 0700

is removed on every exit path Python sees (return, exception, Ctrl-C, SIGTERM: the CLI
turns SIGTERM into an exception), and what a killed process (SIGKILL, power loss) left
behind is removed by the next process that opens scratch there: a folder whose owner
PID is no longer running is a leftover. docs/deidentification.md describes the rule.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

RESTRICTED_DIR = "restricted"
SCRATCH_DIR = "tmp"
PRIVATE_MODE = 0o700


def scratch_root(warehouse: Path) -> Path:
    """The private scratch area of the warehouse file `warehouse`."""
    return Path(warehouse).resolve().parent / RESTRICTED_DIR / SCRATCH_DIR


@contextmanager
def private_scratch(warehouse: Path, purpose: str) -> Iterator[Path]:
    """A fresh 0700 folder for this process's personal-data scratch files, removed on exit."""
    root = scratch_root(warehouse)
    _make_private(root)
    remove_leftovers(root)
    path = Path(tempfile.mkdtemp(prefix=f"{purpose}-{os.getpid()}-", dir=root))  # mkdtemp: mode 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_leftovers(root: Path) -> list[Path]:
    """Remove scratch folders whose owning process is gone; returns what was removed."""
    removed = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        pid = _owner_pid(folder.name)
        if pid is None or _alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
        log.warning("removed scratch %s left by a killed process (pid %d)", folder, pid)
    return removed


def _make_private(root: Path) -> None:
    """Create root and its restricted parent owner-only; tighten them if they were created looser."""
    for folder in (root.parent, root):
        folder.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
        if folder.stat().st_mode & 0o077:
            folder.chmod(PRIVATE_MODE)


def _owner_pid(name: str) -> int | None:
    parts = name.split("-")
    return int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
