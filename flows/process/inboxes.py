"""What reaches a waiting flow without anyone typing ``rpa flow send``: the ticket's new comments and the
analysts' answers, turned into the flow's messages (``flows.process.messages``); and what starts a new
ticket's flow when no webhook said it arrived.

All are read by polling, which needs only outbound calls to the APIs and consoles the robots already
use, so a worker behind the contact centre's firewall works the same, and a worker that was down simply
catches up when it starts again. Every message carries an idempotency key (the comment id; the flow's
numbered wait for the analysts), so two workers reading the same ticket, or a read repeated after a
crash, deliver it once.

* ``TicketInbox``: each live flow's ticket through Zendesk's comments API: the customer's public messages
  (with their files' names and types) and a person's command notes ("#aprobar", "#valor ...", "#continuar"...).
  ``rpa serve`` reads one ticket the same way the moment Zendesk's webhook says it changed (``forward_ticket``).
* ``AnalystsInbox``: the Contrato digital task of each flow waiting for the analysts, read by one worker
  of the whole deployment at a time (the holder of the run store's ``analysts-reader`` lease), so a 48 h
  wait is one durable wait in the flow and one read per interval for the deployment.
* ``CatchUpInbox``: what Zendesk's webhooks should have told and did not (``rpa serve`` down, a delivery a
  firewall dropped), read from Zendesk's ticket event export: new migration tickets start their flow, and
  comments on live flows' tickets are read at once, without waiting for the ticket's own poll, which may be
  minutes apart when webhooks are on.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from loguru import logger

from flows.engine.run_store import FlowRun, RunStore
from flows.engine.toolkit import Toolkit
from flows.process.definition import MIGRATION_TAG, WaitKind
from flows.process.messages import (
    AgentCommand,
    AnalystsAnswer,
    CustomerFile,
    CustomerMessage,
    Topic,
    agent_note_in,
    message_key,
)
from flows.steps import consoles
from pages.errors import RPAError
from robots.contrato import TaskStatus
from robots.zendesk import ExportLimitReached, TicketEvent, TicketEventKind, ZendeskClient

#: Deliver ``message`` to ``flow_id`` on ``topic`` once per ``key``.
Send = Callable[[str, dict, Topic, str], None]

#: Start a migration ticket's flow, or hand the ticket to an agent (``flows.process.arrivals``); the second
#: argument is the agent's ``#continuar`` note when it answers such a hand-off. True when a flow was started.
Arrive = Callable[[int, int | None], bool]

ANALYSTS_LEASE = "analysts-reader"
CATCH_UP_LEASE = "catch-up-reader"
#: The run store's name of the catch-up reader's position: the export's ``start_time`` of its next read.
CATCH_UP_POSITION = "zendesk-ticket-events"
#: Zendesk allows the whole account 10 incremental export requests a minute; the reader takes at most half,
#: leaving the rest to whatever else reads the account's exports (a report, a data warehouse).
EXPORT_REQUESTS_PER_MINUTE = 5


class TicketInbox:
    """Forwards new comments of live flows' tickets to those flows."""

    def __init__(self, store: RunStore, zendesk: ZendeskClient, send: Send) -> None:
        self.store = store
        self.zendesk = zendesk
        self.send = send
        self._requesters: dict[int, int] = {}

    def poll_once(self) -> int:
        """Read every live flow's ticket once; returns how many messages were forwarded."""
        return sum(self._read(flow) for flow in self.store.flows(limit=10_000) if flow.state.live)

    def forward_ticket(self, ticket_id: int, comment_id: int | None = None) -> int:
        """Read one ticket now, because Zendesk said it has a new comment (``comment_id`` when known);
        returns how many messages were forwarded, 0 when the ticket has no live flow."""
        flow = self.store.latest_flow(ticket_id)
        if flow is None or not flow.state.live:
            return 0
        if comment_id is not None and comment_id <= flow.watch_after:
            return 0  # already forwarded by an earlier read: no need to ask Zendesk
        return self._read(flow)

    def _read(self, flow: FlowRun) -> int:
        try:
            return self._forward(flow.flow_id, flow.ticket_id, flow.watch_after)
        except RPAError as exc:
            logger.warning("could not read ticket {} for flow {}: {}", flow.ticket_id, flow.flow_id, exc)
            return 0

    def _forward(self, flow_id: str, ticket_id: int, after: int) -> int:
        if ticket_id not in self._requesters:
            self._requesters[ticket_id] = self.zendesk.ticket(ticket_id).requester_id
        requester = self._requesters[ticket_id]
        newest, forwarded = after, 0
        for comment in self.zendesk.comments(ticket_id):
            if comment.id <= after:
                continue
            newest = max(newest, comment.id)
            key = message_key(flow_id, "comment", comment.id)
            if comment.public and comment.author_id == requester:
                message = CustomerMessage(
                    comment_id=comment.id,
                    body=comment.body,
                    files=[CustomerFile(name=a.file_name, content_type=a.content_type) for a in comment.attachments],
                )
                self.send(flow_id, message.model_dump(mode="json"), Topic.CUSTOMER, key)
                forwarded += 1
            elif not comment.public and comment.author_id != requester:
                note = agent_note_in(comment.body, comment.author_id)
                if note is not None:
                    self.send(flow_id, note.model_dump(mode="json"), Topic.AGENT, key)
                    forwarded += 1
        if newest != after:
            self.store.update_flow(flow_id, watch_after=newest)
        return forwarded


