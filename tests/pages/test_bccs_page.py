"""BCCSPage against the real mock in Chromium: what each verb reads from the debt and billing screens."""

from __future__ import annotations

import pytest

from pages.bccs import BCCSPage
from robots.sessions import PortalSession

SCENARIO = {
    "name": "bccs-page",
    "lines": [{"number": "71234567", "holder_name": "María Rojas", "holder_ci": "6543210"}],
    "customers": [
        {"ci": "6543210", "name": "María Rojas", "historical_debt": 1250.5,
         "debt_detail": "Factura 03/2024; Factura 04/2024"},
        {"ci": "7654321", "name": "Jorge Mamani"},
    ],
}


@pytest.fixture
def session(load_scenario, browser_host, access):
    load_scenario(SCENARIO)
    session = PortalSession(browser_host, BCCSPage, access("bccs"))
    yield session
    browser_host.run(session.close())


def test_reads_the_debt_summary_and_its_detail_rows(session, browser_host):
    async def work(console: BCCSPage):
        await console.search_debt("6543210")
        return await console.read_debt(), await console.read_debt_detail()

    fields, rows = browser_host.run(session.use(work))
    assert fields == {"CI": "6543210", "Nombre del cliente": "María Rojas", "Deuda histórica total": "Bs 1.250,50"}
    assert rows == [{"Nro": "1", "Concepto": "Factura 03/2024"}, {"Nro": "2", "Concepto": "Factura 04/2024"}]


def test_a_customer_without_debt_has_no_detail_rows(session, browser_host):
    async def work(console: BCCSPage):
        await console.search_debt("7654321")
        return await console.read_debt(), await console.read_debt_detail()

    fields, rows = browser_host.run(session.use(work))
    assert fields["Deuda histórica total"] == "Bs 0,00"
    assert rows == []


def test_an_unknown_ci_reads_as_none_and_its_alert(session, browser_host):
    async def work(console: BCCSPage):
        await console.search_debt("1111111")
        return await console.read_debt(), await console.alert_text()

    fields, alert = browser_host.run(session.use(work))
    assert fields is None
    assert alert == "No existe un cliente registrado con el CI 1111111."


def test_changes_the_billing_data_and_reads_what_was_saved(session, browser_host):
    async def work(console: BCCSPage):
        await console.change_billing("71234567", "Comercial Andina S.R.L.", "NIT", "1020304050")
        return await console.read_billing()

    assert browser_host.run(session.use(work)) == {
        "Línea": "71234567", "Nombre o razón social": "Comercial Andina S.R.L.",
        "Tipo de documento": "NIT", "Número de documento": "1020304050",
    }


def test_an_unknown_line_reads_as_none_and_its_alert(session, browser_host):
    async def work(console: BCCSPage):
        await console.change_billing("79999999", "Juan Pérez", "CI", "1234567")
        return await console.read_billing(), await console.alert_text()

    saved, alert = browser_host.run(session.use(work))
    assert saved is None
    assert alert == "La línea 79999999 no está registrada en BCCS."
