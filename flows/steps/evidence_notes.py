"""Evidence notes, in one place: how a step's screenshots are kept on disk and posted to the ticket.

Every note is internal (``public: false``) and ends with a marker made of a key: a note whose marker is
already on the ticket is not posted again. The flow keys its notes by the ticket and the business write
(``evidence:preanalysis#1``), an agent's single step by the ticket, the step and the screenshots' sha256,
so a repeated step never posts the same evidence twice. The contract's backups are read back from these
notes by their titles (``NOTE_TITLES``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from flows.engine.toolkit import Toolkit
from robots.contrato import Backup, BackupKind
from robots.evidence import Evidence, note_key
from robots.zendesk import NoteResult

#: First words of the evidence notes of each backup, as the agent's steps and the flow write them.
NOTE_TITLES = {
    BackupKind.PREANALYSIS: "Preanálisis Planifícate",
    BackupKind.LINE_CONFIRMED: "Línea confirmada en Qvantel",
    BackupKind.TERMS_ACCEPTANCE: "Aceptación de T&C",
    BackupKind.AR_ERROR: "Error del Activador Regional",
}
#: The line's state (3.2) stands in for the confirmed line (5.1) when the line was already confirmed.
LINE_STATE_TITLE = "Estado de la línea en Qvantel"
DEBT_TITLE = "Deuda histórica en BCCS"
NOTE_PREFIX = "[Evidencia RPA]"


class StepEvidence(BaseModel):
    """Where a step's evidence went: the files kept on disk and the internal note, if one was posted."""

    files: list[str] = Field(default_factory=list)
    note_id: int | None = None
    posted: bool = False

    @property
    def first_file(self) -> str:
        return self.files[0] if self.files else ""


def write_key(ticket_id: int, write: str) -> str:
    """The marker key of a business write on a ticket (never a step or workflow id, which move with code)."""
    return note_key("ticket", ticket_id, write)


def evidence_note_body(title: str, summary: str, evidence: list[Evidence]) -> str:
    """The text of an internal evidence note: what it proves, and each file's fingerprint."""
    lines = [f"{NOTE_PREFIX} {title}", summary, ""]
    for item in evidence:
        lines.append(
            f"- {item.filename} · portal {item.portal} · paso {item.step} · "
            f"{item.taken_at:%Y-%m-%d %H:%M:%S} UTC · SHA-256 {item.sha256}"
        )
    return "\n".join(lines)


def keep(toolkit: Toolkit, ticket_id: int, evidence: list[Evidence]) -> list[Path]:
    """Save evidence on disk only (what the process does not ask for in Zendesk)."""
    return [toolkit.evidence.save(item, ticket_id).path for item in evidence]


def post(
    toolkit: Toolkit, ticket_id: int, title: str, summary: str, evidence: list[Evidence], *, key: str
) -> tuple[NoteResult, list[Path]]:
    """Keep the evidence on disk and post it as one internal note carrying the marker ``key``."""
    files = keep(toolkit, ticket_id, evidence)
    note = toolkit.zendesk.add_internal_note(ticket_id, evidence_note_body(title, summary, evidence), evidence, key=key)
    if note.posted:
        toolkit.metrics.evidence_note_posted()
    return note, files


def backups_from_ticket(toolkit: Toolkit, ticket_id: int) -> dict[BackupKind, Backup]:
    """Download the contract's backups from the ticket: the evidence notes and the customer's photos.

    The newest note of each kind wins; the customer's photos are recognised by their file names.
    """
    ticket = toolkit.zendesk.ticket(ticket_id)
    found: dict[BackupKind, Backup] = {}
    for comment in toolkit.zendesk.comments(ticket_id):
        kinds: list[BackupKind] = []
        first_line = comment.body.splitlines()[0] if comment.body else ""
        if not comment.public and first_line.startswith(NOTE_PREFIX):
            title = first_line.removeprefix(NOTE_PREFIX).strip()
            kinds = [k for k, prefix in NOTE_TITLES.items() if title.startswith(prefix)]
            if title.startswith(LINE_STATE_TITLE) and BackupKind.LINE_CONFIRMED not in found:
                kinds = [BackupKind.LINE_CONFIRMED]
        for attachment in comment.attachments:
            kind = kinds[0] if kinds else None
            if kind is None and comment.public and comment.author_id == ticket.requester_id:
                kind = BackupKind.of_customer_file(attachment.file_name)
            if kind is not None:
                found[kind] = Backup(
                    kind=kind,
                    file_name=attachment.file_name,
                    content_type=attachment.content_type,
                    content=toolkit.zendesk.download(attachment.content_url),
                )
    return found
