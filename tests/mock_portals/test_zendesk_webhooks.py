"""The Zendesk mock's webhooks and triggers: a ticket change sends a signed request, as Zendesk's would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

EMAIL, TOKEN = "rpa@contactcentre.example", "webhook-token"
TICKET, OTHER = 2001, 2002
#: Every placeholder the product's trigger bodies use, and a comment's text with quotes and a line break.
BODY = json.dumps(
    {
        "ticket_id": "{{ticket.id}}",
        "status": "{{ticket.status}}",
        "tags": "{{ticket.tags}}",
        "comment_id": "{{ticket.latest_comment.id}}",
        "author_id": "{{ticket.latest_comment.author.id}}",
        "public": "{{ticket.latest_comment.is_public}}",
        "text": "{{ticket.latest_comment.value}}",
        "requester_id": "{{ticket.requester.id}}",
        "via": "{{ticket.via}}",
    }
)


def scenario(**zendesk: Any) -> dict[str, Any]:
    return {
        "name": "zendesk-webhooks",
        "zendesk": {"agent_email": EMAIL, "api_token": TOKEN, "webhook_retry_seconds": 0.05, **zendesk},
        "tickets": [
            {
                "id": TICKET,
                "requester_name": "Ana Pérez",
                "requester_phone": "+59171111111",
                "status": "pending",
                "conversation": [{"author": "customer", "body": "Quiero un plan pospago"}],
            },
            {"id": OTHER, "requester_name": "Luis Mamani", "requester_phone": "+59172222222", "status": "open"},
        ],
    }


class Receiver:
    """A webhook receiver on loopback: answers each request with the next scripted status (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/zendesk/events"

    def wait(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        wait_for(lambda: len(self.requests) >= count, timeout)
        return self.requests

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()).decode()


@pytest.fixture(autouse=True)
def _world(load_scenario) -> None:
    load_scenario(scenario())


@pytest.fixture
def api(mocks) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mocks.urls["zendesk"], auth=(f"{EMAIL}/token", TOKEN), timeout=5) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def control(mocks) -> str:
    return mocks.urls["control"]


def create_webhook(api: httpx.Client, url: str, **extra: Any) -> dict[str, Any]:
    webhook = {
        "name": "RPA",
        "endpoint": url,
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["conditional_ticket_events"],
        **extra,
    }
    response = api.post("/api/v2/webhooks", json={"webhook": webhook})
    assert response.status_code == 201, response.text
    return response.json()["webhook"]


def create_trigger(
    api: httpx.Client, webhook_id: str, all_conditions: list[dict[str, Any]], body: str = BODY, **extra: Any
) -> dict[str, Any]:
    trigger = {
        "title": "Notify the RPA",
        "active": True,
        "conditions": {"all": all_conditions, "any": []},
        "actions": [{"field": "notification_webhook", "value": [webhook_id, body]}],
        **extra,
    }
    response = api.post("/api/v2/triggers", json={"trigger": trigger})
    assert response.status_code == 201, response.text
    return response.json()["trigger"]


def customer_writes(control: str, body: str, ticket: int = TICKET) -> dict[str, Any]:
    response = httpx.post(f"{control}/_control/tickets/{ticket}/customer_message", json={"body": body})
    response.raise_for_status()
    return response.json()


def deliveries(world_state) -> list[dict[str, Any]]:
    return world_state()["records"].get("zendesk", {}).get("webhook_deliveries", [])


COMMENT_BY_CUSTOMER = [
    {"field": "update_type", "operator": "is", "value": "Change"},
    {"field": "comment_is_public", "operator": "is", "value": "true"},
    {"field": "role", "operator": "is", "value": "end_user"},
]


