"""``rpa serve``: Zendesk tells us when a robot's ticket changes, instead of the worker asking every ticket.

Polling every live flow's ticket costs Zendesk calls that grow with the number of flows waiting; with
thousands of customers waiting, most of those calls answer "nothing new". Zendesk triggers call this
webhook instead: when a comment is added to a ticket the robot works on, and when a new migration ticket
arrives. The worker stays the safety net for what reached Zendesk while ``rpa serve`` was down or a
delivery was lost: its catch-up reader reads Zendesk's ticket event export every
``RPA_PROCESS__CATCH_UP_INTERVAL_SECONDS`` (new tickets and comments alike), and its polling reads each live
flow's ticket, so with webhooks on ``RPA_PROCESS__WATCH_INTERVAL_SECONDS`` can be minutes.

**A call is believed only when Zendesk signed it.** ``X-Zendesk-Webhook-Signature`` must be the base64 of
HMAC-SHA256, keyed by the webhook's signing secret (``RPA_WEBHOOK_SIGNING_SECRET``), over the value of
``X-Zendesk-Webhook-Signature-Timestamp`` followed by the raw body; the timestamp must be within
``RPA_WEBHOOK_TOLERANCE_SECONDS`` of now, so a captured call cannot be replayed later. Anything else is
answered 401 and nothing is done.

**The body our triggers send** (``WebhookEvent``; ids as strings, as Zendesk renders placeholders, or ints;
other keys are ignored)::

    {"event": "comment_added", "ticket_id": "{{ticket.id}}", "comment_id": "{{ticket.latest_comment.id}}"}
    {"event": "ticket_created", "ticket_id": "{{ticket.id}}"}
    {"event": "step_requested", "ticket_id": "{{ticket.id}}", "tags": "{{ticket.tags}}"}

``step_requested`` comes from an agent's macro that tags the ticket with a robot step to run
(``flows.interfaces.tag_steps``); it runs on this process's toolkit, in its lane's thread.

The comment trigger is best conditioned on "current user is not" the robot's API agent: the robot's own
notes and macros need no read, and each would cost one.

**Zendesk is answered at once; the work comes after**, on a few lanes of threads of their own (``Intake``),
so a slow Zendesk API or database never keeps the webhook waiting into Zendesk's timeout. Handing over is
idempotent, because Zendesk may deliver one invocation twice: a repeated ``X-Zendesk-Webhook-Invocation-Id``
is answered and dropped; a new comment is forwarded exactly as the polling forwards it
(``TicketInbox.forward_ticket``, keyed by the comment id, so a second read delivers nothing twice); a new
ticket tagged as a migration starts its flow, or is handed to an agent when the start checks refuse it
(``flows.process.arrivals.start_from_zendesk``, which the catch-up reader calls too), and a ticket has one
flow and one such hand-off however often that is asked.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import queue
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import Enum

import uvicorn
from dbos import DBOSClient
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from flows.engine import durable
from flows.engine.run_store import RunStore
from flows.engine.settings import Settings
from flows.engine.toolkit import Toolkit
from flows.interfaces import panel
from flows.interfaces.metrics import MetricsPage
from flows.interfaces.tag_steps import TagSteps
from flows.process import arrivals
from flows.process.inboxes import TicketInbox
from flows.process.messages import Topic
from pages.errors import ApplicationError, InvalidInput

WEBHOOK_PATH = "/zendesk/webhook"
SIGNATURE = "X-Zendesk-Webhook-Signature"
SIGNATURE_TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_ID = "X-Zendesk-Webhook-Invocation-Id"


class EventKind(str, Enum):
    """What our Zendesk triggers report."""

    COMMENT_ADDED = "comment_added"
    TICKET_CREATED = "ticket_created"
    STEP_REQUESTED = "step_requested"


class WebhookEvent(BaseModel):
    """The JSON body of our triggers' webhook calls."""

    model_config = ConfigDict(extra="ignore")

    event: EventKind
    ticket_id: int = Field(gt=0)
    comment_id: int | None = Field(None, description="the new comment, when the trigger sends it")
    tags: list[str] = Field(default_factory=list, description="the ticket's tags when the trigger fired")

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_zendesk_renders_them(cls, value: object) -> object:
        # ``{{ticket.tags}}`` renders as one space-separated text.
        return value.split() if isinstance(value, str) else value

    @field_validator("comment_id", mode="before")
    @classmethod
    def _empty_placeholder_is_unknown(cls, value: object) -> object:
        # Zendesk renders a placeholder that has no value as an empty string.
        return None if isinstance(value, str) and not value.strip() else value


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """What Zendesk sends in ``X-Zendesk-Webhook-Signature`` for this timestamp and body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_problem(
    secret: str, headers: Mapping[str, str], body: bytes, tolerance_seconds: float, now: datetime | None = None
) -> str | None:
    """Why a call is not Zendesk's signed call (a short reason for the 401), or None when it is."""
    signature, timestamp = headers.get(SIGNATURE), headers.get(SIGNATURE_TIMESTAMP)
    if not signature or not timestamp:
        return "missing signature headers"
    try:
        signed_at = datetime.fromisoformat(timestamp.strip())
    except ValueError:
        return "signature timestamp is not a date"
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    if abs(((now or datetime.now(UTC)) - signed_at).total_seconds()) > tolerance_seconds:
        return "signature timestamp out of tolerance"
    expected = zendesk_signature(secret, timestamp, body)
    # Bytes, not str: compare_digest refuses a str with characters outside ASCII, which a forger may send.
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return "signature does not match"
    return None


