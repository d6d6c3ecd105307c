"""The one shared world behind every mock console: customers, lines, tickets, and what happened to them.

A scenario file (YAML or JSON, schema ``Scenario``) seeds it; every portal reads and changes the same
``World``, so a line confirmed in Qvantel is confirmed for AR too, and ``GET /_control/world`` shows it
all. The portals run on one event loop, so handlers change the world without locks.

A ticket may carry a ``customer`` script (``CustomerScript``): how the person on WhatsApp answers each
macro the agent applies and each clarifying question the agent writes (text, CI photos and selfie, the
SMS token on time, late or mistyped, stickers, voice notes and other files WhatsApp carries, or
nothing), how the supervisor answers a request to review the documents, and how the agent on duty
answers when the robot hands the ticket over. The simulator in ``mock_portals.customer`` plays it on the
servers' event loop. Example, in a scenario's ticket::

    customer:
      delay_seconds: 0.2                       # default wait before each answer
      document_style: whatsapp                 # named (ci_anverso.png...) | whatsapp (IMG-<date>-WA0001.jpg...)
      replies:                                 # key: the macro's short name (mock_portals.macro_names.MACROS)
        primer_contacto: [{silent: true}, {text: "Sí, soy yo"}]   # one entry per application; last repeats
        oferta: {text: "Quiero el Mega Plan 69", documents: true, files: [sticker]}
        aclaracion: {text: "El de 69"}         # answers the agent's public replies that are no macro's
        tyc: {text: "ACEPTO"}
        sms_ar: {token: on_time}               # on_time | late | mistyped | silent
      reviewer: approve                        # approve | reject | silent, or a list, one per request
      agent:                                   # answers "El robot necesita un agente..." notes; default: none
      - {set_fields: {line: "71234567"}, note: "#continuar"}
      - {silent: true}
"""

from __future__ import annotations

import asyncio
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mock_portals.macro_names import REPLY_KEYS

PORTALS = ("zendesk", "planificate", "qvantel", "ar", "bccs", "contrato", "syshelp", "impuestos")
LineState = Literal["AC", "FR", "RO", "MP", "SU"]
SimType = Literal["USIM LTE", "3G"]
LINE_NUMBER = re.compile(r"^[67]\d{7}$")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------
# The scenario: what a test or the demo writes
# --------------------------------------------------------------------------------------------
class LineSpec(Model):
    """A mobile line as the consoles know it."""

    number: str = Field(description="8 digits, starting with 6 or 7")
    holder_name: str
    holder_ci: str
    state: LineState = Field(
        "AC", description="Planifícate state: AC active, FR/RO blocked, MP debt elsewhere, SU suspended"
    )
    other_operator: str | None = Field(None, description="set when the number belongs to another company")
    sim: SimType = "USIM LTE"
    confirmed: bool = Field(True, description="registered to its holder in Qvantel")
    last_sim_recovery: datetime | None = None
    plan_type: Literal["Prepago", "Pospago"] = "Prepago"
    plan: str = "Prepago Total"
    recommended_plans: list[str] | None = Field(
        default_factory=lambda: ["Mega Plan 69", "Mega Plan 99"],
        description="plans Planifícate recommends; null means Planifícate gives no result",
    )
    acmo: str | None = None
    billing_name: str | None = None
    billing_id: str | None = None
    # What AR decides when asked to migrate this line.
    ar_outcome: Literal["migrate", "error", "historical_debt"] = "migrate"
    ar_error_message: str = "Error en Scoring: no se pudo completar la evaluación crediticia (cod. 504)"
    ar_allowed_plans: list[str] | None = Field(None, description="Scoring's plans; null means all plans")
    # What the activations analysts answer to a contract of this line, in order of submissions.
    analyst_answers: list[AnalystAnswer] = Field(default_factory=list)

    @field_validator("number")
    @classmethod
    def _line_number(cls, value: str) -> str:
        if not LINE_NUMBER.match(value):
            raise ValueError(f"line number {value!r} must be 8 digits starting with 6 or 7")
        return value


class AnalystAnswer(Model):
    """One answer of the activations analysts to a contract sent for analysis."""

    verdict: Literal["approved", "fixable", "unfixable", "silent"]
    missing_backup: str | None = Field(None, description="for fixable: which backup is missing")
    reason: str | None = Field(None, description="for unfixable: why")


class CustomerSpec(Model):
    """A person in the billing system."""

    ci: str
    name: str
    historical_debt: float = 0.0
    debt_detail: str = ""


