"""The screens the read-backs use, read by the page objects in Chromium: BCCS's billing data of a line
without changing it, the contract list with each contract's saved time, and AR's state with its token."""

from __future__ import annotations

import re

import pytest

from pages.ar import ARPage
from pages.bccs import BCCSPage
from pages.contrato import ContratoPage
from robots.sessions import PortalSession

SCENARIO = {
    "name": "read-back-pages",
    "lines": [
        {"number": "71234567", "holder_name": "María Rojas", "holder_ci": "6543210",
         "billing_name": "María Rojas", "billing_id": "6543210"},
        {"number": "72345678", "holder_name": "Jorge Mamani", "holder_ci": "7654321"},
    ],
}
#: Contrato Digital's times: La Paz local time to the second.
CONSOLE_TIME = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}$")
#: AR's times: La Paz local time with its offset.
AR_TIME = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2} -0400$")


@pytest.fixture
def session(load_scenario, browser_host, access):
    load_scenario(SCENARIO)
    opened: list[PortalSession] = []

    def open_session(page_type: type) -> PortalSession:
        opened.append(PortalSession(browser_host, page_type, access(page_type.portal)))
        return opened[-1]

    yield open_session
    for each in opened:
        browser_host.run(each.close())


def test_bccs_shows_a_lines_billing_data_without_changing_it(session, browser_host, world_state):
    async def work(console: BCCSPage):
        await console.open_billing("71234567")
        seeded = await console.read_billing()
        await console.open_billing("72345678")
        empty = await console.read_billing()
        await console.open_billing("79999999")
        return seeded, empty, await console.read_billing(), await console.alert_text()

    seeded, empty, unknown, alert = browser_host.run(session(BCCSPage).use(work))
    assert seeded == {"Línea": "71234567", "Nombre o razón social": "María Rojas", "Tipo de documento": "-",
                      "Número de documento": "6543210"}
    assert empty is not None and empty["Nombre o razón social"] == "-" and empty["Número de documento"] == "-"
    assert unknown is None and alert == "La línea 79999999 no está registrada en BCCS."
    assert world_state()["records"].get("bccs", {}).get("billing_changes", []) == []


def test_contract_list_shows_each_contracts_saved_time_and_task(session, browser_host):
    identity = {kind: {"name": f"{kind}.png", "mimeType": "image/png", "buffer": b"\x89PNG"}
                for kind in ("CI anverso", "CI reverso", "Selfie con CI")}

    async def work(console: ContratoPage):
        before = await console.list_contracts("71234567")
        await console.create_contract("71234567", "María Rojas", "6543210", "Mega Plan 69", "La Paz")
        for kind, file in identity.items():
            await console.attach_backup(kind, file)
        await console.save()
        await console.send_to_analysis()
        return before, await console.list_contracts("71234567")

    before, after = browser_host.run(session(ContratoPage).use(work))
    assert before == []
    [row] = after
    assert row["Número"] == "CD-000101" and row["Línea"] == "71234567" and row["Estado"] == "Aprobado"
    assert CONSOLE_TIME.match(row["Fecha"]) and row["Tarea"] == "TA-000001"


def test_ar_state_shows_the_newest_tokens_times(session, browser_host):
    async def work(console: ARPage):
        await console.open_migration_state("71234567")
        before = await console.read_migration_state()
        await console.generate_token("71234567")
        issued = await console.read_token_confirmation()
        await console.open_migration_state("71234567")
        return before, issued, await console.read_migration_state()

    before, issued, after = browser_host.run(session(ARPage).use(work))
    assert (before["Último token enviado"], before["Token vence"]) == ("-", "-")
    assert after["Último token enviado"] == issued["Fecha de emisión"]
    assert after["Token vence"] == issued["Vence"] and AR_TIME.match(after["Token vence"])
    assert after["Migrada"] == "No"
