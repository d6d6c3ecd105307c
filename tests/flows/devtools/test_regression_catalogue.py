"""The regression catalogue: every scenario file with expectations, run as a whole flow and checked.

Each scenario runs against the in-thread mocks, and passes when ``flows.devtools.regress.check`` finds nothing
wrong: the same check ``rpa regress`` makes. Like ``rpa regress``, the scenarios share one worker (one
Chromium, one flow database): launching a browser per scenario would cost more than most branches take,
and each scenario has its own ticket, so its flow is its own. ``check`` itself is tested to fail on a
wrong expectation, and the ACEPTO rule of ``flows.process.replies`` on both sides.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from flows.devtools import regress
from flows.process.definition import Macro
from flows.devtools.regress import CATALOGUE_TIMINGS, Expectations, check, load_catalogue, run_scenario
from flows.process.replies import read_acceptance
from flows.engine.run_store import FlowRun
from flows.engine.settings import Settings
from mock_portals.macro_names import MACROS as CUSTOMER_MACROS
from mock_portals.world import Scenario
from robots.retry import RetryTiming

from flows.engine.settings import CONSOLES
from tests.flows.conftest import RunningWorker

CATALOGUE = load_catalogue()

#: PROCESS.md's branches the issue names, each of which must have its scenario.
REQUIRED = {
    "happy_confirmed", "pending_confirmation", "no_planificate_result", "fr_ro", "other_operator_portability",
    "other_operator_no_interest", "sim_3g", "debt_mp", "not_holder", "token_expired_second_token",
    "second_token_no_answer", "historical_debt", "ar_error_approved", "fixable_in_notes", "fixable_from_customer",
    "unfixable", "government_syshelp", "institution_not_government", "billing_third_party", "silent_first_contact",
    "silent_offer", "silent_tc_then_acepto",
    # Replies read, hand-offs and silences (the customers' issue): each row the process had no scenario for.
    "unclear_offer_clarified", "tyc_unclear_hand_off", "person_requested", "missing_line_hand_off",
    "token_mistyped_then_right", "token_unanswered_first", "token_courtesy_word", "silent_reviewer", "silent_analysts",
    "silent_fix", "silent_tc_after_recontacto", "writes_after_horizon", "nit_asked", "sim_3g_new_line",
    "whatsapp_photos", "console_down_waited_out", "ac_not_lte",
}



@pytest.fixture(scope="module")
def catalogue_worker(mocks, tmp_path_factory) -> Iterator[RunningWorker]:
    """One worker for the whole catalogue, pointed at the in-thread mocks, with ``rpa regress``'s timings."""
    run_dir = tmp_path_factory.mktemp("catalogue")
    settings = Settings(
        **{name: {"base_url": mocks.urls[name]} for name in CONSOLES},
        zendesk={"base_url": mocks.urls["zendesk"]},
        mocks_control_url=mocks.urls["control"],
        retry=RetryTiming(attempts=3, max_seconds=10, first_wait_seconds=0.01, max_wait_seconds=0.05),
        process=CATALOGUE_TIMINGS, run_dir=run_dir / "runs", evidence_dir=run_dir / "evidence",
        executor_id="catalogue-worker",
    )
    worker = RunningWorker(settings, webhooks=True)  # intake by Zendesk's webhook, as deployed
    yield worker
    worker.close()


def test_the_catalogue_covers_every_branch():
    assert REQUIRED <= set(CATALOGUE), sorted(REQUIRED - set(CATALOGUE))


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_scenario(name, catalogue_worker, load_scenario, world_state):
    scenario = CATALOGUE[name]
    Scenario.model_validate(scenario)  # the file is a valid world, not only valid expectations
    worker = catalogue_worker
    result = run_scenario(name, scenario, worker=worker,
                          reset=lambda spec: load_scenario(copy.deepcopy(spec)), world=world_state, timeout=90)
    assert result.failures == [], f"{name}: {result.failures}; {result.customer}"


