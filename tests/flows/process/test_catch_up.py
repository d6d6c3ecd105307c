"""The catch-up path: what no webhook told (``rpa serve`` down, a delivery dropped) still reaches the flows.

A real worker reads the mock Zendesk's ticket event export: a migration ticket nobody announced starts its
flow, a customer's comment reaches her waiting flow although the ticket's own poll is an hour away, one
worker of two reads the export for both, and a ticket the start checks refuse is handed to an agent once.

The mock's WhatsApp bot does not create tickets (scenarios seed them), so the account has a trigger that tags
each new ticket ``migracion_pre_pos`` in its creation update, as the bot marks the migration tickets it opens.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from flows.engine.run_store import RunStore
from flows.engine.settings import Settings
from flows.process import arrivals
from flows.process.definition import MIGRATION_TAG
from flows.process.inboxes import CATCH_UP_POSITION, CatchUpInbox, TicketInbox
from flows.steps.tickets import HANDOFF_REQUEST, HANDOFF_TAG
from robots.retry import zendesk_call
from robots.zendesk import ZendeskAccess, ZendeskClient
from tests.conftest import FAST_RETRIES
from tests.flows.conftest import WorkerProcess, flow_status, wait_for
from tests.flows.scenarios import LINE, scenario

TICKET = 2001
FLOW = f"migration-{TICKET}"
#: The export at once and without its 10 a minute, unless a test asks for the limit.
EXPORTS = {"incremental_export_lag_seconds": 0, "incremental_export_limit_per_minute": None}
BOT_MARKS_MIGRATIONS = {
    "title": "Liza: ticket de migración pre a pos",
    "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}]},
    "actions": [{"field": "current_tags", "value": MIGRATION_TAG}],
}


def migration_world(**changes) -> dict:
    """The one-ticket world, its ticket tagged as a migration when it is created."""
    return scenario(zendesk={**EXPORTS, "triggers": [BOT_MARKS_MIGRATIONS]}, **changes)


@pytest.fixture
def catch_up_settings(flow_settings: Settings) -> Settings:
    process = flow_settings.process.model_copy(
        update={"catch_up_interval_seconds": 0.3, "catch_up_look_back_seconds": 600}
    )
    return flow_settings.model_copy(update={"process": process})


def export_requests(mocks) -> int:
    log = httpx.get(mocks.urls["control"] + "/_control/request_log", timeout=10).json()["requests"]
    return sum(1 for r in log if r["portal"] == "zendesk" and "/incremental/ticket_events" in r["path"])


def handoff_notes(world_state) -> list[dict]:
    comments = world_state()["tickets"][str(TICKET)]["comments"]
    return [c for c in comments if not c["public"] and c["body"].startswith(HANDOFF_REQUEST)]


# ---------------------------------------------------------------------------------------------
# New tickets and comments nobody announced
# ---------------------------------------------------------------------------------------------
def test_a_migration_ticket_nobody_announced_starts_its_flow(
    load_scenario, start_worker, catch_up_settings, world_state
):
    load_scenario(migration_world())
    world = world_state()
    assert MIGRATION_TAG in world["tickets"][str(TICKET)]["tags"]
    assert world["records"]["zendesk"]["webhook_deliveries"] == [], "no webhook: nothing was announced"

    before = int(time.time())
    worker = start_worker(catch_up_settings)
    run = wait_for(
        lambda: (run := worker.store.flow(FLOW)) is not None and run.path and run,
        what="the catch-up reader to start the ticket's flow and the worker to run it",
    )
    assert run.ticket_id == TICKET
    assert [w.workflow_id for w in worker.client.list_workflows(load_input=False, load_output=False)] == [FLOW]
    assert int(worker.store.position(CATCH_UP_POSITION) or 0) >= before - 1, "the reader keeps its position"


def test_a_comment_made_while_nothing_listened_reaches_the_waiting_flow(
    load_scenario, start_worker, catch_up_settings, mocks
):
    replies = scenario()["tickets"][0]["customer"]["replies"]
    replies["primer_contacto"] = {"silent": True}  # she writes later, by hand
    load_scenario(scenario(replies=replies, zendesk=EXPORTS))
    # The ticket's own poll is an hour away and no webhook is delivered: only the catch-up can bring her answer.
    process = catch_up_settings.process.model_copy(
        update={"watch_interval_seconds": 3600, "customer_reply_seconds": 120}
    )
    worker = start_worker(catch_up_settings.model_copy(update={"process": process}))
    worker.start_flow(TICKET)
    first_wait = wait_for(
        lambda: (run := worker.store.flow(FLOW)) is not None and run.state == "waiting" and run,
        what="the flow to wait for its customer",
    )

    said = httpx.post(
        mocks.urls["control"] + f"/_control/tickets/{TICKET}/customer_message",
        json={"body": "Hola, soy María Fernanda Rojas, CI 6543210, de La Paz, la línea 71234567"},
    )
    said.raise_for_status()
    comment_id = said.json()["comment_id"]

    wait_for(
        lambda: (
            (run := worker.store.flow(FLOW)).watch_after >= comment_id and run.waiting_for != first_wait.waiting_for
        ),
        timeout=120,
        what="the flow to take the customer's answer and move on",
    )
    recorded = [s for s in worker.client.list_workflow_steps(FLOW) if s["function_name"] == "DBOS.recv"]
    assert any(isinstance(s["output"], dict) and s["output"].get("comment_id") == comment_id for s in recorded)


# ---------------------------------------------------------------------------------------------
# A ticket the start checks refuse
# ---------------------------------------------------------------------------------------------
def test_a_refused_start_is_handed_to_an_agent_once_however_often_it_arrives(
    load_scenario, start_worker, catch_up_settings, world_state
):
    load_scenario(migration_world(fields={"line": "12"}))
    worker = start_worker(catch_up_settings)
    wait_for(lambda: handoff_notes(world_state), what="the hand-off note of the refused start")
    read_to = int(worker.store.position(CATCH_UP_POSITION) or 0)

    # The creation arrives again: the export read from the start once more, and the path `rpa serve` takes.
    worker.store.keep_position(CATCH_UP_POSITION, "0")
    wait_for(
        lambda: int(worker.store.position(CATCH_UP_POSITION) or 0) >= read_to,
        what="the catch-up reader to read the creation again",
    )
    again = arrivals.start_from_zendesk(worker.client, worker.worker.toolkit, worker.settings, TICKET)
    assert again.arrival == arrivals.Arrival.HANDED_OFF and "Línea a migrar" in (again.problem or "")

    [note] = handoff_notes(world_state)
    assert "'Línea a migrar'" in note["body"] and "la migración no se inició" in note["body"]
    assert "Motivo: ticket 2001: field 'Línea a migrar'" in note["body"]
    ticket = world_state()["tickets"][str(TICKET)]
    assert HANDOFF_TAG in ticket["tags"] and ticket["status"] == "open"
    assert flow_status(worker.client, FLOW) is None


def test_the_agents_continuar_after_fixing_the_field_starts_the_flow(
    load_scenario, start_worker, catch_up_settings, world_state
):
    spec = migration_world(fields={"line": "12"})
    spec["tickets"][0]["customer"]["agent"] = [{"set_fields": {"line": LINE}, "note": "#continuar"}]
    load_scenario(spec)
    worker = start_worker(catch_up_settings)
    wait_for(lambda: worker.store.flow(FLOW) is not None, what="the flow to start after the agent's answer")
    wait_for(
        lambda: HANDOFF_TAG not in world_state()["tickets"][str(TICKET)]["tags"],
        what="the ticket to leave the agents' view",
    )
    assert len(handoff_notes(world_state)) == 1


# ---------------------------------------------------------------------------------------------
# One reader for the deployment, within Zendesk's limit
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def pg_env(worker_env, postgres, request) -> dict[str, str]:
    url = postgres.create_database(f"rpa_{request.node.name[:40].lower()}")
    return {
        **worker_env,
        "RPA_DATABASE_URL": url,
        "RPA_PROCESS__CATCH_UP_INTERVAL_SECONDS": "0.5",
        "RPA_LOG_LEVEL": "INFO",
    }


READER = "reads Zendesk's ticket event export for the deployment"


def test_of_two_workers_on_one_database_only_the_lease_holder_reads_the_export(
    load_scenario, mocks, pg_env, tmp_path: Path
):
    load_scenario(scenario(zendesk=EXPORTS))
    workers = {
        name: WorkerProcess({**pg_env, "RPA_EXECUTOR_ID": name}, tmp_path) for name in ("machine-a", "machine-b")
    }
    try:
        for worker in workers.values():
            worker.wait_ready()
        httpx.post(mocks.urls["control"] + "/_control/request_log", timeout=10).raise_for_status()
        time.sleep(3)
        # One reader every 0.5 s reads about 6 times in 3 s; two would read about 12.
        assert 1 <= export_requests(mocks) <= 9
        readers = [name for name, worker in workers.items() if READER in worker.output.read_text(errors="replace")]
        assert len(readers) == 1, readers
        [holder] = readers
        [other] = set(workers) - {holder}

        workers[holder].stop()
        wait_for(
            lambda: READER in workers[other].output.read_text(errors="replace"),
            timeout=30,
            what="the other worker to take the reading over once the lease ran out",
        )
        read = export_requests(mocks)
        wait_for(lambda: export_requests(mocks) > read, timeout=10, what="the new reader to read")
    finally:
        for worker in workers.values():
            worker.stop()


def test_the_reader_waits_out_zendesks_export_limit_and_a_second_reader_waits_for_the_lease(
    load_scenario, mocks, world_state, tmp_path: Path
):
    load_scenario(scenario(zendesk={**EXPORTS, "incremental_export_limit_per_minute": 2}))
    store = RunStore(f"sqlite:///{tmp_path / 'store.sqlite'}")
    access = ZendeskAccess(
        base_url=mocks.urls["zendesk"], email="rpa@contactcentre.example", api_token="demo-api-token"
    )
    zendesk = ZendeskClient(access, zendesk_call(FAST_RETRIES))
    started: list[int] = []

    def arrive(ticket_id: int, answer_to: int | None) -> bool:
        started.append(ticket_id)
        return True

    def reader(holder: str) -> CatchUpInbox:
        tickets = TicketInbox(store, zendesk, lambda *message: None)
        return CatchUpInbox(
            store,
            zendesk,
            tickets,
            arrive,
            holder=holder,
            lease_seconds=30,
            interval_seconds=0.1,
            look_back_seconds=600,
        )

    first, second = reader("machine-a"), reader("machine-b")
    for _ in range(6):
        first.poll_once()
        second.poll_once()
    counts = world_state()["records"]["zendesk"]["api_requests"]
    # Two reads and one 429, all the lease holder's; then it waits for Retry-After instead of asking again.
    # (One more call, once: who the robot is, so that its own comments in the export cost no read.)
    assert counts["limited"]["incremental_exports"] == 1
    assert counts["total"] == 4
    assert started == [], "the ticket has no migration tag"
    assert store.position(CATCH_UP_POSITION) is not None
    zendesk.close()
    store.dispose()


def test_events_are_read_from_the_export_as_the_robots_need_them(load_scenario, mocks, world_state):
    load_scenario(migration_world())
    said = httpx.post(
        mocks.urls["control"] + f"/_control/tickets/{TICKET}/customer_message", json={"body": "Hola"}
    ).json()
    access = ZendeskAccess(
        base_url=mocks.urls["zendesk"], email="rpa@contactcentre.example", api_token="demo-api-token"
    )
    with ZendeskClient(access, zendesk_call(FAST_RETRIES)) as zendesk:
        events, next_start, end_of_stream = zendesk.ticket_events(int(time.time()) - 600)
        requester = world_state()["tickets"][str(TICKET)]["requester_id"]
        created = [e for e in events if e.kind == "created"]
        assert [(e.ticket_id, MIGRATION_TAG in e.tags) for e in created] == [(TICKET, True)]
        comment = next(e for e in events if e.comment_id == said["comment_id"])
        assert (comment.kind, comment.author_id, comment.public, comment.body) == (
            "comment_added",
            requester,
            True,
            "Hola",
        )
        assert end_of_stream and next_start <= time.time()
        again, _, _ = zendesk.ticket_events(next_start)
        assert {e.comment_id for e in again} <= {e.comment_id for e in events}, (
            "the next page repeats at most its boundary"
        )
