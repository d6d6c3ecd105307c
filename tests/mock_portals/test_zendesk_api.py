"""The Zendesk mock speaks Zendesk's API: shapes, auth, paginations, errors, uploads, macros, views, agent page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_portals.world import AGENT_USER_ID, tag_of
from mock_portals.zendesk import (
    MACRO_ID_BASE,
    ORDER_STATE_FIELD_ID,
    STEP_MACROS,
    TEXT_FIELDS,
)

EMAIL, TOKEN = "rpa@contactcentre.example", "test-token-123"

#: PROCESS.md's "Macros" table: title path, status as the API names it, Estado de Pedido (None for —).
PROCESS_MACROS: list[tuple[str, str, str | None]] = [
    ("Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Primer contacto", "hold",
     "En progreso::Datos Insuficientes"),
    ("Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Segundo contacto", "pending",
     "En progreso::Datos Insuficientes"),
    ("Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Cliente No Contesta::Mega Plan X", "pending",
     "No Aplica::Incontactable"),
    ("Respuesta rápida::Opción 4", "open", None),
    ("Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea en FR/RO", "solved", "No clasifica::OTRO"),
    ("Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea de otra compañía", "pending",
     "No aplica::Contrato en otra Telefonía"),
    ("Móvil::WhatsApp::Migración de Pre a Post::No califica::Derivación Autogenda Cita Web", "solved", None),
    ("Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea 3G", "hold", None),
    ("Móvil::WhatsApp::Migración de Pre a Post::No califica::Deuda en Otra Operadora MP", "pending",
     "No califica::Mora"),
    ("Móvil::WhatsApp::Migración de Pre a Post::Oferta::Línea Confirmada + Plan", "hold",
     "En progreso::Datos insuficientes"),
    ("Móvil::WhatsApp::Migración de Pre a Post::Oferta::Línea sin confirmación + Plan", "hold",
     "En progreso::Datos insuficientes"),
    ("Móvil::WhatsApp::Migración Pre a Post::Recontacto Sin Respuesta", "pending",
     "En progreso::Datos Insuficientes"),
    ("Transacción no exitosa::Cliente no es titular", "solved", None),
    ("Móvil::WhatsApp::Confirmación::Plan + T&C sin Teléfono", "hold", "En progreso::En Gestión"),
    ("Móvil::WhatsApp::Migración de Pre a Post::Tocken::Envío SMS por AR", "hold", "En progreso::En Gestión"),
    ("Móvil::WhatsApp::Migración de Pre a Post::Tocken::Envío SMS 2do Tocken por Vencimiento", "hold",
     "En progreso::En Gestión"),
    ("Móvil::WhatsApp::Migración de Pre a Post::Tocken::Cliente no contesta", "pending",
     "En progreso::En Gestión"),
    ("Móvil::WhatsApp::Migración Pre a Post::No Califica::Deuda Histórica Móvil", "solved", "No califica::Mora"),
    ("Móvil::WhatsApp::Migración de Pre a Post::Rechaza::En Revisión de Activaciones", "hold", None),
    ("Móvil::WhatsApp::Migración de Pre a Post::Rechaza::Corregir observación", "hold", "En progreso"),
    ("Móvil::WhatsApp::Migración de Pre a Post::Rechaza::Solicitud Infactible", "solved", None),
    ("Móvil::WhatsApp::Migración Pre a Post::Activación Exitosa::Línea Sin Equipo", "solved",
     "Acepta::Plan Recomendado"),
    ("BO::Despedida al resolver", "solved", None),
]

SCENARIO: dict[str, Any] = {
    "name": "zendesk-api",
    "zendesk": {"agent_email": EMAIL, "api_token": TOKEN},
    "tickets": [
        {"id": 1001, "subject": "Quiero un plan pospago", "requester_name": "Ana Pérez",
         "requester_phone": "+59171111111", "status": "open",
         "fields": {"holder_name": "Ana Pérez Vargas", "holder_ci": "1234567", "line": "71111111",
                    "city": "Cochabamba", "billing_name": "Ana Pérez Vargas"},
         "conversation": [
             {"author": "bot", "body": "¡Hola! Soy Liza."},
             {"author": "customer", "body": "Quiero pasar mi línea a pospago."},
             {"author": "bot", "body": "Te comunico con un asesor."},
             {"author": "customer", "body": "Gracias."},
             {"author": "agent", "body": "Preanálisis pendiente.", "public": False},
         ]},
        {"id": 1002, "requester_name": "Luis Mamani", "requester_phone": "+59172222222", "status": "hold"},
        {"id": 1003, "requester_name": "Rosa Quispe", "requester_phone": "+59173333333", "status": "pending"},
        {"id": 1004, "requester_name": "Juan Flores", "requester_phone": "+59174444444", "status": "new"},
    ],
}


@pytest.fixture(autouse=True)
def _world(load_scenario) -> None:
    load_scenario(SCENARIO)


@pytest.fixture
def base(mocks) -> str:
    return mocks.urls["zendesk"]


@pytest.fixture
def api(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, auth=(f"{EMAIL}/token", TOKEN), timeout=5) as client:
        yield client


def ticket_of(world_state, ticket_id: int) -> dict[str, Any]:
    return world_state()["tickets"][str(ticket_id)]


# -- auth and errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("auth", [None, (f"{EMAIL}/token", "wrong"), (EMAIL, TOKEN), ("other@x.com/token", TOKEN)])
def test_api_refuses_requests_without_the_agents_token(base: str, auth) -> None:
    response = httpx.get(f"{base}/api/v2/tickets/1001.json", auth=auth)
    assert response.status_code == 401
    assert response.json() == {"error": "Couldn't authenticate you"}


def test_unknown_ticket_is_record_not_found(api: httpx.Client) -> None:
    response = api.get("/api/v2/tickets/999999.json")
    assert response.status_code == 404
    assert response.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_rate_limit_answers_429_with_retry_after_then_recovers(api: httpx.Client, faults) -> None:
    faults("zendesk", rate_limit_next=1)
    limited = api.get("/api/v2/tickets/1001.json")
    assert limited.status_code == 429
    assert float(limited.headers["Retry-After"]) > 0
    assert limited.json()["error"] == "TooManyRequests"
    assert api.get("/api/v2/tickets/1001.json").status_code == 200


def test_server_errors_are_zendesk_json(api: httpx.Client, faults) -> None:
    faults("zendesk", fail_next=1)
    failed = api.get("/api/v2/tickets/1001.json")
    assert failed.status_code == 500
    assert failed.json()["error"] == "InternalServerError"


# -- tickets --------------------------------------------------------------------------------------
def test_ticket_has_zendesks_shape_with_and_without_json_suffix(api: httpx.Client, base: str) -> None:
    with_suffix = api.get("/api/v2/tickets/1001.json").json()
    without = api.get("/api/v2/tickets/1001").json()
    assert with_suffix == without
    ticket = with_suffix["ticket"]
    assert {"id", "url", "subject", "status", "requester_id", "custom_fields", "tags", "created_at",
            "updated_at", "description", "via"} <= set(ticket)
    assert ticket["url"] == f"{base}/api/v2/tickets/1001.json"
    assert ticket["status"] == "open"
    assert ticket["created_at"].endswith("Z")
    values = {f["id"]: f["value"] for f in ticket["custom_fields"]}
    assert values[ORDER_STATE_FIELD_ID] is None
    by_title = {TEXT_FIELDS[fid][0]: value for fid, value in values.items() if fid in TEXT_FIELDS}
    assert by_title == {"Nombre del titular": "Ana Pérez Vargas", "CI del titular": "1234567",
                        "Línea a migrar": "71111111", "Ciudad": "Cochabamba",
                        "Facturación a nombre de": "Ana Pérez Vargas", "NIT de facturación": None}


def test_ticket_fields_offer_every_estado_de_pedido_once(api: httpx.Client) -> None:
    fields = api.get("/api/v2/ticket_fields.json").json()["ticket_fields"]
    estado = next(f for f in fields if f["title"] == "Estado de Pedido")
    assert estado["id"] == ORDER_STATE_FIELD_ID and estado["type"] == "tagger"
    options = estado["custom_field_options"]
    expected = {state for _, _, state in PROCESS_MACROS if state} - {"En progreso::Datos insuficientes"}
    assert {o["name"] for o in options} == expected
    assert all(o["value"] == tag_of(o["name"]) for o in options)
    assert len({o["value"] for o in options}) == len(options)
    # Every macro's order state, whichever spelling of the table, is an option's tag.
    assert {tag_of(state) for _, _, state in PROCESS_MACROS if state} <= {o["value"] for o in options}
    text = {f["title"]: f["type"] for f in fields if f["id"] != ORDER_STATE_FIELD_ID}
    assert text == {title: "text" for title, _ in TEXT_FIELDS.values()}


def test_requester_is_a_user(api: httpx.Client) -> None:
    ticket = api.get("/api/v2/tickets/1001.json").json()["ticket"]
    user = api.get(f"/api/v2/users/{ticket['requester_id']}.json").json()["user"]
    assert user["name"] == "Ana Pérez" and user["phone"] == "+59171111111" and user["role"] == "end-user"
    assert api.get("/api/v2/users/me.json").json()["user"]["id"] == AGENT_USER_ID


# -- comments -------------------------------------------------------------------------------------
def test_comments_cursor_pagination_follows_links_next(api: httpx.Client, base: str) -> None:
    url: str | None = "/api/v2/tickets/1001/comments.json?page[size]=2"
    bodies, pages = [], 0
    while url:
        answer = api.get(url).json()
        pages += 1
        assert set(answer) == {"comments", "meta", "links"}
        assert len(answer["comments"]) <= 2
        bodies += [c["body"] for c in answer["comments"]]
        assert answer["links"]["next"].startswith(f"{base}/api/v2/tickets/1001/comments.json?")
        url = answer["links"]["next"] if answer["meta"]["has_more"] else None
    assert pages == 3
    assert bodies == ["¡Hola! Soy Liza.", "Quiero pasar mi línea a pospago.", "Te comunico con un asesor.",
                      "Gracias.", "Preanálisis pendiente."]


def test_comments_cursor_pagination_goes_back_with_links_prev(api: httpx.Client) -> None:
    first = api.get("/api/v2/tickets/1001/comments", params={"page[size]": 2}).json()
    second = api.get(first["links"]["next"]).json()
    back = api.get(second["links"]["prev"]).json()
    assert [c["id"] for c in back["comments"]] == [c["id"] for c in first["comments"]]
    assert back["meta"]["has_more"] is False


def test_bad_cursor_is_a_pagination_error(api: httpx.Client) -> None:
    response = api.get("/api/v2/tickets/1001/comments.json", params={"page[size]": 2, "page[after]": "zzz"})
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidPaginationParameter"


def test_comments_offset_pagination(api: httpx.Client, base: str) -> None:
    first = api.get("/api/v2/tickets/1001/comments.json", params={"per_page": 3}).json()
    assert set(first) == {"comments", "next_page", "previous_page", "count"}
    assert first["count"] == 5 and len(first["comments"]) == 3 and first["previous_page"] is None
    assert first["next_page"].startswith(f"{base}/api/v2/tickets/1001/comments.json?")
    second = api.get(first["next_page"]).json()
    assert [c["body"] for c in second["comments"]] == ["Gracias.", "Preanálisis pendiente."]
    assert second["next_page"] is None and second["previous_page"] is not None


def test_comment_shape(api: httpx.Client) -> None:
    comments = api.get("/api/v2/tickets/1001/comments.json").json()["comments"]
    note = comments[-1]
    assert {"id", "type", "author_id", "body", "html_body", "plain_body", "public", "attachments",
            "created_at", "via"} <= set(note)
    assert note["type"] == "Comment" and note["public"] is False and note["author_id"] == AGENT_USER_ID
    assert note["via"]["channel"] == "whatsapp"
    assert "Preanálisis pendiente." in note["html_body"]


# -- uploads and updates --------------------------------------------------------------------------
def upload(api: httpx.Client, name: str, content: bytes, content_type: str, token: str | None = None) -> dict:
    params = {"filename": name} | ({"token": token} if token else {})
    response = api.post("/api/v2/uploads.json", params=params, content=content,
                        headers={"Content-Type": content_type})
    assert response.status_code == 201, response.text
    return response.json()["upload"]


def test_upload_gives_a_token_and_an_absolute_content_url(api: httpx.Client, base: str) -> None:
    first = upload(api, "planificate.png", b"\x89PNG fake", "image/png")
    attachment = first["attachment"]
    assert first["token"] and first["expires_at"].endswith("Z")
    assert {"id", "url", "file_name", "content_url", "mapped_content_url", "content_type", "size",
            "inline", "deleted"} <= set(attachment)
    assert attachment["file_name"] == "planificate.png" and attachment["size"] == len(b"\x89PNG fake")
    assert attachment["content_url"].startswith(base + "/") and not attachment["inline"]
    download = httpx.get(attachment["content_url"], follow_redirects=True)
    assert download.content == b"\x89PNG fake"
    assert download.headers["content-type"] == "image/png"
    second = upload(api, "contrato.pdf", b"%PDF-1.4", "application/pdf", token=first["token"])
    assert second["token"] == first["token"]
    assert [a["file_name"] for a in second["attachments"]] == ["planificate.png", "contrato.pdf"]


def test_update_adds_a_private_note_with_files_and_changes_fields(api: httpx.Client, world_state) -> None:
    token = upload(api, "qvantel.png", b"\x89PNG qvantel", "image/png")["token"]
    response = api.put("/api/v2/tickets/1001.json", json={"ticket": {
        "comment": {"body": "Estado de la línea en Qvantel", "public": False, "uploads": [token]},
        "status": "hold",
        "custom_fields": [{"id": ORDER_STATE_FIELD_ID, "value": "en_progreso__en_gestion"}],
    }})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["ticket"]["status"] == "hold"
    assert {"id": ORDER_STATE_FIELD_ID, "value": "en_progreso__en_gestion"} in answer["ticket"]["custom_fields"]
    assert "en_progreso__en_gestion" in answer["ticket"]["tags"]
    comment_event = next(e for e in answer["audit"]["events"] if e["type"] == "Comment")
    last = api.get("/api/v2/tickets/1001/comments.json").json()["comments"][-1]
    assert last["id"] == comment_event["id"]
    assert last["public"] is False and last["author_id"] == AGENT_USER_ID
    assert [a["file_name"] for a in last["attachments"]] == ["qvantel.png"]
    stored = ticket_of(world_state, 1001)
    assert stored["status"] == "hold"
    assert stored["custom_fields"][str(ORDER_STATE_FIELD_ID)] == "en_progreso__en_gestion"


def test_update_of_a_text_field_changes_what_liza_filled(api: httpx.Client, world_state) -> None:
    nit_field = next(fid for fid, (title, _) in TEXT_FIELDS.items() if title == "NIT de facturación")
    api.put("/api/v2/tickets/1001", json={"ticket": {"custom_fields": [{"id": nit_field, "value": "1020304"}]}})
    assert ticket_of(world_state, 1001)["fields"]["billing_nit"] == "1020304"
    values = {f["id"]: f["value"] for f in api.get("/api/v2/tickets/1001").json()["ticket"]["custom_fields"]}
    assert values[nit_field] == "1020304"


@pytest.mark.parametrize(("change", "detail"), [
    ({"status": "waiting"}, "status"),
    ({"status": "new"}, "status"),
    ({"comment": {"body": "x", "uploads": ["no-such-token"]}}, "uploads"),
    ({"comment": {"body": "   "}}, "comment"),
    ({"custom_fields": [{"id": 123, "value": "x"}]}, "base"),
    ({"custom_fields": [{"id": ORDER_STATE_FIELD_ID, "value": "en_progreso__datos_completos"}]}, "base"),
    ({"macro_ids": [42]}, "macro_ids"),
])
def test_invalid_update_is_record_invalid_and_changes_nothing(api: httpx.Client, world_state,
                                                              change: dict, detail: str) -> None:
    before = ticket_of(world_state, 1001)
    # The valid half of the update must not be applied either.
    response = api.put("/api/v2/tickets/1001.json",
                       json={"ticket": {"comment": {"body": "válido", "public": False}, **change}})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "RecordInvalid" and body["description"] == "Record validation errors"
    assert detail in body["details"]
    assert ticket_of(world_state, 1001) == before


# -- macros ---------------------------------------------------------------------------------------
def test_every_macro_of_the_process_is_seeded_with_its_status_and_order_state(api: httpx.Client) -> None:
    answer = api.get("/api/v2/macros.json").json()
    assert answer["count"] == len(PROCESS_MACROS) + len(STEP_MACROS) and answer["next_page"] is None
    answer["macros"] = answer["macros"][: len(PROCESS_MACROS)]  # the robot's step macros come after
    seen = []
    for macro in answer["macros"]:
        actions = {a["field"]: a["value"] for a in macro["actions"]}
        seen.append((macro["title"], actions["status"], actions.get(f"custom_fields_{ORDER_STATE_FIELD_ID}")))
        assert actions["comment_mode_is_public"] == "true"
        assert len(actions["comment_value"]) > 40
    assert seen == [(title, status, tag_of(state) if state else None) for title, status, state in PROCESS_MACROS]
    assert [m["id"] for m in answer["macros"]] == [MACRO_ID_BASE + n for n in range(1, len(PROCESS_MACROS) + 1)]


def test_the_robot_step_macros_only_add_their_tag(api: httpx.Client) -> None:
    listed = api.get("/api/v2/macros.json").json()["macros"][len(PROCESS_MACROS) :]
    assert [(m["title"], m["actions"]) for m in listed] == [
        (spec.title, [{"field": "current_tags", "value": spec.tag}]) for spec in STEP_MACROS
    ]
    assert listed[0]["title"] == "RPA: Preanálisis (robot)"
    before = api.get("/api/v2/tickets/1001.json").json()["ticket"]
    preview = api.get(f"/api/v2/tickets/1001/macros/{listed[0]['id']}/apply.json").json()["result"]["ticket"]
    assert preview["tags"] == [*before["tags"], "rpa_paso_preanalisis"] and preview["status"] == before["status"]
    assert "comment" not in preview


def test_macro_by_id_and_search(api: httpx.Client) -> None:
    macro = api.get(f"/api/v2/macros/{MACRO_ID_BASE + 4}.json").json()["macro"]
    assert macro["title"] == "Respuesta rápida::Opción 4"
    found = api.get("/api/v2/macros/search.json", params={"query": "tocken"}).json()
    assert found["count"] == 3
    assert all("Tocken" in m["title"] for m in found["macros"])
    assert api.get(f"/api/v2/macros/{MACRO_ID_BASE + 99}.json").status_code == 404


def test_macro_apply_previews_without_saving(api: httpx.Client, world_state) -> None:
    before = ticket_of(world_state, 1001)
    answer = api.get(f"/api/v2/tickets/1001/macros/{MACRO_ID_BASE + 1}/apply.json").json()
    ticket = answer["result"]["ticket"]
    assert ticket["id"] == 1001 and ticket["status"] == "hold"
    assert {"id": ORDER_STATE_FIELD_ID, "value": "en_progreso__datos_insuficientes"} in ticket["custom_fields"]
    assert ticket["comment"]["public"] is True and ticket["comment"]["body"].startswith("¡Hola!")
    assert ticket_of(world_state, 1001) == before


def test_macro_without_order_state_leaves_the_field_as_it_is(api: httpx.Client) -> None:
    api.put("/api/v2/tickets/1001.json", json={"ticket": {
        "custom_fields": [{"id": ORDER_STATE_FIELD_ID, "value": "en_progreso__en_gestion"}]}})
    ticket = api.get(f"/api/v2/tickets/1001/macros/{MACRO_ID_BASE + 4}/apply").json()["result"]["ticket"]
    assert ticket["status"] == "open"
    assert {"id": ORDER_STATE_FIELD_ID, "value": "en_progreso__en_gestion"} in ticket["custom_fields"]


@pytest.mark.parametrize("field", ["macro_id", "macro_ids"])
def test_update_naming_a_macro_records_it_as_applied(api: httpx.Client, world_state, field: str) -> None:
    value = MACRO_ID_BASE + 23 if field == "macro_id" else [MACRO_ID_BASE + 23]
    response = api.put("/api/v2/tickets/1001.json", json={"ticket": {
        "status": "solved", field: value, "comment": {"body": "Gracias por comunicarte.", "public": True}}})
    assert response.status_code == 200
    assert ticket_of(world_state, 1001)["macros_applied"] == ["BO::Despedida al resolver"]
    assert any(e["type"] == "AgentMacroReference" for e in response.json()["audit"]["events"])


# -- views ----------------------------------------------------------------------------------------
def test_views_list_tickets_by_status(api: httpx.Client) -> None:
    views = {v["title"]: v for v in api.get("/api/v2/views.json").json()["views"]}
    assert {"En Espera", "Pendientes", "Abiertos"} <= set(views)
    assert all(v["active"] and "conditions" in v for v in views.values())

    def ids(title: str) -> list[int]:
        answer = api.get(f"/api/v2/views/{views[title]['id']}/tickets.json").json()
        assert answer["count"] == len(answer["tickets"]) and answer["next_page"] is None
        return sorted(t["id"] for t in answer["tickets"])

    assert ids("En Espera") == [1002]
    assert ids("Pendientes") == [1003]
    assert ids("Abiertos") == [1001, 1004]


# -- agent page -----------------------------------------------------------------------------------
def test_agent_page_shows_the_conversation_with_notes_apart_and_images_inline(api: httpx.Client,
                                                                               base: str) -> None:
    token = upload(api, "preanalisis.png", b"\x89PNG page", "image/png")["token"]
    api.put("/api/v2/tickets/1001.json", json={"ticket": {
        "comment": {"body": "Preanálisis Planifícate", "public": False, "uploads": [token]}}})
    page = httpx.get(f"{base}/agent/tickets/1001")
    assert page.status_code == 200
    html = page.text
    assert "Quiero un plan pospago" in html and "Cochabamba" in html and "Abierto" in html
    order = [html.index(text) for text in ("¡Hola! Soy Liza.", "Quiero pasar mi línea", "Preanálisis Planifícate")]
    assert order == sorted(order)
    assert html.count("Nota interna") == 2
    assert 'class="msg agent internal"' in html
    assert '<img src="' in html and "preanalisis.png" in html
    listing = httpx.get(f"{base}/agent/tickets")
    assert 'href="/agent/tickets/1002"' in listing.text


def test_customer_reply_form_posts_as_the_requester_and_reopens(api: httpx.Client, base: str,
                                                                 world_state) -> None:
    response = httpx.post(f"{base}/agent/tickets/1002/responder", data={"mensaje": "ACEPTO"},
                          files={"adjunto": ("ci.jpg", b"\xff\xd8 jpeg", "image/jpeg")})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/agent/tickets/1002#c")
    ticket = ticket_of(world_state, 1002)
    last = ticket["comments"][-1]
    assert last["body"] == "ACEPTO" and last["public"] is True
    assert last["author_id"] == ticket["requester_id"]
    assert ticket["status"] == "open"
    shown = api.get("/api/v2/tickets/1002/comments.json").json()["comments"][-1]
    assert httpx.get(shown["attachments"][0]["content_url"], follow_redirects=True).content == b"\xff\xd8 jpeg"
