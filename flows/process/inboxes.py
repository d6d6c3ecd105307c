"""What reaches a waiting flow without anyone typing ``rpa flow send``: the ticket's new comments and the
analysts' answers, turned into the flow's messages (``flows.process.messages``).

Both are read by polling, which needs only outbound calls to the APIs and consoles the robots already
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
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from flows.engine.run_store import FlowRun, RunStore
from flows.engine.toolkit import Toolkit
from flows.process.definition import WaitKind
from flows.process.messages import (
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
from robots.zendesk import ZendeskClient

#: Deliver ``message`` to ``flow_id`` on ``topic`` once per ``key``.
Send = Callable[[str, dict, Topic, str], None]

ANALYSTS_LEASE = "analysts-reader"


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
