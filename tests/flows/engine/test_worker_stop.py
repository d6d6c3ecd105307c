"""Stopping a worker (SIGTERM) lets the step it is running finish and be recorded; the flow goes on later."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from flows.engine.run_store import RunStore

from tests.flows.conftest import WORKER_PROCESS, WorkerProcess, flow_end, flow_status, wait_for
from tests.flows.engine.test_crash_recovery import start_flow
from tests.flows.scenarios import LINE, scenario


@pytest.fixture
def settings(flow_settings, worker_env):
    return flow_settings.model_copy(update={"run_dir": Path(worker_env["RPA_RUN_DIR"]), "process": WORKER_PROCESS})


def test_sigterm_inside_the_migration_records_it_and_the_flow_resumes_without_reconciling(
        load_scenario, faults, world_state, worker_env, settings, tmp_path):
    load_scenario(scenario())
    # AR's answer renders seconds after the line is migrated: the stop arrives inside the migration step.
    faults("ar", late_render_ms=2500)
    first = WorkerProcess(worker_env, tmp_path)
    flow_id, client = start_flow(settings)
    store = RunStore(settings.store_url())
    try:
        wait_for(lambda: world_state()["lines"][LINE]["migrations"] == 1, what="AR to migrate the line")
        os.killpg(first.process.pid, signal.SIGTERM)
        assert first.process.wait(timeout=60) == 0, first.output.read_text()
    finally:
        first.stop()
    [step] = [s for s in store.steps(flow_id) if s.name == "migrate_once"]
    assert step.ended_at is not None and step.outcome == "migrated", "the running step was recorded before exit"
    assert flow_status(client, flow_id) == "PENDING", "a stopped worker leaves its flow to the next one"
    output = first.output.read_text()
    assert "Traceback" not in output and "ERROR" not in output, output

    second = WorkerProcess(worker_env, tmp_path)
    try:
        assert flow_end(client, flow_id, what="the flow to finish") == "SUCCESS"
    finally:
        second.stop()
    [migration] = [s for s in client.list_workflow_steps(flow_id) if s["function_name"] == "migrate_once"]
    assert migration["output"].migrated and not migration["output"].reconciled, "the step was not run again"
    assert world_state()["lines"][LINE]["migrations"] == 1
    assert store.flow(flow_id).outcome == "migrated"
    client.destroy()
    store.dispose()
