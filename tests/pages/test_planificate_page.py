"""Planifícate's page object against the real mock, through pytest-playwright's page fixture."""

from __future__ import annotations

import pytest

from pages.errors import CredentialsRejected, SessionExpired
from pages.planificate import PlanificatePage

SCENARIO = {"name": "p", "lines": [
    {"number": "71234567", "holder_name": "Ana", "holder_ci": "1", "sim": "3G"},
    {"number": "71000000", "holder_name": "Sin", "holder_ci": "2", "recommended_plans": None},
]}


async def _with_page(host, url: str, work):
    """Run page work on a fresh page in a new context of the session's shared Chromium."""
    context = await host.new_context()
    try:
        return await work(PlanificatePage(await context.new_page(), url))
    finally:
        await context.close()


@pytest.fixture
def planificate_url(mocks, load_scenario):
    load_scenario(SCENARIO)
    return mocks.urls["planificate"]


def test_search_and_read(browser_host, planificate_url):
    async def work(console: PlanificatePage):
        await console.login("agente.rpa", "Clave.2026")
        await console.search("71234567")
        found = await console.read_result()
        await console.search("71000000")
        return found, await console.read_result()

    found, missing = browser_host.run(_with_page(browser_host, planificate_url, work))
    assert found["Tipo de SIM"] == "3G"
    assert found["Planes recomendados"] == "Mega Plan 69, Mega Plan 99"
    assert missing is None


def test_bad_credentials(browser_host, planificate_url):
    async def work(console: PlanificatePage):
        await console.login("agente.rpa", "otra")

    with pytest.raises(CredentialsRejected):
        browser_host.run(_with_page(browser_host, planificate_url, work))


def test_expired_session_is_reported(browser_host, planificate_url, faults):
    async def work(console: PlanificatePage):
        await console.login("agente.rpa", "Clave.2026")
        faults("planificate", expire_sessions=True)
        await console.search("71234567")

    with pytest.raises(SessionExpired):
        browser_host.run(_with_page(browser_host, planificate_url, work))


def test_login_page_in_pytest_playwright_fixture(page, planificate_url):
    """pytest-playwright's own fixtures launch the same Debian Chromium."""
    page.goto(planificate_url + "/login")
    assert page.get_by_role("button", name="Ingresar").is_visible()
