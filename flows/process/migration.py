"""The migration of a prepaid line to postpaid over WhatsApp, as a durable flow: PROCESS.md, activity by activity.

This module only decides. Every side effect is an activity (``flows.process.activities``) run as a durable step;
every wait for the outside world is a DBOS ``recv`` with the process's own timeout and follow-up macro.
A crash anywhere resumes here with finished steps replayed, not repeated.

Choices where the work instruction is silent (also in the closing notes):
* Activity 1: after *Segundo contacto* goes unanswered, *Cliente no Contesta* is sent at once (the
  supervisor's reopening is the flow's own follow-up) and the flow ends.
* After *Recontacto sin Respuesta* (activities 3 and 6) goes unanswered, the flow ends: the ticket stays
  Pendiente for the inbox rules of the contact centre.
* A customer who agrees to recover a 3G SIM gets *Despedida*: her answer reopened the ticket, and once her
  SIM is LTE she writes again, which is a new ticket and a new flow (a flow belongs to one ticket).
* A wrong or spent token is handled like an expired one: *2do Tocken* and a new token; at most
  ``max_tokens`` tokens, then *Tocken: Cliente no contesta* and the flow ends if there is still no answer.
* The CI photos and selfie are judged by a person: an internal note asks for "#aprobar"/"#rechazar";
  a rejection means the requester is not shown to be the holder (*Cliente no es titular*).
* Backups for the contract come from the evidence this flow left in the internal notes (the same files,
  same sha256) and the customer's own attachments.
* An answer to *Recontacto sin Respuesta* is not read for a plan or an ACEPTO: the flow goes back to 3.1
  (line state and offer again) or 6.1 (the T&C macro again), as the source says, and reads the answer to that.
* The billing NIT is the ticket's field, else one the customer wrote in her first answer; it serves both the
  government check (1 a) and the BCCS change (8.1). Billing to a third party without any NIT is changed in
  BCCS with the holder's CI, the only document the process collects.
* An analysts' observation naming no backup the flow knows ("Foto del CI vigente") is not in Zendesk
  (9.4 b2): *Subsanar Observación* asks the customer, and the task is answered with the first file she sends.
* *Solicitud Infactible* carries the analysts' reason (9.4 c2 "para informar el motivo del rechazo").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from dbos import DBOS, DBOSClient, DBOSConfiguredInstance
from pydantic import BaseModel, Field

from flows.engine.durable import patched
from flows.engine.settings import ProcessTimings
from flows.process.activities import INSTANCE_NAME, MigrationActivities, MigrationDone, contract_backups
from flows.process.definition import GOVERNMENT_DERIVATION_REPLY, Activity, Macro, Outcome, WaitKind
from flows.process.messages import AnalystsAnswer, CustomerMessage, ReviewDecision, Topic
from flows.process.replies import chosen_plan, email_in, is_acceptance, is_refusal, is_yes, nit_in, token_in
from flows.steps.tickets import SavedDocument, identifiers_problem
from pages.errors import ApplicationError, BusinessError
from robots.ar import MigrationOutcome, MigrationRequest
from robots.bccs import DocumentType
from robots.contrato import BackupKind, TaskStatus
from robots.impuestos import billing_needs_government_check
from robots.planificate import PreanalysisResult, PreanalysisVerdict
from robots.qvantel import ConfirmationOutcome, LineStatus
from robots.syshelp import DerivationRequest
from robots.zendesk import MacroResult

#: The customer's documents PROCESS.md 4.1 asks for.
REQUIRED_DOCUMENTS = {BackupKind.CI_FRONT.value, BackupKind.CI_BACK.value, BackupKind.SELFIE.value}

#: Plans offered when Planifícate gives no result (policy "Sin requisitos sin subsidio").
NO_SUBSIDY_PLANS = ["Mega Plan 49", "Mega Plan 69"]


class FlowInput(BaseModel):
    """What a migration flow is started with and decides from: recorded by DBOS with the flow."""

    ticket_id: int
    timings: ProcessTimings
    acmo_code: str


class FlowResult(BaseModel):
    ticket_id: int
    outcome: Outcome
    activity: Activity
    macros: list[str] = Field(default_factory=list)


class Ended(Exception):
    """Raised inside the flow to end it at a branch's end (PROCESS.md's "end")."""

    def __init__(self, activity: Activity, outcome: Outcome, detail: str | None = None) -> None:
        super().__init__(outcome.value)
        self.activity = activity
        self.outcome = outcome
        self.detail = detail


@DBOS.dbos_class("MigrationWorkflow")
class MigrationWorkflow(DBOSConfiguredInstance):
    """The migration flow as DBOS knows it, bound at launch to the activities of this worker."""

    def __init__(self, activities: MigrationActivities, client: DBOSClient) -> None:
        self.activities = activities
        self.client = client  # reads the flow's history where the code asks ``patched(...)``
        super().__init__(INSTANCE_NAME)

    @DBOS.workflow(name="migration")
    def migration(self, flow_input: dict) -> dict:
        """Run the whole process for one WhatsApp ticket."""
        result = MigrationFlow(
            self.activities, FlowInput.model_validate(flow_input), patched=lambda name: patched(name, self.client)
        ).run()
        return result.model_dump(mode="json")


class MigrationFlow:
    """The process for one ticket; each method is one activity of PROCESS.md."""

    def __init__(
        self, activities: MigrationActivities, flow_input: FlowInput, patched: Callable[[str], bool] = lambda name: True
    ) -> None:
        self.act = activities
        self.patched = patched  # ``if self.patched("name"):`` guards a change of the steps (module docstring)
        self.ticket_id = flow_input.ticket_id
        self.timings = flow_input.timings
        self.acmo = flow_input.acmo_code
        self.macros: list[str] = []
        self.backups: dict[str, str] = {}  # backup kind -> file kept as evidence
        self.billing_nit: str | None = None
        self.path: list[Activity] = []
        self.visits: Counter[str] = Counter()
        self.analyst_waits = 0
        self.preanalysis_verdict = PreanalysisVerdict.ELIGIBLE

    # -- the process ----------------------------------------------------------------------------
    def run(self) -> FlowResult:
        self.act.register(self.ticket_id)
        try:
            self.identify_scenario()  # 1
            preanalysis = self.preanalysis()  # 2
            plan, documents = self.offer(preanalysis)  # 3
            line_state = self.validate_holder(documents)  # 4
            if not line_state.confirmed:
                self.confirm_line()  # 5
            self.terms_and_conditions()  # 6
            migrated = self.token_and_migration(plan)  # 7
            if migrated:
                pdf = self.contract_without_preanalysis(plan)  # 8
            else:
                pdf = self.contract_with_preanalysis(plan)  # 9
            self.confirm_migration(pdf)  # 10
            self.farewell(Outcome.MIGRATED)  # 11
        except Ended as end:
            return self.end(end.activity, end.outcome, end.detail)
        except BusinessError as exc:
            # Data no rule of the process covers (a line AR does not know, a malformed field): a person decides.
            return self.end(Activity.PERSON, Outcome.BUSINESS_RULE, f"{type(exc).__name__}: {exc}")
        except ApplicationError as exc:
            # Retries are exhausted: the flow fails here, and `rpa flow retry` runs it again from this step.
            self.act.fail(f"{type(exc).__name__}: {exc}")
            raise
        raise AssertionError("the process always ends through a branch")  # pragma: no cover

    def end(self, activity: Activity, outcome: Outcome, detail: str | None = None) -> FlowResult:
        self.enter(activity)
        self.act.finish(self.path, outcome, detail)
        return FlowResult(ticket_id=self.ticket_id, outcome=outcome, activity=activity, macros=self.macros)

    # 1 ------------------------------------------------------------------------------------------
    def identify_scenario(self) -> None:
        self.enter(Activity.IDENTIFY)
        self.ticket = self.act.read_ticket(self.ticket_id)
        reply = self.ask(
            Macro.PRIMER_CONTACTO, "datos del cliente (primer contacto)", follow_ups=[Macro.SEGUNDO_CONTACTO]
        )
        if reply is None:
            self.macro(Macro.CLIENTE_NO_CONTESTA)
            raise Ended(Activity.NO_ANSWER, Outcome.UNREACHABLE)
        self.ticket = self.act.read_ticket(self.ticket_id)  # the bot and the agent may have filled fields
        if not self.ticket.line or not self.ticket.holder_ci:
            raise Ended(Activity.PERSON, Outcome.INCOMPLETE_DATA)
        problem = identifiers_problem(self.ticket)
        if problem:
            # A value some console would refuse stops the flow here, before any console is touched.
            raise Ended(Activity.PERSON, Outcome.INCOMPLETE_DATA, problem)
        billing = self.ticket.billing_name
        # The NIT the customer wrote counts as much as the one the bot filled in (1 a; 8.1 bills to it).
        self.billing_nit = self.ticket.billing_nit or nit_in(reply.body)
        if billing and billing != self.ticket.holder_name and billing_needs_government_check(billing):
            self.check_government_entity(billing, reply)

    def check_government_entity(self, billing: str, reply: CustomerMessage) -> None:
        self.enter(Activity.NIT_CHECK)
        nit = self.billing_nit
        if not nit:
            return  # no NIT to verify: not identified as government, normal process (1 d)
        check = self.act.lookup_nit(self.ticket_id, nit)
        if not check.result.is_government:
            return
        self.enter(Activity.DERIVE_GOVERNMENT)
        self.act.derive_to_government(
            self.ticket_id,
            DerivationRequest(
                entity_name=billing,
                contact_name=self.ticket.holder_name or "",
                phone=self.ticket.line or "",
                email=email_in(reply.body) or "",
                description=f"Migración prepago a pospago de la línea {self.ticket.line} con facturación a {billing} "
                f"(NIT {nit}).",
            ),
            self.visit("syshelp:derivation"),
        )
        self.act.public_reply(self.ticket_id, GOVERNMENT_DERIVATION_REPLY, self.visit("reply:government"))
        self.farewell(Outcome.DERIVED_GOVERNMENT)

    # 2 ------------------------------------------------------------------------------------------
    def preanalysis(self) -> PreanalysisResult:
        self.enter(Activity.PREANALYSIS)
        self.macro(Macro.GESTION)
        done = self.act.preanalysis(self.ticket_id, self.line, self.visit("evidence:preanalysis"))
        result = done.result
        self.backups[BackupKind.PREANALYSIS.value] = done.evidence.first_file
        self.preanalysis_verdict = result.verdict
        if result.verdict in (PreanalysisVerdict.ELIGIBLE, PreanalysisVerdict.NO_RESULT):
            return result
        if result.verdict == PreanalysisVerdict.BLOCKED_FR_RO:
            self.enter(Activity.FR_RO)
            self.macro(Macro.RECHAZO_FR_RO)
            self.farewell(Outcome.REJECTED_FR_RO)
        if result.verdict == PreanalysisVerdict.OTHER_OPERATOR:
            self.enter(Activity.OTHER_OPERATOR)
            answer = self.ask(Macro.LINEA_OTRA_COMPANIA, "interés en la portabilidad")
            if answer is not None and is_yes(answer.body):
                self.macro(Macro.DERIVACION_AUTOAGENDA)
                raise Ended(Activity.OTHER_OPERATOR, Outcome.DERIVED_PORTABILITY)
            self.farewell(Outcome.OTHER_OPERATOR_NOT_INTERESTED)
        if result.verdict == PreanalysisVerdict.SIM_3G:
            self.enter(Activity.SIM_3G)
            answer = self.ask(Macro.LINEA_3G, "recuperación de SIM a LTE")
            if answer is not None and is_yes(answer.body):
                self.farewell(Outcome.SIM_RECOVERY_PENDING)
            self.farewell(Outcome.SIM_3G_NO_AGREEMENT)
        self.enter(Activity.DEBT_MP)
        self.macro(Macro.DEUDA_OTRA_OPERADORA_MP)
        raise Ended(Activity.DEBT_MP, Outcome.DEBT_OTHER_OPERATOR)

    # 3 ------------------------------------------------------------------------------------------
    def offer(self, preanalysis: PreanalysisResult) -> tuple[str, list[SavedDocument]]:
        plans = preanalysis.recommended_plans or NO_SUBSIDY_PLANS
        while True:
            self.enter(Activity.OFFER)
            state = self.act.line_status(self.ticket_id, self.line, self.visit("evidence:line-status"))
            self.line_state = state.result
            self.backups[BackupKind.LINE_CONFIRMED.value] = state.evidence.first_file
            plans_image = self.act.plans_image(self.ticket_id, plans)
            offer = Macro.OFERTA_CONFIRMADA if self.line_state.confirmed else Macro.OFERTA_SIN_CONFIRMACION
            self.macro(offer, attachments=[plans_image])
            answer = self.collect_plan_and_documents(plans)
            if answer is not None:
                return answer
            if self.ask(Macro.RECONTACTO_SIN_RESPUESTA, "respuesta a la oferta") is None:
                raise Ended(Activity.NO_ANSWER, Outcome.NO_ANSWER_OFFER)

    def collect_plan_and_documents(self, plans: list[str]) -> tuple[str, list[SavedDocument]] | None:
        """The customer picks a plan and sends CI front, back and selfie, in one or several messages."""
        plan: str | None = None
        comment_ids: list[int] = []
        kinds: set[str] = set()
        while plan is None or not kinds >= REQUIRED_DOCUMENTS:
            message = self.wait_customer("plan elegido, CI y selfie", self.timings.customer_reply_seconds)
            if message is None:
                return None
            plan = plan or chosen_plan(message.body, plans)
            if message.attachments:
                comment_ids.append(message.comment_id)
                kinds |= {
                    kind.value
                    for name in message.attachments
                    if (kind := BackupKind.of_customer_file(name)) is not None
                }
        return plan, self.act.save_customer_documents(self.ticket_id, comment_ids)

    # 4 ------------------------------------------------------------------------------------------
    def validate_holder(self, documents: list[SavedDocument]) -> LineStatus:
        self.enter(Activity.HOLDER)
        self.macro(Macro.GESTION)
        for document in documents:
            self.backups.setdefault(document.kind, document.path)
        self.act.request_document_review(self.ticket_id, [d.path for d in documents], self.visit("note:review"))
        decision = self.wait_reviewer()
        if decision is None:
            raise Ended(Activity.PERSON, Outcome.DOCUMENT_REVIEW_PENDING)
        if not decision.approve or not (self.ticket.holder_ci and self.line_state.is_holder(self.ticket.holder_ci)):
            self.enter(Activity.NOT_HOLDER)
            self.macro(Macro.CLIENTE_NO_ES_TITULAR)
            raise Ended(Activity.NOT_HOLDER, Outcome.NOT_HOLDER)
        return self.line_state

    # 5 ------------------------------------------------------------------------------------------
    def confirm_line(self) -> None:
        self.enter(Activity.CONFIRM_LINE)
        done = self.act.confirm_line(
            self.ticket_id, self.line, self.ticket.holder_ci or "", self.acmo, self.visit("evidence:confirm-line")
        )
        if done.result.outcome == ConfirmationOutcome.NOT_HOLDER:
            self.enter(Activity.NOT_HOLDER)
            self.macro(Macro.CLIENTE_NO_ES_TITULAR)
            raise Ended(Activity.NOT_HOLDER, Outcome.NOT_HOLDER)
        if done.evidence.files:
            self.backups[BackupKind.LINE_CONFIRMED.value] = done.evidence.first_file

    # 6 ------------------------------------------------------------------------------------------
    def terms_and_conditions(self) -> None:
        while True:
            self.enter(Activity.TERMS)
            sent = self.macro(Macro.CONFIRMACION_PLAN_TYC)
            answer = self.wait_customer("ACEPTO", self.timings.customer_reply_seconds)
            if answer is None:
                sent = self.macro(Macro.CONFIRMACION_PLAN_TYC)  # 6.2: the same macro, unchanged
                answer = self.wait_customer("ACEPTO", self.timings.customer_reply_seconds)
            if answer is None:
                if self.ask(Macro.RECONTACTO_SIN_RESPUESTA, "respuesta a T&C") is None:
                    raise Ended(Activity.NO_ANSWER, Outcome.NO_ANSWER_TERMS)
                continue  # 6.3: back to 6.1
            if is_acceptance(answer.body):
                evidence = self.act.terms_acceptance_evidence(
                    self.ticket_id, sent.comment_id, answer.comment_id, self.visit("evidence:terms-acceptance")
                )
                self.backups[BackupKind.TERMS_ACCEPTANCE.value] = evidence.first_file
                return
            if is_refusal(answer.body):
                self.farewell(Outcome.TERMS_REFUSED)

    # 7 ------------------------------------------------------------------------------------------
    def token_and_migration(self, plan: str) -> bool:
        """True when AR migrated the line (-> 8); False after an AR error (-> 9)."""
        self.enter(Activity.MIGRATION)
        self.macro(Macro.ENVIO_SMS_AR)
        self.act.issue_token(self.ticket_id, self.line, self.visit("ar:token"))
        tokens = 1
        while True:
            answer = self.wait_customer("token del SMS", self.timings.token_reply_seconds)
            code = token_in(answer.body) if answer is not None else None
            if code is not None:
                self.macro(Macro.GESTION)
                done = self.migrate(code, plan)
                if done.reconciled and done.line_migrated is False:
                    # A crash left the migration in doubt and AR shows none: the customer's code is still
                    # the one she has, so it is tried again rather than asking her for another.
                    done = self.migrate(code, plan)
                if done.migrated:
                    return True
                if done.outcome == MigrationOutcome.REFUSED:
                    self.backups[BackupKind.AR_ERROR.value] = done.evidence.first_file
                    return False
                if done.outcome == MigrationOutcome.HISTORICAL_DEBT:
                    self.historical_debt()
                if done.outcome not in (
                    MigrationOutcome.TOKEN_EXPIRED,
                    MigrationOutcome.TOKEN_WRONG,
                    MigrationOutcome.TOKEN_USED,
                ):
                    what = done.outcome.value if done.outcome else "estado desconocido"
                    raise Ended(Activity.PERSON, Outcome.AR_UNRESOLVED, f"AR: {what}. {done.message}")
            # 7.3 / 7.4: no token, or one AR refused: a new token, until the customer stops answering.
            if tokens >= self.timings.max_tokens:
                if self.ask(Macro.TOKEN_CLIENTE_NO_CONTESTA, "disponibilidad para el token") is None:
                    raise Ended(Activity.NO_ANSWER, Outcome.NO_ANSWER_TOKEN)
                tokens = 0
            tokens += 1
            self.macro(Macro.SEGUNDO_TOKEN)
            self.act.issue_token(self.ticket_id, self.line, self.visit("ar:token"))

    def migrate(self, code: str, plan: str) -> MigrationDone:
        request = MigrationRequest(
            line=self.line, token=code, plan=plan, city=self.ticket.city or "", billing_address=self.ticket.city or ""
        )
        return self.act.migrate_once(self.ticket_id, request, self.visit("evidence:ar-error"))

    def historical_debt(self) -> None:
        self.enter(Activity.HISTORICAL_DEBT)
        debt = self.act.historical_debt(self.ticket_id, self.ticket.holder_ci or "", self.visit("evidence:debt"))
        self.macro(Macro.DEUDA_HISTORICA_MOVIL, extra_text=f"Monto adeudado: {debt.result.amount_text}")
        raise Ended(Activity.HISTORICAL_DEBT, Outcome.HISTORICAL_DEBT)

    # 8 ------------------------------------------------------------------------------------------
    def contract_without_preanalysis(self, plan: str) -> str:
        self.enter(Activity.CONTRACT)
        self.change_billing_if_third_party()
        number = self.act.upload_contract(
            self.ticket_id,
            self.ticket,
            plan,
            contract_backups(self.backups, analysed=False, preanalysis_counts=self.preanalysis_counts),
            self.visit("contrato:contract"),
        )
        return self.act.print_contract(self.ticket_id, number, self.visit("evidence:contract-pdf"))

    @property
    def preanalysis_counts(self) -> bool:
        return self.preanalysis_verdict != PreanalysisVerdict.NO_RESULT

    def change_billing_if_third_party(self) -> None:
        billing = self.ticket.billing_name
        if billing and billing != self.ticket.holder_name:
            document = self.billing_nit or self.ticket.holder_ci or ""
            self.act.change_billing(
                self.ticket_id,
                self.line,
                billing,
                DocumentType.NIT if self.billing_nit else DocumentType.CI,
                document,
                self.visit("bccs:billing"),
            )

    # 9 ------------------------------------------------------------------------------------------
    def contract_with_preanalysis(self, plan: str) -> str:
        self.enter(Activity.CONTRACT_ANALYSIS)
        backups = contract_backups(self.backups, analysed=True, preanalysis_counts=self.preanalysis_counts)
        task = self.act.send_to_analysis(self.ticket_id, self.ticket, plan, backups, self.visit("contrato:analysis"))
        self.macro(Macro.ANALISIS_DE_RIESGO)
        while True:
            answer = self.wait_analysts(task.task_number)
            if answer is None:
                raise Ended(Activity.PERSON, Outcome.ANALYSTS_SILENT)
            if answer.status == TaskStatus.APPROVED:
                return self.act.print_contract(
                    self.ticket_id, task.contract_number, self.visit("evidence:contract-pdf")
                )
            if answer.status == TaskStatus.UNFIXABLE:
                reason = answer.reason or "Observación no subsanable"
                self.act.dismiss_task(self.ticket_id, task.task_number, reason, self.visit("contrato:task-dismiss"))
                self.enter(Activity.UNFEASIBLE)
                # 9.4 c2: the macro tells the customer the reason of the rejection.
                self.macro(Macro.SOLICITUD_INFACTIBLE, extra_text=f"Motivo: {reason}")
                raise Ended(Activity.UNFEASIBLE, Outcome.UNFEASIBLE)
            missing = answer.missing_kind
            document = self.backups.get(missing.value) if missing else None
            if not document:
                # 9.4 b2: not in Zendesk: ask the customer for it.
                self.macro(Macro.SUBSANAR_OBSERVACION, extra_text=f"Documento requerido: {answer.missing_backup}")
                message = self.wait_customer("documento para subsanar", self.timings.customer_reply_seconds)
                if message is None or not message.attachments:
                    raise Ended(Activity.NO_ANSWER, Outcome.NO_ANSWER_FIX)
                saved = self.act.save_customer_documents(self.ticket_id, [message.comment_id])
                document = saved[0].path
                missing = missing or BackupKind(saved[0].kind)
                self.backups[missing.value] = document
            assert missing is not None, "a backup found in the notes was found by its kind"
            self.act.answer_task(
                self.ticket_id, task.task_number, missing, document, self.visit("contrato:task-answer")
            )
            self.macro(Macro.ANALISIS_DE_RIESGO)  # 9.3 again: back in review

    # 10, 11 -------------------------------------------------------------------------------------
    def confirm_migration(self, pdf: str) -> None:
        self.enter(Activity.SUCCESS)
        self.macro(Macro.MIGRACION_EXITOSA, attachments=[pdf])

    def farewell(self, outcome: Outcome) -> None:
        self.enter(Activity.FAREWELL)
        self.macro(Macro.DESPEDIDA)
        raise Ended(Activity.FAREWELL, outcome)

    # -- the flow's own verbs -----------------------------------------------------------------------
    @property
    def line(self) -> str:
        return self.ticket.line or ""

    def visit(self, write: str) -> str:
        """The key of this flow's next visit of a business write: ``macro:GESTION#3``. Counted by the flow
        itself, so it is the same on every replay and does not move when a step is added elsewhere."""
        self.visits[write] += 1
        return f"{write}#{self.visits[write]}"

    def enter(self, activity: Activity) -> None:
        if not self.path or self.path[-1] != activity:
            self.path.append(activity)
        self.act.progress(self.path)

    def macro(
        self, macro: Macro, *, attachments: list[str] | None = None, extra_text: str | None = None
    ) -> MacroResult:
        applied = self.act.apply_macro(
            self.ticket_id, macro.value, self.visit(f"macro:{macro.name}"), attachments or [], extra_text
        )
        self.macros.append(macro.value)
        return applied

    def ask(self, macro: Macro, waiting_for: str, follow_ups: list[Macro] | None = None) -> CustomerMessage | None:
        """Send a macro and wait for the customer; send each follow-up after each silence."""
        for step in [macro, *(follow_ups or [])]:
            self.macro(step)
            answer = self.wait_customer(waiting_for, self.timings.customer_reply_seconds)
            if answer is not None:
                return answer
        return None

    def wait_customer(self, waiting_for: str, timeout: float) -> CustomerMessage | None:
        self.act.progress(self.path, waiting=(WaitKind.CUSTOMER, f"cliente: {waiting_for}", None))
        message = DBOS.recv(Topic.CUSTOMER.value, timeout_seconds=timeout)
        self.act.progress(self.path)
        return CustomerMessage.model_validate(message) if message is not None else None

    def wait_reviewer(self) -> ReviewDecision | None:
        self.act.progress(self.path, waiting=(WaitKind.REVIEWER, "persona: revisión de CI y selfie", None))
        decision = DBOS.recv(Topic.REVIEWER.value, timeout_seconds=self.timings.agent_review_seconds)
        self.act.progress(self.path)
        return ReviewDecision.model_validate(decision) if decision is not None else None

    def wait_analysts(self, task_number: str) -> AnalystsAnswer | None:
        """One wait for the analysts' answer, which the deployment's analysts reader brings as a message.

        The wait is numbered: the reader keys its message by it, so an answer read twice, or read again
        before the flow has acted on it, reaches this wait once and never the next one.
        """
        self.analyst_waits += 1
        self.act.progress(
            self.path,
            waiting=(WaitKind.ANALYSTS, f"analistas: tarea {task_number}", f"{task_number}#{self.analyst_waits}"),
        )
        answer = DBOS.recv(Topic.ANALYSTS.value, timeout_seconds=self.timings.analyst_reply_seconds)
        self.act.progress(self.path)
        return AnalystsAnswer.model_validate(answer) if answer is not None else None
