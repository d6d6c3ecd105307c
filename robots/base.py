"""What every console robot shares: a logged-in session, a retry policy, and requests about one line."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pydantic import BaseModel, field_validator

from pages.base import ConsolePage
from pages.errors import InvalidInput
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

        return self.policy.call(attempt)
