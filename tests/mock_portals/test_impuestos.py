"""Tax registry mock: a NIT's name, kind and state from the world's taxpayers; unknown NITs say so."""

from __future__ import annotations

import httpx
import pytest

SCENARIO = {
    "name": "impuestos",
    "taxpayers": [
        {"nit": "1001234020", "name": "Gobierno Autónomo Departamental de La Paz", "kind": "government"},
        {"nit": "2002345021", "name": "Comercial Andina S.R.L.", "kind": "commercial"},
        {"nit": "3003456022", "name": "Importadora del Sur S.A.", "kind": "commercial", "status": "INACTIVO"},
        {"nit": "4004567023", "name": "Juan Pérez Flores", "kind": "other"},
    ],
}


@pytest.fixture
def registry(mocks, load_scenario):
    load_scenario(SCENARIO)
    with httpx.Client(base_url=mocks.urls["impuestos"]) as client:
        client.post("/login", data={"usuario": "agente.rpa", "clave": "Clave.2026"})
        yield client


@pytest.mark.parametrize(("nit", "kind", "status"), [
    ("1001234020", "ENTIDAD PÚBLICA / GUBERNAMENTAL", "ACTIVO HABILITADO"),
    ("2002345021", "EMPRESA COMERCIAL (S.R.L.)", "ACTIVO HABILITADO"),
    ("3003456022", "EMPRESA COMERCIAL (S.A.)", "INACTIVO"),
    ("4004567023", "PERSONA NATURAL", "ACTIVO HABILITADO"),
])
def test_a_known_nit_shows_its_kind_and_state(registry, nit, kind, status):
    page = registry.get("/estado", params={"nit": nit}).text
    assert f"<td>{kind}</td>" in page and f"<td>{status}</td>" in page and f"<td>{nit}</td>" in page


def test_an_unknown_nit_is_nit_inexistente(registry):
    page = registry.get("/estado", params={"nit": "9999999"}).text
    assert "NIT inexistente" in page and "Estado del contribuyente" not in page


def test_a_nit_with_letters_is_an_alert(registry):
    page = registry.get("/estado", params={"nit": "12AB34"}).text
    assert 'role="alert"' in page and "solo números" in page


def test_the_registry_is_labelled_for_consultation(mocks, load_scenario):
    load_scenario(SCENARIO)
    login = httpx.get(mocks.urls["impuestos"] + "/login").text
    assert "Padrón Nacional de Contribuyentes (Consulta)" in login