# -- the Webhooks API ---------------------------------------------------------------------------
def test_webhooks_api_creates_lists_shows_patches_and_deletes(api: httpx.Client, receiver: Receiver) -> None:
    created = create_webhook(
        api,
        receiver.url,
        authentication={"type": "bearer_token", "data": {"token": "s3cr3t"}, "add_position": "header"},
    )
    assert created["id"].startswith("01") and len(created["id"]) == 26
    assert created["endpoint"] == receiver.url and created["status"] == "active"
    assert created["authentication"] == {"type": "bearer_token", "add_position": "header"}  # no credentials back
    assert "signing_secret" not in created
    other = create_webhook(api, receiver.url, name="Otro")

    first = api.get("/api/v2/webhooks.json", params={"page[size]": 1}).json()
    assert [w["id"] for w in first["webhooks"]] == [created["id"]]
    assert first["meta"]["has_more"] is True
    second = httpx.get(first["links"]["next"], auth=(f"{EMAIL}/token", TOKEN)).json()
    assert [w["id"] for w in second["webhooks"]] == [other["id"]] and second["meta"]["has_more"] is False
    named = api.get("/api/v2/webhooks", params={"filter[name_contains]": "otr"}).json()["webhooks"]
    assert [w["id"] for w in named] == [other["id"]]

    assert api.patch(f"/api/v2/webhooks/{other['id']}", json={"webhook": {"status": "inactive"}}).status_code == 204
    shown = api.get(f"/api/v2/webhooks/{other['id']}").json()["webhook"]
    assert shown["status"] == "inactive" and shown["name"] == "Otro"

    secret = api.get(f"/api/v2/webhooks/{created['id']}/signing_secret").json()
    assert secret["signing_secret"]["algorithm"] == "SHA256" and len(secret["signing_secret"]["secret"]) >= 32
    other_secret = api.get(f"/api/v2/webhooks/{other['id']}/signing_secret").json()["signing_secret"]["secret"]
    assert other_secret != secret["signing_secret"]["secret"]  # one per webhook

    assert api.delete(f"/api/v2/webhooks/{other['id']}").status_code == 204
    missing = api.get(f"/api/v2/webhooks/{other['id']}")
    assert missing.status_code == 404 and missing.json()["error"] == "RecordNotFound"


def test_webhook_input_is_validated_with_zendesk_errors(api: httpx.Client) -> None:
    response = api.post(
        "/api/v2/webhooks",
        json={"webhook": {"name": "Sin URL", "http_method": "POST", "request_format": "json", "status": "active"}},
    )
    assert response.status_code == 422
    assert response.json()["error"] == "RecordInvalid"
    assert "endpoint" in response.json()["details"]

    response = api.post(
        "/api/v2/webhooks",
        json={
            "webhook": {
                "name": "x",
                "endpoint": "ftp://nope",
                "http_method": "FETCH",
                "request_format": "json",
                "status": "active",
            }
        },
    )
    assert response.status_code == 422
    assert {"endpoint", "http_method"} <= set(response.json()["details"])

    assert api.post("/api/v2/webhooks", content=b"nope").status_code == 400
    assert httpx.get(str(api.base_url) + "/api/v2/webhooks").status_code == 401


# -- the Triggers API ---------------------------------------------------------------------------
def test_triggers_api_creates_lists_updates_and_deletes(api: httpx.Client, receiver: Receiver) -> None:
    webhook = create_webhook(api, receiver.url)
    first = create_trigger(api, webhook["id"], COMMENT_BY_CUSTOMER)
    second = create_trigger(
        api,
        webhook["id"],
        [{"field": "update_type", "operator": "is", "value": "Create"}],
        title="Nuevo ticket de migración",
    )
    assert first["url"].endswith(f"/api/v2/triggers/{first['id']}.json")
    assert second["position"] == first["position"] + 1
    assert first["actions"] == [{"field": "notification_webhook", "value": [webhook["id"], BODY]}]

    listed = api.get("/api/v2/triggers.json").json()
    assert [t["id"] for t in listed["triggers"]] == [first["id"], second["id"]] and listed["count"] == 2

    updated = api.put(f"/api/v2/triggers/{second['id']}", json={"trigger": {"active": False, "position": 0}})
    assert updated.status_code == 200
    assert updated.json()["trigger"]["active"] is False
    assert updated.json()["trigger"]["title"] == "Nuevo ticket de migración"
    assert [t["id"] for t in api.get("/api/v2/triggers/active").json()["triggers"]] == [first["id"]]
    assert [t["id"] for t in api.get("/api/v2/triggers").json()["triggers"]] == [second["id"], first["id"]]

    assert api.delete(f"/api/v2/triggers/{second['id']}").status_code == 204
    assert api.get(f"/api/v2/triggers/{second['id']}").status_code == 404


