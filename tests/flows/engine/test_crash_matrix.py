"""The crash matrix: every write of the process, with its worker killed (SIGKILL) twice at that write.

Once while the console holds the request before committing it, once after it committed and before it
answered (the mocks' hold fault makes both moments certain). Each time a worker starts again: on the
embedded default the same machine comes back; on PostgreSQL another worker takes the flow over
(``rpa flow recover``) and a new one joins. Checked from outside, against the regression catalogue's own
expectations for the scenario: one record of each write in the console, the macros the customer got are
exactly the branch's (nothing said twice, nothing false), and the flow ends on its branch.

A scenario is run once with all its kills chained, write after write, so the matrix costs one flow per
scenario plus a worker start per kill.
"""

from __future__ import annotations

import copy
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from flows.devtools.regress import check, load_catalogue
from flows.engine import durable as engine
from flows.engine.run_store import RunStore
from flows.engine.toolkit import Toolkit
from flows.interfaces import operations

from tests.flows.conftest import WORKER_PROCESS, WorkerProcess, flow_end, wait_for

CATALOGUE = load_catalogue()


@dataclass(frozen=True)
class Write:
    """One write of the process: the request that makes it, and how many of it the world must hold."""

    name: str
    portal: str
    method: str
    path: str
    #: Arm the hold only once this step of the flow has started (for a request path several writes share).
    after_step: str | None = None


MACRO = Write("macro", "zendesk", "PUT", "/api/v2/tickets/{id}")
NOTE = Write("evidence note", "zendesk", "PUT", "/api/v2/tickets/{id}", after_step="preanalysis")
CONFIRM = Write("confirm line", "qvantel", "POST", "/linea/confirmar")
TOKEN = Write("token", "ar", "POST", "/token")
MIGRATION = Write("migration", "ar", "POST", "/migracion")
CONTRACT = Write("contract", "contrato", "POST", "/contratos")
BILLING = Write("billing", "bccs", "POST", "/facturacion")
ANALYSIS = Write("send to analysis", "contrato", "POST", "/contratos/{number}/enviar")
ANSWER = Write("answer task", "contrato", "POST", "/tareas/{number}/responder")
DISMISS = Write("dismiss task", "contrato", "POST", "/tareas/{number}/desestimar")
DERIVATION = Write("syshelp derivation", "syshelp", "POST", "/tickets")
#: Armed right after the derivation's kills: the next ticket update the flow makes is its reply (1 b).
REPLY = Write("public reply", "zendesk", "PUT", "/api/v2/tickets/{id}")

#: scenario of the catalogue -> the writes killed in it, in the order the flow makes them.
MATRIX: dict[str, list[Write]] = {
    "pending_confirmation": [MACRO, NOTE, CONFIRM, TOKEN, MIGRATION, CONTRACT],
    "billing_third_party": [BILLING],
    "fixable_in_notes": [ANALYSIS, ANSWER],
    "unfixable": [DISMISS],
    "government_syshelp": [DERIVATION, REPLY],
}


def records(world: dict) -> dict[str, int]:
    """How many of each console write the world holds."""
    contrato = world["records"].get("contrato", {})
    tasks = contrato.get("tasks", [])
    return {
        "contracts": len(contrato.get("contracts", [])),
        "tasks": len(tasks),
        "task answers": sum(len(t.get("replies", [])) for t in tasks),
        "billing changes": len(world["records"].get("bccs", {}).get("billing_changes", [])),
        "confirmations": len(world["records"].get("qvantel", {}).get("confirmations", [])),
        "derivations": len(world["records"].get("syshelp", {}).get("tickets", [])),
        "token sms": sum(len(messages) for messages in world.get("sms", {}).values()),
        "migrations": sum(line.get("migrations", 0) for line in world["lines"].values()),
    }


