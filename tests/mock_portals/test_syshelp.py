"""Syshelp mock: subtypes by type, server-side validation, registered tickets kept in the world."""

from __future__ import annotations

import httpx
import pytest

from mock_portals.syshelp import TICKET_TYPES

GOOD = {"tipo": "Derivación B2B", "subtipo": "Ejecutivos Gobierno", "entidad": "Gobernación de La Paz",
        "contacto": "Ana Quispe", "telefono": "71234567", "correo": "ana.quispe@lapaz.gob.bo",
        "descripcion": "Solicita 20 líneas pospago a nombre de la Gobernación."}


@pytest.fixture
def syshelp(mocks, load_scenario):
    load_scenario({"name": "syshelp"})
    with httpx.Client(base_url=mocks.urls["syshelp"]) as client:
        client.post("/login", data={"usuario": "agente.rpa", "clave": "Clave.2026"})
        yield client


def test_the_subtypes_depend_on_the_type_and_the_typed_values_are_kept(syshelp):
    page = syshelp.get("/tickets/nuevo", params={"tipo": "Derivación B2B", "entidad": "Gobernación"}).text
    assert "Ejecutivos Gobierno" in page and 'value="Gobernación"' in page
    assert "Red móvil" not in page
    assert "Ejecutivos Gobierno" not in syshelp.get("/tickets/nuevo", params={"tipo": "Reclamo"}).text
    assert "Ejecutivos Gobierno" in TICKET_TYPES["Derivación B2B"]


def test_a_registered_ticket_gets_a_number_and_is_kept(syshelp, world_state):
    response = syshelp.post("/tickets", data=GOOD)
    assert response.status_code == 303
    detail = syshelp.get(response.headers["location"]).text
    [ticket] = world_state()["records"]["syshelp"]["tickets"]
    assert ticket["number"].startswith("SH-20") and len(ticket["number"]) == len("SH-2026-000001")
    assert ticket["number"] in detail and "registrado correctamente" in detail
    assert (ticket["tipo"], ticket["subtipo"], ticket["email"]) == (
        "Derivación B2B", "Ejecutivos Gobierno", "ana.quispe@lapaz.gob.bo")
    assert ticket["number"] in syshelp.get("/tickets").text


@pytest.mark.parametrize(("field", "value", "message"), [
    ("correo", "ana.quispe", "no tiene un formato válido"),
    ("entidad", "", "Nombre de la Entidad es obligatorio"),
    ("subtipo", "Red móvil", "Subtipo válido"),
    ("telefono", "12", "entre 7 y 11 dígitos"),
])
def test_invalid_data_is_an_alert_and_registers_nothing(syshelp, world_state, field, value, message):
    response = syshelp.post("/tickets", data={**GOOD, field: value})
    assert response.status_code == 200
    assert 'role="alert"' in response.text and message in response.text
    assert "syshelp" not in world_state()["records"]


def test_an_unknown_ticket_is_an_alert(syshelp):
    page = syshelp.get("/tickets/SH-2026-999999").text
    assert 'role="alert"' in page and "no existe" in page