@pytest.mark.parametrize(
    "trigger, key",
    [
        (
            {
                "title": "x",
                "conditions": {"all": [{"field": "priority", "operator": "is", "value": "high"}]},
                "actions": [{"field": "status", "value": "open"}],
            },
            "conditions",
        ),
        (
            {
                "title": "x",
                "conditions": {"all": [{"field": "status", "operator": "is", "value": "abierto"}]},
                "actions": [{"field": "status", "value": "open"}],
            },
            "conditions",
        ),
        (
            {"title": "x", "conditions": {"all": [], "any": []}, "actions": [{"field": "status", "value": "open"}]},
            "base",
        ),
        (
            {
                "title": "x",
                "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Change"}]},
                "actions": [{"field": "notification_webhook", "value": ["01NOSUCHWEBHOOK", "{}"]}],
            },
            "actions",
        ),
        (
            {
                "title": "",
                "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Change"}]},
                "actions": [{"field": "status", "value": "open"}],
            },
            "title",
        ),
    ],
)
def test_trigger_input_is_validated_with_zendesk_errors(api: httpx.Client, trigger: dict, key: str) -> None:
    response = api.post("/api/v2/triggers", json={"trigger": trigger})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "RecordInvalid"
    assert key in response.json()["details"]


# -- deliveries ---------------------------------------------------------------------------------
def test_a_customer_message_sends_a_signed_request_with_the_placeholders_filled(
    api: httpx.Client, receiver: Receiver, control: str, world_state
) -> None:
    webhook = create_webhook(api, receiver.url)
    create_trigger(api, webhook["id"], COMMENT_BY_CUSTOMER)
    secret = api.get(f"/api/v2/webhooks/{webhook['id']}/signing_secret").json()["signing_secret"]["secret"]

    said = customer_writes(control, 'Mi línea es "71111111"\ny mi CI 1234567')
    [request] = receiver.wait(1)

    headers = {k.lower(): v for k, v in request["headers"].items()}
    stamp = headers["x-zendesk-webhook-signature-timestamp"]
    assert stamp.endswith("Z") and len(stamp) == len("2026-11-29T12:00:00Z")
    assert headers["x-zendesk-webhook-signature"] == expected_signature(secret, stamp, request["body"])
    assert headers["x-zendesk-webhook-id"] == webhook["id"]
    assert headers["x-zendesk-webhook-invocation-id"]
    assert headers["content-type"] == "application/json"

    ticket = world_state()["tickets"][str(TICKET)]
    assert json.loads(request["body"]) == {
        "ticket_id": str(TICKET),
        "status": "Open",  # the customer's message reopened the pending ticket; Zendesk writes the title
        "tags": "",
        "comment_id": str(said["comment_id"]),
        "author_id": str(ticket["requester_id"]),
        "public": "true",
        "text": 'Mi línea es "71111111"\ny mi CI 1234567',
        "requester_id": str(ticket["requester_id"]),
        "via": "WhatsApp",
    }
    [delivery] = deliveries(world_state)
    assert delivery["webhook_id"] == webhook["id"] and delivery["ticket_id"] == TICKET
    assert delivery["invocation_id"] == headers["x-zendesk-webhook-invocation-id"]
    assert (delivery["status"], delivery["attempt"], delivery["sent"]) == (200, 1, True)
    assert delivery["body"] == request["body"].decode()


def test_a_condition_that_does_not_hold_sends_nothing(
    api: httpx.Client, receiver: Receiver, control: str, world_state
) -> None:
    webhook = create_webhook(api, receiver.url)
    # Internal notes of the robot's tickets only: a customer's public message is neither.
    create_trigger(
        api,
        webhook["id"],
        [
            {"field": "comment_is_public", "operator": "is", "value": "false"},
            {"field": "current_tags", "operator": "includes", "value": "rpa_migracion"},
        ],
    )
    customer_writes(control, "Hola")
    note = {"ticket": {"comment": {"body": "Nota interna", "public": False}}}
    assert api.put(f"/api/v2/tickets/{TICKET}", json=note).status_code == 200  # not tagged yet
    time.sleep(0.3)
    assert receiver.requests == [] and deliveries(world_state) == []

    tagged = {"ticket": {"additional_tags": ["rpa_migracion"], "comment": {"body": "Otra nota", "public": False}}}
    assert api.put(f"/api/v2/tickets/{TICKET}", json=tagged).status_code == 200
    [request] = receiver.wait(1)
    assert json.loads(request["body"])["public"] == "false"


