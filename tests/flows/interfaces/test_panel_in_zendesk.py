"""The agent panel as agents see it: inside the mock Zendesk's agent page, in Chromium, through the ZAF protocol.

The mock Zendesk hosts the app as Zendesk does (the sidebar iframe, the handshake, ``get``, ``resize`` and
requests through its secure settings proxy), so the page under test is the one a real Zendesk would load.
The agent answers a hand-off (the flow goes on and migrates the line), then runs a robot step with a
double click (it runs once), and a call without the app's token is refused.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import FrameLocator, Page, expect
from pydantic import SecretStr

from flows.devtools.harness import WebhookServer
from flows.engine.settings import Settings
from mock_portals.zendesk import LINE_FIELD_ID
from tests.flows.conftest import wait_for
from tests.flows.scenarios import CI, LINE, scenario

TICKET = 2001
FLOW = f"migration-{TICKET}"
TOKEN = "panel-token-of-the-browser-test"
API_KEY = "team-lead-key-of-the-browser-test"


@pytest.fixture
def panel(flow_settings: Settings, mocks) -> Iterator[WebhookServer]:
    """``rpa serve`` with the panel, and the app installed in the mock account pointing at it."""
    server = WebhookServer(
        flow_settings.model_copy(update={"panel_token": SecretStr(TOKEN), "api_key": SecretStr(API_KEY)})
    )
    yield server
    server.close()


def _install(mocks, server: WebhookServer) -> None:
    installed = httpx.post(mocks.urls["control"] + "/_control/zendesk/apps", json={
        "name": "Robot de migración", "url": server.url + "/panel/app", "location": "ticket_sidebar",
        "settings": {"serve_url": server.url}, "secure_settings": {"token": TOKEN},
        "domain_whitelist": ["127.0.0.1"],
    }, timeout=10)
    assert installed.status_code == 201, installed.text


def _app(page: Page) -> FrameLocator:
    return page.frame_locator("iframe.zaf-app")


def test_an_agent_answers_a_hand_off_and_runs_a_step_from_the_sidebar(load_scenario, start_worker, panel, mocks,
                                                                       flow_settings, world_state, page: Page):
    load_scenario(scenario(fields={"line": None}))
    _install(mocks, panel)
    worker = start_worker()
    worker.start_flow(TICKET)
    wait_for(lambda: (run := worker.store.flow(FLOW)) is not None and run.waiting_kind == "agent", timeout=90,
             what="the flow to ask an agent for the line")

    page.goto(f"{mocks.urls['zendesk']}/agent/tickets/{TICKET}")
    app = _app(page)
    expect(app.get_by_text("El robot pregunta")).to_be_visible(timeout=20_000)
    expect(app.get_by_text("Línea a migrar", exact=False).first).to_be_visible()
    assert CI not in app.locator("body").inner_text(), "the page never shows a full CI"
    height = page.locator("iframe.zaf-app").evaluate("frame => frame.getBoundingClientRect().height")
    assert height != 200, "the app asked the host to resize its iframe"

    # The team lead's page lists the hand-off waiting for an agent.
    lead = page.context.new_page()
    lead.goto(f"{panel.url}/supervisor?key={API_KEY}")
    expect(lead.get_by_text("Pedidos a un agente")).to_be_visible()
    expect(lead.get_by_text(f"#{TICKET}").first).to_be_visible()
    assert API_KEY not in lead.url, "the key leaves the address once the cookie is set"
    lead.close()

    # The agent fills the field in Zendesk, then tells the robot to go on from the panel.
    access = flow_settings.zendesk
    updated = httpx.put(f"{access.base_url}/api/v2/tickets/{TICKET}.json",
                        auth=(f"{access.email}/token", access.api_token.get_secret_value()),
                        json={"ticket": {"custom_fields": [{"id": LINE_FIELD_ID, "value": LINE}]}}, timeout=10)
    assert updated.status_code == 200, updated.text
    app.get_by_role("button", name="Continuar").click()
    assert worker.wait_until_done(FLOW, timeout=120) == "SUCCESS"
    assert worker.store.flow(FLOW).outcome == "migrated"
    expect(app.get_by_text("Resultado:", exact=False)).to_be_visible(timeout=20_000)

    # A read-only step, double-clicked: it runs once, and its note names the agent who asked.
    app.locator("summary", has_text="Preanálisis").first.click()
    run_step = app.locator("details[open]").get_by_role("button", name="Ejecutar")
    run_step.dblclick()

    def asked() -> list[str]:
        comments = world_state()["tickets"][str(TICKET)]["comments"]
        return [c["body"] for c in comments if not c["public"] and "desde el panel" in c["body"]]

    wait_for(lambda: asked(), timeout=60, what="the step's note")
    page.wait_for_timeout(1500)  # a second run, had it started, would have posted by now
    assert len(asked()) == 1, asked()

    refused = httpx.get(f"{panel.url}/panel/api/tickets/{TICKET}", timeout=10)
    assert refused.status_code == 401


def test_the_reviewer_approves_the_photos_from_the_sidebar(load_scenario, start_worker, panel, mocks, flow_settings,
                                                          page: Page):
    load_scenario(scenario(reviewer="silent"))
    _install(mocks, panel)
    worker = start_worker(flow_settings.model_copy(
        update={"process": flow_settings.process.model_copy(update={"agent_review_seconds": 120})}))
    worker.start_flow(TICKET)
    wait_for(lambda: (run := worker.store.flow(FLOW)) is not None and run.waiting_kind == "reviewer", timeout=90,
             what="the flow to wait for the reviewer")
    page.goto(f"{mocks.urls['zendesk']}/agent/tickets/{TICKET}")
    app = _app(page)
    expect(app.get_by_text("Revisión de CI y selfie", exact=True)).to_be_visible(timeout=20_000)
    app.get_by_role("button", name="Aprobar").click()
    expect(app.get_by_text("Fotos aprobadas.")).to_be_visible()
    assert worker.wait_until_done(FLOW, timeout=120) == "SUCCESS"
    assert worker.store.flow(FLOW).outcome == "migrated"
