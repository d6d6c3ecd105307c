"""A flow's files, reachable from every worker and from ``rpa serve``: kept in the deployment's database.

Any worker of a deployment may go on with any flow (after a crash, a recovery, a takeover), and a report
may be built on a machine that took none of its screenshots. The files a flow leaves (evidence
screenshots and their sidecars, the customer's CI photos and selfie, a failed step's screenshot and
trace) are therefore written to the local folders as before and also put in table ``rpa_files`` of the
run store's database (the shared Postgres, or the embedded SQLite file of a one-machine deployment).

A file is known in the store by its place under its root folder: ``evidence/ticket-2001/cliente/…``
under ``RPA_EVIDENCE_DIR``, ``runs/failures/<flow>/…`` under ``RPA_RUN_DIR``. Every read of such a file
goes through ``FlowFiles.local``: the local file when it is there, else the stored one, fetched into this
machine's own folder (a cache) first. Paths a flow carries in its checkpoints were written by whichever
worker made them, under that worker's roots; on another machine they are known by their place under
the root too (the ticket's folder ``ticket-N`` for evidence, ``failures`` for a failed step's captures).

Putting a file is idempotent (same key, same sha256: nothing is written), so a step run again after a
crash puts it again harmlessly. Files above ``RPA_SHARED_FILE_MAX_MB`` stay on the local disk only.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

from loguru import logger
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from flows.engine.databases import create_tables, store_engine
from flows.engine.settings import Settings
from robots.evidence import utc_now

_metadata = MetaData()
stored_files = Table(
    "rpa_files",
    _metadata,
    Column("key", String(500), primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

EVIDENCE_ROOT = "evidence"
RUNS_ROOT = "runs"
#: The folder under the run folder where a failed step's screenshot and trace are kept.
FAILURES_FOLDER = "failures"
_TICKET_FOLDER = re.compile(r"ticket-\d+")


class FlowFiles:
    """The flow files of this machine's folders, backed by the deployment's database."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.roots = {EVIDENCE_ROOT: Path(settings.evidence_dir), RUNS_ROOT: Path(settings.run_dir)}
        self.max_bytes = int(settings.shared_file_max_mb * 1024 * 1024)
        self._engine = engine
        self._owns_engine = engine is None
        self._ready = False
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        # Made on first use: an agent's single step that keeps no file never opens the database for it.
        with self._lock:
            if self._engine is None:
                url = self.settings.store_url()
                self._engine = store_engine(url)
            if not self._ready:
                create_tables(_metadata, self._engine)
                self._ready = True
            return self._engine

    # -- where a file belongs ------------------------------------------------------------------
    def key_of(self, path: str | Path) -> str | None:
        """The file's key in the store: its place under its root folder; None for a file of no flow."""
        file = Path(path)
        for name, root in self.roots.items():
            try:
                return f"{name}/{file.resolve().relative_to(root.resolve()).as_posix()}"
            except ValueError:
                continue
        # Written under another machine's roots: the folders below the root name it the same everywhere.
        parts = file.parts
        if len(parts) >= 3 and parts[-3] == FAILURES_FOLDER:
            return "/".join((RUNS_ROOT, *parts[-3:]))
        for at in range(len(parts) - 2, -1, -1):
            if _TICKET_FOLDER.fullmatch(parts[at]):
                return "/".join((EVIDENCE_ROOT, *parts[at:]))
        return None

    def _here(self, key: str) -> Path:
        """Where the file of ``key`` lives in this machine's folders."""
        root, _, rest = key.partition("/")
        return self.roots[root] / rest

    # -- writing ------------------------------------------------------------------------------
    def keep(self, path: str | Path) -> str | None:
        """Put a file just written to the local folders in the store; its key, or None when it stays local
        (outside the flow's folders, or above the size cap)."""
        file = Path(path)
        key = self.key_of(file)
        if key is None:
            logger.debug("{} is outside the evidence and run folders: kept on this machine only", file)
            return None
        content = file.read_bytes()
        if len(content) > self.max_bytes:
            logger.warning(
                "{} ({:.1f} MB) is above RPA_SHARED_FILE_MAX_MB: kept on this machine only",
                file,
                len(content) / 1024 / 1024,
            )
            return None
        digest = hashlib.sha256(content).hexdigest()
        with self.engine.connect() as db:
            stored = db.execute(select(stored_files.c.sha256).where(stored_files.c.key == key)).scalar()
        if stored == digest:
            return key
        values = {"content": content, "sha256": digest, "size": len(content), "created_at": utc_now()}
        if stored is None:
            try:
                with self.engine.begin() as db:
                    db.execute(insert(stored_files).values(key=key, **values))
                return key
            except IntegrityError:
                pass  # another process put it meanwhile: ours is as new
        with self.engine.begin() as db:
            db.execute(update(stored_files).where(stored_files.c.key == key).values(**values))
        return key

    def keep_quietly(self, path: str | Path | None) -> None:
        """Put a file whose sharing must never fail what wrote it (a failed step's captures)."""
        if path is None:
            return
        try:
            self.keep(path)
        except Exception:
            logger.exception("could not put {} in the file store", path)

    # -- reading ------------------------------------------------------------------------------
    def local(self, path: str | Path) -> Path:
        """The file on this machine: the path itself when it is there, else the stored file fetched into
        this machine's folder. A file that is nowhere comes back as the path given (callers say it is
        missing)."""
        file = Path(path)
        if file.is_file():
            return file
        key = self.key_of(file)
        if key is None:
            return file
        here = self._here(key)
        if here.is_file():
            return here
        with self.engine.connect() as db:
            row = db.execute(
                select(stored_files.c.content, stored_files.c.sha256).where(stored_files.c.key == key)
            ).first()
        if row is None:
            return file
        content = bytes(row.content)
        if hashlib.sha256(content).hexdigest() != row.sha256:
            logger.error("the stored file {} does not match its sha256: not used", key)
            return file
        _write_atomically(here, content)
        return here

    def folder(self, folder: Path) -> list[Path]:
        """The files of a local folder (a ticket's customer documents), with those kept by other machines
        fetched into it first."""
        key = self.key_of(folder)
        if key is not None:
            with self.engine.connect() as db:
                keys = list(
                    db.execute(
                        select(stored_files.c.key).where(stored_files.c.key.startswith(key + "/", autoescape=True))
                    ).scalars()
                )
            for found in keys:
                self.local(self._here(found))
        if not folder.is_dir():
            return []
        return sorted(f for f in folder.iterdir() if f.is_file())

    def dispose(self) -> None:
        if self._owns_engine and self._engine is not None:
            self._engine.dispose()


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One temporary name per writer: two flows of one worker may fetch the same file at once.
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temp.write_bytes(content)
    os.replace(temp, path)
