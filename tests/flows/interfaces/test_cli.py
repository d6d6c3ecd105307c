"""The ``rpa`` command as an agent runs it: a real process, real mocks, real Chromium."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.flows.conftest import mocks_env
from tests.flows.scenarios import CI, LINE, scenario

TICKET = 2001


@pytest.fixture
def rpa(mocks, tmp_path: Path):
    env = mocks_env(mocks, tmp_path / "runs", tmp_path / "evidence")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flows.interfaces.cli", *args], env=env, capture_output=True,
                              text=True, timeout=120, cwd=tmp_path)

    run.evidence = tmp_path / "evidence"  # type: ignore[attr-defined]
    return run


def ticket_comments(world: dict, ticket: int = TICKET) -> list[dict]:
    return world["tickets"][str(ticket)]["comments"]


def internal_notes(world: dict) -> list[dict]:
    return [c for c in ticket_comments(world) if not c["public"]]


@pytest.fixture
def seeded(load_scenario):
    load_scenario(scenario(line={"confirmed": False}, fields={"billing_name": "Gobernación de La Paz",
                                                              "billing_nit": "1020304050"},
                           taxpayers=[{"nit": "1020304050", "name": "Gobierno Autónomo Departamental de La Paz",
                                       "kind": "government"}],
                           customers=[{"ci": CI, "name": "María", "historical_debt": 1250.5,
                                       "debt_detail": "Factura impaga 2023"}], replies={}))


def test_preanalysis_posts_an_internal_note_and_keeps_the_file(rpa, seeded, world_state):
    result = rpa("step", "preanalysis", "--ticket", str(TICKET))
    assert result.returncode == 0, result.stderr
    assert "estado AC" in result.stdout
    [note] = internal_notes(world_state())
    assert note["body"].startswith("[Evidencia RPA] Preanálisis Planifícate") and note["attachment_ids"]
    files = list((rpa.evidence / f"ticket-{TICKET}").glob("preanalysis-*.png"))
    assert len(files) == 1 and files[0].with_suffix(".png.json").exists()


def test_repeating_a_step_with_the_same_evidence_posts_nothing_twice(rpa, seeded, world_state):
    first = json.loads(rpa("step", "line-status", "--ticket", str(TICKET), "--json").stdout)
    assert first["note"]["posted"] is True and first["result"]["confirmed"] is False


def test_confirm_line_changes_the_world_and_posts_the_confirmed_line(rpa, seeded, world_state):
    result = rpa("step", "confirm-line", "--ticket", str(TICKET), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["result"]["outcome"] == "confirmed"
    world = world_state()
    assert world["lines"][LINE]["confirmed"] is True
    assert internal_notes(world)[0]["body"].startswith("[Evidencia RPA] Línea confirmada en Qvantel")


@pytest.mark.parametrize("args, message", [
    (["--ticket", "999"], "Not found"),
    (["--ticket", "0"], "must be positive"),
])
def test_bad_ticket_is_refused_and_changes_nothing(rpa, seeded, world_state, args, message):
    before = world_state()
    result = rpa("step", "preanalysis", *args)
    assert result.returncode == 2
    assert message.lower() in result.stderr.lower()
    assert world_state()["tickets"] == before["tickets"]


def test_ticket_without_line_or_with_a_malformed_one(rpa, load_scenario, world_state):
    load_scenario(scenario(fields={"line": None}))
    result = rpa("step", "preanalysis", "--ticket", str(TICKET))
    assert result.returncode == 2 and "no line to migrate" in result.stderr
    load_scenario(scenario(fields={"line": "12345"}))
    result = rpa("step", "line-status", "--ticket", str(TICKET))
    assert result.returncode == 2 and "not a mobile line number" in result.stderr and "Línea a migrar" in result.stderr
    assert internal_notes(world_state()) == []


def test_portal_down_is_a_failure_exit_1(rpa, seeded, faults):
    faults("planificate", fail_next=1000)
    result = rpa("step", "preanalysis", "--ticket", str(TICKET))
    assert result.returncode == 1 and "HTTP 500" in result.stderr


def test_token_then_migrate_once(rpa, seeded, mocks, world_state):
    assert rpa("step", "token", "--ticket", str(TICKET)).returncode == 0
    sms = httpx.get(f"{mocks.urls['control']}/_control/sms/{LINE}").json()["messages"][-1]["text"]
    code = next(word.strip(".") for word in sms.split() if word.strip(".").isupper() and len(word.strip(".")) == 6)
    result = rpa("step", "migrate", "--ticket", str(TICKET), "--token", code, "--plan", "Mega Plan 69", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["result"]["outcome"] == "migrated"
    again = rpa("step", "migrate", "--ticket", str(TICKET), "--token", code, "--plan", "Mega Plan 69")
    assert again.returncode == 0 and "no se migra otra vez" in again.stdout
    assert world_state()["lines"][LINE]["migrations"] == 1


def test_debt_nit_billing_and_derivation(rpa, seeded, world_state):
    debt = rpa("step", "debt", "--ticket", str(TICKET))
    assert debt.returncode == 0 and "1.250,50" in debt.stdout
    nit = rpa("step", "nit", "--ticket", str(TICKET), "--json")
    assert json.loads(nit.stdout)["result"]["is_government"] is True
    billing = rpa("step", "billing", "--ticket", str(TICKET))
    assert billing.returncode == 0, billing.stderr
    derive = rpa("step", "derive", "--ticket", str(TICKET), "--email", "compras@gobernacion.gob.bo", "--json")
    assert derive.returncode == 0, derive.stderr
    assert json.loads(derive.stdout)["result"]["subtipo"] == "Ejecutivos Gobierno"
    world = world_state()
    assert world["lines"][LINE]["billing_name"] == "Gobernación de La Paz"
    assert len(world["records"]["syshelp"]["tickets"]) == 1
    titles = [n["body"].splitlines()[0] for n in internal_notes(world)]
    assert len(titles) == 4 and all(t.startswith("[Evidencia RPA]") for t in titles)
    bad = rpa("step", "derive", "--ticket", str(TICKET), "--email", "no-es-correo")
    assert bad.returncode == 2


def test_contract_gathers_backups_from_the_notes_and_prints_the_pdf(rpa, seeded, mocks, world_state):
    for step in ("preanalysis", "confirm-line"):
        assert rpa("step", step, "--ticket", str(TICKET)).returncode == 0
    missing = rpa("step", "contract", "--ticket", str(TICKET), "--plan", "Mega Plan 69")
    assert missing.returncode == 2 and "CI" in missing.stderr  # no photos yet: the portal refuses
    httpx.post(f"{mocks.urls['control']}/_control/tickets/{TICKET}/customer_message",
               json={"body": "Mis fotos", "documents": True}).raise_for_status()
    result = rpa("step", "contract", "--ticket", str(TICKET), "--plan", "Mega Plan 69", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "5 respaldos" in report["summary"]
    [pdf_note] = [n for n in internal_notes(world_state()) if "Contrato digital" in n["body"]]
    world = world_state()
    [attachment] = [world["attachments"][str(i)] for i in pdf_note["attachment_ids"]]
    assert attachment["content_type"] == "application/pdf"


def test_mocks_serve_prints_addresses_and_stops_on_sigterm(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "flows.interfaces.cli", "mocks", "serve", "--free-ports"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        urls = json.loads(process.stdout.readline())
        assert set(urls) >= {"zendesk", "planificate", "qvantel", "control"}
        assert httpx.get(urls["planificate"] + "/login").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_mocks_serve_refuses_a_missing_scenario(tmp_path):
    result = subprocess.run([sys.executable, "-m", "flows.interfaces.cli", "mocks", "serve", "--scenario", "nada.yaml"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and "not found" in result.stderr
    time.sleep(0)


def test_identifiers_are_normalised_or_refused_before_anything_is_touched(rpa, load_scenario, world_state):
    load_scenario(scenario(fields={"line": "+591 7123-4567"}, replies={}))
    result = rpa("step", "preanalysis", "--ticket", str(TICKET))
    assert result.returncode == 0, result.stderr
    assert f"línea {LINE}" in internal_notes(world_state())[0]["body"]
    # A CI that Qvantel would take but BCCS would refuse is refused at the start, naming the field.
    load_scenario(scenario(fields={"holder_ci": "E-1234567"}, replies={}))
    for args in (["step", "line-status"], ["flow", "start", "migration"]):
        result = rpa(*args, "--ticket", str(TICKET))
        assert result.returncode == 2 and "CI del titular" in result.stderr, result.stdout + result.stderr
        assert "1234567" not in result.stderr, "a CI is personal data: the message masks it"
    assert internal_notes(world_state()) == []
