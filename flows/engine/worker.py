"""``rpa worker``: runs flows until stopped, and feeds the waiting ones what reached them from outside.

One worker is one process: one Chromium, DBOS launched on the configured database (recovering the flows
this machine left pending), and the inboxes of the deployment polled on the worker's own thread, each at
its own interval. Stopping (SIGTERM, Ctrl-C) lets the steps running now finish and be recorded; a step
that would start while the worker stops does not start (``WorkerStopping``), and its flow resumes there
on the next start.

On a shared database the worker holds a lease and takes over dead workers' flows (``flows.engine.leases``);
a worker that finds its own lease taken over stops its flows and ends its run loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dbos import DBOSClient
from loguru import logger

from flows.engine import durable
from flows.engine.leases import TakeOver, WorkerLease
from flows.engine.run_store import RunStore
from flows.engine.settings import Settings
from flows.engine.toolkit import Toolkit

#: Poll something outside and deliver what it found; returns how many messages it delivered.
Inbox = Callable[[], int]


@dataclass
class Deployment:
    """What a worker runs: the DBOS configured instances of the flows, and the inboxes with their intervals."""

    instances: list[object]
    inboxes: list[tuple[Inbox, float]] = field(default_factory=list)


class ExecutionAbandoned(BaseException):
    """This worker leaves a flow's execution where it is, without recording anything. Not an ``Exception``:
    DBOS records neither the step nor the flow as failed, so the flow stays as it was for its owner."""


class WorkerStopping(ExecutionAbandoned):
    """Raised in a step that would start while the worker stops: the flow resumes at that step on the next start."""


class FlowTakenOver(ExecutionAbandoned):
    """Raised before a write by a worker that no longer owns the flow (it was paused, and the flow moved to
    another worker meanwhile): the write is the new owner's to make, once."""


class StepGate:
    """Counts the steps running in this worker and closes the door on new ones when the worker stops."""

    def __init__(self) -> None:
        self._running = 0
        self._closed = False
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            if self._closed:
                raise WorkerStopping()
            self._running += 1

    def __exit__(self, *exc: object) -> None:
        with self._changed:
            self._running -= 1
            self._changed.notify_all()

    def close(self, timeout: float) -> bool:
        """Refuse new steps and wait for the running ones; False if some still ran after ``timeout``."""
        with self._changed:
            self._closed = True
            return self._changed.wait_for(lambda: self._running == 0, timeout)


@dataclass
class WorkerParts:
    """What a worker builds at launch and hands to the flows it runs (nothing is found through a global)."""

    settings: Settings
    toolkit: Toolkit
    store: RunStore
    client: DBOSClient
    gate: StepGate
    robot_threads: durable.RobotThreads


Deploy = Callable[[WorkerParts], Deployment]


class Worker:
    def __init__(self, settings: Settings, deploy: Deploy, take_over: TakeOver | None = None) -> None:
        """``take_over`` moves a dead worker's pending flows (``operations.recover``); None: this worker
        takes nobody's flows over (see ``flows.engine.leases``)."""
        self.settings = settings
        self.deploy = deploy
        self.take_over = take_over
        self.stopping = threading.Event()
        self.gate = StepGate()
        self.robot_threads = durable.RobotThreads(settings.flows_per_worker)
        self.lease: WorkerLease | None = None
        #: Why this worker stopped its flows when another worker took them over; None while it owns them.
        self.lease_lost: str | None = None

    def start(self) -> None:
        self.toolkit = Toolkit(self.settings, trace=self.settings.trace_failed_steps)
        self.store = RunStore(self.settings.store_url())
        self.client = durable.client(self.settings)
        if self.settings.database_url:
            # Claimed before DBOS launches and recovers this worker's flows, so nobody takes them over meanwhile.
            self.lease = WorkerLease(
                self.store,
                self.client,
                self.settings.executor_id,
                self.settings.worker_lease_seconds,
                self.take_over,
                self._lost_lease,
            )
            self.lease.start()
        deployment: Deployment | None = None

        def register() -> list[object]:
            nonlocal deployment
            parts = WorkerParts(self.settings, self.toolkit, self.store, self.client, self.gate, self.robot_threads)
            deployment = self.deploy(parts)
            return deployment.instances

        self.engine = durable.Engine(self.settings, register)
        assert deployment is not None
        self.inboxes = [(inbox, interval, 0.0) for inbox, interval in deployment.inboxes]
        logger.info(
            "worker {} ready (state in {})",
            self.settings.executor_id,
            "Postgres" if self.settings.database_url else "SQLite",
        )

    def poll(self) -> int:
        """Poll every inbox whose interval has passed; returns how many messages were delivered."""
        delivered, now = 0, time.monotonic()
        for index, (inbox, interval, last) in enumerate(self.inboxes):
            if now - last >= interval:
                try:
                    delivered += inbox()
                except Exception as exc:  # an inbox's trouble must not stop the worker
                    logger.warning("inbox {} failed: {}", getattr(inbox, "__qualname__", inbox), exc)
                self.inboxes[index] = (inbox, interval, now)
        return delivered

    def run_until_stopped(self) -> None:
        """Poll the inboxes until ``stop`` (or a signal) is called, or another worker took this one's flows
        over (``lease_lost`` then says why)."""
        tick = min([interval for _, interval, _ in self.inboxes] or [1.0])
        while not self.stopping.is_set():
            self.poll()
            self.stopping.wait(tick)

    def stop(self) -> None:
        self.stopping.set()

    def _lost_lease(self, message: str) -> None:
        """Another worker took this one's flows over: no new step starts here, and the run loop ends."""
        self.lease_lost = message
        self.gate.close(0)
        self.stopping.set()

    def close(self, drain_seconds: float = 30) -> None:
        """Let the running steps finish and be recorded, then stop DBOS and the browser."""
        if self.lease is not None:
            self.lease.stop()
        if not self.gate.close(drain_seconds):
            logger.warning(
                "steps still running after {} s: they run again when a worker resumes their flows", drain_seconds
            )
        # DBOS records a step's output right after the step's function returns: give it that moment.
        time.sleep(0.5)
        self.engine.shutdown()
        self.robot_threads.close()
        self.toolkit.close()
        self.store.dispose()
        self.client.destroy()
