"""The retry policies, named once: which errors are retried, how often, and how long to wait.

Only ``ApplicationError`` with ``retryable`` set is retried; business outcomes are answers, not failures.
The numbers come from settings (``RetryTiming``) so tests can run the same policies in milliseconds.
Policies are applied where robot steps are called, never on page methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, TypeVar

from loguru import logger
from pydantic import BaseModel
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from pages.errors import RateLimited, RPAError

T = TypeVar("T")

#: Retries made by policy calls in the current thread of work; the flow runner resets and reads it
#: around each step to report how many attempts the step took.
retries_made: ContextVar[int] = ContextVar("retries_made", default=0)


class RetryTiming(BaseModel):
    """The knobs of the retry policies."""

    attempts: int = 4
    max_seconds: float = 90.0
    first_wait_seconds: float = 1.0
    max_wait_seconds: float = 15.0


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, RPAError) and exc.retryable


class _wait_retry_after(wait_base):
    """Honour an API's Retry-After when it gave one, else fall back to the exponential wait."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RateLimited):
            return exc.retry_after
        return self.fallback(retry_state)


def _log_retry(retry_state: RetryCallState) -> None:
    retries_made.set(retries_made.get() + 1)
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    logger.warning("attempt {} failed: {}; retrying", retry_state.attempt_number, exc)


class RobotObserver(Protocol):
    """Told what the robots did, for whoever counts it (the deployment's metrics); robots never need one."""

    def retried(self, policy: str) -> None: ...

    def step_ran(self, console: str, step: str, seconds: float, failed: bool) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """A named, composable retry policy (tenacity stop and wait values)."""

    name: str
    stop: stop_base
    wait: wait_base
    observer: RobotObserver | None = None

    def call(self, fn: Callable[[], T]) -> T:
        """Call ``fn`` under this policy; the last error is re-raised when attempts run out."""
        retrying = Retrying(
            stop=self.stop,
            wait=self.wait,
            retry=retry_if_exception(is_retryable),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return retrying(fn)

    def _before_sleep(self, retry_state: RetryCallState) -> None:
        _log_retry(retry_state)
        if self.observer is not None:
            self.observer.retried(self.name)


def console_step(timing: RetryTiming, observer: RobotObserver | None = None) -> RetryPolicy:
    """For a robot step on a legacy console: login, read, screenshot."""
    return RetryPolicy(
        name="console_step",
        stop=stop_after_attempt(timing.attempts) | stop_after_delay(timing.max_seconds),
        wait=wait_exponential_jitter(initial=timing.first_wait_seconds, max=timing.max_wait_seconds),
        observer=observer,
    )


def zendesk_call(timing: RetryTiming, observer: RobotObserver | None = None) -> RetryPolicy:
    """For one Zendesk API request; honours Retry-After on 429."""
    return RetryPolicy(
        name="zendesk_call",
        stop=stop_after_attempt(timing.attempts + 1) | stop_after_delay(timing.max_seconds),
        wait=_wait_retry_after(wait_exponential_jitter(initial=timing.first_wait_seconds, max=timing.max_wait_seconds)),
        observer=observer,
    )


#: Called before every attempt of a robot's console work, retries included: whoever runs the robot can
#: stop an attempt it must no longer make (a worker that lost its flow while it was paused).
_before_attempt: ContextVar[Callable[[], None] | None] = ContextVar("before_attempt", default=None)


def check_before_attempt() -> None:
    """Run the check set by ``checked_before_each_attempt``, if any (the Zendesk client calls it too)."""
    check = _before_attempt.get()
    if check is not None:
        check()


@contextmanager
def checked_before_each_attempt(check: Callable[[], None]) -> Iterator[None]:
    """Run ``check`` before each attempt of the robot work done inside this block (it raises to stop it)."""
    token = _before_attempt.set(check)
    try:
        yield
    finally:
        _before_attempt.reset(token)
