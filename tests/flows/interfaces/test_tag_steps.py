"""An agent asks the robot for one step with a macro that tags the ticket, and never leaves Zendesk.

A real ``rpa serve`` in this process, connected to the mock Zendesk by ``rpa zendesk connect``'s code (the
third trigger among them); the agent applies the macro through Zendesk's API as the agent workspace does
(preview with ``/apply``, then save the ticket with the macro's tags), and the mock's trigger calls the
webhook. The step's evidence note must land on the ticket and the tag be replaced by the outcome's.
"""

from __future__ import annotations

import time

import httpx

from flows.devtools.harness import WebhookServer
from flows.engine.run_store import RunStore
from flows.engine.settings import Settings
from flows.engine.toolkit import Toolkit
from flows.interfaces.tag_steps import DONE_TAG, FAILED_TAG
from flows.interfaces.zendesk_account import STEP_TRIGGER
from tests.flows.conftest import wait_for
from tests.flows.scenarios import scenario

TICKET = 2001


def _api(settings: Settings) -> httpx.Client:
    access = settings.zendesk
    return httpx.Client(
        base_url=access.base_url.rstrip("/") + "/api/v2",
        auth=httpx.BasicAuth(f"{access.email}/token", access.api_token.get_secret_value()),
        timeout=10,
    )


def _apply_macro(api: httpx.Client, title: str) -> None:
    """What the agent workspace does when an agent picks a macro and submits the ticket."""
    macro = next(m for m in api.get("/macros.json").json()["macros"] if m["title"] == title)
    preview = api.get(f"/tickets/{TICKET}/macros/{macro['id']}/apply.json").json()["result"]["ticket"]
    saved = api.put(f"/tickets/{TICKET}.json", json={"ticket": {"tags": preview["tags"], "macro_id": macro["id"]}})
    saved.raise_for_status()


def _tags(api: httpx.Client) -> list[str]:
    return api.get(f"/tickets/{TICKET}.json").json()["ticket"]["tags"]


def _notes(api: httpx.Client) -> list[str]:
    comments = api.get(f"/tickets/{TICKET}/comments.json").json()["comments"]
    return [c["body"] for c in comments if not c["public"]]


def _serve(settings: Settings) -> WebhookServer:
    server = WebhookServer(settings)
    try:
        with Toolkit(settings) as toolkit:
            server.connect(toolkit.zendesk)
    except BaseException:
        server.close()
        raise
    return server


def test_a_macro_runs_the_preanalysis_once_and_replaces_its_tag(load_scenario, flow_settings, faults, world_state):
    load_scenario(scenario())
    faults("zendesk", duplicate_webhook_deliveries=True)
    server = _serve(flow_settings)
    try:
        with _api(flow_settings) as api:
            asked = time.monotonic()
            _apply_macro(api, "RPA: Preanálisis (robot)")
            wait_for(lambda: DONE_TAG in _tags(api), timeout=60, what="the step's tag to be replaced")
            took = time.monotonic() - asked
            assert server.intake.idle(30)
            tags, notes = _tags(api), _notes(api)
    finally:
        server.close()
    assert "rpa_paso_preanalisis" not in tags and FAILED_TAG not in tags
    evidence = [n for n in notes if n.startswith("[Evidencia RPA] Preanálisis")]
    assert len(evidence) == 1, notes
    assert not [n for n in notes if n.startswith("[RPA]")], "a step that went well needs no note of ours"
    records = world_state()["records"]["zendesk"]
    mine = next(t["id"] for t in records["triggers"] if t["title"] == STEP_TRIGGER)
    deliveries = [d for d in records["webhook_deliveries"] if d["trigger_id"] == mine]
    assert any(d["delivery"] == 2 for d in deliveries), "Zendesk delivered the call twice"
    print(f"macro applied -> evidence note and tag replaced in {took:.1f}s")


def test_a_write_step_by_macro_is_refused_while_the_tickets_flow_is_live(load_scenario, flow_settings, world_state):
    load_scenario(scenario())
    store = RunStore(flow_settings.store_url())
    try:
        store.flow_started(f"migration-{TICKET}", TICKET, "migration")  # running: the flow sends the token itself
    finally:
        store.dispose()
    server = _serve(flow_settings)
    try:
        with _api(flow_settings) as api:
            _apply_macro(api, "RPA: Enviar el token (robot)")
            wait_for(lambda: FAILED_TAG in _tags(api), timeout=60, what="the refused step's tag to be replaced")
            assert server.intake.idle(30)
            tags, notes = _tags(api), _notes(api)
    finally:
        server.close()
    assert "rpa_paso_token" not in tags and DONE_TAG not in tags
    refused = [n for n in notes if n.startswith("[RPA] Envío del token (pedido por macro) no se ejecutó")]
    assert len(refused) == 1 and "live flow" in refused[0], notes
    assert world_state()["sms"] == {}, "no SMS went out"
