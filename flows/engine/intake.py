"""Brings what people write on a ticket to the flow waiting on it, without anyone typing ``rpa flow send``.

The worker polls each live flow's ticket through Zendesk's comments API and forwards what is new since
the flow started: the customer's public messages (with their attachment names) to the flow's
"customer" inbox, and a person's "#aprobar" / "#rechazar" internal note to its "agent" inbox.

Polling was chosen over Zendesk's webhooks: it needs only outbound calls to the same REST API the
robots already use, so a worker behind the contact centre's firewall (or on a laptop, or against the
mocks) works the same, and a worker that was down simply catches up when it starts again. Each message
is sent with the comment id as its idempotency key, so several workers polling the same ticket, or a
poll repeated after a crash, deliver it once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loguru import logger

from pages.errors import RPAError
from robots.zendesk import ZendeskClient

from flows.engine.run_store import RunStore

Send = Callable[[str, Any, str, str], None]
LIVE_STATES = ("running", "waiting")


def decision_in(body: str) -> dict | None:
    """A reviewer's verdict written as an internal note: "#aprobar" or "#rechazar Motivo: ..."."""
    text = (body or "").strip()
    lowered = text.lower()
    if lowered.startswith("#aprobar"):
        return {"approve": True, "reason": ""}
    if lowered.startswith("#rechazar"):
        return {"approve": False, "reason": text[len("#rechazar"):].strip(" :")}
    return None


class TicketWatcher:
    """Forwards new comments of live flows' tickets to those flows."""

    def __init__(self, store: RunStore, zendesk: ZendeskClient, send: Send) -> None:
        self.store = store
        self.zendesk = zendesk
        self.send = send
        self._requesters: dict[int, int] = {}

    def poll_once(self) -> int:
        """Read every live flow's ticket once; returns how many messages were forwarded."""
        forwarded = 0
        for flow in self.store.flows(limit=10_000):
            if flow.state not in LIVE_STATES:
                continue
            try:
                forwarded += self._forward(flow.flow_id, flow.ticket_id, flow.watch_after)
            except RPAError as exc:
                logger.warning("could not read ticket {} for flow {}: {}", flow.ticket_id, flow.flow_id, exc)
        return forwarded

    def _forward(self, flow_id: str, ticket_id: int, after: int) -> int:
        if ticket_id not in self._requesters:
            self._requesters[ticket_id] = self.zendesk.ticket(ticket_id).requester_id
        requester = self._requesters[ticket_id]
        newest, forwarded = after, 0
        for comment in self.zendesk.comments(ticket_id):
            if comment.id <= after:
                continue
            newest = max(newest, comment.id)
            if comment.public and comment.author_id == requester:
                message = {"comment_id": comment.id, "body": comment.body,
                           "attachments": [a.file_name for a in comment.attachments]}
                self.send(flow_id, message, "customer", f"{flow_id}-comment-{comment.id}")
                forwarded += 1
            elif not comment.public and comment.author_id != requester:
                decision = decision_in(comment.body)
                if decision is not None:
                    self.send(flow_id, decision, "agent", f"{flow_id}-comment-{comment.id}")
                    forwarded += 1
        if newest != after:
            self.store.update_flow(flow_id, watch_after=newest)
        return forwarded
