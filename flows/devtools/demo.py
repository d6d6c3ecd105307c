"""``make demo``: the mock portals, a worker, and one whole migration with the simulated customer answering.

It starts the mocks with the demo scenario (a customer who wants her prepaid line on a postpaid plan),
runs a worker in this process, starts the migration flow of the demo ticket and follows it activity by
activity until it ends; then it shows where the run report, the evidence and the ticket's agent page are.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.console import Console

from flows.engine import durable as engine
from flows.interfaces import operations
from flows.engine.logs import configure_logging
from flows.devtools.mock_process import MockPortals
from flows.reporting.page import report_path
from flows.engine.settings import ProcessTimings, Settings
from flows.engine.worker import Worker

DEMO_SCENARIO = Path(__file__).resolve().parents[2] / "mock_portals" / "scenarios" / "demo.yaml"
DEMO_TICKET = 1001

#: The simulated customer answers within a second: the demo need not wait half an hour for anyone.
DEMO_TIMINGS = ProcessTimings(customer_reply_seconds=30, token_reply_seconds=30, agent_review_seconds=30,
                              analyst_reply_seconds=60, analyst_poll_seconds=0.5, watch_interval_seconds=0.2)


def run_demo(settings: Settings, console: Console) -> int:
    run_dir = settings.run_dir / "demo"
    settings = settings.model_copy(update={"process": DEMO_TIMINGS, "run_dir": run_dir})
    configure_logging("WARNING", run_dir / "logs" / "demo.jsonl")
    console.print("[bold]Starting the mock portals[/bold] (scenario: demo)")
    with MockPortals(DEMO_SCENARIO) as mocks:
        settings = mocks.settings(settings)
        worker = Worker(settings)
        worker.start()
        try:
            outcome = _follow(worker, settings, console)
        finally:
            worker.close()
        console.print(f"Outcome: [bold]{outcome}[/bold]")
        console.print(f"Run report:  {report_path(settings, DEMO_TICKET).resolve()}")
        console.print(f"Evidence:    {(settings.evidence_dir / f'ticket-{DEMO_TICKET}').resolve()}")
        console.print(f"Agent page:  {mocks.urls['zendesk']}/agent/tickets/{DEMO_TICKET}")
        if sys.stdin.isatty():
            console.input("The agent page is served until you press Enter... ")
    console.print("Mock portals stopped.")
    return 0 if outcome == "migrated" else 1


def _follow(worker: Worker, settings: Settings, console: Console) -> str:
    """Start the demo ticket's flow and print each activity it enters until it ends."""
    assert worker.runtime is not None
    client = engine.client(settings)
    flow_id = operations.start(client, worker.runtime.toolkit.zendesk, DEMO_TICKET)
    store = worker.runtime.store
    shown: list[str] = []
    deadline = time.monotonic() + 300
    with console.status("migration running") as status:
        while time.monotonic() < deadline:
            worker.poll()
            run = store.flow(flow_id)
            if run is not None:
                for activity in run.path[len(shown):]:
                    console.print(f"[green]✓[/green] {activity}")
                    shown.append(activity)
                status.update(f"{run.activity or 'starting'} · {run.waiting_for or run.state}")
                if run.state in ("ended", "failed"):
                    return run.outcome or run.error or run.state
            time.sleep(settings.process.watch_interval_seconds)
    return "timed out"


