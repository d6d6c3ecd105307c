"""``rpa worker``: runs flows until stopped, and brings them what people write on their tickets.

One worker is one process: one Chromium, DBOS launched on the configured database (recovering the
flows this machine left pending), and the ticket watcher polling Zendesk between flow steps.
"""

from __future__ import annotations

import threading

from dbos import DBOS
from loguru import logger

from flows.engine import durable as engine
from flows.engine import runtime
from flows.engine.runtime import Runtime
from flows.engine.settings import Settings
from flows.engine.intake import TicketWatcher


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = threading.Event()
        self.runtime: Runtime | None = None
        self.watcher: TicketWatcher | None = None

    def start(self) -> None:
        self.runtime = Runtime(self.settings)
        runtime.install(self.runtime)
        engine.launch(self.settings)
        self.watcher = TicketWatcher(self.runtime.store, self.runtime.toolkit.zendesk, self._send)
        logger.info("worker {} ready (state in {})", self.settings.executor_id,
                    "Postgres" if self.settings.database_url else "SQLite")

    @staticmethod
    def _send(flow_id: str, message: object, topic: str, key: str) -> None:
        DBOS.send(flow_id, message, topic, idempotency_key=key)

    def poll(self) -> int:
        assert self.watcher is not None, "start the worker first"
        return self.watcher.poll_once()

    def run_until_stopped(self) -> None:
        """Poll tickets every ``watch_interval_seconds`` until ``stop`` (or a signal) is called."""
        while not self.stopping.is_set():
            self.poll()
            self.stopping.wait(self.settings.process.watch_interval_seconds)

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        engine.shutdown()
        if self.runtime is not None:
            self.runtime.close()
        runtime.install(None)
