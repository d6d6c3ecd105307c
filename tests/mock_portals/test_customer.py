"""The scripted customer and reviewer, seen from outside: an agent applies macros through the Zendesk API
and the customer's WhatsApp answers (text, CI photos, the AR token) appear as the scenario says."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from PIL import Image

from mock_portals.customer import REVIEW_REQUEST, mistype, token_code
from mock_portals.macro_names import MACROS

TICKET = 1001
LINE = "71234567"
AUTH = ("rpa@contactcentre.example/token", "demo-api-token")


def scenario(customer: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "customer",
        "lines": [{"number": LINE, "holder_name": "María Fernanda Rojas Quiroga", "holder_ci": "6543210"}],
        "tickets": [{
            "id": TICKET, "requester_name": "María Fernanda Rojas", "requester_phone": "+59171234567",
            "status": "open",
            "fields": {"holder_name": "María Fernanda Rojas Quiroga", "holder_ci": "6543210", "line": LINE},
            "customer": {"delay_seconds": 0.05, **customer},
        }],
        **extra,
    }


@pytest.fixture
def zendesk(mocks):
    with httpx.Client(base_url=mocks.urls["zendesk"], auth=AUTH, timeout=10) as client:
        yield client


def wait_for(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def macro_id(zendesk: httpx.Client, short: str) -> int:
    title = MACROS[short]
    found = zendesk.get("/api/v2/macros/search", params={"query": title}).json()["macros"]
    return next(m["id"] for m in found if m["title"] == title)


def apply_macro(zendesk: httpx.Client, short: str, status: str = "hold") -> None:
    response = zendesk.put(f"/api/v2/tickets/{TICKET}", json={"ticket": {
        "comment": {"body": f"Texto de la macro {short}", "public": True},
        "status": status, "macro_ids": [macro_id(zendesk, short)],
    }})
    response.raise_for_status()


def internal_note(zendesk: httpx.Client, body: str) -> None:
    zendesk.put(f"/api/v2/tickets/{TICKET}",
                json={"ticket": {"comment": {"body": body, "public": False}}}).raise_for_status()


def comments(zendesk: httpx.Client) -> list[dict[str, Any]]:
    return zendesk.get(f"/api/v2/tickets/{TICKET}/comments").json()["comments"]


def customer_messages(zendesk: httpx.Client) -> list[dict[str, Any]]:
    requester = zendesk.get(f"/api/v2/tickets/{TICKET}").json()["ticket"]["requester_id"]
    return [c for c in comments(zendesk) if c["author_id"] == requester and c["via"]["channel"] == "whatsapp"]


def at_least(count: int, fetch: Callable[[], list[Any]]) -> list[Any]:
    """Wait until ``fetch`` returns ``count`` items or more, and return them."""
    found: list[Any] = []

    def enough() -> bool:
        found[:] = fetch()
        return len(found) >= count

    wait_for(enough)
    return found


def answers_after(zendesk: httpx.Client, count: int) -> list[str]:
    """Wait for the customer's answer number ``count`` and return the bodies of all of them."""
    return [c["body"] for c in at_least(count, lambda: customer_messages(zendesk))]


def log(world_state: Callable[[], dict]) -> list[dict[str, Any]]:
    return world_state()["records"].get("customer", [])


def ar_token(mocks) -> None:
    """Have AR send a token to the line, as the robot does on AR's token screen."""
    with httpx.Client(base_url=mocks.urls["ar"], timeout=10) as ar:
        ar.post("/login", data={"usuario": "agente.rpa", "clave": "Clave.2026", "next": "/"})
        ar.post("/token", data={"linea": LINE}).raise_for_status()


def sms_codes(world_state: Callable[[], dict]) -> list[tuple[str, datetime]]:
    return [(token_code(m["text"]), datetime.fromisoformat(m["sent_at"]))
            for m in world_state()["sms"].get(LINE, []) if m["sender"] == "7371"]


