"""Worker leases: a silent worker's flows move to a live worker by themselves, only once its lease ran out,
and the silent worker, woken, stops its flows and exits non-zero without writing anything twice."""

from __future__ import annotations

import copy
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from flows.devtools.regress import check, load_catalogue
from flows.engine import durable as engine
from flows.engine.leases import TAKEN_OVER_BY, WorkerLease, worker_lease
from flows.engine.run_store import RunStore, leases
from flows.engine.toolkit import Toolkit
from flows.interfaces import operations
from tests.flows.conftest import WORKER_PROCESS, WorkerProcess, flow_end, wait_for
from tests.flows.scenarios import LINE

LEASE_SECONDS = 3


def lease_of(store: RunStore, executor_id: str, seconds: float, taken: list[str], lost: list[str]) -> WorkerLease:
    def take_over(client, dead: str) -> list[str]:
        taken.append(dead)
        return [f"flow-of-{dead}"]

    return WorkerLease(store, None, executor_id, seconds, take_over, lost.append)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("postgres").create_database("rpa_lease_takeover")


def test_only_an_expired_lease_is_taken_over_and_by_one_worker(store_url):
    store = RunStore(store_url)
    taken: list[str] = []
    lost: list[str] = []
    silent = lease_of(store, "machine-a", 0.3, taken, lost)
    # Current for as long as a loaded machine needs to reach the first check; then it runs out at once.
    store.claim_lease(silent.name, "machine-a", 30)
    first, second = (lease_of(store, name, 30, taken, lost) for name in ("machine-b", "machine-c"))
    for live in (first, second):
        store.claim_lease(live.name, live.executor_id, 30)

    assert first.take_over_dead_workers() == [], "a lease still current is never taken over"
    store.claim_lease(silent.name, "machine-a", 0.05)  # its last renewal, before it fell silent
    time.sleep(0.2)
    both = threading.Barrier(2)

    def take(live: WorkerLease) -> list[str]:
        both.wait()
        return live.take_over_dead_workers()

    with ThreadPoolExecutor(2) as pool:
        moved = sorted(pool.map(take, (first, second)))
    assert moved == [[], ["flow-of-machine-a"]], "two live workers at once: exactly one takes over"
    assert first.take_over_dead_workers() == [] and second.take_over_dead_workers() == [], "and only once"
    assert taken == ["machine-a"]
    taker = silent_holder(store).removeprefix(TAKEN_OVER_BY)
    assert taker in ("machine-b", "machine-c")
    assert first.renew() and second.renew(), "taking a dead worker's flows over leaves the taker's own lease"

    assert silent.renew() is False, "the silent worker, woken, finds its lease taken"
    assert lost and "worker:machine-a" in lost[0] and f"now run on {taker}" in lost[0]

    store.claim_lease(silent.name, "machine-a", 30)  # started again: its lease is its own once more
    assert lease_of(store, "machine-a", 30, taken, lost).renew()
    store.dispose()


def silent_holder(store: RunStore) -> str:
    with store.engine.connect() as db:
        return db.execute(select(leases.c.holder).where(leases.c.name == worker_lease("machine-a"))).scalar_one()


def test_a_silent_worker_loses_its_flows_after_its_lease_and_exits_when_it_wakes(
    load_scenario, world_state, flow_settings, worker_env, postgres, tmp_path
):
    spec = copy.deepcopy(load_catalogue()["happy_confirmed"])
    # The customer answers once the flow has moved: the new worker finishes it.
    spec["tickets"][0]["customer"]["replies"]["tyc"] = {"text": "ACEPTO", "delay_seconds": 8}
    ticket = spec["expectations"]["ticket"]
    load_scenario(spec)
    url = postgres.create_database("rpa_worker_leases")
    env = {**worker_env, "RPA_DATABASE_URL": url, "RPA_WORKER_LEASE_SECONDS": str(LEASE_SECONDS)}
    settings = flow_settings.model_copy(update={"database_url": url, "process": WORKER_PROCESS})
    workers = {name: WorkerProcess({**env, "RPA_EXECUTOR_ID": name}, tmp_path) for name in ("machine-a", "machine-b")}
    client = engine.client(settings)
    store = RunStore(settings.store_url())
    try:
        for worker in workers.values():
            worker.wait_ready()
        with Toolkit(settings) as toolkit:
            flow_id = operations.start(client, toolkit.zendesk, settings, ticket)
        wait_for(
            lambda: (run := store.flow(flow_id)) is not None and run.waiting_for == "cliente: ACEPTO",
            what="the flow to wait for ACEPTO",
        )

        def owner() -> str:
            [flow] = client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
            return flow.executor_id

        silent_name = owner()
        [taker_name] = set(workers) - {silent_name}
        silent, taker = workers[silent_name], workers[taker_name]
        with store.engine.connect() as db:
            expires = db.execute(select(leases.c.expires_at).where(leases.c.name == worker_lease(silent_name))).scalar()
        silent.process.send_signal(signal.SIGSTOP)
        try:
            # Its last renewal may come after we read the lease, never before: until then it is not dead.
            while datetime.now(UTC) < expires:
                assert owner() == silent_name, "a worker whose lease has not run out is not taken over"
                time.sleep(0.1)
            wait_for(lambda: owner() == taker_name, timeout=30, what="the live worker to take the flow over")
        finally:
            # Woken while the flow still waits on the live worker: both hold it for a moment.
            silent.process.send_signal(signal.SIGCONT)
        said = taker.output.read_text(errors="replace")
        assert f"took over its 1 pending flow(s): {flow_id}" in said, said[-2000:]

        # The woken worker finds its lease taken over, stops its flows and exits non-zero.
        assert silent.process.wait(timeout=60) == 1
        said = silent.output.read_text(errors="replace")
        assert f"worker lease {worker_lease(silent_name)} lost" in said, said[-2000:]
        assert f"{TAKEN_OVER_BY}{taker_name}" in said

        assert flow_end(client, flow_id, what="the flow to finish on the live worker") == "SUCCESS"
        assert owner() == taker_name

        # Nothing written twice: the macros, evidence notes and console records are exactly the happy path's.
        assert check(spec["expectations"], world_state(), store.flow(flow_id)) == []
        assert world_state()["lines"][LINE]["migrations"] == 1
    finally:
        for worker in workers.values():
            worker.stop()
        client.destroy()
        store.dispose()
