"""One Chromium per process, a browser context per console session, logins reused across steps.

Playwright objects belong to the event loop that made them, while robots are called from plain threads
(the CLI, the flow runner's workers). ``BrowserHost`` owns one event loop on its own thread with one
Chromium in it; robot calls are handed to it with ``run``. Many callers can be in flight at once: the
loop interleaves their page work, so flows running side by side share the browser without sharing a page.

``PortalSession`` is one logged-in context on one console. It logs in lazily, and when a console sends
it back to the login page (``SessionExpired``) it logs in again and repeats the action once, so an
expired session never fails a step.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import playwright
from loguru import logger
from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError
from pydantic import BaseModel, SecretStr

from pages.base import ConsolePage
from pages.browser import BrowserOptions, Timeouts
from pages.errors import PortalUnavailable, SessionExpired

T = TypeVar("T")
C = TypeVar("C", bound=ConsolePage)


class PortalAccess(BaseModel):
    """Where a console is and who we are on it."""

    base_url: str
    user: str
    password: SecretStr


@contextlib.contextmanager
def _driver_in_its_own_session() -> Iterator[None]:
    """Start Playwright's driver in a session of its own, so a signal to the worker's process group (Ctrl-C
    in a terminal, a service manager's SIGTERM) stops the worker, which then finishes its running steps,
    instead of killing the browser under them. The driver still ends with the worker: it exits when its
    pipe from this process closes, and Chromium when the driver's pipe closes."""
    setsid = shutil.which("setsid")
    if setsid is None or os.name != "posix":
        yield
        return
    node = os.environ.get("PLAYWRIGHT_NODEJS_PATH") or str(Path(playwright.__file__).parent / "driver" / "node")
    folder = Path(tempfile.mkdtemp(prefix="rpa-driver-"))
    wrapper = folder / "node"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(setsid)} {shlex.quote(node)} "$@"\n')
    wrapper.chmod(0o700)
    before = os.environ.get("PLAYWRIGHT_NODEJS_PATH")
    os.environ["PLAYWRIGHT_NODEJS_PATH"] = str(wrapper)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PLAYWRIGHT_NODEJS_PATH", None)
        else:
            os.environ["PLAYWRIGHT_NODEJS_PATH"] = before
        shutil.rmtree(folder, ignore_errors=True)


