"""A macro is applied once per visit, even when its step runs again after a crash."""

from __future__ import annotations

from dbos import DBOS, SetWorkflowID

from flows.process import activities as act
from flows.process.activities import run
from flows.process.definition import Macro

from tests.flows.scenarios import scenario

TICKET = 2001


@DBOS.workflow(name="macro_once_probe")
def apply_gestion(ticket_id: int) -> act.MacroApplied:
    return run(act.apply_macro, ticket_id, Macro.GESTION.value)


def run_probe(flow_id: str) -> act.MacroApplied:
    with SetWorkflowID(flow_id):
        return DBOS.start_workflow(apply_gestion, TICKET).get_result()


def macros_on_ticket(world_state) -> list[str]:
    return world_state()["tickets"][str(TICKET)]["macros_applied"]


def test_a_step_run_again_after_saving_its_macro_does_not_send_it_twice(load_scenario, start_worker, world_state):
    load_scenario(scenario(replies={}))
    worker = start_worker()
    zendesk = worker.worker.runtime.toolkit.zendesk
    # The first run of the step committed its mark and saved the macro, then the runner died.
    assert worker.store.set_fence("probe-crashed", "macro-1", detail=Macro.GESTION.value)
    saved = zendesk.apply_macro(TICKET, Macro.GESTION.value)
    assert macros_on_ticket(world_state).count(Macro.GESTION) == 1

    again = run_probe("probe-crashed")
    assert macros_on_ticket(world_state).count(Macro.GESTION) == 1
    assert again.comment_id == saved.comment_id and again.status == "open"


def test_a_step_run_again_before_saving_its_macro_sends_it(load_scenario, start_worker, world_state):
    load_scenario(scenario(replies={}))
    worker = start_worker()
    # The mark was committed but the runner died before the macro was saved: nothing on the ticket.
    assert worker.store.set_fence("probe-early", "macro-1", detail=Macro.GESTION.value)
    run_probe("probe-early")
    assert macros_on_ticket(world_state).count(Macro.GESTION) == 1
    run_probe("probe-fresh")  # another visit (another flow) applies it again, as it should
    assert macros_on_ticket(world_state).count(Macro.GESTION) == 2
