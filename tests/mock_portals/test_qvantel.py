"""The Qvantel mock as a browser-less client sees it: sessions (frame included), the line sheet, and the
Televentas Digital confirmation changing the shared world."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest

from mock_portals.qvantel import console_time, same_holder

SCENARIO = {
    "name": "qvantel",
    "lines": [
        {"number": "71234567", "holder_name": "María Fernanda Rojas Quiroga", "holder_ci": "6543210",
         "confirmed": False, "last_sim_recovery": "2026-03-10T14:05:00Z"},
        {"number": "72222222", "holder_name": "Juan Pérez", "holder_ci": "1234567-1A", "acmo": "ACMO-OLD"},
        {"number": "73333333", "holder_name": "Luis Mamani", "holder_ci": "3333333", "plan_type": "Pospago",
         "plan": "Mega Plan 69"},
    ],
}


@pytest.fixture
def client(mocks, load_scenario):
    load_scenario(SCENARIO)
    with httpx.Client(base_url=mocks.urls["qvantel"], follow_redirects=False) as c:
        yield c


def login(client: httpx.Client) -> None:
    response = client.post("/login", data={"usuario": "agente.rpa", "clave": "Clave.2026", "next": "/"})
    assert response.status_code == 303


def sheet_row(page: str, label: str) -> str:
    match = re.search(rf'<th scope="row">{re.escape(label)}</th>\s*<td[^>]*>([^<]*)</td>', page)
    assert match, f"no row {label!r} in the sheet"
    return match.group(1).strip()


def line_of(world_state, number: str) -> dict:
    return world_state()["lines"][number]


@pytest.mark.parametrize("path", ["/", "/linea?numero=71234567", "/linea/ficha?numero=71234567",
                                  "/linea/confirmar?numero=71234567"])
def test_every_screen_and_the_frame_need_a_session(client, path):
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_search_form_and_unknown_line(client):
    login(client)
    form = client.get("/").text
    assert "Búsqueda de línea" in form and '<label for="numero">Número de línea</label>' in form
    missing = client.get("/linea?numero=79999999").text
    assert 'role="alert">La línea 79999999 no existe.' in missing
    assert "Ingrese un número de línea de 8 dígitos." in client.get("/linea?numero=123").text


def test_line_view_frames_the_sheet_and_offers_confirmation_only_when_pending(client):
    login(client)
    pending = client.get("/linea?numero=71234567").text
    assert 'title="Ficha de la línea"' in pending and 'src="/linea/ficha?numero=71234567"' in pending
    assert ">Confirmar registro</a>" in pending
    assert "Confirmar registro" not in client.get("/linea?numero=72222222").text


def test_sheet_shows_the_world_line(client):
    login(client)
    pending = client.get("/linea/ficha?numero=71234567").text
    assert sheet_row(pending, "Estado de registro") == "Pendiente de confirmación"
    assert sheet_row(pending, "Última recuperación de SIM") == "10/03/2026 10:05"  # La Paz, UTC-4
    assert sheet_row(pending, "CI del titular") == "6543210"
    assert sheet_row(pending, "ACMO") == "-"
    confirmed = client.get("/linea/ficha?numero=72222222").text
    assert sheet_row(confirmed, "Estado de registro") == "Confirmada"
    assert sheet_row(confirmed, "Última recuperación de SIM") == "Sin registro"
    migrated = client.get("/linea/ficha?numero=73333333").text
    assert (sheet_row(migrated, "Tipo de plan"), sheet_row(migrated, "Plan")) == ("Pospago", "Mega Plan 69")
    assert 'role="alert">La línea 79999999 no existe.' in client.get("/linea/ficha?numero=79999999").text


def test_confirmation_changes_the_world(client, world_state):
    login(client)
    assert "Televentas Digital" in client.get("/linea/confirmar?numero=71234567").text
    response = client.post("/linea/confirmar", data={"numero": "71234567", "ci": "6.543.210 LP", "acmo": "acmo-tvd-1"})
    assert response.status_code == 303
    assert response.headers["location"] == "/linea?numero=71234567&aviso=confirmada"
    line = line_of(world_state, "71234567")
    assert line["confirmed"] is True and line["acmo"] == "ACMO-TVD-1" and line["confirmed_at"]
    assert 'role="status">Registro de la línea 71234567 confirmado' in client.get(response.headers["location"]).text
    [record] = world_state()["records"]["qvantel"]["confirmations"]
    assert record["line"] == "71234567" and record["acmo"] == "ACMO-TVD-1"


def test_wrong_holder_changes_nothing(client, world_state):
    login(client)
    response = client.post("/linea/confirmar", data={"numero": "71234567", "ci": "7654321", "acmo": "ACMO-1"})
    assert response.status_code == 200
    assert 'role="alert">El CI no corresponde al titular de la línea.' in response.text
    line = line_of(world_state, "71234567")
    assert (line["confirmed"], line["acmo"], line["confirmed_at"]) == (False, None, None)


@pytest.mark.parametrize("ci, acmo, message", [
    ("6543210", "", "Ingrese el ACMO"),
    ("", "ACMO-1", "Ingrese el CI del titular."),
    ("6543210", "ACMO 1!", "El ACMO solo admite"),
])
def test_incomplete_form_is_refused(client, world_state, ci, acmo, message):
    login(client)
    response = client.post("/linea/confirmar", data={"numero": "71234567", "ci": ci, "acmo": acmo})
    assert 'role="alert">' + message in response.text
    assert line_of(world_state, "71234567")["confirmed"] is False


def test_already_confirmed_says_so_and_changes_nothing(client, world_state):
    login(client)
    before = line_of(world_state, "72222222")
    response = client.post("/linea/confirmar", data={"numero": "72222222", "ci": "1234567-1A", "acmo": "ACMO-NEW"})
    assert response.headers["location"] == "/linea?numero=72222222&aviso=ya_confirmada"
    assert "ya se encuentra confirmada" in client.get(response.headers["location"]).text
    assert line_of(world_state, "72222222") == before
    assert client.get("/linea/confirmar?numero=72222222").status_code == 303
    assert "qvantel" not in world_state()["records"]


def test_faults_reach_the_frame_too(client, faults):
    login(client)
    faults("qvantel", fail_next=1)
    assert client.get("/linea/ficha?numero=71234567").status_code == 500
    faults("qvantel", late_render_ms=400)
    late = client.get("/linea/ficha?numero=71234567").text
    assert "<template" in late and "Datos de la línea" in late


@pytest.mark.parametrize("typed, holder, same", [
    ("6543210", "6543210", True),
    ("6.543.210", "6543210", True),
    ("6543210 LP", "6543210", True),
    ("6543210", "6543210-1A", True),      # the complement counts only when both sides carry one
    ("6543210-1A", "6543210-2B", False),
    ("6543211", "6543210", False),
])
def test_holder_check(typed, holder, same):
    assert same_holder(typed, holder) is same


def test_console_time():
    assert console_time(None) == "Sin registro"
    assert console_time(datetime(2026, 1, 2, 3, 4)) == "01/01/2026 23:04"  # naive means UTC
