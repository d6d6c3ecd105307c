"""A flow waiting for its customer costs its worker neither a robot nor a thread.

A worker whose browser runs two steps at once (``flows_per_worker=2``) is given sixty customers who never
answer: every one gets her first contact and is waited for, and the worker's threads stay what two robots
and DBOS need, however many flows wait. The flows stop at the first contact, which is Zendesk work only,
so the test costs a worker start and some Zendesk calls, not a console.
"""

from __future__ import annotations

import copy
from pathlib import Path

from flows.engine import durable
from flows.engine.run_store import RunStore
from flows.engine.toolkit import Toolkit
from flows.interfaces import operations
from flows.process.definition import Macro, WaitKind
from tests.flows.conftest import WORKER_PROCESS, WorkerProcess, flow_status, wait_for
from tests.flows.scenarios import scenario

CUSTOMERS = 60
ROBOTS = 2
FIRST_TICKET = 4001
#: The worker's threads with two robots: the main one, DBOS's event loop, its database threads (bounded by
#: ``durable.DBOS_THREADS``), its listener and queue threads, the browser's owner, the two robots. Sixty
#: sync flows would need sixty more.
THREAD_BOUND = 45


def silent_customers(count: int) -> dict:
    """``count`` customers, each with a line and a ticket of her own, none of whom ever answers."""
    base = scenario(replies={})
    world = {**base, "lines": [], "customers": [], "tickets": []}
    for n in range(count):
        line, ci = f"7{n:07d}", f"9{n:06d}"
        spec = copy.deepcopy(base)
        spec["lines"][0].update(number=line, holder_ci=ci)
        spec["customers"][0].update(ci=ci)
        ticket = spec["tickets"][0]
        ticket.update(id=FIRST_TICKET + n, requester_phone="+591" + line)
        ticket["fields"].update(line=line, holder_ci=ci)
        world["lines"] += spec["lines"]
        world["customers"] += spec["customers"]
        world["tickets"].append(ticket)
    return world


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no thread count for process {pid}")


def test_more_silent_customers_than_robots_all_get_their_first_contact(
    load_scenario, world_state, worker_env, flow_settings, tmp_path
):
    load_scenario(silent_customers(CUSTOMERS))
    timings = WORKER_PROCESS.model_copy(update={"customer_reply_seconds": 600})
    settings = flow_settings.model_copy(update={"run_dir": Path(worker_env["RPA_RUN_DIR"]), "process": timings})
    # Nobody answers: the inbox needs no tenth-of-a-second reads of sixty tickets.
    env = {**worker_env, "RPA_FLOWS_PER_WORKER": str(ROBOTS), "RPA_PROCESS__WATCH_INTERVAL_SECONDS": "2"}
    worker = WorkerProcess(env, tmp_path)
    client = durable.client(settings)
    store = RunStore(settings.store_url())
    peak = 0

    def all_waiting() -> bool:
        nonlocal peak
        peak = max(peak, threads_of(worker.process.pid))
        return len(store.flows_waiting(WaitKind.CUSTOMER.value)) == CUSTOMERS

    try:
        worker.wait_ready()
        with Toolkit(settings) as toolkit:
            flow_ids = [operations.start(client, toolkit.zendesk, settings, FIRST_TICKET + n) for n in range(CUSTOMERS)]
        wait_for(all_waiting, timeout=240, what=f"{CUSTOMERS} flows to wait for their customers")
        peak = max(peak, threads_of(worker.process.pid))
        tickets = world_state()["tickets"]
        assert all(
            tickets[str(FIRST_TICKET + n)]["macros_applied"] == [Macro.PRIMER_CONTACTO] for n in range(CUSTOMERS)
        )
        assert {flow_status(client, flow_id) for flow_id in flow_ids} == {"PENDING"}
        assert peak < THREAD_BOUND, f"{peak} threads for {CUSTOMERS} waiting flows on {ROBOTS} robots"
    finally:
        worker.stop()
        client.destroy()
        store.dispose()
