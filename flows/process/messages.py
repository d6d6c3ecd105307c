"""What a waiting flow receives, in one place: the topics of DBOS messages and the shape of each message.

Whoever delivers a message (the ticket intake, the analysts' reader, ``rpa flow send``) builds it from
these models, so a flow and its senders never disagree on a field name or a topic string.

People speak to a flow through internal notes that start with a command (README, "Hand-offs"):

* ``#aprobar anverso=1 reverso=2 selfie=3`` / ``#rechazar Motivo: ...``: the verdict on the customer's CI
  photos and selfie; the numbers are those of the review note's list, so the contract's backups take the
  labels the person gave them.
* ``#valor <value>``: the value a hand-off asked for (a plan, a token, a NIT, "si"/"no").
* ``#continuar``: the robot goes on from where it stopped (after the agent fixed a ticket field, spoke with
  the customer, or a console came back).
* ``#terminar <macro>``: the robot applies that macro (its short name, e.g. ``despedida``, or its title)
  and ends the flow.
"""

from __future__ import annotations

import re
from enum import Enum

from pydantic import BaseModel, Field

from flows.process.replies import CustomerFile
from robots.contrato import BackupKind, TaskAnswer, TaskStatus


class Topic(str, Enum):
    """The inboxes of a flow (DBOS message topics)."""

    CUSTOMER = "customer"
    AGENT = "agent"  # a person's command note: a review verdict or the answer to a hand-off
    ANALYSTS = "analyst"


class CustomerMessage(BaseModel):
    """What the customer wrote on WhatsApp, as it reached the ticket."""

    comment_id: int
    body: str = ""
    files: list[CustomerFile] = Field(default_factory=list)


class AgentCommand(str, Enum):
    """The commands a person writes at the start of an internal note."""

    APPROVE = "aprobar"
    REJECT = "rechazar"
    VALUE = "valor"
    CONTINUE = "continuar"
    END = "terminar"


#: The review labels a person may give to the customer's photos, and the backup each one becomes.
REVIEW_LABELS: dict[str, BackupKind] = {
    "anverso": BackupKind.CI_FRONT,
    "reverso": BackupKind.CI_BACK,
    "selfie": BackupKind.SELFIE,
}


class AgentNote(BaseModel):
    """A person's command note: the command, its text (value, reason or macro) and any photo labels."""

    command: AgentCommand
    text: str = ""
    labels: dict[str, int] = Field(default_factory=dict, description="backup kind -> number in the review list")
    author_id: int | None = None

    @property
    def approve(self) -> bool:
        return self.command == AgentCommand.APPROVE


_COMMAND = re.compile(r"^\s*#(aprobar|rechazar|valor|continuar|terminar)\b[\s:]*(.*)$", re.IGNORECASE | re.DOTALL)
_LABEL = re.compile(r"\b(anverso|reverso|selfie)\s*[=:]?\s*(\d{1,2})\b", re.IGNORECASE)


def agent_note_in(body: str, author_id: int | None = None) -> AgentNote | None:
    """The command of an internal note, or None when the note does not start with one."""
    match = _COMMAND.match(body or "")
    if match is None:
        return None
    command = AgentCommand(match.group(1).lower())
    text = match.group(2).strip()
    if command == AgentCommand.REJECT:
        text = re.sub(r"^motivo\s*:?\s*", "", text, flags=re.IGNORECASE)
    labels = (
        {REVIEW_LABELS[label.lower()].value: int(number) for label, number in _LABEL.findall(text)}
        if command == AgentCommand.APPROVE
        else {}
    )
    return AgentNote(
        command=command, text=text.splitlines()[0].strip() if text else "", labels=labels, author_id=author_id
    )


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


def message_key(flow_id: str, source: str, ref: object) -> str:
    """The idempotency key of a message: the same comment or answer delivered twice reaches the flow once."""
    return f"{flow_id}-{source}-{ref}"
