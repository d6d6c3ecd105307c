"""``rpa serve`` as Zendesk calls it: a real server on a loopback port, signed HTTP calls, real flows.

Signatures are computed here from Zendesk's description (base64 of HMAC-SHA256 over the timestamp and the
raw body), not with the module's own function, so a mistake there cannot hide behind the same mistake here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy
import uvicorn
from loguru import logger
from pydantic import SecretStr

from flows.engine import durable
from flows.engine.run_store import RunState, RunStore
from flows.engine.settings import Settings
from flows.interfaces.serve import EventKind, Intake, Offer, WebhookEvent, create_app
from flows.process.definition import MIGRATION_TAG
from flows.process.inboxes import TicketInbox
from flows.process.messages import Topic
from flows.steps.tickets import HANDOFF_REQUEST, HANDOFF_TAG
from robots.zendesk import CommentData
from tests.flows.conftest import flow_status, wait_for
from tests.flows.scenarios import scenario

TICKET = 2001
FLOW = f"migration-{TICKET}"
SECRET = "zendesk-signing-secret-of-the-tests"
WEBHOOK = "/zendesk/webhook"
#: The mock's WhatsApp bot does not create tickets: a trigger tags each new one as the bot marks migrations.
BOT_MARKS_MIGRATIONS = {
    "title": "Liza: ticket de migración pre a pos",
    "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}]},
    "actions": [{"field": "current_tags", "value": MIGRATION_TAG}],
}


def migration_ticket(**changes) -> dict:
    """The one-ticket world, its ticket tagged as a migration when it is created."""
    return scenario(zendesk={"triggers": [BOT_MARKS_MIGRATIONS]}, **changes)


def signed(
    body: dict | bytes, *, secret: str = SECRET, at: datetime | None = None, invocation: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """A webhook call as Zendesk sends it: the raw body and its headers."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    timestamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), timestamp.encode() + raw, hashlib.sha256).digest()
    return raw, {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Invocation-Id": invocation or uuid.uuid4().hex,
    }


