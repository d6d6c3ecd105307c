"""A worker killed with SIGKILL, then started again: the flow goes on, and AR never migrates twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from flows import engine, operations
from flows.run_store import RunStore
from flows.toolkit import Toolkit

from tests.flows.scenarios import LINE, scenario

TICKET = 2001


@pytest.fixture
def worker_env(mocks, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "RPA_RUN_DIR": str(tmp_path / "runs"), "RPA_EVIDENCE_DIR": str(tmp_path / "evidence"),
           "RPA_EXECUTOR_ID": "crash-test", "RPA_RETRY__FIRST_WAIT_SECONDS": "0.01",
           "RPA_RETRY__MAX_WAIT_SECONDS": "0.05", "RPA_PROCESS__CUSTOMER_REPLY_SECONDS": "20",
           "RPA_PROCESS__TOKEN_REPLY_SECONDS": "20", "RPA_PROCESS__AGENT_REVIEW_SECONDS": "20",
           "RPA_PROCESS__WATCH_INTERVAL_SECONDS": "0.1", "RPA_LOG_LEVEL": "WARNING"}
    for name in ("planificate", "qvantel", "ar", "bccs", "contrato", "syshelp", "impuestos", "zendesk"):
        env[f"RPA_{name.upper()}__BASE_URL"] = mocks.urls[name]
    return env


class WorkerProcess:
    """``rpa worker`` as its own process group, so a kill takes its Chromium down with it."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "flows.cli", "worker"], env=env, cwd=cwd,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(condition, timeout: float = 90, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"waited {timeout} s for {what}")


def flow_status(client, flow_id: str) -> str | None:
    found = client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
    return found[0].status if found else None


@pytest.fixture
def settings(flow_settings, worker_env):
    return flow_settings.model_copy(update={"run_dir": Path(worker_env["RPA_RUN_DIR"])})


def start_flow(settings) -> tuple[str, object]:
    client = engine.client(settings)
    with Toolkit(settings) as toolkit:
        flow_id = operations.start(client, toolkit.zendesk, TICKET)
    return flow_id, client


def test_kill_inside_the_migration_step_migrates_exactly_once(load_scenario, faults, world_state, worker_env,
                                                              settings, tmp_path):
    load_scenario(scenario())
    faults("ar", latency_ms=700)  # AR is slow: the kill lands between its migration and the answer
    first = WorkerProcess(worker_env, tmp_path)
    try:
        flow_id, client = start_flow(settings)
        wait_for(lambda: world_state()["lines"][LINE]["migrations"] == 1, what="AR to migrate the line")
        first.kill()
        store = RunStore(settings.store_url())
        assert store.has_fence(flow_id, "ar-migration")
        [step] = [s for s in store.steps(flow_id) if s.name == "migrate_once"]
        assert step.ended_at is None, "the kill must land inside the migration step"
        second = WorkerProcess(worker_env, tmp_path)
        try:
            assert wait_for(lambda: flow_status(client, flow_id) in ("SUCCESS", "ERROR") and
                            flow_status(client, flow_id), what="the flow to finish") == "SUCCESS"
        finally:
            second.stop()
        world = world_state()
        assert world["lines"][LINE]["migrations"] == 1
        assert world["lines"][LINE]["plan_type"] == "Pospago"
        assert store.flow(flow_id).outcome == "migrated"
        steps = client.list_workflow_steps(flow_id)
        [migration] = [s for s in steps if s["function_name"] == "migrate_once"]
        assert migration["output"].reconciled is True and migration["output"].outcome == "migrated"
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
            assert wait_for(lambda: flow_status(client, flow_id) in ("SUCCESS", "ERROR") and
                            flow_status(client, flow_id), what="the flow to finish") == "SUCCESS"
        finally:
            second.stop()
        assert store.flow(flow_id).outcome == "migrated"
        assert world_state()["lines"][LINE]["migrations"] == 1
        client.destroy()
        store.dispose()
    finally:
        first.stop()
