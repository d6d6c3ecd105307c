"""``rpa doctor`` as an administrator runs it: a real process against the mocks, a real Chromium and database.

A healthy world (the mocks after ``rpa zendesk connect``, the database prepared) passes every check; then
each fault a real deployment meets first is named on its own line: a wrong console password, a macro an
administrator renamed, a console down, a wrong Zendesk token. No password ever reaches the output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from flows.engine import durable
from flows.engine.run_store import RunStore
from flows.engine.settings import CONSOLES, Settings
from flows.interfaces.tag_steps import STEP_TAGS
from flows.interfaces.zendesk_account import connect
from flows.process.definition import Macro
from robots.retry import RetryTiming, zendesk_call
from robots.zendesk import FIELD_TITLES, ZendeskClient
from tests.flows.conftest import mocks_env
from tests.flows.scenarios import scenario

SERVE_URL = "http://127.0.0.1:8710"
WRONG_PASSWORD = "Clave-Equivocada-7391"


@pytest.fixture
def healthy(mocks, load_scenario, tmp_path: Path) -> dict[str, str]:
    """The mocks connected to a (notional) ``rpa serve`` and the database prepared: the settings that fit it."""
    load_scenario(scenario())
    settings = Settings(zendesk={"base_url": mocks.urls["zendesk"]}, run_dir=tmp_path / "runs")
    with ZendeskClient(settings.zendesk, zendesk_call(RetryTiming(attempts=1))) as zendesk:
        connection = connect(zendesk, SERVE_URL)
    durable.client(settings)  # DBOS's migrations, as any flow command makes them
    RunStore(settings.store_url()).dispose()
    return {"webhook_signing_secret": connection.signing_secret.get_secret_value(), "serve_url": SERVE_URL}


@pytest.fixture
def doctor(mocks, tmp_path: Path):
    def run(*args: str, **settings: str) -> subprocess.CompletedProcess:
        env = mocks_env(mocks, tmp_path / "runs", tmp_path / "evidence", **settings)
        return subprocess.run([sys.executable, "-m", "flows.interfaces.cli", "doctor", *args], env=env,
                              capture_output=True, text=True, timeout=180, cwd=tmp_path)

    return run


def failures(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("FALLA")]


def test_a_healthy_deployment_passes_every_check(doctor, healthy):
    result = doctor(**healthy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert failures(result.stdout) == []
    lines = result.stdout.splitlines()
    assert lines[-1] == "all checks pass"
    assert result.stderr == ""  # one browser for every console: no driver left behind at exit
    for name in CONSOLES:
        assert any(line.startswith(f"ok     console · {name}: ") for line in lines), name
    # Each macro is found by its exact title and shows what it sets.
    exitosa = next(line for line in lines if Macro.MIGRACION_EXITOSA.value in line)
    assert "sets status solved, Estado de Pedido Acepta::Plan Recomendado" in exitosa
    assert any("Robot: necesita agente" in line for line in lines)  # the view agents take hand-offs from
    assert any(f"calls {SERVE_URL}/zendesk/webhook" in line for line in lines)


def test_json_is_one_object_for_machines(doctor, healthy):
    result = doctor("--json", **healthy)
    assert result.returncode == 0, result.stdout + result.stderr
    diagnosis = json.loads(result.stdout)
    assert diagnosis["ok"] is True
    checks = diagnosis["checks"]
    subjects = {(c["check"], c["subject"]) for c in checks}
    assert {("console", name) for name in CONSOLES} <= subjects
    assert {("macro", m.value) for m in Macro} <= subjects
    assert {("ticket field", t) for t in FIELD_TITLES.values()} <= subjects
    assert {("step macro", t) for t in STEP_TAGS} <= subjects
    assert {("database", "flows"), ("database", "run store"), ("chromium", "browser"), ("zendesk", "token")} <= subjects
    assert all(c["ok"] and c["fix"] is None and c["seconds"] >= 0 for c in checks)


def test_a_wrong_console_password_is_named_and_never_shown(doctor, healthy):
    result = doctor("--json", **healthy, qvantel__password=WRONG_PASSWORD)
    assert result.returncode == 1
    failed = [c for c in json.loads(result.stdout)["checks"] if not c["ok"]]
    assert [(c["check"], c["subject"]) for c in failed] == [("console", "qvantel")]
    assert "refused the user agente.rpa or its password" in failed[0]["detail"]
    assert "RPA_QVANTEL__PASSWORD" in failed[0]["fix"]
    text = doctor(**healthy, qvantel__password=WRONG_PASSWORD)
    for output in (result.stdout, result.stderr, text.stdout, text.stderr):
        assert WRONG_PASSWORD not in output and "Clave.2026" not in output


def test_a_renamed_macro_is_named_with_the_closest_title(doctor, healthy, mocks):
    auth = ("rpa@contactcentre.example/token", "demo-api-token")
    api = mocks.urls["zendesk"] + "/api/v2"
    macros = httpx.get(f"{api}/macros.json", auth=auth).json()["macros"]
    [exitosa] = [m for m in macros if m["title"] == Macro.MIGRACION_EXITOSA.value]
    renamed = Macro.MIGRACION_EXITOSA.value + " (nuevo)"
    rename = f"{api}/macros/{exitosa['id']}.json"
    httpx.put(rename, auth=auth, json={"macro": {"title": renamed}}).raise_for_status()
    try:
        result = doctor(**healthy)
    finally:  # the next test may not load a world of its own
        httpx.put(rename, auth=auth, json={"macro": {"title": exitosa["title"]}}).raise_for_status()
    assert result.returncode == 1
    [line] = failures(result.stdout)
    assert line.startswith(f"FALLA  macro · {Macro.MIGRACION_EXITOSA.value}: no active macro with this exact title")
    assert repr(renamed) in line and "back this exact title" in line


def test_a_console_down_is_named_and_the_other_checks_still_run(doctor, healthy, faults):
    faults("bccs", maintenance_seconds=120)
    result = doctor(**healthy)
    assert result.returncode == 1
    [line] = failures(result.stdout)
    assert line.startswith("FALLA  console · bccs: ") and "cannot be reached" in line and "maintenance" in line
    assert "RPA_BCCS__BASE_URL" in line
    assert sum(line.startswith("ok     macro · ") for line in result.stdout.splitlines()) == len(Macro)


def test_a_wrong_zendesk_token_is_named_and_never_shown(doctor, healthy):
    token = "token-equivocado-5521"
    result = doctor(**healthy, zendesk__api_token=token)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    [token_line] = [line for line in lines if "zendesk · token" in line]
    assert token_line.startswith("FALLA") and "refused the API token" in token_line
    assert "RPA_ZENDESK__API_TOKEN" in token_line
    # The consoles do not depend on Zendesk: they still pass.
    assert all(any(line.startswith(f"ok     console · {name}") for line in lines) for name in CONSOLES)
    assert token not in result.stdout + result.stderr


def test_a_fresh_machine_is_told_to_prepare_its_database_and_secret(doctor, mocks, load_scenario):
    load_scenario(scenario())
    result = doctor("--json")
    assert result.returncode == 1
    failed = {(c["check"], c["subject"]): c for c in json.loads(result.stdout)["checks"] if not c["ok"]}
    assert "rpa worker" in failed[("database", "flows")]["fix"]
    assert "rpa worker" in failed[("database", "run store")]["fix"]
    assert "rpa zendesk connect" in failed[("zendesk", "webhook")]["fix"]
    assert "RPA_WEBHOOK_SIGNING_SECRET" in failed[("webhook secret", "RPA_WEBHOOK_SIGNING_SECRET")]["fix"]


def test_a_webhook_pointing_elsewhere_than_rpa_serve_is_named(doctor, healthy):
    result = doctor("--serve-url", "https://rpa.example.com", **healthy)
    assert result.returncode == 1
    [line] = failures(result.stdout)
    assert line.startswith("FALLA  zendesk · webhook: ")
    assert f"calls {SERVE_URL}/zendesk/webhook, not https://rpa.example.com/zendesk/webhook" in line
    assert "rpa zendesk connect --url https://rpa.example.com" in line
