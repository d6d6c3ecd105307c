"""What every console robot shares: a logged-in session, a retry policy, and requests about one line."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pydantic import BaseModel, field_validator

from pages.base import ConsolePage
from pages.errors import ApplicationError, InvalidInput, RPAError
from robots.identity import normal_line
from robots.retry import RetryPolicy, check_before_attempt
from robots.sessions import PortalSession

T = TypeVar("T")
C = TypeVar("C", bound=ConsolePage)

#: The line rule lives in ``robots.identity``; this name stays for the callers that know it by it.
valid_line = normal_line


class LineRequest(BaseModel):
    """Input of a step about one line."""

    line: str

    @field_validator("line")
    @classmethod
    def _line(cls, value: str) -> str:
        try:
            return normal_line(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from exc


class ConsoleRobot(Generic[C]):
    """Base of the console robots: runs page work in the console's session under a retry policy."""

    def __init__(self, session: PortalSession[C], policy: RetryPolicy) -> None:
        self.session = session
        self.policy = policy

    @property
    def portal(self) -> str:
        return self.session.portal

    def _run(self, work: Callable[[C], Awaitable[T]]) -> T:
        """Run ``work`` on the logged-in console, retrying application errors per the policy.

        The first attempt runs untraced (tracing costs the browser CPU on every action); retries are
        traced, so a step that exhausts its attempts leaves the trace of its last one.
        """
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            check_before_attempt()
            return self.session.host.run(self.session.use(work, record=attempts > 1))

        started = time.monotonic()
        # The robot method that called is the step, in the business's words (``preanalysis``, ``migrate``).
        step = sys._getframe(1).f_code.co_name
        try:
            result = self.policy.call(attempt)
        except ApplicationError:
            self._observe(step, started, failed=True)
            raise
        except RPAError:
            # A business answer raised as an error (``not the holder``): the robot did its work.
            self._observe(step, started, failed=False)
            raise
        self._observe(step, started, failed=False)
        return result

    def _observe(self, step: str, started: float, *, failed: bool) -> None:
        # A policy may be a stand-in that only has ``call`` (tests wrap the real one to count attempts).
        observer = getattr(self.policy, "observer", None)
        if observer is not None:
            observer.step_ran(self.portal, step, time.monotonic() - started, failed)
