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
from robots.ar import MigrationOutcome, MigrationRequest, MigrationStateRequest, TokenRequest
from robots.base import valid_line
from robots.bccs import BillingChangeRequest, DebtRequest
from robots.contrato import (
    AnalysisRequest,
    Backup,
    BackupKind,
    ContractRequest,
    DismissRequest,
    PrintRequest,
    TaskQuery,
    TaskReply,
)
from robots.evidence import Evidence, note_key
from robots.impuestos import NitRequest
from robots.planificate import PreanalysisRequest
from robots.qvantel import ConfirmLineRequest, LineStatusRequest
from robots.syshelp import DerivationRequest
from robots.zendesk import NoteResult, TicketData

from flows.engine.toolkit import Toolkit


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


def post_evidence(toolkit: Toolkit, ticket_id: int, title: str, summary: str, evidence: list[Evidence],
                  *, key: str) -> tuple[NoteResult, list[Path]]:
    """Keep the evidence on disk and post it as one internal note carrying the step's marker."""
    files = [toolkit.evidence.save(item, ticket_id).path for item in evidence]
    body = evidence_note_body(title, summary, evidence)
    note = toolkit.zendesk.add_internal_note(ticket_id, body, evidence, key=key)
    return note, files


def _ticket_with_line(toolkit: Toolkit, ticket_id: int) -> tuple[TicketData, str]:
    ticket = toolkit.zendesk.ticket(_positive(ticket_id))
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
        note, files = post_evidence(toolkit, ticket_id, title, summary, evidence, key=key)
    return StepReport(step=step, ticket=ticket_id, summary=summary,
                      result=result.model_dump(mode="json", exclude={"evidence"}),
                      note=note, evidence_files=files)


def preanalysis(toolkit: Toolkit, ticket_id: int) -> StepReport:
    """PROCESS.md 2.2-2.3: Planifícate on the ticket's line; the screenshot goes to the ticket whatever it says."""
    _, line = _ticket_with_line(toolkit, ticket_id)
    result = toolkit.planificate.preanalysis(PreanalysisRequest(line=line))
    return _report("preanalysis", ticket_id, f"{NOTE_TITLES[BackupKind.PREANALYSIS]} - línea {line}",
                   result.summary(), result, result.evidence, toolkit)


def line_status(toolkit: Toolkit, ticket_id: int) -> StepReport:
    """PROCESS.md 3.1-3.2: the line's state in Qvantel (confirmed? SIM recovered in 24 h?) as evidence."""
    _, line = _ticket_with_line(toolkit, ticket_id)
    result = toolkit.qvantel.line_status(LineStatusRequest(line=line))
    return _report("line-status", ticket_id, f"{LINE_STATE_TITLE} - línea {line}",
                   result.summary(), result, result.evidence, toolkit)


def confirm_line(toolkit: Toolkit, ticket_id: int, acmo: str | None = None) -> StepReport:
    """PROCESS.md 5: confirm the line's registration in Qvantel with the holder's CI and register the ACMO."""
    ticket, line = _ticket_with_line(toolkit, ticket_id)
    result = toolkit.qvantel.confirm_line(ConfirmLineRequest(
        line=line, holder_ci=_required(ticket.holder_ci, ticket_id, "CI del titular"),
        acmo=acmo or toolkit.settings.acmo_code))
    return _report("confirm-line", ticket_id, f"{NOTE_TITLES[BackupKind.LINE_CONFIRMED]} - línea {line}",
                   result.summary(), result, result.evidence, toolkit)


def issue_token(toolkit: Toolkit, ticket_id: int) -> StepReport:
    """PROCESS.md 7.2: AR sends the migration token by SMS (from 7371) to the ticket's line."""
    _, line = _ticket_with_line(toolkit, ticket_id)
    issued = toolkit.ar.issue_token(TokenRequest(line=line))
    summary = (f"AR envió el token por SMS desde {issued.sender} a la línea {line}; "
               f"vence a las {issued.expires_at:%H:%M:%S} ({issued.expires_in_seconds} s).")
    return _report("token", ticket_id, "Token AR", summary, issued, [], toolkit)


def migrate(toolkit: Toolkit, ticket_id: int, token: str, plan: str) -> StepReport:
    """PROCESS.md 7.6: migrate in AR with the customer's token; an AR error or debt leaves its screenshot.

    An agent's single step is never a second migration: the line's migration state is read first.
    """
    ticket, line = _ticket_with_line(toolkit, ticket_id)
    state = toolkit.ar.migration_state(MigrationStateRequest(line=line))
    if state.migrated:
        summary = f"La línea {line} ya fue migrada ({state.plan}); no se migra otra vez."
        return _report("migrate", ticket_id, "Migración AR", summary, state, [], toolkit)
    try:
        request = MigrationRequest(line=line, token=token, plan=plan, city=ticket.city or "-",
                                   billing_address=ticket.city or "-")
    except ValueError as exc:
        raise InvalidInput(f"migration request: {exc}") from exc
    result = toolkit.ar.migrate(request)
    title = (NOTE_TITLES[BackupKind.AR_ERROR] if result.outcome == MigrationOutcome.REFUSED
             else "Deuda histórica informada por AR")
    summary = f"AR: {result.outcome.value} · plan {result.plan} · {result.message}"
    return _report("migrate", ticket_id, f"{title} - línea {line}", summary, result, result.evidence, toolkit)


