"""Zendesk's account rate limit, shared by every process of a deployment.

Zendesk counts API requests per account and minute (200 on Team, 700 on Enterprise, 2,500 with High
Volume) and answers 429 with ``Retry-After`` beyond the limit, for every caller of the account at once. A
worker, ``rpa serve``, an agent's ``rpa step`` and the catch-up reader each make calls; counted apart they
would overrun the account together. So they draw from one budget kept in the run store's database (the
same SQLite file or Postgres every process already shares): one row holding a token bucket and the moment
until which a 429 told everyone to wait.

Each take is a compare-and-set ``UPDATE`` of that row on its version (atomic on SQLite and Postgres
alike), so two processes can never both take the last call. A caller that finds the bucket empty, or
the account paused, sleeps until a call is due or the pause ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from loguru import logger
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from flows.engine.databases import create_tables, store_engine

_metadata = MetaData()
budgets = Table(
    "rpa_zendesk_budget",
    _metadata,
    Column("name", String(64), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("refilled_at", Float, nullable=False),
    Column("paused_until", Float, nullable=False),
    Column("version", Integer, nullable=False),
    Column("taken", Integer, nullable=False),
)


class ZendeskBudget:
    """``take()`` before each Zendesk request; ``pause(seconds)`` when Zendesk answered 429.

    A token bucket: calls flow at ``per_minute`` a minute, with at most one second's worth at once, so any
    minute, however Zendesk aligns it, sees at most ``per_minute`` plus one second's worth of calls.
    """

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
        self.engine = store_engine(url)
        self.rate = per_minute / window_seconds  # calls a second
        self.burst = max(1.0, self.rate)
        self.name = name
        self.clock = clock
        self.sleep = sleep
        create_tables(_metadata, self.engine)
        try:
            with self.engine.begin() as db:
                db.execute(
                    insert(budgets).values(
                        name=name, tokens=self.burst, refilled_at=clock(), paused_until=0.0, version=0, taken=0
                    )
                )
        except IntegrityError:
            pass  # another process made the row first

    def take(self) -> float:
        """Wait for one call of the budget; returns how long it waited (seconds)."""
        waited = 0.0
        while True:
            now = self.clock()
            with self.engine.begin() as db:
                row = db.execute(select(budgets).where(budgets.c.name == self.name)).one()
                tokens = min(self.burst, row.tokens + max(0.0, now - row.refilled_at) * self.rate)
                if row.paused_until > now:
                    delay = row.paused_until - now
                elif tokens >= 1.0:
                    # Compare-and-set on the version: of two processes reading the same state, one wins.
                    won = db.execute(
                        update(budgets)
                        .where(budgets.c.name == self.name)
                        .where(budgets.c.version == row.version)
                        .values(tokens=tokens - 1.0, refilled_at=now, version=row.version + 1, taken=row.taken + 1)
                    ).rowcount
                    if won:
                        return waited
                    continue
                else:
                    delay = (1.0 - tokens) / self.rate
            delay = max(delay, 0.005)
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
                .values(paused_until=until, version=budgets.c.version + 1)
            )
        logger.warning("Zendesk answered 429: every process waits {:.0f} s", seconds)

    def taken(self) -> int:
        """Calls taken from the budget so far (for tests and the benchmark)."""
        with self.engine.connect() as db:
            return int(db.execute(select(budgets.c.taken).where(budgets.c.name == self.name)).scalar_one())

    def dispose(self) -> None:
        self.engine.dispose()
