"""The migration flow's side effects: durable steps that adapt the shared steps (``flows.steps``) to the flow.

The flow definition (``flows.process.migration``) decides; these methods act. ``MigrationActivities`` is a
DBOS configured instance built at launch with what the steps need (settings, the robots, the run store),
so nothing is found through a process-wide singleton. Each step is recorded in the run store (duration,
attempts, outcome, evidence, and on failure the console's last screenshot and a Playwright trace) and
returns small values without image bytes, which DBOS checkpoints so a resumed flow does not act twice.

Exactly-once writes are keyed by the ticket and the business write, never by a step or workflow id:
the flow numbers each visit of a write (``macro:GESTION#2``, ``evidence:line-status#1``), so a change of
the flow's code that adds a step does not move the key of any write of a flow already running.

Bookkeeping (which activity the flow is in, what it waits for, how it ended) is not a durable step: it
writes the whole state it describes, so replaying it after a crash rewrites the same rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from dbos import DBOS, DBOSClient, DBOSConfiguredInstance
from loguru import logger
from pydantic import BaseModel

from flows.engine.run_store import EvidenceRecord, RunState, RunStore
from flows.engine.settings import Settings
from flows.engine.toolkit import Toolkit
from flows.engine.worker import FlowTakenOver, StepGate
from flows.process.definition import Activity, Outcome, WaitKind
from flows.reporting import page as report
from flows.steps import consoles, evidence_notes, tickets
from flows.steps.consoles import Done
from flows.steps.evidence_notes import StepEvidence, write_key
from flows.steps.tickets import SavedDocument, backup_from_file
from pages.errors import ApplicationError, RPAError
from robots.ar import MigrationInDoubt, MigrationOutcome, MigrationRequest, MigrationState, TokenIssued
from robots.base import LineRequest
from robots.bccs import BillingChange, BillingChangeOutcome, BillingChangeRequest, DocumentType, HistoricalDebt
from robots.contrato import (
    AnalysisRequest,
    AnalysisSubmitted,
    BackupKind,
    ContractRequest,
    ContractSummary,
    TaskAnswer,
    TaskStatus,
)
from robots.impuestos import TaxpayerLookup
from robots.planificate import PreanalysisResult
from robots.qvantel import LineConfirmation, LineStatus
from robots.retry import checked_before_each_attempt, retries_made
from robots.syshelp import Derivation, DerivationRequest
from robots.zendesk import MacroResult, TicketData

#: Evidence recorded by the step that is running, for the run store (one list per thread of work).
_step_evidence: ContextVar[list[EvidenceRecord]] = ContextVar("step_evidence")

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)

T = TypeVar("T")

MIGRATION_FENCE = "ar-migration"
#: AR's short code, as the token SMS shows it (PROCESS.md 7.2).
TOKEN_SENDER = "7371"
INSTANCE_NAME = "default"


@dataclass
class Recorded(Generic[M]):
    """A step's typed result (without image bytes) and where its evidence went."""

    result: M
    evidence: StepEvidence


class MigrationDone(BaseModel):
    """The migration step's answer: what AR said to the click, or the line's real state when reconciled."""

    outcome: MigrationOutcome | None = None
    reconciled: bool = False
    line_migrated: bool | None = None  # the state read in AR when reconciled; None when it could not be read
    message: str = ""
    plan: str | None = None
    evidence: StepEvidence = StepEvidence()

    @property
    def migrated(self) -> bool:
        return self.outcome == MigrationOutcome.MIGRATED or self.line_migrated is True


def _current_ids() -> tuple[str, int]:
    return DBOS.workflow_id or "no-flow", DBOS.step_id or 0


