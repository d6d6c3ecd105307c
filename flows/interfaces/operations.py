"""What the ``rpa flow`` commands do, for a person at a terminal: start, look at, feed and retry flows.

They talk to flows through DBOS's client (the flows themselves run in ``rpa worker``), so they work
from any machine that reaches the database. Input is checked before anything is written.
"""

from __future__ import annotations

from dbos import DBOSClient
from pydantic import BaseModel

from flows.engine.durable import FLOW_QUEUE
from flows.engine.run_store import FlowRun, RunState, RunStore, StepRecord
from flows.engine.settings import Settings
from flows.engine.toolkit import Toolkit
from flows.process import arrivals
from flows.process.definition import MIGRATION_TAG, Outcome, WaitKind, macro_named
from flows.process.inboxes import AnalystsInbox
from flows.process.messages import AgentCommand, CustomerMessage, Topic, agent_note_in
from flows.steps.tickets import apply_macro
from pages.errors import InvalidInput, RecordNotFound
from robots.zendesk import ZendeskClient

FLOW_KINDS = ("migration",)
SEND_KINDS = {
    "customer": "a customer message (VALUE: the text)",
    "token": "the token the customer sent (VALUE: the code)",
    "approve": "a person approves the CI photos and selfie (VALUE, optional: anverso=1 reverso=2 selfie=3)",
    "reject": "a person rejects them (VALUE: the reason)",
    "value": "answer a hand-off with the value the robot asked for (VALUE: the value)",
    "continue": "answer a hand-off: the robot goes on from where it stopped",
    "end": "answer a hand-off: end the flow with a macro (VALUE: its short name, e.g. despedida)",
    "analyst": "read the analysts' task now and hand its answer to the flow",
}

#: ``rpa flow send`` kinds that are a person's command note.
AGENT_COMMANDS = {
    "approve": AgentCommand.APPROVE,
    "reject": AgentCommand.REJECT,
    "value": AgentCommand.VALUE,
    "continue": AgentCommand.CONTINUE,
    "end": AgentCommand.END,
}


def flow_id_of(ticket_id: int, kind: str = "migration") -> str:
    return f"{kind}-{ticket_id}"


def start(
    client: DBOSClient, zendesk: ZendeskClient, settings: Settings, ticket_id: int, kind: str = "migration"
) -> str:
    """Queue the flow of a ticket; starting it again returns the same flow (one flow per ticket).

    The flow is started with what it decides from (the process's timings, the ACMO code) as its recorded
    input: a change of settings reaches new flows, never one already running. A field some console would
    refuse is refused here, before anything is touched; a field still empty is not (the bot or an agent may
    fill it while the customer answers the first contact, and the flow asks an agent for it if not). A
    person may start any ticket; tickets that start by themselves are the tagged ones
    (``flows.process.arrivals``). A ticket a person starts is given that tag too: Zendesk's trigger tells
    ``rpa serve`` of the tagged tickets' new comments, so the customer's answers reach the flow.
    """
    if kind not in FLOW_KINDS:
        raise InvalidInput(f"unknown flow {kind!r}; known: {', '.join(FLOW_KINDS)}")
    if ticket_id <= 0:
        raise InvalidInput(f"ticket number must be positive, got {ticket_id}")
    ticket = zendesk.ticket(ticket_id)
    flow_id = arrivals.start_flow(client, settings, ticket)
    if MIGRATION_TAG not in ticket.tags:
        zendesk.update_ticket(ticket_id, add_tags=[MIGRATION_TAG])
    return flow_id


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
        raise RecordNotFound(
            f"no flow for ticket {ticket_id} (start it with: rpa flow start migration --ticket {ticket_id})"
        )
    return FlowView(flow_id=flow_id, engine_status=found[0].status, run=store.flow(flow_id), steps=store.steps(flow_id))