class BrowserHost:
    """The process's single Chromium, living on a thread of its own."""

    def __init__(self, options: BrowserOptions | None = None) -> None:
        self.options = options or BrowserOptions()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launching: asyncio.Lock | None = None  # bound to the loop that made it: made again with a new loop
        self._start_lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=serve, name="browser-host", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    @property
    def running(self) -> bool:
        """Whether the browser's loop has been started (and not closed since)."""
        return self._loop is not None

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the browser's loop and wait for its result (from any other thread)."""
        loop = self._ensure_loop()
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    async def browser(self) -> Browser:
        """The Chromium of this process, launched on first use (call on the host's loop).

        Flows' first steps often start together: without the lock each would launch a driver and a Chromium
        of its own while the others await theirs, and all but one would be left running."""
        if self._launching is None:
            self._launching = asyncio.Lock()  # made on the host's loop, the only one that calls this
        async with self._launching:
            if self._browser is None or not self._browser.is_connected():
                if self._playwright is None:
                    with _driver_in_its_own_session():
                        self._playwright = await async_playwright().start()
                try:
                    self._browser = await self._playwright.chromium.launch(**self.options.launch_kwargs())
                except PlaywrightError as exc:
                    # A browser that does not start is the machinery failing (a full disk, a busy machine):
                    # retried like a console that does not answer, never a flow's unexplained error.
                    raise PortalUnavailable(f"Chromium did not start: {str(exc).splitlines()[0]}") from exc
                logger.debug("chromium launched from {}", self.options.executable())
            return self._browser

    async def new_context(self, **kwargs: Any) -> BrowserContext:
        browser = await self.browser()
        return await browser.new_context(locale="es-BO", timezone_id="America/La_Paz", **kwargs)

    def close(self) -> None:
        """Close Chromium and stop the loop; the host can start again on next use."""
        if self._loop is None:
            return

        async def shutdown() -> None:
            if self._browser is not None:
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()

        try:
            self.run(shutdown(), timeout=30)
        finally:
            self._browser = None
            self._playwright = None
            self._launching = None
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._loop = None
            self._thread = None

    def __enter__(self) -> BrowserHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PortalSession(Generic[C]):
    """A logged-in browser context on one console, shared by every flow of the process that needs it.

    The context holds the login (its cookies); each concurrent user gets a page of its own from a small
    pool, so flows running side by side share one login without sharing a page. With ``trace`` on, the
    context records a Playwright trace (DOM snapshots) of actions run with ``record`` (the robots'
    retries), so a failed step can leave it behind; recording starts only after the login and stops
    around any login again, so no password reaches a trace.
    Under concurrent use a trace may also show the other flows' work on the same console.
    """

    def __init__(
        self,
        host: BrowserHost,
        console: type[C],
        access: PortalAccess,
        timeouts: Timeouts | None = None,
        *,
        trace: bool = False,
    ) -> None:
        self.host = host
        self.console_type = console
        self.access = access
        self.timeouts = timeouts or Timeouts()
        self.portal = console.portal
        self.trace = trace
        self.logins = 0
        self.last_used = 0.0
        self._context: BrowserContext | None = None
        self._idle: list[C] = []
        self._active = 0
        self._last: C | None = None
        self._login_generation = 0
        self._recording = False
        self._login_lock: asyncio.Lock | None = None
        self._setup_lock: asyncio.Lock | None = None

    async def _ensure_context(self) -> BrowserContext:
        if self._setup_lock is None:
            self._setup_lock = asyncio.Lock()
            self._login_lock = asyncio.Lock()
        async with self._setup_lock:
            if self._context is None:
                context = await self.host.new_context()
                context.set_default_timeout(self.timeouts.action_ms)
                context.set_default_navigation_timeout(self.timeouts.navigation_ms)
                self._context = context
                self._recording = False
                self._idle = []
                self._login_generation = 0
            return self._context

    async def _borrow(self) -> C:
        context = await self._ensure_context()
        while self._idle:
            console = self._idle.pop()
            if not console.page.is_closed():
                return console
        console = self.console_type(await context.new_page(), self.access.base_url)
        await console.dismiss_notices_automatically()
        return console

    async def _login(self, console: C, seen_generation: int) -> None:
        """Log the context in, unless another page already did since ``seen_generation``."""
        assert self._login_lock is not None and self._context is not None
        async with self._login_lock:
            if self._login_generation != seen_generation:
                return
            # The password must not reach a trace: recording stops (and is dropped) before the login
            # form, and starts again once the login's requests are over.
            if self._recording:
                await self._context.tracing.stop()
                self._recording = False
            await console.login(self.access.user, self.access.password.get_secret_value())
            self._login_generation += 1
            self.logins += 1
            logger.debug("logged in to {}", self.portal)

    async def use(self, action: Callable[[C], Awaitable[T]], *, record: bool = False) -> T:
        """Run ``action`` on a logged-in page of the console; log in again once if the session expired.

        With ``record`` (and the session's ``trace`` on) the action is traced, for ``save_failure``.
        """
        console = await self._borrow()
        self._active += 1
        self._last = console
        self.last_used = time.monotonic()
        try:
            if self._login_generation == 0:
                await self._login(console, 0)
            if self.trace and record:
                await self._record_afresh()
            generation = self._login_generation
            try:
                result = await action(console)
            except SessionExpired:
                logger.info("{} session expired; logging in again", self.portal)
                await self._login(console, generation)
                if self.trace and record:
                    await self._record_afresh()
                result = await action(console)
            if self._recording and self._active == 1 and self._context is not None:
                await self._context.tracing.stop()  # it went well: nothing to keep, stop paying for it
                self._recording = False
            return result
        finally:
            self._active -= 1
            self._idle.append(console)

    async def _record_afresh(self) -> None:
        """Start tracing (after any login) with a fresh chunk for the action about to run."""
        assert self._context is not None
        if not self._recording:
            await self._context.tracing.start(snapshots=True, screenshots=False)
            await self._context.tracing.start_chunk()
            self._recording = True
        elif self._active == 1:
            await self._context.tracing.stop_chunk()
            await self._context.tracing.start_chunk()
        # else another flow's action is being recorded on this console: its chunk holds this one too

    async def save_failure(self, folder: Path, stem: str) -> tuple[Path | None, Path | None]:
        """Keep what the console showed when a step failed: a screenshot and the trace of the last action."""
        folder.mkdir(parents=True, exist_ok=True)
        screenshot = trace = None
        if self._last is not None and not self._last.page.is_closed():
            try:
                screenshot = folder / f"{stem}.png"
                await self._last.page.screenshot(path=str(screenshot), full_page=True)
            except Exception:
                screenshot = None
        if self._recording and self._context is not None:
            trace = folder / f"{stem}.trace.zip"
            await self._context.tracing.stop_chunk(path=str(trace))
            await self._context.tracing.stop()
            self._recording = False
        return screenshot, trace

    async def close(self) -> None:
        if self._context is not None:
            if self._recording:
                await self._context.tracing.stop()
            await self._context.close()
        self._context = None
        self._idle = []
        self._last = None
        self._login_generation = 0
