"""The product's own database connections, and what the embedded SQLite default needs to keep up.

The run store, the Zendesk call budget and the flows' files share one database (the run store's SQLite
file, or the deployment's Postgres). On SQLite every commit of the default rollback journal costs several
fsyncs, and a worker with hundreds of flows commits for every step and every Zendesk call: the disk, not
the CPU, set the pace (measured: half the machine's time in I/O wait at a thousand flows starting). In
write-ahead-log mode a commit appends to the log; with ``synchronous=NORMAL`` the log is synced at
checkpoints, which keeps the database consistent after a crash of the process (a power cut may lose the
last commits, not corrupt the file). DBOS's own SQLite file is switched to the log too (the mode is kept
in the file, so its connections find it); DBOS keeps its own, safer, sync setting.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError


def store_engine(url: str) -> Engine:
    """An engine on ``url``; on SQLite, in write-ahead-log mode with a generous wait for the write lock."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30}, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, record: Any) -> None:
        _write_ahead(connection)
        connection.execute("PRAGMA synchronous=NORMAL")

    return engine


def create_tables(metadata: MetaData, engine: Engine, attempts: int = 5) -> None:
    """Create ``metadata``'s missing tables; processes starting together on one database may race to make
    one (the loser's CREATE fails: it looks again)."""
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except (IntegrityError, ProgrammingError, OperationalError) as exc:
            if attempt == attempts - 1 or not _lost_a_race(exc):
                raise


def _lost_a_race(exc: Exception) -> bool:
    said = str(exc).lower()
    return not isinstance(exc, OperationalError) or "already exists" in said or "locked" in said


def _write_ahead(connection: Any) -> None:
    """Switch to the log unless the file is there already; switching needs the file to itself for a moment,
    and another process that connects at that moment finds it switched a little later (it retries)."""
    if str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        pass  # busy: another connection is switching it; this one works in the meantime either way


def use_write_ahead_log(url: str) -> None:
    """Put the SQLite database at ``url`` (DBOS's) in write-ahead-log mode; other databases are left alone."""
    if not url.startswith("sqlite:///"):
        return
    with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30) as connection:
        _write_ahead(connection)
    connection.close()