class TaxpayerSpec(Model):
    """An entry of the tax registry (padrón NIT)."""

    nit: str
    name: str
    kind: Literal["government", "commercial", "other"]
    status: str = "ACTIVO HABILITADO"


class CommentSpec(Model):
    """A message already in the WhatsApp conversation when the scenario starts."""

    author: Literal["customer", "bot", "agent"] = "customer"
    body: str
    public: bool = True


class TicketFieldsSpec(Model):
    """What the WhatsApp bot (Liza) filled in on the ticket."""

    holder_name: str | None = None
    holder_ci: str | None = None
    line: str | None = None
    city: str | None = None
    billing_name: str | None = None
    billing_nit: str | None = None


TokenMode = Literal["on_time", "late", "mistyped", "retyped", "silent"]
ReviewDecision = Literal["approve", "reject", "silent"]
#: Files WhatsApp carries besides the CI photos: a sticker, a voice note, a photo of something else, a PDF.
FileKind = Literal["sticker", "voice_note", "photo", "pdf"]
DocumentStyle = Literal["named", "whatsapp"]


class CustomerReply(Model):
    """The customer's answer to one application of a macro; ``{silent: true}`` answers nothing."""

    silent: bool = False
    text: str | None = Field(
        None,
        description="the WhatsApp message; with token, '{token}' marks where the code "
        "goes (else the code follows the text)",
    )
    documents: bool = Field(
        False, description="attach the CI front, back and selfie, named as the script's document_style says"
    )
    files: list[FileKind] = Field(
        default_factory=list,
        description="more attachments, in this order: sticker (STK-<date>-WA0001.webp), voice_note "
        "(PTT-<date>-WA0001.opus), photo (IMG-<date>-WA0007.jpg, not a document), pdf (DOC-<date>-WA0001.pdf)",
    )
    token: TokenMode | None = Field(
        None,
        description="send back the code of the newest SMS from 7371 on the line: on time, once expired "
        "(token_ttl_seconds + 0.5 s after it was sent), with one character changed, typed again right "
        "(retyped: the newest SMS even if already answered, as after a mistyped one), or not at all",
    )
    delay_seconds: float | None = Field(None, ge=0, description="overrides the script's delay_seconds")

    @model_validator(mode="after")
    def _says_something_or_is_silent(self) -> CustomerReply:
        says = self.text is not None or self.documents or self.token is not None or bool(self.files)
        if self.silent and says:
            raise ValueError("a silent reply cannot also have text, documents, files or token")
        if not self.silent and not says:
            raise ValueError("a reply needs text, documents, files or token, or silent: true")
        return self


class ReviewerAnswer(Model):
    """The supervisor's answer to one request to review the CI photos and selfie."""

    decision: ReviewDecision
    reason: str = Field("La selfie no muestra la seña solicitada.", description="the 'Motivo' of a reject")
    delay_seconds: float | None = Field(None, ge=0, description="overrides the script's delay_seconds")


