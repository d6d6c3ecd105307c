"""The agent's side of the ticket: the Zendesk sidebar app's page and API, served by ``rpa serve``.

Agents live in Zendesk's agent workspace; the robot's flows, steps and evidence live here. The panel app
(Zendesk Apps Framework v2, ``rpa panel package`` builds its zip) shows, beside each ticket, what the
ticket's flow is doing and what it waits for, and lets the agent answer it or run one robot step without a
terminal. Its page (``/panel/app``) is static: it learns the ticket and the agent from Zendesk through the
ZAF protocol and reaches ``/panel/api`` only through Zendesk's secure settings proxy, so the bearer token
(the app's secure setting) is put in by Zendesk's servers and never reaches the agent's browser.

Every API call needs ``Authorization: Bearer`` with ``RPA_PANEL_TOKEN`` (the app's) or ``RPA_API_KEY``
(other callers). Actions on a ticket whose Zendesk group or brand the settings do not allow are refused.
Whatever the API hands the page masks the holder's CI to its last 3 digits.

What an action does is what ``rpa flow send``, ``rpa flow start|retry`` and ``rpa step`` do (the same
functions), plus an internal note naming the agent. A step runs on ``rpa serve``'s own warm ``Toolkit``
(one browser, sessions kept logged in) on a few threads of the panel's own; while it runs, the same step
with the same arguments on the same ticket is not started again (409 with the running one's id). Running
and recently finished steps are kept in the memory of the ``rpa serve`` process: a restart forgets them,
and the step's internal note stays the lasting record.

The report of a ticket's flow (``/panel/report/{ticket}``) opens in a tab of its own, where no bearer can
be sent: the API hands the page a link signed for ``REPORT_LINK_SECONDS`` with an HMAC keyed by the
configured token; a bearer is accepted too. The supervisor's page (``/supervisor``) takes ``RPA_API_KEY``
once as ``?key=`` and keeps an HttpOnly cookie derived from it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import os
import threading
import time
import uuid
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from dbos import DBOSClient
from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from loguru import logger
from pydantic import BaseModel, Field, SecretStr

from flows.engine import durable
from flows.engine.run_store import FlowRun, RunStore, StepRecord
from flows.engine.settings import Settings
from flows.engine.toolkit import Toolkit
from flows.interfaces import agent_steps, operations
from flows.reporting import assets, labels
from flows.reporting import page as report_page
from pages.errors import ApplicationError, BusinessError, InvalidInput, RecordNotFound
from robots.zendesk import TicketData

PANEL_VERSION = "1.0.0"
PAGE_DIR = Path(__file__).parent / "panel_page"
PAGE_ASSETS = {"panel.js": "text/javascript", "panel.css": "text/css"}
REPORT_LINK_SECONDS = 600
#: A ticket's group and brand change rarely; the page asks every few seconds, Zendesk's budget is shared.
TICKET_CACHE_SECONDS = 20
STEP_THREADS = 4
SUPERVISOR_COOKIE = "rpa_supervisor"

#: Who a waiting flow waits for, in the agent's words (by ``WaitKind`` value).
WAITING_FOR = {
    "customer": "el cliente",
    "reviewer": "un supervisor: revisión de CI y selfie",
    "analysts": "los analistas de activaciones",
    "agent": "un agente",
    "console": "que una consola vuelva a responder",
    "held": "el agente que tomó el ticket",
}

#: The console a flow's step drives, for the supervisor's failures (steps not listed are Zendesk's).
STEP_CONSOLES = {
    "preanalysis": "Planifícate",
    "line_status": "Qvantel",
    "confirm_line": "Qvantel",
    "lookup_nit": "Impuestos",
    "derive_to_government": "Syshelp",
    "issue_token": "AR",
    "migrate_once": "AR",
    "token_expired": "AR",
    "historical_debt": "BCCS",
    "change_billing": "BCCS",
    "upload_contract": "Contrato digital",
    "print_contract": "Contrato digital",
    "send_to_analysis": "Contrato digital",
    "task_answer": "Contrato digital",
    "answer_task": "Contrato digital",
    "dismiss_task": "Contrato digital",
}

_templates = Environment(loader=FileSystemLoader(PAGE_DIR), autoescape=select_autoescape(["html"]))


# =============================================================================================
# Tokens, signatures, masks
# =============================================================================================
def _configured(*secrets: SecretStr | None) -> list[str]:
    return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value().strip()]


def api_tokens(settings: Settings) -> list[str]:
    return _configured(settings.panel_token, settings.api_key)


def _equal(given: str, expected: str) -> bool:
    # Bytes: compare_digest refuses a str with characters outside ASCII, which a caller may send.
    return hmac.compare_digest(given.encode(), expected.encode())


def _bearer(authorization: str | None) -> str | None:
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    return authorization[7:].strip() or None


def require_bearer(settings: Settings, authorization: str | None, tokens: list[str] | None = None) -> None:
    """503 when no token is configured, 401 unless the bearer is one of them (every one compared)."""
    expected = api_tokens(settings) if tokens is None else tokens
    if not expected:
        raise HTTPException(503, "panel not configured: set RPA_PANEL_TOKEN or RPA_API_KEY")
    given = _bearer(authorization)
    if given is None or not any([_equal(given, token) for token in expected]):
        raise HTTPException(401, "missing or wrong bearer token")


def _link_key(token: str) -> bytes:
    # A key of its own: a signed link never reveals anything usable as the bearer.
    return hashlib.sha256(b"rpa-panel-report-link:" + token.encode()).digest()


def signed_report_path(settings: Settings, ticket_id: int, now: float | None = None) -> str:
    expires = int((now or time.time()) + REPORT_LINK_SECONDS)
    signature = hmac.new(_link_key(api_tokens(settings)[0]), f"{ticket_id}:{expires}".encode(), "sha256").hexdigest()
    return f"/panel/report/{ticket_id}?exp={expires}&sig={signature}"


def report_link_valid(settings: Settings, ticket_id: int, expires: int, signature: str) -> bool:
    if expires < time.time():
        return False
    message = f"{ticket_id}:{expires}".encode()
    expected = [hmac.new(_link_key(token), message, "sha256").hexdigest() for token in api_tokens(settings)]
    return any([_equal(signature, e) for e in expected])


def mask_ci(ci: str | None) -> str | None:
    """All but the last 3 characters hidden."""
    if not ci:
        return None
    return "•" * max(0, len(ci) - 3) + ci[-3:]


def hide_ci(text: str | None, ci: str | None) -> str | None:
    """The text with the holder's CI masked wherever a step or a person wrote it."""
    if not text or not ci or len(ci) < 4:
        return text
    return text.replace(ci, mask_ci(ci) or "")


