"""The run store: what each flow did, step by step, for status, reports and the migration fence.

DBOS keeps what it needs to resume a flow; this store keeps what people need to read about it: the
activities a flow went through, each step's time, attempts, outcome and evidence, failures with their
screenshot and trace, and the fences that keep a side effect from ever running twice. It also keeps what
one process of the whole deployment does on behalf of all: who does it (leases) and how far it got
(positions, such as where the catch-up reader is in Zendesk's ticket event export). It speaks SQLAlchemy
Core, so the same code runs on the embedded SQLite file and on a shared Postgres.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import Enum
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
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from flows.engine.databases import create_tables, store_engine
from robots.evidence import utc_now

metadata = MetaData()

flow_runs = Table(
    "rpa_flow_runs",
    metadata,
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
    Column("waiting_kind", String(30)),
    Column("waiting_ref", String(100)),
)

flow_steps = Table(
    "rpa_flow_steps",
    metadata,
    Column("flow_id", String(200), primary_key=True),
    Column("step_key", String(100), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("activity", String(100)),
    Column("name", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("seconds", Float),
    Column("attempts", Integer, nullable=False, default=1),
    Column("runs", Integer, nullable=False, default=1),
    Column("outcome", String(200)),
    Column("error", Text),
    Column("screenshot", Text),
    Column("trace", Text),
    Column("evidence", JSON, nullable=False, default=list),
)

write_fences = Table(
    "rpa_write_fences",
    metadata,
    Column("ticket_id", Integer, primary_key=True),
    Column("write", String(200), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("flow_id", String(200)),
    Column("detail", Text),
)

leases = Table(
    "rpa_leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

#: Tickets an agent took over from the panel: their flow does nothing until the agent gives them back.
holds = Table(
    "rpa_ticket_holds",
    metadata,
    Column("ticket_id", Integer, primary_key=True),
    Column("agent", String(200), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)

positions = Table(
    "rpa_positions",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Columns added to tables of an earlier release: added in place, so an existing run store keeps its history.
_ADDED_COLUMNS = {
    "rpa_flow_runs": {"waiting_kind": "VARCHAR(30)", "waiting_ref": "VARCHAR(100)"},
    "rpa_flow_steps": {"runs": "INTEGER NOT NULL DEFAULT 1"},
}


class RunState(str, Enum):
    """Where a flow's run stands, as people read it (DBOS keeps its own status beside it)."""

    RUNNING = "running"
    WAITING = "waiting"
    ENDED = "ended"
    FAILED = "failed"

    @property
    def live(self) -> bool:
        return self in (RunState.RUNNING, RunState.WAITING)


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
    runs: int = 1
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
    state: RunState
    activity: str | None = None
    waiting_for: str | None = None
    outcome: str | None = None
    error: str | None = None
    path: list[str] = Field(default_factory=list)
    watch_after: int = 0
    waiting_kind: str | None = None
    waiting_ref: str | None = None


