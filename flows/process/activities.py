"""The migration flow's side effects: each function is one durable step that calls robots.

The flow definition (``flows.process.migration``) decides; these functions act. Each runs as a DBOS step and is
recorded in the run store (duration, attempts, outcome, evidence, and on failure the console's last
screenshot and a Playwright trace). Steps return small pydantic values (no image bytes: evidence is
kept on disk and in Zendesk), which DBOS checkpoints so a resumed flow does not act twice.

Evidence notes carry a marker made of the flow id and the step's position in the flow, so a step run
again after a crash finds its note already on the ticket and does not post it twice.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from dbos import DBOS, StepOptions
from loguru import logger
from pydantic import BaseModel, Field

from pages.errors import ApplicationError, RPAError
from robots.ar import MigrationInDoubt, MigrationOutcome, MigrationRequest, MigrationStateRequest, TokenRequest
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
from robots.conversation import ConversationLine
from robots.evidence import Evidence, note_key
from robots.impuestos import NitRequest
from robots.planificate import PreanalysisRequest
from robots.qvantel import ConfirmLineRequest, LineStatusRequest
from robots.retry import retries_made
from robots.syshelp import DerivationRequest
from robots.zendesk import CommentData, TicketData

from flows.reporting import page as report
from flows.engine import runtime
from flows.steps.steps import LINE_STATE_TITLE, NOTE_TITLES, post_evidence
from flows.engine.run_store import EvidenceRecord

#: Evidence recorded by the step that is running, for the run store (one list per thread of work).
_step_evidence: ContextVar[list[EvidenceRecord]] = ContextVar("step_evidence")

P = ParamSpec("P")
R = TypeVar("R")

MIGRATION_FENCE = "ar-migration"


class StepEvidence(BaseModel):
    """Evidence a step kept, as the flow and the report see it."""

    files: list[str] = Field(default_factory=list)
    note_id: int | None = None


def _current_ids() -> tuple[str, int]:
    return DBOS.workflow_id or "no-flow", DBOS.step_id or 0


def activity(fn: Callable[P, R]) -> Callable[P, R]:
    """Record a step in the run store; on failure keep the consoles' last screenshot and trace."""

    @functools.wraps(fn)
    def recorded(*args: P.args, **kwargs: P.kwargs) -> R:
        rt = runtime.current()
        flow_id, step_id = _current_ids()
        key = f"{step_id:04d}-{fn.__name__}"
        node = rt.store.flow(flow_id)
        rt.store.step_started(flow_id, key, step_id, fn.__name__, node.activity if node else None)
        retries_made.set(0)
        _step_evidence.set([])
        try:
            result = fn(*args, **kwargs)
        except RPAError as exc:
            shot, trace = (None, None)
            if isinstance(exc, ApplicationError):
                shot, trace = rt.toolkit.save_failure(rt.failures_dir / flow_id, key, exc.portal)
            rt.store.step_ended(flow_id, key, attempts=1 + retries_made.get(), outcome="failed",
                                error=f"{type(exc).__name__}: {exc}", screenshot=_str(shot), trace=_str(trace),
                                evidence=_step_evidence.get())
            raise
        rt.store.step_ended(flow_id, key, attempts=1 + retries_made.get(), outcome=_outcome_of(result),
                            evidence=_step_evidence.get())
        return result

    return recorded


