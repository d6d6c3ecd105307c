"""The Zendesk mock hosts installed apps in the agent page's ticket sidebar and speaks the ZAF SDK 2.0 protocol.

A throwaway app page on loopback plays the app with hand-written postMessage calls (no SDK), so what is
checked is the protocol itself: handshake, ``get``, ``invoke``, and requests through the secure proxy.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from playwright.sync_api import Frame, Page

from mock_portals.customer import AGENT_EMAIL, AGENT_NAME
from mock_portals.server import free_port
from mock_portals.zendesk_apps import INSTALLATION_ID_BASE

EMAIL, TOKEN = "rpa@contactcentre.example", "apps-api-token"
SECURE_TOKEN = "tok-7f3a9c-secreto-de-la-app"
TICKET = 2001

SCENARIO: dict[str, Any] = {
    "name": "zendesk-apps",
    "zendesk": {"agent_email": EMAIL, "api_token": TOKEN},
    "tickets": [
        {
            "id": TICKET,
            "subject": "Migración a pospago",
            "requester_name": "Ana Pérez",
            "requester_phone": "+59171111111",
            "status": "open",
            "conversation": [{"author": "customer", "body": "Quiero un plan pospago"}],
        }
    ],
}

#: The app, by hand: the handshake on load, then whatever the test asks for through ``window`` helpers.
#: Every message from the host is also written into the page, for a person watching a headed run.
APP_PAGE = """<!doctype html>
<html lang="es"><body><h1>App de prueba</h1><pre id="mensajes"></pre>
<script>
const query = new URLSearchParams(location.search);
const hostOrigin = query.get("origin"), guid = query.get("app_guid");
const waiting = new Map(), listeners = [];
let nextId = 1;
window.received = [];
function send(payload) {
  parent.postMessage(JSON.stringify(Object.assign(payload, {appGuid: guid, instanceGuid: guid})), hostOrigin);
}
function once(key) {
  return new Promise(resolve => listeners.push({key, resolve}));
}
window.addEventListener("message", event => {
  if (event.origin !== hostOrigin) return;
  received.push(event.data);
  document.getElementById("mensajes").textContent += event.data + "\\n";
  const message = JSON.parse(event.data);
  if (message.id !== undefined && waiting.has(message.id)) {
    waiting.get(message.id)(message);
    waiting.delete(message.id);
  }
  for (const l of listeners.filter(l => l.key === message.key)) {
    listeners.splice(listeners.indexOf(l), 1);
    l.resolve(message.message);
  }
});
window.registered = once("zaf.app.registered");
window.ask = (request, params) => new Promise(resolve => {
  const id = nextId++;
  waiting.set(id, resolve);
  send({id, request, params});
});
window.proxied = (k, message) => {
  const done = once(`zaf.request:${k}.done`).then(m => ({outcome: "done", args: m.responseArgs}));
  const fail = once(`zaf.request:${k}.fail`).then(m => ({outcome: "fail", args: m.responseArgs}));
  send({key: `request:${k}`, message});
  return Promise.race([done, fail]);
};
send({key: "iframe.handshake", message: {version: "2.0"}});
</script></body></html>
"""


class FakeApp:
    """The app's server on loopback: its sidebar page and an API that records what reaches it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.port = free_port()
        app = FastAPI()

        @app.get("/sidebar", response_class=HTMLResponse)
        async def sidebar() -> str:
            return APP_PAGE

        @app.api_route("/api/cliente", methods=["GET", "POST"])
        async def customer(request: Request) -> dict[str, Any]:
            body = (await request.body()).decode()
            self.calls.append({"method": request.method, "headers": dict(request.headers), "body": body})
            # The token is never echoed: what the host relays back must not carry it.
            return {
                "plan": "Mega Plan 69",
                "autorizado": request.headers.get("authorization") == f"Bearer {SECURE_TOKEN}",
            }

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeApp:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the fake app did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


@pytest.fixture
def fake_app() -> Iterator[FakeApp]:
    app = FakeApp().start()
    yield app
    app.stop()


def installed(fake_app: FakeApp, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Migración RPA",
        "url": f"{fake_app.url}/sidebar",
        "location": "ticket_sidebar",
        "settings": {"saludo": "Hola", "api_url": fake_app.url},
        "secure_settings": {"token": SECURE_TOKEN},
        "domain_whitelist": ["127.0.0.1"],
        **extra,
    }