class RunStore:
    """Tables ``rpa_flow_runs``, ``rpa_flow_steps``, ``rpa_write_fences``, ``rpa_leases`` and
    ``rpa_positions`` in a SQLite file or Postgres."""

    def __init__(self, url: str) -> None:
        self.engine = store_engine(url)
        self._create_tables()

    def _create_tables(self, attempts: int = 3) -> None:
        """Create the tables if missing; workers starting together on one database may race to do it."""
        for attempt in range(attempts):
            try:
                create_tables(metadata, self.engine)
                self._add_missing_columns()
                return
            except (IntegrityError, ProgrammingError):
                # Another worker added a column between our check and our ALTER: look again.
                if attempt == attempts - 1:
                    raise

    def _add_missing_columns(self) -> None:
        inspector = inspect(self.engine)
        for table, columns in _ADDED_COLUMNS.items():
            present = {c["name"] for c in inspector.get_columns(table)}
            for name, sql_type in columns.items():
                if name not in present:
                    try:
                        with self.engine.begin() as db:
                            db.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}"))
                    except (OperationalError, ProgrammingError):
                        pass  # another worker added it first

    # -- flows --------------------------------------------------------------------------------
    def flow_started(self, flow_id: str, ticket_id: int, kind: str, watch_after: int = 0) -> None:
        """Register a flow once; ``watch_after`` goes in the same insert, so a watcher polling meanwhile
        never sees the flow with a zero mark and forwards the ticket's old comments to it."""
        now = utc_now()
        with self.engine.begin() as db:
            exists = db.execute(select(flow_runs.c.flow_id).where(flow_runs.c.flow_id == flow_id)).first()
            if exists is None:
                db.execute(
                    insert(flow_runs).values(
                        flow_id=flow_id,
                        ticket_id=ticket_id,
                        kind=kind,
                        started_at=now,
                        updated_at=now,
                        state=RunState.RUNNING.value,
                        path=[],
                        watch_after=watch_after,
                    )
                )

    def update_flow(self, flow_id: str, **values: Any) -> None:
        values = {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}
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
            db.execute(
                update(flow_runs)
                .where(flow_runs.c.flow_id == flow_id)
                .values(activity=activity, path=path, updated_at=utc_now())
            )

    def flow(self, flow_id: str) -> FlowRun | None:
        with self.engine.connect() as db:
            row = db.execute(select(flow_runs).where(flow_runs.c.flow_id == flow_id)).mappings().first()
        return FlowRun(**row) if row else None

    def state_counts(self) -> dict[str, int]:
        """How many flows the store holds in each state, counted by the database (all of them)."""
        with self.engine.connect() as db:
            rows = db.execute(select(flow_runs.c.state, func.count()).group_by(flow_runs.c.state))
            return {state: count for state, count in rows}

    def flows(self, limit: int = 200) -> list[FlowRun]:
        with self.engine.connect() as db:
            rows = db.execute(select(flow_runs).order_by(flow_runs.c.started_at.desc()).limit(limit)).mappings()
            return [FlowRun(**row) for row in rows]

    # -- steps --------------------------------------------------------------------------------
    def step_started(self, flow_id: str, step_key: str, seq: int, name: str, activity: str | None) -> None:
        """Record a step's start. A step started again (after a crash, in this process or another) keeps its
        first start time and counts one more run and one more attempt, so the report shows it ran again."""
        try:
            with self.engine.begin() as db:
                db.execute(
                    insert(flow_steps).values(
                        flow_id=flow_id,
                        step_key=step_key,
                        seq=seq,
                        name=name,
                        activity=activity,
                        started_at=utc_now(),
                        attempts=1,
                        runs=1,
                        evidence=[],
                    )
                )
        except IntegrityError:
            with self.engine.begin() as db:
                db.execute(
                    update(flow_steps)
                    .where((flow_steps.c.flow_id == flow_id) & (flow_steps.c.step_key == step_key))
                    .values(attempts=flow_steps.c.attempts + 1, runs=flow_steps.c.runs + 1)
                )

    def step_ended(
        self,
        flow_id: str,
        step_key: str,
        *,
        attempts: int,
        outcome: str | None,
        error: str | None = None,
        screenshot: str | None = None,
        trace: str | None = None,
        evidence: list[EvidenceRecord] | None = None,
    ) -> None:
        now = utc_now()
        with self.engine.begin() as db:
            row = db.execute(
                select(flow_steps.c.started_at, flow_steps.c.attempts).where(
                    (flow_steps.c.flow_id == flow_id) & (flow_steps.c.step_key == step_key)
                )
            ).first()
            started = row.started_at if row else now
            if started.tzinfo is None:
                started = started.replace(tzinfo=UTC)
            db.execute(
                update(flow_steps)
                .where((flow_steps.c.flow_id == flow_id) & (flow_steps.c.step_key == step_key))
                .values(
                    ended_at=now,
                    seconds=(now - started).total_seconds(),
                    # The start counted this run's first attempt; the robot's own retries come on top.
                    attempts=(row.attempts if row else 0) + max(0, attempts - 1),
                    outcome=outcome,
                    error=error,
                    screenshot=screenshot,
                    trace=trace,
                    evidence=[e.model_dump(mode="json") for e in evidence or []],
                )
            )

    def steps(self, flow_id: str) -> list[StepRecord]:
        with self.engine.connect() as db:
            rows = db.execute(
                select(flow_steps)
                .where(flow_steps.c.flow_id == flow_id)
                .order_by(flow_steps.c.seq, flow_steps.c.started_at)
            ).mappings()
            return [StepRecord(**{**row, "evidence": _json_list(row["evidence"])}) for row in rows]

    # -- write fences -------------------------------------------------------------------------
    def set_write_fence(self, ticket_id: int, write: str, *, flow_id: str | None = None, detail: str = "") -> bool:
        """Commit the fence of a business write before it is made; False when it was already there.

        A fence is keyed by the ticket and the write (``ar-migration``, ``macro:GESTION#2``), never by a
        step or workflow id, so a change of the flow's code does not move it.
        """
        try:
            with self.engine.begin() as db:
                db.execute(
                    insert(write_fences).values(
                        ticket_id=ticket_id, write=write, created_at=utc_now(), flow_id=flow_id, detail=detail
                    )
                )
            return True
        except IntegrityError:
            return False

    def write_fence_time(self, ticket_id: int, write: str) -> datetime | None:
        with self.engine.connect() as db:
            row = db.execute(
                select(write_fences.c.created_at).where(
                    (write_fences.c.ticket_id == ticket_id) & (write_fences.c.write == write)
                )
            ).first()
        if row is None:
            return None
        return row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)

    def clear_write_fence(self, ticket_id: int, write: str) -> None:
        """Lift a fence once the truth is known (e.g. AR refused, so nothing happened)."""
        with self.engine.begin() as db:
            db.execute(
                write_fences.delete().where((write_fences.c.ticket_id == ticket_id) & (write_fences.c.write == write))
            )

    # -- leases -------------------------------------------------------------------------------
    def hold_ticket(self, ticket_id: int, agent: str) -> str:
        """An agent takes the ticket over; returns who holds it (the first agent, if one did already)."""
        try:
            with self.engine.begin() as db:
                db.execute(insert(holds).values(ticket_id=ticket_id, agent=agent, since=utc_now()))
            return agent
        except IntegrityError:
            return self.held_by(ticket_id) or agent

    def release_ticket(self, ticket_id: int) -> bool:
        """The agent gives the ticket back to the robot; False when nobody held it."""
        with self.engine.begin() as db:
            return bool(db.execute(holds.delete().where(holds.c.ticket_id == ticket_id)).rowcount)

    def held_by(self, ticket_id: int) -> str | None:
        with self.engine.connect() as db:
            return db.execute(select(holds.c.agent).where(holds.c.ticket_id == ticket_id)).scalar()

    def hold_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or keep the lease ``name`` for ``seconds``; False while another holder's lease is current.

        What one process of the whole deployment must do (read the analysts' inbox) is done by the holder.
        """
        now = utc_now()
        until = now + timedelta(seconds=seconds)
        with self.engine.begin() as db:
            taken = db.execute(
                update(leases)
                .where((leases.c.name == name) & ((leases.c.holder == holder) | (leases.c.expires_at < now)))
                .values(holder=holder, expires_at=until)
            ).rowcount
        if taken:
            return True
        try:
            with self.engine.begin() as db:
                db.execute(insert(leases).values(name=name, holder=holder, expires_at=until))
            return True
        except IntegrityError:
            return False

    def claim_lease(self, name: str, holder: str, seconds: float) -> None:
        """Take the lease ``name`` whoever holds it: a worker starting takes its own lease back."""
        until = utc_now() + timedelta(seconds=seconds)
        with self.engine.begin() as db:
            if db.execute(update(leases).where(leases.c.name == name).values(holder=holder, expires_at=until)).rowcount:
                return
        try:
            with self.engine.begin() as db:
                db.execute(insert(leases).values(name=name, holder=holder, expires_at=until))
        except IntegrityError:
            with self.engine.begin() as db:
                db.execute(update(leases).where(leases.c.name == name).values(holder=holder, expires_at=until))

    def renew_lease(self, name: str, holder: str, seconds: float) -> str | None:
        """Keep the lease ``name`` for ``seconds`` more if ``holder`` still holds it, expired or not (nobody
        took it meanwhile); otherwise who holds it now, and nothing changes."""
        with self.engine.begin() as db:
            kept = db.execute(
                update(leases)
                .where((leases.c.name == name) & (leases.c.holder == holder))
                .values(expires_at=utc_now() + timedelta(seconds=seconds))
            ).rowcount
            if kept:
                return None
            row = db.execute(select(leases.c.holder).where(leases.c.name == name)).first()
        return row.holder if row else "nobody (its lease is gone)"

    def expired_leases(self, prefix: str) -> list[tuple[str, str]]:
        """The leases named ``prefix…`` whose time ran out, as (name, holder)."""
        with self.engine.connect() as db:
            rows = db.execute(
                select(leases.c.name, leases.c.holder).where(
                    leases.c.name.startswith(prefix, autoescape=True) & (leases.c.expires_at < utc_now())
                )
            )
            return [(row.name, row.holder) for row in rows]

    def take_expired_lease(self, name: str, seen_holder: str, holder: str, seconds: float) -> bool:
        """Take the lease ``name`` from ``seen_holder`` only if it is still theirs and still expired: of two
        processes trying at once, exactly one gets it (the row is updated atomically)."""
        now = utc_now()
        # A row locked by a holder paused inside its own renewal is skipped rather than waited for: waiting
        # could outlast this process's own lease. SQLite has no row locks and ignores the clause.
        still_expired = (
            select(leases.c.name)
            .where((leases.c.name == name) & (leases.c.holder == seen_holder) & (leases.c.expires_at < now))
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        with self.engine.begin() as db:
            return bool(
                db.execute(
                    update(leases)
                    .where(leases.c.name == still_expired)
                    .values(holder=holder, expires_at=now + timedelta(seconds=seconds))
                ).rowcount
            )

    def settle_lease(self, name: str, holder: str, until: datetime) -> None:
        """Set the time of a lease ``holder`` holds (a takeover done stays held until ``until``)."""
        with self.engine.begin() as db:
            db.execute(
                update(leases).where((leases.c.name == name) & (leases.c.holder == holder)).values(expires_at=until)
            )

    # -- positions ----------------------------------------------------------------------------
    def position(self, name: str) -> str | None:
        """How far the deployment's reader ``name`` got in what it reads; None before its first read."""
        with self.engine.connect() as db:
            row = db.execute(select(positions.c.value).where(positions.c.name == name)).first()
        return row.value if row else None

    def keep_position(self, name: str, value: str) -> None:
        """Remember the reader's position, so the next reader (this process or another) goes on from it."""
        now = utc_now()
        with self.engine.begin() as db:
            kept = db.execute(
                update(positions).where(positions.c.name == name).values(value=value, updated_at=now)
            ).rowcount
        if kept:
            return
        try:
            with self.engine.begin() as db:
                db.execute(insert(positions).values(name=name, value=value, updated_at=now))
        except IntegrityError:
            # Another process kept its first position at the same moment: ours is as good, and newer.
            with self.engine.begin() as db:
                db.execute(update(positions).where(positions.c.name == name).values(value=value, updated_at=now))

    def flows_waiting(self, kind: str) -> list[FlowRun]:
        """Flows waiting for ``kind`` (a ``WaitKind`` value), oldest first."""
        with self.engine.connect() as db:
            rows = db.execute(
                select(flow_runs)
                .where((flow_runs.c.state == RunState.WAITING.value) & (flow_runs.c.waiting_kind == kind))
                .order_by(flow_runs.c.started_at)
            ).mappings()
            return [FlowRun(**row) for row in rows]

    def dispose(self) -> None:
        self.engine.dispose()

    # -- reading for reports --
    def latest_flow(self, ticket_id: int) -> FlowRun | None:
        """The ticket's most recently started flow, whatever its state."""
        with self.engine.connect() as db:
            row = (
                db.execute(
                    select(flow_runs)
                    .where(flow_runs.c.ticket_id == ticket_id)
                    .order_by(flow_runs.c.started_at.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return FlowRun(**row) if row else None


def _json_list(value: Any) -> list:
    if isinstance(value, str):
        return json.loads(value)
    return list(value or [])
