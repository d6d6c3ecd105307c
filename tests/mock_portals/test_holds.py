"""The hold fault: one request of a portal kept before it commits (then lost) or after (then answered late).

A test of exactly-once writes kills a client while its write is held; these check the hold itself over
real HTTP: what the world holds while the request waits, what the client gets when the hold ends, and
that ``GET /_control/holds`` shows it meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest

from mock_portals.world import HoldSpec

EMAIL, API_TOKEN = "rpa@contactcentre.example", "hold-token"
SCENARIO = {
    "name": "holds",
    "lines": [{"number": "71111111", "holder_name": "Ana Prueba", "holder_ci": "1111111"}],
    "tickets": [{"id": 1001, "requester_name": "Ana Prueba", "requester_phone": "+59171111111"}],
    "zendesk": {"agent_email": EMAIL, "api_token": API_TOKEN},
}
CONTRACT_FORM = {"linea": "71111111", "titular": "Ana Prueba", "ci": "1111111", "plan": "Mega Plan 69",
                 "ciudad": "La Paz"}
IDENTITY_FILES = {
    "respaldo_ci_anverso": ("anverso.png", b"\x89PNG front", "image/png"),
    "respaldo_ci_reverso": ("reverso.png", b"\x89PNG back", "image/png"),
    "respaldo_selfie": ("selfie.png", b"\x89PNG selfie", "image/png"),
}
BILLING_FORM = {"linea": "71111111", "nombre": "Empresa Tercera SRL", "tipo_documento": "NIT",
                "numero_documento": "1020304050"}


@pytest.fixture
def control(mocks) -> str:
    return mocks.urls["control"]


@pytest.fixture
def background() -> Iterator[Callable[..., Future]]:
    """Run a blocking request on another thread, so the test can look at the world while it is held."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool.submit


@pytest.fixture
def world(load_scenario) -> None:
    load_scenario(SCENARIO)


def logged_in(mocks, portal: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mocks.urls[portal], follow_redirects=False, timeout=30) as client:
        assert client.post("/login", data={"usuario": "agente.rpa", "clave": "Clave.2026"}).status_code == 303
        yield client


@pytest.fixture
def contrato(mocks, world) -> Iterator[httpx.Client]:
    yield from logged_in(mocks, "contrato")


@pytest.fixture
def bccs(mocks, world) -> Iterator[httpx.Client]:
    yield from logged_in(mocks, "bccs")


@pytest.fixture
def zendesk(mocks, world) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mocks.urls["zendesk"], auth=(f"{EMAIL}/token", API_TOKEN), timeout=30) as client:
        yield client


def holds_now(control: str) -> list[dict]:
    response = httpx.get(control + "/_control/holds")
    response.raise_for_status()
    return response.json()["holds"]


