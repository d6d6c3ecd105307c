"""BCCS mock: debt by CI from the world's customers, billing changes written back to the world's lines."""

from __future__ import annotations

import httpx
import pytest

from mock_portals.bccs import bolivianos, debt_rows

SCENARIO = {
    "name": "bccs",
    "lines": [{"number": "71234567", "holder_name": "María Rojas", "holder_ci": "6543210"}],
    "customers": [
        {"ci": "6543210", "name": "María Rojas", "historical_debt": 1250.5,
         "debt_detail": "Factura 03/2024 línea 71234567; Factura 04/2024 línea 71234567"},
        {"ci": "7654321", "name": "Jorge Mamani"},
    ],
}


@pytest.fixture
def bccs(mocks, load_scenario):
    load_scenario(SCENARIO)
    with httpx.Client(base_url=mocks.urls["bccs"]) as client:
        client.post("/login", data={"usuario": "agente.rpa", "clave": "Clave.2026"})
        yield client


def test_bolivianos_are_printed_with_dot_thousands_and_comma_cents():
    assert bolivianos(1250.5) == "Bs 1.250,50"
    assert bolivianos(1234567.891) == "Bs 1.234.567,89"
    assert bolivianos(0) == "Bs 0,00"


def test_debt_rows_come_from_the_free_text_detail():
    assert debt_rows(10, "a; b\nc") == ["a", "b", "c"]
    assert debt_rows(10, "") == ["Deuda histórica móvil"]
    assert debt_rows(0, "") == []


def test_every_screen_asks_for_a_login(mocks, load_scenario):
    load_scenario(SCENARIO)
    response = httpx.get(mocks.urls["bccs"] + "/deuda/consulta?ci=6543210")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_debt_shows_the_total_and_its_detail(bccs):
    page = bccs.get("/deuda/consulta", params={"ci": "6543210"}).text
    assert "María Rojas" in page and "Bs 1.250,50" in page
    assert "Factura 04/2024 línea 71234567" in page
    assert "Sin deuda histórica" not in page


def test_a_customer_without_debt_reads_sin_deuda_historica(bccs):
    page = bccs.get("/deuda/consulta", params={"ci": "7654321"}).text
    assert "Sin deuda histórica" in page and "Bs 0,00" in page


def test_an_unknown_ci_is_an_alert(bccs):
    page = bccs.get("/deuda/consulta", params={"ci": "1111111"}).text
    assert 'role="alert"' in page and "No existe un cliente" in page


def test_a_billing_change_lands_on_the_world_line_and_in_the_history(bccs, world_state):
    response = bccs.post("/facturacion", data={"linea": "71234567", "nombre": "Comercial Andina S.R.L.",
                                               "tipo_documento": "NIT", "numero_documento": "1020304050"})
    assert response.status_code == 303
    page = bccs.get(response.headers["location"]).text
    assert "actualizados correctamente" in page and "Comercial Andina S.R.L." in page
    world = world_state()
    line = world["lines"]["71234567"]
    assert (line["billing_name"], line["billing_id"]) == ("Comercial Andina S.R.L.", "1020304050")
    [change] = world["records"]["bccs"]["billing_changes"]
    assert change["previous_name"] is None and change["document_type"] == "NIT"


def test_an_unknown_line_changes_nothing(bccs, world_state):
    response = bccs.post("/facturacion", data={"linea": "79999999", "nombre": "Otro",
                                               "tipo_documento": "CI", "numero_documento": "1234567"})
    assert response.status_code == 200
    assert 'role="alert"' in response.text and "no está registrada" in response.text
    assert "bccs" not in world_state()["records"]


def test_a_malformed_document_is_refused(bccs, world_state):
    response = bccs.post("/facturacion", data={"linea": "71234567", "nombre": "Comercial Andina S.R.L.",
                                               "tipo_documento": "NIT", "numero_documento": "12AB"})
    assert "no es un NIT válido" in response.text
    assert world_state()["lines"]["71234567"]["billing_name"] is None
