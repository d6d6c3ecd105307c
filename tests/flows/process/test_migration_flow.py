"""The whole migration as a durable flow against the mock portals, with the simulated customer."""

from __future__ import annotations

from flows.process.definition import Macro

from tests.flows.scenarios import LINE, scenario


def run_flow(load_scenario, start_worker, world_state, spec: dict, ticket_id: int = 2001):
    load_scenario(spec)
    worker = start_worker()
    flow_id = worker.start_flow(ticket_id)
    status = worker.wait_until_done(flow_id)
    return worker, flow_id, status, world_state()


def test_happy_path_on_a_confirmed_line(load_scenario, start_worker, world_state):
    worker, flow_id, status, world = run_flow(load_scenario, start_worker, world_state, scenario())
    run = worker.store.flow(flow_id)
    assert status == "SUCCESS", run
    assert run.outcome == "migrated"
    ticket = world["tickets"]["2001"]
    assert ticket["macros_applied"] == [
        Macro.PRIMER_CONTACTO, Macro.GESTION, Macro.OFERTA_CONFIRMADA, Macro.GESTION,
        Macro.CONFIRMACION_PLAN_TYC, Macro.ENVIO_SMS_AR, Macro.GESTION, Macro.MIGRACION_EXITOSA, Macro.DESPEDIDA,
    ]
    assert ticket["status"] == "solved"
    line = world["lines"][LINE]
    assert line["plan_type"] == "Pospago" and line["plan"] == "Mega Plan 69" and line["migrations"] == 1

