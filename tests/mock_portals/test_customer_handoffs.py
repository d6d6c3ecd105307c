"""The scripted people around a hand-off, seen from outside through the Zendesk API: the customer answering the
robot's clarifying replies and sending what WhatsApp carries (stickers, voice notes, photos named by WhatsApp),
the reviewer approving photos by their numbers, and the agent on duty answering the robot's hand-off notes."""

from __future__ import annotations

import io
import re
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from PIL import Image
from pypdf import PdfReader

from mock_portals.customer import APPROVE_TAG, HANDOFF_REQUEST, REVIEW_REQUEST, customer_says, labelled_approval
from mock_portals.world import Scenario, World
from mock_portals.zendesk import BILLING_NIT_FIELD_ID, LINE_FIELD_ID
from tests.mock_portals.test_customer import (
    AUTH,
    TICKET,
    apply_macro,
    at_least,
    comments,
    customer_messages,
    internal_note,
    log,
    scenario,
    wait_for,
)

DAY = r"\d{8}"


@pytest.fixture
def zendesk(mocks):
    with httpx.Client(base_url=mocks.urls["zendesk"], auth=AUTH, timeout=10) as client:
        yield client


def with_conversation(spec: dict[str, Any], *messages: dict[str, Any]) -> dict[str, Any]:
    spec["tickets"][0]["conversation"] = list(messages)
    return spec


def public_reply(zendesk: httpx.Client, body: str) -> None:
    """A message of the robot to the customer that no macro wrote."""
    zendesk.put(
        f"/api/v2/tickets/{TICKET}", json={"ticket": {"comment": {"body": body, "public": True}}}
    ).raise_for_status()


def stored_comments(world_state) -> dict[int, dict[str, Any]]:
    return {c["id"]: c for c in world_state()["tickets"][str(TICKET)]["comments"]}


def download(attachment: dict[str, Any]) -> bytes:
    return httpx.get(attachment["content_url"], follow_redirects=True).content


def notes_by(zendesk: httpx.Client, name: str) -> list[dict[str, Any]]:
    found = []
    for comment in comments(zendesk):
        author = zendesk.get(f"/api/v2/users/{comment['author_id']}").json()["user"]
        if author["name"] == name:
            found.append(comment)
    return found


def fields_of(zendesk: httpx.Client) -> dict[int, Any]:
    ticket = zendesk.get(f"/api/v2/tickets/{TICKET}").json()["ticket"]
    return {f["id"]: f["value"] for f in ticket["custom_fields"]}


# -- clarifying replies ---------------------------------------------------------------------------
def test_clarifying_replies_are_answered_in_order_and_macros_by_their_own_key(
    mocks, load_scenario, zendesk, world_state
):
    spec = scenario(
        {
            "replies": {
                "aclaracion": [{"text": "El de 69"}, {"text": "Sí, ese"}],
                "oferta": {"text": "Quiero el Mega Plan 69"},
            }
        }
    )
    # What the conversation already held is history: nobody answers it again.
    load_scenario(with_conversation(spec, {"author": "agent", "body": "Hola, te atiende un asesor."}))
    public_reply(zendesk, "¿Cuál de los planes eliges?")
    assert at_least(1, lambda: customer_messages(zendesk))[0]["body"] == "El de 69"
    apply_macro(zendesk, "oferta_confirmada")
    assert at_least(2, lambda: customer_messages(zendesk))[1]["body"] == "Quiero el Mega Plan 69"
    public_reply(zendesk, "¿Confirmas el Mega Plan 69?")
    public_reply(zendesk, "¿Me lo confirmas, por favor?")
    assert [m["body"] for m in at_least(4, lambda: customer_messages(zendesk))][2:] == ["Sí, ese", "Sí, ese"]

    entries = at_least(4, lambda: log(world_state))
    assert [(e["macro"], e["occurrence"], e["action"]) for e in entries] == [
        ("aclaracion", 1, "text"),
        ("oferta_confirmada", 1, "text"),
        ("aclaracion", 2, "text"),
        ("aclaracion", 3, "text"),
    ]
    time.sleep(0.2)
    assert len(customer_messages(zendesk)) == 4
    # Every answer comes after the question it answers.
    everything = list(stored_comments(world_state).values())
    questions = [c for c in everything if c["body"].startswith("¿")]
    answers = [c for c in everything if c["body"] in ("El de 69", "Sí, ese")]
    for question, answer in zip(questions, answers, strict=True):
        assert datetime.fromisoformat(answer["created_at"]) > datetime.fromisoformat(question["created_at"])