def wait_for_hold(control: str, timeout: float = 10.0) -> dict:
    """The first request held, once one is (what a test does before killing the client)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = holds_now(control)
        if held:
            return held[0]
        time.sleep(0.02)
    raise AssertionError("no request was held")


def save_contract(client: httpx.Client) -> httpx.Response:
    return client.post("/contratos", data=CONTRACT_FORM, files=IDENTITY_FILES)


def contracts(world_state) -> list[dict]:
    return world_state()["records"].get("contrato", {}).get("contracts", [])


def test_before_hold_answers_503_and_commits_nothing(contrato, control, faults, world_state, background):
    armed = faults("contrato", hold={"method": "post", "path": "/contratos", "phase": "before", "seconds": 0.5})
    assert armed["faults"]["holds"] == [{"method": "POST", "path": "/contratos", "phase": "before",
                                         "seconds": 0.5}]
    started = time.monotonic()
    pending = background(save_contract, contrato)

    held = wait_for_hold(control)
    assert (held["portal"], held["method"], held["path"], held["phase"]) == (
        "contrato", "POST", "/contratos", "before")
    assert contracts(world_state) == []  # the console has not seen the request

    answer = pending.result(timeout=10)
    assert answer.status_code == 503 and "Servicio no disponible" in answer.text
    assert time.monotonic() - started >= 0.5
    assert contracts(world_state) == [] and holds_now(control) == []
    assert world_state()["faults"]["contrato"]["holds"] == []  # spent on its one request

    again = save_contract(contrato)  # a later matching request passes
    assert again.status_code == 303 and [c["number"] for c in contracts(world_state)] == ["CD-000101"]


def test_after_hold_commits_then_answers_normally(bccs, control, faults, world_state, background):
    faults("bccs", hold={"method": "POST", "path": "/facturacion", "phase": "after", "seconds": 1})
    started = time.monotonic()
    pending = background(bccs.post, "/facturacion", data=BILLING_FORM)

    held = wait_for_hold(control)
    assert (held["portal"], held["path"], held["phase"]) == ("bccs", "/facturacion", "after")
    line = world_state()["lines"]["71111111"]
    assert (line["billing_name"], line["billing_id"]) == ("Empresa Tercera SRL", "1020304050")  # committed
    assert not pending.done()  # ...but not answered

    answer = pending.result(timeout=10)
    assert time.monotonic() - started >= 1
    assert answer.status_code == 303 and answer.headers["location"] == "/facturacion/confirmacion?linea=71111111"
    assert len(world_state()["records"]["bccs"]["billing_changes"]) == 1


def test_holds_are_listed_while_active_and_released_by_clearing_faults(
    contrato, bccs, control, faults, world_state, background
):
    faults("contrato", hold={"method": "POST", "path": "/contratos", "phase": "before", "seconds": 60})
    faults("bccs", hold={"method": "POST", "path": "/facturacion", "phase": "after", "seconds": 60})
    lost = background(save_contract, contrato)
    late = background(bccs.post, "/facturacion", data=BILLING_FORM)
    deadline = time.monotonic() + 10
    while len(holds_now(control)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    listed = holds_now(control)
    assert sorted((h["portal"], h["phase"]) for h in listed) == [("bccs", "after"), ("contrato", "before")]
    assert all(h["since"] < h["until"] for h in listed)

    started = time.monotonic()
    httpx.delete(control + "/_control/faults").raise_for_status()
    assert lost.result(timeout=10).status_code == 503
    assert late.result(timeout=10).status_code == 303
    assert time.monotonic() - started < 10  # released at once, not after their 60 seconds
    assert holds_now(control) == []
    assert contracts(world_state) == []
    assert world_state()["lines"]["71111111"]["billing_name"] == "Empresa Tercera SRL"


def test_an_armed_hold_is_disarmed_by_clearing_faults(contrato, control, faults, world_state):
    faults("contrato", hold={"method": "POST", "path": "/contratos", "phase": "before", "seconds": 60})
    httpx.delete(control + "/_control/faults").raise_for_status()
    assert save_contract(contrato).status_code == 303
    assert len(contracts(world_state)) == 1


def test_zendesk_ticket_update_held_before_is_lost(zendesk, control, faults, world_state, background):
    faults("zendesk", hold={"method": "PUT", "path": "/api/v2/tickets/{id}", "phase": "before", "seconds": 30})
    update = {"ticket": {"comment": {"body": "Nota interna de prueba", "public": False}}}
    pending = background(zendesk.put, "/api/v2/tickets/1001.json", json=update)

    held = wait_for_hold(control)
    assert (held["portal"], held["method"], held["path"]) == ("zendesk", "PUT", "/api/v2/tickets/1001")
    httpx.delete(control + "/_control/faults").raise_for_status()
    answer = pending.result(timeout=10)
    assert answer.status_code == 503 and answer.json()["error"] == "ServiceUnavailable"
    assert world_state()["tickets"]["1001"]["comments"] == []

    assert zendesk.put("/api/v2/tickets/1001.json", json=update).status_code == 200
    assert [c["body"] for c in world_state()["tickets"]["1001"]["comments"]] == ["Nota interna de prueba"]


def test_zendesk_upload_held_after_is_kept(zendesk, control, faults, world_state, background):
    faults("zendesk", hold={"method": "POST", "path": "/api/v2/uploads", "phase": "after", "seconds": 30})
    pending = background(zendesk.post, "/api/v2/uploads.json", params={"filename": "captura.png"},
                         content=b"\x89PNG evidence", headers={"Content-Type": "image/png"})

    wait_for_hold(control)
    assert [a["file_name"] for a in world_state()["attachments"].values()] == ["captura.png"]
    httpx.delete(control + "/_control/faults").raise_for_status()
    answer = pending.result(timeout=10)
    assert answer.status_code == 201 and answer.json()["upload"]["attachment"]["file_name"] == "captura.png"


def test_a_request_that_does_not_match_passes(contrato, control, faults, world_state):
    faults("contrato", hold={"method": "POST", "path": "/contratos/*/enviar", "phase": "before", "seconds": 60})
    assert contrato.get("/contratos").status_code == 200  # another method
    assert save_contract(contrato).status_code == 303  # another path
    assert holds_now(control) == [] and len(world_state()["faults"]["contrato"]["holds"]) == 1


def test_hold_patterns_and_validation(control):
    spec = HoldSpec(method="put", path="/api/v2/tickets/{id}", phase="before")
    assert spec.method == "PUT" and spec.seconds == 30
    assert spec.matches("PUT", "/api/v2/tickets/1001")
    assert not spec.matches("PUT", "/api/v2/tickets/1001/comments")
    assert not spec.matches("GET", "/api/v2/tickets/1001")
    star = HoldSpec(method="POST", path="/tareas/*/responder", phase="after")
    assert star.matches("POST", "/tareas/TA-000001/responder") and not star.matches("POST", "/tareas//responder")
    exact = HoldSpec(method="POST", path="/contratos", phase="before")
    assert exact.matches("POST", "/contratos") and not exact.matches("POST", "/contratos/CD-000101/enviar")
    assert HoldSpec(method="GET", path="/a.b", phase="before").matches("GET", "/a.b")
    assert not HoldSpec(method="GET", path="/a.b", phase="before").matches("GET", "/axb")

    for wrong in ({"method": "POST", "path": "/contratos", "phase": "during"},
                  {"method": "POST", "path": "contratos", "phase": "before"},
                  {"method": "POST", "path": "/contratos", "phase": "before", "seconds": 0}):
        response = httpx.post(control + "/_control/faults", json={"portal": "contrato", "hold": wrong})
        assert response.status_code == 422, wrong
