"""The migration of a prepaid line to postpaid over WhatsApp, as a durable flow: PROCESS.md, activity by activity.

This module only decides. Every side effect is an activity (``flows.process.activities``) run as a durable step;
every wait for the outside world is a DBOS ``recv`` with the process's own timeout and follow-up macro.
A crash anywhere resumes here with finished steps replayed, not repeated.

The flow is a DBOS async workflow, so every activity and every wait is awaited. A flow waiting hours for
its customer is a coroutine parked on DBOS's event loop: it holds no thread and no share of the browser.
Each activity runs on the worker's robot threads (``flows.engine.durable.RobotThreads``), one at a time
per flow, with the same step names in the same order as when the flow was synchronous, so a flow recorded
then replays unchanged.

What customers write is read by interpreters (``flows.process.replies``): understood, unclear, or a request
for a person. Unclear gets one clarifying public reply; still unclear, or a person asked for, is a hand-off:
the robot never guesses a yes, an acceptance or a token. A hand-off is an internal note saying what the
robot needs and why, the ticket open with the tag ``rpa_necesita_agente``, and a wait for the agent's
command note (``flows.process.messages``). No flow ends without a macro to the customer or such a note.

Choices where the work instruction is silent (also in the closing notes):
* Silence: after the last follow-up of activities 1 (*Segundo contacto*), 3 and 6 (*Recontacto sin
  Respuesta*), 7 (*Tocken: Cliente no contesta*) and after *Subsanar Observación*, the flow keeps waiting up
  to ``silence_horizon_seconds``; what the customer sends within it counts (a plan, her photos, ACEPTO, a
  file). At its end the flow closes with the no-answer macro of that wait (1: *Cliente no Contesta*; 3, 6
  and *Subsanar*: *Despedida*; 7: its macro was the follow-up itself) and an internal note saying why; when
  that is later than WhatsApp's 24 h window and no approved template is configured, a person closes it.
* The answers to *Línea de otra compañía* and *Línea 3G* get one wait: silence there is "not interested"
  (*Despedida*), as the source's "if she does not agree".
* *Línea 3G* (2 d): recovering the SIM ends with *Despedida* (her return is a new ticket); activating on a
  new line instead is a hand-off: the agent writes the new number in "Línea a migrar" (a customer's text
  never fills a field the robots act on) and the flow starts again at the pre-analysis with it.
* Planifícate: only AC with USIM LTE goes on by itself (2.4); a state no branch names is a hand-off.
* The NIT (1 a): the ticket's field, else one the customer wrote, else asked for once. Without a NIT a
  ``.gob.bo`` address is taken as the source's hint of a government entity; otherwise a person decides
  (``#valor <NIT>``, or ``#continuar`` after checking SICOES). A registry answer "not government" that a
  ``.gob.bo`` address contradicts also goes to a person. The entity is never migrated as retail by default.
* The CI photos and selfie are the customer's JPEG/PNG pictures; the reviewer labels them
  (``#aprobar anverso=1 reverso=2 selfie=3``) and the contract's backups take those labels. A plain
  ``#aprobar`` is enough when the WhatsApp bot's file names already tell which is which.
* A token is asked again (not re-sent) when the message holds no possible code or AR says it is wrong or
  already used; *2do Tocken por Vencimiento* goes out only when AR says the code expired (or, after a silent
  wait, AR shows the token expired); *Gestión* once per well-formed code before migrating. After
  ``max_tokens`` tokens without an answer, *Tocken: Cliente no contesta*.
* A console down after the robot's quick retries is waited out with growing pauses up to
  ``outage_horizon_seconds``, then handed off; ``#continuar`` tries again. Data no rule covers (a line AR
  does not know...) is a hand-off as well.
* A customer who agrees to recover a 3G SIM gets *Despedida*; a reviewer's rejection means "Cliente no es
  titular"; backups for the contract come from this flow's own evidence; an analysts' observation naming no
  backup the flow knows is asked of the customer with *Subsanar Observación*; *Solicitud Infactible* carries
  the analysts' reason (9.4 c2).
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from dbos import DBOS, DBOSClient, DBOSConfiguredInstance
from pydantic import BaseModel, Field

from flows.engine.durable import RobotThreads, patched
from flows.engine.settings import ProcessTimings
from flows.process.activities import INSTANCE_NAME, MigrationActivities, MigrationDone, contract_backups
from flows.process.definition import GOVERNMENT_DERIVATION_REPLY, Activity, Macro, Outcome, WaitKind, macro_named
from flows.process.messages import (
    AgentCommand,
    AgentNote,
    AnalystsAnswer,
    CustomerMessage,
    Topic,
)
from flows.process.replies import (
    Reading,
    Sim3GChoice,
    TokenFormat,
    asks_for_person,
    email_in,
    photos_in,
    read_acceptance,
    read_data,
    read_nit,
    read_plan,
    read_sim_3g,
    read_token,
    read_yes_no,
)
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
REQUIRED_DOCUMENTS = (BackupKind.CI_FRONT, BackupKind.CI_BACK, BackupKind.SELFIE)

#: Plans offered when Planifícate gives no result (policy "Sin requisitos sin subsidio").
NO_SUBSIDY_PLANS = ["Mega Plan 49", "Mega Plan 69"]

#: How often a flow whose ticket an agent holds looks whether it was given back.
HOLD_CHECK_SECONDS = 1.0

#: Activities that are bookkeeping, not console or Zendesk work: never waited out as outages.
_BOOKKEEPING = frozenset({"progress", "finish", "fail", "register"})
#: Activities a hand-off itself uses: a Zendesk outage there is waited out without a new hand-off.
_HAND_OFF_STEPS = frozenset({"hand_off", "hand_back", "robot_note"})


# -- what the robot tells the customer when her answer is not clear (the process's tone) ---------------
CLARIFY_DATA = (
    "Para continuar con tu solicitud necesitamos: nombre completo del titular, número de carnet de identidad, "
    "la ciudad desde la que nos escribes, el número de la línea a migrar y a nombre de quién se emitirá la "
    "factura."
)
CLARIFY_YES_NO = "Por favor, responde SI o NO para que podamos continuar con tu solicitud."
CLARIFY_SIM_3G = (
    "Por favor, indícanos qué prefieres: responde RECUPERAR para renovar tu chip a LTE, LINEA NUEVA para "
    "activar el plan en una línea nueva, o NO si no deseas continuar."
)
CLARIFY_ACCEPTANCE = (
    "Para continuar, responde con la palabra ACEPTO para aceptar las características del plan y los términos "
    "y condiciones del servicio."
)
ASK_NIT = "Para emitir la factura a nombre de la institución, por favor indícanos su número de NIT."
CLARIFY_NIT = "Por favor, envíanos solo el número de NIT de la institución (por ejemplo: NIT 1020304050)."
TOKEN_REMINDER = (
    "Por favor, escríbenos el código que recibiste por SMS del número 7371 (son {length} letras y números)."
)
TOKEN_MISTYPED = (
    "El código no coincide con el que te enviamos. Revisa el último SMS del número 7371 y escríbelo de nuevo, "
    "tal como aparece."
)
ASK_EMAIL = (
    "Para derivar tu solicitud a un ejecutivo de corporaciones, por favor indícanos un correo electrónico de contacto."
)
CLARIFY_EMAIL = "Por favor, escríbenos solo el correo electrónico de contacto (por ejemplo: nombre@institucion.gob.bo)."
CLARIFY_FIX = "Por favor, envíanos el documento solicitado como foto o archivo adjunto para levantar la observación."


def _missing_offer_parts(plan: str | None, photos: int) -> str:
    parts = [] if plan else ["el plan que eliges"]
    if photos < len(REQUIRED_DOCUMENTS):
        parts.append("las fotos de tu carnet (anverso y reverso) y una selfie sosteniendo tu carnet")
    return "Para continuar necesitamos " + " y ".join(parts) + "."


def _read_email(message: CustomerMessage) -> Reading:
    email = email_in(message.body)
    if email:
        return Reading.understood(email)
    return Reading.person() if asks_for_person(message.body) else Reading.unclear()


def _quote(text: str, limit: int = 160) -> str:
    flat = " ".join((text or "").split()) or "(sin texto: solo adjuntos)"
    return f"«{flat[:limit]}{'…' if len(flat) > limit else ''}»"


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

    def __init__(self, activities: MigrationActivities, client: DBOSClient, threads: RobotThreads) -> None:
        self.activities = activities
        self.client = client  # reads the flow's history where the code asks ``patched(...)``
        self.threads = threads  # where the flow's steps run, off DBOS's event loop
        super().__init__(INSTANCE_NAME)

    @DBOS.workflow(name="migration")
    async def migration(self, flow_input: dict) -> dict:
        """Run the whole process for one WhatsApp ticket."""
        flow = MigrationFlow(
            self.activities,
            FlowInput.model_validate(flow_input),
            self.threads,
            patched=lambda name: patched(name, self.client),
        )
        result = await flow.run()
        return result.model_dump(mode="json")


class _OffLoop:
    """The activities as the flow awaits them: each call runs on the worker's robot threads, never on the event
    loop that every waiting flow shares (steps and bookkeeping alike block: a console, the run store)."""

    def __init__(self, activities: MigrationActivities, threads: RobotThreads) -> None:
        self._activities = activities
        self._threads = threads

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        return functools.partial(self._threads.run, getattr(self._activities, name))


class _Patient:
    """The activities as the flow calls them: a console outage is waited out, a surprise handed to a person."""

    def __init__(self, flow: MigrationFlow, activities: _OffLoop) -> None:
        self._flow = flow
        self._activities = activities

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        step = getattr(self._activities, name)
        if name in _BOOKKEEPING:
            return step
        return functools.partial(self._flow.patiently, step, may_hand_off=name not in _HAND_OFF_STEPS)


async def _new_code(name: str) -> bool:
    """Outside a deployment (nothing recorded to replay), every patched change is taken."""
    return True


class MigrationFlow:
    """The process for one ticket; each method is one activity of PROCESS.md."""

    def __init__(
        self,
        activities: MigrationActivities,
        flow_input: FlowInput,
        threads: RobotThreads,
        patched: Callable[[str], Awaitable[bool]] = _new_code,
    ) -> None:
        self.raw: Any = _OffLoop(activities, threads)
        self.act: Any = _Patient(self, self.raw)
        self.patched = patched  # ``if await self.patched("name"):`` guards a change of the steps (module docstring)
        self.ticket_id = flow_input.ticket_id
        self.timings = flow_input.timings
        self.acmo = flow_input.acmo_code
        self.token_format = TokenFormat(alphabet=self.timings.token_alphabet, length=self.timings.token_length)
        self.macros: list[str] = []
        self.backups: dict[str, str] = {}  # backup kind -> file kept as evidence
        self.billing_nit: str | None = None
        self.customer_email: str | None = None
        self.path: list[Activity] = []
        self.visits: Counter[str] = Counter()
        self.analyst_waits = 0
        self.preanalysis_verdict = PreanalysisVerdict.ELIGIBLE
        self.doubted_code: str | None = None  # a message that could be the code but read as a word

    # -- the process ----------------------------------------------------------------------------
    async def run(self) -> FlowResult:
        await self.raw.register(self.ticket_id)
        try:
            await self.identify_scenario()  # 1
            preanalysis = await self.preanalysis()  # 2
            plan, documents = await self.offer(preanalysis)  # 3
            line_state = await self.validate_holder(documents)  # 4
            if not line_state.confirmed:
                await self.confirm_line()  # 5
            await self.terms_and_conditions()  # 6
            migrated = await self.token_and_migration(plan)  # 7
            if migrated:
                pdf = await self.contract_without_preanalysis(plan)  # 8
            else:
                pdf = await self.contract_with_preanalysis(plan)  # 9
            await self.confirm_migration(pdf)  # 10
            await self.farewell(Outcome.MIGRATED)  # 11
        except Ended as end:
            return await self.end(end.activity, end.outcome, end.detail)
        except BusinessError as exc:
            # Only a hand-off's own Zendesk write can get here (the ticket is gone): nobody can be asked.
            return await self.end(Activity.PERSON, Outcome.BUSINESS_RULE, f"{type(exc).__name__}: {exc}")
        except ApplicationError as exc:
            # Only a hand-off's own Zendesk write can get here, Zendesk down past the outage horizon: the flow
            # fails, and `rpa flow retry` runs it again from this step.
            await self.raw.fail(f"{type(exc).__name__}: {exc}")
            raise
        raise AssertionError("the process always ends through a branch")  # pragma: no cover

    async def end(self, activity: Activity, outcome: Outcome, detail: str | None = None) -> FlowResult:
        await self.enter(activity)
        await self.raw.finish(self.path, outcome, detail)
        return FlowResult(ticket_id=self.ticket_id, outcome=outcome, activity=activity, macros=self.macros)

    # 1 ------------------------------------------------------------------------------------------
    async def identify_scenario(self) -> None:
        await self.enter(Activity.IDENTIFY)
        self.ticket = await self.act.read_ticket(self.ticket_id)
        got = await self.ask(
            Macro.PRIMER_CONTACTO,
            "datos del cliente (primer contacto)",
            lambda m: read_data(m.body),
            clarification=CLARIFY_DATA,
            need="los datos del cliente (primer contacto)",
            follow_ups=[Macro.SEGUNDO_CONTACTO],
            horizon=True,
        )
        if got is None:
            await self.close_silent(Macro.CLIENTE_NO_CONTESTA, "al primer y al segundo contacto", Outcome.UNREACHABLE)
        reading, reply = got
        await self.require_ticket_fields()
        data = reading.value
        # The NIT the customer wrote counts as much as the one the bot filled in (1 a; 8.1 bills to it).
        self.billing_nit = self.ticket.billing_nit or getattr(data, "nit", None)
        self.customer_email = getattr(data, "email", None) or email_in(reply.body)
        billing = self.ticket.billing_name
        if billing and billing != self.ticket.holder_name and billing_needs_government_check(billing):
            await self.check_government_entity(billing)

    async def require_ticket_fields(self) -> None:
        """The line and CI come from the ticket's fields, never from what the customer wrote: a missing or
        malformed one is a hand-off naming it, before any console is touched."""
        while True:
            self.ticket = await self.act.read_ticket(self.ticket_id)  # the bot and the agent may have filled fields
            missing = [
                label
                for label, value in (("Línea a migrar", self.ticket.line), ("CI del titular", self.ticket.holder_ci))
                if not value
            ]
            problem = identifiers_problem(self.ticket)
            if not missing and not problem:
                return
            need = f"completar el campo {', '.join(missing)} del ticket" if missing else "corregir un campo del ticket"
            await self.hand_off(
                need,
                problem or "el robot no toma estos datos de lo que escribe el cliente",
                accepts={AgentCommand.CONTINUE},
            )

    async def check_government_entity(self, billing: str) -> None:
        """PROCESS.md 1 a-d: a billing entity that may be public is checked by its NIT before anything else."""
        await self.enter(Activity.NIT_CHECK)
        gob_hint = any(".gob.bo" in (text or "").lower() for text in (self.customer_email, billing))
        nit = self.billing_nit
        if not nit:
            await self.act.public_reply(self.ticket_id, ASK_NIT, self.visit("reply:nit"))
            message = await self.wait_customer("NIT de la institución", self.timings.customer_reply_seconds)
            got = (
                await self.understand(
                    message,
                    lambda m: read_nit(m.body),
                    waiting_for="NIT de la institución",
                    clarification=CLARIFY_NIT,
                    need="el NIT de la institución de facturación",
                )
                if message is not None
                else None
            )
            nit = got[0].value if got is not None else None
            self.billing_nit = nit
        if not nit and gob_hint:
            await self.derive_to_government(billing, nit or "sin NIT")
        while not nit:
            note = await self.hand_off(
                "el NIT de la institución de facturación",
                f"La factura va a nombre de «{billing}», que puede ser una entidad pública, y no hay NIT: el proceso "
                "no sigue como venta normal sin verificarlo (1 a). Responda '#valor <NIT>', o '#continuar' si "
                "verificó en SICOES que no es una entidad de gobierno.",
            )
            if note.command == AgentCommand.CONTINUE:
                return
            nit = read_nit(note.text).value
        self.billing_nit = nit
        check = await self.act.lookup_nit(self.ticket_id, nit)
        if check.result.is_government:
            await self.derive_to_government(billing, nit)
        if gob_hint:
            await self.hand_off(
                "confirmar si la institución es de gobierno",
                f"El padrón no identifica el NIT {nit} como entidad de gobierno, pero sus datos usan un dominio "
                "'.gob.bo'. Responda '#continuar' si no es de gobierno o '#terminar' con la macro que corresponda.",
                accepts={AgentCommand.CONTINUE},
            )

    async def derive_to_government(self, billing: str, nit: str) -> NoReturn:
        await self.enter(Activity.DERIVE_GOVERNMENT)
        while not self.customer_email:
            # 1 b: the derivation carries a contact e-mail; the customer is asked for it once.
            await self.act.public_reply(self.ticket_id, ASK_EMAIL, self.visit("reply:email"))
            message = await self.wait_customer("correo de contacto", self.timings.customer_reply_seconds)
            got = await self.understand(
                message,
                _read_email,
                waiting_for="correo de contacto",
                clarification=CLARIFY_EMAIL,
                need="un correo de contacto para la derivación a Ejecutivos Gobierno",
            )
            self.customer_email = str(got[0].value) if got is not None else None
        await self.act.derive_to_government(
            self.ticket_id,
            DerivationRequest(
                entity_name=billing,
                contact_name=self.ticket.holder_name or "",
                phone=self.ticket.line or "",
                email=self.customer_email or "",
                description=f"Migración prepago a pospago de la línea {self.ticket.line} con facturación a {billing} "
                f"(NIT {nit}).",
            ),
            self.visit("syshelp:derivation"),
        )
        await self.act.public_reply(self.ticket_id, GOVERNMENT_DERIVATION_REPLY, self.visit("reply:government"))
        await self.farewell(Outcome.DERIVED_GOVERNMENT)

    # 2 ------------------------------------------------------------------------------------------
    async def preanalysis(self) -> PreanalysisResult:
        await self.enter(Activity.PREANALYSIS)
        await self.macro(Macro.GESTION)
        done = await self.act.preanalysis(self.ticket_id, self.line, self.visit("evidence:preanalysis"))
        result: PreanalysisResult = done.result
        self.backups[BackupKind.PREANALYSIS.value] = done.evidence.first_file
        self.preanalysis_verdict = result.verdict
        if result.verdict in (PreanalysisVerdict.ELIGIBLE, PreanalysisVerdict.NO_RESULT):
            return result
        if result.verdict == PreanalysisVerdict.BLOCKED_FR_RO:
            await self.enter(Activity.FR_RO)
            await self.macro(Macro.RECHAZO_FR_RO)
            await self.farewell(Outcome.REJECTED_FR_RO)
        if result.verdict == PreanalysisVerdict.OTHER_OPERATOR:
            await self.enter(Activity.OTHER_OPERATOR)
            got = await self.ask(
                Macro.LINEA_OTRA_COMPANIA,
                "interés en la portabilidad",
                lambda m: read_yes_no(m.body),
                clarification=CLARIFY_YES_NO,
                need="si el cliente quiere la portabilidad (si/no)",
            )
            if got is not None and got[0].value is True:
                await self.macro(Macro.DERIVACION_AUTOAGENDA)
                raise Ended(Activity.OTHER_OPERATOR, Outcome.DERIVED_PORTABILITY)
            await self.farewell(Outcome.OTHER_OPERATOR_NOT_INTERESTED)
        if result.verdict == PreanalysisVerdict.SIM_3G:
            return await self.sim_3g()
        if result.verdict == PreanalysisVerdict.DEBT_MP:
            await self.enter(Activity.DEBT_MP)
            await self.macro(Macro.DEUDA_OTRA_OPERADORA_MP)
            raise Ended(Activity.DEBT_MP, Outcome.DEBT_OTHER_OPERATOR)
        # 2.4: only AC with USIM LTE goes on; a state no branch names is for a person to judge.
        await self.hand_off(
            "decidir si la línea puede migrar",
            f"Planifícate muestra estado {result.state}, SIM {result.sim}: el proceso solo sigue con AC y USIM LTE "
            "(2.4) y ninguna de sus ramas cubre este caso. '#continuar' envía la oferta.",
            accepts={AgentCommand.CONTINUE},
        )
        return result

    async def sim_3g(self) -> PreanalysisResult:
        """2 d: recover the SIM to LTE first, unless the plan goes on a new line."""
        await self.enter(Activity.SIM_3G)
        got = await self.ask(
            Macro.LINEA_3G,
            "recuperación de SIM a LTE o línea nueva",
            lambda m: read_sim_3g(m.body),
            clarification=CLARIFY_SIM_3G,
            need="qué prefiere el cliente: recuperar_sim, linea_nueva o no",
        )
        choice = got[0].value if got is not None else Sim3GChoice.DECLINE
        if choice == Sim3GChoice.RECOVER:
            await self.farewell(Outcome.SIM_RECOVERY_PENDING)
        if choice != Sim3GChoice.NEW_LINE:
            await self.farewell(Outcome.SIM_3G_NO_AGREEMENT)
        old_line = self.line
        while self.line == old_line:
            await self.hand_off(
                "registrar la línea nueva",
                "El cliente prefiere activar el plan en una línea nueva (2 d). Escriba su número en el campo "
                "'Línea a migrar' y responda '#continuar': el robot repite el preanálisis con esa línea.",
                accepts={AgentCommand.CONTINUE},
            )
            await self.require_ticket_fields()
        return await self.preanalysis()

    # 3 ------------------------------------------------------------------------------------------
    async def offer(self, preanalysis: PreanalysisResult) -> tuple[str, list[SavedDocument]]:
        plans = preanalysis.recommended_plans or NO_SUBSIDY_PLANS
        first: CustomerMessage | None = None
        while True:
            await self.enter(Activity.OFFER)
            state = await self.act.line_status(self.ticket_id, self.line, self.visit("evidence:line-status"))
            self.line_state: LineStatus = state.result
            self.backups[BackupKind.LINE_CONFIRMED.value] = state.evidence.first_file
            if first is None:
                plans_image = await self.act.plans_image(self.ticket_id, plans)
                offer = Macro.OFERTA_CONFIRMADA if self.line_state.confirmed else Macro.OFERTA_SIN_CONFIRMACION
                await self.macro(offer, attachments=[plans_image])
            answer = await self.collect_plan_and_documents(plans, first)
            if answer is not None:
                return answer
            await self.macro(Macro.RECONTACTO_SIN_RESPUESTA)
            message = await self.wait_silence("respuesta a la oferta")
            if message is None:
                await self.close_silent(Macro.DESPEDIDA, "a la oferta y al recontacto", Outcome.NO_ANSWER_OFFER)
            # 3.4: back to 3.1; what her answer already carries (a plan, her photos) counts.
            carries = read_plan(message.body, plans).understood or photos_in(message.files)
            first = message if carries else None

    async def collect_plan_and_documents(
        self, plans: list[str], first: CustomerMessage | None = None
    ) -> tuple[str, list[SavedDocument]] | None:
        """The customer picks a plan and sends CI front, back and selfie, in one or several messages."""
        plan: str | None = None
        comment_ids: list[int] = []
        photos = 0
        clarified = False
        pending = [first] if first is not None else []
        while plan is None or photos < len(REQUIRED_DOCUMENTS):
            message = pending.pop() if pending else None
            if message is None:
                message = await self.wait_customer("plan elegido, CI y selfie", self.timings.customer_reply_seconds)
            if message is None:
                return None
            progressed = False
            reading = read_plan(message.body, plans)
            if reading.understood and plan is None:
                plan, progressed = reading.value, True
            new_photos = photos_in(message.files)
            if new_photos:
                comment_ids.append(message.comment_id)
                photos += len(new_photos)
                progressed = True
            if progressed:
                continue
            if asks_for_person(message.body) or clarified:
                why = (
                    "El cliente pidió hablar con una persona"
                    if asks_for_person(message.body)
                    else ("La respuesta sigue sin entenderse tras una aclaración")
                )
                note = await self.hand_off(
                    "el plan elegido y las fotos del CI y la selfie",
                    f"{why}: {_quote(message.body)}. '#valor <plan>' da el plan; las fotos las envía el cliente.",
                )
                if note.command == AgentCommand.VALUE:
                    plan = read_plan(note.text, plans).value or plan
                clarified = False
                continue
            await self.act.public_reply(self.ticket_id, _missing_offer_parts(plan, photos), self.visit("reply:clarify"))
            clarified = True
        return plan, await self.act.save_customer_documents(self.ticket_id, comment_ids)

    # 4 ------------------------------------------------------------------------------------------
    async def validate_holder(self, documents: list[SavedDocument]) -> LineStatus:
        await self.enter(Activity.HOLDER)
        await self.macro(Macro.GESTION)
        await self.act.request_document_review(self.ticket_id, [d.path for d in documents], self.visit("note:review"))
        labels: dict[str, str] | None = None
        while labels is None:
            decision = await self.wait_reviewer()
            if decision is None:
                decision = await self.hand_off(
                    "la revisión del CI y la selfie",
                    "Nadie revisó las fotos del cliente en el plazo previsto.",
                    who="un supervisor",
                    accepts={AgentCommand.APPROVE, AgentCommand.REJECT},
                )
            if not decision.approve:
                await self.not_holder()
            labels = self.labelled(documents, decision)
            if labels is None:
                await self.act.robot_note(
                    self.ticket_id,
                    "Revisión de documentos: indique qué foto es cada una, con '#aprobar anverso=N reverso=N "
                    "selfie=N' (N: el número de la foto en la lista de la nota de revisión).",
                    self.visit("note:review-labels"),
                )
        self.backups.update(labels)
        if not (self.ticket.holder_ci and self.line_state.is_holder(self.ticket.holder_ci)):
            await self.not_holder()
        return self.line_state

    @staticmethod
    def labelled(documents: list[SavedDocument], decision: AgentNote) -> dict[str, str] | None:
        """Backup kind -> photo, as the reviewer labelled them, else as the bot's file names tell; None when
        neither says which photo is the CI front, the back and the selfie."""
        if decision.labels:
            chosen = {kind: decision.labels.get(kind.value) for kind in REQUIRED_DOCUMENTS}
            numbers = [n for n in chosen.values() if n is not None]
            if len(set(numbers)) == len(REQUIRED_DOCUMENTS) and all(1 <= n <= len(documents) for n in numbers):
                return {kind.value: documents[n - 1].path for kind, n in chosen.items() if n is not None}
            return None
        by_name = {d.kind: d.path for d in documents}
        if all(kind.value in by_name for kind in REQUIRED_DOCUMENTS):
            return {kind.value: by_name[kind.value] for kind in REQUIRED_DOCUMENTS}
        return None

    async def not_holder(self) -> NoReturn:
        await self.enter(Activity.NOT_HOLDER)
        await self.macro(Macro.CLIENTE_NO_ES_TITULAR)
        raise Ended(Activity.NOT_HOLDER, Outcome.NOT_HOLDER)

    # 5 ------------------------------------------------------------------------------------------
    async def confirm_line(self) -> None:
        await self.enter(Activity.CONFIRM_LINE)
        done = await self.act.confirm_line(
            self.ticket_id, self.line, self.ticket.holder_ci or "", self.acmo, self.visit("evidence:confirm-line")
        )
        if done.result.outcome == ConfirmationOutcome.NOT_HOLDER:
            await self.not_holder()
        if done.evidence.files:
            self.backups[BackupKind.LINE_CONFIRMED.value] = done.evidence.first_file

    # 6 ------------------------------------------------------------------------------------------
    async def terms_and_conditions(self) -> None:
        while True:
            await self.enter(Activity.TERMS)
            sent = await self.macro(Macro.CONFIRMACION_PLAN_TYC)
            answer = await self.wait_customer("ACEPTO", self.timings.customer_reply_seconds)
            if answer is None:
                sent = await self.macro(Macro.CONFIRMACION_PLAN_TYC)  # 6.2: the same macro, unchanged
                answer = await self.wait_customer("ACEPTO", self.timings.customer_reply_seconds)
            if answer is None:
                await self.macro(Macro.RECONTACTO_SIN_RESPUESTA)
                answer = await self.wait_silence("respuesta a T&C")
                if answer is None:
                    await self.close_silent(Macro.DESPEDIDA, "a los T&C y al recontacto", Outcome.NO_ANSWER_TERMS)
                if read_acceptance(answer.body).value is None and not asks_for_person(answer.body):
                    continue  # 6.3: back to 6.1; an ACEPTO or a refusal in her answer counts
            got = await self.understand(
                answer,
                self._acceptance,
                waiting_for="ACEPTO",
                clarification=CLARIFY_ACCEPTANCE,
                need="la aceptación del cliente (la palabra ACEPTO, escrita por él)",
                agent_value=False,
            )
            if got is None:
                continue
            reading, message = got
            if reading.value is True:
                evidence = await self.act.terms_acceptance_evidence(
                    self.ticket_id, sent.comment_id, message.comment_id, self.visit("evidence:terms-acceptance")
                )
                self.backups[BackupKind.TERMS_ACCEPTANCE.value] = evidence.first_file
                return
            await self.farewell(Outcome.TERMS_REFUSED)

    @staticmethod
    def _acceptance(message: CustomerMessage) -> Reading:
        return read_acceptance(message.body)

    # 7 ------------------------------------------------------------------------------------------
    async def token_and_migration(self, plan: str) -> bool:
        """True when AR migrated the line (-> 8); False after an AR error (-> 9)."""
        await self.enter(Activity.MIGRATION)
        await self.macro(Macro.ENVIO_SMS_AR)
        await self.act.issue_token(self.ticket_id, self.line, self.visit("ar:token"))
        tokens, asked_again = 1, False
        tried: set[str] = set()
        while True:
            message = await self.wait_customer("token del SMS", self.timings.token_reply_seconds)
            if message is None:
                if not await self.act.token_expired(self.ticket_id, self.line):
                    continue  # the code is still valid: she may still send it
                if tokens >= self.timings.max_tokens:
                    # 7.4: no answer to the second token: is she available for another one?
                    await self.macro(Macro.TOKEN_CLIENTE_NO_CONTESTA)
                    if await self.wait_silence("disponibilidad para el token") is None:
                        await self.close_silent(None, "a los tokens enviados", Outcome.NO_ANSWER_TOKEN)
                    tokens = 0
                tokens, asked_again = tokens + 1, False
                await self.macro(Macro.SEGUNDO_TOKEN)
                await self.act.issue_token(self.ticket_id, self.line, self.visit("ar:token"))
                continue
            code = await self.token_of(message, tried, asked_again)
            if code is None:
                asked_again = True
                continue
            tried.add(code)
            await self.macro(Macro.GESTION)  # 7.5: once per well-formed code, before migrating
            done = await self.migrate(code, plan)
            if done.reconciled and done.line_migrated is False:
                # A crash left the migration in doubt and AR shows none: the customer's code is still
                # the one she has, so it is tried again rather than asking her for another.
                done = await self.migrate(code, plan)
            if done.migrated:
                return True
            if done.outcome == MigrationOutcome.REFUSED:
                self.backups[BackupKind.AR_ERROR.value] = done.evidence.first_file
                return False
            if done.outcome == MigrationOutcome.HISTORICAL_DEBT:
                await self.historical_debt()
            if done.outcome == MigrationOutcome.TOKEN_EXPIRED:
                # 7.3: AR says the code expired: the second token.
                tokens, asked_again = tokens + 1, False
                await self.macro(Macro.SEGUNDO_TOKEN)
                await self.act.issue_token(self.ticket_id, self.line, self.visit("ar:token"))
                continue
            if done.outcome in (MigrationOutcome.TOKEN_WRONG, MigrationOutcome.TOKEN_USED) and not asked_again:
                asked_again = True
                await self.act.public_reply(self.ticket_id, TOKEN_MISTYPED, self.visit("reply:token-mistyped"))
                continue
            what = done.outcome.value if done.outcome else "estado desconocido"
            await self.hand_off(
                "decidir cómo sigue la migración en AR",
                f"AR respondió {what} al código {code}: {done.message}. '#continuar' envía un token nuevo.",
                accepts={AgentCommand.CONTINUE},
            )
            tokens, asked_again = tokens + 1, False
            await self.macro(Macro.SEGUNDO_TOKEN)
            await self.act.issue_token(self.ticket_id, self.line, self.visit("ar:token"))

    async def token_of(self, message: CustomerMessage, tried: set[str], asked_again: bool) -> str | None:
        """The code in her message, or None after a reminder (or a hand-off) when it holds none to try."""
        reading = read_token(message.body, self.token_format)
        if reading.understood and reading.value not in tried:
            return str(reading.value)
        alone = (message.body or "").strip().rstrip(".!").strip().upper()
        if reading.unclear and alone and alone == self.doubted_code and alone not in tried:
            # She sends again, alone, what looked like a word: after the reminder, that is her code.
            return alone
        self.doubted_code = alone if self.token_format.holds(alone) else None
        if reading.wants_person or asked_again:
            note = await self.hand_off(
                "el código del SMS (token)",
                f"{'El cliente pidió una persona' if reading.wants_person else 'Sin un código válido tras recordarlo'}:"
                f" {_quote(message.body)}. '#valor <código>' lo prueba en AR; '#continuar' espera al cliente.",
            )
            if note.command == AgentCommand.VALUE:
                valued = read_token(note.text, self.token_format)
                if valued.understood:
                    return str(valued.value)
            return None
        # A message that holds no possible code gets a reminder, not a new token.
        reminder = TOKEN_REMINDER.format(length=self.token_format.length)
        await self.act.public_reply(self.ticket_id, reminder, self.visit("reply:token-reminder"))
        return None

    async def migrate(self, code: str, plan: str) -> MigrationDone:
        request = MigrationRequest(
            line=self.line, token=code, plan=plan, city=self.ticket.city or "", billing_address=self.ticket.city or ""
        )
        done: MigrationDone = await self.act.migrate_once(self.ticket_id, request, self.visit("evidence:ar-error"))
        return done

    async def historical_debt(self) -> NoReturn:
        await self.enter(Activity.HISTORICAL_DEBT)
        debt = await self.act.historical_debt(self.ticket_id, self.ticket.holder_ci or "", self.visit("evidence:debt"))
        await self.macro(Macro.DEUDA_HISTORICA_MOVIL, extra_text=f"Monto adeudado: {debt.result.amount_text}")
        raise Ended(Activity.HISTORICAL_DEBT, Outcome.HISTORICAL_DEBT)

    # 8 ------------------------------------------------------------------------------------------
    async def contract_without_preanalysis(self, plan: str) -> str:
        await self.enter(Activity.CONTRACT)
        await self.change_billing_if_third_party()
        number = await self.act.upload_contract(
            self.ticket_id,
            self.ticket,
            plan,
            contract_backups(self.backups, analysed=False, preanalysis_counts=self.preanalysis_counts),
            self.visit("contrato:contract"),
        )
        pdf: str = await self.act.print_contract(self.ticket_id, number, self.visit("evidence:contract-pdf"))
        return pdf

    @property
    def preanalysis_counts(self) -> bool:
        return self.preanalysis_verdict != PreanalysisVerdict.NO_RESULT

    async def change_billing_if_third_party(self) -> None:
        billing = self.ticket.billing_name
        if billing and billing != self.ticket.holder_name:
            document = self.billing_nit or self.ticket.holder_ci or ""
            await self.act.change_billing(
                self.ticket_id,
                self.line,
                billing,
                DocumentType.NIT if self.billing_nit else DocumentType.CI,
                document,
                self.visit("bccs:billing"),
            )

    # 9 ------------------------------------------------------------------------------------------
    async def contract_with_preanalysis(self, plan: str) -> str:
        await self.enter(Activity.CONTRACT_ANALYSIS)
        backups = contract_backups(self.backups, analysed=True, preanalysis_counts=self.preanalysis_counts)
        task = await self.act.send_to_analysis(
            self.ticket_id, self.ticket, plan, backups, self.visit("contrato:analysis")
        )
        await self.macro(Macro.ANALISIS_DE_RIESGO)
        await self.act.robot_note(
            self.ticket_id,
            f"El robot espera a los analistas de Activaciones: la tarea {task.task_number} del contrato "
            f"{task.contract_number} está en revisión en Contrato digital; el flujo sigue cuando la aprueben u "
            "observen.",
            self.visit("note:analysts"),
        )
        while True:
            answer = await self.wait_analysts(task.task_number)
            if answer is None:
                await self.hand_off(
                    f"la respuesta de los analistas a la tarea {task.task_number}",
                    "Los analistas de Activaciones no respondieron en el plazo previsto. '#continuar' sigue "
                    "esperando su respuesta.",
                    who="los analistas de Activaciones (o un agente que les consulte)",
                    accepts={AgentCommand.CONTINUE},
                )
                continue
            if answer.status == TaskStatus.APPROVED:
                pdf: str = await self.act.print_contract(
                    self.ticket_id, task.contract_number, self.visit("evidence:contract-pdf")
                )
                return pdf
            if answer.status == TaskStatus.UNFIXABLE:
                reason = answer.reason or "Observación no subsanable"
                await self.act.dismiss_task(
                    self.ticket_id, task.task_number, reason, self.visit("contrato:task-dismiss")
                )
                await self.enter(Activity.UNFEASIBLE)
                # 9.4 c2: the macro tells the customer the reason of the rejection.
                await self.macro(Macro.SOLICITUD_INFACTIBLE, extra_text=f"Motivo: {reason}")
                raise Ended(Activity.UNFEASIBLE, Outcome.UNFEASIBLE)
            missing = answer.missing_kind
            document = self.backups.get(missing.value) if missing else None
            if not document:
                document, missing = await self.fix_from_customer(answer, missing)
            assert missing is not None, "a backup found in the notes was found by its kind"
            await self.act.answer_task(
                self.ticket_id, task.task_number, missing, document, self.visit("contrato:task-answer")
            )
            await self.macro(Macro.ANALISIS_DE_RIESGO)  # 9.3 again: back in review

    async def fix_from_customer(self, answer: AnalystsAnswer, missing: BackupKind | None) -> tuple[str, BackupKind]:
        """9.4 b2: the missing document is not in Zendesk: *Subsanar Observación* asks the customer for a file."""
        await self.macro(Macro.SUBSANAR_OBSERVACION, extra_text=f"Documento requerido: {answer.missing_backup}")
        message = await self.wait_customer("documento para subsanar", self.timings.customer_reply_seconds)
        if message is None:
            message = await self.wait_silence("documento para subsanar", extra=False)
        clarified = False
        while True:
            if message is None:
                await self.close_silent(Macro.DESPEDIDA, "a Subsanar Observación", Outcome.NO_ANSWER_FIX)
            saved = (
                await self.act.save_customer_documents(self.ticket_id, [message.comment_id])
                if photos_in(message.files)
                else []
            )
            if saved:
                # The kind the analysts named, else the one the bot's file name tells, else a CI photo (what an
                # observation about the customer's documents asks for).
                named = saved[0].kind if saved[0].kind in {k.value for k in BackupKind} else None
                kind = (
                    missing
                    or BackupKind.from_label(answer.missing_backup)
                    or BackupKind(named or BackupKind.CI_FRONT.value)
                )
                self.backups[kind.value] = saved[0].path
                return saved[0].path, kind
            if asks_for_person(message.body) or clarified:
                await self.hand_off(
                    f"el documento para subsanar la observación ({answer.missing_backup})",
                    f"El cliente no envió el documento: {_quote(message.body)}. '#continuar' espera su archivo.",
                    accepts={AgentCommand.CONTINUE},
                )
                clarified = False
            else:
                await self.act.public_reply(self.ticket_id, CLARIFY_FIX, self.visit("reply:clarify"))
                clarified = True
            message = await self.wait_customer("documento para subsanar", self.timings.customer_reply_seconds)
            if message is None:
                message = await self.wait_silence("documento para subsanar", extra=False)

    # 10, 11 -------------------------------------------------------------------------------------
    async def confirm_migration(self, pdf: str) -> None:
        await self.enter(Activity.SUCCESS)
        await self.macro(Macro.MIGRACION_EXITOSA, attachments=[pdf])

    async def farewell(self, outcome: Outcome) -> NoReturn:
        await self.enter(Activity.FAREWELL)
        await self.macro(Macro.DESPEDIDA)
        raise Ended(Activity.FAREWELL, outcome)

    # -- reading the customer -----------------------------------------------------------------------
    async def ask(
        self,
        macro: Macro,
        waiting_for: str,
        read: Callable[[CustomerMessage], Reading],
        *,
        clarification: str,
        need: str,
        follow_ups: list[Macro] | None = None,
        horizon: bool = False,
    ) -> tuple[Reading, CustomerMessage] | None:
        """Send a macro and wait for an answer the interpreter understands; send each follow-up after each
        silence and, with ``horizon``, keep waiting after the last one. None: the customer stayed silent."""
        steps = [macro, *(follow_ups or [])]
        for number, step in enumerate(steps, start=1):
            await self.macro(step)
            message = await self.wait_customer(waiting_for, self.timings.customer_reply_seconds)
            if message is None and horizon and number == len(steps):
                message = await self.wait_silence(waiting_for, extra=False)
            if message is not None:
                return await self.understand(
                    message, read, waiting_for=waiting_for, clarification=clarification, need=need
                )
        return None

    async def understand(
        self,
        message: CustomerMessage | None,
        read: Callable[[CustomerMessage], Reading],
        *,
        waiting_for: str,
        clarification: str,
        need: str,
        agent_value: bool = True,
    ) -> tuple[Reading, CustomerMessage] | None:
        """Read a reply: unclear gets one clarifying reply, then a hand-off; a request for a person is a
        hand-off at once. None: the customer fell silent after the clarification."""
        clarified = False
        while message is not None:
            reading = read(message)
            if reading.understood:
                return reading, message
            if reading.wants_person or clarified:
                why = (
                    "El cliente pidió hablar con una persona"
                    if reading.wants_person
                    else ("La respuesta sigue sin entenderse tras una aclaración")
                )
                how = "'#valor <dato>' lo da" if agent_value else "el cliente debe escribirlo él mismo"
                note = await self.hand_off(
                    need,
                    f"{why}: {_quote(message.body)}. {how}; '#continuar' espera otra respuesta del cliente.",
                    accepts={AgentCommand.VALUE, AgentCommand.CONTINUE} if agent_value else {AgentCommand.CONTINUE},
                )
                if note.command == AgentCommand.VALUE:
                    valued = read(CustomerMessage(comment_id=message.comment_id, body=note.text))
                    if valued.understood:
                        return valued, message
                clarified = False
            else:
                await self.act.public_reply(self.ticket_id, clarification, self.visit("reply:clarify"))
                clarified = True
            message = await self.wait_customer(waiting_for, self.timings.customer_reply_seconds)
        return None

    async def wait_silence(self, waiting_for: str, *, extra: bool = True) -> CustomerMessage | None:
        """After the last follow-up: wait for her once more (``extra``: the follow-up's own wait first),
        then up to the silence horizon."""
        message = await self.wait_customer(waiting_for, self.timings.customer_reply_seconds) if extra else None
        if message is None:
            message = await self.wait_customer(waiting_for, self.timings.silence_horizon_seconds)
        return message

    async def close_silent(self, macro: Macro | None, after: str, outcome: Outcome) -> NoReturn:
        """The end of a silence: the no-answer macro and a note saying why, or, past WhatsApp's window with no
        approved template configured, a person who closes the conversation."""
        hours = (self.timings.customer_reply_seconds + self.timings.silence_horizon_seconds) / 3600
        late = (
            self.timings.customer_reply_seconds + self.timings.silence_horizon_seconds
            > self.timings.whatsapp_window_seconds
        )
        if late and not self.timings.closing_template:
            # Only '#terminar <macro>' answers this one: the agent takes the conversation over.
            await self.hand_off(
                "cerrar la conversación",
                f"El cliente no respondió {after} en {hours:.0f} h. Pasadas 24 h desde su último mensaje, WhatsApp "
                "solo admite plantillas aprobadas y no hay una configurada: cierre con '#terminar <macro>' (por "
                "ejemplo, tras enviar la plantilla).",
                accepts=set(),
            )
            raise AssertionError("a hand-off that accepts nothing ends the flow")  # pragma: no cover
        if macro is not None:
            await self.macro(macro)
        template = f" (plantilla aprobada '{self.timings.closing_template}')" if late else ""
        await self.act.robot_note(
            self.ticket_id,
            f"El robot cerró la atención: el cliente no respondió {after} en {hours:.1f} h{template}.",
            self.visit("note:closed"),
        )
        raise Ended(Activity.NO_ANSWER, outcome, f"sin respuesta {after}")

    # -- hand-offs and outages ------------------------------------------------------------------------
    async def hand_off(
        self,
        need: str,
        why: str,
        *,
        who: str = "un agente",
        accepts: set[AgentCommand] | None = None,
    ) -> AgentNote:
        """Ask a person and wait for the command note. ``#terminar <macro>`` ends the flow here; a command in
        ``accepts`` (default: a value or continue) is returned; anything else is ignored."""
        accepted = accepts if accepts is not None else {AgentCommand.VALUE, AgentCommand.CONTINUE}
        previous = self.path[-1] if self.path else None
        await self.enter(Activity.PERSON)
        await self.act.hand_off(self.ticket_id, need, why, who, self.visit("note:hand-off"))
        while True:
            note = await self.wait_person(WaitKind.AGENT, f"{who}: {need}", self.timings.handoff_wait_seconds)
            if note is None:
                await self.act.robot_note(
                    self.ticket_id,
                    f"Nadie respondió al pedido del robot ({need}) en el plazo previsto: el flujo termina aquí.",
                    self.visit("note:closed"),
                )
                raise Ended(Activity.PERSON, Outcome.HANDOFF_UNANSWERED, need)
            if note.command == AgentCommand.END:
                macro = macro_named(note.text)
                if macro is None:
                    await self.act.robot_note(
                        self.ticket_id,
                        f"'#terminar {note.text}': no hay una macro con ese nombre. Use un nombre corto "
                        "(por ejemplo 'despedida') o el título exacto de la macro.",
                        self.visit("note:unknown-macro"),
                    )
                    continue
                await self.act.hand_back(self.ticket_id)
                await self.macro(macro)
                raise Ended(Activity.PERSON, Outcome.ENDED_BY_AGENT, f"#terminar {note.text}")
            if note.command in accepted:
                await self.act.hand_back(self.ticket_id)
                if previous is not None:
                    await self.enter(previous)
                return note

    async def patiently(
        self, step: Callable[..., Awaitable[Any]], *args: Any, may_hand_off: bool = True, **kwargs: Any
    ) -> Any:
        """Run an activity; a console down after the robot's quick retries is waited out with growing
        pauses up to the outage horizon, then handed to a person; data no rule covers is handed off too."""
        pause, waited = self.timings.outage_first_pause_seconds, 0.0
        while True:
            await self.while_held()
            try:
                return await step(*args, **kwargs)
            except ApplicationError as exc:
                console = exc.portal or "una consola"
                if waited >= self.timings.outage_horizon_seconds:
                    if not may_hand_off:
                        raise  # not even a person can be asked: the flow fails; `rpa flow retry` resumes it here
                    await self.hand_off(
                        f"que {console} vuelva a responder",
                        f"{console} no responde desde hace {waited / 60:.0f} min: {exc}. '#continuar' lo intenta "
                        "de nuevo.",
                        accepts={AgentCommand.CONTINUE},
                    )
                    pause, waited = self.timings.outage_first_pause_seconds, 0.0
                    continue
                await self.raw.progress(self.path, waiting=(WaitKind.CONSOLE, f"consola: {console}", console))
                await DBOS.sleep_async(pause)
                waited += pause
                pause = min(pause * 2, self.timings.outage_max_pause_seconds)
                await self.raw.progress(self.path)
            except BusinessError as exc:
                if not may_hand_off:
                    raise
                await self.hand_off(
                    "decidir cómo seguir",
                    f"{type(exc).__name__}: {exc}. Ninguna regla del proceso cubre este caso; '#continuar' "
                    "repite el paso (por ejemplo, tras corregir un dato).",
                    accepts={AgentCommand.CONTINUE},
                )

    async def while_held(self) -> None:
        """An agent took the ticket over from the panel: the flow does nothing, and writes nothing, until the
        ticket is given back. Only time passes here (no durable step is recorded), so a flow replayed later
        takes the same steps whether or not it was held."""
        agent = await self.raw.held_by(self.ticket_id)
        if not agent:
            return
        await self.raw.progress(self.path, waiting=(WaitKind.HELD, f"{agent} tomó el ticket", None))
        while await self.raw.held_by(self.ticket_id):
            await asyncio.sleep(HOLD_CHECK_SECONDS)
        await self.raw.progress(self.path)

    # -- the flow's own verbs -----------------------------------------------------------------------
    @property
    def line(self) -> str:
        return self.ticket.line or ""

    def visit(self, write: str) -> str:
        """The key of this flow's next visit of a business write: ``macro:GESTION#3``. Counted by the flow
        itself, so it is the same on every replay and does not move when a step is added elsewhere."""
        self.visits[write] += 1
        return f"{write}#{self.visits[write]}"

    async def enter(self, activity: Activity) -> None:
        if not self.path or self.path[-1] != activity:
            self.path.append(activity)
        await self.raw.progress(self.path)

    async def macro(
        self, macro: Macro, *, attachments: list[str] | None = None, extra_text: str | None = None
    ) -> MacroResult:
        applied: MacroResult = await self.act.apply_macro(
            self.ticket_id, macro.value, self.visit(f"macro:{macro.name}"), attachments or [], extra_text
        )
        self.macros.append(macro.value)
        return applied

    async def wait_customer(self, waiting_for: str, timeout: float) -> CustomerMessage | None:
        await self.raw.progress(self.path, waiting=(WaitKind.CUSTOMER, f"cliente: {waiting_for}", None))
        message = await DBOS.recv_async(Topic.CUSTOMER.value, timeout_seconds=timeout)
        await self.raw.progress(self.path)
        return CustomerMessage.model_validate(message) if message is not None else None

    async def wait_person(self, kind: WaitKind, words: str, timeout: float) -> AgentNote | None:
        await self.raw.progress(self.path, waiting=(kind, words, None))
        note = await DBOS.recv_async(Topic.AGENT.value, timeout_seconds=timeout)
        await self.raw.progress(self.path)
        return AgentNote.model_validate(note) if note is not None else None

    async def wait_reviewer(self) -> AgentNote | None:
        """The reviewer's verdict on the photos (other command notes meanwhile are not for this wait)."""
        while True:
            note = await self.wait_person(
                WaitKind.REVIEWER, "supervisor: revisión de CI y selfie", self.timings.agent_review_seconds
            )
            if note is None or note.command in (AgentCommand.APPROVE, AgentCommand.REJECT):
                return note

    async def wait_analysts(self, task_number: str) -> AnalystsAnswer | None:
        """One wait for the analysts' answer, which the deployment's analysts reader brings as a message.

        The wait is numbered: the reader keys its message by it, so an answer read twice, or read again
        before the flow has acted on it, reaches this wait once and never the next one.
        """
        self.analyst_waits += 1
        await self.raw.progress(
            self.path,
            waiting=(WaitKind.ANALYSTS, f"analistas: tarea {task_number}", f"{task_number}#{self.analyst_waits}"),
        )
        answer = await DBOS.recv_async(Topic.ANALYSTS.value, timeout_seconds=self.timings.analyst_reply_seconds)
        await self.raw.progress(self.path)
        return AnalystsAnswer.model_validate(answer) if answer is not None else None