def test_the_robots_own_updates_can_be_left_out_by_current_user(
    api: httpx.Client, receiver: Receiver, control: str
) -> None:
    robot = api.get("/api/v2/users/me").json()["user"]["id"]
    webhook = create_webhook(api, receiver.url)
    create_trigger(
        api,
        webhook["id"],
        [
            {"field": "comment_is_public", "operator": "is", "value": "not_relevant"},
            {"field": "current_user", "operator": "is_not", "value": str(robot)},
        ],
    )
    api.put(f"/api/v2/tickets/{TICKET}", json={"ticket": {"comment": {"body": "Nota del robot", "public": False}}})
    said = customer_writes(control, "Hola")
    [request] = receiver.wait(1)
    time.sleep(0.3)
    assert len(receiver.requests) == 1
    assert json.loads(request["body"])["comment_id"] == str(said["comment_id"])


def test_one_api_update_with_a_macro_is_one_delivery(api: httpx.Client, receiver: Receiver, world_state) -> None:
    webhook = create_webhook(api, receiver.url)
    create_trigger(api, webhook["id"], [{"field": "status", "operator": "changed"}])
    macro = api.get("/api/v2/macros/search", params={"query": "Primer contacto"}).json()["macros"][0]
    preview = api.get(f"/api/v2/tickets/{OTHER}/macros/{macro['id']}/apply").json()["result"]["ticket"]
    update = {
        "ticket": {
            "status": preview["status"],
            "macro_id": macro["id"],
            "comment": {"body": preview["comment"]["body"]},
            "custom_fields": preview["custom_fields"],
        }
    }
    assert api.put(f"/api/v2/tickets/{OTHER}", json=update).status_code == 200
    [request] = receiver.wait(1)
    time.sleep(0.3)
    assert len(receiver.requests) == 1 and len(deliveries(world_state)) == 1
    assert json.loads(request["body"])["status"] == "On-hold"


def test_triggers_run_in_order_once_each_and_start_over_when_one_changes_the_ticket(
    api: httpx.Client, receiver: Receiver, control: str
) -> None:
    webhook = create_webhook(api, receiver.url)
    # The second trigger holds only after the first tagged the ticket; the first holds once per ticket.
    create_trigger(
        api,
        webhook["id"],
        [{"field": "current_tags", "operator": "includes", "value": "rpa_avisado"}],
        body='{"step": "second", "tags": "{{ticket.tags}}"}',
        title="Second",
    )
    first = create_trigger(
        api,
        webhook["id"],
        [{"field": "current_tags", "operator": "not_includes", "value": "rpa_avisado"}],
        body='{"step": "first", "tags": "{{ticket.tags}}"}',
        title="First",
        position=0,
    )
    first["actions"].insert(0, {"field": "current_tags", "value": "rpa_avisado"})
    assert (
        api.put(f"/api/v2/triggers/{first['id']}", json={"trigger": {"actions": first["actions"]}}).status_code == 200
    )

    response = api.put(f"/api/v2/tickets/{OTHER}", json={"ticket": {"status": "pending"}})
    assert "rpa_avisado" in response.json()["ticket"]["tags"]  # the answer shows what the triggers did
    requests = receiver.wait(2)
    bodies = sorted((json.loads(r["body"]) for r in requests), key=lambda b: b["step"])
    # Bodies are rendered once every trigger has run: both see the tag.
    assert bodies == [{"step": "first", "tags": "rpa_avisado"}, {"step": "second", "tags": "rpa_avisado"}]

    customer_writes(control, "Hola", ticket=OTHER)  # only the second holds now
    requests = receiver.wait(3)
    assert json.loads(requests[2]["body"])["step"] == "second"


def test_a_failed_delivery_is_retried_with_the_same_invocation(api: httpx.Client, control: str, world_state) -> None:
    receiver = Receiver([500, 429])
    try:
        webhook = create_webhook(api, receiver.url)
        create_trigger(api, webhook["id"], COMMENT_BY_CUSTOMER)
        customer_writes(control, "¿Siguen ahí?")
        requests = receiver.wait(3)
        ids = {r["headers"]["X-Zendesk-Webhook-Invocation-Id"] for r in requests}
        assert len(ids) == 1
        wait_for(lambda: len(deliveries(world_state)) == 3)
        assert [(d["attempt"], d["status"]) for d in deliveries(world_state)] == [(1, 500), (2, 429), (3, 200)]
    finally:
        receiver.close()


