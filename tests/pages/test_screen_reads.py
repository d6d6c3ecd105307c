"""How page objects read a console's answer: at once when the screen is drawn, after a wait only when it is
drawn late or a system notice covers it (the wait lets the notice handler close the notice)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Locator

from pages.ar import ARPage
from pages.qvantel import QvantelPage

SCENARIO = {
    "name": "screen-reads",
    "lines": [
        {"number": "71111111", "holder_name": "Ana", "holder_ci": "1"},
        {"number": "72222222", "holder_name": "Beto", "holder_ci": "2", "ar_outcome": "error"},
    ],
}


@pytest.fixture
def ar(browser_host, mocks, load_scenario, monkeypatch):
    """Run work on a fresh, logged-in AR page; returns its result and how many explicit waits it made."""
    load_scenario(SCENARIO)
    waits: list[Locator] = []
    wait_for = Locator.wait_for

    async def counted(self: Locator, *args, **kwargs):
        waits.append(self)
        return await wait_for(self, *args, **kwargs)

    monkeypatch.setattr(Locator, "wait_for", counted)

    def run(work):
        async def with_page():
            context = await browser_host.new_context()
            context.set_default_timeout(5_000)
            try:
                console = ARPage(await context.new_page(), mocks.urls["ar"])
                await console.dismiss_notices_automatically()
                await console.login("agente.rpa", "Clave.2026")
                waits.clear()
                return await work(console), len(waits)
            finally:
                await context.close()

        return browser_host.run(with_page())

    return run


def _sms_code(mocks, line: str) -> str:
    messages = httpx.get(f"{mocks.urls['control']}/_control/sms/{line}").json()["messages"]
    return re.search(r"es ([A-Z0-9]+)\.", messages[-1]["text"]).group(1)


def test_a_drawn_answer_is_read_without_waiting(ar):
    async def work(console: ARPage):
        await console.generate_token("71111111")
        return await console.read_token_confirmation()

    fields, waits = ar(work)
    assert fields["Línea"] == "71111111" and waits == 0


def test_a_late_answer_is_waited_for_then_read_whole(ar, faults):
    faults("ar", late_render_ms=300)

    async def work(console: ARPage):
        await console.open_migration("71111111")
        return await console.offered_plans()

    plans, waits = ar(work)
    assert plans == ["Mega Plan 69", "Mega Plan 99"] and waits == 1


def test_a_notice_over_the_answer_is_closed_before_the_evidence(ar, faults, mocks):
    async def work(console: ARPage):
        await console.generate_token("72222222")
        await console.open_migration("72222222")
        await console.offered_plans()
        await console.fill_migration("72222222", _sms_code(mocks, "72222222"), "Mega Plan 69", "Oruro", "Av. Arce")
        faults("ar", modal=True)
        await console.migrate()
        shown = await console.notice_dialog.is_visible()
        answer = await console.read_outcome()
        return shown, answer, await console.notice_dialog.is_visible()

    (shown, answer, still_shown), waits = ar(work)
    assert shown and not still_shown and waits == 1
    assert answer.alert.startswith("Error en Scoring") and answer.preanalysis["Scoring"] == "No concluido"
    assert answer.result == {} and answer.status == ""


def test_the_line_sheet_is_found_without_its_answer_too(browser_host, mocks, load_scenario):
    """Qvantel's sheet frame is known from the answer its document came with; without one seen, the frame
    is asked for, and the sheet reads the same."""
    load_scenario(
        {
            "name": "screen-reads-qvantel",
            "lines": [{"number": "71234567", "holder_name": "María", "holder_ci": "6543210"}],
        }
    )

    async def with_page():
        context = await browser_host.new_context()
        context.set_default_timeout(5_000)
        try:
            console = QvantelPage(await context.new_page(), mocks.urls["qvantel"])
            await console.login("agente.rpa", "Clave.2026")
            await console.open_line("71234567")
            answered = await console.read_line()
            console._sheet_answer = None
            return answered, await console.read_line()
        finally:
            await context.close()

    answered, asked = browser_host.run(with_page())
    assert answered is not None and answered["Titular"] == "María" and asked == answered
