"""The agent's single steps: run one robot for one ticket and leave its evidence on the ticket.

An agent working a WhatsApp ticket runs ``rpa step NAME --ticket N``: the step reads what it needs from
the ticket's fields (the line, the holder's CI), runs the robot, keeps the screenshot in the evidence
folder and posts it to the ticket as an internal note. Input is checked before anything is touched, so a
bad ticket changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from pages.errors import InvalidInput
from robots.base import valid_line
from robots.evidence import Evidence, note_key, note_marker
from robots.planificate import PreanalysisRequest
from robots.qvantel import ConfirmLineRequest, LineStatusRequest
from robots.zendesk import NoteResult, TicketData

from flows.toolkit import Toolkit


class StepReport(BaseModel):
    """What a step did, for the agent's screen or ``--json``."""

    step: str
    ticket: int
    summary: str
    result: dict[str, Any]
    note: NoteResult | None = None
    evidence_files: list[Path] = Field(default_factory=list)


def evidence_note_body(title: str, summary: str, evidence: list[Evidence]) -> str:
    """The text of an internal evidence note: what it proves, and each file's fingerprint."""
    lines = [f"[Evidencia RPA] {title}", summary, ""]
    for item in evidence:
        lines.append(f"- {item.filename} · portal {item.portal} · paso {item.step} · "
                     f"{item.taken_at:%Y-%m-%d %H:%M:%S} UTC · SHA-256 {item.sha256}")
    return "\n".join(lines)


def post_evidence(toolkit: Toolkit, ticket_id: int, step: str, title: str, summary: str,
                  evidence: list[Evidence], key: str) -> tuple[NoteResult, list[Path]]:
    """Keep the evidence on disk and post it as one internal note carrying the step's marker."""
    files = [toolkit.evidence.save(item, ticket_id).path for item in evidence]
    body = evidence_note_body(title, summary, evidence)
    note = toolkit.zendesk.add_internal_note(ticket_id, body, evidence, key=key)
    return note, files


def _ticket_with_line(toolkit: Toolkit, ticket_id: int) -> tuple[TicketData, str]:
    if ticket_id <= 0:
        raise InvalidInput(f"ticket number must be positive, got {ticket_id}")
    ticket = toolkit.zendesk.ticket(ticket_id)
    if not ticket.line:
        raise InvalidInput(f"ticket {ticket_id} has no line to migrate (field 'Línea a migrar' is empty)")
    try:
        line = valid_line(ticket.line)
    except InvalidInput as exc:
        raise InvalidInput(f"ticket {ticket_id}: field 'Línea a migrar' {exc.message}") from exc
    return ticket, line


def _report(step: str, ticket_id: int, title: str, summary: str, result: BaseModel,
            evidence: list[Evidence], toolkit: Toolkit) -> StepReport:
    note, files = None, []
    if evidence:
        key = note_key(ticket_id, step, *(item.sha256 for item in evidence))
        note, files = post_evidence(toolkit, ticket_id, step, title, summary, evidence, key)
    return StepReport(step=step, ticket=ticket_id, summary=summary,
                      result=result.model_dump(mode="json", exclude={"evidence"}),
                      note=note, evidence_files=files)


def preanalysis(toolkit: Toolkit, ticket_id: int) -> StepReport:
    """PROCESS.md 2.2-2.3: Planifícate on the ticket's line; the screenshot goes to the ticket whatever it says."""
    _, line = _ticket_with_line(toolkit, ticket_id)
    result = toolkit.planificate.preanalysis(PreanalysisRequest(line=line))
    return _report("preanalysis", ticket_id, f"Preanálisis Planifícate - línea {line}",
                   result.summary(), result, result.evidence, toolkit)


def line_status(toolkit: Toolkit, ticket_id: int) -> StepReport:
    """PROCESS.md 3.1-3.2: the line's state in Qvantel (confirmed? SIM recovered in 24 h?) as evidence."""
    _, line = _ticket_with_line(toolkit, ticket_id)
    result = toolkit.qvantel.line_status(LineStatusRequest(line=line))
    return _report("line-status", ticket_id, f"Estado de la línea en Qvantel - línea {line}",
                   result.summary(), result, result.evidence, toolkit)


def confirm_line(toolkit: Toolkit, ticket_id: int, acmo: str | None = None) -> StepReport:
    """PROCESS.md 5: confirm the line's registration in Qvantel with the holder's CI and register the ACMO."""
    ticket, line = _ticket_with_line(toolkit, ticket_id)
    if not ticket.holder_ci:
        raise InvalidInput(f"ticket {ticket_id} has no holder CI (field 'CI del titular' is empty)")
    result = toolkit.qvantel.confirm_line(ConfirmLineRequest(
        line=line, holder_ci=ticket.holder_ci, acmo=acmo or toolkit.settings.acmo_code))
    return _report("confirm-line", ticket_id, f"Línea confirmada en Qvantel - línea {line}",
                   result.summary(), result, result.evidence, toolkit)


__all__ = ["StepReport", "confirm_line", "line_status", "note_marker", "preanalysis", "post_evidence"]
