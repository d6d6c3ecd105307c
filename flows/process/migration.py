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

from dbos import DBOS
from pydantic import BaseModel, Field

from pages.errors import ApplicationError, BusinessError
from robots.contrato import BackupKind
from robots.impuestos import billing_needs_government_check

from flows.process import activities as act
from flows.engine import runtime
from flows.process.activities import run
from flows.process.definition import GOVERNMENT_DERIVATION_REPLY, Activity, Macro
from flows.process.replies import chosen_plan, email_in, is_acceptance, is_refusal, is_yes, nit_in, token_in

CUSTOMER = "customer"
AGENT = "agent"
ANALYST = "analyst"

#: The customer's documents PROCESS.md 4.1 asks for.
REQUIRED_DOCUMENTS = {BackupKind.CI_FRONT.value, BackupKind.CI_BACK.value, BackupKind.SELFIE.value}

#: Plans offered when Planifícate gives no result (policy "Sin requisitos sin subsidio").
NO_SUBSIDY_PLANS = ["Mega Plan 49", "Mega Plan 69"]


class CustomerMessage(BaseModel):
    """What the customer wrote on WhatsApp, as the worker forwards it from the ticket."""

    comment_id: int
    body: str = ""
    attachments: list[str] = Field(default_factory=list)


class AgentDecision(BaseModel):
    """A person's verdict on the CI photos and selfie."""

    approve: bool
    reason: str = ""


class FlowResult(BaseModel):
    ticket_id: int
    outcome: str
    activity: str
    macros: list[str] = Field(default_factory=list)


class Ended(Exception):
    """Raised inside the flow to end it at a branch's end (PROCESS.md's "end")."""

    def __init__(self, activity: Activity, outcome: str) -> None:
        super().__init__(outcome)
        self.activity = activity
        self.outcome = outcome


@DBOS.workflow(name="migration")
def migration(ticket_id: int) -> FlowResult:
    """Run the whole process for one WhatsApp ticket."""
    return MigrationFlow(ticket_id).run()


