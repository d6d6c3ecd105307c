"""A macro is applied once per visit, even when its step runs again after a crash."""

from __future__ import annotations

from dbos import DBOS, SetWorkflowID
from robots.zendesk import MacroResult

from flows.process.activities import MigrationActivities
from flows.process.definition import Macro

from tests.flows.scenarios import scenario

TICKET = 2001
VISIT = "macro:GESTION#1"

#: The worker's activities, for the probe flow below (a test's own flow has no deployment of its own).
_bound: list[MigrationActivities] = []


@DBOS.workflow(name="macro_once_probe")
def apply_gestion(ticket_id: int, visit: str) -> MacroResult:
    return _bound[-1].apply_macro(ticket_id, Macro.GESTION.value, visit)


def run_probe(flow_id: str, visit: str = VISIT) -> MacroResult:
    with SetWorkflowID(flow_id):
        return DBOS.start_workflow(apply_gestion, TICKET, visit).get_result()


def macros_on_ticket(world_state) -> list[str]:
    return world_state()["tickets"][str(TICKET)]["macros_applied"]


def bind(worker) -> None:
    _bound.append(next(i for i in worker.worker.engine.instances if isinstance(i, MigrationActivities)))


def test_a_step_run_again_after_saving_its_macro_does_not_send_it_twice(load_scenario, start_worker, world_state):
    load_scenario(scenario(replies={}))
    worker = start_worker()
    bind(worker)
    # The first run of the step committed its fence and saved the macro, then the runner died.
    assert worker.store.set_write_fence(TICKET, VISIT, detail=Macro.GESTION.value)
    saved = worker.zendesk.apply_macro(TICKET, Macro.GESTION.value)
    assert macros_on_ticket(world_state).count(Macro.GESTION) == 1

    again = run_probe("probe-crashed")
    assert macros_on_ticket(world_state).count(Macro.GESTION) == 1
    assert again.comment_id == saved.comment_id and again.status == "open"


def test_a_step_run_again_before_saving_its_macro_sends_it(load_scenario, start_worker, world_state):
    load_scenario(scenario(replies={}))
    worker = start_worker()
    bind(worker)
    # The fence was committed but the runner died before the macro was saved: nothing on the ticket.
    assert worker.store.set_write_fence(TICKET, VISIT, detail=Macro.GESTION.value)
    run_probe("probe-early")
    assert macros_on_ticket(world_state).count(Macro.GESTION) == 1
    run_probe("probe-next", visit="macro:GESTION#2")  # the next visit applies it again, as it should
    assert macros_on_ticket(world_state).count(Macro.GESTION) == 2
