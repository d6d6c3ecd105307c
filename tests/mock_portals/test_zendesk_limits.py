"""The Zendesk mock's rate limits: the account's, the incremental exports' and one ticket's updates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

EMAIL, TOKEN = "rpa@contactcentre.example", "limits-token"
TICKET, OTHER = 3001, 3002
WINDOW = 2.0  # long enough for a loaded machine to make its requests inside one window


def scenario(**zendesk: Any) -> dict[str, Any]:
    return {
        "name": "zendesk-limits",
        "zendesk": {"agent_email": EMAIL, "api_token": TOKEN, "rate_limit_window_seconds": WINDOW, **zendesk},
        "tickets": [
            {"id": TICKET, "requester_name": "Ana Pérez", "requester_phone": "+59171111111"},
            {"id": OTHER, "requester_name": "Luis Mamani", "requester_phone": "+59172222222"},
        ],
    }


@pytest.fixture
def api(mocks) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mocks.urls["zendesk"], auth=(f"{EMAIL}/token", TOKEN), timeout=5) as client:
        yield client


@pytest.fixture
def settings_url(mocks) -> str:
    return mocks.urls["control"] + "/_control/zendesk/settings"


def api_requests(world_state) -> dict[str, Any]:
    return world_state()["records"]["zendesk"]["api_requests"]


def test_without_a_limit_nothing_is_limited_nor_announced_but_requests_are_counted(
    api: httpx.Client, load_scenario, world_state
) -> None:
    load_scenario(scenario())
    for _ in range(12):
        response = api.get(f"/api/v2/tickets/{TICKET}.json")
        assert response.status_code == 200
        assert "X-Rate-Limit" not in response.headers
    api.get("/agent/tickets")  # the agent's page is no API request
    counts = api_requests(world_state)
    assert counts["total"] == 12
    assert sum(counts["per_minute"].values()) == 12
    assert counts["limited"] == {"account": 0, "incremental_exports": 0, "ticket_updates": 0}


def test_the_account_limit_answers_429_with_retry_after_and_zendesk_headers(
    api: httpx.Client, load_scenario, world_state
) -> None:
    load_scenario(scenario(rate_limit_per_minute=3))
    remaining = []
    for _ in range(3):
        response = api.get(f"/api/v2/tickets/{TICKET}.json")
        assert response.status_code == 200
        assert response.headers["X-Rate-Limit"] == "3"
        remaining.append(response.headers["X-Rate-Limit-Remaining"])
    assert remaining == ["2", "1", "0"]

    limited = api.get("/api/v2/users/me.json")
    assert limited.status_code == 429
    assert limited.json() == {
        "error": "APIRateLimitExceeded",
        "description": "Number of allowed API requests per minute exceeded",
    }
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-Rate-Limit-Remaining"] == "0"
    # Neither the agent's page nor an attachment download nor the control API is an API request.
    assert api.get("/agent/tickets").status_code == 200

    time.sleep(WINDOW + 0.1)
    assert api.get(f"/api/v2/tickets/{TICKET}.json").status_code == 200
    counts = api_requests(world_state)
    assert counts["total"] == 5 and counts["limited"]["account"] == 1


def test_the_limit_changes_at_run_time_through_the_control_api(
    api: httpx.Client, load_scenario, settings_url: str
) -> None:
    load_scenario(scenario())
    changed = httpx.patch(settings_url, json={"rate_limit_per_minute": 2})
    assert changed.status_code == 200
    assert changed.json()["settings"]["rate_limit_per_minute"] == 2
    assert [api.get("/api/v2/users/me").status_code for _ in range(3)] == [200, 200, 429]

    usage = httpx.get(settings_url).json()["usage"]
    assert usage["requests_in_window"] == 2 and usage["remaining"] == 0

    assert httpx.patch(settings_url, json={"rate_limit_per_minute": None}).status_code == 200
    response = api.get("/api/v2/users/me")
    assert response.status_code == 200 and "X-Rate-Limit" not in response.headers
    assert httpx.patch(settings_url, json={"rate_limit_window_seconds": None}).status_code == 422
    assert httpx.patch(settings_url, json={"rate_limit_per_minute": 0}).status_code == 422

    load_scenario(scenario())  # a reset brings back the scenario's own settings
    assert httpx.get(settings_url).json()["settings"]["rate_limit_per_minute"] is None


def test_one_ticket_takes_a_limited_number_of_updates(api: httpx.Client, load_scenario, world_state) -> None:
    load_scenario(scenario(ticket_update_limit=2, ticket_update_window_seconds=WINDOW))
    update = {"ticket": {"comment": {"body": "Nota", "public": False}}}
    # With or without ".json", as Zendesk serves both.
    paths = [f"/api/v2/tickets/{TICKET}", f"/api/v2/tickets/{TICKET}.json", f"/api/v2/tickets/{TICKET}.json"]
    assert [api.put(path, json=update).status_code for path in paths] == [200, 200, 429]
    limited = api.put(f"/api/v2/tickets/{TICKET}", json=update)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"] == "APIRateLimitExceeded"
    assert api.get(f"/api/v2/tickets/{TICKET}").status_code == 200  # reading it is not updating it
    assert api.put(f"/api/v2/tickets/{OTHER}", json=update).status_code == 200  # another ticket is not limited
    assert len(world_state()["tickets"][str(TICKET)]["comments"]) == 2  # the refused updates changed nothing
    time.sleep(WINDOW + 0.1)
    assert api.put(f"/api/v2/tickets/{TICKET}", json=update).status_code == 200
    assert api_requests(world_state)["limited"]["ticket_updates"] == 2


def test_incremental_exports_take_ten_requests_a_minute_by_default(
    api: httpx.Client, load_scenario, world_state
) -> None:
    load_scenario(scenario())
    statuses = [
        api.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}).status_code for _ in range(11)
    ]
    assert statuses == [200] * 10 + [429]
    limited = api.get("/api/v2/incremental/ticket_events.json", params={"start_time": 0})
    assert limited.status_code == 429
    assert limited.json()["description"] == "Number of allowed incremental export API requests per minute exceeded"
    assert int(limited.headers["Retry-After"]) >= 1
    assert api.get(f"/api/v2/tickets/{TICKET}").status_code == 200  # other endpoints go on
    time.sleep(WINDOW + 0.1)
    assert api.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}).status_code == 200
    assert api_requests(world_state)["limited"]["incremental_exports"] == 2


def test_a_request_a_fault_answered_never_reached_the_account(
    api: httpx.Client, load_scenario, faults, world_state
) -> None:
    load_scenario(scenario(rate_limit_per_minute=1))
    faults("zendesk", fail_next=2)
    assert [api.get("/api/v2/users/me").status_code for _ in range(3)] == [500, 500, 200]
    assert api_requests(world_state)["total"] == 1
