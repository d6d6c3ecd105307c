"""The agent's single steps: one robot step for one ticket, its evidence left on the ticket.

An agent working a WhatsApp ticket runs ``rpa step NAME --ticket N``: the adapter reads what the step needs
from the ticket's fields (the line, the holder's CI), runs the shared step (``flows.steps``) and posts its
evidence as an internal note. Input is checked before anything is touched, so a bad ticket changes nothing.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from flows.engine.run_store import RunStore
from flows.engine.toolkit import Toolkit
from flows.steps import consoles, evidence_notes
from flows.steps.consoles import Done
from flows.steps.tickets import positive_ticket, required_field, ticket_with_line
from pages.errors import InvalidInput
from robots.ar import MigrationRequest
from robots.bccs import BillingChangeRequest, DocumentType
from robots.contrato import AnalysisRequest, ContractRequest
from robots.evidence import note_key
from robots.syshelp import DerivationRequest
from robots.zendesk import NoteResult

#: Steps that change a console: refused while the ticket's flow is live, since the flow makes them itself.
WRITE_STEPS = frozenset(
    {"confirm-line", "token", "migrate", "billing", "derive", "contract", "answer-task", "dismiss-task"}
)


#: Who asked for the step from the Zendesk panel: named in the note the step posts (the CLI leaves it unset).
requested_by: ContextVar[str | None] = ContextVar("requested_by", default=None)


def refuse_if_flow_is_live(store: RunStore, ticket_id: int, step: str) -> None:
    """A person's write step on a ticket whose flow is running or waiting would race the flow's own write:
    it is refused with what the flow is doing. Read steps (evidence, states) are always allowed."""
    live = [run for run in store.flows(limit=10_000) if run.ticket_id == ticket_id and run.state.live]
    if live:
        run = live[0]
        doing = f"waiting for {run.waiting_for}" if run.waiting_for else f"at '{run.activity or 'start'}'"
        raise InvalidInput(
            f"ticket {ticket_id} has a live flow ({run.flow_id}, {doing}): it makes the '{step}' write itself; "
            f"answer it with `rpa flow send` or let it end before running this step by hand"
        )


class StepReport(BaseModel):
    """What a step did, for the agent's screen or ``--json``."""

    step: str
    ticket: int
    summary: str
    result: dict[str, Any]
    note: NoteResult | None = None
    evidence_files: list[Path] = Field(default_factory=list)


def _report(toolkit: Toolkit, ticket_id: int, done: Done[Any], *, summary: str | None = None) -> StepReport:
    """Post the step's evidence (when it has any) as an internal note keyed by the screenshots themselves."""
    note: NoteResult | None = None
    files: list[Path] = []
    summary = summary or done.summary
    if requested_by.get():
        summary = f"{summary} (pedido por {requested_by.get()} desde el panel)"
    if done.evidence:
        key = note_key(ticket_id, done.step, *(item.sha256 for item in done.evidence))
        note, files = evidence_notes.post(toolkit, ticket_id, done.title, summary, done.evidence, key=key)
    return StepReport(
        step=done.step,
        ticket=ticket_id,
        summary=summary,
        result=done.result.model_dump(mode="json", exclude={"evidence"}),
        note=note,
        evidence_files=files,
    )


def preanalysis(toolkit: Toolkit, ticket_id: int) -> StepReport:
    _, line = ticket_with_line(toolkit, ticket_id)
    return _report(toolkit, ticket_id, consoles.preanalysis(toolkit, line))


def line_status(toolkit: Toolkit, ticket_id: int) -> StepReport:
    _, line = ticket_with_line(toolkit, ticket_id)
    return _report(toolkit, ticket_id, consoles.line_status(toolkit, line))


def confirm_line(toolkit: Toolkit, ticket_id: int, acmo: str | None = None) -> StepReport:
    ticket, line = ticket_with_line(toolkit, ticket_id)
    holder_ci = required_field(ticket.holder_ci, ticket_id, "CI del titular")
    return _report(
        toolkit, ticket_id, consoles.confirm_line(toolkit, line, holder_ci, acmo or toolkit.settings.acmo_code)
    )


def issue_token(toolkit: Toolkit, ticket_id: int) -> StepReport:
    _, line = ticket_with_line(toolkit, ticket_id)
    return _report(toolkit, ticket_id, consoles.issue_token(toolkit, line))


def migrate(toolkit: Toolkit, ticket_id: int, token: str, plan: str) -> StepReport:
    """An agent's migration is never a second one: the line's migration state is read first."""
    ticket, line = ticket_with_line(toolkit, ticket_id)
    state = consoles.migration_state(toolkit, line)
    if state.result.migrated:
        return _report(
            toolkit,
            ticket_id,
            state,
            summary=f"La línea {line} ya fue migrada ({state.result.plan}); no se migra otra vez.",
        )
    try:
        request = MigrationRequest(
            line=line, token=token, plan=plan, city=ticket.city or "-", billing_address=ticket.city or "-"
        )
    except ValueError as exc:
        raise InvalidInput(f"migration request: {exc}") from exc
    return _report(toolkit, ticket_id, consoles.migrate(toolkit, request))


