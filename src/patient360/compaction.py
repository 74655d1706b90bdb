"""Make deleted values disappear from a DuckDB file's bytes by rewriting it.

DuckDB's DELETE only marks rows deleted; CHECKPOINT, FORCE CHECKPOINT and VACUUM leave the
deleted values in the file's blocks (measured on DuckDB 2.0 with uncompressed storage: a
deleted name, mobile and note were still readable with a byte scan). Freed blocks are reused
later, not zeroed, and the WAL holds the values of every change since the last checkpoint.

What works: copy every live object into a fresh file (`ATTACH` a new file, `COPY FROM DATABASE
old TO new`: schemas, tables with their constraints and comments, views, macros, sequences)
and swap it in with an atomic rename; the old file's WAL is removed. Anything that deletes
personal data from the warehouse (retention purge, erasure, key rotation) calls `rewrite`
after its DELETEs/UPDATEs have committed. The warehouse must not be open elsewhere (the
pipeline's one-writer rule): a reader holding the old file keeps reading the old inode.
"""

from __future__ import annotations

import os
from pathlib import Path

from patient360.warehouse import connect


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def wal_of(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def rewrite(database: Path) -> Path:
    """Rewrite `database` into a fresh file holding only its live data, then replace it.

    The old file is checkpointed first (its WAL folded in), so the copy sees every committed
    change. Returns the path (unchanged). On failure the original file is left as it was."""
    database = Path(database)
    con = connect(database)  # read-write: the checkpoint folds the WAL into the file
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    fresh = database.with_name(f".{database.name}.rewrite.{os.getpid()}.tmp")
    fresh.unlink(missing_ok=True)
    wal_of(fresh).unlink(missing_ok=True)
    con = connect()  # in-memory session under the pipeline's memory limit
    try:
        # spill next to the warehouse (DuckDB's own default for a file), never into the working folder
        con.execute(f"SET temp_directory = {_literal(str(database) + '.tmp')}")
        con.execute(f"ATTACH {_literal(str(database))} AS old_db (READ_ONLY)")
        con.execute(f"ATTACH {_literal(str(fresh))} AS new_db")
        con.execute("COPY FROM DATABASE old_db TO new_db")
        con.execute("DETACH new_db")  # detaching checkpoints: everything is in the fresh file
        con.execute("DETACH old_db")
    except BaseException:
        con.close()
        fresh.unlink(missing_ok=True)
        wal_of(fresh).unlink(missing_ok=True)
        raise
    con.close()
    wal_of(fresh).unlink(missing_ok=True)
    os.replace(fresh, database)
    wal_of(database).unlink(missing_ok=True)  # a WAL left by the old file would be replayed onto the new one
    return database
