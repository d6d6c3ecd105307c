"""The Planifícate mock as a browser-less client sees it: login, session expiry, faults, results."""

from __future__ import annotations

import time

import httpx
import pytest

SCENARIO = {
    "name": "planificate",
    "session_idle_seconds": 0.5,
    "lines": [
        {"number": "71234567", "holder_name": "Ana Pérez", "holder_ci": "1234567"},
        {"number": "71000000", "holder_name": "Sin Datos", "holder_ci": "7654321", "recommended_plans": None},
        {"number": "76000000", "holder_name": "Otra Empresa", "holder_ci": "5555555", "other_operator": "Tigo"},
    ],
}


@pytest.fixture
def client(mocks, load_scenario):
    load_scenario(SCENARIO)
    with httpx.Client(base_url=mocks.urls["planificate"], follow_redirects=False) as c:
        yield c


def login(client: httpx.Client) -> None:
    response = client.post("/login", data={"usuario": "agente.rpa", "clave": "Clave.2026", "next": "/"})
    assert response.status_code == 303


def test_screens_need_a_session(client):
    response = client.get("/resultado?linea=71234567")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/resultado")


def test_wrong_password_stays_on_login(client):
    response = client.post("/login", data={"usuario": "agente.rpa", "clave": "mala"})
    assert response.status_code == 200
    assert "Usuario o contraseña incorrectos" in response.text


def test_result_no_result_and_other_operator(client):
    login(client)
    page = client.get("/resultado?linea=71234567").text
    assert "Mega Plan 69, Mega Plan 99" in page and "USIM LTE" in page
    assert "Sin resultados" in client.get("/resultado?linea=71000000").text
    assert "Tigo" in client.get("/resultado?linea=76000000").text
    assert "Sin resultados" in client.get("/resultado?linea=79999999").text


def test_session_expires_when_idle(client):
    login(client)
    assert client.get("/").status_code == 200
    time.sleep(0.7)
    assert client.get("/").status_code == 303


def test_faults_500_burst_and_maintenance(client, faults):
    login(client)
    faults("planificate", fail_next=2)
    assert [client.get("/").status_code for _ in range(3)] == [500, 500, 200]
    faults("planificate", maintenance_seconds=30)
    response = client.get("/")
    assert response.status_code == 503 and "mantenimiento" in response.text


def test_expire_sessions_now(client, faults):
    login(client)
    faults("planificate", expire_sessions=True)
    assert client.get("/").status_code == 303


def test_unknown_portal_fault_is_refused(mocks):
    response = httpx.post(mocks.urls["control"] + "/_control/faults", json={"portal": "nada", "fail_next": 1})
    assert response.status_code == 422
    assert "unknown portal" in response.text
