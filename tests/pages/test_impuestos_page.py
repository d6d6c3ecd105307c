"""TaxRegistryPage against the real mock in Chromium: a taxpayer's fields, "NIT inexistente", alerts."""

from __future__ import annotations

import pytest

from pages.impuestos import TaxRegistryPage
from robots.sessions import PortalSession

SCENARIO = {
    "name": "impuestos-page",
    "taxpayers": [{"nit": "1001234020", "name": "Gobierno Autónomo Departamental de La Paz", "kind": "government"}],
}


@pytest.fixture
def session(load_scenario, browser_host, access):
    load_scenario(SCENARIO)
    session = PortalSession(browser_host, TaxRegistryPage, access("impuestos"))
    yield session
    browser_host.run(session.close())


def lookup(session, browser_host, nit: str):
    async def work(console: TaxRegistryPage):
        await console.search(nit)
        return await console.read_taxpayer(), await console.status_text(), await console.alert_text()

    return browser_host.run(session.use(work))


def test_reads_a_taxpayer(session, browser_host):
    fields, status, alert = lookup(session, browser_host, "1001234020")
    assert fields == {"Razón social": "Gobierno Autónomo Departamental de La Paz", "NIT": "1001234020",
                      "Tipo de contribuyente": "ENTIDAD PÚBLICA / GUBERNAMENTAL", "Estado": "ACTIVO HABILITADO"}
    assert (status, alert) == ("", "")


def test_an_unknown_nit_reads_as_none_with_nit_inexistente(session, browser_host):
    fields, status, alert = lookup(session, browser_host, "9999999")
    assert fields is None
    assert status.startswith("NIT inexistente") and alert == ""


def test_a_refused_nit_reads_as_none_with_the_alert(session, browser_host):
    fields, status, alert = lookup(session, browser_host, "12")
    assert fields is None
    assert "solo números" in alert and status == ""