class WebhookServer:
    """``rpa serve``'s app under uvicorn on a thread, on a loopback port taken before it starts."""

    def __init__(self, settings: Settings, port: int = 0) -> None:
        self.app = create_app(settings)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [listener]}, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started, 60, what="the webhook server to start")

    @property
    def intake(self) -> Intake:
        return self.app.state.intake

    def post(self, raw: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(self.url + WEBHOOK, content=raw, headers=headers, timeout=10)

    def deliver(self, body: dict | bytes, **signing) -> httpx.Response:
        return self.post(*signed(body, **signing))

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def webhook_settings(flow_settings: Settings) -> Settings:
    return flow_settings.model_copy(update={"webhook_signing_secret": SecretStr(SECRET)})


@pytest.fixture
def serve_webhooks(webhook_settings: Settings) -> Iterator[Callable[..., WebhookServer]]:
    servers: list[WebhookServer] = []

    def serve(settings: Settings | None = None) -> WebhookServer:
        server = WebhookServer(settings or webhook_settings)
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.close()


@pytest.fixture
def flows(webhook_settings: Settings) -> Iterator:
    """A DBOS client on the flows database the server starts flows in."""
    client = durable.client(webhook_settings)
    yield client
    client.destroy()


@pytest.fixture
def logged_warnings() -> Iterator[list[str]]:
    caught: list[str] = []
    sink = logger.add(lambda message: caught.append(str(message)), level="WARNING", format="{message}")
    yield caught
    logger.remove(sink)


def customer_messages_sent(settings: Settings, flow_id: str) -> int:
    """Messages the flow has had on its customer topic, consumed or not (DBOS keeps them all, one row per
    message id, in its ``notifications`` table)."""
    engine = sqlalchemy.create_engine(settings.system_database_url())
    try:
        with engine.connect() as db:
            query = "SELECT COUNT(*) FROM notifications WHERE destination_uuid = :flow AND topic = 'customer'"
            return db.execute(sqlalchemy.text(query), {"flow": flow_id}).scalar_one()
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------
# A comment reaches the waiting flow
# ---------------------------------------------------------------------------------------------
def test_a_signed_comment_reaches_the_waiting_flow_once(
    load_scenario, start_worker, serve_webhooks, webhook_settings, mocks
):
    replies = scenario()["tickets"][0]["customer"]["replies"]
    replies["primer_contacto"] = {"silent": True}  # the customer writes later, by hand
    load_scenario(scenario(replies=replies))
    # The worker reads tickets once an hour: only the webhook can bring the customer's answer in time.
    process = webhook_settings.process.model_copy(
        update={"watch_interval_seconds": 3600, "customer_reply_seconds": 120}
    )
    settings = webhook_settings.model_copy(update={"process": process})
    worker = start_worker(settings)
    server = serve_webhooks(settings)
    worker.start_flow(TICKET)
    first_wait = wait_for(
        lambda: (run := worker.store.flow(FLOW)) is not None and run.state == "waiting" and run,
        what="the flow to wait for its customer",
    )

    said = httpx.post(
        mocks.urls["control"] + f"/_control/tickets/{TICKET}/customer_message",
        json={"body": "Hola, soy María Fernanda Rojas, CI 6543210, de La Paz, la línea 71234567"},
    )
    said.raise_for_status()
    comment_id = said.json()["comment_id"]
    # As Zendesk renders the trigger's placeholders: ids as strings.
    body = {"event": "comment_added", "ticket_id": str(TICKET), "comment_id": str(comment_id)}
    raw, headers = signed(body, invocation="invocation-1")

    answer = server.post(raw, headers)
    assert answer.status_code == 200 and answer.json() == {"status": "queued"}
    assert answer.elapsed < timedelta(seconds=1), "Zendesk is answered before the ticket is read"
    again = server.post(raw, headers)  # Zendesk delivers the same invocation twice
    assert again.status_code == 200 and again.json() == {"status": "repeated"}

    wait_for(
        lambda: (
            (run := worker.store.flow(FLOW)).watch_after >= comment_id and run.waiting_for != first_wait.waiting_for
        ),
        timeout=120,
        what="the flow to take the customer's answer and move on",
    )
    # The trigger fired again (a new invocation): that comment reached the flow already, nothing more is sent.
    assert server.deliver(body, invocation="invocation-2").json() == {"status": "queued"}
    assert server.intake.idle(30)
    assert customer_messages_sent(settings, FLOW) == 1
    recorded = [s for s in worker.client.list_workflow_steps(FLOW) if s["function_name"] == "DBOS.recv"]
    assert any(isinstance(s["output"], dict) and s["output"].get("comment_id") == comment_id for s in recorded)


def test_a_comment_on_a_ticket_without_a_live_flow_is_answered_and_left(load_scenario, serve_webhooks, flows):
    load_scenario(scenario())
    server = serve_webhooks()
    answer = server.deliver({"event": "comment_added", "ticket_id": TICKET, "comment_id": ""})
    assert answer.status_code == 200
    assert server.intake.idle(30)
    assert flow_status(flows, FLOW) is None


class TicketOfComments:
    """A Zendesk client that only knows one ticket's comments, and counts how often it is asked."""

    def __init__(self, ticket_id: int, comments: list[CommentData]) -> None:
        self.ticket_id = ticket_id
        self.all = comments
        self.reads = 0

    def ticket(self, ticket_id: int) -> SimpleNamespace:
        return SimpleNamespace(requester_id=CUSTOMER)

    def comments(self, ticket_id: int) -> list[CommentData]:
        self.reads += 1
        return list(self.all) if ticket_id == self.ticket_id else []


CUSTOMER, AGENT = 1, 2


def _comment(comment_id: int, author: int, body: str, public: bool) -> CommentData:
    return CommentData(id=comment_id, author_id=author, body=body, public=public, created_at=datetime.now(UTC))


def test_the_ticket_inbox_reads_by_polling_and_one_ticket_on_demand(tmp_path: Path):
    store = RunStore(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.flow_started("migration-7", 7, "migration", watch_after=10)
    zendesk = TicketOfComments(
        7,
        [
            _comment(9, CUSTOMER, "antes del flujo", True),
            _comment(11, CUSTOMER, "ACEPTO", True),
            _comment(12, AGENT, "#continuar", False),
        ],
    )
    sent: list[tuple[str, Topic, str]] = []
    inbox = TicketInbox(store, zendesk, lambda flow, message, topic, key: sent.append((flow, topic, key)))

    assert inbox.poll_once() == 2
    assert sent == [
        ("migration-7", Topic.CUSTOMER, "migration-7-comment-11"),
        ("migration-7", Topic.AGENT, "migration-7-comment-12"),
    ]
    reads = zendesk.reads
    assert inbox.forward_ticket(7, comment_id=12) == 0 and zendesk.reads == reads, "an old comment is not read again"
    zendesk.all.append(_comment(13, CUSTOMER, "Quiero el Mega Plan 69", True))
    assert inbox.forward_ticket(7, comment_id=13) == 1 and sent[-1][2] == "migration-7-comment-13"
    zendesk.all.append(_comment(14, CUSTOMER, "gracias", True))
    assert inbox.forward_ticket(7) == 1 and store.flow("migration-7").watch_after == 14
    assert inbox.forward_ticket(8) == 0, "a ticket without a flow"
    store.update_flow("migration-7", state=RunState.ENDED)
    zendesk.all.append(_comment(15, CUSTOMER, "hola?", True))
    assert inbox.forward_ticket(7) == 0 and inbox.poll_once() == 0, "an ended flow is not fed"
    store.dispose()


# ---------------------------------------------------------------------------------------------
# A new ticket starts its flow
# ---------------------------------------------------------------------------------------------
def test_a_new_migration_ticket_starts_its_flow_once_after_zendesk_was_answered(
    load_scenario, faults, serve_webhooks, flows, mocks
):
    load_scenario(migration_ticket())
    # Zendesk's answer to the start check's read of the ticket is held: the webhook must not wait for it.
    faults("zendesk", hold={"method": "GET", "path": "/api/v2/tickets/{id}", "phase": "after", "seconds": 2})
    server = serve_webhooks()
    created = {"event": "ticket_created", "ticket_id": TICKET}

    answer = server.deliver(created, invocation="created-1")
    assert answer.status_code == 200 and answer.elapsed < timedelta(seconds=1)
    wait_for(
        lambda: httpx.get(mocks.urls["control"] + "/_control/holds").json()["holds"],
        timeout=10,
        what="the start check to read the ticket after the answer",
    )
    assert flow_status(flows, FLOW) is None
    assert server.deliver(created, invocation="created-1").json() == {"status": "repeated"}
    assert server.deliver(created, invocation="created-2").json() == {"status": "queued"}  # the trigger fired twice
    assert server.intake.idle(30)

    assert [w.workflow_id for w in flows.list_workflows(load_input=False, load_output=False)] == [FLOW]
    assert flow_status(flows, FLOW) == "ENQUEUED"


def test_a_new_ticket_without_the_migration_tag_is_left_alone(load_scenario, serve_webhooks, flows, world_state):
    load_scenario(scenario())
    server = serve_webhooks()
    assert server.deliver({"event": "ticket_created", "ticket_id": TICKET}).status_code == 200
    assert server.intake.idle(30)
    assert flow_status(flows, FLOW) is None
    assert not any(c["body"].startswith(HANDOFF_REQUEST) for c in world_state()["tickets"][str(TICKET)]["comments"])


def test_a_new_ticket_the_start_check_refuses_is_handed_to_an_agent_once(
    load_scenario, serve_webhooks, flows, world_state, logged_warnings
):
    load_scenario(migration_ticket(fields={"line": "12"}))
    server = serve_webhooks()
    for invocation in ("created-1", "created-2"):  # the trigger fired twice
        created = {"event": "ticket_created", "ticket_id": str(TICKET)}
        assert server.deliver(created, invocation=invocation).status_code == 200
        assert server.intake.idle(30)
    assert flow_status(flows, FLOW) is None
    ticket = world_state()["tickets"][str(TICKET)]
    [note] = [c for c in ticket["comments"] if c["body"].startswith(HANDOFF_REQUEST)]
    assert note["public"] is False and "'Línea a migrar'" in note["body"] and "Motivo: ticket 2001" in note["body"]
    assert HANDOFF_TAG in ticket["tags"]
    assert any(f"migration ticket {TICKET} not started" in line and "Línea" in line for line in logged_warnings), (
        logged_warnings
    )


# ---------------------------------------------------------------------------------------------
# Calls that are not Zendesk's
# ---------------------------------------------------------------------------------------------
CREATED = {"event": "ticket_created", "ticket_id": TICKET}


def _wrong_secret() -> tuple[bytes, dict[str, str]]:
    return signed(CREATED, secret="another-secret")


def _tampered_body() -> tuple[bytes, dict[str, str]]:
    _, headers = signed(CREATED)
    return json.dumps({**CREATED, "ticket_id": TICKET + 1}).encode(), headers


def _signed_at(offset: timedelta) -> Callable[[], tuple[bytes, dict[str, str]]]:
    return lambda: signed(CREATED, at=datetime.now(UTC) + offset)


def _without(*names: str) -> Callable[[], tuple[bytes, dict[str, str]]]:
    def call() -> tuple[bytes, dict[str, str]]:
        raw, headers = signed(CREATED)
        return raw, {k: v for k, v in headers.items() if k not in names}

    return call


def _timestamp_not_a_date() -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(CREATED).encode()
    digest = hmac.new(SECRET.encode(), b"yesterday" + raw, hashlib.sha256).digest()
    return raw, {
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": "yesterday",
    }


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(_wrong_secret, id="wrong-secret"),
        pytest.param(_tampered_body, id="tampered-body"),
        pytest.param(_signed_at(-timedelta(seconds=600)), id="stale-timestamp"),
        pytest.param(_signed_at(timedelta(seconds=600)), id="future-timestamp"),
        pytest.param(_without("X-Zendesk-Webhook-Signature"), id="no-signature"),
        pytest.param(_without("X-Zendesk-Webhook-Signature-Timestamp"), id="no-timestamp"),
        pytest.param(_without("X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"), id="no-headers"),
        pytest.param(_timestamp_not_a_date, id="timestamp-not-a-date"),
    ],
)
def test_a_call_zendesk_did_not_sign_is_refused_and_nothing_happens(load_scenario, serve_webhooks, flows, call):
    load_scenario(scenario())
    server = serve_webhooks()
    answer = server.post(*call())
    assert answer.status_code == 401 and set(answer.json()) == {"error"}
    assert server.intake.waiting() == 0
    # A signed call after it is handled; the refused one left nothing behind it.
    assert server.deliver({"event": "comment_added", "ticket_id": TICKET}).status_code == 200
    assert server.intake.idle(30)
    assert flows.list_workflows(load_input=False, load_output=False) == []


