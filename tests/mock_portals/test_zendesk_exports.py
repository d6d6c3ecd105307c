"""The Zendesk mock's incremental exports: tickets by cursor, ticket events by time, the last minute left out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

EMAIL, TOKEN = "rpa@contactcentre.example", "exports-token"
TICKETS = (4001, 4002, 4003)


def scenario(**zendesk: Any) -> dict[str, Any]:
    return {
        "name": "zendesk-exports",
        "zendesk": {
            "agent_email": EMAIL,
            "api_token": TOKEN,
            "incremental_export_lag_seconds": 0,
            "incremental_export_limit_per_minute": 100,
            **zendesk,
        },
        "tickets": [
            {
                "id": ticket_id,
                "requester_name": f"Cliente {n}",
                "requester_phone": f"+5917000000{n}",
                "conversation": [{"author": "customer", "body": f"Hola, soy el cliente {n}"}],
            }
            for n, ticket_id in enumerate(TICKETS, start=1)
        ],
    }


@pytest.fixture
def api(mocks) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mocks.urls["zendesk"], auth=(f"{EMAIL}/token", TOKEN), timeout=5) as client:
        yield client


def test_tickets_export_pages_by_cursor_and_goes_on_from_the_last_cursor(api: httpx.Client, load_scenario) -> None:
    load_scenario(scenario())
    first = api.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0, "per_page": 2}).json()
    assert [t["id"] for t in first["tickets"]] == list(TICKETS[:2])
    assert first["end_of_stream"] is False
    assert first["before_cursor"] is None and first["before_url"] is None
    assert first["after_url"].endswith(f"cursor={first['after_cursor']}&per_page=2")

    second = httpx.get(first["after_url"], auth=(f"{EMAIL}/token", TOKEN)).json()
    assert [t["id"] for t in second["tickets"]] == [TICKETS[2]]
    assert second["end_of_stream"] is True

    caught_up = api.get("/api/v2/incremental/tickets/cursor", params={"cursor": second["after_cursor"]}).json()
    assert caught_up["tickets"] == [] and caught_up["end_of_stream"] is True
    assert caught_up["after_cursor"] == second["after_cursor"]

    api.put(f"/api/v2/tickets/{TICKETS[0]}", json={"ticket": {"status": "pending"}})
    later = api.get("/api/v2/incremental/tickets/cursor", params={"cursor": caught_up["after_cursor"]}).json()
    assert [(t["id"], t["status"]) for t in later["tickets"]] == [(TICKETS[0], "pending")]


def test_exports_leave_out_what_changed_in_the_last_minute(api: httpx.Client, load_scenario, mocks) -> None:
    load_scenario(scenario(incremental_export_lag_seconds=60))
    fresh = api.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}).json()
    assert fresh["tickets"] == [] and fresh["end_of_stream"] is True
    events = api.get("/api/v2/incremental/ticket_events.json", params={"start_time": 0}).json()
    assert events["ticket_events"] == [] and events["end_of_stream"] is True

    settings = mocks.urls["control"] + "/_control/zendesk/settings"
    assert httpx.patch(settings, json={"incremental_export_lag_seconds": 0}).status_code == 200
    later = api.get("/api/v2/incremental/tickets/cursor.json", params={"cursor": fresh["after_cursor"]}).json()
    assert [t["id"] for t in later["tickets"]] == list(TICKETS)


def test_ticket_events_tell_creations_status_changes_and_comments(
    api: httpx.Client, load_scenario, mocks, world_state
) -> None:
    load_scenario(scenario())
    said = httpx.post(
        f"{mocks.urls['control']}/_control/tickets/{TICKETS[1]}/customer_message",
        json={"body": "Ya les mandé mis datos"},
    ).json()
    api.put(
        f"/api/v2/tickets/{TICKETS[1]}",
        json={
            "ticket": {
                "status": "pending",
                "comment": {"body": "Nota del robot", "public": False},
                "additional_tags": ["rpa"],
            }
        },
    )

    page = api.get(
        "/api/v2/incremental/ticket_events.json", params={"start_time": 0, "include": "comment_events"}
    ).json()
    assert page["end_of_stream"] is True and page["count"] == 5
    assert page["next_page"].endswith(f"start_time={page['end_time']}")
    created = [e for e in page["ticket_events"] if e["child_events"][0]["event_type"] == "Create"]
    assert [e["ticket_id"] for e in created] == list(TICKETS)
    assert all(e["event_type"] == "Audit" for e in page["ticket_events"])

    message, note = [e for e in page["ticket_events"] if e["ticket_id"] == TICKETS[1]][1:]
    requester = world_state()["tickets"][str(TICKETS[1])]["requester_id"]
    [comment] = [c for c in message["child_events"] if c["event_type"] == "Comment"]
    assert (comment["id"], comment["author_id"], comment["public"]) == (said["comment_id"], requester, True)
    assert comment["body"] == "Ya les mandé mis datos" and message["updater_id"] == requester
    kinds = {c["event_type"] for c in note["child_events"]}
    assert kinds == {"Change", "Comment"}
    status = next(c for c in note["child_events"] if "status" in c)
    assert (status["status"], status["previous_value"]) == ("pending", "open")
    tags = next(c for c in note["child_events"] if "tags" in c)
    assert tags["added_tags"] == ["rpa"]
    assert next(c for c in note["child_events"] if c["event_type"] == "Comment")["public"] is False

    plain = api.get("/api/v2/incremental/ticket_events.json", params={"start_time": 0}).json()
    last = plain["ticket_events"][-1]
    assert {"comment_present": True, "comment_public": False}.items() <= next(
        c for c in last["child_events"] if c["event_type"] == "Comment"
    ).items()
    assert "body" not in str(last["child_events"])


def test_ticket_events_page_without_losing_any(api: httpx.Client, load_scenario) -> None:
    load_scenario(scenario())
    for _ in range(3):
        api.put(f"/api/v2/tickets/{TICKETS[2]}", json={"ticket": {"comment": {"body": "Nota", "public": False}}})
    seen: set[int] = set()
    params: dict[str, Any] = {"start_time": 0, "per_page": 2}
    for _ in range(10):
        page = api.get("/api/v2/incremental/ticket_events.json", params=params).json()
        seen |= {e["id"] for e in page["ticket_events"]}
        if page["end_of_stream"]:
            break
        params = {"start_time": page["end_time"], "per_page": 2}
    assert page["end_of_stream"] is True
    assert len(seen) == 6


@pytest.mark.parametrize("params", [{}, {"start_time": "ayer"}, {"start_time": 99999999999}, {"cursor": "%%%"}])
def test_exports_refuse_a_missing_or_bad_start(api: httpx.Client, load_scenario, params: dict) -> None:
    load_scenario(scenario())
    response = api.get("/api/v2/incremental/tickets/cursor.json", params=params)
    assert response.status_code == 400
    assert response.json()["error"] in ("InvalidValue", "InvalidPaginationParameter")
