"""New migration tickets get their flow without anyone typing ``rpa flow start``.

A migration ticket is one the WhatsApp bot marked with the tag ``MIGRATION_TAG``. Two paths tell of one:
Zendesk's ``ticket_created`` webhook (``rpa serve``) and the worker's catch-up reader
(``flows.process.inboxes.CatchUpInbox``), which finds in Zendesk's ticket event export what no webhook
brought. Both call ``start_from_zendesk``, so they decide alike, and both may call it for one ticket: a
ticket has one flow (``migration-<ticket>``) however often, and by whichever path, it is started.

The start checks are those of ``rpa flow start``: a line, CI or NIT no console would take is refused
before anything is touched. A person typing the command reads the refusal; a ticket that arrived by itself
has nobody to read it, so it is handed to an agent instead of being dropped in silence: one internal note
per ticket (``El robot necesita un agente:``, the field to fix and the check's words) and the tag
``rpa_necesita_agente`` that puts it in the agents' view. The agent fixes the field and answers with an
internal note ``#continuar``; the catch-up reader reads that note and starts the flow.
"""

from __future__ import annotations

from enum import Enum

from dbos import DBOSClient, EnqueueOptions
from loguru import logger
from pydantic import BaseModel

from flows.engine.durable import FLOW_QUEUE
from flows.engine.settings import Settings
from flows.engine.toolkit import Toolkit
from flows.process.activities import INSTANCE_NAME
from flows.process.definition import MIGRATION_TAG
from flows.process.migration import FlowInput, MigrationWorkflow
from flows.steps import tickets
from flows.steps.evidence_notes import write_key
from pages.errors import InvalidInput, RecordNotFound
from robots.identity import ticket_identifiers_problem
from robots.zendesk import FIELD_TITLES, TicketData

FLOW_KIND = "migration"


def flow_id_of(ticket_id: int) -> str:
    """A ticket's migration flow: one per ticket, whoever starts it."""
    return f"{FLOW_KIND}-{ticket_id}"


def start_flow(client: DBOSClient, settings: Settings, ticket: TicketData) -> str:
    """Queue the ticket's flow after the start checks; starting it again returns the same flow.

    The flow is started with what it decides from (the process's timings, the ACMO code) as its recorded
    input: a change of settings reaches new flows, never one already running. A field some console would
    refuse is refused here (``InvalidInput``), before anything is touched; a field still empty is not (the
    bot or an agent may fill it while the customer answers the first contact, and the flow asks an agent for
    it if not).
    """
    problem = ticket_identifiers_problem(ticket.line, ticket.holder_ci, ticket.billing_nit, line_required=False)
    if problem:
        raise InvalidInput(f"ticket {ticket.id}: {problem}")
    options: EnqueueOptions = {
        "queue_name": FLOW_QUEUE,
        "workflow_name": FLOW_KIND,
        "class_name": MigrationWorkflow.__qualname__,
        "instance_name": INSTANCE_NAME,
        "workflow_id": flow_id_of(ticket.id),
    }
    flow_input = FlowInput(ticket_id=ticket.id, timings=settings.process, acmo_code=settings.acmo_code)
    return client.enqueue(options, flow_input.model_dump(mode="json")).workflow_id


class Arrival(str, Enum):
    """What became of a ticket Zendesk told of."""

    STARTED = "started"  # its flow is queued (now, or by an earlier call)
    HANDED_OFF = "handed_off"  # the start checks refused it: an agent was asked to fix the ticket
    NOT_MIGRATION = "not_migration"  # no migration tag: not the process's ticket
    GONE = "gone"  # Zendesk has no such ticket (deleted, or merged into another)


class ArrivalResult(BaseModel):
    ticket_id: int
    arrival: Arrival
    flow_id: str | None = None
    problem: str | None = None


def start_from_zendesk(
    client: DBOSClient, toolkit: Toolkit, settings: Settings, ticket_id: int, *, answer_to: int | None = None
) -> ArrivalResult:
    """Start a migration ticket's flow, or hand the ticket to an agent when the start checks refuse it.

    ``answer_to`` is the agent's ``#continuar`` note after such a hand-off: the ticket is checked again, and
    either its flow starts (and the ticket leaves the agents' view) or the agent is told once more why not.
    Zendesk not answering raises (``ApplicationError``): whoever called tries again later, and nothing here
    is done twice by that.
    """
    flow_id = flow_id_of(ticket_id)
    if answer_to is None and client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False):
        # Told again of a ticket whose flow exists (the webhook and the catch-up reader both tell of it, Zendesk
        # may deliver twice): one flow per ticket, and no Zendesk call to find that out.
        return ArrivalResult(ticket_id=ticket_id, arrival=Arrival.STARTED, flow_id=flow_id)
    try:
        ticket = toolkit.zendesk.ticket(ticket_id)
    except RecordNotFound:
        logger.warning("ticket {} is not in Zendesk (deleted or merged): no flow started", ticket_id)
        return ArrivalResult(ticket_id=ticket_id, arrival=Arrival.GONE)
    if MIGRATION_TAG not in ticket.tags:
        logger.info("ticket {} has no tag {}: not a migration, no flow started", ticket_id, MIGRATION_TAG)
        return ArrivalResult(ticket_id=ticket_id, arrival=Arrival.NOT_MIGRATION)
    try:
        flow_id = start_flow(client, settings, ticket)
    except InvalidInput as exc:
        _hand_off_refused(toolkit, ticket, exc.message, answer_to)
        return ArrivalResult(ticket_id=ticket_id, arrival=Arrival.HANDED_OFF, problem=exc.message)
    if answer_to is not None and tickets.HANDOFF_TAG in ticket.tags:
        tickets.hand_back(toolkit, ticket_id)
    logger.info("flow {} queued for migration ticket {}", flow_id, ticket_id)
    return ArrivalResult(ticket_id=ticket_id, arrival=Arrival.STARTED, flow_id=flow_id)


def _hand_off_refused(toolkit: Toolkit, ticket: TicketData, problem: str, answer_to: int | None) -> None:
    if answer_to is None and tickets.HANDOFF_TAG in ticket.tags:
        # Told again of the same new ticket (a webhook delivered twice, the export's overlap): the agent
        # was asked already, and the note's marker would keep a second one off the ticket anyway.
        logger.info("migration ticket {} waits for an agent to fix it: {}", ticket.id, problem)
        return
    fields = " y ".join(f"'{title}'" for title in _fields_to_fix(ticket)) or "de la línea, el CI o el NIT"
    # One note per ticket for its arrival, and one per #continuar the agent writes after it.
    visit = "start-refused#1" if answer_to is None else f"start-refused#after-{answer_to}"
    tickets.hand_off(
        toolkit,
        ticket.id,
        f"corregir el campo {fields} del ticket: la migración no se inició",
        problem,
        "un agente: corregido el campo, responda '#continuar' y el robot inicia la migración",
        key=write_key(ticket.id, visit),
    )
    logger.warning("migration ticket {} not started, handed to an agent: {}", ticket.id, problem)


def _fields_to_fix(ticket: TicketData) -> list[str]:
    """The titles of the ticket's fields the start checks refuse, as agents see them."""
    alone = {
        "line": (ticket.line, None, None),
        "holder_ci": (None, ticket.holder_ci, None),
        "billing_nit": (None, None, ticket.billing_nit),
    }
    return [
        FIELD_TITLES[name]
        for name, (line, ci, nit) in alone.items()
        if ticket_identifiers_problem(line, ci, nit, line_required=False)
    ]