def test_a_signed_call_within_the_tolerance_is_taken(load_scenario, serve_webhooks, flows):
    load_scenario(migration_ticket())
    server = serve_webhooks()
    answer = server.deliver(CREATED, at=datetime.now(UTC) - timedelta(seconds=240))
    assert answer.status_code == 200
    assert server.intake.idle(30)
    assert flow_status(flows, FLOW) == "ENQUEUED"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        json.dumps({"event": "ticket_closed", "ticket_id": TICKET}).encode(),
        json.dumps({"event": "ticket_created", "ticket_id": "abc"}).encode(),
        json.dumps({"event": "ticket_created"}).encode(),
    ],
    ids=["not-json", "unknown-event", "ticket-not-a-number", "no-ticket"],
)
def test_a_signed_body_that_is_not_a_ticket_event_is_refused(serve_webhooks, body):
    server = serve_webhooks()
    answer = server.deliver(body)
    assert answer.status_code == 400 and "not a ticket event" in answer.json()["error"]
    assert server.intake.waiting() == 0


def test_health_answers(serve_webhooks):
    answer = httpx.get(serve_webhooks().url + "/health", timeout=10)
    assert answer.status_code == 200 and answer.json()["ok"] is True


# ---------------------------------------------------------------------------------------------
# The intake's lanes
# ---------------------------------------------------------------------------------------------
def test_reads_of_one_ticket_waiting_in_the_intake_are_made_once_for_its_newest_comment():
    handled: list[tuple[str, int, int | None]] = []
    busy = threading.Event()

    def handle(event: WebhookEvent) -> None:
        if event.ticket_id == 1:
            busy.wait(10)
        handled.append((event.event.value, event.ticket_id, event.comment_id))

    intake = Intake(handle, lanes=1)
    intake.start()
    try:
        assert intake.offer(WebhookEvent(event=EventKind.TICKET_CREATED, ticket_id=1), "a") == Offer.QUEUED
        for invocation, comment in (("b", 10), ("c", 12), ("d", 11)):
            event = WebhookEvent(event=EventKind.COMMENT_ADDED, ticket_id=5, comment_id=comment)
            assert intake.offer(event, invocation) == Offer.QUEUED
        assert intake.offer(WebhookEvent(event=EventKind.COMMENT_ADDED, ticket_id=5), "b") == Offer.REPEATED
        busy.set()
        assert intake.idle(10)
        assert handled == [("ticket_created", 1, None), ("comment_added", 5, 12)]
        # Once the read is made, a new comment needs a read of its own.
        assert (
            intake.offer(WebhookEvent(event=EventKind.COMMENT_ADDED, ticket_id=5, comment_id=13), "e") == Offer.QUEUED
        )
        assert intake.idle(10)
        assert handled[-1] == ("comment_added", 5, 13)
    finally:
        intake.close(5)
    assert intake.offer(WebhookEvent(event=EventKind.COMMENT_ADDED, ticket_id=5), "f") == Offer.CLOSED


# ---------------------------------------------------------------------------------------------
# rpa serve
# ---------------------------------------------------------------------------------------------
def _rpa_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_WEBHOOK")}
    return {**env, "RPA_RUN_DIR": str(tmp_path / "runs"), **settings}


def test_rpa_serve_without_a_signing_secret_refuses_to_start(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "flows.interfaces.cli", "serve"],
        env=_rpa_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "RPA_WEBHOOK_SIGNING_SECRET" in result.stderr and "webhook_signing_secret" in result.stderr


def test_rpa_serve_answers_until_sigterm(tmp_path: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.interfaces.cli", "serve", "--port", str(port)],
        env=_rpa_env(tmp_path, RPA_WEBHOOK_SIGNING_SECRET=SECRET),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
            except httpx.TransportError:
                assert process.poll() is None, "rpa serve ended before answering"
                return False

        wait_for(healthy, 60, what="rpa serve to answer")
        assert httpx.post(f"http://127.0.0.1:{port}{WEBHOOK}", content=b"{}", timeout=5).status_code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = process.stdout.read() if process.stdout else ""
    assert f"http://127.0.0.1:{port}{WEBHOOK}" in output
    assert SECRET not in output