def send(
    client: DBOSClient,
    ticket_id: int,
    kind: str,
    value: str | None,
    *,
    store: RunStore | None = None,
    toolkit: Toolkit | None = None,
) -> bool:
    """Hand a message to a waiting flow, as the inboxes would; False when there was nothing to hand
    (the analysts' task is still pending)."""
    if kind not in SEND_KINDS:
        raise InvalidInput(f"unknown message kind {kind!r}; known: {', '.join(SEND_KINDS)}")
    if kind in ("customer", "token", "value", "end") and not value:
        raise InvalidInput(f"'{kind}' needs a VALUE ({SEND_KINDS[kind]})")
    flow_id = flow_id_of(ticket_id)
    found = client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
    if not found:
        raise RecordNotFound(f"no flow for ticket {ticket_id}")
    if found[0].status not in ("PENDING", "ENQUEUED"):
        raise InvalidInput(f"the flow of ticket {ticket_id} is {found[0].status}: it waits for nothing")
    if kind in ("customer", "token"):
        client.send(
            flow_id, CustomerMessage(comment_id=0, body=value or "").model_dump(mode="json"), Topic.CUSTOMER.value
        )
    elif kind in AGENT_COMMANDS:
        note = agent_note_in(f"#{AGENT_COMMANDS[kind].value} {value or ''}")
        assert note is not None, "every agent command kind is a command"
        client.send(flow_id, note.model_dump(mode="json"), Topic.AGENT.value)
    else:
        return _read_analysts_now(client, flow_id, ticket_id, store, toolkit)
    return True


def _read_analysts_now(
    client: DBOSClient, flow_id: str, ticket_id: int, store: RunStore | None, toolkit: Toolkit | None
) -> bool:
    """Read the task the flow waits on now, instead of at the analysts reader's next turn."""
    assert store is not None and toolkit is not None, "reading the analysts' task needs the run store and robots"
    run = store.flow(flow_id)
    if run is None or run.waiting_kind != WaitKind.ANALYSTS.value or not run.waiting_ref:
        raise InvalidInput(f"the flow of ticket {ticket_id} is not waiting for the analysts")

    def deliver(target: str, message: dict, topic: Topic, key: str) -> None:
        client.send(target, message, topic.value, idempotency_key=key)

    inbox = AnalystsInbox(store, toolkit, deliver, holder="rpa flow send", lease_seconds=0)
    return inbox.read(flow_id, run.waiting_ref) > 0


def retry(client: DBOSClient, store: RunStore, ticket_id: int) -> int:
    """Run a failed flow again from the step that failed; returns that step's number."""
    flow_id = flow_id_of(ticket_id)
    found = client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
    if not found:
        raise RecordNotFound(f"no flow for ticket {ticket_id}")
    if found[0].status != "ERROR":
        raise InvalidInput(f"the flow of ticket {ticket_id} is {found[0].status}, not failed: nothing to retry")
    steps = client.list_workflow_steps(flow_id)
    # The last failed step is the one the flow stopped at: earlier ones failed during an outage the flow
    # waited out, and ran again.
    failed = [s["function_id"] for s in steps if s.get("error") is not None]
    start_step = failed[-1] if failed else None
    store.update_flow(flow_id, state=RunState.RUNNING, error=None)
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


def hold(client: DBOSClient, store: RunStore, ticket_id: int, agent: str) -> str:
    """An agent takes the ticket over: its live flow does nothing, and writes nothing, until it is given back
    (a step already running finishes first). Returns who holds it."""
    run = store.latest_flow(ticket_id)
    if run is None or not run.state.live:
        raise InvalidInput(f"ticket {ticket_id} has no live flow to stop")
    return store.hold_ticket(ticket_id, agent)


def give_back(store: RunStore, ticket_id: int) -> bool:
    """The agent gives the ticket back: the flow goes on from where it stopped. False when nobody held it."""
    return store.release_ticket(ticket_id)


def end_held(client: DBOSClient, toolkit: Toolkit, store: RunStore, ticket_id: int, macro_name: str, agent: str) -> str:
    """End the flow of a ticket an agent holds with a named macro (``macro_named``: a short name or the exact
    title). The flow is cancelled before the macro goes out, then the ticket is released: the flow wakes
    cancelled and takes no further step."""
    macro = macro_named(macro_name)
    if macro is None:
        raise InvalidInput(f"no macro named {macro_name!r}: use a short name (e.g. despedida) or the exact title")
    if store.held_by(ticket_id) is None:
        raise InvalidInput(f"ticket {ticket_id} is not held: take it over first, or answer the robot's hand-off")
    flow_id = flow_id_of(ticket_id)
    client.cancel_workflow(flow_id)
    apply_macro(toolkit, ticket_id, macro.value)
    store.update_flow(
        flow_id,
        state=RunState.ENDED,
        outcome=Outcome.ENDED_BY_AGENT.value,
        error=f"{agent}: #terminar {macro_name}",
        waiting_for=None,
        waiting_kind=None,
        waiting_ref=None,
    )
    store.release_ticket(ticket_id)
    return macro.value
