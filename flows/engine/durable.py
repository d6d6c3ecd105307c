"""DBOS, configured from settings: where flow state lives, who this worker is, which code version runs.

The embedded default keeps the state in a SQLite file under the run folder (nothing to start); with
``RPA_DATABASE_URL`` pointing at a shared Postgres several worker machines run flows side by side.
Each machine has a stable ``executor_id`` so a dead machine's flows can be handed to a live one.

Upgrades: DBOS recovers a waiting flow only on a worker of the same ``application_version``. The version
is pinned in settings and stays the same across releases; a release that changes the flow's steps puts
the change behind ``patched(name)``, so flows recorded before it replay the old path and new flows take
the new one, with the same flow id. Only a change that cannot be patched bumps the version (the README
says what then happens to waiting flows).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dbos import DBOS, DBOSClient, run_dbos_database_migrations
from dbos._context import get_local_dbos_context
from dbos._dbos import _get_or_create_dbos_registry

from flows.engine.settings import Settings

#: Queue the flows are started on; large, because a queue's limit counts flows waiting for customers too.
FLOW_QUEUE = "flows"


def dbos_config(settings: Settings) -> dict[str, Any]:
    return {
        "name": "rpa-migracion",
        "system_database_url": settings.system_database_url(),
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.1,
        "application_version": settings.application_version,
        "executor_id": settings.executor_id,
    }


class Engine:
    """DBOS launched in this process, with the configured instances its flows run on."""

    def __init__(self, settings: Settings, register: Callable[[], list[object]]) -> None:
        """``register`` builds the DBOS configured instances (before launch, as DBOS requires)."""
        self.settings = settings
        self.instances = register()
        failure: list[BaseException] = []

        def launch() -> None:
            try:
                DBOS(config=dbos_config(settings))  # type: ignore[arg-type]
                DBOS.launch()
                DBOS.register_queue(FLOW_QUEUE, worker_concurrency=settings.flows_per_worker, polling_interval_sec=0.2)
            except BaseException as exc:
                failure.append(exc)

        # On a thread of its own: DBOS refuses to register a queue from a thread that runs an event loop,
        # which a caller's thread may (a test's browser, an async host).
        thread = threading.Thread(target=launch, name="dbos-launch")
        thread.start()
        thread.join()
        if failure:
            self._forget_instances()
            raise failure[0]

    def shutdown(self) -> None:
        """Stop DBOS. The worker has let its running steps finish first; flows waiting for someone stay
        pending in the database and resume on the next start (waiting for them here would last hours)."""
        DBOS.destroy(destroy_registry=False)
        self._forget_instances()

    def _forget_instances(self) -> None:
        """DBOS keeps configured instances for the life of the process; a process that launches again (the
        demo, the tests) registers new ones bound to its new robots."""
        registry = _get_or_create_dbos_registry()
        for name, instance in list(registry.instance_info_map.items()):
            if any(instance is mine for mine in self.instances):
                del registry.instance_info_map[name]


def patched(name: str, client: DBOSClient) -> bool:
    """True where this execution of a flow takes the code added under ``name``; False where it replays
    history recorded before that code existed.

    ``DBOS.patch`` alone answers True for a flow blocked in a wait right after the patch's place (the wait
    has not recorded its output yet, only its timer one position further) and the new step would then
    collide with that timer: history recorded beyond this point means the flow is replaying, so there only
    a marker already in place counts.
    """
    context = get_local_dbos_context()
    if context is None or not context.is_workflow():
        raise RuntimeError("patched() is called from a flow")
    here = context.function_id + 1
    history = client.list_workflow_steps(context.workflow_id, load_output=False)
    if any(step["function_id"] > here for step in history):
        marked = any(s["function_id"] == here and s["function_name"] == f"DBOS.patch-{name}" for s in history)
        if marked:
            DBOS.deprecate_patch(name)  # steps over the marker, as DBOS.patch does on replay
        return marked
    return DBOS.patch(name)


def client(settings: Settings) -> DBOSClient:
    """A client for commands that talk to flows without running them (start, send, status, retry).

    The database is prepared first, so a flow can be queued before any worker has ever run.
    """
    url = settings.system_database_url()
    run_dbos_database_migrations(url)
    return DBOSClient(system_database_url=url)