@pytest.fixture
def with_app(mocks, load_scenario, fake_app) -> dict[str, Any]:
    load_scenario(SCENARIO)
    response = httpx.post(mocks.urls["control"] + "/_control/zendesk/apps", json=installed(fake_app))
    assert response.status_code == 201
    return response.json()["installation"]


def app_frame(page: Page, fake_app: FakeApp) -> Frame:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for frame in page.frames:
            if frame.url.startswith(fake_app.url):
                return frame
        page.wait_for_timeout(50)
    raise AssertionError("the app's iframe never loaded")


def open_ticket(page: Page, mocks, fake_app: FakeApp) -> Frame:
    page.goto(f"{mocks.urls['zendesk']}/agent/tickets/{TICKET}")
    frame = app_frame(page, fake_app)
    frame.wait_for_load_state()
    return frame


def test_the_page_without_apps_is_the_page_it_was(mocks, load_scenario) -> None:
    load_scenario(SCENARIO)
    html = httpx.get(f"{mocks.urls['zendesk']}/agent/tickets/{TICKET}").text
    assert "Aplicaciones" not in html and "zaf_host.js" not in html and "<iframe" not in html
    assert "Responder como cliente" in html


def test_installations_api_lists_scenario_and_runtime_apps_without_secure_settings(
    mocks, load_scenario, fake_app
) -> None:
    load_scenario({**SCENARIO, "zendesk": {**SCENARIO["zendesk"], "apps": [installed(fake_app, name="Del escenario")]}})
    response = httpx.post(mocks.urls["control"] + "/_control/zendesk/apps", json=installed(fake_app))
    assert response.json()["installation"]["id"] == INSTALLATION_ID_BASE + 2
    api = httpx.get(f"{mocks.urls['zendesk']}/api/v2/apps/installations.json", auth=(f"{EMAIL}/token", TOKEN))
    assert api.status_code == 200
    listed = api.json()["installations"]
    assert [i["id"] for i in listed] == [INSTALLATION_ID_BASE + 1, INSTALLATION_ID_BASE + 2]
    assert [i["settings"]["name"] for i in listed] == ["Del escenario", "Migración RPA"]
    assert all(i["enabled"] and i["settings"]["saludo"] == "Hola" for i in listed)
    assert SECURE_TOKEN not in api.text and "token" not in listed[0]["settings"]
    unauthenticated = httpx.get(f"{mocks.urls['zendesk']}/api/v2/apps/installations.json")
    assert unauthenticated.status_code == 401
    page = httpx.get(f"{mocks.urls['zendesk']}/agent/tickets/{TICKET}").text
    assert page.count('class="zaf-app"') == 2 and "Aplicaciones" in page


def test_the_app_registers_and_gets_the_ticket_and_the_agent(page: Page, mocks, with_app, fake_app) -> None:
    frame = open_ticket(page, mocks, fake_app)
    iframe = page.locator("iframe.zaf-app")
    src = iframe.get_attribute("src") or ""
    assert f"origin={mocks.urls['zendesk'].replace(':', '%3A').replace('/', '%2F')}" in src and "app_guid=" in src
    registered = frame.evaluate("() => registered")
    guid = iframe.get_attribute("data-app-guid")
    assert registered["context"] == {
        "product": "support",
        "location": "ticket_sidebar",
        "ticketId": TICKET,
        "instanceGuid": guid,
    }
    assert registered["metadata"]["installationId"] == with_app["id"]
    assert registered["metadata"]["appId"] == with_app["app_id"]
    assert registered["metadata"]["settings"] == {"saludo": "Hola", "api_url": fake_app.url}

    answer = frame.evaluate(
        "() => ask('get', ['ticket.id', 'ticket.subject', 'ticket.status', 'ticket.requester', 'ticket.tags', "
        "'currentUser', 'ticket.inexistente'])"
    )
    result = answer["result"]
    assert result["ticket.id"] == TICKET and result["ticket.subject"] == "Migración a pospago"
    assert result["ticket.status"] == "open" and isinstance(result["ticket.tags"], list)
    assert result["ticket.requester"]["name"] == "Ana Pérez" and isinstance(result["ticket.requester"]["id"], int)
    assert set(result["ticket.requester"]) == {"id", "name", "email"}
    assert result["currentUser"]["name"] == AGENT_NAME and result["currentUser"]["email"] == AGENT_EMAIL
    assert result["currentUser"]["role"] == "agent"
    assert list(result["errors"]) == ["ticket.inexistente"]
    assert {"message", "name"} <= set(result["errors"]["ticket.inexistente"])
    assert "ticket.inexistente" not in result