def test_a_clarifying_reply_and_a_macro_are_answered_in_the_order_they_were_sent(mocks, load_scenario, zendesk):
    load_scenario(scenario({"replies": {"aclaracion": {"text": "Respuesta a la pregunta"}, "tyc": {"text": "ACEPTO"}}}))
    public_reply(zendesk, "Antes de seguir: ¿la factura va a tu nombre?")
    apply_macro(zendesk, "tyc")
    apply_macro(zendesk, "tyc")
    public_reply(zendesk, "¿Y tu ciudad?")
    assert [m["body"] for m in at_least(4, lambda: customer_messages(zendesk))] == [
        "Respuesta a la pregunta",
        "ACEPTO",
        "ACEPTO",
        "Respuesta a la pregunta",
    ]


def test_without_the_key_clarifying_replies_get_no_answer(mocks, load_scenario, zendesk, world_state):
    load_scenario(scenario({"replies": {"primer_contacto": {"text": "Sí, soy yo"}}}))
    public_reply(zendesk, "No entendí tu mensaje, ¿puedes repetirlo?")
    entry = wait_for(lambda: log(world_state))[0]
    assert (entry["macro"], entry["action"], entry["detail"]) == ("aclaracion", "silent", "no reply scripted")
    apply_macro(zendesk, "primer_contacto")
    assert [m["body"] for m in at_least(1, lambda: customer_messages(zendesk))] == ["Sí, soy yo"]
    time.sleep(0.2)
    assert len(customer_messages(zendesk)) == 1


# -- what WhatsApp carries ------------------------------------------------------------------------
def test_stickers_voice_notes_photos_and_pdfs_arrive_named_as_whatsapp_names_them(
    mocks, load_scenario, zendesk, world_state
):
    load_scenario(
        scenario(
            {
                "replies": {
                    "primer_contacto": {"files": ["sticker", "voice_note", "photo", "pdf"]},
                    "aclaracion": {"text": "Mira", "files": ["sticker"]},
                }
            }
        )
    )
    apply_macro(zendesk, "primer_contacto")
    message = wait_for(lambda: customer_messages(zendesk))[0]
    assert message["body"] == ""  # files only, no text
    files = message["attachments"]
    names = [a["file_name"] for a in files]
    patterns = [
        rf"STK-{DAY}-WA0001\.webp",
        rf"PTT-{DAY}-WA0001\.opus",
        rf"IMG-{DAY}-WA0007\.jpg",
        rf"DOC-{DAY}-WA0001\.pdf",
    ]
    assert all(re.fullmatch(p, n) for p, n in zip(patterns, names, strict=True)), names
    assert [a["content_type"] for a in files] == ["image/webp", "audio/ogg", "image/jpeg", "application/pdf"]

    sticker, voice, photo, pdf = (download(a) for a in files)
    assert Image.open(io.BytesIO(sticker)).format == "WEBP"
    assert voice.startswith(b"OggS") and b"OpusHead" in voice and b"OpusTags" in voice
    picture = Image.open(io.BytesIO(photo))
    assert picture.format == "JPEG" and picture.size == (640, 480)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1

    public_reply(zendesk, "¿Qué plan eliges?")
    second = at_least(2, lambda: customer_messages(zendesk))[1]
    assert second["body"] == "Mira" and [a["content_type"] for a in second["attachments"]] == ["image/webp"]
    entries = at_least(2, lambda: log(world_state))
    assert [(e["action"], e.get("detail")) for e in entries] == [
        ("files", "sticker, voice_note, photo, pdf"),
        ("text+files", "sticker"),
    ]
    kinds = [(e["comment"], e["kind"]) for e in world_state()["records"]["customer_files"]]
    assert kinds == [(message["id"], k) for k in ("sticker", "voice_note", "photo", "pdf")] + [
        (second["id"], "sticker")
    ]


def test_whatsapp_style_sends_the_three_pictures_as_numbered_jpegs(mocks, load_scenario, zendesk, world_state):
    load_scenario(
        scenario(
            {"document_style": "whatsapp", "replies": {"oferta": {"text": "Quiero el Mega Plan 69", "documents": True}}}
        )
    )
    apply_macro(zendesk, "oferta_sin_confirmacion")
    message = wait_for(lambda: customer_messages(zendesk))[0]
    names = [a["file_name"] for a in message["attachments"]]
    day = names[0][4:12]
    assert re.fullmatch(DAY, day)
    assert names == [f"IMG-{day}-WA0001.jpg", f"IMG-{day}-WA0002.jpg", f"IMG-{day}-WA0003.jpg"]
    pictures = [Image.open(io.BytesIO(download(a))) for a in message["attachments"]]
    assert all(p.format == "JPEG" for p in pictures)
    assert all(a["content_type"] == "image/jpeg" for a in message["attachments"])
    # Front and back are cards, the selfie is upright: the order is front, back, selfie.
    assert [p.size for p in pictures] == [(520, 330), (520, 330), (360, 480)]
    remembered = world_state()["records"]["customer_files"]
    assert [(e["file_name"], e["kind"]) for e in remembered] == list(
        zip(names, ["anverso", "reverso", "selfie"], strict=True)
    )


