"""Personal numbers and secrets never reach a log line or a recorded trace."""

from __future__ import annotations

import json
import zipfile

import pytest
from loguru import logger

from flows.engine.logs import configure_logging
from flows.engine.settings import Settings
from pages.errors import PortalTimeout
from pages.planificate import PlanificatePage
from robots.sessions import PortalSession


def test_ci_and_phone_numbers_are_masked_in_every_sink(tmp_path, capsys):
    log_file = configure_logging("INFO", tmp_path / "run.jsonl")
    logger.info("cliente con CI 6543210 y teléfono +59171234567 en la línea {}", "71234567")
    logger.remove()
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    message = records[-1]["record"]["message"]
    assert "6543210" not in message and "71234567" not in message and "59171234567" not in message
    assert "****210" in message and "*****567" in message
    assert "6543210" not in capsys.readouterr().err


def test_settings_never_show_their_secrets():
    settings = Settings()
    shown = repr(settings) + settings.model_dump_json()
    assert "Clave.2026" not in shown and "demo-api-token" not in shown


def test_the_password_never_reaches_a_recorded_trace(browser_host, access, load_scenario, tmp_path):
    load_scenario({"name": "trace", "lines": [{"number": "71234567", "holder_name": "A", "holder_ci": "1"}]})
    session = PortalSession(browser_host, PlanificatePage, access("planificate"), trace=True)

    async def search_then_fail(console: PlanificatePage) -> None:
        await console.search("71234567")
        raise PortalTimeout("the console stopped answering", portal="planificate")

    try:
        with pytest.raises(PortalTimeout):
            browser_host.run(session.use(search_then_fail, record=True))
        _, trace = browser_host.run(session.save_failure(tmp_path, "step"))
    finally:
        browser_host.run(session.close())
    with zipfile.ZipFile(trace) as archive:
        content = b"".join(archive.read(name) for name in archive.namelist())
    assert b"71234567" in content  # the search is in the trace...
    assert b"Clave.2026" not in content  # ...the login is not