def test_invoke_resize_sets_the_iframe_height(page: Page, mocks, with_app, fake_app) -> None:
    frame = open_ticket(page, mocks, fake_app)
    frame.evaluate("() => registered")
    answer = frame.evaluate("() => ask('invoke', {resize: [{height: '432px'}]})")
    assert answer["id"] and "error" not in answer
    iframe = page.locator("iframe.zaf-app")
    assert iframe.evaluate("f => f.style.height") == "432px"
    assert round(iframe.bounding_box()["height"]) == 432


def test_a_secure_request_gets_the_token_server_side_only(page: Page, mocks, with_app, fake_app) -> None:
    frame = open_ticket(page, mocks, fake_app)
    frame.evaluate("() => registered")
    outcome = frame.evaluate(
        """() => proxied('1', {
            url: '{{setting.api_url}}/api/cliente', type: 'POST', contentType: 'application/json',
            headers: {Authorization: 'Bearer {{setting.token}}'}, data: JSON.stringify({linea: '71234567'}),
            dataType: 'json', secure: true})"""
    )
    assert outcome["outcome"] == "done"
    body, text_status, xhr = outcome["args"]
    assert body == {"plan": "Mega Plan 69", "autorizado": True} and text_status == "success"
    assert xhr["status"] == 200
    (call,) = fake_app.calls
    assert call["method"] == "POST" and call["headers"]["authorization"] == f"Bearer {SECURE_TOKEN}"
    assert json.loads(call["body"]) == {"linea": "71234567"}
    # The secure setting was never in the browser: not in the page, not in anything posted to the app.
    assert SECURE_TOKEN not in page.content()
    assert SECURE_TOKEN not in httpx.get(f"{mocks.urls['zendesk']}/agent/tickets/{TICKET}").text
    assert SECURE_TOKEN not in "\n".join(frame.evaluate("() => received"))
    assert SECURE_TOKEN not in frame.content()


def test_a_request_not_marked_secure_gets_no_secure_setting(page: Page, mocks, with_app, fake_app) -> None:
    frame = open_ticket(page, mocks, fake_app)
    frame.evaluate("() => registered")
    outcome = frame.evaluate(
        """() => proxied('2', {url: '{{setting.api_url}}/api/cliente', type: 'GET',
            headers: {Authorization: 'Bearer {{setting.token}}'}, dataType: 'json'})"""
    )
    assert outcome["outcome"] == "done" and outcome["args"][0]["autorizado"] is False
    assert fake_app.calls[0]["headers"]["authorization"] == "Bearer {{setting.token}}"


def test_a_secure_request_to_a_host_off_the_whitelist_fails(page: Page, mocks, with_app, fake_app) -> None:
    frame = open_ticket(page, mocks, fake_app)
    frame.evaluate("() => registered")
    outcome = frame.evaluate(
        f"""() => proxied('3', {{url: 'http://localhost:{fake_app.port}/api/cliente', type: 'GET',
            headers: {{Authorization: 'Bearer {{{{setting.token}}}}'}}, dataType: 'json', secure: true}})"""
    )
    assert outcome["outcome"] == "fail"
    xhr, text_status, _reason = outcome["args"]
    assert xhr["status"] == 403 and text_status == "error"
    assert fake_app.calls == []
    assert SECURE_TOKEN not in "\n".join(frame.evaluate("() => received"))


def test_a_ticket_changed_elsewhere_is_told_to_the_app(page: Page, mocks, with_app, fake_app) -> None:
    frame = open_ticket(page, mocks, fake_app)
    frame.evaluate("() => registered")
    frame.evaluate("() => { window.updated = once('zaf.ticket.updated'); }")
    response = httpx.post(
        f"{mocks.urls['control']}/_control/tickets/{TICKET}/customer_message", json={"body": "¿Y mi plan?"}
    )
    assert response.status_code == 200
    ticket = frame.evaluate("() => updated")  # the host asks every 3 s
    assert ticket["id"] == TICKET and ticket["status"] == "open"
