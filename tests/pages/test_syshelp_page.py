"""SyshelpPage against the real mock in Chromium: the two-step form, the ticket, alerts, Mis tickets."""

from __future__ import annotations

import pytest

from pages.syshelp import SyshelpPage
from robots.sessions import PortalSession

TICKET = ("Ejecutivos Gobierno", "Gobernación de La Paz", "Ana Quispe", "71234567",
          "ana.quispe@lapaz.gob.bo", "Solicita 20 líneas pospago.")


@pytest.fixture
def session(load_scenario, browser_host, access):
    load_scenario({"name": "syshelp-page"})
    session = PortalSession(browser_host, SyshelpPage, access("syshelp"))
    yield session
    browser_host.run(session.close())


def test_registers_a_ticket_and_reads_it(session, browser_host, world_state):
    async def work(console: SyshelpPage):
        await console.start_ticket("Derivación B2B")
        await console.fill_ticket(*TICKET)
        await console.register()
        return await console.read_ticket()

    ticket = browser_host.run(session.use(work))
    [stored] = world_state()["records"]["syshelp"]["tickets"]
    assert ticket["Número"] == stored["number"]
    assert (ticket["Tipo"], ticket["Subtipo"], ticket["Nombre de la Entidad"], ticket["Correo"]) == (
        "Derivación B2B", "Ejecutivos Gobierno", "Gobernación de La Paz", "ana.quispe@lapaz.gob.bo")


def test_validation_errors_read_as_none_with_every_message(session, browser_host, world_state):
    async def work(console: SyshelpPage):
        await console.start_ticket("Derivación B2B")
        await console.fill_ticket("Ejecutivos Gobierno", "", "Ana Quispe", "71234567", "ana.quispe", "x")
        await console.register()
        return await console.read_ticket(), await console.alert_text()

    ticket, alert = browser_host.run(session.use(work))
    assert ticket is None
    assert alert == ("El campo Nombre de la Entidad es obligatorio. "
                     "El Correo no tiene un formato válido (ejemplo: nombre@dominio.com).")
    assert world_state()["records"].get("syshelp", {}).get("tickets", []) == []


def test_lists_my_tickets_newest_first_and_opens_one(session, browser_host):
    async def work(console: SyshelpPage):
        empty = await console.my_tickets()
        for entity in ("Alcaldía de Sucre", "Ministerio de Salud"):
            await console.start_ticket("Derivación B2B")
            await console.fill_ticket("Ejecutivos Gobierno", entity, "Ana", "71234567", "a@b.gob.bo", "x")
            await console.register()
        rows = await console.my_tickets()
        await console.open_ticket(rows[-1]["Número"])
        return empty, rows, await console.read_ticket()

    empty, rows, first = browser_host.run(session.use(work))
    assert empty == []
    assert [row["Entidad"] for row in rows] == ["Ministerio de Salud", "Alcaldía de Sucre"]
    assert rows[0]["Subtipo"] == "Ejecutivos Gobierno" and rows[0]["Estado"] == "Registrado"
    assert first["Nombre de la Entidad"] == "Alcaldía de Sucre"