class Machines:
    """The worker processes of one run: one on the embedded default, two on PostgreSQL."""

    def __init__(self, env: dict[str, str], cwd: Path, shared: bool) -> None:
        self.env, self.cwd, self.shared = env, cwd, shared
        self.started = 0
        self.live: list[WorkerProcess] = []
        for _ in range(2 if shared else 1):
            self.add()

    def add(self, ready: bool = True) -> WorkerProcess:
        self.started += 1
        name = f"machine-{self.started}" if self.shared else "machine"
        worker = WorkerProcess({**self.env, "RPA_EXECUTOR_ID": name}, self.cwd)
        worker.executor_id = name  # type: ignore[attr-defined]
        if ready:
            worker.wait_ready()
        self.live.append(worker)
        return worker

    def kill_owner(self, client, flow_id: str) -> None:
        """Kill the worker running the flow; the flow goes on elsewhere (or on the same machine, restarted)."""
        [flow] = client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
        owner = next((w for w in self.live if w.executor_id == flow.executor_id), None)  # type: ignore[attr-defined]
        assert owner is not None, f"the flow runs on {flow.executor_id}, not on a live worker: {flow.status}"
        owner.kill()
        self.live.remove(owner)
        if self.shared:
            recovered = subprocess.run(
                [sys.executable, "-m", "flows.interfaces.cli", "flow", "recover", "--executor", owner.executor_id],  # type: ignore[attr-defined]
                env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=60,
            )
            assert recovered.returncode == 0, recovered.stderr
        # The flow goes on at once: on the same machine started again, or on the live one, while a new
        # machine joins (it is not waited for: the next kill finds the flow's owner among the live ones).
        self.add(ready=False)

    def stop(self) -> None:
        for worker in self.live:
            worker.stop()


#: A held request is answered when its hold ends; by then the worker that sent it is dead.
HOLD_SECONDS = 20


def hold(mocks, write: Write, phase: str) -> None:
    """Arm a hold on the write's next request (holds armed together are used in order)."""
    fault = {"portal": write.portal, "hold": {"method": write.method, "path": write.path, "phase": phase,
                                              "seconds": HOLD_SECONDS}}
    httpx.post(mocks.urls["control"] + "/_control/faults", json=fault, timeout=10).raise_for_status()


def held(mocks, write: Write, phase: str, seen: set[str]) -> dict | None:
    """A request of ``write`` held now in ``phase`` that was not seen before."""
    holds = httpx.get(mocks.urls["control"] + "/_control/holds", timeout=10).json()["holds"]
    for found in holds:
        key = f"{found['portal']} {found['path']} {found['phase']} {found['since']}"
        if found["portal"] == write.portal and found["phase"] == phase and key not in seen:
            seen.add(key)
            return found
    return None


def run_with_kills(name: str, *, env: dict[str, str], settings, mocks, load_scenario, world_state, cwd: Path,
                   shared: bool) -> None:
    scenario = copy.deepcopy(CATALOGUE[name])
    load_scenario(scenario)
    ticket = scenario["expectations"]["ticket"]
    store = RunStore(settings.store_url())
    client = engine.client(settings)
    machines = Machines(env, cwd, shared)
    try:
        with Toolkit(settings) as toolkit:
            flow_id = operations.start(client, toolkit.zendesk, settings, ticket)
        seen: set[str] = set()
        writes = MATRIX[name]
        for index, write in enumerate(writes):
            if write.after_step is not None:
                wait_for(lambda step=write.after_step: any(s.name == step for s in store.steps(flow_id)),
                         timeout=90, what=f"the flow to reach {write.after_step}")
            if index == 0 or write.after_step is not None:
                hold(mocks, write, "before")
            # The write's first request is held before it commits; the worker dies; the next worker makes
            # the write again, and that request is held after it commits; that worker dies too.
            wait_for(lambda w=write: held(mocks, w, "before", seen), timeout=90,
                     what=f"a {write.name} request held before it commits")
            hold(mocks, write, "after")
            machines.kill_owner(client, flow_id)
            wait_for(lambda w=write: held(mocks, w, "after", seen), timeout=90,
                     what=f"a {write.name} request held after it commits")
            following = writes[index + 1] if index + 1 < len(writes) else None
            if following is not None and following.after_step is None:
                # Armed before the kill: a warm worker taking the flow over may reach it within a moment.
                hold(mocks, following, "before")
            machines.kill_owner(client, flow_id)
        httpx.delete(mocks.urls["control"] + "/_control/faults", timeout=10).raise_for_status()
        status = flow_end(client, flow_id, 150, what="the flow to end")
        run = store.flow(flow_id)
        assert status == "SUCCESS", f"{name}: {status} {run}"
        world = world_state()
        failures = check(scenario["expectations"], world, run)
        assert failures == [], f"{name}: {failures}"
        counts = records(world)
        assert counts["migrations"] <= 1 and counts["contracts"] <= 1 and counts["billing changes"] <= 1
        assert counts["derivations"] <= 1 and counts["confirmations"] <= 1 and counts["tasks"] <= 1, counts
        tokens_asked = sum(m in ("sms_ar", "segundo_token") for m in scenario["expectations"]["macros"])
        assert counts["token sms"] == tokens_asked, f"{name}: one token SMS per token the process asks: {counts}"
        steps = store.steps(flow_id)
        assert any(s.runs > 1 for s in steps), "the run store counts the steps that ran again after a kill"
        report = settings.run_dir / "reports" / f"{flow_id}.html"
        assert "ejecutado de nuevo tras una caída" in report.read_text(encoding="utf-8"), "and the report shows them"
    finally:
        machines.stop()
        client.destroy()
        store.dispose()