# -- check ------------------------------------------------------------------------------------------
def _finished_world() -> tuple[dict, dict, FlowRun]:
    """A world and run as a finished FR/RO branch leaves them."""
    expectations = copy.deepcopy(CATALOGUE["fr_ro"]["expectations"])
    titles = [Macro.PRIMER_CONTACTO, Macro.GESTION, Macro.RECHAZO_FR_RO, Macro.DESPEDIDA]
    world = {
        "tickets": {"3004": {
            "status": "solved", "requester_id": 1005, "custom_fields": {"360001000001": "no_clasifica__otro"},
            "macros_applied": [t.value for t in titles],
            "comments": [
                {"body": "Hola", "public": True, "author_id": 1005},
                {"body": "[Evidencia RPA] Preanálisis Planifícate - línea 71234567\nFR", "public": False,
                 "author_id": 1},
                {"body": "Gracias por comunicarte con nosotros.", "public": True, "author_id": 1},
            ],
        }},
        "lines": {"71234567": {"plan_type": "Prepago", "plan": "Prepago Total", "migrations": 0, "confirmed": True}},
        "records": {},
    }
    run = FlowRun(flow_id="migration-3004", ticket_id=3004, kind="migration", started_at="2026-01-01T00:00:00Z",
                  updated_at="2026-01-01T00:00:00Z", state="ended", outcome="rechazo_fr_ro")
    return expectations, world, run


def test_check_passes_a_world_that_meets_its_expectations():
    expectations, world, run = _finished_world()
    assert check(expectations, world, run) == []


@pytest.mark.parametrize("change, failure", [
    (lambda e, w, r: e.update(outcome="migrated"), "outcome"),
    (lambda e, w, r: e.update(status="pending"), "ticket status"),
    (lambda e, w, r: e.update(order_state="No califica::Mora"), "Estado de Pedido"),
    (lambda e, w, r: e.update(macros=["primer_contacto", "gestion", "rechazo_fr_ro"]), "macros"),
    (lambda e, w, r: e.update(evidence_notes=["Preanálisis Planifícate", "Estado de la línea"]), "evidence notes"),
    (lambda e, w, r: w["tickets"]["3004"]["comments"][1].update(public=True), "public"),
    (lambda e, w, r: e["world"].update(migrated=True), "not migrated"),
    (lambda e, w, r: w["lines"]["71234567"].update(migrations=2, plan_type="Pospago"), "migrated 2 times"),
    (lambda e, w, r: e["world"].update(contract="impreso"), "contract"),
    (lambda e, w, r: e["world"].update(syshelp_derivation=True), "Syshelp"),
    (lambda e, w, r: e["world"].update(billing_changed_to="Comercial Andina S.R.L."), "billing"),
    (lambda e, w, r: e.update(replies_contain=["Bs 1.250,50"]), "public reply"),
    (lambda e, w, r: setattr(r, "state", "failed"), "flow state"),
    (lambda e, w, r: w["tickets"]["3004"]["comments"].pop(), "without a macro or a note"),
    (lambda e, w, r: e.update(robot_notes=["El robot necesita un agente"]), "no robot note"),
])
def test_check_fails_on_a_wrong_expectation(change, failure):
    expectations, world, run = _finished_world()
    change(expectations, world, run)
    failures = check(expectations, world, run)
    assert failures and failure in failures[0], failures


def test_check_reports_a_flow_that_never_ran():
    expectations, world, _ = _finished_world()
    assert check(expectations, world, None) == ["no flow ran for ticket 3004"]


def test_expectations_reject_an_unknown_macro_name():
    expectations, _, _ = _finished_world()
    expectations["macros"] = ["primer_contacto", "saludo"]
    with pytest.raises(ValueError, match="unknown macro 'saludo'"):
        Expectations.model_validate(expectations)


def test_macro_short_names_are_the_customer_scripts_keys():
    assert {short: macro.value for short, macro in regress.MACRO_SHORT_NAMES.items()} == CUSTOMER_MACROS


# -- the ACEPTO rule (flows.process.replies) ------------------------------------------------------------------
@pytest.mark.parametrize("message", ["ACEPTO", "acepto", " Acepto. ", "Acepto!"])
def test_acepto_is_acceptance(message):
    assert read_acceptance(message).value is True


@pytest.mark.parametrize("message", ["no acepto", "acepto?", "ACEPTÓ", "acepto pero…", "Acepto pero quiero otro plan",
                                     "", "ACEPTO ACEPTO", "sí"])
def test_anything_else_is_not_acceptance(message):
    assert read_acceptance(message).value is not True


def test_regress_refuses_an_unknown_scenario_before_starting_anything(capsys):
    assert regress.regress_command("no_such_branch") == 2
    out = capsys.readouterr().out
    assert "no scenario named 'no_such_branch'" in out and "happy_confirmed" in out
