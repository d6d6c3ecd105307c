"""What a running worker process holds for its flows: settings, robots (one Chromium) and the run store.

The worker (or a test) builds one ``Runtime`` at launch and installs it; flow steps find it with
``current()``. Nothing is built at import time.
"""

from __future__ import annotations

from pathlib import Path

from flows.engine.run_store import RunStore
from flows.engine.settings import Settings
from flows.engine.toolkit import Toolkit

_installed: Runtime | None = None


class Runtime:
    def __init__(self, settings: Settings, toolkit: Toolkit | None = None) -> None:
        self.settings = settings
        self.toolkit = toolkit or Toolkit(settings, trace=settings.trace_failed_steps)
        self.store = RunStore(settings.store_url())

    @property
    def failures_dir(self) -> Path:
        return self.settings.run_dir / "failures"

    def close(self) -> None:
        self.toolkit.close()
        self.store.dispose()


def install(runtime: Runtime | None) -> None:
    global _installed
    _installed = runtime


def current() -> Runtime:
    if _installed is None:
        raise RuntimeError("no runtime installed: flows run inside `rpa worker` (or a test's runtime)")
    return _installed