def migration_state(toolkit: Toolkit, ticket_id: int) -> StepReport:
    """Whether AR already migrated the ticket's line (what the runner reads to never migrate twice)."""
    _, line = _ticket_with_line(toolkit, ticket_id)
    state = toolkit.ar.migration_state(MigrationStateRequest(line=line))
    summary = (f"Línea {line}: {'migrada' if state.migrated else 'no migrada'} · {state.plan_type} · {state.plan}")
    return _report("migration-state", ticket_id, "Estado de migración AR", summary, state, [], toolkit)


def historical_debt(toolkit: Toolkit, ticket_id: int) -> StepReport:
    """PROCESS.md 7.7 b: the holder's historical debt in BCCS, screenshot to an internal note."""
    ticket = toolkit.zendesk.ticket(_positive(ticket_id))
    ci = _required(ticket.holder_ci, ticket_id, "CI del titular")
    result = toolkit.bccs.historical_debt(DebtRequest(ci=ci))
    return _report("debt", ticket_id, "Deuda histórica en BCCS", result.summary(), result, result.evidence, toolkit)


def change_billing(toolkit: Toolkit, ticket_id: int, name: str | None, nit: str | None) -> StepReport:
    """PROCESS.md 8.1: billing to a third party, changed in BCCS (defaults: the ticket's billing fields)."""
    ticket, line = _ticket_with_line(toolkit, ticket_id)
    billing_name = name or _required(ticket.billing_name, ticket_id, "Facturación a nombre de")
    document = nit or ticket.billing_nit
    request = BillingChangeRequest(line=line, name=billing_name, document_type="NIT" if document else "CI",
                                   document_number=document or _required(ticket.holder_ci, ticket_id, "CI del titular"))
    result = toolkit.bccs.change_billing_holder(request)
    return _report("billing", ticket_id, "Cambio de datos de facturación en BCCS", result.summary(), result,
                   result.evidence, toolkit)


def lookup_nit(toolkit: Toolkit, ticket_id: int, nit: str | None) -> StepReport:
    """PROCESS.md 1 a): is the billing NIT a government entity? (tax registry, screenshot to a note)"""
    ticket = toolkit.zendesk.ticket(_positive(ticket_id))
    number = nit or _required(ticket.billing_nit, ticket_id, "NIT de facturación")
    result = toolkit.impuestos.lookup_nit(NitRequest(nit=number))
    return _report("nit", ticket_id, "Consulta de NIT en el padrón", result.summary(), result, result.evidence, toolkit)


def derive_to_government(toolkit: Toolkit, ticket_id: int, email: str, description: str | None) -> StepReport:
    """PROCESS.md 1 b): Syshelp derivation "Derivación B2B / Ejecutivos Gobierno" with the ticket's data."""
    ticket, line = _ticket_with_line(toolkit, ticket_id)
    result = toolkit.syshelp.derive_to_government_executive(DerivationRequest(
        entity_name=_required(ticket.billing_name, ticket_id, "Facturación a nombre de"),
        contact_name=_required(ticket.holder_name, ticket_id, "Nombre del titular"),
        phone=line, email=email,
        description=description or f"Migración prepago a pospago de la línea {line}, facturación a "
                                   f"{ticket.billing_name} (NIT {ticket.billing_nit or '-'})."))
    return _report("derive", ticket_id, "Derivación Syshelp a Ejecutivos Gobierno", result.summary(), result,
                   result.evidence, toolkit)


def contract(toolkit: Toolkit, ticket_id: int, plan: str, *, analysis: bool) -> StepReport:
    """PROCESS.md 8.2-8.3 (or 9.2 with ``analysis``): the digital contract with the backups found in the
    ticket's internal notes and the customer's photos; printed as PDF to a note, or sent to the analysts."""
    ticket, line = _ticket_with_line(toolkit, ticket_id)
    backups = backups_from_ticket(toolkit, ticket_id)
    fields = {"line": line, "holder_name": _required(ticket.holder_name, ticket_id, "Nombre del titular"),
              "holder_ci": _required(ticket.holder_ci, ticket_id, "CI del titular"), "plan": plan,
              "city": ticket.city or "-", "backups": list(backups.values())}
    if analysis:
        sent = toolkit.contrato.send_to_analysis(AnalysisRequest(**fields))
        summary = f"Contrato {sent.contract_number} enviado a análisis de activaciones: tarea {sent.task_number}."
        return _report("contract", ticket_id, "Contrato enviado a análisis", summary, sent, sent.evidence, toolkit)
    saved = toolkit.contrato.upload_contract(ContractRequest(**fields))
    pdf = toolkit.contrato.print_contract(PrintRequest(contract_number=saved.contract_number))
    summary = (f"Contrato {saved.contract_number} guardado con {len(backups)} respaldos "
               f"({', '.join(k.label for k in backups)}) e impreso en PDF.")
    return _report("contract", ticket_id, f"Contrato digital {saved.contract_number} (PDF)", summary, saved,
                   pdf.evidence, toolkit)


