"""AR's page object against the real mock: token, migration form and answers, migration state."""

from __future__ import annotations

import re

import httpx
import pytest

from pages.ar import ARPage
from pages.errors import PortalTimeout, SessionExpired

SCENARIO = {"name": "ar-page", "lines": [
    {"number": "71111111", "holder_name": "Ana", "holder_ci": "1"},
    {"number": "72222222", "holder_name": "Beto", "holder_ci": "2", "ar_outcome": "error"},
    {"number": "77777777", "holder_name": "Gus", "holder_ci": "7", "plan_type": "Pospago"},
]}


async def _with_page(host, url: str, work, timeout_ms: float = 3000):
    """Run page work on a fresh, logged-in AR page in a new context of the session's shared Chromium."""
    context = await host.new_context()
    context.set_default_timeout(timeout_ms)
    try:
        console = ARPage(await context.new_page(), url)
        await console.dismiss_notices_automatically()
        await console.login("agente.rpa", "Clave.2026")
        return await work(console)
    finally:
        await context.close()


@pytest.fixture
def ar_url(mocks, load_scenario):
    load_scenario(SCENARIO)
    return mocks.urls["ar"]


@pytest.fixture
def sms_code(mocks):
    def latest(line: str) -> str:
        messages = httpx.get(f"{mocks.urls['control']}/_control/sms/{line}").json()["messages"]
        return re.search(r"es ([A-Z0-9]+)\.", messages[-1]["text"]).group(1)

    return latest


def test_token_then_migration_then_state(browser_host, ar_url, sms_code):
    async def work(console: ARPage):
        await console.open_migration_state("71111111")
        before = await console.read_migration_state()
        await console.generate_token("71111111")
        issued = await console.read_token_confirmation()
        await console.open_migration("71111111")
        plans = await console.offered_plans()
        await console.fill_migration("71111111", sms_code("71111111"), "Mega Plan 99", "Sucre",
                                     "Calle Junín 45", "ana@example.com")
        await console.migrate()
        answer = await console.read_outcome()
        await console.open_migration_state("71111111")
        return before, issued, plans, answer, await console.read_migration_state()

    before, issued, plans, answer, after = browser_host.run(_with_page(browser_host, ar_url, work))
    assert before["Migrada"] == "No" and before["Tipo de plan"] == "Prepago"
    assert issued["Remitente SMS"] == "7371" and issued["Vigencia (segundos)"] == "600"
    assert plans == ["Mega Plan 69", "Mega Plan 99"]
    assert answer.alert == "" and answer.status.startswith("Migración exitosa")
    assert answer.result["Plan"] == "Mega Plan 99" and answer.result["N° de orden"].startswith("AR-")
    assert answer.preanalysis == {"Scoring": "Aprobado", "Infocenter": "Sin observaciones",
                                  "Lista Negra": "Sin registros"}
    assert after["Migrada"] == "Sí" and after["Plan"] == "Mega Plan 99"


def test_alerts_are_read_not_judged(browser_host, ar_url, sms_code):
    async def work(console: ARPage):
        await console.generate_token("79999999")
        token_fields, token_alert = await console.read_token_confirmation(), await console.alert_text()
        await console.open_migration("77777777")
        postpaid = await console.offered_plans(), await console.alert_text()
        await console.generate_token("72222222")
        await console.open_migration("72222222")
        await console.offered_plans()
        await console.fill_migration("72222222", "WRONG9", "Mega Plan 69", "Oruro", "Av. 6 de Agosto")
        await console.migrate()
        wrong = await console.read_outcome()
        await console.fill_migration("72222222", sms_code("72222222"), "Mega Plan 69", "Oruro",
                                     "Av. 6 de Agosto")
        await console.migrate()
        return token_fields, token_alert, postpaid, wrong, await console.read_outcome()

    token_fields, token_alert, postpaid, wrong, error = browser_host.run(_with_page(browser_host, ar_url, work))
    assert token_fields == {} and "no existe" in token_alert
    assert postpaid[0] is None and "ya tiene un plan Pospago" in postpaid[1]
    assert wrong.alert.startswith("Token incorrecto") and wrong.preanalysis == {} and wrong.result == {}
    assert error.alert.startswith("Error en Scoring") and error.preanalysis["Scoring"] == "No concluido"


def test_modal_and_late_rendering_are_waited_for(browser_host, ar_url, faults):
    faults("ar", modal=True, late_render_ms=200)

    async def work(console: ARPage):
        await console.generate_token("71111111")
        return await console.read_token_confirmation()

    assert browser_host.run(_with_page(browser_host, ar_url, work))["Línea"] == "71111111"


def test_expired_session_is_reported(browser_host, ar_url, faults):
    async def work(console: ARPage):
        faults("ar", expire_sessions=True)
        await console.open_migration("71111111")

    with pytest.raises(SessionExpired):
        browser_host.run(_with_page(browser_host, ar_url, work))


def test_a_screen_that_never_answers_times_out(browser_host, ar_url):
    async def work(console: ARPage):
        await console.open("/", "opening the menu")  # no token table and no alert here
        # Neither ever shows up: any wait times out alike, so this one need not last the page's 3 s.
        console.page.set_default_timeout(500)
        await console.read_token_confirmation()

    with pytest.raises(PortalTimeout, match="token confirmation"):
        browser_host.run(_with_page(browser_host, ar_url, work))
