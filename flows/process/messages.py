"""What a waiting flow receives, in one place: the topics of DBOS messages and the shape of each message.

Whoever delivers a message (the ticket intake, the analysts' reader, ``rpa flow send``) builds it from
these models, so a flow and its senders never disagree on a field name or a topic string.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field

from robots.contrato import BackupKind, TaskAnswer, TaskStatus


class Topic(str, Enum):
    """The inboxes of a flow (DBOS message topics)."""

    CUSTOMER = "customer"
    REVIEWER = "agent"
    ANALYSTS = "analyst"


class CustomerMessage(BaseModel):
    """What the customer wrote on WhatsApp, as it reached the ticket."""

    comment_id: int
    body: str = ""
    attachments: list[str] = Field(default_factory=list)


class ReviewDecision(BaseModel):
    """A person's verdict on the CI photos and selfie ("#aprobar" / "#rechazar Motivo: ...")."""

    approve: bool
    reason: str = ""


class AnalystsAnswer(BaseModel):
    """The activations analysts' answer to the flow's task, as their inbox showed it."""

    task_number: str
    status: TaskStatus
    missing_kind: BackupKind | None = None
    missing_backup: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, answer: TaskAnswer) -> AnalystsAnswer:
        return cls(
            task_number=answer.task_number,
            status=answer.status,
            missing_kind=answer.missing_kind,
            missing_backup=answer.missing_backup,
            reason=answer.reason,
        )


def review_decision_in(body: str) -> ReviewDecision | None:
    """A reviewer's verdict written as an internal note: "#aprobar" or "#rechazar Motivo: ..."."""
    text = (body or "").strip()
    lowered = text.lower()
    if lowered.startswith("#aprobar"):
        return ReviewDecision(approve=True)
    if lowered.startswith("#rechazar"):
        return ReviewDecision(approve=False, reason=text[len("#rechazar") :].strip(" :"))
    return None


def message_key(flow_id: str, source: str, ref: object) -> str:
    """The idempotency key of a message: the same comment or answer delivered twice reaches the flow once."""
    return f"{flow_id}-{source}-{ref}"
