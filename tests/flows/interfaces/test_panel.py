"""The agents' Zendesk panel as its app calls it: a real ``rpa serve`` on a loopback port, bearer calls over
HTTP (what Zendesk's secure proxy sends), real flows on the mock consoles and the mock Zendesk."""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from pydantic import SecretStr
from typer.testing import CliRunner

from flows.devtools.harness import WebhookServer
from flows.engine.settings import Settings
from flows.interfaces.cli import app as rpa
from tests.flows.conftest import wait_for
from tests.flows.scenarios import CI, scenario

TICKET = 2001
FLOW = f"migration-{TICKET}"
PANEL_TOKEN = "panel-token-of-the-tests"
API_KEY = "api-key-of-the-tests"
AGENT = {"id": 501, "name": "Ana Pérez"}


@pytest.fixture
def panel_settings(flow_settings: Settings) -> Settings:
    return flow_settings.model_copy(update={"panel_token": SecretStr(PANEL_TOKEN), "api_key": SecretStr(API_KEY)})


@pytest.fixture
def serve(panel_settings: Settings) -> Iterator[Callable[..., httpx.Client]]:
    """``rpa serve`` on its own thread (more than one with other settings); an HTTP client of each."""
    servers: list[WebhookServer] = []
    clients: list[httpx.Client] = []

    def start(settings: Settings | None = None, token: str | None = PANEL_TOKEN) -> httpx.Client:
        server = WebhookServer(settings or panel_settings)
        servers.append(server)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=server.url, headers=headers, timeout=60)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()
    for server in servers:
        server.close()


def _notes(world: dict) -> list[str]:
    return [c["body"] for c in world["tickets"][str(TICKET)]["comments"] if not c["public"]]


