"""DBOS, configured from settings: where flow state lives, who this worker is, which code version runs.

The embedded default keeps the state in a SQLite file under the run folder (nothing to start); with
``RPA_DATABASE_URL`` pointing at a shared Postgres several worker machines run flows side by side.
Each machine has a stable ``executor_id`` so a dead machine's flows can be handed to a live one, and the
``application_version`` is pinned so that waiting flows recover after an upgrade of the code.
"""

from __future__ import annotations

from dbos import DBOS, DBOSClient, run_dbos_database_migrations

from flows.engine.settings import Settings

#: Queue the flows are started on; large, because a queue's limit counts flows waiting for customers too.
FLOW_QUEUE = "flows"


def dbos_config(settings: Settings) -> dict:
    return {
        "name": "rpa-migracion",
        "system_database_url": settings.system_database_url(),
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.1,
        "application_version": settings.application_version,
        "executor_id": settings.executor_id,
    }


def launch(settings: Settings) -> None:
    """Start DBOS in this process: registered flows become runnable and pending ones are recovered."""
    import flows.process.migration  # noqa: F401 - registers the workflow before launch

    DBOS(config=dbos_config(settings))  # type: ignore[arg-type]
    DBOS.launch()
    DBOS.register_queue(FLOW_QUEUE, worker_concurrency=settings.flows_per_worker, polling_interval_sec=0.2)


def shutdown() -> None:
    DBOS.destroy(destroy_registry=False)


def client(settings: Settings) -> DBOSClient:
    """A client for commands that talk to flows without running them (start, send, status, retry).

    The database is prepared first, so a flow can be queued before any worker has ever run.
    """
    url = settings.system_database_url()
    run_dbos_database_migrations(url)
    return DBOSClient(system_database_url=url)