def migration_state(toolkit: Toolkit, ticket_id: int) -> StepReport:
    _, line = ticket_with_line(toolkit, ticket_id)
    return _report(toolkit, ticket_id, consoles.migration_state(toolkit, line))


def historical_debt(toolkit: Toolkit, ticket_id: int) -> StepReport:
    ticket = toolkit.zendesk.ticket(positive_ticket(ticket_id))
    ci = required_field(ticket.holder_ci, ticket_id, "CI del titular")
    return _report(toolkit, ticket_id, consoles.historical_debt(toolkit, ci))


def change_billing(toolkit: Toolkit, ticket_id: int, name: str | None, nit: str | None) -> StepReport:
    """Defaults: the ticket's billing fields; without a NIT the holder's CI is the document."""
    ticket, line = ticket_with_line(toolkit, ticket_id)
    billing_name = name or required_field(ticket.billing_name, ticket_id, "Facturación a nombre de")
    document = nit or ticket.billing_nit
    request = BillingChangeRequest(
        line=line,
        name=billing_name,
        document_type=DocumentType.NIT if document else DocumentType.CI,
        document_number=document or required_field(ticket.holder_ci, ticket_id, "CI del titular"),
    )
    return _report(toolkit, ticket_id, consoles.change_billing(toolkit, request))


def lookup_nit(toolkit: Toolkit, ticket_id: int, nit: str | None) -> StepReport:
    ticket = toolkit.zendesk.ticket(positive_ticket(ticket_id))
    number = nit or required_field(ticket.billing_nit, ticket_id, "NIT de facturación")
    return _report(toolkit, ticket_id, consoles.lookup_nit(toolkit, number))


def derive_to_government(toolkit: Toolkit, ticket_id: int, email: str, description: str | None) -> StepReport:
    ticket, line = ticket_with_line(toolkit, ticket_id)
    request = DerivationRequest(
        entity_name=required_field(ticket.billing_name, ticket_id, "Facturación a nombre de"),
        contact_name=required_field(ticket.holder_name, ticket_id, "Nombre del titular"),
        phone=line,
        email=email,
        description=description
        or f"Migración prepago a pospago de la línea {line}, facturación a "
        f"{ticket.billing_name} (NIT {ticket.billing_nit or '-'}).",
    )
    return _report(toolkit, ticket_id, consoles.derive_to_government(toolkit, request))


def contract(toolkit: Toolkit, ticket_id: int, plan: str, *, analysis: bool) -> StepReport:
    """The contract with the backups found in the ticket's internal notes and the customer's photos: saved
    and printed as PDF to a note, or (``analysis``) sent to the activations analysts."""
    ticket, line = ticket_with_line(toolkit, ticket_id)
    backups = evidence_notes.backups_from_ticket(toolkit, ticket_id)
    fields = {
        "line": line,
        "holder_name": required_field(ticket.holder_name, ticket_id, "Nombre del titular"),
        "holder_ci": required_field(ticket.holder_ci, ticket_id, "CI del titular"),
        "plan": plan,
        "city": ticket.city or "-",
        "backups": list(backups.values()),
    }
    if analysis:
        return _report(toolkit, ticket_id, consoles.send_to_analysis(toolkit, AnalysisRequest(**fields)))
    saved = consoles.upload_contract(toolkit, ContractRequest(**fields))
    pdf = consoles.print_contract(toolkit, saved.result.contract_number)
    printed = Done("contract", saved.result, pdf.title, pdf.summary, pdf.evidence)
    return _report(toolkit, ticket_id, printed, summary=f"{saved.summary[:-1]} e impreso en PDF.")


def task_status(toolkit: Toolkit, ticket_id: int, task: str) -> StepReport:
    positive_ticket(ticket_id)
    return _report(toolkit, ticket_id, consoles.task_answer(toolkit, task))


def answer_task(toolkit: Toolkit, ticket_id: int, task: str) -> StepReport:
    """PROCESS.md 9.4 b1: answer an observed task with the missing backup taken from the ticket's notes."""
    answer = consoles.task_answer(toolkit, task).result
    kind = answer.missing_kind
    backup = evidence_notes.backups_from_ticket(toolkit, ticket_id).get(kind) if kind else None
    if backup is None:
        raise InvalidInput(
            f"task {task} asks for {answer.missing_backup or 'nothing'!r}, which is not in the "
            f"internal notes of ticket {ticket_id}: ask the customer (macro Subsanar Observación)"
        )
    return _report(toolkit, ticket_id, consoles.answer_task(toolkit, task, backup))


def dismiss_task(toolkit: Toolkit, ticket_id: int, task: str, reason: str) -> StepReport:
    positive_ticket(ticket_id)
    return _report(toolkit, ticket_id, consoles.dismiss_task(toolkit, task, reason))
