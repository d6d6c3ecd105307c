"""``rpa flow`` as a person uses it: start (once per ticket), status, list, send, retry after a failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flows.process.definition import Macro

from tests.flows.conftest import mocks_env, wait_for
from tests.flows.scenarios import LINE, scenario

TICKET = 2001


@pytest.fixture
def rpa_flow(flow_settings, mocks, tmp_path: Path):
    timings = {f"PROCESS__{k.upper()}": str(v) for k, v in flow_settings.process.model_dump().items()}
    env = mocks_env(mocks, flow_settings.run_dir, tmp_path / "evidence", **timings)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flows.interfaces.cli", *args], env=env, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)

    return run


def test_start_is_idempotent_and_status_follows_the_flow(load_scenario, start_worker, rpa_flow, world_state):
    load_scenario(scenario())
    worker = start_worker()
    first = rpa_flow("flow", "start", "migration", "--ticket", str(TICKET))
    again = rpa_flow("flow", "start", "migration", "--ticket", str(TICKET))
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert "migration-2001" in first.stdout and "migration-2001" in again.stdout
    assert worker.wait_until_done("migration-2001") == "SUCCESS"
    status = json.loads(rpa_flow("flow", "status", "--ticket", str(TICKET), "--json").stdout)
    assert status["engine_status"] == "SUCCESS" and status["run"]["outcome"] == "migrated"
    assert [s["name"] for s in status["steps"]].count("preanalysis") == 1
    listing = json.loads(rpa_flow("flow", "list", "--json").stdout)
    assert [(run["flow_id"], run["outcome"]) for run in listing] == [("migration-2001", "migrated")]
    report = rpa_flow("report", "--ticket", str(TICKET))
    assert report.returncode == 0 and Path(report.stdout.strip()).is_file()
    assert world_state()["tickets"][str(TICKET)]["macros_applied"].count(Macro.MIGRACION_EXITOSA) == 1


@pytest.mark.parametrize("args, message", [
    (["flow", "start", "migration", "--ticket", "999"], "Not found"),
    (["flow", "start", "otra", "--ticket", "2001"], "unknown flow"),
    (["flow", "status", "--ticket", "2001"], "no flow for ticket 2001"),
    (["flow", "send", "--ticket", "2001", "saludo"], "unknown message kind"),
    (["flow", "retry", "--ticket", "2001"], "no flow for ticket 2001"),
])
def test_bad_input_is_refused_with_exit_2(load_scenario, rpa_flow, args, message):
    load_scenario(scenario())
    result = rpa_flow(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message.lower() in result.stderr.lower()


def test_a_person_answers_for_the_customer_with_send(load_scenario, start_worker, rpa_flow, world_state,
                                                     flow_settings):
    replies = scenario()["tickets"][0]["customer"]["replies"]
    replies["tyc"] = {"silent": True}  # the customer answers by phone; the agent types it
    load_scenario(scenario(replies=replies))
    worker = start_worker()
    # Waits long enough for a person at a terminal (a busy machine starts `rpa` in seconds, not instantly).
    worker.settings = flow_settings.model_copy(
        update={"process": flow_settings.process.model_copy(update={"customer_reply_seconds": 60})})
    worker.start_flow(TICKET)
    wait_for(lambda: (run := worker.store.flow("migration-2001")) is not None and run.waiting_for == "cliente: ACEPTO",
             what="the flow to wait for ACEPTO")
    sent = rpa_flow("flow", "send", "--ticket", str(TICKET), "customer", "ACEPTO")
    assert sent.returncode == 0, sent.stderr
    assert worker.wait_until_done("migration-2001") == "SUCCESS"
    assert worker.store.flow("migration-2001").outcome == "migrated"


def test_a_person_cannot_make_a_write_of_a_live_flow_by_hand(load_scenario, start_worker, rpa_flow, world_state,
                                                             flow_settings):
    replies = scenario()["tickets"][0]["customer"]["replies"]
    replies["primer_contacto"] = {"silent": True}
    spec = scenario(replies=replies)
    spec["tickets"][0]["customer"]["sms_wait_seconds"] = 600  # a busy machine may take a while to send it
    load_scenario(spec)
    worker = start_worker()
    patient = flow_settings.model_copy(
        update={"process": flow_settings.process.model_copy(update={"customer_reply_seconds": 120})})
    worker.settings = patient
    worker.start_flow(TICKET)
    wait_for(lambda: (run := worker.store.flow("migration-2001")) is not None and run.state == "waiting",
             what="the flow to wait for its customer")
    # The flow sends the token itself, when its customer gets there: by hand it is refused, nothing sent...
    token = rpa_flow("step", "token", "--ticket", str(TICKET))
    assert token.returncode == 2 and "live flow" in token.stderr, token.stdout + token.stderr
    assert world_state()["sms"] == {}, "no SMS went out"
    # ...while a step that only reads is run.
    assert rpa_flow("step", "migration-state", "--ticket", str(TICKET)).returncode == 0
    # The customer answers at last; the flow makes the write itself, once.
    assert rpa_flow("flow", "send", "--ticket", str(TICKET), "customer",
                    "Hola, soy María Fernanda Rojas, CI 6543210, de La Paz, la línea 71234567").returncode == 0
    assert worker.wait_until_done("migration-2001") == "SUCCESS"
    assert len(world_state()["sms"]["71234567"]) == 1


def _ticket(world: dict) -> dict:
    return world["tickets"][str(TICKET)]


def _patient_customer() -> dict:
    """A scenario whose customer waits as long as it takes for the token SMS (AR is down for a while)."""
    spec = scenario()
    spec["tickets"][0]["customer"]["sms_wait_seconds"] = 600
    return spec


def _robot_notes(world: dict) -> list[str]:
    return [c["body"] for c in _ticket(world)["comments"] if not c["public"] and c["body"].startswith("El robot")]


def test_a_console_down_is_waited_out_then_handed_to_an_agent(load_scenario, faults, start_worker, rpa_flow,
                                                             world_state):
    """AR down past the robot's quick retries: the flow waits for it (visible in ``rpa flow status``), and
    past the outage horizon asks an agent; once AR is back, the agent's ``continue`` finishes the migration."""
    load_scenario(_patient_customer())
    faults("ar", fail_next=100_000)
    worker = start_worker()
    assert rpa_flow("flow", "start", "migration", "--ticket", str(TICKET)).returncode == 0
    wait_for(lambda: (run := worker.store.flow("migration-2001")) is not None and run.waiting_for == "consola: ar",
             timeout=90, what="the flow to wait for AR")
    # Between its pauses the flow tries AR again (running): the status shows the wait during a pause.
    wait_for(lambda: "consola: ar" in rpa_flow("flow", "status", "--ticket", str(TICKET)).stdout, timeout=30,
             what="rpa flow status to show the wait for AR")
    wait_for(lambda: worker.store.flow("migration-2001").waiting_kind == "agent", timeout=60,
             what="the outage to be handed to an agent")
    world = world_state()
    assert "rpa_necesita_agente" in _ticket(world)["tags"] and _ticket(world)["status"] == "open"
    assert any(n.startswith("El robot necesita un agente: que ar vuelva a responder") for n in _robot_notes(world))
    failed = [s for s in worker.store.steps("migration-2001") if s.outcome == "failed"]
    assert failed and all(s.name == "issue_token" for s in failed)
    assert failed[0].attempts == 3 and failed[0].screenshot and Path(failed[0].screenshot).is_file()
    assert failed[0].trace is None  # it failed at AR's login page: no trace, since the login form holds the password
    faults("ar", fail_next=0)
    sent = rpa_flow("flow", "send", "--ticket", str(TICKET), "continue")
    assert sent.returncode == 0, sent.stderr
    assert worker.wait_until_done("migration-2001") == "SUCCESS"
    world = world_state()
    macros = _ticket(world)["macros_applied"]
    assert macros.count(Macro.PRIMER_CONTACTO) == 1 and macros.count(Macro.ENVIO_SMS_AR) == 1
    assert world["lines"][LINE]["migrations"] == 1 and len(world["sms"][LINE]) == 1
    assert "rpa_necesita_agente" not in _ticket(world)["tags"]