# -- the reviewer ---------------------------------------------------------------------------------
def review_request(*listed: str) -> str:
    lines = "\n".join(f"{n}. {name}" for n, name in enumerate(listed, start=1))
    return (
        f"{REVIEW_REQUEST}\n\nFotos del cliente:\n{lines}\n\n"
        "Responda #aprobar anverso=N reverso=N selfie=N o #rechazar Motivo: ..."
    )


def test_reviewer_approves_with_the_numbers_of_front_back_and_selfie(mocks, load_scenario, zendesk, world_state):
    load_scenario(
        scenario(
            {
                "document_style": "whatsapp",
                "replies": {"oferta": {"text": "Ahí van", "documents": True, "files": ["photo"]}},
                "reviewer": "approve",
            }
        )
    )
    apply_macro(zendesk, "oferta_confirmada")
    first = wait_for(lambda: customer_messages(zendesk))[0]
    front, back, selfie, photo = (f"{first['id']}-{a['file_name']}" for a in first["attachments"])
    internal_note(zendesk, review_request(photo, back, selfie, front))
    approvals = at_least(1, lambda: notes_by(zendesk, "Supervisor"))
    assert approvals[0]["body"] == "#aprobar anverso=4 reverso=2 selfie=3" and approvals[0]["public"] is False

    internal_note(zendesk, review_request(front, back))  # the selfie is not listed
    assert at_least(2, lambda: notes_by(zendesk, "Supervisor"))[1]["body"] == APPROVE_TAG

    # Sent again, the newest pictures are the ones approved, listed with or without their comment id.
    apply_macro(zendesk, "oferta_confirmada")
    again = at_least(2, lambda: customer_messages(zendesk))[1]
    names = [a["file_name"] for a in again["attachments"]]
    assert names == [a["file_name"] for a in first["attachments"]]
    newer = [f"{again['id']}-{name}" for name in names[:3]]
    internal_note(zendesk, review_request(front, back, selfie, *newer))
    assert at_least(3, lambda: notes_by(zendesk, "Supervisor"))[2]["body"] == "#aprobar anverso=4 reverso=5 selfie=6"
    internal_note(zendesk, review_request(*newer[::-1]))
    assert at_least(4, lambda: notes_by(zendesk, "Supervisor"))[3]["body"] == "#aprobar anverso=3 reverso=2 selfie=1"
    assert [e["action"] for e in log(world_state) if e["action"].startswith("review")] == ["review_approve"] * 4


def test_labelled_approval_knows_named_pictures_and_plain_names():
    world = World(
        Scenario.model_validate(
            {
                "tickets": [
                    {"id": 7, "requester_name": "Ana", "requester_phone": "+59170000000", "customer": {"replies": {}}}
                ]
            }
        )
    )
    ticket = world.state.tickets[7]
    customer_says(world, ticket, "Fotos", documents=True)
    listed = "\n".join(["1. ci_reverso.png", "2. selfie_ci.png", "3. ci_anverso.png"])
    assert labelled_approval(world, ticket, f"{REVIEW_REQUEST}\n{listed}") == "#aprobar anverso=3 reverso=1 selfie=2"
    assert labelled_approval(world, ticket, REVIEW_REQUEST) == APPROVE_TAG


def test_rejection_is_unchanged_by_the_list(mocks, load_scenario, zendesk):
    load_scenario(
        scenario(
            {
                "document_style": "whatsapp",
                "replies": {"oferta": {"documents": True}},
                "reviewer": {"decision": "reject", "reason": "El CI está borroso."},
            }
        )
    )
    apply_macro(zendesk, "oferta_confirmada")
    sent = wait_for(lambda: customer_messages(zendesk))[0]
    internal_note(zendesk, review_request(*(a["file_name"] for a in sent["attachments"])))
    assert wait_for(lambda: notes_by(zendesk, "Supervisor"))[0]["body"] == "#rechazar Motivo: El CI está borroso."


