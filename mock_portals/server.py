"""Runs every mock console, each on its own port (its own origin, its own session cookie), over one world.

``MockServers`` serves them all from one event loop, either in the foreground (``python -m
mock_portals``) or on a background thread (the test fixtures). Once every portal answers, the address
map is known: ``{"zendesk": "http://127.0.0.1:PORT", ..., "control": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import socket
import threading
import time
from collections.abc import Callable

import httpx
import uvicorn
from fastapi import FastAPI

from mock_portals.customer import CustomerSimulator
from mock_portals.world import Scenario, World

#: Console name -> "module:factory" building its FastAPI app from the world.
#: Each console module offers ``create_app(world) -> FastAPI``.
APPS: dict[str, str] = {
    "control": "mock_portals.control:create_app",
    "zendesk": "mock_portals.zendesk_service:create_app",
    "planificate": "mock_portals.planificate:create_app",
    "qvantel": "mock_portals.qvantel:create_app",
    "ar": "mock_portals.ar:create_app",
    "bccs": "mock_portals.bccs:create_app",
    "contrato": "mock_portals.contrato:create_app",
    "syshelp": "mock_portals.syshelp:create_app",
    "impuestos": "mock_portals.impuestos:create_app",
}

#: Ports of ``rpa mocks serve`` by default; the product's settings point at these.
DEFAULT_PORTS: dict[str, int] = {
    "control": 8700,
    "zendesk": 8701,
    "planificate": 8702,
    "qvantel": 8703,
    "ar": 8704,
    "bccs": 8705,
    "contrato": 8706,
    "syshelp": 8707,
    "impuestos": 8708,
}


def _factory(target: str) -> Callable[[World], FastAPI]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MockServers:
    """Every mock console over one world, on loopback."""

    def __init__(
        self, scenario: Scenario | None = None, *, host: str = "127.0.0.1", ports: dict[str, int] | None = None
    ) -> None:
        self.world = World(scenario)
        self.host = host
        chosen = ports if ports is not None else {}
        self.ports = {name: chosen.get(name) or free_port(host) for name in APPS}
        self.urls = {name: f"http://{host}:{port}" for name, port in self.ports.items()}
        self._servers: list[uvicorn.Server] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _build(self) -> list[uvicorn.Server]:
        servers = []
        for name, target in APPS.items():
            app = _factory(target)(self.world)
            app.state.urls = self.urls
            config = uvicorn.Config(
                app, host=self.host, port=self.ports[name], log_level="warning", access_log=False, lifespan="off"
            )
            servers.append(uvicorn.Server(config))
        return servers

    async def serve(self) -> None:
        """Serve until ``stop`` is called (or the task is cancelled), with the scripted customers answering."""
        self._servers = self._build()
        for server in self._servers:
            server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
        # On this loop, like the servers: the world is only ever changed from here.
        customers = asyncio.create_task(CustomerSimulator(self.world).run(), name="customer-simulator")
        try:
            await asyncio.gather(*(server.serve() for server in self._servers))
        finally:
            customers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await customers

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Block until every portal answers HTTP."""
        deadline = time.monotonic() + timeout
        pending = dict(self.urls)
        while pending:
            for name, url in list(pending.items()):
                with contextlib.suppress(httpx.HTTPError):
                    httpx.get(url + "/_alive", timeout=1.0)
                    pending.pop(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"mock portals did not start: {', '.join(pending)}")
            if pending:
                time.sleep(0.05)

    # -- background thread, for tests ----------------------------------------------------------
    def start_in_thread(self) -> MockServers:
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())

        self._thread = threading.Thread(target=run, name="mock-portals", daemon=True)
        self._thread.start()
        self.wait_ready()
        return self

    def stop_thread(self) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
