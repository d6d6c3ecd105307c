"""The Zendesk mock's tags as Zendesk's API has them: ``tags``, ``additional_tags`` and ``remove_tags`` on a
ticket update, the Estado de Pedido drop-down following its option tags, and the view of tickets the robot
handed over to a person."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_portals.zendesk import HANDOFF_TAG, HANDOFF_VIEW_ID, HANDOFF_VIEW_TITLE, ORDER_STATE_FIELD_ID

EMAIL, TOKEN = "rpa@contactcentre.example", "tags-test-token"

SCENARIO: dict[str, Any] = {
    "name": "zendesk-tags",
    "zendesk": {"agent_email": EMAIL, "api_token": TOKEN},
    "tickets": [
        {"id": 1001, "requester_name": "Ana Pérez", "requester_phone": "+59171111111", "status": "open"},
        {"id": 1002, "requester_name": "Luis Mamani", "requester_phone": "+59172222222", "status": "hold"},
        {"id": 1003, "requester_name": "Rosa Quispe", "requester_phone": "+59173333333", "status": "pending"},
        {"id": 1004, "requester_name": "Juan Flores", "requester_phone": "+59174444444", "status": "new"},
    ],
}


@pytest.fixture(autouse=True)
def _world(load_scenario) -> None:
    load_scenario(SCENARIO)


@pytest.fixture
def api(mocks) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mocks.urls["zendesk"], auth=(f"{EMAIL}/token", TOKEN), timeout=5) as client:
        yield client


def update(api: httpx.Client, ticket_id: int, **changes: Any) -> dict[str, Any]:
    response = api.put(f"/api/v2/tickets/{ticket_id}.json", json={"ticket": changes})
    assert response.status_code == 200, response.text
    return response.json()


def order_state(ticket: dict[str, Any]) -> str | None:
    return next(f["value"] for f in ticket["custom_fields"] if f["id"] == ORDER_STATE_FIELD_ID)


# -- tags on a ticket update ----------------------------------------------------------------------
def test_tags_replace_the_list_lower_cased_and_unique(api: httpx.Client, world_state) -> None:
    answer = update(api, 1001, tags=["VIP", "vip", "Cliente Nuevo", "whatsapp"])
    assert answer["ticket"]["tags"] == ["vip", "cliente", "nuevo", "whatsapp"]
    assert world_state()["tickets"]["1001"]["tags"] == ["vip", "cliente", "nuevo", "whatsapp"]
    event = next(e for e in answer["audit"]["events"] if e.get("field_name") == "tags")
    assert event["type"] == "Change" and event["previous_value"] == []
    assert update(api, 1001, tags=["whatsapp"])["ticket"]["tags"] == ["whatsapp"]


def test_additional_and_remove_tags_keep_the_others(api: httpx.Client) -> None:
    update(api, 1001, tags=["whatsapp", "disparador"])
    answer = update(api, 1001, status="open", additional_tags=["RPA_Necesita_Agente", "whatsapp"])
    assert answer["ticket"]["tags"] == ["whatsapp", "disparador", HANDOFF_TAG]
    answer = update(api, 1001, status="hold", remove_tags=[HANDOFF_TAG, "no_estaba"])
    assert answer["ticket"]["tags"] == ["whatsapp", "disparador"] and answer["ticket"]["status"] == "hold"
    # Replace, then add, then remove, all in one update.
    answer = update(api, 1001, tags=["a", "b"], additional_tags=["c"], remove_tags=["a"])
    assert answer["ticket"]["tags"] == ["b", "c"]


def test_an_update_changing_no_tag_writes_no_tags_event(api: httpx.Client) -> None:
    update(api, 1001, additional_tags=["whatsapp"])
    answer = update(api, 1001, additional_tags=["whatsapp"], remove_tags=["ausente"])
    assert not [e for e in answer["audit"]["events"] if e.get("field_name") == "tags"]


def test_the_estado_de_pedido_dropdown_follows_its_option_tags(api: httpx.Client) -> None:
    field = {"id": ORDER_STATE_FIELD_ID, "value": "en_progreso__en_gestion"}
    ticket = update(api, 1001, custom_fields=[field], additional_tags=["whatsapp"])["ticket"]
    assert order_state(ticket) == "en_progreso__en_gestion"
    assert sorted(ticket["tags"]) == ["en_progreso__en_gestion", "whatsapp"]

    # Adding another option's tag moves the drop-down to it; the old option's tag goes.
    answer = update(api, 1001, additional_tags=["no_califica__mora"])
    assert order_state(answer["ticket"]) == "no_califica__mora"
    assert sorted(answer["ticket"]["tags"]) == ["no_califica__mora", "whatsapp"]
    change = next(e for e in answer["audit"]["events"] if e.get("field_name") == str(ORDER_STATE_FIELD_ID))
    assert (change["previous_value"], change["value"]) == ("en_progreso__en_gestion", "no_califica__mora")

    # Removing the option's tag clears the drop-down; so does a list without it.
    ticket = update(api, 1001, remove_tags=["no_califica__mora"])["ticket"]
    assert order_state(ticket) is None and ticket["tags"] == ["whatsapp"]
    update(api, 1001, custom_fields=[field])
    ticket = update(api, 1001, tags=["whatsapp", HANDOFF_TAG])["ticket"]
    assert order_state(ticket) is None and ticket["tags"] == ["whatsapp", HANDOFF_TAG]

    # A field named in the same update has the last word.
    ticket = update(api, 1001, additional_tags=["no_califica__mora"], custom_fields=[field])["ticket"]
    assert order_state(ticket) == "en_progreso__en_gestion"
    assert "no_califica__mora" not in ticket["tags"] and "en_progreso__en_gestion" in ticket["tags"]


def test_a_macro_and_tags_in_one_update_keep_the_macros_order_state(api: httpx.Client) -> None:
    macro = api.get("/api/v2/macros/search.json", params={"query": "Primer contacto"}).json()["macros"][0]
    tag = next(a["value"] for a in macro["actions"] if a["field"] == f"custom_fields_{ORDER_STATE_FIELD_ID}")
    ticket = update(
        api,
        1001,
        macro_id=macro["id"],
        status="hold",
        custom_fields=[{"id": ORDER_STATE_FIELD_ID, "value": tag}],
        remove_tags=[HANDOFF_TAG],
        comment={"body": "Hola", "public": True},
    )["ticket"]
    assert order_state(ticket) == tag and ticket["tags"] == [tag]


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"tags": "vip"}, "tags"),
        ({"additional_tags": [HANDOFF_TAG, 7]}, "additional_tags"),
        ({"remove_tags": {"tag": HANDOFF_TAG}}, "remove_tags"),
    ],
)
def test_tags_that_are_not_a_list_of_text_are_record_invalid(
    api: httpx.Client, world_state, change: dict, detail: str
) -> None:
    before = world_state()["tickets"]["1001"]
    response = api.put("/api/v2/tickets/1001.json", json={"ticket": {"status": "hold", **change}})
    assert response.status_code == 422
    assert response.json()["error"] == "RecordInvalid" and detail in response.json()["details"]
    assert world_state()["tickets"]["1001"] == before


# -- the hand-off view ----------------------------------------------------------------------------
def test_handoff_view_has_zendesks_conditions(api: httpx.Client) -> None:
    views = {v["title"]: v for v in api.get("/api/v2/views.json").json()["views"]}
    view = views[HANDOFF_VIEW_TITLE]
    assert HANDOFF_VIEW_TITLE == "Robot: necesita agente" and HANDOFF_TAG == "rpa_necesita_agente"
    assert view["id"] == HANDOFF_VIEW_ID and view["active"] is True
    assert view["conditions"] == {
        "all": [
            {"field": "status", "operator": "less_than", "value": "solved"},
            {"field": "current_tags", "operator": "includes", "value": "rpa_necesita_agente"},
        ],
        "any": [],
    }
    assert api.get(f"/api/v2/views/{HANDOFF_VIEW_ID}.json").json()["view"]["title"] == HANDOFF_VIEW_TITLE


def test_handoff_view_lists_unsolved_tickets_with_the_tag(api: httpx.Client) -> None:
    def listed() -> list[int]:
        answer = api.get(f"/api/v2/views/{HANDOFF_VIEW_ID}/tickets.json").json()
        assert answer["count"] == len(answer["tickets"])
        return sorted(t["id"] for t in answer["tickets"])

    assert listed() == []
    for ticket_id in (1001, 1002, 1003, 1004):
        update(api, ticket_id, additional_tags=[HANDOFF_TAG])
    update(api, 1002, tags=["otra_cosa"])
    assert listed() == [1001, 1003, 1004]  # open, pending and new alike
    update(api, 1003, status="solved")
    update(api, 1004, status="hold")
    assert listed() == [1001, 1004]
    update(api, 1001, remove_tags=[HANDOFF_TAG])
    assert listed() == [1004]
    # The status views still list by status only.
    waiting = next(v for v in api.get("/api/v2/views.json").json()["views"] if v["title"] == "En Espera")
    tickets = api.get(f"/api/v2/views/{waiting['id']}/tickets.json").json()["tickets"]
    assert sorted(t["id"] for t in tickets) == [1002, 1004]