# =============================================================================================
# The steps an agent may run
# =============================================================================================
@dataclass(frozen=True)
class StepArgument:
    name: str
    label: str
    required: bool = False
    kind: Literal["text", "bool"] = "text"


@dataclass(frozen=True)
class PanelStep:
    """One of ``rpa step``'s commands, as the panel offers it."""

    name: str
    title: str
    run: Callable[[Toolkit, int, dict[str, Any]], agent_steps.StepReport]
    arguments: tuple[StepArgument, ...] = ()
    #: Asked "¿Confirmar?" first and refused without ``"confirm": true``: it cannot be undone.
    irreversible: bool = False

    @property
    def writes(self) -> bool:
        return self.name in agent_steps.WRITE_STEPS


_TASK = StepArgument("task", "Tarea (TA-…)", required=True)

STEPS: dict[str, PanelStep] = {
    s.name: s
    for s in (
        PanelStep("preanalysis", "Preanálisis en Planifícate", lambda tk, t, a: agent_steps.preanalysis(tk, t)),
        PanelStep("line-status", "Estado de la línea en Qvantel", lambda tk, t, a: agent_steps.line_status(tk, t)),
        PanelStep(
            "confirm-line",
            "Confirmar línea en Qvantel",
            lambda tk, t, a: agent_steps.confirm_line(tk, t, a.get("acmo")),
            (StepArgument("acmo", "Código ACMO (opcional)"),),
        ),
        PanelStep("token", "Generar token en AR", lambda tk, t, a: agent_steps.issue_token(tk, t)),
        PanelStep(
            "migrate",
            "Migrar en AR",
            lambda tk, t, a: agent_steps.migrate(tk, t, a["token"], a["plan"]),
            (StepArgument("token", "Token del cliente", True), StepArgument("plan", "Plan pospago", True)),
            irreversible=True,
        ),
        PanelStep("migration-state", "¿Migrada en AR?", lambda tk, t, a: agent_steps.migration_state(tk, t)),
        PanelStep("debt", "Deuda histórica en BCCS", lambda tk, t, a: agent_steps.historical_debt(tk, t)),
        PanelStep(
            "billing",
            "Cambiar facturación en BCCS",
            lambda tk, t, a: agent_steps.change_billing(tk, t, a.get("name"), a.get("nit")),
            (StepArgument("name", "A nombre de (opcional)"), StepArgument("nit", "NIT (opcional)")),
        ),
        PanelStep(
            "nit",
            "Consultar NIT en Impuestos",
            lambda tk, t, a: agent_steps.lookup_nit(tk, t, a.get("nit")),
            (StepArgument("nit", "NIT (opcional)"),),
        ),
        PanelStep(
            "derive",
            "Derivar por Syshelp",
            lambda tk, t, a: agent_steps.derive_to_government(tk, t, a["email"], a.get("description")),
            (StepArgument("email", "Correo de contacto", True), StepArgument("description", "Descripción (opcional)")),
        ),
        PanelStep(
            "contract",
            "Contrato digital",
            lambda tk, t, a: agent_steps.contract(tk, t, a["plan"], analysis=bool(a.get("analysis"))),
            (StepArgument("plan", "Plan pospago", True), StepArgument("analysis", "Enviar a análisis", kind="bool")),
        ),
        PanelStep(
            "task", "Leer tarea de analistas", lambda tk, t, a: agent_steps.task_status(tk, t, a["task"]), (_TASK,)
        ),
        PanelStep(
            "answer-task",
            "Responder la observación",
            lambda tk, t, a: agent_steps.answer_task(tk, t, a["task"]),
            (_TASK,),
        ),
        PanelStep(
            "dismiss-task",
            "Desestimar la tarea",
            lambda tk, t, a: agent_steps.dismiss_task(tk, t, a["task"], a["reason"]),
            (_TASK, StepArgument("reason", "Motivo", True)),
        ),
    )
}


