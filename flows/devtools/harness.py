"""One harness for the development tools and the tests: the mock portals, a worker, and "wait until done".

The demo, the regression catalogue, the benchmarks and the flow tests all need the same things: the mock
consoles running (as a child process: the product never imports the mocks; it starts
``python -m mock_portals`` and reads the JSON map of addresses it prints first), a worker in this process
with its inboxes polled on a thread, ``rpa serve`` beside it with the mock Zendesk's webhook pointed at it
(the intake a deployment has), and a way to start a ticket's flow and wait until DBOS has recorded its
end. They are here once.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr

from flows.engine.run_store import FlowRun, RunStore
from flows.engine.settings import CONSOLES, Settings
from flows.engine.worker import Worker
from flows.interfaces import operations, zendesk_account
from flows.interfaces.serve import Intake, create_app
from flows.process.deployment import migration_deployment
from robots.zendesk import ZendeskClient

#: DBOS statuses of a flow that will not move again by itself.
FINAL_STATUSES = ("SUCCESS", "ERROR", "CANCELLED")


class MockPortals:
    """A running ``python -m mock_portals`` on free loopback ports."""

    def __init__(self, scenario: Path | None = None, latency_ms: int | None = None) -> None:
        argv = [sys.executable, "-m", "mock_portals", "--free-ports"]
        if scenario is not None:
            argv += ["--scenario", str(scenario)]
        if latency_ms is not None:
            argv += ["--latency-ms", str(latency_ms)]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = self.process.stdout.readline() if self.process.stdout else ""
        if not first:
            problem = self.process.stderr.read() if self.process.stderr else ""
            self.process.wait(timeout=5)
            raise RuntimeError(f"the mock portals did not start: {problem.strip()}")
        self.urls: dict[str, str] = json.loads(first)

    def settings(self, base: Settings) -> Settings:
        """``base`` with every console, Zendesk and the control API pointed at these mocks."""
        update: dict = {
            name: getattr(base, name).model_copy(update={"base_url": self.urls[name]})
            for name in CONSOLES
            if name in self.urls
        }
        update["zendesk"] = base.zendesk.model_copy(update={"base_url": self.urls["zendesk"]})
        update["mocks_control_url"] = self.urls["control"]
        return base.model_copy(update=update)

    def reset(self, scenario: dict) -> None:
        httpx.post(self.urls["control"] + "/_control/reset", json=scenario, timeout=10).raise_for_status()

    def world(self) -> dict:
        return httpx.get(self.urls["control"] + "/_control/world", timeout=10).json()

    def install_panel(self, serve_url: str, token: SecretStr) -> None:
        """Install the agent panel in the mock account's ticket sidebar, as an admin installs the app's zip in
        Zendesk: its page on ``rpa serve``, its token a secure setting (kept by Zendesk, never sent to the
        browser)."""
        host = serve_url.split("://", 1)[1].split(":", 1)[0].split("/", 1)[0]
        app = {
            "name": "Robot de migración",
            "url": serve_url + "/panel/app",
            "location": "ticket_sidebar",
            "settings": {"serve_url": serve_url},
            "secure_settings": {"token": token.get_secret_value()},
            "domain_whitelist": [host],
        }
        httpx.post(self.urls["control"] + "/_control/zendesk/apps", json=app, timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> MockPortals:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class WebhookServer:
    """``rpa serve`` in this process, on a loopback port, and the (mock) Zendesk's webhook and triggers pointed
    at it by ``connect`` (``rpa zendesk connect``): the intake a deployment has, without polling tickets."""

    def __init__(self, settings: Settings) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        # The mock Zendesk makes a new webhook, with a new signing secret, after each reset of its world.
        self._secret = SecretStr("not connected yet")
        self.app = create_app(settings, secret=lambda: self._secret)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [listener]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("rpa serve did not start in this process")
            time.sleep(0.02)

    @property
    def intake(self) -> Intake:
        return self.app.state.intake

    def connect(self, zendesk: ZendeskClient) -> None:
        """Point the account's webhook and triggers here (idempotent: a connected account is only read)."""
        self._secret = zendesk_account.connect(zendesk, self.url).signing_secret

    def close(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)


class RunningWorker:
    """``rpa worker`` in this process: flows on DBOS's event loop, the inboxes polled on a thread of their own;
    with ``webhooks``, ``rpa serve`` beside it and the tickets' news reaching the flows by Zendesk's webhook."""

    def __init__(self, settings: Settings, *, webhooks: bool = False) -> None:
        self.settings = settings
        self.worker = Worker(settings, migration_deployment)
        self.worker.start()
        self.client = self.worker.client
        self.store: RunStore = self.worker.store
        self._thread = threading.Thread(target=self.worker.run_until_stopped, name="inboxes", daemon=True)
        self._thread.start()
        self.webhooks: WebhookServer | None = None
        if webhooks:
            try:
                self.webhooks = WebhookServer(settings)
            except BaseException:
                self.close()
                raise

    @property
    def zendesk(self) -> ZendeskClient:
        return self.worker.toolkit.zendesk

    def start_flow(self, ticket_id: int, zendesk: ZendeskClient | None = None) -> str:
        if self.webhooks is not None:
            # Before the flow's first contact: the customer's answer to it must reach the flow by webhook.
            self.webhooks.connect(zendesk or self.zendesk)
        return operations.start(self.client, zendesk or self.zendesk, self.settings, ticket_id)

    def status(self, flow_id: str) -> str | None:
        found = self.client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
        return found[0].status if found else None

    def wait_until_done(
        self, flow_id: str, timeout: float = 90, on_progress: Callable[[FlowRun | None], None] | None = None
    ) -> str:
        """Until DBOS has recorded the flow's end (the run store says "ended" a moment earlier)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(flow_id)
            if on_progress is not None:
                on_progress(self.store.flow(flow_id))
            if status in FINAL_STATUSES:
                return status
            time.sleep(0.1)
        raise TimeoutError(f"flow {flow_id} still running after {timeout} s: {self.store.flow(flow_id)}")

    def close(self) -> None:
        if getattr(self, "webhooks", None) is not None:
            self.webhooks.close()  # type: ignore[union-attr]
        self.worker.stop()
        self._thread.join(timeout=10)
        self.worker.close()