def recorded(fn: Callable[Concatenate[MigrationActivities, P], R]) -> Callable[Concatenate[MigrationActivities, P], R]:
    """Record a step in the run store; on failure keep the consoles' last screenshot and trace."""

    @functools.wraps(fn)
    def wrapper(self: MigrationActivities, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.gate:
            return _recorded_call(self, fn, *args, **kwargs)

    return wrapper


def _recorded_call(self: MigrationActivities, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    flow_id, step_id = _current_ids()
    key = f"{step_id:04d}-{fn.__name__}"
    node = self.store.flow(flow_id)
    self.store.step_started(flow_id, key, step_id, fn.__name__, node.activity if node else None)
    retries_made.set(0)
    _step_evidence.set([])
    try:
        result = fn(self, *args, **kwargs)
    except RPAError as exc:
        shot, trace = (None, None)
        if isinstance(exc, ApplicationError):
            shot, trace = self.toolkit.save_failure(self.settings.run_dir / "failures" / flow_id, key, exc.portal)
        self.store.step_ended(
            flow_id,
            key,
            attempts=1 + retries_made.get(),
            outcome="failed",
            error=f"{type(exc).__name__}: {exc}",
            screenshot=_str(shot),
            trace=_str(trace),
            evidence=_step_evidence.get(),
        )
        raise
    self.store.step_ended(
        flow_id, key, attempts=1 + retries_made.get(), outcome=_outcome_of(result), evidence=_step_evidence.get()
    )
    return result


def _str(path: Path | None) -> str | None:
    return str(path) if path else None


def _outcome_of(result: Any) -> str:
    inner = result.result if isinstance(result, Recorded) else result
    for name in ("outcome", "verdict", "status"):
        value = getattr(inner, name, None)
        if value is not None:
            return str(getattr(value, "value", value))
    if getattr(inner, "migrated", None) is not None:
        return "migrated" if inner.migrated else "not_migrated"
    if isinstance(inner, bool):
        return "yes" if inner else "no"
    return "done"


@DBOS.dbos_class("MigrationActivities")
class MigrationActivities(DBOSConfiguredInstance):
    """The side effects of the migration flow, as durable steps over the robots of this worker."""

    def __init__(
        self,
        settings: Settings,
        toolkit: Toolkit,
        store: RunStore,
        gate: StepGate | None = None,
        client: DBOSClient | None = None,
    ) -> None:
        self.settings = settings
        self.toolkit = toolkit
        self.store = store
        self.gate = gate or StepGate()
        self.client = client  # reads who owns a flow, just before each write
        super().__init__(INSTANCE_NAME)

    # -- exactly once ---------------------------------------------------------------------------
    def _still_owner(self) -> None:
        """Refuse to write for a flow this worker no longer owns (it was paused while another took it over)."""
        if self.client is None:
            return
        flow_id, _ = _current_ids()
        found = self.client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
        owner = found[0].executor_id if found else None
        if owner is not None and owner != self.settings.executor_id:
            logger.warning("flow {} is now run by {}: this worker does not write for it", flow_id, owner)
            raise FlowTakenOver()

    def _once(
        self, ticket_id: int, write: str, make: Callable[[], T], read_back: Callable[[datetime | None], T | None]
    ) -> T:
        """Make a business write exactly once across crashes and workers.

        The write's fence (ticket, write) is committed before it is made. Finding the fence means an earlier
        run may have made it: ``read_back`` reads the real state in the console or Zendesk and, when the
        write is there, its result is used instead of writing again. Ownership of the flow is checked just
        before the write, so a worker that was only paused never writes for a flow that moved on.
        """
        flow_id, _ = _current_ids()
        self._still_owner()
        if not self.store.set_write_fence(ticket_id, write, flow_id=flow_id):
            found = read_back(self.store.write_fence_time(ticket_id, write))
            if found is not None:
                logger.info("ticket {}: {} was already made; going on from what the console shows", ticket_id, write)
                return found
        # Every attempt of the write, the robot's retries included, checks ownership first.
        with checked_before_each_attempt(self._still_owner):
            return make()

    # -- evidence -------------------------------------------------------------------------------
    def _post(self, ticket_id: int, done: Done[Any], write: str) -> StepEvidence:
        """Post a step's evidence as an internal note keyed by the ticket and the business write."""
        self._still_owner()
        note, files = evidence_notes.post(
            self.toolkit, ticket_id, done.title, done.summary, done.evidence, key=write_key(ticket_id, write)
        )
        self._record(files, done, note.comment_id)
        return StepEvidence(files=[str(p) for p in files], note_id=note.comment_id, posted=note.posted)

    def _keep(self, ticket_id: int, done: Done[Any]) -> StepEvidence:
        """Keep a step's evidence on disk only (the process does not ask for it in Zendesk)."""
        files = evidence_notes.keep(self.toolkit, ticket_id, done.evidence)
        self._record(files, done, None)
        return StepEvidence(files=[str(p) for p in files])

    @staticmethod
    def _record(paths: list[Path], done: Done[Any], note_id: int | None) -> None:
        _step_evidence.get().extend(
            EvidenceRecord(
                file=str(path), sha256=item.sha256, portal=item.portal, description=item.description, note_id=note_id
            )
            for path, item in zip(paths, done.evidence, strict=True)
        )

    # -- bookkeeping (not durable steps: each call writes the whole state it describes) -----------
    def progress(self, path: list[Activity], *, waiting: tuple[WaitKind, str, str | None] | None = None) -> None:
        """Tell readers of the run store where the flow is and what it waits for (kind, words, reference)."""
        flow_id, _ = _current_ids()
        kind, words, ref = waiting if waiting else (None, None, None)
        self.store.update_flow(
            flow_id,
            activity=path[-1].value if path else None,
            path=[a.value for a in path],
            state=RunState.WAITING if waiting else RunState.RUNNING,
            waiting_for=words,
            waiting_kind=kind.value if kind else None,
            waiting_ref=ref,
        )

    def finish(self, path: list[Activity], outcome: Outcome, detail: str | None = None) -> None:
        flow_id, _ = _current_ids()
        self.store.update_flow(
            flow_id,
            activity=path[-1].value if path else None,
            path=[a.value for a in path],
            state=RunState.ENDED,
            outcome=outcome.value,
            error=detail,
            waiting_for=None,
            waiting_kind=None,
            waiting_ref=None,
        )
        report.write_quietly(self.settings, flow_id, self.store)

    def held_by(self, ticket_id: int) -> str | None:
        """The agent who took the ticket over from the panel, if one did (read each time: not a durable step)."""
        return self.store.held_by(ticket_id)

    def fail(self, error: str) -> None:
        flow_id, _ = _current_ids()
        self.store.update_flow(
            flow_id, state=RunState.FAILED, error=error, waiting_for=None, waiting_kind=None, waiting_ref=None
        )
        report.write_quietly(self.settings, flow_id, self.store)

    # -- the ticket -------------------------------------------------------------------------------
    @DBOS.step(name="register")
    def register(self, ticket_id: int) -> int:
        """Register the flow in the run store with the ticket's newest comment: the inbox forwards only
        what is written after it (read first, written with the flow's row, so it is never seen without it)."""
        with self.gate:
            return self._register(ticket_id)

    def _register(self, ticket_id: int) -> int:
        flow_id, _ = _current_ids()
        newest = max((c.id for c in self.toolkit.zendesk.comments(ticket_id)), default=0)
        self.store.flow_started(flow_id, ticket_id, "migration", watch_after=newest)
        return newest

    @DBOS.step(name="read_ticket")
    @recorded
    def read_ticket(self, ticket_id: int) -> TicketData:
        """The ticket with its identifiers written as the consoles take them."""
        return tickets.normalised(self.toolkit.zendesk.ticket(ticket_id))

    @DBOS.step(name="apply_macro")
    @recorded
    def apply_macro(
        self,
        ticket_id: int,
        title: str,
        visit: str,
        attachments: list[str] | None = None,
        extra_text: str | None = None,
    ) -> MacroResult:
        """Apply a macro once per visit: the visit's fence is committed before the macro is saved, so a step
        run again after a crash first looks for the macro's reply posted since then and does not send it twice."""
        zendesk = self.toolkit.zendesk

        def saved_since(since: datetime | None) -> MacroResult | None:
            already = tickets.reply_since(self.toolkit, ticket_id, zendesk.macro_reply(title), since)
            if already is None:
                return None
            ticket = zendesk.ticket(ticket_id)
            return MacroResult(
                macro_id=0,
                title=title,
                status=ticket.status,
                order_state=ticket.order_state,
                comment_body=already.body,
                comment_id=already.id,
            )

        return self._once(
            ticket_id,
            visit,
            lambda: tickets.apply_macro(self.toolkit, ticket_id, title, attachments, extra_text),
            saved_since,
        )

    @DBOS.step(name="public_reply")
    @recorded
    def public_reply(self, ticket_id: int, body: str, visit: str) -> int | None:
        def posted_since(since: datetime | None) -> int | None:
            already = tickets.reply_since(self.toolkit, ticket_id, body, since)
            return already.id if already is not None else None

        return self._once(ticket_id, visit, lambda: tickets.public_reply(self.toolkit, ticket_id, body), posted_since)

    @DBOS.step(name="request_document_review")
    @recorded
    def request_document_review(self, ticket_id: int, documents: list[str], visit: str) -> int | None:
        return tickets.request_document_review(
            self.toolkit, ticket_id, documents, key=write_key(ticket_id, visit)
        ).comment_id

    @DBOS.step(name="hand_off")
    @recorded
    def hand_off(self, ticket_id: int, need: str, why: str, who: str, visit: str) -> int | None:
        """Ask a person (an internal note, the ticket open and tagged for the agents' view), once per visit."""
        self._still_owner()
        return tickets.hand_off(self.toolkit, ticket_id, need, why, who, key=write_key(ticket_id, visit)).comment_id

    @DBOS.step(name="hand_back")
    @recorded
    def hand_back(self, ticket_id: int) -> bool:
        """The person answered: the ticket leaves the agents' hand-off view (removing a tag twice is harmless)."""
        self._still_owner()
        tickets.hand_back(self.toolkit, ticket_id)
        return True

    @DBOS.step(name="robot_note")
    @recorded
    def robot_note(self, ticket_id: int, body: str, visit: str) -> int | None:
        """An internal note of the robot's own (why the flow ended, who it waits for), once per visit."""
        self._still_owner()
        return tickets.robot_note(self.toolkit, ticket_id, body, key=write_key(ticket_id, visit)).comment_id

    @DBOS.step(name="token_expired")
    @recorded
    def token_expired(self, ticket_id: int, line: str) -> bool:
        """Whether AR shows the line's newest token as expired (PROCESS.md 7.3: a second token only then)."""
        state = consoles.migration_state(self.toolkit, line).result
        if state.token_expires_at is None:
            return True  # no token AR knows of: none can still be valid
        now = datetime.now(state.token_expires_at.tzinfo)
        return now >= state.token_expires_at

    @DBOS.step(name="save_customer_documents")
    @recorded
    def save_customer_documents(self, ticket_id: int, comment_ids: list[int]) -> list[SavedDocument]:
        return tickets.save_customer_documents(self.toolkit, ticket_id, comment_ids)

    @DBOS.step(name="terms_acceptance_evidence")
    @recorded
    def terms_acceptance_evidence(
        self, ticket_id: int, macro_comment_id: int | None, acceptance_comment_id: int, visit: str
    ) -> StepEvidence:
        """PROCESS.md 6.4: the formal T&C macro and the customer's ACEPTO, as an internal note."""
        done = tickets.terms_acceptance(self.toolkit, ticket_id, macro_comment_id, acceptance_comment_id)
        return self._post(ticket_id, done, visit)

    @DBOS.step(name="plans_image")
    @recorded
    def plans_image(self, ticket_id: int, plans: list[str]) -> str:
        return tickets.plans_card(self.toolkit, ticket_id, plans)

    # -- consoles -------------------------------------------------------------------------------
    @DBOS.step(name="preanalysis")
    @recorded
    def preanalysis(self, ticket_id: int, line: str, visit: str) -> Recorded[PreanalysisResult]:
        """PROCESS.md 2.2-2.3: Planifícate; the screenshot goes to an internal note whatever the result."""
        done = consoles.preanalysis(self.toolkit, line)
        return Recorded(done.record(), self._post(ticket_id, done, visit))

    @DBOS.step(name="line_status")
    @recorded
    def line_status(self, ticket_id: int, line: str, visit: str) -> Recorded[LineStatus]:
        """PROCESS.md 3.1-3.2: the line's state in Qvantel, screenshot as an internal note."""
        done = consoles.line_status(self.toolkit, line)
        return Recorded(done.record(), self._post(ticket_id, done, visit))

    @DBOS.step(name="confirm_line")
    @recorded
    def confirm_line(
        self, ticket_id: int, line: str, holder_ci: str, acmo: str, visit: str
    ) -> Recorded[LineConfirmation]:
        """PROCESS.md 5: confirm the registration in Qvantel, register the ACMO; screenshot as an internal note.

        The robot reads the line before confirming it: a line an earlier run confirmed reads as confirmed and
        is left alone, which is this write's read-back."""
        done = self._once(
            ticket_id, visit, lambda: consoles.confirm_line(self.toolkit, line, holder_ci, acmo), lambda since: None
        )
        posted = self._post(ticket_id, done, visit) if done.evidence else StepEvidence()
        return Recorded(done.record(), posted)

    @DBOS.step(name="lookup_nit")
    @recorded
    def lookup_nit(self, ticket_id: int, nit: str) -> Recorded[TaxpayerLookup]:
        """PROCESS.md 1 a): is the NIT a government entity? (kept as evidence on disk)"""
        done = consoles.lookup_nit(self.toolkit, nit)
        return Recorded(done.record(), self._keep(ticket_id, done))

    @DBOS.step(name="derive_to_government")
    @recorded
    def derive_to_government(self, ticket_id: int, request: DerivationRequest, visit: str) -> Recorded[Derivation]:
        """PROCESS.md 1 b): Syshelp derivation (Derivación B2B / Ejecutivos Gobierno).

        The robot looks for the same derivation in "Mis tickets" before registering one: that is this
        write's read-back."""
        done = self._once(
            ticket_id, visit, lambda: consoles.derive_to_government(self.toolkit, request), lambda since: None
        )
        return Recorded(done.record(), self._keep(ticket_id, done))

    @DBOS.step(name="issue_token")
    @recorded
    def issue_token(self, ticket_id: int, line: str, visit: str) -> TokenIssued:
        """PROCESS.md 7.2: AR sends the token by SMS from 7371, once per visit: a token AR shows as sent
        since the visit's fence is that visit's token, and no second SMS goes out."""

        def sent_since(since: datetime | None) -> TokenIssued | None:
            state = consoles.migration_state(self.toolkit, line).result
            sent, expires = state.token_issued_at, state.token_expires_at
            if since is None or sent is None or expires is None or sent < since.replace(microsecond=0):
                return None
            return TokenIssued(
                line=line, sender=TOKEN_SENDER, issued_at=sent, expires_in_seconds=int((expires - sent).total_seconds())
            )

        return self._once(ticket_id, visit, lambda: consoles.issue_token(self.toolkit, line).result, sent_since)

    @DBOS.step(name="migrate_once")
    @recorded
    def migrate_once(self, ticket_id: int, request: MigrationRequest, visit: str) -> MigrationDone:
        """PROCESS.md 7.6: the migration in AR, fenced so that it never runs twice.

        The fence is committed before the click. Finding it on entry means an earlier run of this step may
        have clicked: the line's real state in AR is read instead, and the flow goes on from the truth.
        A migration whose answer was lost (``MigrationInDoubt``) is reconciled the same way.
        """
        flow_id, _ = _current_ids()
        self._still_owner()
        if not self.store.set_write_fence(
            ticket_id, MIGRATION_FENCE, flow_id=flow_id, detail=f"line {request.line[-3:]}"
        ):
            logger.warning("migration fence found for ticket {}: reading the line's state instead", ticket_id)
            return self._reconcile(ticket_id, request.line)
        try:
            done = consoles.migrate(self.toolkit, request)
        except MigrationInDoubt:
            return self._reconcile(ticket_id, request.line)
        except Exception:
            # Nothing was clicked (the robot only raises other errors before "Migrar"): lift the fence.
            self.store.clear_write_fence(ticket_id, MIGRATION_FENCE)
            raise
        result = done.result
        if result.outcome != MigrationOutcome.MIGRATED:
            self.store.clear_write_fence(ticket_id, MIGRATION_FENCE)
        evidence = StepEvidence()
        if result.outcome == MigrationOutcome.REFUSED:
            evidence = self._post(ticket_id, Done(done.step, result, done.title, result.message, done.evidence), visit)
        elif done.evidence:
            evidence = self._keep(ticket_id, done)
        return MigrationDone(outcome=result.outcome, message=result.message, plan=result.plan, evidence=evidence)

    def _reconcile(self, ticket_id: int, line: str) -> MigrationDone:
        try:
            state: MigrationState = consoles.migration_state(self.toolkit, line).result
        except RPAError as exc:
            return MigrationDone(reconciled=True, message=f"no se pudo leer el estado de la línea: {exc}")
        if state.migrated:
            return MigrationDone(
                reconciled=True, line_migrated=True, plan=state.plan, message="migración confirmada en AR"
            )
        # The truth is known: nothing happened, so the fence is lifted and the migration may be tried again.
        self.store.clear_write_fence(ticket_id, MIGRATION_FENCE)
        return MigrationDone(reconciled=True, line_migrated=False, message="AR no registra la migración")

    @DBOS.step(name="historical_debt")
    @recorded
    def historical_debt(self, ticket_id: int, ci: str, visit: str) -> Recorded[HistoricalDebt]:
        """PROCESS.md 7.7 b: the historical-debt amount in BCCS, screenshot as an internal note."""
        done = consoles.historical_debt(self.toolkit, ci)
        return Recorded(done.record(), self._post(ticket_id, done, visit))

    @DBOS.step(name="change_billing")
    @recorded
    def change_billing(
        self, ticket_id: int, line: str, name: str, document_type: DocumentType, document_number: str, visit: str
    ) -> Recorded[BillingChange]:
        """PROCESS.md 8.1: billing to a third party, changed in BCCS; a line BCCS already bills to that name
        and document needs no second change."""
        request = BillingChangeRequest(
            line=line, name=name, document_type=document_type, document_number=document_number
        )

        def changed_since(since: datetime | None) -> Done[BillingChange] | None:
            billing = self.toolkit.bccs.billing_of(LineRequest(line=line))
            if billing.name != name or billing.document_number != request.document_number:
                return None
            change = BillingChange(
                line=line,
                outcome=BillingChangeOutcome.CHANGED,
                name=name,
                document_type=document_type,
                document_number=request.document_number,
            )
            return Done("billing", change, "Cambio de datos de facturación en BCCS", change.summary())

        done = self._once(ticket_id, visit, lambda: consoles.change_billing(self.toolkit, request), changed_since)
        return Recorded(done.record(), self._keep(ticket_id, done))

    # -- Contrato digital -------------------------------------------------------------------------
    @DBOS.step(name="upload_contract")
    @recorded
    def upload_contract(self, ticket_id: int, ticket: TicketData, plan: str, files: dict[str, str], visit: str) -> str:
        """PROCESS.md 8.3: the digital contract with its backups, saved; returns its number. A contract for
        the line saved since the visit's fence is this visit's contract: no second one is saved."""

        def upload() -> str:
            done = consoles.upload_contract(
                self.toolkit, _contract_request(self.toolkit, ContractRequest, ticket, plan, files)
            )
            self._keep(ticket_id, done)
            return done.result.contract_number

        def saved_since(since: datetime | None) -> str | None:
            found = self._contract_since(ticket.line or "", plan, since)
            return found.number if found is not None else None

        return self._once(ticket_id, visit, upload, saved_since)

    def _contract_since(self, line: str, plan: str, since: datetime | None) -> ContractSummary | None:
        """The newest contract of ``line`` for ``plan`` that Contrato digital shows saved at or after ``since``."""
        if since is None:
            return None
        earliest = since.replace(microsecond=0) - timedelta(seconds=1)
        contracts = self.toolkit.contrato.contracts_of_line(LineRequest(line=line))
        mine = [c for c in contracts if c.plan == plan and c.saved_at is not None and c.saved_at >= earliest]
        return max(mine, key=lambda c: c.saved_at or earliest, default=None)

    @DBOS.step(name="print_contract")
    @recorded
    def print_contract(self, ticket_id: int, contract_number: str, visit: str) -> str:
        """PROCESS.md 8.3 / 9.4 a1: print the contract as PDF; it goes to an internal note as evidence."""
        return self._post(ticket_id, consoles.print_contract(self.toolkit, contract_number), visit).first_file

    @DBOS.step(name="send_to_analysis")
    @recorded
    def send_to_analysis(
        self, ticket_id: int, ticket: TicketData, plan: str, files: dict[str, str], visit: str
    ) -> AnalysisSubmitted:
        """PROCESS.md 9.2: the contract goes to the activations analysts with its backups and the AR error.

        Two writes, each once: the contract is saved under the visit's fence (a contract of the line saved
        since then is this visit's), then sent; sending reads the contract first and leaves one already sent
        as it is, so a crash between the two never makes a second contract or a second task."""

        def upload() -> str:
            done = consoles.upload_contract(
                self.toolkit, _contract_request(self.toolkit, AnalysisRequest, ticket, plan, files)
            )
            self._keep(ticket_id, done)
            return done.result.contract_number

        def saved_since(since: datetime | None) -> str | None:
            found = self._contract_since(ticket.line or "", plan, since)
            return found.number if found is not None else None

        number = self._once(ticket_id, visit, upload, saved_since)
        with checked_before_each_attempt(self._still_owner):
            done = consoles.submit_for_analysis(self.toolkit, number)
        self._keep(ticket_id, done)
        return done.record()

    @DBOS.step(name="answer_task")
    @recorded
    def answer_task(self, ticket_id: int, task_number: str, kind: BackupKind, path: str, visit: str) -> TaskAnswer:
        """PROCESS.md 9.4 b: answer the observed task with the missing backup; it goes back to the analysts.
        A task no longer waiting for a fix was answered already: it is not answered twice."""

        def answered(since: datetime | None) -> TaskAnswer | None:
            # The analysts may observe the task again at once: what tells an answer made since the fence
            # is the task's last change, not its status.
            answer = consoles.task_answer(self.toolkit, task_number).result
            if since is None or answer.updated_at is None:
                return None
            return answer if answer.updated_at >= since.replace(microsecond=0) - timedelta(seconds=1) else None

        return self._once(
            ticket_id,
            visit,
            lambda: (
                consoles.answer_task(self.toolkit, task_number, backup_from_file(self.toolkit, kind.value, path)).result
            ),
            answered,
        )

    @DBOS.step(name="dismiss_task")
    @recorded
    def dismiss_task(self, ticket_id: int, task_number: str, reason: str, visit: str) -> str:
        """PROCESS.md 9.4 c1: complete the task as "desestimado" with the reason, once."""

        def dismiss() -> str:
            done = consoles.dismiss_task(self.toolkit, task_number, reason)
            self._keep(ticket_id, done)
            return done.result.task_number

        def dismissed(since: datetime | None) -> str | None:
            answer = consoles.task_answer(self.toolkit, task_number).result
            return task_number if answer.status == TaskStatus.DISMISSED else None

        return self._once(ticket_id, visit, dismiss, dismissed)


#: Backups each path of the contract carries (PROCESS.md 8.3 and 9.2).
CONTRACT_BACKUPS = (
    BackupKind.PREANALYSIS,
    BackupKind.LINE_CONFIRMED,
    BackupKind.TERMS_ACCEPTANCE,
    BackupKind.CI_FRONT,
    BackupKind.CI_BACK,
    BackupKind.SELFIE,
)


def contract_backups(backups: dict[str, str], *, analysed: bool, preanalysis_counts: bool) -> dict[str, str]:
    """The files that go with the contract: on the analysed path the AR error too, and no Planifícate
    backup when it gave no result (policy "Sin requisitos sin subsidio", PROCESS.md 9.2 note)."""
    kinds = [k for k in CONTRACT_BACKUPS if preanalysis_counts or k != BackupKind.PREANALYSIS]
    if analysed:
        kinds.append(BackupKind.AR_ERROR)
    return {k.value: backups[k.value] for k in kinds if backups.get(k.value)}


C = TypeVar("C", bound=ContractRequest)


def _contract_request(toolkit: Toolkit, model: type[C], ticket: TicketData, plan: str, files: dict[str, str]) -> C:
    return model(
        line=ticket.line or "",
        holder_name=ticket.holder_name or "",
        holder_ci=ticket.holder_ci or "",
        plan=plan,
        city=ticket.city or "",
        backups=[backup_from_file(toolkit, k, p) for k, p in files.items()],
    )