@pytest.fixture
def settings(flow_settings, worker_env):
    return flow_settings.model_copy(update={"run_dir": Path(worker_env["RPA_RUN_DIR"]), "process": WORKER_PROCESS})


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_every_write_survives_kills_on_the_embedded_default(name, mocks, load_scenario, world_state, worker_env,
                                                            settings, tmp_path):
    run_with_kills(name, env=worker_env, settings=settings, mocks=mocks, load_scenario=load_scenario,
                   world_state=world_state, cwd=tmp_path, shared=False)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_every_write_survives_kills_with_takeover_on_postgres(name, mocks, load_scenario, world_state, worker_env,
                                                              settings, postgres, tmp_path, request):
    url = postgres.create_database(f"rpa_matrix_{name}"[:40])
    env = {**worker_env, "RPA_DATABASE_URL": url}
    run_with_kills(name, env=env, settings=settings.model_copy(update={"database_url": url}), mocks=mocks,
                   load_scenario=load_scenario, world_state=world_state, cwd=tmp_path, shared=True)


def test_a_paused_worker_that_wakes_after_a_takeover_writes_nothing(mocks, load_scenario, world_state, worker_env,
                                                                   settings, postgres, tmp_path):
    """SIGSTOP inside the contract upload; another worker takes the flow over and saves the contract; the
    paused one, woken (SIGCONT) with its request answered, must not save a second one."""
    name = "pending_confirmation"
    scenario = copy.deepcopy(CATALOGUE[name])
    load_scenario(scenario)
    url = postgres.create_database("rpa_matrix_paused")
    env = {**worker_env, "RPA_DATABASE_URL": url}
    settings = settings.model_copy(update={"database_url": url})
    store = RunStore(settings.store_url())
    client = engine.client(settings)
    machines = Machines(env, tmp_path, shared=True)
    try:
        hold(mocks, CONTRACT, "before")
        with Toolkit(settings) as toolkit:
            flow_id = operations.start(client, toolkit.zendesk, settings, scenario["expectations"]["ticket"])
        wait_for(lambda: held(mocks, CONTRACT, "before", set()), timeout=120, what="the contract upload held")
        [flow] = client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
        paused = next(w for w in machines.live if w.executor_id == flow.executor_id)  # type: ignore[attr-defined]
        paused.process.send_signal(signal.SIGSTOP)
        try:
            recovered = subprocess.run(
                [sys.executable, "-m", "flows.interfaces.cli", "flow", "recover", "--executor",
                 paused.executor_id],  # type: ignore[attr-defined]
                env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
            )
            assert recovered.returncode == 0, recovered.stderr
            assert flow_end(client, flow_id, 150, what="the other worker to end the flow") == "SUCCESS"
        finally:
            httpx.delete(mocks.urls["control"] + "/_control/faults", timeout=10).raise_for_status()
            paused.process.send_signal(signal.SIGCONT)
        # The woken worker's request was answered 503; its retry must stop at the ownership check.
        wait_for(lambda: "is now run by" in paused.output.read_text(errors="replace"), timeout=60,
                 what="the woken worker to see it lost the flow")
        world = world_state()
        assert records(world)["contracts"] == 1, records(world)
        assert check(scenario["expectations"], world, store.flow(flow_id)) == []
    finally:
        machines.stop()
        client.destroy()
        store.dispose()
