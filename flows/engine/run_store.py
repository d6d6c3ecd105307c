"""The run store: what each flow did, step by step, for status, reports and the migration fence.

DBOS keeps what it needs to resume a flow; this store keeps what people need to read about it: the
activities a flow went through, each step's time, attempts, outcome and evidence, failures with their
screenshot and trace, and the fences that keep a side effect from ever running twice. It speaks
SQLAlchemy Core, so the same code runs on the embedded SQLite file and on a shared Postgres.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, ProgrammingError

from robots.evidence import utc_now

metadata = MetaData()

flow_runs = Table(
    "rpa_flow_runs", metadata,
    Column("flow_id", String(200), primary_key=True),
    Column("ticket_id", Integer, nullable=False, index=True),
    Column("kind", String(50), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("state", String(30), nullable=False),
    Column("activity", String(100)),
    Column("waiting_for", String(200)),
    Column("outcome", String(100)),
    Column("error", Text),
    Column("path", JSON, nullable=False, default=list),
    Column("watch_after", Integer, nullable=False, default=0),
)

flow_steps = Table(
    "rpa_flow_steps", metadata,
    Column("flow_id", String(200), primary_key=True),
    Column("step_key", String(100), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("activity", String(100)),
    Column("name", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("seconds", Float),
    Column("attempts", Integer, nullable=False, default=1),
    Column("outcome", String(200)),
    Column("error", Text),
    Column("screenshot", Text),
    Column("trace", Text),
    Column("evidence", JSON, nullable=False, default=list),
)

fences = Table(
    "rpa_fences", metadata,
    Column("flow_id", String(200), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("detail", Text),
)


class EvidenceRecord(BaseModel):
    """A piece of evidence a step left, and where it went."""

    file: str
    sha256: str
    portal: str
    description: str
    note_id: int | None = None
    public: bool = False


class StepRecord(BaseModel):
    flow_id: str
    step_key: str
    seq: int
    activity: str | None
    name: str
    started_at: datetime
    ended_at: datetime | None = None
    seconds: float | None = None
    attempts: int = 1
    outcome: str | None = None
    error: str | None = None
    screenshot: str | None = None
    trace: str | None = None
    evidence: list[EvidenceRecord] = Field(default_factory=list)


class FlowRun(BaseModel):
    flow_id: str
    ticket_id: int
    kind: str
    started_at: datetime
    updated_at: datetime
    state: str
    activity: str | None = None
    waiting_for: str | None = None
    outcome: str | None = None
    error: str | None = None
    path: list[str] = Field(default_factory=list)
    watch_after: int = 0


class RunStore:
    """Tables ``rpa_flow_runs``, ``rpa_flow_steps`` and ``rpa_fences`` in a SQLite file or Postgres."""

    def __init__(self, url: str) -> None:
        connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        self._create_tables()

    def _create_tables(self, attempts: int = 3) -> None:
        """Create the tables if missing; workers starting together on one database may race to do it."""
        for attempt in range(attempts):
            try:
                metadata.create_all(self.engine)
                return
            except (IntegrityError, ProgrammingError):
                # Another worker created them between our check and our CREATE: look again.
                if attempt == attempts - 1:
                    raise

    # -- flows --------------------------------------------------------------------------------
    def flow_started(self, flow_id: str, ticket_id: int, kind: str, watch_after: int = 0) -> None:
        """Register a flow once; ``watch_after`` goes in the same insert, so a watcher polling meanwhile
        never sees the flow with a zero mark and forwards the ticket's old comments to it."""
        now = utc_now()
        with self.engine.begin() as db:
            exists = db.execute(select(flow_runs.c.flow_id).where(flow_runs.c.flow_id == flow_id)).first()
            if exists is None:
                db.execute(insert(flow_runs).values(
                    flow_id=flow_id, ticket_id=ticket_id, kind=kind, started_at=now, updated_at=now,
                    state="running", path=[], watch_after=watch_after))

    def update_flow(self, flow_id: str, **values: Any) -> None:
        values["updated_at"] = utc_now()
        with self.engine.begin() as db:
            db.execute(update(flow_runs).where(flow_runs.c.flow_id == flow_id).values(**values))

    def enter_activity(self, flow_id: str, activity: str) -> None:
        """Mark the process node a flow is in, and add it to the path it has taken."""
        with self.engine.begin() as db:
            row = db.execute(select(flow_runs.c.path).where(flow_runs.c.flow_id == flow_id)).first()
            path = list(row.path or []) if row else []
            if not path or path[-1] != activity:
                path.append(activity)
            db.execute(update(flow_runs).where(flow_runs.c.flow_id == flow_id).values(
                activity=activity, path=path, updated_at=utc_now()))

    def flow(self, flow_id: str) -> FlowRun | None:
        with self.engine.connect() as db:
            row = db.execute(select(flow_runs).where(flow_runs.c.flow_id == flow_id)).mappings().first()
        return FlowRun(**row) if row else None

    def flows(self, limit: int = 200) -> list[FlowRun]:
        with self.engine.connect() as db:
            rows = db.execute(select(flow_runs).order_by(flow_runs.c.started_at.desc()).limit(limit)).mappings()
            return [FlowRun(**row) for row in rows]

    # -- steps --------------------------------------------------------------------------------
    def step_started(self, flow_id: str, step_key: str, seq: int, name: str, activity: str | None) -> None:
        """Record a step's start; a step run again after a crash keeps its first start time."""
        try:
            with self.engine.begin() as db:
                db.execute(insert(flow_steps).values(
                    flow_id=flow_id, step_key=step_key, seq=seq, name=name, activity=activity,
                    started_at=utc_now(), attempts=0, evidence=[]))
        except IntegrityError:
            pass

    def step_ended(self, flow_id: str, step_key: str, *, attempts: int, outcome: str | None,
                   error: str | None = None, screenshot: str | None = None, trace: str | None = None,
                   evidence: list[EvidenceRecord] | None = None) -> None:
        now = utc_now()
        with self.engine.begin() as db:
            row = db.execute(select(flow_steps.c.started_at, flow_steps.c.attempts).where(
                (flow_steps.c.flow_id == flow_id) & (flow_steps.c.step_key == step_key))).first()
            started = row.started_at if row else now
            if started.tzinfo is None:
                started = started.replace(tzinfo=timezone.utc)
            db.execute(update(flow_steps).where(
                (flow_steps.c.flow_id == flow_id) & (flow_steps.c.step_key == step_key)).values(
                ended_at=now, seconds=(now - started).total_seconds(),
                attempts=(row.attempts if row else 0) + attempts, outcome=outcome, error=error,
                screenshot=screenshot, trace=trace,
                evidence=[e.model_dump(mode="json") for e in evidence or []]))

    def steps(self, flow_id: str) -> list[StepRecord]:
        with self.engine.connect() as db:
            rows = db.execute(select(flow_steps).where(flow_steps.c.flow_id == flow_id)
                              .order_by(flow_steps.c.seq, flow_steps.c.started_at)).mappings()
            return [StepRecord(**{**row, "evidence": _json_list(row["evidence"])}) for row in rows]

    # -- fences -------------------------------------------------------------------------------
    def set_fence(self, flow_id: str, name: str, detail: str = "") -> bool:
        """Commit the fence before a never-twice action; False when it was already there."""
        try:
            with self.engine.begin() as db:
                db.execute(insert(fences).values(flow_id=flow_id, name=name, created_at=utc_now(),
                                                 detail=detail))
            return True
        except IntegrityError:
            return False

    def fence_time(self, flow_id: str, name: str) -> datetime | None:
        with self.engine.connect() as db:
            row = db.execute(select(fences.c.created_at).where(
                (fences.c.flow_id == flow_id) & (fences.c.name == name))).first()
        if row is None:
            return None
        return row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)

    def has_fence(self, flow_id: str, name: str) -> bool:
        with self.engine.connect() as db:
            return db.execute(select(fences.c.flow_id).where(
                (fences.c.flow_id == flow_id) & (fences.c.name == name))).first() is not None

    def clear_fence(self, flow_id: str, name: str) -> None:
        """Lift a fence once the truth is known (e.g. AR refused, so nothing happened)."""
        with self.engine.begin() as db:
            db.execute(fences.delete().where((fences.c.flow_id == flow_id) & (fences.c.name == name)))

    def dispose(self) -> None:
        self.engine.dispose()


def _json_list(value: Any) -> list:
    if isinstance(value, str):
        return json.loads(value)
    return list(value or [])