class AnalystsInbox:
    """Reads the analysts' answer for every flow waiting on them, when this worker holds the lease."""

    def __init__(self, store: RunStore, toolkit: Toolkit, send: Send, holder: str, lease_seconds: float) -> None:
        self.store = store
        self.toolkit = toolkit
        self.send = send
        self.holder = holder
        self.lease_seconds = lease_seconds

    def poll_once(self) -> int:
        if not self.store.hold_lease(ANALYSTS_LEASE, self.holder, self.lease_seconds):
            return 0
        forwarded = 0
        for flow in self.store.flows_waiting(WaitKind.ANALYSTS.value):
            if not flow.waiting_ref:
                continue
            forwarded += self.read(flow.flow_id, flow.waiting_ref)
        return forwarded

    def read(self, flow_id: str, wait_ref: str) -> int:
        """Read the task of one numbered wait (``TA-000001#2``) and deliver its answer if there is one."""
        task_number = wait_ref.split("#", 1)[0]
        try:
            answer = consoles.task_answer(self.toolkit, task_number).result
        except RPAError as exc:
            logger.warning("could not read task {} for flow {}: {}", task_number, flow_id, exc)
            return 0
        if answer.status == TaskStatus.PENDING:
            return 0
        self.send(
            flow_id,
            AnalystsAnswer.of(answer).model_dump(mode="json"),
            Topic.ANALYSTS,
            message_key(flow_id, "analysts", wait_ref),
        )
        return 1


