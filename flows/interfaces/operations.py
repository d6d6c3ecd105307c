"""What the ``rpa flow`` commands do, for a person at a terminal: start, look at, feed and retry flows.

They talk to flows through DBOS's client (the flows themselves run in ``rpa worker``), so they work
from any machine that reaches the database. Input is checked before anything is written.
"""

from __future__ import annotations

from dbos import DBOSClient, EnqueueOptions
from pydantic import BaseModel

from pages.errors import InvalidInput, RecordNotFound
from robots.base import valid_line
from robots.zendesk import ZendeskClient

from flows.engine.durable import FLOW_QUEUE
from flows.engine.run_store import FlowRun, RunStore, StepRecord

FLOW_KINDS = ("migration",)
SEND_KINDS = {
    "customer": "a customer message (VALUE: the text)",
    "token": "the token the customer sent (VALUE: the code)",
    "approve": "a person approves the CI photos and selfie",
    "reject": "a person rejects them (VALUE: the reason)",
    "analyst": "re-read the analysts' task now",
}


def flow_id_of(ticket_id: int, kind: str = "migration") -> str:
    return f"{kind}-{ticket_id}"


def start(client: DBOSClient, zendesk: ZendeskClient, ticket_id: int, kind: str = "migration") -> str:
    """Queue the flow of a ticket; starting it again returns the same flow (one flow per ticket)."""
    if kind not in FLOW_KINDS:
        raise InvalidInput(f"unknown flow {kind!r}; known: {', '.join(FLOW_KINDS)}")
    if ticket_id <= 0:
        raise InvalidInput(f"ticket number must be positive, got {ticket_id}")
    ticket = zendesk.ticket(ticket_id)
    if not ticket.line:
        raise InvalidInput(f"ticket {ticket_id} has no line to migrate (field 'Línea a migrar' is empty)")
    valid_line(ticket.line)
    options: EnqueueOptions = {"queue_name": FLOW_QUEUE, "workflow_name": kind,
                               "workflow_id": flow_id_of(ticket_id, kind)}
    handle = client.enqueue(options, ticket_id)
    return handle.workflow_id


class FlowView(BaseModel):
    """A flow as ``rpa flow status`` shows it."""

    flow_id: str
    engine_status: str
    run: FlowRun | None
    steps: list[StepRecord]


def status(client: DBOSClient, store: RunStore, ticket_id: int) -> FlowView:
    flow_id = flow_id_of(ticket_id)
    found = client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
    if not found:
        raise RecordNotFound(f"no flow for ticket {ticket_id} (start it with: rpa flow start migration --ticket {ticket_id})")
    return FlowView(flow_id=flow_id, engine_status=found[0].status, run=store.flow(flow_id),
                    steps=store.steps(flow_id))


def send(client: DBOSClient, ticket_id: int, kind: str, value: str | None) -> None:
    """Hand a message to a waiting flow, as the watcher would."""
    if kind not in SEND_KINDS:
        raise InvalidInput(f"unknown message kind {kind!r}; known: {', '.join(SEND_KINDS)}")
    if kind in ("customer", "token") and not value:
        raise InvalidInput(f"'{kind}' needs a VALUE ({SEND_KINDS[kind]})")
    flow_id = flow_id_of(ticket_id)
    found = client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
    if not found:
        raise RecordNotFound(f"no flow for ticket {ticket_id}")
    if found[0].status not in ("PENDING", "ENQUEUED"):
        raise InvalidInput(f"the flow of ticket {ticket_id} is {found[0].status}: it waits for nothing")
    if kind in ("customer", "token"):
        client.send(flow_id, {"comment_id": 0, "body": value, "attachments": []}, "customer")
    elif kind in ("approve", "reject"):
        client.send(flow_id, {"approve": kind == "approve", "reason": value or ""}, "agent")
    else:
        client.send(flow_id, {"check": True}, "analyst")


def retry(client: DBOSClient, store: RunStore, ticket_id: int) -> int:
    """Run a failed flow again from the step that failed; returns that step's number."""
    flow_id = flow_id_of(ticket_id)
    found = client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
    if not found:
        raise RecordNotFound(f"no flow for ticket {ticket_id}")
    if found[0].status != "ERROR":
        raise InvalidInput(f"the flow of ticket {ticket_id} is {found[0].status}, not failed: nothing to retry")
    steps = client.list_workflow_steps(flow_id)
    failed = [s["function_id"] for s in steps if s.get("error") is not None]
    start_step = failed[0] if failed else None
    store.update_flow(flow_id, state="running", error=None)
    client.rewind_workflow(flow_id, start_step=start_step, queue_name=FLOW_QUEUE)
    return start_step or 0


def recover(client: DBOSClient, executor_id: str) -> list[str]:
    """Hand the flows a dead worker machine left pending to the live workers (through the flows queue)."""
    if not executor_id.strip():
        raise InvalidInput("name the dead worker's executor id (see `rpa flow list`)")
    pending = client.list_workflows(status="PENDING", executor_id=executor_id, load_input=False, load_output=False)
    for workflow in pending:
        client.resume_workflow(workflow.workflow_id, queue_name=FLOW_QUEUE)
    return [w.workflow_id for w in pending]
