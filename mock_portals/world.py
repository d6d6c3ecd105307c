"""The one shared world behind every mock console: customers, lines, tickets, and what happened to them.

A scenario file (YAML or JSON, schema ``Scenario``) seeds it; every portal reads and changes the same
``World``, so a line confirmed in Qvantel is confirmed for AR too, and ``GET /_control/world`` shows it
all. The portals run on one event loop, so handlers change the world without locks.

Each change of a ticket is one update (``TicketUpdate``), whatever made it: the Zendesk API, a
customer's message, a person's note, a scenario's seeding. Observers (``World.observe_tickets``) hear of
each once, as Zendesk's triggers do; the Zendesk mock runs its triggers and logs the update for its
incremental exports. The scenario's ``zendesk`` section (``ZendeskAccount``) sets the account's rate
limits, how its webhooks are delivered, and any webhooks and triggers it has from the start::

    zendesk:
      rate_limit_per_minute: 700               # none unless set
      incremental_export_lag_seconds: 0        # default 60, as Zendesk
      webhook_retry_seconds: 0.05
      webhooks: [{id: 01HZRPAWEBHOOK000000000000, name: RPA, endpoint: "http://127.0.0.1:9000/zendesk"}]
      triggers:
      - title: Nuevo ticket de migración
        conditions: {all: [{field: update_type, operator: is, value: Create}]}
        actions: [{field: notification_webhook, value: [01HZRPAWEBHOOK000000000000, '{"ticket": {{ticket.id}}}']}]

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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from loguru import logger
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


#: Ticket statuses in Zendesk's order (a trigger's ``less_than``/``greater_than`` compare by it).
TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
#: Trigger conditions the mock evaluates: Zendesk's field name -> the operators it takes.
TRIGGER_CONDITIONS: dict[str, tuple[str, ...]] = {
    "update_type": ("is",),
    "status": (
        "is",
        "is_not",
        "less_than",
        "greater_than",
        "changed",
        "not_changed",
        "value",
        "value_previous",
        "not_value",
        "not_value_previous",
    ),
    "current_tags": ("includes", "not_includes"),
    "comment_is_public": ("is",),
    "comment_includes_word": ("includes", "not_includes", "is", "is_not"),
    "requester_id": ("is", "is_not"),
    "role": ("is", "is_not"),
    "current_user": ("is", "is_not"),
}
#: Trigger actions the mock performs: Zendesk's field names.
TRIGGER_ACTIONS = ("notification_webhook", "status", "current_tags", "remove_tags", "set_tags")
_STATUS_OPERATORS_WITHOUT_VALUE = ("changed", "not_changed")
_CONDITION_VALUES: dict[str, tuple[str, ...]] = {
    "update_type": ("Create", "Change"),
    "status": TICKET_STATUSES,
    "comment_is_public": ("true", "false", "not_relevant", "requester_can_see_comment"),
    "role": ("end_user", "agent", "admin"),
}


class TriggerCondition(Model):
    """One condition of a trigger, as Zendesk writes it: ``{field, operator, value}``."""

    field: str
    operator: str
    value: Any = None

    @model_validator(mode="after")
    def _supported(self) -> TriggerCondition:
        operators = TRIGGER_CONDITIONS.get(self.field)
        if operators is None:
            raise ValueError(f"condition field {self.field!r} is not supported; known: {', '.join(TRIGGER_CONDITIONS)}")
        if self.operator not in operators:
            raise ValueError(f"{self.field}: operator {self.operator!r} is not one of {', '.join(operators)}")
        if isinstance(self.value, bool):
            self.value = "true" if self.value else "false"
        if self.field == "status" and self.operator in _STATUS_OPERATORS_WITHOUT_VALUE:
            return self
        allowed = _CONDITION_VALUES.get(self.field)
        if allowed is not None and self.value not in allowed:
            raise ValueError(f"{self.field}: value {self.value!r} is not one of {', '.join(allowed)}")
        if self.field == "requester_id" and not str(self.value).isdigit():
            raise ValueError(f"requester_id: value {self.value!r} is not a user id")
        # The user who made the update: a user id, or any user of a role.
        if self.field == "current_user" and not (str(self.value).isdigit() or self.value in _CONDITION_VALUES["role"]):
            raise ValueError(f"current_user: value {self.value!r} is not a user id nor end_user, agent or admin")
        if self.field in ("current_tags", "comment_includes_word") and not str(self.value or "").strip():
            raise ValueError(f"{self.field}: value cannot be blank")
        return self


class TriggerConditions(Model):
    """``all`` must all hold and at least one of ``any``, when it has any."""

    all: list[TriggerCondition] = Field(default_factory=list)
    any: list[TriggerCondition] = Field(default_factory=list)


class TriggerAction(Model):
    """One action of a trigger: ``notification_webhook`` (value ``[webhook_id, body]``), ``status``,
    ``current_tags`` (adds), ``remove_tags`` or ``set_tags`` (space-separated tags)."""

    field: str
    value: Any

    @model_validator(mode="after")
    def _supported(self) -> TriggerAction:
        if self.field not in TRIGGER_ACTIONS:
            raise ValueError(f"action field {self.field!r} is not supported; known: {', '.join(TRIGGER_ACTIONS)}")
        if self.field == "notification_webhook":
            value = self.value
            if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
                raise ValueError("notification_webhook: value must be [webhook_id, body]")
            if not value[0].strip():
                raise ValueError("notification_webhook: the webhook id cannot be blank")
        elif self.field == "status":
            if self.value not in TICKET_STATUSES[1:5]:
                raise ValueError(f"status: {self.value!r} is not one of open, pending, hold, solved")
        else:
            words = self.value if isinstance(self.value, list) else str(self.value or "").split()
            if not words or not all(isinstance(w, str) and w.strip() for w in words):
                raise ValueError(f"{self.field}: value must be tags")
            self.value = " ".join(words)
        return self


class TriggerSpec(Model):
    """A trigger of the Zendesk account: conditions checked on every ticket update, actions when they hold.

    The same shape as Zendesk's Triggers API (``{"trigger": {...}}``); a scenario may seed triggers, and
    a trigger's ``notification_webhook`` must name a webhook of the scenario, by its id.
    """

    id: int | None = Field(None, description="assigned when not given")
    title: str = Field(min_length=1)
    active: bool = True
    position: int | None = Field(None, description="evaluation order; default after the last trigger")
    description: str | None = None
    category_id: str | None = None
    conditions: TriggerConditions
    actions: list[TriggerAction] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_conditions(self) -> TriggerSpec:
        if not self.title.strip():
            raise ValueError("title cannot be blank")
        if not self.conditions.all and not self.conditions.any:
            raise ValueError("a trigger needs at least one condition")
        return self

    def webhook_ids(self) -> list[str]:
        return [a.value[0] for a in self.actions if a.field == "notification_webhook"]


_WEBHOOK_AUTH_DATA = {"basic_auth": ("username", "password"), "bearer_token": ("token",), "api_key": ("name", "value")}


class WebhookAuthentication(Model):
    """How a webhook authenticates its requests, as Zendesk takes it: basic auth, a bearer token or an API key."""

    type: Literal["basic_auth", "bearer_token", "api_key"]
    data: dict[str, str] = Field(default_factory=dict)
    add_position: Literal["header"] = "header"

    @model_validator(mode="after")
    def _complete(self) -> WebhookAuthentication:
        missing = [key for key in _WEBHOOK_AUTH_DATA[self.type] if not self.data.get(key)]
        if missing:
            raise ValueError(f"{self.type} needs data.{', data.'.join(missing)}")
        return self


class WebhookSpec(Model):
    """A webhook of the Zendesk account, the shape of Zendesk's Webhooks API (``{"webhook": {...}}``).

    One connected to triggers subscribes to ``conditional_ticket_events``; the mock sends only those.
    """

    id: str | None = Field(None, description="assigned when not given (a trigger of the scenario needs it given)")
    name: str = Field(min_length=1)
    endpoint: str = Field(pattern=r"^https?://[^\s/]+", description="the URL requests go to")
    http_method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    request_format: Literal["json", "xml", "form_encoded"] = "json"
    status: Literal["active", "inactive"] = "active"
    subscriptions: list[str] = Field(default_factory=lambda: ["conditional_ticket_events"], min_length=1)
    description: str | None = None
    authentication: WebhookAuthentication | None = None
    custom_headers: dict[str, str] = Field(default_factory=dict)
    signing_secret: str | None = Field(None, description="the secret deliveries are signed with; random when not given")

    @field_validator("subscriptions")
    @classmethod
    def _trigger_or_events(cls, value: list[str]) -> list[str]:
        if "conditional_ticket_events" in value and len(value) > 1:
            raise ValueError("a webhook connected to triggers (conditional_ticket_events) subscribes to nothing else")
        return value


class ZendeskAppSpec(Model):
    """An app installed in the Zendesk account (Zendesk Apps Framework v2), whose page the agent page hosts.

    ``secure_settings`` reach only the servers in ``domain_whitelist``, substituted by Zendesk's request
    proxy; they are never shown to the browser nor listed by the installations API.
    """

    name: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://[^\s/]+", description="the app's page, loaded in the sidebar iframe")
    location: Literal["ticket_sidebar"] = "ticket_sidebar"
    settings: dict[str, Any] = Field(default_factory=dict)
    secure_settings: dict[str, str] = Field(default_factory=dict)
    domain_whitelist: list[str] = Field(default_factory=list, description="hosts secure requests may go to")
    enabled: bool = True


class ZendeskAccount(Model):
    """The Zendesk account: the API user, its limits, how webhooks are delivered, webhooks, triggers and apps.

    Every limit is off unless set, but the incremental exports' 10 requests a minute, which Zendesk
    applies on every plan. ``rate_limit_window_seconds`` is the "minute" of the limits (and of
    ``GET /_control/zendesk/settings``'s usage); a test shortens it. ``PATCH /_control/zendesk/settings``
    changes the settings at run time.
    """

    agent_email: str = "rpa@contactcentre.example"
    api_token: str = "demo-api-token"
    rate_limit_per_minute: int | None = Field(
        None,
        ge=1,
        description="account API limit: Team 200, Growth/Professional 400, Enterprise 700, "
        "High Volume 2500; null: unlimited",
    )
    rate_limit_window_seconds: float = Field(60, gt=0, description="the window every limit counts in")
    incremental_export_limit_per_minute: int | None = Field(
        10, ge=1, description="incremental export requests per window (Zendesk: 10, 30 with High Volume)"
    )
    ticket_update_limit: int | None = Field(
        None, ge=1, description="updates of one ticket per ticket_update_window_seconds (Zendesk: 30); null: none"
    )
    ticket_update_window_seconds: float = Field(600, gt=0)
    incremental_export_lag_seconds: float = Field(
        60, ge=0, description="incremental exports leave out what changed this recently (Zendesk: a minute)"
    )
    webhook_retry_seconds: float = Field(0.5, ge=0, description="wait before a delivery's first retry, doubled after")
    webhook_max_attempts: int = Field(4, ge=1, description="attempts of one delivery, the first included")
    webhook_timeout_seconds: float = Field(12, gt=0, description="a receiver slower than this failed (Zendesk: 12 s)")
    webhooks: list[WebhookSpec] = Field(default_factory=list)
    triggers: list[TriggerSpec] = Field(default_factory=list)
    apps: list[ZendeskAppSpec] = Field(default_factory=list, description="installed apps, in install order")

    @model_validator(mode="after")
    def _triggers_name_webhooks(self) -> ZendeskAccount:
        ids = [w.id for w in self.webhooks if w.id]
        if len(ids) != len(set(ids)):
            raise ValueError("webhook ids must be unique")
        for trigger in self.triggers:
            unknown = [wid for wid in trigger.webhook_ids() if wid not in ids]
            if unknown:
                raise ValueError(f"trigger {trigger.title!r} names unknown webhook(s) {', '.join(unknown)}")
        return self


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
    duplicate_webhook_deliveries: bool = Field(False, description="Zendesk only: deliver each invocation twice")
    drop_webhook_deliveries: bool = Field(
        False, description="Zendesk only: send no webhook request (each delivery is recorded as not sent)"
    )
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


@dataclass
class TicketUpdate:
    """One update of a ticket, as Zendesk counts them: what a request, a customer's message or a person's
    note changed at once, with the ticket's status and tags from before it.

    Everything a portal changes on a ticket in one step (without awaiting in between) is one update;
    observers (``World.observe_tickets``) hear of it once it is committed: explicitly by the code that
    made it, else on the servers' loop right after the step.
    """

    ticket_id: int
    created: bool = False
    updater_id: int | None = None
    via: str = "api"
    status_before: str | None = None
    tags_before: list[str] = field(default_factory=list)
    comment_ids: list[int] = field(default_factory=list)


TicketObserver = Callable[[TicketUpdate], None]


def tag_of(option_name: str) -> str:
    """Zendesk's tag for a drop-down option: lower case, no accents, '::' as '__', spaces as '_'."""
    plain = unicodedata.normalize("NFKD", option_name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_]+", "_", plain.lower().replace("::", "__")).strip("_")


class World:
    """The mutable world every portal shares, plus the bytes the JSON state does not hold."""

    def __init__(self, scenario: Scenario | None = None) -> None:
        #: Requests held by a hold fault right now (runtime only: not part of the JSON state).
        self.held: list[HeldRequest] = []
        #: Who hears of every committed ticket update, by name; they outlive a reset.
        self.ticket_observers: dict[str, TicketObserver] = {}
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
        #: What a portal keeps for this state beyond its JSON records (counters, clocks), by portal.
        self.runtime: dict[str, Any] = {}
        # Ticket updates not committed yet, and those committed while nobody observed tickets.
        self._updates: dict[int, TicketUpdate] = {}
        self._unobserved: list[TicketUpdate] = []
        self._flush_scheduled = False
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
        self.touch_ticket(ticket, created=True, updater_id=requester.id, via="whatsapp")
        for message in spec.conversation:
            author = {"customer": requester.id, "bot": BOT_USER_ID, "agent": AGENT_USER_ID}[message.author]
            self.add_comment(ticket, author_id=author, body=message.body, public=message.public, via="whatsapp")
        self.commit_ticket(ticket)

    # -- ticket updates ------------------------------------------------------------------------
    def touch_ticket(
        self, ticket: Ticket, *, created: bool = False, updater_id: int | None = None, via: str | None = None
    ) -> TicketUpdate:
        """The ticket's update under way, opened now (remembering its status and tags) if none is.

        Call it before changing a ticket; ``add_comment`` does.
        """
        update = self._updates.get(ticket.id)
        if update is None:
            update = TicketUpdate(
                ticket_id=ticket.id,
                created=created,
                updater_id=updater_id,
                via=via or "api",
                status_before=None if created else ticket.status,
                tags_before=[] if created else list(ticket.tags),
            )
            self._updates[ticket.id] = update
            self._schedule_flush()
        else:
            update.created = update.created or created
            if update.updater_id is None:
                update.updater_id = updater_id
        return update

    def commit_ticket(self, ticket: Ticket) -> None:
        """End the ticket's update under way and tell the observers, who may change the ticket further."""
        update = self._updates.pop(ticket.id, None)
        if update is not None:
            self._notify(update)

    def commit_tickets(self) -> None:
        for ticket_id in list(self._updates):
            update = self._updates.pop(ticket_id, None)
            if update is not None:
                self._notify(update)

    def observe_tickets(self, name: str, observer: TicketObserver) -> None:
        """Hear of every committed ticket update from now on, and of those nobody observed so far."""
        self.ticket_observers[name] = observer
        backlog, self._unobserved = self._unobserved, []
        for update in backlog:
            self._notify(update)

    def _notify(self, update: TicketUpdate) -> None:
        if not self.ticket_observers:
            self._unobserved.append(update)
            return
        for name, observer in list(self.ticket_observers.items()):
            try:
                observer(update)
            except Exception:  # one broken observer must not fail the request that changed the ticket
                logger.exception("ticket observer {} failed on ticket {}", name, update.ticket_id)

    def _schedule_flush(self) -> None:
        # Outside the servers' loop (building a world) the code that changes tickets commits them itself.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        self.commit_tickets()

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
        update = self.touch_ticket(ticket, updater_id=author_id, via=via)
        comment = Comment(
            id=self.next_id(),
            author_id=author_id,
            body=body,
            public=public,
            attachment_ids=attachment_ids or [],
            via=via,
        )
        ticket.comments.append(comment)
        update.comment_ids.append(comment.id)
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