class CatchUpInbox:
    """Reads Zendesk's ticket event export for the whole deployment, when this worker holds the lease.

    One worker of the deployment reads at a time, chosen by the run store's ``catch-up-reader`` lease exactly
    as ``AnalystsInbox`` is by ``analysts-reader``: the export allows the account 10 requests a minute, which
    workers each reading could not share. Its position (the export's ``end_time``) is kept in the run store,
    so a reader that takes over, or a deployment started again after a week, goes on from where the last
    read stopped; a deployment that never read starts ``look_back_seconds`` back. The position moves only
    after a page is handed over: a page whose hand-over failed is read again, and everything read twice is
    handed over once (comments by id, one flow per ticket, one hand-off note per ticket).

    What it hands over:

    * a ticket created with the migration tag, or tagged later, starts its flow (``arrive``);
    * a comment on a live flow's ticket has the ticket read now (``TicketInbox.forward_ticket``);
    * an agent's ``#continuar`` note on a ticket without a flow (the answer to a refused start's hand-off)
      has the start tried again.

    Zendesk leaves the last minute out of the export: this path is a safety net, a minute or two behind.
    """

    def __init__(
        self,
        store: RunStore,
        zendesk: ZendeskClient,
        tickets: TicketInbox,
        arrive: Arrive,
        *,
        holder: str,
        lease_seconds: float,
        interval_seconds: float,
        look_back_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.zendesk = zendesk
        self.tickets = tickets
        self.arrive = arrive
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.look_back_seconds = look_back_seconds
        self.clock = clock
        #: Requests a turn may make, so that at one turn per interval the minute holds at most the reader's share.
        self.pages_per_turn = max(
            1, min(EXPORT_REQUESTS_PER_MINUTE, int(interval_seconds * EXPORT_REQUESTS_PER_MINUTE / 60))
        )
        self._holding = False
        self._robot_id: int | None = None
        self._paused_until = 0.0
        # Events of the second a page ended in come again on the next page: they are known, not handed over again.
        self._handed: OrderedDict[tuple[object, ...], None] = OrderedDict()

    def poll_once(self) -> int:
        """Read what the export holds since the position, if this worker is the reader; returns how many
        messages were forwarded and flows started."""
        if time.monotonic() < self._paused_until:
            return 0
        if not self.store.hold_lease(CATCH_UP_LEASE, self.holder, self.lease_seconds):
            if self._holding:
                logger.info("{} no longer reads Zendesk's ticket event export: another worker does", self.holder)
            self._holding = False
            return 0
        if not self._holding:
            logger.info("{} reads Zendesk's ticket event export for the deployment", self.holder)
        self._holding = True
        start, handed = self._start_time(), 0
        for _ in range(self.pages_per_turn):
            try:
                events, next_start, end_of_stream = self.zendesk.ticket_events(start)
                handed += self._hand_over(events)
            except ExportLimitReached as exc:
                self._paused_until = time.monotonic() + exc.retry_after
                logger.info("Zendesk's export limit reached: the catch-up reads again in {} s", exc.retry_after)
                break
            except RPAError as exc:
                logger.warning("catch-up read of Zendesk's ticket events since {} failed: {}", start, exc)
                break
            if next_start != start:
                self.store.keep_position(CATCH_UP_POSITION, str(next_start))
            start = next_start
            if end_of_stream:
                break
        return handed

    def _start_time(self) -> int:
        kept = self.store.position(CATCH_UP_POSITION)
        if kept is not None and kept.strip().isdigit():
            return int(kept)
        return max(0, int(self.clock() - self.look_back_seconds))

    def _hand_over(self, events: list[TicketEvent]) -> int:
        handed = 0
        newest_comment: dict[int, int] = {}
        for event in events:
            key = (event.kind, event.ticket_id, event.comment_id, event.at)
            if key in self._handed:
                continue
            if event.kind == TicketEventKind.COMMENT_ADDED and event.comment_id is not None:
                if event.author_id == self._robot():
                    pass  # the robot's own macros and notes: nothing for its flows to read
                elif self._continues_refused_start(event):
                    handed += self.arrive(event.ticket_id, event.comment_id)
                else:
                    newest_comment[event.ticket_id] = max(newest_comment.get(event.ticket_id, 0), event.comment_id)
            elif MIGRATION_TAG in event.tags and self.store.latest_flow(event.ticket_id) is None:
                # A ticket whose flow runs (started by the webhook, or by a person) costs no read.
                handed += self.arrive(event.ticket_id, None)
            self._remember(key)
        # One read of a ticket brings all its new comments: one read per ticket, for its newest comment.
        for ticket_id, comment_id in newest_comment.items():
            handed += self.tickets.forward_ticket(ticket_id, comment_id)
        return handed

    def _robot(self) -> int | None:
        """The robot's own Zendesk user (read once): the export holds its comments too, which cost a read each
        if handed over."""
        if self._robot_id is None:
            try:
                self._robot_id = self.zendesk.current_user_id()
            except RPAError as exc:
                logger.warning("could not tell the robot's Zendesk user: {}", exc)
        return self._robot_id

    def _continues_refused_start(self, event: TicketEvent) -> bool:
        if event.public or not event.body.lstrip().startswith("#"):
            return False
        note = agent_note_in(event.body, event.author_id)
        return (
            note is not None
            and note.command == AgentCommand.CONTINUE
            and self.store.latest_flow(event.ticket_id) is None
        )

    def _remember(self, key: tuple[object, ...]) -> None:
        self._handed[key] = None
        while len(self._handed) > 10_000:
            self._handed.popitem(last=False)