def step_arguments(step: PanelStep, given: dict[str, Any]) -> dict[str, Any]:
    """The step's arguments from the request, checked: unknown or missing ones are bad input."""
    known = {a.name: a for a in step.arguments}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InvalidInput(f"el paso '{step.name}' no recibe {', '.join(unknown)}")
    arguments: dict[str, Any] = {}
    for argument in step.arguments:
        value = given.get(argument.name)
        if argument.kind == "bool":
            arguments[argument.name] = bool(value)
            continue
        text = str(value).strip() if value is not None else ""
        if argument.required and not text:
            raise InvalidInput(f"el paso '{step.name}' necesita '{argument.label}'")
        if text:
            arguments[argument.name] = text
    return arguments


# =============================================================================================
# Steps running now
# =============================================================================================
class StepRun(BaseModel):
    id: str
    ticket: int
    step: str
    arguments: dict[str, Any]
    agent: str
    started_at: datetime
    ended_at: datetime | None = None
    summary: str | None = None
    error: str | None = None
    note_id: int | None = None


@dataclass
class StepRuns:
    """The panel's steps, running and the last few finished, per ticket; kept in this process's memory."""

    finished_kept: int = 5
    _running: dict[tuple[int, str, str], StepRun] = field(default_factory=dict)
    _finished: dict[int, list[StepRun]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def key(ticket: int, step: str, arguments: dict[str, Any]) -> tuple[int, str, str]:
        return ticket, step, json.dumps(arguments, sort_keys=True)

    def begin(self, run: StepRun) -> StepRun | None:
        """Register a run; the one already running with the same key instead, if any."""
        key = self.key(run.ticket, run.step, run.arguments)
        with self._lock:
            running = self._running.get(key)
            if running is not None:
                return running
            self._running[key] = run
            return None

    def end(self, run: StepRun) -> None:
        run.ended_at = datetime.now(UTC)
        with self._lock:
            self._running.pop(self.key(run.ticket, run.step, run.arguments), None)
            done = self._finished.setdefault(run.ticket, [])
            done.insert(0, run)
            del done[self.finished_kept :]

    def of_ticket(self, ticket: int) -> tuple[list[StepRun], list[StepRun]]:
        with self._lock:
            running = [r.model_copy() for r in self._running.values() if r.ticket == ticket]
            return running, [r.model_copy() for r in self._finished.get(ticket, [])]


# =============================================================================================
# The panel's service
# =============================================================================================
class Agent(BaseModel):
    """The agent as ZAF's ``currentUser`` names them."""

    id: int | None = None
    name: str = Field(min_length=1, max_length=200)

    def words(self) -> str:
        return f"{self.name} (id {self.id})" if self.id is not None else self.name


class AgentBody(BaseModel):
    agent: Agent


class EndBody(AgentBody):
    macro: str = Field(description="the macro the flow ends with: a short name (despedida) or its exact title")


class AnswerBody(AgentBody):
    kind: Literal["value", "continue", "end"]
    value: str | None = None


class ApproveBody(AgentBody):
    labels: str | None = Field(None, description="which photo is which: anverso=1 reverso=2 selfie=3")


class RejectBody(AgentBody):
    reason: str = Field(min_length=1)


class StepBody(AgentBody):
    arguments: dict[str, str | bool | None] = Field(default_factory=dict)
    confirm: bool = False


class Panel:
    """What the routes do; the clients are built on first use (``rpa serve`` without a panel builds none)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runs = StepRuns()
        self._lock = threading.Lock()
        self._store: RunStore | None = None
        self._client: DBOSClient | None = None
        self._toolkit: Toolkit | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._tickets: dict[int, tuple[float, TicketData]] = {}
        self._thumbs: OrderedDict[str, str | None] = OrderedDict()
        self._shared = False

    # -- clients ----------------------------------------------------------------------------------
    def share(self, toolkit: Toolkit, store: RunStore, client: DBOSClient) -> None:
        """Use the clients ``rpa serve`` already has for its webhooks: one browser, one set of logged-in
        sessions and one database pool per process. Their owner closes them, not the panel."""
        with self._lock:
            self._toolkit, self._store, self._client = toolkit, store, client
            self._shared = True

    @property
    def store(self) -> RunStore:
        with self._lock:
            if self._store is None:
                self._store = RunStore(self.settings.store_url())
            return self._store

    @property
    def client(self) -> DBOSClient:
        with self._lock:
            if self._client is None:
                self._client = durable.client(self.settings)
            return self._client

    @property
    def toolkit(self) -> Toolkit:
        """Kept for the life of ``rpa serve``: its browser and logged-in sessions serve every click."""
        with self._lock:
            if self._toolkit is None:
                self._toolkit = Toolkit(self.settings)
            return self._toolkit

    def _steps_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=STEP_THREADS, thread_name_prefix="panel-step")
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, toolkit, store, client = self._pool, self._toolkit, self._store, self._client
            self._pool = self._toolkit = self._store = self._client = None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._shared:
            return
        if toolkit is not None:
            toolkit.close()
        if store is not None:
            store.dispose()
        if client is not None:
            client.destroy()

    # -- the ticket ---------------------------------------------------------------------------------
    def ticket(self, ticket_id: int, *, fresh: bool = False) -> TicketData:
        cached = self._tickets.get(ticket_id)
        if cached is not None and not fresh and time.monotonic() - cached[0] < TICKET_CACHE_SECONDS:
            return cached[1]
        ticket = self.toolkit.zendesk.ticket(ticket_id)
        self._tickets[ticket_id] = (time.monotonic(), ticket)
        return ticket

    def refusal(self, ticket: TicketData) -> str | None:
        """Why the panel may not act on this ticket, or None."""
        groups, brands = self.settings.panel_allowed_groups, self.settings.panel_allowed_brands
        if groups and ticket.group_id not in groups:
            return f"el grupo del ticket ({ticket.group_id or 'ninguno'}) no está habilitado para el robot"
        if brands and ticket.brand_id not in brands:
            return f"la marca del ticket ({ticket.brand_id or 'ninguna'}) no está habilitada para el robot"
        return None

    def allowed_ticket(self, ticket_id: int) -> TicketData:
        # Fresh: an agent may just have moved the ticket to another group.
        ticket = self.ticket(ticket_id, fresh=True)
        refused = self.refusal(ticket)
        if refused:
            raise HTTPException(403, refused)
        return ticket

    def _engine_status(self, flow_id: str) -> str | None:
        found = self.client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
        return found[0].status if found else None

    # -- what the panel shows -----------------------------------------------------------------------
    def view(self, ticket_id: int) -> dict[str, Any]:
        ticket = self.ticket(ticket_id)
        ci = ticket.holder_ci
        refused = self.refusal(ticket)
        run = self.store.latest_flow(ticket_id)
        engine_status = self._engine_status(run.flow_id) if run else None
        steps = self.store.steps(run.flow_id) if run else []
        live = bool(run and run.state.live)
        running, finished = self.runs.of_ticket(ticket_id)
        return {
            "ticket": {
                "id": ticket_id,
                "subject": ticket.subject,
                "line": ticket.line,
                "holder_ci": mask_ci(ci),
                "group_id": ticket.group_id,
                "brand_id": ticket.brand_id,
            },
            "refused": refused,
            "flow": self._flow_view(run, engine_status, steps, ci) if run else None,
            "evidence": self._evidence(ticket_id, steps),
            "report": signed_report_path(self.settings, ticket_id) if run else None,
            "actions": [] if refused else self._actions(run, engine_status),
            "steps": [] if refused else [self._step_offer(s, live) for s in STEPS.values()],
            "running_steps": [self._run_view(r, ci) for r in running],
            "finished_steps": [self._run_view(r, ci) for r in finished],
            "moving": live or bool(running),
            "held_by": self.store.held_by(ticket_id),
        }

    def _flow_view(self, run: FlowRun, engine_status: str | None, steps: list[StepRecord], ci: str | None) -> dict:
        waiting: dict[str, Any] | None = None
        if run.waiting_kind:
            who = WAITING_FOR.get(run.waiting_kind, run.waiting_kind)
            if run.waiting_kind == "customer" and "token" in (run.waiting_for or "").lower():
                who = "el cliente: el token SMS de AR"
            waiting = {"kind": run.waiting_kind, "who": who, "words": hide_ci(run.waiting_for, ci)}
            if run.waiting_kind == "agent":
                # The hand-off's question is ``who: need`` in the run store; its note (with the why) is on the ticket.
                waiting["question"] = hide_ci((run.waiting_for or "").partition(": ")[2] or run.waiting_for, ci)
                note_id = self._hand_off_note(run.flow_id)
                waiting["note"] = self._note_link(run.ticket_id, note_id) if note_id else None
        last = steps[-10:]
        return {
            "id": run.flow_id,
            "engine_status": engine_status,
            "state": labels.state(run.state),
            "activity": run.activity,
            "waiting": waiting,
            "path": list(run.path),
            "outcome": labels.outcome(run.outcome),
            "error": hide_ci(run.error, ci),
            "started_at": run.started_at.isoformat(),
            "updated_at": run.updated_at.isoformat(),
            "last_steps": [
                {
                    "title": labels.step_title(s.name),
                    "activity": s.activity,
                    "seconds": round(s.seconds, 1) if s.seconds is not None else None,
                    "outcome": labels.step_outcome(s.outcome),
                    "error": hide_ci(s.error, ci),
                }
                for s in reversed(last)
            ],
        }

    def _hand_off_note(self, flow_id: str) -> int | None:
        """The comment id of the flow's latest hand-off note (the ``hand_off`` step's output in DBOS)."""
        try:
            history = self.client.list_workflow_steps(flow_id)
        except Exception as exc:  # the link is a convenience: the question is shown without it
            logger.debug("no hand-off note of {}: {}", flow_id, exc)
            return None
        notes = [
            s["output"] for s in history if s["function_name"].endswith("hand_off") and isinstance(s["output"], int)
        ]
        return notes[-1] if notes else None

    def _note_link(self, ticket_id: int, note_id: int) -> str:
        return f"{self.settings.zendesk.base_url.rstrip('/')}/agent/tickets/{ticket_id}#c{note_id}"

    def _evidence(self, ticket_id: int, steps: list[StepRecord], limit: int = 8) -> list[dict[str, Any]]:
        cards: list[dict[str, Any]] = []
        for step in reversed(steps):
            for item in step.evidence:
                if len(cards) >= limit:
                    return cards
                file = Path(item.file)
                if assets.kind(file) != "image":
                    continue  # personal documents are never shown; PDFs and files are in the notes
                cards.append(
                    {
                        "title": labels.step_title(step.name),
                        "description": item.description,
                        "thumb": self._thumbnail(item.sha256, item.file),
                        "note": self._note_link(ticket_id, item.note_id) if item.note_id else None,
                    }
                )
        return cards

    def _thumbnail(self, sha256: str, file: str) -> str | None:
        # Evidence never changes under its checksum: each thumbnail is made once per process.
        if sha256 not in self._thumbs:
            self._thumbs[sha256] = assets.thumbnail(self.toolkit.files.local(file))
            while len(self._thumbs) > 500:
                self._thumbs.popitem(last=False)
        return self._thumbs[sha256]

    def _actions(self, run: FlowRun | None, engine_status: str | None) -> list[str]:
        if run is None or engine_status is None:
            return ["start"]
        if engine_status == "ERROR":
            return ["retry"]
        if run.state.live and self.store.held_by(run.ticket_id):
            return ["give_back", "end_held"]
        if run.state.live and run.waiting_kind == "agent":
            return ["value", "continue", "end", "hold"]
        if run.state.live and run.waiting_kind == "reviewer":
            return ["approve", "reject", "hold"]
        return ["hold"] if run.state.live else []

    @staticmethod
    def _step_offer(step: PanelStep, live: bool) -> dict[str, Any]:
        return {
            "name": step.name,
            "title": step.title,
            "arguments": [a.__dict__ for a in step.arguments],
            "irreversible": step.irreversible,
            "writes": step.writes,
            "allowed": not (step.writes and live),
        }

    @staticmethod
    def _run_view(run: StepRun, ci: str | None) -> dict[str, Any]:
        return {
            "id": run.id,
            "step": run.step,
            "title": STEPS[run.step].title,
            "agent": run.agent,
            "started_at": run.started_at.isoformat(),
            "ended_at": run.ended_at.isoformat() if run.ended_at else None,
            "summary": hide_ci(run.summary, ci),
            "error": hide_ci(run.error, ci),
        }

    # -- actions -----------------------------------------------------------------------------------
    def _note(self, ticket_id: int, body: str) -> None:
        # Never starting with '#': the note tells people what happened and is no command for the flow.
        self.toolkit.zendesk.add_internal_note(ticket_id, body, (), key=f"panel:{uuid.uuid4().hex}")

    def answer(self, ticket_id: int, body: AnswerBody) -> dict[str, Any]:
        self.allowed_ticket(ticket_id)
        operations.send(self.client, ticket_id, body.kind, body.value)
        said = {"value": f"con el valor «{body.value}»", "continue": "que el robot continúe"}.get(
            body.kind, f"terminar con la macro «{body.value}»"
        )
        self._note(ticket_id, f"Panel del robot: {body.agent.words()} respondió al pedido del robot: {said}.")
        return {"sent": body.kind}

    def review(self, ticket_id: int, approve: bool, value: str | None, agent: Agent) -> dict[str, Any]:
        self.allowed_ticket(ticket_id)
        operations.send(self.client, ticket_id, "approve" if approve else "reject", value)
        verdict = "aprobó" if approve else "rechazó"
        detail = f" ({value})" if value else ""
        self._note(ticket_id, f"Panel del robot: {agent.words()} {verdict} las fotos de CI y selfie{detail}.")
        return {"sent": "approve" if approve else "reject"}

    def start(self, ticket_id: int, agent: Agent) -> dict[str, Any]:
        self.allowed_ticket(ticket_id)
        flow_id = operations.start(self.client, self.toolkit.zendesk, self.settings, ticket_id, "migration")
        self._note(ticket_id, f"Panel del robot: {agent.words()} inició el flujo de migración ({flow_id}).")
        return {"flow_id": flow_id}

    def hold(self, ticket_id: int, agent: Agent) -> dict[str, Any]:
        self.allowed_ticket(ticket_id)
        holder = operations.hold(self.client, self.store, ticket_id, agent.words())
        if holder == agent.words():
            self._note(ticket_id, f"Panel del robot: {holder} tomó el ticket; el robot espera sin escribir nada.")
        return {"held_by": holder}

    def give_back(self, ticket_id: int, agent: Agent) -> dict[str, Any]:
        self.allowed_ticket(ticket_id)
        if operations.give_back(self.store, ticket_id):
            self._note(ticket_id, f"Panel del robot: {agent.words()} devolvió el ticket al robot, que continúa.")
        return {"held_by": None}

    def end_held(self, ticket_id: int, macro: str, agent: Agent) -> dict[str, Any]:
        self.allowed_ticket(ticket_id)
        title = operations.end_held(self.client, self.toolkit, self.store, ticket_id, macro, agent.words())
        self._note(ticket_id, f"Panel del robot: {agent.words()} terminó el flujo con la macro «{title}».")
        return {"ended_with": title}

    def retry(self, ticket_id: int, agent: Agent) -> dict[str, Any]:
        self.allowed_ticket(ticket_id)
        step = operations.retry(self.client, self.store, ticket_id)
        self._note(ticket_id, f"Panel del robot: {agent.words()} reintentó el flujo desde el paso {step}.")
        return {"from_step": step}

    def run_step(self, ticket_id: int, name: str, body: StepBody) -> StepRun:
        """Start a step on the panel's threads; a running twin is answered with 409 and its id."""
        step = STEPS.get(name)
        if step is None:
            raise HTTPException(404, f"no hay un paso '{name}'")
        arguments = step_arguments(step, dict(body.arguments))
        if step.irreversible and not body.confirm:
            raise HTTPException(400, f"'{step.title}' no se puede deshacer: confírmelo con \"confirm\": true")
        self.allowed_ticket(ticket_id)
        if step.writes:
            try:
                agent_steps.refuse_if_flow_is_live(self.store, ticket_id, step.name)
            except InvalidInput as exc:
                raise HTTPException(409, str(exc)) from None
        run = StepRun(
            id=uuid.uuid4().hex[:12],
            ticket=ticket_id,
            step=name,
            arguments=arguments,
            agent=body.agent.words(),
            started_at=datetime.now(UTC),
        )
        twin = self.runs.begin(run)
        if twin is not None:
            raise HTTPException(409, {"error": f"'{step.title}' ya está en curso", "running": twin.id})
        self._steps_pool().submit(self._run, step, run)
        return run

    def _run(self, step: PanelStep, run: StepRun) -> None:
        token = agent_steps.requested_by.set(run.agent)
        try:
            report = step.run(self.toolkit, run.ticket, run.arguments)
            run.summary = report.summary
            if report.note is None:
                # The step left no evidence, so no note of its own: the panel's says what it found.
                self._note(run.ticket, f"Panel del robot: «{step.title}»: {report.summary}")
            else:
                run.note_id = report.note.comment_id
        except Exception as exc:
            if not isinstance(exc, InvalidInput | RecordNotFound | BusinessError | ApplicationError):
                logger.opt(exception=exc).error("panel step {} of ticket {} failed", run.step, run.ticket)
            run.error = str(exc) or type(exc).__name__
        finally:
            agent_steps.requested_by.reset(token)
            self.runs.end(run)

    # -- the supervisor ------------------------------------------------------------------------------
    def supervision(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        day_ago = now - timedelta(hours=24)
        runs = self.store.flows(limit=10_000)
        live = [r for r in runs if r.state.live]
        handoffs = sorted((r for r in live if r.waiting_kind == "agent"), key=lambda r: _aware(r.updated_at))
        failures: Counter[str] = Counter()
        failed_lines: list[dict[str, Any]] = []
        for run in runs:
            if _aware(run.updated_at) < day_ago:
                continue
            for step in self.store.steps(run.flow_id):
                if step.error and step.ended_at and _aware(step.ended_at) >= day_ago:
                    console = STEP_CONSOLES.get(step.name, "Zendesk / otros")
                    failures[console] += 1
                    failed_lines.append(
                        {"run": run, "console": console, "step": labels.step_title(step.name), "at": step.ended_at}
                    )
        return {
            "now": now,
            "by_activity": Counter(r.activity or "inicio" for r in live).most_common(),
            "by_wait": Counter(
                WAITING_FOR.get(r.waiting_kind, r.waiting_kind) if r.waiting_kind else "nada (trabajando)" for r in live
            ).most_common(),
            "handoffs": [
                {
                    "run": r,
                    "age": _age(now - _aware(r.updated_at)),
                    "report": signed_report_path(self.settings, r.ticket_id),
                }
                for r in handoffs
            ],
            "failures": failures.most_common(),
            "failed_lines": [
                {**line, "report": signed_report_path(self.settings, line["run"].ticket_id)}
                for line in sorted(failed_lines, key=lambda x: _aware(x["at"]), reverse=True)[:50]
            ],
            "live": len(live),
        }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


# =============================================================================================
# Routes
# =============================================================================================
@contextmanager
def _answers() -> Iterator[None]:
    """Our errors as HTTP answers: bad input 400, not found 404, a business refusal 422, a console 502."""
    try:
        yield
    except RecordNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidInput as exc:
        raise HTTPException(400, str(exc)) from None
    except BusinessError as exc:
        raise HTTPException(422, str(exc)) from None
    except ApplicationError as exc:
        raise HTTPException(502, str(exc)) from None


async def _off_loop(work: Callable[[], Any]) -> Any:
    """Database, DBOS and Zendesk calls block: on a thread, never on the event loop."""

    def guarded() -> Any:
        with _answers():
            return work()

    return await asyncio.to_thread(guarded)


def router(panel: Panel) -> APIRouter:
    """``/panel``: the app's page, its API and the run report; ``/supervisor``: the supervisor's page."""
    settings = panel.settings
    routes = APIRouter()

    def authorized(authorization: str | None) -> None:
        require_bearer(settings, authorization)

    @routes.get("/panel/app", include_in_schema=False)
    async def app_page() -> FileResponse:
        return FileResponse(PAGE_DIR / "index.html", media_type="text/html")

    @routes.get("/panel/assets/{name}", include_in_schema=False)
    async def app_asset(name: str) -> FileResponse:
        if name not in PAGE_ASSETS:
            raise HTTPException(404, "not found")
        return FileResponse(PAGE_DIR / name, media_type=PAGE_ASSETS[name])

    @routes.get("/panel/api/tickets/{ticket_id}")
    async def ticket_view(ticket_id: int, authorization: str | None = Header(None)) -> dict[str, Any]:
        authorized(authorization)
        view: dict[str, Any] = await _off_loop(lambda: panel.view(ticket_id))
        return view

    @routes.post("/panel/api/tickets/{ticket_id}/answer")
    async def answer(ticket_id: int, body: AnswerBody, authorization: str | None = Header(None)) -> dict[str, Any]:
        authorized(authorization)
        done: dict[str, Any] = await _off_loop(lambda: panel.answer(ticket_id, body))
        return done

    @routes.post("/panel/api/tickets/{ticket_id}/approve")
    async def approve(ticket_id: int, body: ApproveBody, authorization: str | None = Header(None)) -> dict[str, Any]:
        authorized(authorization)
        done: dict[str, Any] = await _off_loop(lambda: panel.review(ticket_id, True, body.labels, body.agent))
        return done

    @routes.post("/panel/api/tickets/{ticket_id}/reject")
    async def reject(ticket_id: int, body: RejectBody, authorization: str | None = Header(None)) -> dict[str, Any]:
        authorized(authorization)
        done: dict[str, Any] = await _off_loop(lambda: panel.review(ticket_id, False, body.reason, body.agent))
        return done

    @routes.post("/panel/api/tickets/{ticket_id}/start")
    async def start(ticket_id: int, body: AgentBody, authorization: str | None = Header(None)) -> dict[str, Any]:
        authorized(authorization)
        done: dict[str, Any] = await _off_loop(lambda: panel.start(ticket_id, body.agent))
        return done

    @routes.post("/panel/api/tickets/{ticket_id}/hold")
    async def hold(ticket_id: int, body: AgentBody, authorization: str | None = Header(None)) -> dict[str, Any]:
        authorized(authorization)
        done: dict[str, Any] = await _off_loop(lambda: panel.hold(ticket_id, body.agent))
        return done

    @routes.post("/panel/api/tickets/{ticket_id}/give-back")
    async def give_back(ticket_id: int, body: AgentBody, authorization: str | None = Header(None)) -> dict[str, Any]:
        authorized(authorization)
        done: dict[str, Any] = await _off_loop(lambda: panel.give_back(ticket_id, body.agent))
        return done

    @routes.post("/panel/api/tickets/{ticket_id}/end")
    async def end_held(ticket_id: int, body: EndBody, authorization: str | None = Header(None)) -> dict[str, Any]:
        authorized(authorization)
        done: dict[str, Any] = await _off_loop(lambda: panel.end_held(ticket_id, body.macro, body.agent))
        return done

    @routes.post("/panel/api/tickets/{ticket_id}/retry")
    async def retry(ticket_id: int, body: AgentBody, authorization: str | None = Header(None)) -> dict[str, Any]:
        authorized(authorization)
        done: dict[str, Any] = await _off_loop(lambda: panel.retry(ticket_id, body.agent))
        return done

    @routes.post("/panel/api/tickets/{ticket_id}/steps/{step}", status_code=202)
    async def run_step(
        ticket_id: int, step: str, body: StepBody, authorization: str | None = Header(None)
    ) -> dict[str, Any]:
        authorized(authorization)
        run: StepRun = await _off_loop(lambda: panel.run_step(ticket_id, step, body))
        return {"id": run.id, "step": run.step, "state": "running"}

    @routes.get("/panel/report/{ticket_id}", include_in_schema=False)
    async def report(ticket_id: int, exp: int = 0, sig: str = "", authorization: str | None = Header(None)) -> Response:
        if not (api_tokens(settings) and sig and report_link_valid(settings, ticket_id, exp, sig)):
            authorized(authorization)
        path: Path = await _off_loop(lambda: report_page.report_path(settings, ticket_id))
        return HTMLResponse(path.read_text(encoding="utf-8"))

    @routes.get("/supervisor", include_in_schema=False)
    async def supervisor(
        request: Request, key: str | None = None, authorization: str | None = Header(None)
    ) -> Response:
        keys = _configured(settings.api_key)
        if not keys:
            return HTMLResponse("Página no configurada: falta RPA_API_KEY.", status_code=503)
        session = _supervisor_session(keys[0])
        if key is not None:
            if not _equal(key, keys[0]):
                return HTMLResponse("Clave incorrecta.", status_code=401)
            # The key leaves the address bar (and the history) at once; the cookie carries on.
            answer = RedirectResponse("/supervisor", status_code=303)
            answer.set_cookie(SUPERVISOR_COOKIE, session, httponly=True, samesite="strict", path="/")
            return answer
        cookie = request.cookies.get(SUPERVISOR_COOKIE)
        if not (cookie and _equal(cookie, session)):
            require_bearer(settings, authorization, keys)
        data = await _off_loop(panel.supervision)
        return HTMLResponse(_templates.get_template("supervisor.html").render(**data))

    return routes


def _supervisor_session(api_key: str) -> str:
    return hmac.new(api_key.encode(), b"rpa-supervisor-session", "sha256").hexdigest()


# =============================================================================================
# The app's zip
# =============================================================================================
def manifest(url: str, *, author_name: str, author_email: str) -> dict[str, Any]:
    base = panel_base_url(url)
    return {
        "name": "Robot de migración",
        "author": {"name": author_name, "email": author_email},
        "defaultLocale": "es",
        "private": True,
        "location": {"support": {"ticket_sidebar": {"url": f"{base}/panel/app", "flexible": True}}},
        "frameworkVersion": "2.0",
        "version": PANEL_VERSION,
        "parameters": [
            {"name": "serve_url", "type": "text", "required": True, "default": base},
            {"name": "token", "type": "text", "secure": True, "required": True},
        ],
        "domainWhitelist": [urlsplit(base).hostname],
    }


def panel_base_url(url: str | None) -> str:
    """Where Zendesk reaches ``rpa serve``: an http(s) address with a host; bad input otherwise."""
    text = (url or "").strip().rstrip("/")
    if not text:
        raise InvalidInput("give the address at which Zendesk reaches `rpa serve`, e.g. --url https://rpa.example.com")
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(f"{url!r} is not an http(s) address with a host, e.g. https://rpa.example.com")
    return text


TRANSLATIONS = {
    "es": {
        "name": "Robot de migración",
        "short_description": "El flujo del robot para este ticket: qué hace, qué espera y sus pasos.",
        "serve_url": ("Dirección de rpa serve", "La dirección https con la que Zendesk llega a rpa serve."),
        "token": ("Token del panel", "El valor de RPA_PANEL_TOKEN de rpa serve."),
    },
    "en": {
        "name": "Migration robot",
        "short_description": "The robot's flow for this ticket: what it does, what it waits for, its steps.",
        "serve_url": ("rpa serve address", "The https address at which Zendesk reaches rpa serve."),
        "token": ("Panel token", "The value of rpa serve's RPA_PANEL_TOKEN."),
    },
}


def _translation(words: dict[str, Any]) -> dict[str, Any]:
    return {
        "app": {
            "name": words["name"],
            "short_description": words["short_description"],
            "parameters": {
                name: {"label": words[name][0], "helpText": words[name][1]} for name in ("serve_url", "token")
            },
        }
    }


def logo(size: int) -> bytes:
    """A plain square logo of ``size`` pixels (Zendesk asks 320 and 128), drawn rather than stored."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (size, size), (17, 110, 120))
    draw = ImageDraw.Draw(image)
    margin = size // 8
    draw.rounded_rectangle(
        (margin, margin, size - margin, size - margin), radius=size // 10, outline="white", width=max(2, size // 40)
    )
    font = ImageFont.load_default(size=size // 4)
    draw.text((size / 2, size / 2), "RPA", fill="white", font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def package(url: str | None, out: Path, *, author_name: str, author_email: str) -> Path:
    """Write the zip a Zendesk admin uploads as a private app; nothing is written on bad input."""
    app_manifest = manifest(url or "", author_name=author_name, author_email=author_email)
    files = {
        "manifest.json": json.dumps(app_manifest, indent=2, ensure_ascii=False).encode(),
        **{
            f"translations/{locale}.json": json.dumps(_translation(words), indent=2, ensure_ascii=False).encode()
            for locale, words in TRANSLATIONS.items()
        },
        "assets/logo.png": logo(320),
        "assets/logo-small.png": logo(128),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    os.replace(temp, out)
    return out