def task_status(toolkit: Toolkit, ticket_id: int, task: str) -> StepReport:
    """PROCESS.md 9.4: the activations analysts' answer to a task."""
    _positive(ticket_id)
    answer = toolkit.contrato.task_answer(TaskQuery(task_number=task))
    summary = f"Tarea {answer.task_number}: {answer.status.value}" + (
        f" · falta {answer.missing_backup}" if answer.missing_backup else "") + (
        f" · motivo: {answer.reason}" if answer.reason else "")
    return _report("task", ticket_id, "Tarea de activaciones", summary, answer, [], toolkit)


def answer_task(toolkit: Toolkit, ticket_id: int, task: str) -> StepReport:
    """PROCESS.md 9.4 b1: answer an observed task with the missing backup taken from the ticket's notes."""
    answer = toolkit.contrato.task_answer(TaskQuery(task_number=task))
    kind = answer.missing_kind
    backup = backups_from_ticket(toolkit, ticket_id).get(kind) if kind else None
    if backup is None:
        raise InvalidInput(f"task {task} asks for {answer.missing_backup or 'nothing'!r}, which is not in the "
                           f"internal notes of ticket {ticket_id}: ask the customer (macro Subsanar Observación)")
    result = toolkit.contrato.answer_task(TaskReply(task_number=task, backup=backup))
    summary = f"Tarea {task} respondida con {kind.label}: ahora {result.status.value}."
    return _report("answer-task", ticket_id, "Respuesta a tarea de activaciones", summary, result, [], toolkit)


def dismiss_task(toolkit: Toolkit, ticket_id: int, task: str, reason: str) -> StepReport:
    """PROCESS.md 9.4 c1: complete the task as "desestimado" with the reason; screenshot to a note."""
    _positive(ticket_id)
    result = toolkit.contrato.dismiss_task(DismissRequest(task_number=task, reason=reason))
    return _report("dismiss-task", ticket_id, "Tarea desestimada", f"Tarea {task} desestimada: {reason}",
                   result, result.evidence, toolkit)


# ---------------------------------------------------------------------------------------------
# Backups from the ticket (PROCESS.md 8.2)
# ---------------------------------------------------------------------------------------------
#: First words of the evidence notes of each backup, as the agent's steps and the flow write them.
NOTE_TITLES = {
    BackupKind.PREANALYSIS: "Preanálisis Planifícate",
    BackupKind.LINE_CONFIRMED: "Línea confirmada en Qvantel",
    BackupKind.TERMS_ACCEPTANCE: "Aceptación de T&C",
    BackupKind.AR_ERROR: "Error del Activador Regional",
}
#: The line's state (3.2) stands in for the confirmed line (5.1) when the line was already confirmed.
LINE_STATE_TITLE = "Estado de la línea en Qvantel"


def backups_from_ticket(toolkit: Toolkit, ticket_id: int) -> dict[BackupKind, Backup]:
    """Download the contract's backups from the ticket: the evidence notes and the customer's photos.

    The newest note of each kind wins; the customer's photos are recognised by their file names.
    """
    ticket = toolkit.zendesk.ticket(ticket_id)
    found: dict[BackupKind, Backup] = {}
    for comment in toolkit.zendesk.comments(ticket_id):
        kinds: list[BackupKind] = []
        first_line = comment.body.splitlines()[0] if comment.body else ""
        if not comment.public and first_line.startswith("[Evidencia RPA]"):
            title = first_line.removeprefix("[Evidencia RPA]").strip()
            kinds = [k for k, prefix in NOTE_TITLES.items() if title.startswith(prefix)]
            if title.startswith(LINE_STATE_TITLE) and BackupKind.LINE_CONFIRMED not in found:
                kinds = [BackupKind.LINE_CONFIRMED]
        for attachment in comment.attachments:
            kind = kinds[0] if kinds else None
            if kind is None and comment.public and comment.author_id == ticket.requester_id:
                kind = BackupKind.of_customer_file(attachment.file_name)
            if kind is not None:
                found[kind] = Backup(kind=kind, file_name=attachment.file_name, content_type=attachment.content_type,
                                     content=toolkit.zendesk.download(attachment.content_url))
    return found


def _positive(ticket_id: int) -> int:
    if ticket_id <= 0:
        raise InvalidInput(f"ticket number must be positive, got {ticket_id}")
    return ticket_id


def _required(value: str | None, ticket_id: int, field: str) -> str:
    if not value:
        raise InvalidInput(f"ticket {ticket_id} has no '{field}' (the field is empty)")
    return value
