"""Worker leases: a dead worker's flows move to a live worker by themselves, and only once it is surely dead.

Many workers share one PostgreSQL. DBOS recovers a worker's pending flows only when that same worker
(``executor_id``) starts again; a machine that never comes back would keep its customers waiting until a
person ran ``rpa flow recover``. So every worker on a shared database holds the lease ``worker:<executor
id>`` in the run store, renewed on a thread of its own every ``worker_lease_seconds / 3`` (the inbox polls
may be slow; a renewal must not wait for them).

At each renewal a worker also looks for other workers' leases that ran out. For each, one live worker
takes it over: it swaps the expired row's holder for ``taken over by <itself>`` in one atomic update (of
two workers trying at once, exactly one matches the row), hands the dead worker's pending flows to the
flows queue with ``operations.recover`` (the same as a person would), logs which flows moved and keeps the
row marked as taken over, so nobody does it again. DBOS's ``resume_workflow`` sets the flow ENQUEUED on
the flows queue; the live worker that dequeues it becomes its ``executor_id``, so the ownership check
before every write (``activities``) sees the new owner. A taker that dies halfway leaves the row with an
ordinary lease that runs out again; another worker then takes over what is still pending.

A lease that has not run out is never taken over: a slow or paused worker is not dead until then. A worker
that wakes to find its lease taken over (a SIGSTOP, a long pause of the machine, a network cut longer than
the lease) has lost its flows: it closes its step gate so no new step starts (writes already running are
refused by the ownership check), logs the lease and who took its flows, and ``rpa worker`` exits with a
non-zero code, so a supervisor starts it again clean.

A worker stopped on purpose (SIGTERM, Ctrl-C) keeps its lease row: stopping for a deploy and starting
again within ``worker_lease_seconds`` renews it and DBOS recovers the worker's own flows at launch, with
nothing moved; a worker that does not come back in time has its waiting flows moved like a dead one's.

Timing: a dead worker's flows are queued for the live workers at most ``worker_lease_seconds`` plus one
renewal tick (``worker_lease_seconds / 3``) after its last renewal, so at most 40 s with the default 30 s;
a live worker picks them from the queue within its queue poll (0.2 s). On the embedded SQLite default
there is one worker and nobody to take over: no lease is held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from dbos import DBOSClient
from loguru import logger

from flows.engine.run_store import RunStore

#: Leases of workers are named after the worker: ``worker:<executor id>``.
WORKER_LEASE = "worker:"
#: A taken-over lease's holder: the worker that took its flows, as the dead worker reads it when it wakes.
TAKEN_OVER_BY = "taken over by "
#: A takeover done stays marked until a worker of that name starts again and claims its lease back.
TAKEOVER_DONE = datetime(9999, 1, 1, tzinfo=UTC)

#: Hand a dead worker's pending flows to the live workers; returns the flows it moved.
TakeOver = Callable[[DBOSClient, str], list[str]]


def worker_lease(executor_id: str) -> str:
    return f"{WORKER_LEASE}{executor_id}"


class WorkerLease:
    """This worker's lease, renewed on its own thread, and the takeover of the workers whose lease ran out."""

    def __init__(
        self,
        store: RunStore,
        client: DBOSClient,
        executor_id: str,
        seconds: float,
        take_over: TakeOver | None,
        on_lost: Callable[[str], None],
    ) -> None:
        """``take_over`` None: this worker keeps its own lease but moves nobody's flows."""
        self.store = store
        self.client = client
        self.executor_id = executor_id
        self.name = worker_lease(executor_id)
        self.seconds = seconds
        self.take_over = take_over
        self.on_lost = on_lost
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, name="worker-lease", daemon=True)

    def start(self) -> None:
        """Claim the lease (a restart takes it back, even from a takeover marker) and keep renewing it."""
        self.store.claim_lease(self.name, self.executor_id, self.seconds)
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing; the row stays and runs out (see the module's docstring)."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.seconds)

    def _renew_until_stopped(self) -> None:
        while not self._stopped.wait(self.seconds / 3):
            try:
                if not self.renew():
                    return
                self.take_over_dead_workers()
            except Exception as exc:  # the database may be down a moment: try again at the next tick
                logger.warning("worker lease {}: {}", self.name, exc)

    def renew(self) -> bool:
        """Keep the lease; False (and ``on_lost`` called) when another worker took it meanwhile."""
        holder = self.store.renew_lease(self.name, self.executor_id, self.seconds)
        if holder is None:
            return True
        taker = holder.removeprefix(TAKEN_OVER_BY)
        message = (
            f"worker lease {self.name} lost: it ran out while this worker was silent and is now {holder}; "
            f"the flows of {self.executor_id} now run on {taker}. This worker stops its flows and exits; "
            "start it again to run new flows"
        )
        logger.error(message)
        self._stopped.set()
        self.on_lost(message)
        return False

    def take_over_dead_workers(self) -> list[str]:
        """Take over every other worker whose lease ran out; returns the flows moved to the flows queue."""
        if self.take_over is None:
            return []
        moved: list[str] = []
        me = f"{TAKEN_OVER_BY}{self.executor_id}"
        for name, holder in self.store.expired_leases(WORKER_LEASE):
            if name == self.name or not self.store.take_expired_lease(name, holder, me, self.seconds):
                continue
            dead = name.removeprefix(WORKER_LEASE)
            flows = self.take_over(self.client, dead)
            self.store.settle_lease(name, me, TAKEOVER_DONE)
            logger.warning(
                "worker {} taken for dead: its lease {} ran out; {} took over its {} pending flow(s): {}",
                dead,
                name,
                self.executor_id,
                len(flows),
                ", ".join(flows) or "-",
            )
            moved += flows
        return moved