def test_the_api_answers_only_the_configured_tokens(load_scenario, serve, flow_settings, panel_settings):
    load_scenario(scenario())
    api = serve()
    view = f"/panel/api/tickets/{TICKET}"
    assert api.get(view, headers={"Authorization": ""}).status_code == 401
    assert api.get(view, headers={"Authorization": "Bearer not-the-token"}).status_code == 401
    wrong = api.get(view, headers={"Authorization": "Bearer ñ-not-ascii".encode()})
    assert wrong.status_code == 401 and "detail" in wrong.json()
    answer = api.get(view)
    assert answer.status_code == 200, answer.text
    assert api.get(view, headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
    shown = answer.json()
    assert shown["flow"] is None and shown["actions"] == ["start"]
    assert shown["ticket"]["holder_ci"] == "••••210" and CI not in answer.text
    # The page itself is static, with no data and no secret.
    page = api.get("/panel/app", headers={"Authorization": ""})
    assert page.status_code == 200 and "Robot de migración" in page.text and PANEL_TOKEN not in page.text
    assert api.get("/panel/assets/panel.js").headers["content-type"].startswith("text/javascript")
    # Without either token the panel is not configured; the webhook is still served.
    bare = serve(flow_settings)
    assert bare.get(view).status_code == 503
    assert bare.get("/health").status_code == 200
    # A ticket of a group the robot does not serve is shown but not acted on.
    fenced = serve(panel_settings.model_copy(update={"panel_allowed_groups": [77]}))
    refused = fenced.get(view).json()
    assert "grupo" in refused["refused"] and refused["actions"] == [] and refused["steps"] == []
    step = fenced.post(f"/panel/api/tickets/{TICKET}/steps/migration-state", json={"agent": AGENT})
    assert step.status_code == 403 and "grupo" in step.json()["detail"]


def test_a_step_asked_twice_at_once_runs_once(load_scenario, serve, world_state):
    load_scenario(scenario())
    api = serve()
    path = f"/panel/api/tickets/{TICKET}/steps/migration-state"
    first = api.post(path, json={"agent": AGENT})
    second = api.post(path, json={"agent": AGENT})
    assert first.status_code == 202, first.text
    assert second.status_code == 409 and second.json()["detail"]["running"] == first.json()["id"]
    running = api.get(f"/panel/api/tickets/{TICKET}").json()["running_steps"]
    assert [r["id"] for r in running] == [first.json()["id"]]
    done = wait_for(
        lambda: api.get(f"/panel/api/tickets/{TICKET}").json()["finished_steps"], timeout=90, what="the step to end"
    )
    assert done[0]["error"] is None and done[0]["summary"], done
    notes = [n for n in _notes(world_state()) if "(pedido por Ana Pérez (id 501) desde el panel)" in n]
    assert len(notes) == 1
    # The irreversible migration is refused without the agent's confirmation.
    migrate = api.post(
        f"/panel/api/tickets/{TICKET}/steps/migrate",
        json={"agent": AGENT, "arguments": {"token": "123456", "plan": "Mega Plan 69"}},
    )
    assert migrate.status_code == 400 and "confirm" in migrate.json()["detail"]
    assert api.post(f"/panel/api/tickets/{TICKET}/steps/migrate", json={"agent": AGENT}).status_code == 400


def test_a_hand_off_is_shown_and_answered_from_the_panel(load_scenario, start_worker, serve, world_state):
    load_scenario(scenario(fields={"line": None}))
    worker = start_worker()
    api = serve()
    worker.start_flow(TICKET)
    wait_for(
        lambda: (run := worker.store.flow(FLOW)) is not None and run.waiting_kind == "agent",
        timeout=90,
        what="the flow to ask an agent for the line",
    )
    shown = api.get(f"/panel/api/tickets/{TICKET}").json()
    waiting = shown["flow"]["waiting"]
    assert waiting["who"] == "un agente" and "Línea a migrar" in waiting["question"]
    assert waiting["note"] and f"/agent/tickets/{TICKET}#c" in waiting["note"]
    assert shown["actions"] == ["value", "continue", "end", "hold"] and shown["moving"]
    assert shown["flow"]["path"] and shown["flow"]["last_steps"] and shown["report"]
    # The flow makes its console writes itself: by hand they are refused while it lives; reads are not.
    token = api.post(f"/panel/api/tickets/{TICKET}/steps/token", json={"agent": AGENT})
    assert token.status_code == 409 and "live flow" in token.json()["detail"]
    assert {s["name"]: s["allowed"] for s in shown["steps"]}["token"] is False
    # The run report opens from the signed link, with no bearer, and not with a forged one.
    assert httpx.get(api.base_url.join(shown["report"]), timeout=60).status_code == 200
    forged = shown["report"].rsplit("sig=", 1)[0] + "sig=" + "0" * 64
    assert httpx.get(api.base_url.join(forged), timeout=60).status_code == 401
    # The supervisor's page: the key once, then the cookie.
    supervisor = httpx.Client(base_url=api.base_url, timeout=60, follow_redirects=True)
    assert supervisor.get("/supervisor").status_code == 401
    page = supervisor.get("/supervisor", params={"key": API_KEY})
    assert page.status_code == 200 and "Pedidos a un agente" in page.text and f"#{TICKET}" in page.text
    assert str(page.url).endswith("/supervisor") and supervisor.cookies.get("rpa_supervisor")
    supervisor.close()
    answer = api.post(f"/panel/api/tickets/{TICKET}/answer", json={"agent": AGENT, "kind": "end", "value": "despedida"})
    assert answer.status_code == 200, answer.text
    assert worker.wait_until_done(FLOW) == "SUCCESS"
    assert worker.store.flow(FLOW).outcome == "terminado_por_agente"
    assert any(n.startswith("Panel del robot: Ana Pérez (id 501) respondió") for n in _notes(world_state()))


def test_the_reviewer_approves_the_photos_from_the_panel(load_scenario, start_worker, serve, flow_settings):
    load_scenario(scenario(reviewer="silent"))
    worker = start_worker()
    worker.settings = flow_settings.model_copy(
        update={"process": flow_settings.process.model_copy(update={"agent_review_seconds": 120})}
    )
    api = serve()
    worker.start_flow(TICKET)
    wait_for(
        lambda: (run := worker.store.flow(FLOW)) is not None and run.waiting_kind == "reviewer",
        timeout=90,
        what="the flow to wait for the reviewer",
    )
    shown = api.get(f"/panel/api/tickets/{TICKET}").json()
    assert shown["actions"] == ["approve", "reject", "hold"] and "revisión" in shown["flow"]["waiting"]["who"]
    assert any(card["thumb"].startswith("data:image/jpeg;base64,") for card in shown["evidence"] if card["thumb"])
    approved = api.post(f"/panel/api/tickets/{TICKET}/approve", json={"agent": AGENT})
    assert approved.status_code == 200, approved.text
    assert worker.wait_until_done(FLOW) == "SUCCESS"
    assert worker.store.flow(FLOW).outcome == "migrated"


def test_the_app_package_holds_what_zendesk_asks(tmp_path: Path):
    out = tmp_path / "rpa-panel.zip"
    result = CliRunner().invoke(rpa, ["panel", "package", "--url", "https://rpa.example.com/", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        assert names == {
            "manifest.json",
            "translations/es.json",
            "translations/en.json",
            "assets/logo.png",
            "assets/logo-small.png",
        }
        manifest = json.loads(archive.read("manifest.json"))
        sizes = {name: Image.open(archive.open(name)).size for name in ("assets/logo.png", "assets/logo-small.png")}
        spanish = json.loads(archive.read("translations/es.json"))
    assert manifest["location"] == {
        "support": {"ticket_sidebar": {"url": "https://rpa.example.com/panel/app", "flexible": True}}
    }
    assert manifest["frameworkVersion"] == "2.0" and manifest["defaultLocale"] == "es" and manifest["private"] is True
    assert manifest["domainWhitelist"] == ["rpa.example.com"]
    parameters = {p["name"]: p for p in manifest["parameters"]}
    assert parameters["token"]["secure"] is True and parameters["serve_url"]["default"] == "https://rpa.example.com"
    assert set(spanish["app"]["parameters"]) == {"serve_url", "token"}
    assert sizes == {"assets/logo.png": (320, 320), "assets/logo-small.png": (128, 128)}
    for bad in (["--url", "ftp://rpa.example.com"], ["--url", "rpa.example.com"], []):
        target = tmp_path / "bad.zip"
        refused = CliRunner().invoke(rpa, ["panel", "package", *bad, "--out", str(target)])
        assert refused.exit_code == 2 and not target.exists(), refused.output


def _silent_at_terms() -> dict:
    """The happy customer, except that she answers the T&C only when the test writes for her."""
    spec = scenario()
    spec["tickets"][0]["customer"]["replies"].pop("tyc")
    return spec


def test_a_held_ticket_makes_the_flow_wait_and_write_nothing_until_given_back(load_scenario, start_worker, serve,
                                                                             flow_settings, world_state):
    load_scenario(_silent_at_terms())
    worker = start_worker(flow_settings.model_copy(
        update={"process": flow_settings.process.model_copy(update={"customer_reply_seconds": 120})}))
    api = serve()
    worker.start_flow(TICKET)
    wait_for(lambda: (run := worker.store.flow(FLOW)) is not None and run.waiting_for == "cliente: ACEPTO",
             timeout=90, what="the flow to wait for ACEPTO")
    held = api.post(f"/panel/api/tickets/{TICKET}/hold", json={"agent": AGENT})
    assert held.status_code == 200 and held.json()["held_by"].startswith("Ana Pérez")
    assert api.get(f"/panel/api/tickets/{TICKET}").json()["actions"] == ["give_back", "end_held"]
    # She accepts while an agent holds the ticket: the robot's next write (the token SMS) waits.
    httpx.post(f"{flow_settings.zendesk.base_url}/agent/tickets/{TICKET}/responder", data={"mensaje": "ACEPTO"},
               timeout=10)
    wait_for(lambda: worker.store.flow(FLOW).waiting_kind == "held", timeout=60, what="the flow to stop, held")
    time.sleep(2)
    assert world_state()["sms"] == {}, "nothing is written while the ticket is held"
    given = api.post(f"/panel/api/tickets/{TICKET}/give-back", json={"agent": AGENT})
    assert given.status_code == 200
    assert worker.wait_until_done(FLOW, timeout=120) == "SUCCESS"
    assert worker.store.flow(FLOW).outcome == "migrated"
    assert any("tomó el ticket" in n for n in _notes(world_state()))


def test_an_agent_ends_a_held_flow_with_a_named_macro(load_scenario, start_worker, serve, flow_settings, world_state):
    load_scenario(_silent_at_terms())
    worker = start_worker(flow_settings.model_copy(
        update={"process": flow_settings.process.model_copy(update={"customer_reply_seconds": 120})}))
    api = serve()
    worker.start_flow(TICKET)
    wait_for(lambda: (run := worker.store.flow(FLOW)) is not None and run.waiting_for == "cliente: ACEPTO",
             timeout=90, what="the flow to wait for ACEPTO")
    assert api.post(f"/panel/api/tickets/{TICKET}/end", json={"agent": AGENT, "macro": "despedida"}).status_code == 400
    assert api.post(f"/panel/api/tickets/{TICKET}/hold", json={"agent": AGENT}).status_code == 200
    unknown = api.post(f"/panel/api/tickets/{TICKET}/end", json={"agent": AGENT, "macro": "no-existe"})
    assert unknown.status_code == 400 and "no macro named" in unknown.json()["detail"]
    ended = api.post(f"/panel/api/tickets/{TICKET}/end", json={"agent": AGENT, "macro": "despedida"})
    assert ended.status_code == 200, ended.text
    wait_for(lambda: worker.status(FLOW) == "CANCELLED", timeout=30, what="the flow to be cancelled")
    run = worker.store.flow(FLOW)
    assert run.outcome == "terminado_por_agente" and run.state.value == "ended"
    # She writes later: the cancelled flow takes no step and sends no SMS.
    httpx.post(f"{flow_settings.zendesk.base_url}/agent/tickets/{TICKET}/responder", data={"mensaje": "ACEPTO"},
               timeout=10)
    time.sleep(2)
    assert world_state()["sms"] == {}