class MigrationFlow:
    """The process for one ticket; each method is one activity of PROCESS.md."""

    def __init__(self, ticket_id: int) -> None:
        self.ticket_id = ticket_id
        self.timings = runtime.current().settings.process
        self.acmo = runtime.current().settings.acmo_code
        self.macros: list[str] = []
        self.backups: dict[str, str] = {}      # backup kind -> file kept as evidence
        self.billing_nit: str | None = None
        self.activity = Activity.IDENTIFY

    # -- the process ----------------------------------------------------------------------------
    def run(self) -> FlowResult:
        run(act.flow_begins, self.ticket_id)
        try:
            self.identify_scenario()           # 1
            verdict = self.preanalysis()       # 2
            self.verdict = verdict.verdict
            plan, documents = self.offer(verdict)      # 3
            line_state = self.validate_holder(documents)  # 4
            if not line_state.confirmed:
                self.confirm_line()            # 5
            self.terms_and_conditions()        # 6
            migrated = self.token_and_migration(plan)  # 7
            if migrated:
                pdf = self.contract_without_preanalysis(plan)   # 8
            else:
                pdf = self.contract_with_preanalysis(plan, verdict)  # 9
            self.confirm_migration(pdf)        # 10
            self.farewell("migrated")          # 11
        except Ended as end:
            return self.end(end.activity, end.outcome)
        except BusinessError as exc:
            # Data no rule of the process covers (a line AR does not know, a malformed field): a person decides.
            return self.end(Activity.PERSON, f"{type(exc).__name__}: {exc}")
        except ApplicationError as exc:
            # Retries are exhausted: the flow fails here, and `rpa flow retry` runs it again from this step.
            run(act.flow_fails, f"{type(exc).__name__}: {exc}")
            raise
        raise AssertionError("the process always ends through a branch")  # pragma: no cover

    def end(self, activity: Activity, outcome: str) -> FlowResult:
        run(act.flow_ends, activity.value, outcome)
        return FlowResult(ticket_id=self.ticket_id, outcome=outcome, activity=activity.value, macros=self.macros)

    # 1 ------------------------------------------------------------------------------------------
    def identify_scenario(self) -> None:
        self.enter(Activity.IDENTIFY)
        self.ticket = run(act.read_ticket, self.ticket_id)
        reply = self.ask(Macro.PRIMER_CONTACTO, "datos del cliente (primer contacto)",
                         follow_ups=[Macro.SEGUNDO_CONTACTO])
        if reply is None:
            self.macro(Macro.CLIENTE_NO_CONTESTA)
            raise Ended(Activity.NO_ANSWER, "incontactable")
        self.ticket = run(act.read_ticket, self.ticket_id)  # the bot and the agent may have filled fields
        if not self.ticket.line or not self.ticket.holder_ci:
            raise Ended(Activity.PERSON, "datos_incompletos")
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
        check = run(act.lookup_nit, self.ticket_id, nit)
        if not check.is_government:
            return
        self.enter(Activity.DERIVE_GOVERNMENT)
        run(act.derive_to_government, self.ticket_id, billing, self.ticket.holder_name or "",
            self.ticket.line or "", email_in(reply.body) or "",
            f"Migración prepago a pospago de la línea {self.ticket.line} con facturación a {billing} (NIT {nit}).")
        run(act.public_reply, self.ticket_id, GOVERNMENT_DERIVATION_REPLY)
        self.farewell("derivado_gobierno")

    # 2 ------------------------------------------------------------------------------------------
    def preanalysis(self) -> act.PreanalysisOutcome:
        self.enter(Activity.PREANALYSIS)
        self.macro(Macro.GESTION)
        result = run(act.preanalysis, self.ticket_id, self.ticket.line)
        self.backups[BackupKind.PREANALYSIS.value] = result.evidence.files[0] if result.evidence.files else ""
        if result.verdict in ("eligible", "no_result"):
            return result
        if result.verdict == "blocked_fr_ro":
            self.enter(Activity.FR_RO)
            self.macro(Macro.RECHAZO_FR_RO)
            self.farewell("rechazo_fr_ro")
        if result.verdict == "other_operator":
            self.enter(Activity.OTHER_OPERATOR)
            answer = self.ask(Macro.LINEA_OTRA_COMPANIA, "interés en la portabilidad")
            if answer is not None and is_yes(answer.body):
                self.macro(Macro.DERIVACION_AUTOAGENDA)
                raise Ended(Activity.OTHER_OPERATOR, "derivado_portabilidad")
            self.farewell("otra_compania_sin_interes")
        if result.verdict == "sim_3g":
            self.enter(Activity.SIM_3G)
            answer = self.ask(Macro.LINEA_3G, "recuperación de SIM a LTE")
            if answer is not None and is_yes(answer.body):
                self.farewell("recuperacion_sim_pendiente")
            self.farewell("sim_3g_sin_acuerdo")
        self.enter(Activity.DEBT_MP)
        self.macro(Macro.DEUDA_OTRA_OPERADORA_MP)
        raise Ended(Activity.DEBT_MP, "deuda_otra_operadora")

    # 3 ------------------------------------------------------------------------------------------
    def offer(self, preanalysis: act.PreanalysisOutcome) -> tuple[str, list[act.SavedDocument]]:
        plans = preanalysis.recommended_plans or NO_SUBSIDY_PLANS
        while True:
            self.enter(Activity.OFFER)
            self.line_state = run(act.line_status, self.ticket_id, self.ticket.line, self.ticket.holder_ci)
            self.backups[BackupKind.LINE_CONFIRMED.value] = self.line_state.evidence.files[0] if self.line_state.evidence.files else ""
            plans_image = run(act.plans_image, self.ticket_id, plans)
            offer = Macro.OFERTA_CONFIRMADA if self.line_state.confirmed else Macro.OFERTA_SIN_CONFIRMACION
            self.macro(offer, attachments=[plans_image])
            answer = self.collect_plan_and_documents(plans)
            if answer is not None:
                return answer
            if self.ask(Macro.RECONTACTO_SIN_RESPUESTA, "respuesta a la oferta") is None:
                raise Ended(Activity.NO_ANSWER, "sin_respuesta_oferta")

    def collect_plan_and_documents(self, plans: list[str]) -> tuple[str, list[act.SavedDocument]] | None:
        """The customer picks a plan and sends CI front, back and selfie, in one or several messages."""
        plan: str | None = None
        comment_ids: list[int] = []
        kinds: set[str] = set()
        while plan is None or not REQUIRED_DOCUMENTS <= kinds:
            message = self.wait_customer("plan elegido, CI y selfie", self.timings.customer_reply_seconds)
            if message is None:
                return None
            plan = plan or chosen_plan(message.body, plans)
            if message.attachments:
                comment_ids.append(message.comment_id)
                kinds |= {kind.value for name in message.attachments
                          if (kind := BackupKind.of_customer_file(name)) is not None}
        return plan, run(act.save_customer_documents, self.ticket_id, comment_ids)

    # 4 ------------------------------------------------------------------------------------------
    def validate_holder(self, documents: list[act.SavedDocument]) -> act.LineState:
        self.enter(Activity.HOLDER)
        self.macro(Macro.GESTION)
        for document in documents:
            self.backups.setdefault(document.kind, document.path)
        run(act.request_document_review, self.ticket_id, [d.path for d in documents])
        decision = self.wait_agent()
        if decision is None:
            raise Ended(Activity.PERSON, "revision_documentos_pendiente")
        if not decision.approve or not self.line_state.is_holder:
            self.enter(Activity.NOT_HOLDER)
            self.macro(Macro.CLIENTE_NO_ES_TITULAR)
            raise Ended(Activity.NOT_HOLDER, "no_titular")
        return self.line_state

    # 5 ------------------------------------------------------------------------------------------
    def confirm_line(self) -> None:
        self.enter(Activity.CONFIRM_LINE)
        result = run(act.confirm_line, self.ticket_id, self.ticket.line, self.ticket.holder_ci, self.acmo)
        if result.outcome == "not_holder":
            self.enter(Activity.NOT_HOLDER)
            self.macro(Macro.CLIENTE_NO_ES_TITULAR)
            raise Ended(Activity.NOT_HOLDER, "no_titular")
        if result.evidence.files:
            self.backups[BackupKind.LINE_CONFIRMED.value] = result.evidence.files[0]

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
                    raise Ended(Activity.NO_ANSWER, "sin_respuesta_tyc")
                continue  # 6.3: back to 6.1
            if is_acceptance(answer.body):
                evidence = run(act.terms_acceptance_evidence, self.ticket_id, sent.comment_id, answer.comment_id)
                self.backups[BackupKind.TERMS_ACCEPTANCE.value] = evidence.files[0]
                return
            if is_refusal(answer.body):
                self.farewell("no_acepta_tyc")

    # 7 ------------------------------------------------------------------------------------------
    def token_and_migration(self, plan: str) -> bool:
        """True when AR migrated the line (-> 8); False after an AR error (-> 9)."""
        self.enter(Activity.MIGRATION)
        self.macro(Macro.ENVIO_SMS_AR)
        run(act.issue_token, self.ticket.line)
        tokens = 1
        while True:
            answer = self.wait_customer("token del SMS", self.timings.token_reply_seconds)
            code = token_in(answer.body) if answer is not None else None
            if code is not None:
                self.macro(Macro.GESTION)
                result = run(act.migrate_once, self.ticket_id, self.ticket.line, code, plan,
                             self.ticket.city or "", self.ticket.city or "")
                if result.outcome == "migrated":
                    return True
                if result.outcome == "refused":
                    self.backups[BackupKind.AR_ERROR.value] = result.evidence.files[0] if result.evidence.files else ""
                    return False
                if result.outcome == "historical_debt":
                    self.historical_debt()
                if result.outcome == "not_migrated":
                    continue  # the fence was found but AR shows no migration: try the same token again
                if result.outcome not in ("token_expired", "token_wrong", "token_used"):
                    raise Ended(Activity.PERSON, f"ar_{result.outcome}")
            # 7.3 / 7.4: no token, or one AR refused: a new token, until the customer stops answering.
            if tokens >= self.timings.max_tokens:
                if self.ask(Macro.TOKEN_CLIENTE_NO_CONTESTA, "disponibilidad para el token") is None:
                    raise Ended(Activity.NO_ANSWER, "sin_respuesta_token")
                tokens = 0
            tokens += 1
            self.second_token()

    def second_token(self) -> None:
        self.macro(Macro.SEGUNDO_TOKEN)
        run(act.issue_token, self.ticket.line)

    def historical_debt(self) -> None:
        self.enter(Activity.HISTORICAL_DEBT)
        debt = run(act.historical_debt, self.ticket_id, self.ticket.holder_ci)
        self.macro(Macro.DEUDA_HISTORICA_MOVIL, extra_text=f"Monto adeudado: {debt.amount_text}")
        raise Ended(Activity.HISTORICAL_DEBT, "deuda_historica")

    # 8 ------------------------------------------------------------------------------------------
    def contract_without_preanalysis(self, plan: str) -> str:
        self.enter(Activity.CONTRACT)
        self.change_billing_if_third_party()
        contract = run(act.upload_contract, self.ticket_id, self.ticket, plan,
                       act.contract_backups(self.backups, analysed=False,
                                            preanalysis_counts=self.verdict != "no_result"))
        return run(act.print_contract, self.ticket_id, contract)

    def change_billing_if_third_party(self) -> None:
        billing = self.ticket.billing_name
        if billing and billing != self.ticket.holder_name:
            document = self.billing_nit or self.ticket.holder_ci
            run(act.change_billing, self.ticket_id, self.ticket.line, billing,
                "NIT" if self.billing_nit else "CI", document)

    # 9 ------------------------------------------------------------------------------------------
    def contract_with_preanalysis(self, plan: str, preanalysis: act.PreanalysisOutcome) -> str:
        self.enter(Activity.CONTRACT_ANALYSIS)
        backups = act.contract_backups(self.backups, analysed=True,
                                       preanalysis_counts=preanalysis.verdict != "no_result")
        task = run(act.send_to_analysis, self.ticket_id, self.ticket, plan, backups)
        self.macro(Macro.ANALISIS_DE_RIESGO)
        while True:
            answer = self.wait_analysts(task.task_number)
            if answer is None:
                raise Ended(Activity.PERSON, "analistas_sin_respuesta")
            if answer.status == "approved":
                return run(act.print_contract, self.ticket_id, task.contract_number)
            if answer.status == "unfixable":
                reason = answer.reason or "Observación no subsanable"
                run(act.dismiss_task, self.ticket_id, task.task_number, reason)
                self.enter(Activity.UNFEASIBLE)
                # 9.4 c2: the macro tells the customer the reason of the rejection.
                self.macro(Macro.SOLICITUD_INFACTIBLE, extra_text=f"Motivo: {reason}")
                raise Ended(Activity.UNFEASIBLE, "infactible")
            missing = answer.missing_kind
            document = self.backups.get(missing) if missing else None
            if not document:
                # 9.4 b2: not in Zendesk: ask the customer for it.
                self.macro(Macro.SUBSANAR_OBSERVACION, extra_text=f"Documento requerido: {answer.missing_backup}")
                message = self.wait_customer("documento para subsanar", self.timings.customer_reply_seconds)
                if message is None or not message.attachments:
                    raise Ended(Activity.NO_ANSWER, "sin_respuesta_subsanacion")
                saved = run(act.save_customer_documents, self.ticket_id, [message.comment_id])
                document = saved[0].path
                missing = missing or saved[0].kind
                self.backups[missing] = document
            run(act.answer_task, self.ticket_id, task.task_number, missing, document)
            self.macro(Macro.ANALISIS_DE_RIESGO)  # 9.3 again: back in review

    # 10, 11 -------------------------------------------------------------------------------------
    def confirm_migration(self, pdf: str) -> None:
        self.enter(Activity.SUCCESS)
        self.macro(Macro.MIGRACION_EXITOSA, attachments=[pdf])

    def farewell(self, outcome: str) -> None:
        self.enter(Activity.FAREWELL)
        self.macro(Macro.DESPEDIDA)
        raise Ended(Activity.FAREWELL, outcome)

    # -- the flow's own verbs -----------------------------------------------------------------------
    def enter(self, activity: Activity) -> None:
        self.activity = activity
        run(act.enter_activity, activity.value)

    def macro(self, macro: Macro, *, attachments: list[str] | None = None,
              extra_text: str | None = None) -> act.MacroApplied:
        applied = run(act.apply_macro, self.ticket_id, macro.value, attachments or [], extra_text)
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
        run(act.set_waiting, f"cliente: {waiting_for}")
        message = DBOS.recv(CUSTOMER, timeout_seconds=timeout)
        run(act.set_waiting, None)
        return CustomerMessage.model_validate(message) if message is not None else None

    def wait_agent(self) -> AgentDecision | None:
        run(act.set_waiting, "persona: revisión de CI y selfie")
        decision = DBOS.recv(AGENT, timeout_seconds=self.timings.agent_review_seconds)
        run(act.set_waiting, None)
        return AgentDecision.model_validate(decision) if decision is not None else None

    def wait_analysts(self, task_number: str) -> act.TaskStatus | None:
        """Read the analysts' task until it is answered; a message on ANALYST wakes the flow early."""
        run(act.set_waiting, f"analistas: tarea {task_number}")
        waited = 0.0
        while waited <= self.timings.analyst_reply_seconds:
            answer = run(act.task_answer, task_number)
            if answer.status != "pending":
                run(act.set_waiting, None)
                return answer
            DBOS.recv(ANALYST, timeout_seconds=self.timings.analyst_poll_seconds)
            waited += self.timings.analyst_poll_seconds
        return None