class AgentAnswer(Model):
    """The agent on duty's answer to one hand-off note of the robot (``El robot necesita un agente...``).

    The agent first fills ``set_fields`` on the ticket (keys as in a scenario's ``tickets[].fields``), then
    posts ``note`` as an internal note (a command such as ``#continuar``, ``#valor Mega Plan 69`` or
    ``#terminar despedida``); ``{silent: true}`` does nothing.
    """

    note: str | None = Field(None, description="the internal note to post, e.g. '#continuar'")
    set_fields: dict[str, str] = Field(
        default_factory=dict, description="ticket fields to fill before the note: line, holder_ci, billing_nit..."
    )
    silent: bool = False
    delay_seconds: float | None = Field(None, ge=0, description="overrides the script's delay_seconds")

    @field_validator("set_fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(TicketFieldsSpec.model_fields))
        if unknown:
            known = ", ".join(TicketFieldsSpec.model_fields)
            raise ValueError(f"unknown ticket field(s) {', '.join(unknown)}; known: {known}")
        return value

    @model_validator(mode="after")
    def _does_something_or_is_silent(self) -> AgentAnswer:
        if self.note is not None and not self.note.strip():
            raise ValueError("an agent's note cannot be blank")
        does = self.note is not None or bool(self.set_fields)
        if self.silent and does:
            raise ValueError("a silent agent answer cannot also have a note or set_fields")
        if not self.silent and not does:
            raise ValueError("an agent answer needs a note or set_fields, or silent: true")
        return self


class CustomerScript(Model):
    """How the simulated customer (and the supervisor reviewing documents) answers on one ticket."""

    delay_seconds: float = Field(0.2, ge=0, description="default wait before each answer")
    replies: dict[str, list[CustomerReply]] = Field(
        default_factory=dict,
        description="macro short name -> one reply or a list, one per application (the last repeats); "
        "a macro with no entry gets no answer",
    )
    reviewer: list[ReviewerAnswer] = Field(
        default_factory=lambda: [ReviewerAnswer(decision="silent")],
        description="approve | reject | silent, or a list of them (or of {decision, reason}), one per request",
    )
    agent: list[AgentAnswer] = Field(
        default_factory=list,
        description="the agent on duty's answers to the robot's hand-off notes, one per note (the last repeats); "
        "a note as text stands for {note: text}; empty: nobody answers",
    )
    document_style: DocumentStyle = Field(
        "named",
        description="named: ci_anverso.png, ci_reverso.png, selfie_ci.png; whatsapp: the same pictures as "
        "IMG-<yyyymmdd>-WA0001.jpg, -WA0002.jpg, -WA0003.jpg (front, back, selfie), as WhatsApp names them",
    )
    document_name: str | None = Field(None, description="name on the CI photos; default the ticket's holder")
    document_ci: str | None = Field(None, description="CI on the photos; another person's plays 'not the holder'")
    line: str | None = Field(None, description="whose SMS inbox holds the token; default the ticket's line")
    sms_wait_seconds: float = Field(30, ge=0, description="how long to wait for a new SMS before giving up")

    @field_validator("replies", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: item if isinstance(item, list) else [item] for key, item in value.items()}
        return value

    @field_validator("replies")
    @classmethod
    def _known_macros(cls, value: dict[str, list[CustomerReply]]) -> dict[str, list[CustomerReply]]:
        unknown = sorted(set(value) - set(REPLY_KEYS))
        if unknown:
            raise ValueError(f"unknown macro short name(s) {', '.join(unknown)}; known: {', '.join(REPLY_KEYS)}")
        empty = sorted(key for key, replies in value.items() if not replies)
        if empty:
            raise ValueError(f"empty reply list for {', '.join(empty)}")
        return value

    @field_validator("reviewer", mode="before")
    @classmethod
    def _reviewer_shorthand(cls, value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        return [{"decision": item} if isinstance(item, str) else item for item in items]

    @field_validator("agent", mode="before")
    @classmethod
    def _agent_shorthand(cls, value: Any) -> Any:
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [{"note": item} if isinstance(item, str) else item for item in items]


class TicketSpec(Model):
    id: int
    subject: str = "Quiero un plan pospago"
    requester_name: str
    requester_phone: str
    status: Literal["new", "open", "pending", "hold", "solved"] = "open"
    fields: TicketFieldsSpec = Field(default_factory=TicketFieldsSpec)
    conversation: list[CommentSpec] = Field(default_factory=list)
    customer: CustomerScript | None = Field(
        None, description="how the simulated customer answers (played by mock_portals.customer)"
    )


class Credentials(Model):
    user: str = "agente.rpa"
    password: str = "Clave.2026"


class ZendeskAccount(Model):
    agent_email: str = "rpa@contactcentre.example"
    api_token: str = "demo-api-token"


class Scenario(Model):
    """A whole seeded world: the schema of the files under ``mock_portals/scenarios/``."""

    name: str = "empty"
    description: str = ""
    lines: list[LineSpec] = Field(default_factory=list)
    customers: list[CustomerSpec] = Field(default_factory=list)
    taxpayers: list[TaxpayerSpec] = Field(default_factory=list)
    tickets: list[TicketSpec] = Field(default_factory=list)
    credentials: Credentials = Field(default_factory=Credentials)
    zendesk: ZendeskAccount = Field(default_factory=ZendeskAccount)
    session_idle_seconds: float = Field(900, description="a console session expires after this idle time")
    latency_ms: int = Field(0, description="server latency added to every console request")
    token_ttl_seconds: float = Field(600, description="lifetime of an AR token")
    outages: dict[str, float] = Field(
        default_factory=dict,
        description="portal -> seconds it shows its maintenance page from the moment the scenario is loaded",
    )
    expectations: dict[str, Any] = Field(default_factory=dict, description="what a regression run checks")

    @field_validator("outages")
    @classmethod
    def _known_portals(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(PORTALS))
        if unknown:
            raise ValueError(f"no portal named {', '.join(unknown)} (portals: {', '.join(PORTALS)})")
        return value

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read a scenario from YAML or JSON; raises ``ValueError`` naming what is wrong."""
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) if str(path).endswith((".yaml", ".yml")) else __import__("json").loads(text)
        return cls.model_validate(data or {})


LineSpec.model_rebuild()


# --------------------------------------------------------------------------------------------
# Runtime records: the world as the portals change it
# --------------------------------------------------------------------------------------------
class Line(LineSpec):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    migrated_at: datetime | None = None
    migrations: int = Field(0, description="how many times AR migrated this line (must never exceed 1)")
    confirmed_at: datetime | None = None


class Attachment(Model):
    id: int
    token: str
    file_name: str
    content_type: str
    size: int
    created_at: datetime = Field(default_factory=utc_now)


class Comment(Model):
    id: int
    author_id: int
    body: str
    html_body: str = ""
    public: bool = True
    attachment_ids: list[int] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)
    via: str = "api"
    # Zendesk keeps this in the update's audit; the world keeps it here so the simulated customer can
    # tell a macro's reply from the agent's own words without audits.
    macro_title: str | None = Field(None, description="the macro applied in the update that wrote this comment")


class Ticket(Model):
    id: int
    subject: str
    requester_id: int
    status: str
    fields: TicketFieldsSpec
    custom_fields: dict[int, Any] = Field(default_factory=dict)
    comments: list[Comment] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    macros_applied: list[str] = Field(default_factory=list, description="macro titles saved on the ticket, in order")
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    customer: CustomerScript | None = None


class User(Model):
    id: int
    name: str
    email: str | None = None
    phone: str | None = None
    role: Literal["end-user", "agent", "admin"] = "end-user"


class Sms(Model):
    sender: str
    text: str
    sent_at: datetime = Field(default_factory=utc_now)


HoldPhase = Literal["before", "after"]
#: What one path segment may hold in a hold's pattern: ``*`` or a ``{name}`` placeholder.
_SEGMENT_WILDCARD = re.compile(r"\*|\{[^/{}]*\}")


class HoldSpec(Model):
    """Hold the next request matching ``method`` and ``path``, so a test can stop a client mid-write.

    ``path`` is matched against the whole request path (never its query string); ``*`` or a
    ``{name}`` placeholder stands for exactly one path segment: ``/contratos``, ``/tareas/*/responder``,
    ``/api/v2/tickets/{id}``. Zendesk's optional ``.json`` suffix is removed before matching.

    - ``before``: the request is held before the portal sees it; when the hold ends it is answered 503
      and nothing was committed, as if the console lost it.
    - ``after``: the portal handles the request (and commits it); its answer is held, then sent.

    A hold ends after ``seconds``, when the faults are cleared, or when the world is reset.
    """

    method: str = Field(min_length=1, description="HTTP method, any case")
    path: str = Field(pattern=r"^/", description="the request path; '*' or '{name}' is one segment")
    phase: HoldPhase
    seconds: float = Field(30, gt=0, le=3600, description="how long the request is held at most")

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    def matches(self, method: str, path: str) -> bool:
        if method.upper() != self.method:
            return False
        literal = (re.escape(part) for part in _SEGMENT_WILDCARD.split(self.path))
        return re.fullmatch("[^/]+".join(literal), path) is not None


class FaultState(Model):
    """Faults injected into one portal through the control API."""

    latency_ms: int = 0
    fail_next: int = Field(0, description="answer HTTP 500 to this many next requests")
    maintenance_until: datetime | None = None
    late_render_ms: int = Field(0, description="render the key element of each screen late, by script")
    modal: bool = Field(False, description="show an unexpected 'Aviso del sistema' dialog on each screen")
    rate_limit_next: int = Field(0, description="Zendesk only: answer 429 to this many next requests")
    holds: list[HoldSpec] = Field(
        default_factory=list, description="armed holds: each holds the first request it matches, then is spent"
    )


@dataclass
class HeldRequest:
    """A request a hold is keeping now; ``release`` ends the hold before its time."""

    portal: str
    method: str
    path: str
    phase: HoldPhase
    since: datetime
    until: datetime
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def describe(self) -> dict[str, str]:
        return {
            "portal": self.portal,
            "method": self.method,
            "path": self.path,
            "phase": self.phase,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
        }


class WorldState(Model):
    scenario_name: str
    lines: dict[str, Line] = Field(default_factory=dict)
    customers: dict[str, CustomerSpec] = Field(default_factory=dict)
    taxpayers: dict[str, TaxpayerSpec] = Field(default_factory=dict)
    users: dict[int, User] = Field(default_factory=dict)
    tickets: dict[int, Ticket] = Field(default_factory=dict)
    attachments: dict[int, Attachment] = Field(default_factory=dict)
    sms: dict[str, list[Sms]] = Field(default_factory=dict)
    # Consoles added by later features keep their records here, keyed by console name.
    records: dict[str, Any] = Field(default_factory=dict)
    faults: dict[str, FaultState] = Field(default_factory=lambda: {p: FaultState() for p in PORTALS})
    requests: dict[str, int] = Field(
        default_factory=lambda: {p: 0 for p in PORTALS},
        description="HTTP requests each portal answered (tests count retries)",
    )


AGENT_USER_ID = 1
BOT_USER_ID = 2


def tag_of(option_name: str) -> str:
    """Zendesk's tag for a drop-down option: lower case, no accents, '::' as '__', spaces as '_'."""
    plain = unicodedata.normalize("NFKD", option_name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_]+", "_", plain.lower().replace("::", "__")).strip("_")


class World:
    """The mutable world every portal shares, plus the bytes the JSON state does not hold."""

    def __init__(self, scenario: Scenario | None = None) -> None:
        #: Requests held by a hold fault right now (runtime only: not part of the JSON state).
        self.held: list[HeldRequest] = []
        self.reset(scenario or Scenario())

    def reset(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._ids = itertools.count(1000)
        self.blobs: dict[int, bytes] = {}
        # A request held for the old world is let go: its client gets its answer (or its 503) now.
        self.release_holds()
        self.held = []
        # session id -> last time seen, per portal
        self.sessions: dict[str, dict[str, datetime]] = {p: {} for p in PORTALS}
        state = WorldState(scenario_name=scenario.name)
        for spec in scenario.lines:
            state.lines[spec.number] = Line(**spec.model_dump())
        for customer in scenario.customers:
            state.customers[customer.ci] = customer
        for taxpayer in scenario.taxpayers:
            state.taxpayers[taxpayer.nit] = taxpayer
        state.users[AGENT_USER_ID] = User(
            id=AGENT_USER_ID, name="Robot RPA", email=scenario.zendesk.agent_email, role="agent"
        )
        state.users[BOT_USER_ID] = User(id=BOT_USER_ID, name="Liza", role="agent")
        for portal, seconds in scenario.outages.items():
            state.faults[portal].maintenance_until = utc_now() + timedelta(seconds=seconds)
        self.state = state
        for ticket_spec in scenario.tickets:
            self._seed_ticket(ticket_spec)

    def next_id(self) -> int:
        return next(self._ids)

    def release_holds(self) -> None:
        """End every hold now; the held requests are answered as their phase says."""
        for held in self.held:
            held.release.set()

    def _seed_ticket(self, spec: TicketSpec) -> None:
        requester = User(id=self.next_id(), name=spec.requester_name, phone=spec.requester_phone)
        self.state.users[requester.id] = requester
        ticket = Ticket(
            id=spec.id,
            subject=spec.subject,
            requester_id=requester.id,
            status=spec.status,
            fields=spec.fields,
            customer=spec.customer,
        )
        self.state.tickets[spec.id] = ticket
        for message in spec.conversation:
            author = {"customer": requester.id, "bot": BOT_USER_ID, "agent": AGENT_USER_ID}[message.author]
            self.add_comment(ticket, author_id=author, body=message.body, public=message.public, via="whatsapp")

    def add_comment(
        self,
        ticket: Ticket,
        *,
        author_id: int,
        body: str,
        public: bool,
        attachment_ids: list[int] | None = None,
        via: str = "api",
    ) -> Comment:
        comment = Comment(
            id=self.next_id(),
            author_id=author_id,
            body=body,
            public=public,
            attachment_ids=attachment_ids or [],
            via=via,
        )
        ticket.comments.append(comment)
        ticket.updated_at = utc_now()
        return comment

    def add_blob(self, file_name: str, content_type: str, content: bytes, token: str) -> Attachment:
        attachment = Attachment(
            id=self.next_id(), token=token, file_name=file_name, content_type=content_type, size=len(content)
        )
        self.state.attachments[attachment.id] = attachment
        self.blobs[attachment.id] = content
        return attachment

    def snapshot(self) -> dict[str, Any]:
        return self.state.model_dump(mode="json")