def signing_secret(settings: Settings) -> SecretStr:
    """The webhook's signing secret; without one no call could be believed, so nothing is served."""
    secret = settings.webhook_signing_secret
    if secret is None or not secret.get_secret_value().strip():
        raise InvalidInput(
            "RPA_WEBHOOK_SIGNING_SECRET (setting webhook_signing_secret) is not set: give it the signing secret "
            "of the Zendesk webhook, which Zendesk shows on the webhook's page"
        )
    return secret


class Offer(str, Enum):
    """What became of an event handed to the intake."""

    QUEUED = "queued"
    REPEATED = "repeated"  # this invocation was handed over already
    FULL = "full"
    CLOSED = "closed"


class Intake:
    """Events taken off Zendesk's hands and worked through afterwards, on a few lanes of their own.

    A ticket always goes to the same lane, so its events are handled in order and never two at once in
    this process; a read of a ticket that already waits in its lane is not queued again (that read will
    see every comment up to when it runs).
    """

    def __init__(
        self,
        handle: Callable[[WebhookEvent], None],
        *,
        lanes: int = 4,
        capacity: int = 10_000,
        remembered_invocations: int = 10_000,
    ) -> None:
        self.handle = handle
        self._lanes: list[queue.Queue[WebhookEvent | None]] = [queue.Queue(maxsize=capacity) for _ in range(lanes)]
        self._threads: list[threading.Thread] = []
        self._invocations: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered_invocations
        # ticket -> the newest comment id its waiting read was told about (None: unknown, read whatever is new)
        self._reads_waiting: dict[int, int | None] = {}
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        for number, lane in enumerate(self._lanes):
            thread = threading.Thread(target=self._work, args=(lane,), name=f"webhook-lane-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def offer(self, event: WebhookEvent, invocation_id: str | None = None) -> Offer:
        """Queue an event's work; never waits."""
        with self._lock:
            if self._closed:
                return Offer.CLOSED
            if invocation_id and invocation_id in self._invocations:
                return Offer.REPEATED
            if event.event == EventKind.COMMENT_ADDED and event.ticket_id in self._reads_waiting:
                told = self._reads_waiting[event.ticket_id]
                newest = None if told is None or event.comment_id is None else max(told, event.comment_id)
                self._reads_waiting[event.ticket_id] = newest
            else:
                try:
                    self._lanes[event.ticket_id % len(self._lanes)].put_nowait(event)
                except queue.Full:
                    return Offer.FULL
                if event.event == EventKind.COMMENT_ADDED:
                    self._reads_waiting[event.ticket_id] = event.comment_id
            if invocation_id:
                self._invocations[invocation_id] = None
                while len(self._invocations) > self._remembered:
                    self._invocations.popitem(last=False)
            return Offer.QUEUED

    def waiting(self) -> int:
        """Events queued or in hand."""
        return sum(lane.unfinished_tasks for lane in self._lanes)

    def idle(self, timeout: float) -> bool:
        """Wait until every queued event has been handled; False if some still wait after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.waiting():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self, timeout: float = 10) -> None:
        """Take no more events and give the queued ones ``timeout`` seconds to be handled."""
        with self._lock:
            self._closed = True
        deadline = time.monotonic() + timeout
        for lane in self._lanes:
            try:
                lane.put(None, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                pass
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = self.waiting()
        if left:
            # The worker reads them anyway: new comments at its next poll, new tickets by its catch-up reader.
            logger.warning("{} webhook event(s) left unhandled at stop", left)

    def _work(self, lane: queue.Queue[WebhookEvent | None]) -> None:
        while True:
            event = lane.get()
            if event is None:
                lane.task_done()
                return
            try:
                self._handle(event)
            except Exception as exc:  # one event's trouble must not stop its lane
                logger.opt(exception=exc).error("{} of ticket {} failed", event.event.value, event.ticket_id)
            finally:
                lane.task_done()

    def _handle(self, event: WebhookEvent) -> None:
        if event.event == EventKind.COMMENT_ADDED:
            with self._lock:
                # From here a new comment needs a read of its own: this read may have read Zendesk already.
                told = self._reads_waiting.pop(event.ticket_id, event.comment_id)
            event = event.model_copy(update={"comment_id": told})
        self.handle(event)


class TicketEvents:
    """What each event means for the flows, done with the clients ``rpa flow`` uses."""

    def __init__(self, settings: Settings, client: DBOSClient, toolkit: Toolkit, store: RunStore) -> None:
        self.settings = settings
        self.client = client
        self.toolkit = toolkit
        self.inbox = TicketInbox(store, toolkit.zendesk, self._deliver)
        self.tag_steps = TagSteps(toolkit, store)

    def _deliver(self, flow_id: str, message: dict, topic: Topic, key: str) -> None:
        self.client.send(flow_id, message, topic.value, idempotency_key=key)

    def handle(self, event: WebhookEvent) -> None:
        if event.event == EventKind.COMMENT_ADDED:
            forwarded = self.inbox.forward_ticket(event.ticket_id, event.comment_id)
            if forwarded:
                logger.info("{} message(s) of ticket {} forwarded to its flow", forwarded, event.ticket_id)
            return
        if event.event == EventKind.STEP_REQUESTED:
            self.tag_steps.handle(event.ticket_id, event.tags)
            return
        try:
            arrivals.start_from_zendesk(self.client, self.toolkit, self.settings, event.ticket_id)
        except ApplicationError as exc:
            # The worker's catch-up reader finds the ticket in Zendesk's export and tries again.
            logger.error("new ticket {} not started, Zendesk did not answer: {}", event.ticket_id, exc)


class _Clients:
    """The clients the events are handled with, built once the server starts and closed when it stops."""

    def __init__(self, settings: Settings) -> None:
        # Chromium starts with the first step an agent asks for and stays, logged in, for the next ones.
        self.toolkit = Toolkit(settings)
        self.store = RunStore(settings.store_url())
        self.client = durable.client(settings)
        self.events = TicketEvents(settings, self.client, self.toolkit, self.store)

    def close(self) -> None:
        self.toolkit.close()
        self.store.dispose()
        self.client.destroy()


def _fixed(secret: SecretStr) -> Callable[[], SecretStr]:
    return lambda: secret


def create_app(
    settings: Settings,
    handle: Callable[[WebhookEvent], None] | None = None,
    secret: Callable[[], SecretStr] | None = None,
) -> FastAPI:
    """The webhook's web app; ``handle`` does an event's work (default: ``TicketEvents`` on the settings'
    Zendesk, run store and flows database). Refuses to build without a signing secret. ``secret`` gives the
    secret at each call instead of the settings' (a harness whose mock Zendesk makes a new webhook, and so a
    new secret, at each reset)."""
    current_secret = secret or _fixed(signing_secret(settings))
    # The agents' Zendesk panel shares the server and, when the server has them, its clients.
    agents_panel = panel.Panel(settings)
    metrics_page = MetricsPage(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        clients: _Clients | None = None
        work = handle
        if work is None:
            # Off the event loop: preparing the flows database may take a moment.
            clients = await asyncio.to_thread(_Clients, settings)
            work = clients.events.handle
            agents_panel.share(clients.toolkit, clients.store, clients.client)
        intake = Intake(work)
        intake.start()
        app.state.intake = intake
        logger.info("receiving Zendesk webhooks at {}", WEBHOOK_PATH)
        try:
            yield
        finally:
            await asyncio.to_thread(intake.close)
            await asyncio.to_thread(agents_panel.close)
            metrics_page.close()
            if clients is not None:
                clients.close()

    app = FastAPI(title="rpa serve", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.include_router(panel.router(agents_panel))
    app.include_router(metrics_page.router())

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"ok": True, "waiting": app.state.intake.waiting()}

    @app.post(WEBHOOK_PATH)
    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        problem = signature_problem(
            current_secret().get_secret_value(), request.headers, body, settings.webhook_tolerance_seconds
        )
        if problem:
            logger.warning("webhook call refused: {}", problem)
            return JSONResponse({"error": problem}, status_code=401)
        try:
            event = WebhookEvent.model_validate_json(body)
        except ValidationError as exc:
            reason = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
            logger.warning("signed webhook call with a body that is not a ticket event: {}", reason)
            return JSONResponse({"error": f"not a ticket event: {reason}"}, status_code=400)
        invocation = request.headers.get(INVOCATION_ID)
        offer = app.state.intake.offer(event, invocation)
        if offer in (Offer.FULL, Offer.CLOSED):
            # Zendesk tries again later; meanwhile the worker's polling still reads the live tickets.
            return JSONResponse({"error": f"intake {offer.value}"}, status_code=503, headers={"Retry-After": "30"})
        logger.debug("webhook {} {}: {} of ticket {}", invocation, offer.value, event.event.value, event.ticket_id)
        return JSONResponse({"status": offer.value})

    return app


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the webhook until SIGTERM or Ctrl-C; uvicorn's own handlers stop it, after the queued events
    have had their moment to be handled."""
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
    )
    if threading.current_thread() is threading.main_thread():
        # Once stopped, uvicorn raises the signal again for the handlers it found: these let a clean stop
        # end the command with exit code 0, as ``rpa worker`` does, instead of dying by the signal.
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, lambda *_: None)
    try:
        server.run()
    except SystemExit:
        pass  # uvicorn exits by itself when it cannot listen; the command says so with its own exit code
    if not server.started:
        # uvicorn has logged why (the port taken, the flows database unreachable at startup).
        raise ApplicationError(f"could not serve webhooks on {host}:{port}")
