"""``rpa purge``: the customers' documents are not kept forever.

A flow keeps personal data where any worker can reach it: the customer's CI photos and selfie, the
evidence screenshots the process asked for (consoles showing the customer's line and CI), and a failed
step's screenshot and trace, in this machine's folders (``RPA_EVIDENCE_DIR/ticket-N/…``,
``RPA_RUN_DIR/failures/<flow>/…``) and in the database's file store (``rpa_files``). Once a ticket's flows
have all ended more than ``RPA_DOCUMENTS_RETENTION_DAYS`` ago, they are removed from both. What the
process must keep as its record stays in Zendesk: the evidence notes with their attachments and SHA-256
fingerprints, which ``rpa purge`` never touches; the run store keeps the steps' history (their paths
then point at files that are gone, and reports say so).

A ticket with a live flow is never purged, nor one whose flows ended within the retention, nor a ticket
the run store has no flow for (an agent's single steps: nothing says when its work ended). Each machine's
folders are its own: ``rpa purge`` removes the shared store's files and this machine's copies, so on a
deployment of several machines it is run on each (the store's part is then already done).
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from loguru import logger
from pydantic import BaseModel, Field
from sqlalchemy import delete, select

from flows.engine.files import EVIDENCE_ROOT, FAILURES_FOLDER, RUNS_ROOT, FlowFiles, stored_files
from flows.engine.run_store import RunState, RunStore, flow_runs
from flows.engine.settings import Settings
from pages.masking import mask_text
from robots.evidence import utc_now


class PurgedTicket(BaseModel):
    """What was (or, in a dry run, would be) removed for one ticket."""

    ticket_id: int
    ended_at: datetime
    local_files: list[str] = Field(default_factory=list)
    stored_keys: list[str] = Field(default_factory=list)


class PurgeReport(BaseModel):
    dry_run: bool
    cutoff: datetime
    tickets: list[PurgedTicket] = Field(default_factory=list)

    @property
    def local_files(self) -> int:
        return sum(len(t.local_files) for t in self.tickets)

    @property
    def stored_files(self) -> int:
        return sum(len(t.stored_keys) for t in self.tickets)


def expired_tickets(store: RunStore, cutoff: datetime) -> dict[int, tuple[datetime, list[str]]]:
    """Tickets whose flows are all over, the last one before ``cutoff``: when it ended, and the flows' ids."""
    flows: dict[int, list[tuple[str, str, datetime]]] = defaultdict(list)
    with store.engine.connect() as db:
        rows = db.execute(select(flow_runs.c.ticket_id, flow_runs.c.flow_id, flow_runs.c.state, flow_runs.c.updated_at))
        for ticket_id, flow_id, state, updated_at in rows:
            when = updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=UTC)
            flows[ticket_id].append((flow_id, state, when))
    expired: dict[int, tuple[datetime, list[str]]] = {}
    for ticket_id, runs in flows.items():
        if any(RunState(state).live for _, state, _ in runs):
            continue
        # A flow's last change is when it ended: nothing writes to a flow that is over.
        ended = max(when for _, _, when in runs)
        if ended < cutoff:
            expired[ticket_id] = (ended, [flow_id for flow_id, _, _ in runs])
    return expired


def purge_documents(settings: Settings, *, dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
    """Remove (or list, with ``dry_run``) the files of the tickets whose flows ended before the retention."""
    cutoff = (now or utc_now()) - timedelta(days=settings.documents_retention_days)
    report = PurgeReport(dry_run=dry_run, cutoff=cutoff)
    store = RunStore(settings.store_url())
    files = FlowFiles(settings)
    try:
        for ticket_id, (ended, flow_ids) in sorted(expired_tickets(store, cutoff).items()):
            folders = [Path(settings.evidence_dir) / f"ticket-{ticket_id}"]
            prefixes = [f"{EVIDENCE_ROOT}/ticket-{ticket_id}/"]
            for flow_id in flow_ids:
                folders.append(Path(settings.run_dir) / FAILURES_FOLDER / flow_id)
                prefixes.append(f"{RUNS_ROOT}/{FAILURES_FOLDER}/{flow_id}/")
            local = sorted(str(f) for folder in folders if folder.is_dir() for f in folder.rglob("*") if f.is_file())
            with files.engine.connect() as db:
                keys = sorted(
                    key
                    for prefix in prefixes
                    for key in db.execute(
                        select(stored_files.c.key).where(stored_files.c.key.startswith(prefix, autoescape=True))
                    ).scalars()
                )
            if not local and not keys:
                continue  # purged already
            report.tickets.append(
                PurgedTicket(ticket_id=ticket_id, ended_at=ended, local_files=local, stored_keys=keys)
            )
            if dry_run:
                logger.info(
                    "purge (dry run): ticket {} would lose {} local and {} stored file(s)",
                    ticket_id,
                    len(local),
                    len(keys),
                )
                continue
            if keys:
                with files.engine.begin() as db:
                    db.execute(delete(stored_files).where(stored_files.c.key.in_(keys)))
            for folder in folders:
                if folder.is_dir():
                    shutil.rmtree(folder)
            # Keys and counts only: never the files' content; the customer's file names may carry a CI.
            logger.info(
                "purged ticket {} (flows ended {:%Y-%m-%d}): {} local and {} stored file(s): {}",
                ticket_id,
                ended,
                len(local),
                len(keys),
                mask_text(", ".join(keys)),
            )
    finally:
        files.dispose()
        store.dispose()
    return report