def test_a_failed_flow_is_retried_from_where_it_stopped(load_scenario, faults, start_worker, rpa_flow, world_state):
    """Zendesk itself down past the outage horizon when the robot must ask an agent: the flow fails (nobody
    can be asked); ``rpa flow retry`` runs it again from that step, nothing before it repeated."""
    load_scenario(_patient_customer())
    faults("ar", fail_next=100_000)
    worker = start_worker()
    assert rpa_flow("flow", "start", "migration", "--ticket", str(TICKET)).returncode == 0
    wait_for(lambda: (run := worker.store.flow("migration-2001")) is not None and run.waiting_for == "consola: ar",
             timeout=90, what="the flow to wait for AR")
    macros_before = list(_ticket(world_state())["macros_applied"])
    faults("zendesk", fail_next=100_000)
    assert worker.wait_until_done("migration-2001") == "ERROR"
    run = worker.store.flow("migration-2001")
    assert run.state == "failed" and "PortalUnavailable" in run.error
    faults("zendesk", fail_next=0)
    faults("ar", fail_next=0)
    retried = rpa_flow("flow", "retry", "--ticket", str(TICKET))
    assert retried.returncode == 0, retried.stderr
    wait_for(lambda: worker.store.flow("migration-2001").waiting_kind == "agent", timeout=60,
             what="the retried hand-off to wait for an agent")
    assert rpa_flow("flow", "send", "--ticket", str(TICKET), "continue").returncode == 0
    assert worker.wait_until_done("migration-2001") == "SUCCESS"
    world = world_state()
    macros = _ticket(world)["macros_applied"]
    assert macros[:len(macros_before)] == macros_before  # nothing before the failed step ran again
    assert macros.count(Macro.PRIMER_CONTACTO) == 1 and macros.count(Macro.ENVIO_SMS_AR) == 1
    assert world["lines"][LINE]["migrations"] == 1
    assert sum(n.startswith("El robot necesita un agente") for n in _robot_notes(world)) == 1
