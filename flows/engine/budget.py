"""Zendesk's account rate limit, shared by every process of a deployment.

Zendesk counts API requests per account and minute (200 on Team, 700 on Enterprise, 2,500 with High
Volume) and answers 429 with ``Retry-After`` beyond the limit, for every caller of the account at once. A
worker, ``rpa serve``, an agent's ``rpa step`` and the catch-up reader each make calls; counted apart they
would overrun the account together. So they draw from one budget kept in the run store's database (the
same SQLite file or Postgres every process already shares): a one-minute window with the calls taken in
it, and the moment until which a 429 told everyone to wait.

Each take is one conditional ``UPDATE`` of a single row (atomic on SQLite and Postgres alike), so two
processes can never both take the last call of a window. A caller that finds the window full, or the
account paused, sleeps until the window turns or the pause ends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from loguru import logger
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine, insert, select, update
from sqlalchemy.exc import IntegrityError

_metadata = MetaData()
budgets = Table(
    "rpa_zendesk_budget",
    _metadata,
    Column("name", String(64), primary_key=True),
    Column("window_start", Float, nullable=False),
    Column("used", Integer, nullable=False),
    Column("paused_until", Float, nullable=False),
)


class ZendeskBudget:
    """``take()`` before each Zendesk request; ``pause(seconds)`` when Zendesk answered 429."""

    def __init__(
        self,
        url: str,
        per_minute: int,
        *,
        name: str = "zendesk",
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError(f"a Zendesk budget needs at least one call per minute, got {per_minute}")
        connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        self.per_window = per_minute
        self.name = name
        self.window_seconds = window_seconds
        self.clock = clock
        self.sleep = sleep
        _metadata.create_all(self.engine)
        try:
            with self.engine.begin() as db:
                db.execute(insert(budgets).values(name=name, window_start=0.0, used=0, paused_until=0.0))
        except IntegrityError:
            pass  # another process made the row first

    def take(self) -> float:
        """Wait for one call of the budget; returns how long it waited (seconds)."""
        waited = 0.0
        while True:
            now = self.clock()
            window = math.floor(now / self.window_seconds) * self.window_seconds
            with self.engine.begin() as db:
                granted = db.execute(
                    update(budgets)
                    .where(budgets.c.name == self.name)
                    .where(budgets.c.window_start == window)
                    .where(budgets.c.used < self.per_window)
                    .where(budgets.c.paused_until <= now)
                    .values(used=budgets.c.used + 1)
                ).rowcount
                if granted:
                    return waited
                row = db.execute(select(budgets).where(budgets.c.name == self.name)).one()
                if row.paused_until > now:
                    delay = row.paused_until - now
                elif row.window_start < window:
                    # A new window: the first caller to see it resets the count (compare-and-set on the old one).
                    db.execute(
                        update(budgets)
                        .where(budgets.c.name == self.name)
                        .where(budgets.c.window_start == row.window_start)
                        .values(window_start=window, used=0)
                    )
                    continue
                else:
                    delay = window + self.window_seconds - now
            delay = max(delay, 0.01)
            logger.debug("Zendesk budget: waiting {:.2f} s for a call", delay)
            self.sleep(delay)
            waited += delay

    def pause(self, seconds: float) -> None:
        """Zendesk answered 429: every process of the deployment waits ``seconds`` before its next call."""
        until = self.clock() + max(seconds, 0.0)
        with self.engine.begin() as db:
            db.execute(
                update(budgets)
                .where(budgets.c.name == self.name)
                .where(budgets.c.paused_until < until)
                .values(paused_until=until)
            )
        logger.warning("Zendesk answered 429: every process waits {:.0f} s", seconds)

    def used(self) -> tuple[float, int]:
        """The current window's start and the calls taken in it (for tests and the benchmark)."""
        with self.engine.connect() as db:
            row = db.execute(select(budgets).where(budgets.c.name == self.name)).one()
        return row.window_start, row.used

    def dispose(self) -> None:
        self.engine.dispose()