def run(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run an activity as a durable DBOS step (called from the flow definition)."""
    return DBOS.run_step(StepOptions(name=fn.__name__), fn, *args, **kwargs)


def _str(path: Path | None) -> str | None:
    return str(path) if path else None


def _outcome_of(result: Any) -> str:
    for name in ("outcome", "verdict", "status"):
        value = getattr(result, name, None)
        if value is not None:
            return str(getattr(value, "value", value))
    if isinstance(result, bool):
        return "yes" if result else "no"
    return "done"


def _post(ticket_id: int, title: str, summary: str, evidence: list[Evidence]) -> StepEvidence:
    """Save evidence and post it as an internal note marked with this step's place in the flow."""
    flow_id, step_id = _current_ids()
    note, files = post_evidence(runtime.current().toolkit, ticket_id, title, summary, evidence,
                                key=note_key(flow_id, step_id))
    _record(files, evidence, note.comment_id)
    return StepEvidence(files=[str(p) for p in files], note_id=note.comment_id)


def _keep(ticket_id: int, evidence: list[Evidence]) -> list[str]:
    """Save evidence on disk only (the process does not ask for it in Zendesk)."""
    paths = [runtime.current().toolkit.evidence.save(item, ticket_id).path for item in evidence]
    _record(paths, evidence, None)
    return [str(p) for p in paths]


def _record(paths: list[Path], evidence: list[Evidence], note_id: int | None) -> None:
    """Note the step's evidence for the run store (and so for the run report)."""
    _step_evidence.get().extend(EvidenceRecord(file=str(path), sha256=item.sha256, portal=item.portal,
                                               description=item.description, note_id=note_id)
                                for path, item in zip(paths, evidence, strict=True))


# ---------------------------------------------------------------------------------------------
# Bookkeeping
# ---------------------------------------------------------------------------------------------
def enter_activity(name: str) -> str:
    """Mark the process node the flow is in (the report draws the path from these)."""
    flow_id, _ = _current_ids()
    runtime.current().store.enter_activity(flow_id, name)
    return name


def flow_begins(ticket_id: int) -> int:
    """Register the flow in the run store and note the ticket's newest comment: the worker forwards only
    what the customer writes after it."""
    rt = runtime.current()
    flow_id, _ = _current_ids()
    # The mark is read first and written with the flow's row: the watcher must never see the flow without it.
    newest = max((c.id for c in rt.toolkit.zendesk.comments(ticket_id)), default=0)
    rt.store.flow_started(flow_id, ticket_id, "migration", watch_after=newest)
    return newest


def flow_ends(activity: str, outcome: str) -> str:
    flow_id, _ = _current_ids()
    store = runtime.current().store
    store.enter_activity(flow_id, activity)
    store.update_flow(flow_id, state="ended", outcome=outcome, waiting_for=None)
    report.write_quietly(runtime.current().settings, flow_id, store)
    return outcome


def flow_fails(error: str) -> str:
    flow_id, _ = _current_ids()
    runtime.current().store.update_flow(flow_id, state="failed", error=error, waiting_for=None)
    report.write_quietly(runtime.current().settings, flow_id, runtime.current().store)
    return error


def set_waiting(waiting_for: str | None) -> None:
    """Tell readers of the run store what the flow waits for (bookkeeping, not recorded as a process step)."""
    flow_id, _ = _current_ids()
    runtime.current().store.update_flow(flow_id, state="waiting" if waiting_for else "running",
                                        waiting_for=waiting_for)


@activity
def plans_image(ticket_id: int, plans: list[str]) -> str:
    """The image of the current plans that the offer macros attach (PROCESS.md 3.3)."""
    rt = runtime.current()
    evidence = rt.toolkit.conversation.plans_card(plans)
    return str(rt.toolkit.evidence.save(evidence, ticket_id).path)


# ---------------------------------------------------------------------------------------------
# Zendesk
# ---------------------------------------------------------------------------------------------
@activity
def read_ticket(ticket_id: int) -> TicketData:
    return runtime.current().toolkit.zendesk.ticket(ticket_id)


class MacroApplied(BaseModel):
    title: str
    status: str
    order_state: str | None = None
    comment_body: str = ""
    comment_id: int | None = None


@activity
def apply_macro(ticket_id: int, title: str, attachments: list[str] | None = None,
                extra_text: str | None = None) -> MacroApplied:
    """Apply a macro by its exact title and save it (reply, status, Estado de Pedido), once per visit.

    A visit is this step of this flow: its mark is committed before the macro is saved, so a step run
    again after a crash first looks for the macro's reply posted since then, and does not send it twice.
    """
    rt = runtime.current()
    zendesk = rt.toolkit.zendesk
    flow_id, step_id = _current_ids()
    visit = f"macro-{step_id}"
    if not rt.store.set_fence(flow_id, visit, detail=title):
        already = _reply_since(ticket_id, zendesk.macro_reply(title), rt.store.fence_time(flow_id, visit))
        if already is not None:
            ticket = zendesk.ticket(ticket_id)
            return MacroApplied(title=title, status=ticket.status, order_state=ticket.order_state,
                                comment_body=already.body, comment_id=already.id)
    files = [_file_evidence(Path(p)) for p in attachments or []]
    result = zendesk.apply_macro(ticket_id, title, attachments=files, extra_text=extra_text)
    return MacroApplied(title=result.title, status=result.status, order_state=result.order_state,
                        comment_body=result.comment_body, comment_id=result.comment_id)


def _reply_since(ticket_id: int, reply: str, since: datetime | None) -> CommentData | None:
    """A public comment carrying a macro's reply, written at or after ``since``.

    Zendesk stamps comments to the second and its clock is not ours: a second of slack is allowed.
    """
    if not reply or since is None:
        return None
    earliest = since.replace(microsecond=0) - timedelta(seconds=1)
    comments = runtime.current().toolkit.zendesk.comments(ticket_id)
    return next((c for c in reversed(comments)
                 if c.public and c.created_at >= earliest and c.body.startswith(reply)), None)


@activity
def public_reply(ticket_id: int, body: str) -> bool:
    runtime.current().toolkit.zendesk.add_public_reply(ticket_id, body)
    return True


@activity
def request_document_review(ticket_id: int, documents: list[str]) -> int | None:
    """Ask a person to look at the CI photos and selfie: an internal note they answer with #aprobar/#rechazar."""
    flow_id, step_id = _current_ids()
    body = ("Revisión de documentos requerida: verifique que el CI (anverso y reverso) y la selfie con la seña "
            "correspondan al titular. Responda con una nota interna '#aprobar' o '#rechazar Motivo: ...'.\n"
            + "\n".join(f"- {Path(d).name}" for d in documents))
    note = runtime.current().toolkit.zendesk.add_internal_note(ticket_id, body, (), key=note_key(flow_id, step_id))
    return note.comment_id


class SavedDocument(BaseModel):
    kind: str
    path: str
    comment_id: int


@activity
def save_customer_documents(ticket_id: int, comment_ids: list[int]) -> list[SavedDocument]:
    """Download the customer's CI photos and selfie to the evidence folder (personal data: internal only)."""
    rt = runtime.current()
    folder = rt.toolkit.evidence.folder_for(ticket_id) / "cliente"
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for comment in rt.toolkit.zendesk.comments(ticket_id):
        if comment.id not in comment_ids:
            continue
        for attachment in comment.attachments:
            path = folder / f"{comment.id}-{attachment.file_name}"
            if not path.exists():
                path.write_bytes(rt.toolkit.zendesk.download(attachment.content_url))
            kind = BackupKind.of_customer_file(attachment.file_name)
            saved.append(SavedDocument(kind=kind.value if kind else "otro", path=str(path),
                                       comment_id=comment.id))
    return saved


@activity
def terms_acceptance_evidence(ticket_id: int, macro_comment_id: int | None, acceptance_comment_id: int) -> StepEvidence:
    """PROCESS.md 6.4: a picture of the formal T&C macro and the customer's ACEPTO, as an internal note."""
    rt = runtime.current()
    comments = {c.id: c for c in rt.toolkit.zendesk.comments(ticket_id)}
    ticket = rt.toolkit.zendesk.ticket(ticket_id)
    lines = []
    for comment_id, who in ((macro_comment_id, "Agente"), (acceptance_comment_id, "Cliente")):
        comment = comments.get(comment_id) if comment_id else None
        if comment is not None:
            lines.append(ConversationLine(author=who, body=comment.body, at=comment.created_at))
    evidence = rt.toolkit.conversation.capture(ticket_id=ticket_id, subject=ticket.subject, lines=lines,
                                               step="terms_acceptance",
                                               description=f"Aceptación de T&C del cliente, ticket {ticket_id}")
    return _post(ticket_id, f"{NOTE_TITLES[BackupKind.TERMS_ACCEPTANCE]} (ACEPTO)",
                 "Macro formal de T&C enviada y respuesta ACEPTO del cliente.", [evidence])


def _file_evidence(path: Path) -> Evidence:
    content_type = "application/pdf" if path.suffix == ".pdf" else "image/png"
    evidence = Evidence.capture(portal="rpa", step=path.stem, description=path.name, content=path.read_bytes(),
                                content_type=content_type, extension=path.suffix.lstrip("."))
    return evidence.model_copy(update={"filename": path.name})


# ---------------------------------------------------------------------------------------------
# Consoles
# ---------------------------------------------------------------------------------------------
class PreanalysisOutcome(BaseModel):
    verdict: str
    state: str | None = None
    sim: str | None = None
    operator: str | None = None
    recommended_plans: list[str] = Field(default_factory=list)
    evidence: StepEvidence


@activity
def preanalysis(ticket_id: int, line: str) -> PreanalysisOutcome:
    """PROCESS.md 2.2-2.3: Planifícate; the screenshot goes to an internal note whatever the result."""
    result = runtime.current().toolkit.planificate.preanalysis(PreanalysisRequest(line=line))
    posted = _post(ticket_id, f"{NOTE_TITLES[BackupKind.PREANALYSIS]} - línea {line}", result.summary(), result.evidence)
    return PreanalysisOutcome(verdict=result.verdict.value, state=result.state, sim=result.sim,
                              operator=result.operator, recommended_plans=result.recommended_plans,
                              evidence=posted)


class LineState(BaseModel):
    exists: bool
    confirmed: bool
    sim_recovered_last_24h: bool
    holder_ci: str | None
    holder_name: str | None
    is_holder: bool
    evidence: StepEvidence


@activity
def line_status(ticket_id: int, line: str, customer_ci: str | None) -> LineState:
    """PROCESS.md 3.1-3.2: the line's state in Qvantel, screenshot as an internal note."""
    result = runtime.current().toolkit.qvantel.line_status(LineStatusRequest(line=line))
    posted = _post(ticket_id, f"{LINE_STATE_TITLE} - línea {line}", result.summary(), result.evidence)
    return LineState(exists=result.exists, confirmed=result.confirmed,
                     sim_recovered_last_24h=result.sim_recovered_last_24h, holder_ci=result.holder_ci,
                     holder_name=result.holder_name, is_holder=bool(customer_ci) and result.is_holder(customer_ci),
                     evidence=posted)


class Confirmation(BaseModel):
    outcome: str
    evidence: StepEvidence


@activity
def confirm_line(ticket_id: int, line: str, holder_ci: str, acmo: str) -> Confirmation:
    """PROCESS.md 5: confirm the registration in Qvantel, register the ACMO; screenshot as an internal note."""
    result = runtime.current().toolkit.qvantel.confirm_line(
        ConfirmLineRequest(line=line, holder_ci=holder_ci, acmo=acmo))
    posted = (_post(ticket_id, f"{NOTE_TITLES[BackupKind.LINE_CONFIRMED]} - línea {line}", result.summary(), result.evidence)
              if result.evidence else StepEvidence())
    return Confirmation(outcome=result.outcome.value, evidence=posted)


class TaxCheck(BaseModel):
    found: bool
    is_government: bool
    name: str | None
    files: list[str]


@activity
def lookup_nit(ticket_id: int, nit: str) -> TaxCheck:
    """PROCESS.md 1 a): is the NIT a government entity? (kept as evidence on disk)"""
    result = runtime.current().toolkit.impuestos.lookup_nit(NitRequest(nit=nit))
    return TaxCheck(found=result.found, is_government=result.is_government, name=result.name,
                    files=_keep(ticket_id, result.evidence))


@activity
def derive_to_government(ticket_id: int, entity: str, contact: str, phone: str, email: str,
                         description: str) -> str:
    """PROCESS.md 1 b): Syshelp derivation (Derivación B2B / Ejecutivos Gobierno); returns its number."""
    result = runtime.current().toolkit.syshelp.derive_to_government_executive(DerivationRequest(
        entity_name=entity, contact_name=contact, phone=phone, email=email, description=description))
    _keep(ticket_id, result.evidence)
    return result.number


class TokenSent(BaseModel):
    issued_at: float
    expires_in_seconds: int


@activity
def issue_token(line: str) -> TokenSent:
    """PROCESS.md 7.2: AR sends the token by SMS from 7371."""
    issued = runtime.current().toolkit.ar.issue_token(TokenRequest(line=line))
    return TokenSent(issued_at=issued.issued_at.timestamp(), expires_in_seconds=issued.expires_in_seconds)


class Migration(BaseModel):
    outcome: str
    message: str = ""
    plan: str | None = None
    reconciled: bool = False
    evidence: StepEvidence = Field(default_factory=StepEvidence)


@activity
def migrate_once(ticket_id: int, line: str, token: str, plan: str, city: str, billing_address: str) -> Migration:
    """PROCESS.md 7.6: the migration in AR, fenced so that it never runs twice.

    The fence is committed before the click. Finding it on entry means an earlier run of this step may
    have clicked: the line's real state in AR is read instead, and the flow goes on from the truth.
    A migration whose answer was lost (``MigrationInDoubt``) is reconciled the same way.
    """
    rt = runtime.current()
    flow_id, _ = _current_ids()
    if not rt.store.set_fence(flow_id, MIGRATION_FENCE, detail=f"line {line[-3:]}"):
        logger.warning("migration fence found for flow {}: reading the line's state instead", flow_id)
        return _reconcile(line)
    try:
        result = rt.toolkit.ar.migrate(MigrationRequest(line=line, token=token, plan=plan, city=city,
                                                        billing_address=billing_address))
    except MigrationInDoubt:
        return _reconcile(line)
    except Exception:
        # Nothing was clicked (the robot only raises other errors before "Migrar"): lift the fence.
        rt.store.clear_fence(flow_id, MIGRATION_FENCE)
        raise
    if result.outcome != MigrationOutcome.MIGRATED:
        rt.store.clear_fence(flow_id, MIGRATION_FENCE)
    posted = StepEvidence()
    if result.outcome == MigrationOutcome.REFUSED:
        posted = _post(ticket_id, f"{NOTE_TITLES[BackupKind.AR_ERROR]} - línea {line}", result.message, result.evidence)
    elif result.evidence:
        _keep(ticket_id, result.evidence)
        posted = StepEvidence(files=[])
    return Migration(outcome=result.outcome.value, message=result.message, plan=result.plan, evidence=posted)


def _reconcile(line: str) -> Migration:
    try:
        state = runtime.current().toolkit.ar.migration_state(MigrationStateRequest(line=line))
    except RPAError as exc:
        return Migration(outcome="unknown", message=f"no se pudo leer el estado de la línea: {exc}", reconciled=True)
    if state.migrated:
        return Migration(outcome=MigrationOutcome.MIGRATED.value, message="migración confirmada en AR",
                         plan=state.plan, reconciled=True)
    # The truth is known: nothing happened, so the fence is lifted and the migration may be tried again.
    flow_id, _ = _current_ids()
    runtime.current().store.clear_fence(flow_id, MIGRATION_FENCE)
    return Migration(outcome="not_migrated", message="AR no registra la migración", reconciled=True)


class Debt(BaseModel):
    amount_text: str
    has_debt: bool
    evidence: StepEvidence


@activity
def historical_debt(ticket_id: int, ci: str) -> Debt:
    """PROCESS.md 7.7 b: the historical-debt amount in BCCS, screenshot as an internal note."""
    result = runtime.current().toolkit.bccs.historical_debt(DebtRequest(ci=ci))
    posted = _post(ticket_id, "Deuda histórica en BCCS", result.summary(), result.evidence)
    return Debt(amount_text=result.amount_text, has_debt=result.has_debt, evidence=posted)


@activity
def change_billing(ticket_id: int, line: str, name: str, document_type: str, document_number: str) -> str:
    """PROCESS.md 8.1: billing to a third party, changed in BCCS."""
    result = runtime.current().toolkit.bccs.change_billing_holder(BillingChangeRequest(
        line=line, name=name, document_type=document_type, document_number=document_number))
    _keep(ticket_id, result.evidence)
    return result.outcome.value




# ---------------------------------------------------------------------------------------------
# Contrato digital
# ---------------------------------------------------------------------------------------------
#: Backups each path of the contract carries (PROCESS.md 8.3 and 9.2).
CONTRACT_BACKUPS = (BackupKind.PREANALYSIS, BackupKind.LINE_CONFIRMED, BackupKind.TERMS_ACCEPTANCE,
                    BackupKind.CI_FRONT, BackupKind.CI_BACK, BackupKind.SELFIE)


def contract_backups(backups: dict[str, str], *, analysed: bool, preanalysis_counts: bool) -> dict[str, str]:
    """The files that go with the contract: on the analysed path the AR error too, and no Planifícate
    backup when it gave no result (policy "Sin requisitos sin subsidio", PROCESS.md 9.2 note)."""
    kinds = [k for k in CONTRACT_BACKUPS if preanalysis_counts or k != BackupKind.PREANALYSIS]
    if analysed:
        kinds.append(BackupKind.AR_ERROR)
    return {k.value: backups[k.value] for k in kinds if backups.get(k.value)}


def _backups(files: dict[str, str]) -> list[Backup]:
    result = []
    for kind, path in files.items():
        file = Path(path)
        content_type = "application/pdf" if file.suffix == ".pdf" else "image/png"
        result.append(Backup(kind=BackupKind(kind), file_name=file.name, content=file.read_bytes(),
                             content_type=content_type))
    return result


def _contract_request(model: type[ContractRequest], ticket: TicketData, plan: str,
                      files: dict[str, str]) -> ContractRequest:
    return model(line=ticket.line or "", holder_name=ticket.holder_name or "", holder_ci=ticket.holder_ci or "",
                 plan=plan, city=ticket.city or "", backups=_backups(files))


@activity
def upload_contract(ticket_id: int, ticket: TicketData, plan: str, files: dict[str, str]) -> str:
    """PROCESS.md 8.3: the digital contract with its backups, saved; returns its number."""
    saved = runtime.current().toolkit.contrato.upload_contract(_contract_request(ContractRequest, ticket, plan, files))
    _keep(ticket_id, saved.evidence)
    return saved.contract_number


@activity
def print_contract(ticket_id: int, contract_number: str) -> str:
    """PROCESS.md 8.3 / 9.4 a1: print the contract as PDF; it goes to an internal note as evidence."""
    pdf = runtime.current().toolkit.contrato.print_contract(PrintRequest(contract_number=contract_number))
    posted = _post(ticket_id, f"Contrato digital {contract_number} (PDF)",
                   f"Contrato impreso, SHA-256 {pdf.sha256}.", pdf.evidence)
    return posted.files[0]


class AnalysisTask(BaseModel):
    contract_number: str
    task_number: str


@activity
def send_to_analysis(ticket_id: int, ticket: TicketData, plan: str, files: dict[str, str]) -> AnalysisTask:
    """PROCESS.md 9.2: the contract goes to the activations analysts with its backups and the AR error."""
    sent = runtime.current().toolkit.contrato.send_to_analysis(
        _contract_request(AnalysisRequest, ticket, plan, files))
    _keep(ticket_id, sent.evidence)
    return AnalysisTask(contract_number=sent.contract_number, task_number=sent.task_number)


class TaskStatus(BaseModel):
    status: str
    missing_kind: str | None = None
    missing_backup: str | None = None
    reason: str | None = None


def _task_status(answer: Any) -> TaskStatus:
    return TaskStatus(status=answer.status.value, missing_backup=answer.missing_backup, reason=answer.reason,
                      missing_kind=answer.missing_kind.value if answer.missing_kind else None)


@activity
def task_answer(task_number: str) -> TaskStatus:
    """PROCESS.md 9.4: the analysts' answer as the tasks inbox shows it."""
    return _task_status(runtime.current().toolkit.contrato.task_answer(TaskQuery(task_number=task_number)))


@activity
def answer_task(ticket_id: int, task_number: str, kind: str, path: str) -> TaskStatus:
    """PROCESS.md 9.4 b: answer the observed task with the missing backup; it goes back to the analysts."""
    [backup] = _backups({kind: path})
    return _task_status(runtime.current().toolkit.contrato.answer_task(
        TaskReply(task_number=task_number, backup=backup)))


@activity
def dismiss_task(ticket_id: int, task_number: str, reason: str) -> str:
    """PROCESS.md 9.4 c1: complete the task as "desestimado" with the reason."""
    dismissed = runtime.current().toolkit.contrato.dismiss_task(DismissRequest(task_number=task_number,
                                                                               reason=reason))
    _keep(ticket_id, dismissed.evidence)
    return dismissed.task_number
