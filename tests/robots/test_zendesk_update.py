"""The Zendesk client's ticket update against the real Zendesk mock: status and tags in one write, tags
added and removed one by one so nobody else's are lost, and the hand-off view read through the client."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from mock_portals.zendesk import HANDOFF_TAG, HANDOFF_VIEW_TITLE
from pages.errors import InvalidInput
from robots.zendesk import ZendeskAccess, ZendeskClient
from tests.conftest import CountingPolicy

EMAIL, TOKEN = "rpa@contactcentre.example", "update-test-token"
PRIMER_CONTACTO = "Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Primer contacto"

SCENARIO: dict[str, Any] = {
    "name": "zendesk-update",
    "zendesk": {"agent_email": EMAIL, "api_token": TOKEN},
    "tickets": [
        {
            "id": 2001,
            "requester_name": "Carla Gutiérrez",
            "requester_phone": "+59176543210",
            "status": "hold",
            "fields": {"holder_name": "Carla Gutiérrez Soliz", "holder_ci": "7654321", "line": "76543210"},
        },
        {"id": 2002, "requester_name": "Pedro Rocha", "requester_phone": "+59171230000", "status": "pending"},
    ],
}


@pytest.fixture(autouse=True)
def _world(load_scenario) -> None:
    load_scenario(SCENARIO)


@pytest.fixture
def policy(zendesk_policy) -> CountingPolicy:
    return CountingPolicy(zendesk_policy)


@pytest.fixture
def client(mocks, policy) -> Iterator[ZendeskClient]:
    access = ZendeskAccess(base_url=mocks.urls["zendesk"], email=EMAIL, api_token=TOKEN)
    with ZendeskClient(access, policy) as client:
        yield client


@pytest.fixture
def someone_else(mocks) -> Iterator[Callable[..., None]]:
    """Another writer of the ticket (a trigger, a person) changing it through the API."""
    with httpx.Client(base_url=mocks.urls["zendesk"], auth=(f"{EMAIL}/token", TOKEN), timeout=5) as api:

        def write(ticket_id: int, **changes: Any) -> None:
            api.put(f"/api/v2/tickets/{ticket_id}.json", json={"ticket": changes}).raise_for_status()

        yield write


@pytest.fixture
def request_log(mocks) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    control = mocks.urls["control"] + "/_control/request_log"
    httpx.post(control).raise_for_status()
    yield lambda: httpx.get(control).json()["requests"]
    httpx.delete(control)


def stored(world_state, ticket_id: int) -> dict[str, Any]:
    return world_state()["tickets"][str(ticket_id)]


def test_hand_off_opens_the_ticket_with_the_tag(client: ZendeskClient, world_state) -> None:
    ticket = client.update_ticket(2001, status="open", add_tags=[HANDOFF_TAG])
    assert ticket.id == 2001 and ticket.status == "open" and ticket.tags == [HANDOFF_TAG]
    assert ticket.holder_ci == "7654321"  # the whole ticket comes back, fields read by title
    assert stored(world_state, 2001)["status"] == "open"
    assert stored(world_state, 2001)["tags"] == [HANDOFF_TAG]
    assert [t.id for t in client.view_tickets(HANDOFF_VIEW_TITLE)] == [2001]

    back = client.update_ticket(2001, status="hold", remove_tags=[HANDOFF_TAG])
    assert back.status == "hold" and back.tags == []
    assert client.view_tickets(HANDOFF_VIEW_TITLE) == []


def test_tags_read_with_the_ticket_include_the_dropdowns(client: ZendeskClient) -> None:
    client.apply_macro(2001, PRIMER_CONTACTO)
    ticket = client.update_ticket(2001, add_tags=["RPA_Necesita_Agente"])
    assert ticket.order_state == "En progreso::Datos Insuficientes"
    assert sorted(ticket.tags) == ["en_progreso__datos_insuficientes", HANDOFF_TAG]
    assert client.ticket(2001).tags == ticket.tags


def test_tags_are_added_and_removed_never_sent_whole(
    client: ZendeskClient, someone_else, request_log, world_state
) -> None:
    client.update_ticket(2001, status="open", add_tags=[HANDOFF_TAG])
    someone_else(2001, additional_tags=["vip"])  # e.g. a trigger, between the robot's two writes
    ticket = client.update_ticket(2001, status="hold", remove_tags=[HANDOFF_TAG])
    assert ticket.tags == ["vip"] and stored(world_state, 2001)["tags"] == ["vip"]

    puts = [r for r in request_log() if r["method"] == "PUT"]
    bodies = [json.loads(base64.b64decode(r["body"]))["ticket"] for r in puts]
    assert bodies[0] == {"status": "open", "additional_tags": [HANDOFF_TAG]}
    assert bodies[2] == {"status": "hold", "remove_tags": [HANDOFF_TAG]}
    assert not any("tags" in body for body in (bodies[0], bodies[2]))


def test_update_is_retried_through_server_errors_and_applies_once(
    client: ZendeskClient, policy: CountingPolicy, faults, world_state
) -> None:
    client.ticket(2001)  # ticket fields are cached from here on
    policy.attempts = 0
    faults("zendesk", fail_next=2)
    ticket = client.update_ticket(2001, status="open", add_tags=[HANDOFF_TAG, HANDOFF_TAG.upper()])
    assert policy.attempts == 3
    assert ticket.tags == [HANDOFF_TAG] and stored(world_state, 2001)["tags"] == [HANDOFF_TAG]


def test_nothing_to_change_only_reads_the_ticket(client: ZendeskClient, request_log) -> None:
    assert client.update_ticket(2002).status == "pending"
    assert [r["method"] for r in request_log() if "/tickets/" in r["path"]] == ["GET"]


def test_a_tag_with_a_space_is_refused_before_any_request(
    client: ZendeskClient, policy: CountingPolicy, world_state
) -> None:
    with pytest.raises(InvalidInput, match="no spaces"):
        client.update_ticket(2001, add_tags=["necesita agente"])
    with pytest.raises(InvalidInput, match="list of tags"):
        client.update_ticket(2001, remove_tags=HANDOFF_TAG)
    assert policy.attempts == 0 and stored(world_state, 2001)["tags"] == []


def test_a_status_zendesk_refuses_is_invalid_input_not_retried(client: ZendeskClient, policy: CountingPolicy) -> None:
    client.ticket(2001)
    policy.attempts = 0
    with pytest.raises(InvalidInput, match="Status: new"):
        client.update_ticket(2001, status="new")
    assert policy.attempts == 1
