"""What each process of the deployment did (robot steps, retries, Zendesk calls, evidence notes), kept where
``rpa serve``'s ``/metrics`` can read it for the whole deployment.

A deployment runs many processes (workers on several machines, ``rpa serve``, agents' ``rpa step``) and
Prometheus scrapes only ``rpa serve``. Each process therefore counts in memory and adds what it counted
since its last flush to table ``rpa_counters`` of the shared database, every
``RPA_METRICS_FLUSH_SECONDS`` and when it closes. A row is keyed by the process's executor id, the
metric's name and its labels: two processes with the same executor id (a worker and an ``rpa step`` on one
machine) add to the same row, and each increment is written once, so nothing is counted twice however
many processes there are and whichever of them is scraped. The rows only grow, so they read as
Prometheus counters that survive restarts.

A histogram is kept as Prometheus lays it out: one cumulative row per bucket (label ``le``), ``_sum`` and
``_count``.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import defaultdict
from datetime import datetime

from loguru import logger
from prometheus_client.utils import floatToGoString
from sqlalchemy import Column, Connection, DateTime, Engine, Float, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from flows.engine.databases import create_tables, store_engine
from flows.engine.settings import Settings
from robots.evidence import utc_now

_metadata = MetaData()
counters = Table(
    "rpa_counters",
    _metadata,
    Column("executor_id", String(200), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("labels", String(500), primary_key=True),
    Column("value", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

STEP_DURATION = "rpa_robot_step_duration_seconds"
STEP_FAILURES = "rpa_robot_step_failures_total"
RETRIES = "rpa_retries_total"
ZENDESK_REQUESTS = "rpa_zendesk_requests_total"
ZENDESK_RATE_LIMITED = "rpa_zendesk_rate_limited_total"
EVIDENCE_NOTES = "rpa_evidence_notes_total"

#: A console step lasts seconds (a page or two) to minutes (a slow console, retries after pauses).
STEP_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

Labels = tuple[tuple[str, str], ...]


def labels_key(labels: dict[str, str]) -> str:
    """The labels as stored: sorted JSON, so the same labels always make the same row."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class ProcessMetrics:
    """This process's counts, flushed to ``rpa_counters``; the robots' and Zendesk client's observer."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.executor_id = settings.executor_id
        self._engine = engine
        self._owns_engine = engine is None
        self._ready = False
        self._pending: dict[tuple[str, str], float] = defaultdict(float)
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stopped = threading.Event()
        self._flusher: threading.Thread | None = None

    # -- counting -----------------------------------------------------------------------------
    def add(self, name: str, labels: dict[str, str] | None = None, amount: float = 1.0) -> None:
        with self._lock:
            self._pending[(name, labels_key(labels or {}))] += amount
            if self._flusher is None and not self._stopped.is_set():
                # Started by the first count: a process that counts nothing never opens the database for it.
                self._flusher = threading.Thread(target=self._flush_every, name="metrics-flush", daemon=True)
                self._flusher.start()

    def observe(self, name: str, labels: dict[str, str], value: float, buckets: tuple[float, ...]) -> None:
        """One observation of a histogram: the buckets it falls in, its sum and count."""
        for bound in buckets[bisect.bisect_left(buckets, value) :]:
            self.add(f"{name}_bucket", {**labels, "le": floatToGoString(bound)})
        self.add(f"{name}_bucket", {**labels, "le": "+Inf"})
        self.add(f"{name}_sum", labels, value)
        self.add(f"{name}_count", labels)

    # -- what the robots and the Zendesk client tell (``RobotObserver``, ``CallCounter``) -------
    def retried(self, policy: str) -> None:
        self.add(RETRIES, {"policy": policy})

    def step_ran(self, console: str, step: str, seconds: float, failed: bool) -> None:
        labels = {"console": console, "step": step}
        self.observe(STEP_DURATION, labels, seconds, STEP_BUCKETS)
        if failed:
            self.add(STEP_FAILURES, labels)

    def zendesk_request(self, method: str) -> None:
        self.add(ZENDESK_REQUESTS, {"method": method})

    def zendesk_rate_limited(self) -> None:
        self.add(ZENDESK_RATE_LIMITED)

    def evidence_note_posted(self) -> None:
        self.add(EVIDENCE_NOTES)

    # -- writing ------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = store_engine(self.settings.store_url())
        if not self._ready:
            create_tables(_metadata, self._engine)
            self._ready = True
        return self._engine

    def flush(self) -> None:
        """Add what was counted since the last flush to the shared rows; kept for the next flush on failure."""
        with self._flushing:
            with self._lock:
                taken, self._pending = self._pending, defaultdict(float)
            if not taken:
                return
            try:
                self._write(taken)
            except Exception:
                with self._lock:
                    for key, amount in taken.items():
                        self._pending[key] += amount
                raise

    def _write(self, taken: dict[tuple[str, str], float]) -> None:
        now = utc_now()
        missing: list[tuple[tuple[str, str], float]] = []
        with self.engine.begin() as db:
            for (name, labels), amount in taken.items():
                if not self._add(db, name, labels, amount, now):
                    missing.append(((name, labels), amount))
        for (name, labels), amount in missing:
            try:
                with self.engine.begin() as db:
                    db.execute(
                        insert(counters).values(
                            executor_id=self.executor_id, name=name, labels=labels, value=amount, updated_at=now
                        )
                    )
            except IntegrityError:
                # Another process of this executor made the row meanwhile: add to it.
                with self.engine.begin() as db:
                    self._add(db, name, labels, amount, now)

    def _add(self, db: Connection, name: str, labels: str, amount: float, now: datetime) -> bool:
        """Add to this executor's row of the counter; False when it has no row yet."""
        row = (counters.c.executor_id == self.executor_id) & (counters.c.name == name) & (counters.c.labels == labels)
        changed = db.execute(update(counters).where(row).values(value=counters.c.value + amount, updated_at=now))
        return bool(changed.rowcount)

    def _flush_every(self) -> None:
        while not self._stopped.wait(self.settings.metrics_flush_seconds):
            try:
                self.flush()
            except Exception as exc:  # the counts wait for the next flush; the robots go on
                logger.warning("metrics not written to the database: {}", exc)

    def close(self) -> None:
        """Stop flushing and write what is left (a process that ends must not lose its last counts)."""
        self._stopped.set()
        if self._flusher is not None:
            self._flusher.join(timeout=10)
        try:
            self.flush()
        except Exception as exc:
            logger.warning("last metrics not written to the database: {}", exc)
        if self._owns_engine and self._engine is not None:
            self._engine.dispose()


def stored_counters(engine: Engine) -> list[tuple[str, str, dict[str, str], float]]:
    """Every row of ``rpa_counters``: executor id, name, labels and value."""
    create_tables(_metadata, engine)
    with engine.connect() as db:
        rows = db.execute(select(counters.c.executor_id, counters.c.name, counters.c.labels, counters.c.value))
        return [(row.executor_id, row.name, json.loads(row.labels), row.value) for row in rows]