# -- the agent on duty ----------------------------------------------------------------------------
def test_agent_on_duty_fills_the_fields_then_posts_the_command(mocks, load_scenario, zendesk, world_state):
    load_scenario(
        scenario(
            {
                "agent": [
                    {"set_fields": {"line": "76543210", "billing_nit": "1020304"}, "note": "#continuar"},
                    "#terminar despedida",
                ]
            }
        )
    )
    internal_note(zendesk, "Nota: El robot necesita un agente, pero esta nota no empieza así.")
    internal_note(zendesk, f"{HANDOFF_REQUEST}: no encuentro la línea ni el NIT de facturación.")
    note = wait_for(lambda: notes_by(zendesk, "Agente de turno"))[0]
    assert note["body"] == "#continuar" and note["public"] is False
    agent = zendesk.get(f"/api/v2/users/{note['author_id']}").json()["user"]
    assert agent["role"] == "agent"
    values = fields_of(zendesk)
    assert (values[LINE_FIELD_ID], values[BILLING_NIT_FIELD_ID]) == ("76543210", "1020304")
    stored = world_state()["tickets"][str(TICKET)]["fields"]
    assert (stored["line"], stored["billing_nit"]) == ("76543210", "1020304")

    internal_note(zendesk, f"{HANDOFF_REQUEST}: el cliente pide hablar con una persona.")
    internal_note(zendesk, f"  {HANDOFF_REQUEST}: otra vez.")
    bodies = [n["body"] for n in at_least(3, lambda: notes_by(zendesk, "Agente de turno"))]
    assert bodies == ["#continuar", "#terminar despedida", "#terminar despedida"]
    entries = [e for e in log(world_state) if e["action"].startswith("agent")]
    assert [(e["occurrence"], e["action"], e["detail"]) for e in entries] == [
        (1, "agent_fields+note", "line=76543210; billing_nit=1020304; #continuar"),
        (2, "agent_note", "#terminar despedida"),
        (3, "agent_note", "#terminar despedida"),
    ]
    time.sleep(0.2)
    assert len(notes_by(zendesk, "Agente de turno")) == 3 and customer_messages(zendesk) == []


def test_nobody_answers_a_hand_off_unless_scripted(mocks, load_scenario, zendesk, world_state):
    load_scenario(scenario({}))
    internal_note(zendesk, f"{HANDOFF_REQUEST}: falta el plan.")
    assert wait_for(lambda: log(world_state))[0]["action"] == "agent_silent"
    time.sleep(0.2)
    assert len(comments(zendesk)) == 1

    load_scenario(scenario({"agent": [{"silent": True}, {"note": "#valor Mega Plan 69", "delay_seconds": 0}]}))
    internal_note(zendesk, f"{HANDOFF_REQUEST}: falta el plan.")
    internal_note(zendesk, f"{HANDOFF_REQUEST}: sigue faltando el plan.")
    assert [n["body"] for n in wait_for(lambda: notes_by(zendesk, "Agente de turno"))] == ["#valor Mega Plan 69"]
    assert [e["action"] for e in at_least(2, lambda: log(world_state))] == ["agent_silent", "agent_note"]


@pytest.mark.parametrize(
    ("customer", "error"),
    [
        ({"agent": {"set_fields": {"linea": "76543210"}}}, "unknown ticket field"),
        ({"agent": {"silent": True, "note": "#continuar"}}, "silent agent answer"),
        ({"agent": {"note": "  "}}, "blank"),
        ({"replies": {"aclaracion": {"files": ["video"]}}}, "sticker"),
        ({"document_style": "gallery"}, "whatsapp"),
    ],
)
def test_scenario_rejects_bad_hand_off_and_file_entries(mocks, customer: dict, error: str):
    response = httpx.post(mocks.urls["control"] + "/_control/reset", json=scenario(customer))
    assert response.status_code == 422 and error in response.text


def test_control_api_message_carries_whatsapp_files_in_the_tickets_style(mocks, load_scenario, zendesk):
    load_scenario(scenario({"document_style": "whatsapp"}))
    control = mocks.urls["control"] + f"/_control/tickets/{TICKET}/customer_message"
    response = httpx.post(control, json={"body": "Mis fotos", "documents": True, "files": ["voice_note"]})
    assert response.status_code == 200
    names = [a["file_name"] for a in customer_messages(zendesk)[-1]["attachments"]]
    assert [re.sub(DAY, "D", n) for n in names] == [
        "IMG-D-WA0001.jpg",
        "IMG-D-WA0002.jpg",
        "IMG-D-WA0003.jpg",
        "PTT-D-WA0001.opus",
    ]