# --------------------------------------------------------------------------------------------
def test_answers_each_application_in_order_silent_ones_included(mocks, load_scenario, zendesk, world_state):
    load_scenario(scenario({"replies": {
        "primer_contacto": [{"silent": True}, {"text": "Sí, soy yo, María Fernanda"}],
        "segundo_contacto": {"text": "Perdón, recién veo el mensaje. CI 6543210, La Paz."},
    }}))
    apply_macro(zendesk, "primer_contacto")
    wait_for(lambda: any(e["action"] == "silent" for e in log(world_state)))
    time.sleep(0.2)
    assert customer_messages(zendesk) == []

    apply_macro(zendesk, "segundo_contacto", status="pending")
    assert answers_after(zendesk, 1) == ["Perdón, recién veo el mensaje. CI 6543210, La Paz."]
    assert zendesk.get(f"/api/v2/tickets/{TICKET}").json()["ticket"]["status"] == "open"  # reopened, as Zendesk does

    apply_macro(zendesk, "primer_contacto")
    apply_macro(zendesk, "primer_contacto")  # the last entry repeats
    apply_macro(zendesk, "gestion", status="open")  # no entry: no answer
    assert answers_after(zendesk, 3)[1:] == ["Sí, soy yo, María Fernanda"] * 2
    entries = at_least(5, lambda: log(world_state))
    assert [(e["macro"], e["occurrence"], e["action"]) for e in entries] == [
        ("primer_contacto", 1, "silent"), ("segundo_contacto", 1, "text"),
        ("primer_contacto", 2, "text"), ("primer_contacto", 3, "text"), ("gestion", 1, "silent"),
    ]
    assert all(e["ticket"] == TICKET for e in entries)
    assert len(customer_messages(zendesk)) == 3


def test_documents_arrive_as_three_pngs_on_either_offer(mocks, load_scenario, zendesk):
    load_scenario(scenario({"replies": {"oferta": {"text": "Quiero el Mega Plan 69", "documents": True}}}))
    apply_macro(zendesk, "oferta_sin_confirmacion")
    message = wait_for(lambda: customer_messages(zendesk))[0]
    assert message["body"] == "Quiero el Mega Plan 69" and message["public"] is True
    files = {a["file_name"]: a for a in message["attachments"]}
    assert sorted(files) == ["ci_anverso.png", "ci_reverso.png", "selfie_ci.png"]
    for attachment in files.values():
        content = httpx.get(attachment["content_url"], follow_redirects=True).content
        image = Image.open(io.BytesIO(content))
        assert image.format == "PNG" and image.width >= 300 and attachment["content_type"] == "image/png"

    apply_macro(zendesk, "oferta_confirmada")  # the alias answers both offers
    assert len(answers_after(zendesk, 2)) == 2


def test_token_on_time_waits_for_the_sms_and_sends_the_newest_code(mocks, load_scenario, zendesk, world_state):
    load_scenario(scenario({"replies": {"sms_ar": {"token": "on_time"},
                                        "segundo_token": {"text": "El nuevo es {token}, gracias", "token": "on_time"}}}))
    apply_macro(zendesk, "sms_ar")
    time.sleep(0.3)  # the robot generates the token after the macro: the customer waits for it
    ar_token(mocks)
    first = wait_for(lambda: sms_codes(world_state))[0][0]
    assert answers_after(zendesk, 1) == [first]

    ar_token(mocks)  # the second token is generated before its macro: already in the inbox
    apply_macro(zendesk, "segundo_token")
    second = sms_codes(world_state)[-1][0]
    assert second != first
    assert answers_after(zendesk, 2)[1] == f"El nuevo es {second}, gracias"


def test_token_mistyped_changes_one_character(mocks, load_scenario, zendesk, world_state):
    load_scenario(scenario({"replies": {"sms_ar": {"token": "mistyped"}}}))
    ar_token(mocks)
    apply_macro(zendesk, "sms_ar")
    code = sms_codes(world_state)[0][0]
    sent = answers_after(zendesk, 1)[0]
    assert sent == mistype(code) and sent != code and sum(a != b for a, b in zip(sent, code, strict=True)) == 1
    assert log(world_state)[-1]["action"] == "token_mistyped"


