"""The Zendesk client against the real Zendesk mock: reads, notes, macros, and how failures come back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from loguru import logger

from mock_portals.server import free_port
from mock_portals.world import AGENT_USER_ID
from mock_portals.zendesk import STEP_MACROS
from pages.errors import (
    CredentialsRejected,
    PortalTimeout,
    PortalUnavailable,
    RecordNotFound,
)
from robots.evidence import Evidence, markers_in, note_key
from robots.zendesk import ZendeskAccess, ZendeskClient

from tests.conftest import CountingPolicy

T = TypeVar("T")

EMAIL, TOKEN = "rpa@contactcentre.example", "client-test-token"
PRIMER_CONTACTO = "Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Primer contacto"
OFERTA_CONFIRMADA = "Móvil::WhatsApp::Migración de Pre a Post::Oferta::Línea Confirmada + Plan"
GESTION = "Respuesta rápida::Opción 4"
MIGRACION_EXITOSA = "Móvil::WhatsApp::Migración Pre a Post::Activación Exitosa::Línea Sin Equipo"

SCENARIO: dict[str, Any] = {
    "name": "zendesk-client",
    "zendesk": {"agent_email": EMAIL, "api_token": TOKEN},
    "tickets": [
        {"id": 2001, "subject": "Migración a plan pospago", "requester_name": "Carla Gutiérrez",
         "requester_phone": "+59176543210", "status": "open",
         "fields": {"holder_name": "Carla Gutiérrez Soliz", "holder_ci": "7654321", "line": "76543210",
                    "city": "Santa Cruz", "billing_name": "Carla Gutiérrez Soliz", "billing_nit": "7654321019"},
         "conversation": [
             {"author": "bot", "body": "¡Hola! Soy Liza, tu asistente virtual."},
             {"author": "customer", "body": "Quiero un plan pospago para mi línea 76543210."},
         ]},
        {"id": 2002, "requester_name": "Pedro Rocha", "requester_phone": "+59171230000", "status": "hold"},
    ],
}




@pytest.fixture(autouse=True)
def _world(load_scenario) -> None:
    load_scenario(SCENARIO)


@pytest.fixture
def policy(zendesk_policy) -> CountingPolicy:
    return CountingPolicy(zendesk_policy)


@pytest.fixture
def make_client(mocks, policy) -> Iterator[Callable[..., ZendeskClient]]:
    clients: list[ZendeskClient] = []

    def make(*, token: str = TOKEN, base_url: str | None = None, timeout_seconds: float = 5.0) -> ZendeskClient:
        access = ZendeskAccess(base_url=base_url or mocks.urls["zendesk"], email=EMAIL, api_token=token)
        client = ZendeskClient(access, policy, timeout_seconds=timeout_seconds)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client) -> ZendeskClient:
    return make_client()


def ticket_of(world_state, ticket_id: int) -> dict[str, Any]:
    return world_state()["tickets"][str(ticket_id)]


def png(label: str) -> Evidence:
    return Evidence.capture(portal="qvantel", step="line-state", description=f"Estado de la línea {label}",
                            content=b"\x89PNG\r\n\x1a\n" + label.encode())


# -- reading --------------------------------------------------------------------------------------
def test_ticket_reads_the_bots_fields_by_title(client: ZendeskClient) -> None:
    ticket = client.ticket(2001)
    assert ticket.id == 2001 and ticket.subject == "Migración a plan pospago" and ticket.status == "open"
    assert (ticket.holder_name, ticket.holder_ci, ticket.line, ticket.city) == (
        "Carla Gutiérrez Soliz", "7654321", "76543210", "Santa Cruz")
    assert (ticket.billing_name, ticket.billing_nit) == ("Carla Gutiérrez Soliz", "7654321019")
    assert ticket.order_state is None


def test_comments_come_back_in_order_across_pages(client: ZendeskClient, load_scenario) -> None:
    many = [{"author": "customer" if n % 2 else "bot", "body": f"mensaje {n}"} for n in range(230)]
    load_scenario({**SCENARIO, "tickets": [{**SCENARIO["tickets"][0], "conversation": many}]})
    comments = client.comments(2001)
    assert [c.body for c in comments] == [f"mensaje {n}" for n in range(230)]
    assert len({c.id for c in comments}) == 230


def test_unknown_ticket_is_record_not_found_at_once(client: ZendeskClient, policy: CountingPolicy) -> None:
    with pytest.raises(RecordNotFound):
        client.ticket(424242)
    assert policy.attempts == 1  # one GET of the ticket, never retried


# -- internal notes -------------------------------------------------------------------------------
def test_internal_note_is_private_and_carries_the_evidence(client: ZendeskClient, world_state) -> None:
    shots = [png("uno"), png("dos")]
    result = client.add_internal_note(2001, "Estado de la línea en Qvantel", evidence=shots)
    assert result.posted and result.comment_id is not None
    last = client.comments(2001)[-1]
    assert last.id == result.comment_id
    assert last.public is False and last.author_id == AGENT_USER_ID
    assert last.body == "Estado de la línea en Qvantel"
    assert [a.file_name for a in last.attachments] == [s.filename for s in shots]
    assert [client.download(a.content_url) for a in last.attachments] == [s.content for s in shots]
    assert ticket_of(world_state, 2001)["comments"][-1]["public"] is False


def test_note_with_a_key_is_posted_once(client: ZendeskClient, world_state) -> None:
    key = note_key(2001, "preanalysis", 1)
    first = client.add_internal_note(2001, "Preanálisis Planifícate", evidence=[png("plan")], key=key)
    again = client.add_internal_note(2001, "Preanálisis Planifícate", evidence=[png("plan")], key=key)
    assert first.posted and not again.posted
    assert again.comment_id == first.comment_id
    comments = ticket_of(world_state, 2001)["comments"]
    assert sum(key in markers_in(c["body"]) for c in comments) == 1
    assert len(world_state()["attachments"]) == 1  # nothing uploaded the second time
    other = client.add_internal_note(2001, "Preanálisis Planifícate", key=note_key(2001, "preanalysis", 2))
    assert other.posted


# -- macros ---------------------------------------------------------------------------------------
def test_apply_macro_by_exact_title_saves_reply_status_and_order_state(client: ZendeskClient,
                                                                       world_state) -> None:
    result = client.apply_macro(2001, PRIMER_CONTACTO)
    assert result.title == PRIMER_CONTACTO
    assert result.status == "hold"
    assert result.order_state == "En progreso::Datos Insuficientes"
    stored = ticket_of(world_state, 2001)
    assert stored["status"] == "hold"
    assert stored["macros_applied"] == [PRIMER_CONTACTO]
    reply = stored["comments"][-1]
    assert reply["public"] is True and reply["author_id"] == AGENT_USER_ID
    assert reply["body"] == result.comment_body and result.comment_body.startswith("¡Hola!")
    assert client.ticket(2001).order_state == "En progreso::Datos Insuficientes"


def test_macro_spelled_datos_insuficientes_sets_the_single_option(client: ZendeskClient) -> None:
    assert client.apply_macro(2001, OFERTA_CONFIRMADA).order_state == "En progreso::Datos Insuficientes"


def test_macro_without_order_state_keeps_the_current_one(client: ZendeskClient, world_state) -> None:
    client.apply_macro(2001, PRIMER_CONTACTO)
    result = client.apply_macro(2001, GESTION)
    assert result.status == "open"
    assert result.order_state == "En progreso::Datos Insuficientes"
    assert ticket_of(world_state, 2001)["macros_applied"] == [PRIMER_CONTACTO, GESTION]


def test_macro_reply_carries_attachments_and_extra_text(client: ZendeskClient) -> None:
    contract = Evidence.capture(portal="contrato", step="contract", description="Contrato PDF",
                                content=b"%PDF-1.4 contrato", content_type="application/pdf", extension="pdf")
    result = client.apply_macro(2001, MIGRACION_EXITOSA, attachments=[contract], extra_text="Plan: Mega Plan 69")
    assert result.status == "solved" and result.order_state == "Acepta::Plan Recomendado"
    reply = client.comments(2001)[-1]
    assert reply.public and reply.body.endswith("Plan: Mega Plan 69")
    assert [a.content_type for a in reply.attachments] == ["application/pdf"]
    assert client.download(reply.attachments[0].content_url) == b"%PDF-1.4 contrato"


def test_missing_macro_is_record_not_found_naming_it(client: ZendeskClient, world_state) -> None:
    with pytest.raises(RecordNotFound, match="Respuesta rápida::Opción 5"):
        client.apply_macro(2001, "Respuesta rápida::Opción 5")
    with pytest.raises(RecordNotFound):
        client.find_macro(PRIMER_CONTACTO.lower())  # exact title only
    assert ticket_of(world_state, 2001)["macros_applied"] == []


def test_macros_lists_every_macro(client: ZendeskClient) -> None:
    titles = [m["title"] for m in client.macros()]
    # The process's 23 and the agents' step macros (each adds a tag the robot answers to).
    assert len(titles) == 23 + len(STEP_MACROS) and PRIMER_CONTACTO in titles and "BO::Despedida al resolver" in titles
    assert {spec.title for spec in STEP_MACROS} <= set(titles)


# -- views ----------------------------------------------------------------------------------------
def test_view_tickets_follow_the_status(client: ZendeskClient) -> None:
    assert [t.id for t in client.view_tickets("En Espera")] == [2002]
    client.apply_macro(2001, PRIMER_CONTACTO)
    waiting = client.view_tickets("En Espera")
    assert sorted(t.id for t in waiting) == [2001, 2002]
    assert next(t for t in waiting if t.id == 2001).holder_ci == "7654321"
    with pytest.raises(RecordNotFound, match="Bandeja"):
        client.view_tickets("Bandeja General")


# -- failures -------------------------------------------------------------------------------------
def test_rate_limit_waits_retry_after_then_succeeds(client: ZendeskClient, policy: CountingPolicy, faults,
                                                    world_state) -> None:
    client.ticket(2001)  # ticket fields are cached from here on
    policy.attempts = 0
    faults("zendesk", rate_limit_next=1)
    started = time.monotonic()
    assert client.ticket(2001).id == 2001
    assert time.monotonic() - started >= 0.9  # the mock's Retry-After is 1 second
    assert policy.attempts == 2
    assert world_state()["faults"]["zendesk"]["rate_limit_next"] == 0


def test_burst_of_server_errors_is_retried_to_success(client: ZendeskClient, policy: CountingPolicy,
                                                       faults) -> None:
    client.ticket(2001)
    policy.attempts = 0
    faults("zendesk", fail_next=3)
    note = client.add_internal_note(2001, "Nota tras errores")
    assert note.posted
    assert policy.attempts == 4


def test_server_errors_past_the_policy_are_portal_unavailable(client: ZendeskClient, policy: CountingPolicy,
                                                              faults, world_state) -> None:
    faults("zendesk", fail_next=50)
    with pytest.raises(PortalUnavailable, match="500"):
        client.ticket(2001)
    assert policy.attempts == 5  # RetryTiming.attempts=4 retries after the first try
    assert world_state()["faults"]["zendesk"]["fail_next"] == 45


def test_wrong_token_is_credentials_rejected_and_not_retried(make_client, policy: CountingPolicy) -> None:
    messages: list[str] = []
    sink = logger.add(messages.append, level="DEBUG")
    try:
        with pytest.raises(CredentialsRejected) as raised:
            make_client(token="wrong-token-value").ticket(2001)
    finally:
        logger.remove(sink)
    assert policy.attempts == 1
    assert "Couldn't authenticate you" in str(raised.value)
    assert not any("wrong-token-value" in m for m in messages + [str(raised.value)])


def test_refused_connection_is_portal_unavailable(make_client, policy: CountingPolicy) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(PortalUnavailable) as raised:
        client.ticket(2001)
    assert raised.value.portal == "zendesk"
    assert policy.attempts == 5


def test_slow_answer_is_portal_timeout(make_client, policy: CountingPolicy, faults) -> None:
    faults("zendesk", latency_ms=400)
    with pytest.raises(PortalTimeout):
        make_client(timeout_seconds=0.1).ticket(2001)
    assert policy.attempts == 5
