"""How the migration process is put on a worker: its DBOS instances, and the inboxes that feed its flows and
start the new ones.

The engine runs whatever it is given; this module is where the process says what that is, so the worker,
the demo and the tests build the same thing from settings.
"""

from __future__ import annotations

from dbos import DBOS

from flows.engine.worker import Deployment, WorkerParts
from flows.process import arrivals
from flows.process.activities import MigrationActivities
from flows.process.inboxes import AnalystsInbox, CatchUpInbox, TicketInbox
from flows.process.messages import Topic
from flows.process.migration import MigrationWorkflow


def send(flow_id: str, message: dict, topic: Topic, key: str) -> None:
    DBOS.send(flow_id, message, topic.value, idempotency_key=key)


def migration_deployment(parts: WorkerParts) -> Deployment:
    settings, toolkit, store = parts.settings, parts.toolkit, parts.store
    activities = MigrationActivities(settings, toolkit, store, parts.gate, parts.client)
    workflow = MigrationWorkflow(activities, parts.client, parts.robot_threads)
    tickets = TicketInbox(store, toolkit.zendesk, send)
    analysts = AnalystsInbox(
        store,
        toolkit,
        send,
        holder=settings.executor_id,
        # Renewed at every read; a dead holder's lease runs out after three missed reads, so a wait for the
        # analysts loses at most that much. Two readers for a moment only read twice (messages are keyed).
        lease_seconds=max(5.0, 3 * settings.process.analyst_poll_seconds),
    )

    def arrive(ticket_id: int, answer_to: int | None) -> bool:
        result = arrivals.start_from_zendesk(parts.client, toolkit, settings, ticket_id, answer_to=answer_to)
        return result.arrival == arrivals.Arrival.STARTED

    catch_up = CatchUpInbox(
        store,
        toolkit.zendesk,
        tickets,
        arrive,
        holder=settings.executor_id,
        # As the analysts' reader's: a dead holder's lease runs out after three missed reads.
        lease_seconds=max(5.0, 3 * settings.process.catch_up_interval_seconds),
        interval_seconds=settings.process.catch_up_interval_seconds,
        look_back_seconds=settings.process.catch_up_look_back_seconds,
    )
    inboxes = [
        (analysts.poll_once, settings.process.analyst_poll_seconds),
        (catch_up.poll_once, settings.process.catch_up_interval_seconds),
    ]
    if settings.process.watch_interval_seconds is not None:
        # Polling every live flow's ticket: for a deployment Zendesk cannot call (its cost grows with the flows).
        inboxes.append((tickets.poll_once, settings.process.watch_interval_seconds))
    return Deployment(instances=[activities, workflow], inboxes=inboxes)
