"""The mock portals as a child process, for the demo and regression runs.

The product never imports the mocks; it starts ``python -m mock_portals`` and reads the first line it
prints, the JSON map of each portal's address, then points the settings at those addresses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx


from flows.engine.settings import CONSOLES, Settings


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
        update: dict = {name: getattr(base, name).model_copy(update={"base_url": self.urls[name]})
                        for name in CONSOLES if name in self.urls}
        update["zendesk"] = base.zendesk.model_copy(update={"base_url": self.urls["zendesk"]})
        update["mocks_control_url"] = self.urls["control"]
        return base.model_copy(update=update)

    def reset(self, scenario: dict) -> None:
        httpx.post(self.urls["control"] + "/_control/reset", json=scenario, timeout=10).raise_for_status()

    def world(self) -> dict:
        return httpx.get(self.urls["control"] + "/_control/world", timeout=10).json()

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



