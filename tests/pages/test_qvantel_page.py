"""Qvantel's page object against the real mock: the framed sheet, Televentas Digital, and what can go
wrong inside the frame (an expired session, a 5xx, a late table)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from pages.errors import PortalUnavailable, SessionExpired
from pages.qvantel import QvantelPage

T = TypeVar("T")

SCENARIO = {"name": "qvantel-page", "lines": [
    {"number": "71234567", "holder_name": "María Rojas", "holder_ci": "6543210", "confirmed": False,
     "last_sim_recovery": "2026-03-10T14:05:00Z"},
    {"number": "72222222", "holder_name": "Juan Pérez", "holder_ci": "1234567", "acmo": "ACMO-OLD"},
]}


@pytest.fixture
def run_page(browser_host, mocks, load_scenario) -> Callable[[Callable[[QvantelPage], Awaitable[T]]], T]:
    """Run page work on a fresh, logged-in Qvantel page of the shared browser."""
    load_scenario(SCENARIO)

    def run(work: Callable[[QvantelPage], Awaitable[T]]) -> T:
        async def with_page() -> T:
            context = await browser_host.new_context()
            context.set_default_timeout(5_000)
            try:
                console = QvantelPage(await context.new_page(), mocks.urls["qvantel"])
                await console.dismiss_notices_automatically()
                await console.login("agente.rpa", "Clave.2026")
                return await work(console)
            finally:
                await context.close()

        return browser_host.run(with_page())

    return run


async def reload_sheet(console: QvantelPage) -> None:
    """Load the frame's document again, as the console's own refresh would."""
    async with console.page.expect_response(lambda r: "/linea/ficha" in r.url):
        await console.page.evaluate("document.querySelector('iframe').contentWindow.location.reload()")


def test_open_and_read_the_framed_sheet(run_page):
    async def work(console: QvantelPage):
        await console.open_line("71234567")
        sheet = await console.read_line()
        await console.open_line("79999999")
        return sheet, await console.read_line(), await console.alert_text()

    sheet, missing, alert = run_page(work)
    assert sheet == {
        "Línea": "71234567", "Estado de registro": "Pendiente de confirmación",
        "Última recuperación de SIM": "10/03/2026 10:05", "Titular": "María Rojas", "CI del titular": "6543210",
        "Tipo de plan": "Prepago", "Plan": "Prepago Total", "ACMO": "-",
    }
    assert missing is None
    assert alert == "La línea 79999999 no existe."


def test_confirm_registration(run_page, world_state):
    async def work(console: QvantelPage):
        await console.open_line("71234567")
        await console.confirm_registration("6543210", "ACMO-TVD-RPA")
        return await console.alert_text(), await console.status_text(), await console.read_line()

    alert, status, sheet = run_page(work)
    assert alert == ""
    assert status == "Registro de la línea 71234567 confirmado correctamente."
    assert (sheet["Estado de registro"], sheet["ACMO"]) == ("Confirmada", "ACMO-TVD-RPA")
    assert world_state()["lines"]["71234567"]["confirmed"] is True


def test_wrong_holder_is_the_consoles_alert(run_page, world_state):
    async def work(console: QvantelPage):
        await console.open_line("71234567")
        await console.confirm_registration("7654321", "ACMO-TVD-RPA")
        return await console.alert_text()

    assert run_page(work) == "El CI no corresponde al titular de la línea."
    assert world_state()["lines"]["71234567"]["confirmed"] is False


def test_confirmed_line_offers_no_confirmation(run_page):
    async def work(console: QvantelPage):
        await console.open_line("72222222")
        await console.read_line()
        return await console.confirm_link.count()

    assert run_page(work) == 0


def test_expired_session_inside_the_frame_is_reported(run_page, faults):
    async def work(console: QvantelPage):
        await console.open_line("71234567")
        faults("qvantel", expire_sessions=True)
        await reload_sheet(console)
        await console.read_line()

    with pytest.raises(SessionExpired, match="line sheet"):
        run_page(work)


def test_server_error_inside_the_frame_is_reported_at_once(run_page, faults):
    async def work(console: QvantelPage):
        await console.open_line("71234567")
        faults("qvantel", fail_next=1)
        await reload_sheet(console)
        await console.read_line()

    with pytest.raises(PortalUnavailable, match="HTTP 500 in the line sheet"):
        run_page(work)


def test_late_sheet_and_notice(run_page, faults):
    faults("qvantel", late_render_ms=200, modal=True)

    async def work(console: QvantelPage):
        await console.open_line("71234567")
        shown = await console.notice_dialog.is_visible()
        sheet = await console.read_line()
        await console.screenshot()
        return shown, sheet, await console.notice_dialog.is_visible()

    shown, sheet, still_shown = run_page(work)
    assert shown and not still_shown  # the evidence is not covered by the notice
    assert sheet["Estado de registro"] == "Pendiente de confirmación"