def test_token_late_arrives_after_it_expired(mocks, load_scenario, zendesk, world_state):
    load_scenario(scenario({"replies": {"sms_ar": {"token": "late"}}}, token_ttl_seconds=0.8))
    apply_macro(zendesk, "sms_ar")
    ar_token(mocks)
    code, sent_at = sms_codes(world_state)[0]
    message = wait_for(lambda: customer_messages(zendesk), timeout=5)[0]
    assert message["body"] == code
    stored = next(c for c in world_state()["tickets"][str(TICKET)]["comments"] if c["id"] == message["id"])
    answered_at = datetime.fromisoformat(stored["created_at"])  # the API's created_at has whole seconds only
    assert (answered_at - sent_at).total_seconds() >= 0.8 + 0.5


def test_no_sms_means_no_answer(mocks, load_scenario, zendesk, world_state):
    load_scenario(scenario({"replies": {"sms_ar": {"token": "on_time"}}, "sms_wait_seconds": 0.3}))
    apply_macro(zendesk, "sms_ar")
    entry = wait_for(lambda: log(world_state))[0]
    assert entry["action"] == "no_sms" and LINE in entry["detail"]
    assert customer_messages(zendesk) == []


def test_reviewer_rejects_then_approves_with_internal_notes(mocks, load_scenario, zendesk, world_state):
    load_scenario(scenario({"reviewer": [{"decision": "reject", "reason": "El CI está borroso."}, "approve"]}))
    internal_note(zendesk, f"{REVIEW_REQUEST}: CI anverso, reverso y selfie del ticket {TICKET}.")
    note = wait_for(lambda: [c for c in comments(zendesk) if c["body"].startswith("#")])[0]
    assert note["body"] == "#rechazar Motivo: El CI está borroso." and note["public"] is False
    supervisor = zendesk.get(f"/api/v2/users/{note['author_id']}").json()["user"]
    assert supervisor["name"] == "Supervisor" and supervisor["role"] == "agent"

    internal_note(zendesk, f"{REVIEW_REQUEST}: fotos nuevas.")
    notes = at_least(2, lambda: [c for c in comments(zendesk) if c["body"].startswith("#")])
    assert notes[1]["body"] == "#aprobar" and notes[1]["author_id"] == note["author_id"]
    assert [e["action"] for e in log(world_state)] == ["review_reject", "review_approve"]
    assert customer_messages(zendesk) == []


def test_silent_reviewer_answers_nothing(mocks, load_scenario, zendesk, world_state):
    load_scenario(scenario({}))
    internal_note(zendesk, "Nota sin pedido de revisión")
    internal_note(zendesk, REVIEW_REQUEST)
    assert wait_for(lambda: log(world_state))[0]["action"] == "review_silent"
    time.sleep(0.2)
    assert len(comments(zendesk)) == 2


def test_a_reset_drops_pending_answers(mocks, load_scenario, zendesk, world_state):
    load_scenario(scenario({"replies": {"primer_contacto": {"documents": True, "delay_seconds": 0.6}}}))
    apply_macro(zendesk, "primer_contacto")
    time.sleep(0.2)  # the simulator has seen the macro and is waiting to answer
    load_scenario(scenario({}))
    time.sleep(0.7)
    state = world_state()
    assert state["attachments"] == {} and state["records"].get("customer", []) == []
    assert customer_messages(zendesk) == []


def test_control_api_posts_a_customer_message(mocks, load_scenario, zendesk):
    load_scenario(scenario({}))
    control = mocks.urls["control"] + f"/_control/tickets/{TICKET}/customer_message"
    response = httpx.post(control, json={"body": "ACEPTO", "documents": True})
    assert response.status_code == 200
    message = customer_messages(zendesk)[-1]
    assert message["body"] == "ACEPTO" and len(message["attachments"]) == 3
    assert httpx.post(mocks.urls["control"] + "/_control/tickets/9/customer_message",
                      json={"body": "x"}).status_code == 404


def test_scenario_rejects_unknown_macro_names(mocks):
    response = httpx.post(mocks.urls["control"] + "/_control/reset", json=scenario({"replies": {"ofrta": {"text": "x"}}}))
    assert response.status_code == 422 and "unknown macro short name" in response.text
