"""DBOS, configured from settings: where flow state lives, who this worker is, which code version runs.

The embedded default keeps the state in a SQLite file under the run folder (nothing to start); with
``RPA_DATABASE_URL`` pointing at a shared Postgres several worker machines run flows side by side.
Each machine has a stable ``executor_id`` so a dead machine's flows can be handed to a live one.

Flows are DBOS async workflows: a flow waiting for someone is a coroutine parked on DBOS's event loop, not a
thread, so a worker keeps thousands of them (``flows_in_memory_per_worker``). What flows do blocks (a
step drives a console through the browser, bookkeeping writes the run store), so it runs on
``RobotThreads``, as many as the browser takes at once (``flows_per_worker``): only flows doing robot work
count against a worker's capacity.

Upgrades: DBOS recovers a waiting flow only on a worker of the same ``application_version``. The version
is pinned in settings and stays the same across releases; a release that changes the flow's steps puts
the change behind ``patched(name)``, so flows recorded before it replay the old path and new flows take
the new one, with the same flow id. Only a change that cannot be patched bumps the version (the README
says what then happens to waiting flows).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from dbos import DBOS, DBOSClient, run_dbos_database_migrations
from dbos._context import get_local_dbos_context
from dbos._dbos import _get_or_create_dbos_registry

from flows.engine.databases import use_write_ahead_log
from flows.engine.settings import Settings

#: Queue the flows are started on. Its per-worker limit counts flows waiting for customers too, so it is
#: ``flows_in_memory_per_worker`` (a waiting flow holds no thread), not the browser's capacity.
FLOW_QUEUE = "flows"

#: Threads DBOS may use for its own database calls (checkpoints, a wait's re-checks): its connection pool's
#: size, since more would only queue for a connection; without a bound, a burst of flows leaves a thread each.
DBOS_THREADS = 20

P = ParamSpec("P")
T = TypeVar("T")


def dbos_config(settings: Settings) -> dict[str, Any]:
    return {
        "name": "rpa-migracion",
        "system_database_url": settings.system_database_url(),
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.1,
        "application_version": settings.application_version,
        "executor_id": settings.executor_id,
        "max_executor_threads": DBOS_THREADS,
    }


class RobotThreads:
    """The threads a worker's flows act on: as many as its browser runs steps at once (``flows_per_worker``).

    A flow runs on DBOS's event loop, where anything that blocks stops every flow; its steps (sync, they
    drive Playwright and write the run store) run here instead, one at a time per flow. Each call carries
    the flow's context, so DBOS sees the step inside its flow and numbers it as the sync flow did: what
    DBOS's own ``run_step_async`` does for a sync step, on a pool of our own so that DBOS's database calls
    never queue behind a console.
    """

    def __init__(self, size: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="robot")

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        context = contextvars.copy_context()
        call = functools.partial(context.run, work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        """Drop the calls not started yet (their flows were left pending when DBOS stopped); one still running
        is a step past the worker's drain time, which the next worker runs again."""
        self._pool.shutdown(wait=False, cancel_futures=True)


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
                DBOS.register_queue(
                    FLOW_QUEUE, worker_concurrency=settings.flows_in_memory_per_worker, polling_interval_sec=0.2
                )
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


async def patched(name: str, client: DBOSClient) -> bool:
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
    # A database read: off the event loop, where it would hold up every flow.
    history = await asyncio.to_thread(client.list_workflow_steps, context.workflow_id, load_output=False)
    if any(step["function_id"] > here for step in history):
        marked = any(s["function_id"] == here and s["function_name"] == f"DBOS.patch-{name}" for s in history)
        if marked:
            await DBOS.deprecate_patch_async(name)  # steps over the marker, as DBOS.patch does on replay
        return marked
    return await DBOS.patch_async(name)


def client(settings: Settings) -> DBOSClient:
    """A client for commands that talk to flows without running them (start, send, status, retry).

    The database is prepared first, so a flow can be queued before any worker has ever run.
    """
    url = settings.system_database_url()
    run_dbos_database_migrations(url)
    use_write_ahead_log(url)
    return DBOSClient(system_database_url=url)