def test_a_receiver_that_is_not_there_is_retried_then_given_up(
    api: httpx.Client, control: str, world_state, load_scenario
) -> None:
    load_scenario(scenario(webhook_max_attempts=2))
    gone = Receiver()
    url = gone.url
    gone.close()
    webhook = create_webhook(api, url)
    create_trigger(api, webhook["id"], COMMENT_BY_CUSTOMER)
    customer_writes(control, "Hola")
    wait_for(lambda: len(deliveries(world_state)) == 2)
    time.sleep(0.2)
    attempts = deliveries(world_state)
    assert [(d["attempt"], d["status"]) for d in attempts] == [(1, None), (2, None)]
    assert all(d["sent"] and d["error"] for d in attempts)


def test_the_duplicate_fault_delivers_each_invocation_twice(
    api: httpx.Client, receiver: Receiver, control: str, faults, world_state
) -> None:
    webhook = create_webhook(api, receiver.url)
    create_trigger(api, webhook["id"], COMMENT_BY_CUSTOMER)
    faults("zendesk", duplicate_webhook_deliveries=True)
    customer_writes(control, "Hola")
    first, second = receiver.wait(2)
    assert first["headers"]["X-Zendesk-Webhook-Invocation-Id"] == second["headers"]["X-Zendesk-Webhook-Invocation-Id"]
    assert first["body"] == second["body"]
    wait_for(lambda: len(deliveries(world_state)) == 2)
    assert [d["delivery"] for d in deliveries(world_state)] == [1, 2]


def test_the_drop_fault_sends_nothing_and_records_it(
    api: httpx.Client, receiver: Receiver, control: str, faults, world_state
) -> None:
    webhook = create_webhook(api, receiver.url)
    create_trigger(api, webhook["id"], COMMENT_BY_CUSTOMER)
    faults("zendesk", drop_webhook_deliveries=True)
    customer_writes(control, "Hola")
    [dropped] = wait_for(lambda: deliveries(world_state))
    assert dropped["sent"] is False and dropped["status"] is None
    time.sleep(0.2)
    assert receiver.requests == []


def test_inactive_webhooks_and_triggers_send_nothing(
    api: httpx.Client, receiver: Receiver, control: str, world_state
) -> None:
    webhook = create_webhook(api, receiver.url)
    trigger = create_trigger(api, webhook["id"], COMMENT_BY_CUSTOMER)
    api.put(f"/api/v2/triggers/{trigger['id']}", json={"trigger": {"active": False}})
    customer_writes(control, "Uno")
    api.put(f"/api/v2/triggers/{trigger['id']}", json={"trigger": {"active": True}})
    api.patch(f"/api/v2/webhooks/{webhook['id']}", json={"webhook": {"status": "inactive"}})
    customer_writes(control, "Dos")
    time.sleep(0.3)
    assert receiver.requests == [] and deliveries(world_state) == []


def test_a_scenario_seeds_webhooks_and_triggers_that_fire_on_its_new_tickets(
    load_scenario, receiver: Receiver, world_state
) -> None:
    secret = "seeded-secret-0123456789abcdefghijklmnop"
    load_scenario(
        scenario(
            webhooks=[
                {"id": "01SEEDEDWEBHOOK00000000000", "name": "RPA", "endpoint": receiver.url, "signing_secret": secret}
            ],
            triggers=[
                {
                    "title": "Nuevo ticket de migración",
                    "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}]},
                    "actions": [
                        {
                            "field": "notification_webhook",
                            "value": ["01SEEDEDWEBHOOK00000000000", '{"ticket": {{ticket.id}}}'],
                        }
                    ],
                }
            ],
        )
    )
    requests = receiver.wait(2)
    assert sorted(json.loads(r["body"])["ticket"] for r in requests) == [TICKET, OTHER]
    for request in requests:
        headers = request["headers"]
        stamp = headers["X-Zendesk-Webhook-Signature-Timestamp"]
        assert headers["X-Zendesk-Webhook-Signature"] == expected_signature(secret, stamp, request["body"])
    [webhook] = world_state()["records"]["zendesk"]["webhooks"]
    assert webhook["created_by"] == "-1"


def test_a_scenario_trigger_must_name_a_webhook_of_the_scenario(mocks) -> None:
    bad = scenario(
        triggers=[
            {
                "title": "x",
                "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}]},
                "actions": [{"field": "notification_webhook", "value": ["01MISSING", "{}"]}],
            }
        ]
    )
    assert httpx.post(mocks.urls["control"] + "/_control/reset", json=bad).status_code == 422
