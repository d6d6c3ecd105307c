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
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Generic, TypeVar

from loguru import logger
from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright
from pydantic import BaseModel, SecretStr

from pages.base import ConsolePage
from pages.browser import BrowserOptions, Timeouts
from pages.errors import SessionExpired

T = TypeVar("T")
C = TypeVar("C", bound=ConsolePage)


class PortalAccess(BaseModel):
    """Where a console is and who we are on it."""

    base_url: str
    user: str
    password: SecretStr


class BrowserHost:
    """The process's single Chromium, living on a thread of its own."""

    def __init__(self, options: BrowserOptions | None = None) -> None:
        self.options = options or BrowserOptions()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
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
        """The Chromium of this process, launched on first use (call on the host's loop)."""
        if self._browser is None or not self._browser.is_connected():
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(**self.options.launch_kwargs())
            logger.debug("chromium launched from {}", self.options.executable_path)
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
    """A logged-in browser context on one console, reused by every step that needs that console."""

    def __init__(
        self,
        host: BrowserHost,
        console: type[C],
        access: PortalAccess,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.host = host
        self.console_type = console
        self.access = access
        self.timeouts = timeouts or Timeouts()
        self.portal = console.portal
        self.logins = 0
        self._context: BrowserContext | None = None
        self._console: C | None = None
        self._logged_in = False
        self._lock: asyncio.Lock | None = None
        self._tracing = False

    async def _ensure_console(self) -> C:
        if self._console is None or self._console.page.is_closed():
            self._context = await self.host.new_context()
            self._context.set_default_timeout(self.timeouts.action_ms)
            self._context.set_default_navigation_timeout(self.timeouts.navigation_ms)
            page = await self._context.new_page()
            self._console = self.console_type(page, self.access.base_url)
            await self._console.dismiss_notices_automatically()
            self._logged_in = False
        return self._console

    async def _login(self, console: C) -> None:
        # The password must never reach a recorded trace: tracing is paused around the login form.
        tracing = self._context is not None and self._tracing
        if tracing:
            await self._context.tracing.stop_chunk(path=None)
        try:
            await console.login(self.access.user, self.access.password.get_secret_value())
        finally:
            if tracing:
                await self._context.tracing.start_chunk()
        self._logged_in = True
        self.logins += 1
        logger.debug("logged in to {}", self.portal)

    async def use(self, action: Callable[[C], Awaitable[T]]) -> T:
        """Run ``action`` with the logged-in console page; log in again once if the session expired."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            console = await self._ensure_console()
            if not self._logged_in:
                await self._login(console)
            try:
                return await action(console)
            except SessionExpired:
                logger.info("{} session expired; logging in again", self.portal)
                self._logged_in = False
                await self._login(console)
                return await action(console)

    async def start_tracing(self) -> None:
        """Record a Playwright trace of what follows (screenshots and DOM snapshots, never the login)."""
        await self._ensure_console()
        assert self._context is not None
        await self._context.tracing.start(screenshots=True, snapshots=True)
        await self._context.tracing.start_chunk()
        self._tracing = True

    async def stop_tracing(self, path: Path | None) -> Path | None:
        """Stop recording; keep the trace at ``path`` (or drop it when ``path`` is None)."""
        if not self._tracing or self._context is None:
            return None
        await self._context.tracing.stop_chunk(path=str(path) if path else None)
        await self._context.tracing.stop()
        self._tracing = False
        return path

    async def close(self) -> None:
        if self._context is not None:
            await self._context.close()
        self._context = None
        self._console = None
        self._logged_in = False
