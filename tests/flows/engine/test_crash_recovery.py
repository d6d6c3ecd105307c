"""A worker killed with SIGKILL, then started again: the flow goes on, and AR never migrates twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.engine import durable as engine
from flows.interfaces import operations
from flows.engine.run_store import RunStore
from flows.engine.toolkit import Toolkit
from tests.flows.conftest import WORKER_PROCESS, WorkerProcess, flow_end, wait_for
from tests.flows.scenarios import LINE, scenario

TICKET = 2001



@pytest.fixture
def settings(flow_settings, worker_env):
    return flow_settings.model_copy(update={"run_dir": Path(worker_env["RPA_RUN_DIR"]), "process": WORKER_PROCESS})


def start_flow(settings) -> tuple[str, object]:
    client = engine.client(settings)
    with Toolkit(settings) as toolkit:
        flow_id = operations.start(client, toolkit.zendesk, settings, TICKET)
    return flow_id, client


def test_kill_inside_the_migration_step_migrates_exactly_once(load_scenario, faults, world_state, worker_env,
                                                              settings, tmp_path):
    load_scenario(scenario())
    # AR answers the migration late (its result screen renders seconds after the line is migrated), so the
    # kill lands between the migration and the robot reading its answer, whatever the machine's speed.
    faults("ar", late_render_ms=2500)
    first = WorkerProcess(worker_env, tmp_path)
    try:
        flow_id, client = start_flow(settings)
        wait_for(lambda: world_state()["lines"][LINE]["migrations"] == 1, what="AR to migrate the line")
        first.kill()
        store = RunStore(settings.store_url())
        assert store.write_fence_time(TICKET, "ar-migration") is not None
        [step] = [s for s in store.steps(flow_id) if s.name == "migrate_once"]
        assert step.ended_at is None, "the kill must land inside the migration step"
        second = WorkerProcess(worker_env, tmp_path)
        try:
            assert flow_end(client, flow_id, what="the flow to finish") == "SUCCESS"
        finally:
            second.stop()
        world = world_state()
        assert world["lines"][LINE]["migrations"] == 1
        assert world["lines"][LINE]["plan_type"] == "Pospago"
        assert store.flow(flow_id).outcome == "migrated"
        steps = client.list_workflow_steps(flow_id)
        [migration] = [s for s in steps if s["function_name"] == "migrate_once"]
        assert migration["output"].reconciled is True and migration["output"].migrated
        client.destroy()
        store.dispose()
    finally:
        first.stop()


def test_kill_while_waiting_for_the_customer_loses_nothing(load_scenario, world_state, worker_env, settings,
                                                           tmp_path):
    spec = scenario()
    spec["tickets"][0]["customer"]["replies"]["tyc"] = {"text": "ACEPTO", "delay_seconds": 3}
    load_scenario(spec)
    first = WorkerProcess(worker_env, tmp_path)
    try:
        flow_id, client = start_flow(settings)
        store = RunStore(settings.store_url())
        wait_for(lambda: (store.flow(flow_id) or None) and store.flow(flow_id).waiting_for == "cliente: ACEPTO",
                 what="the flow to wait for ACEPTO")
        first.kill()
        # The customer answers while no worker runs; the next worker picks the answer up from the ticket.
        wait_for(lambda: any(c["body"] == "ACEPTO" for c in world_state()["tickets"][str(TICKET)]["comments"]),
                 what="the customer's ACEPTO")
        second = WorkerProcess(worker_env, tmp_path)
        try:
            assert flow_end(client, flow_id, what="the flow to finish") == "SUCCESS"
        finally:
            second.stop()
        assert store.flow(flow_id).outcome == "migrated"
        assert world_state()["lines"][LINE]["migrations"] == 1
        client.destroy()
        store.dispose()
    finally:
        first.stop()
