"""``make demo``: the mock portals, a worker, and one whole migration with the simulated customer answering.

It starts the mocks with the demo scenario (a customer who wants her prepaid line on a postpaid plan),
runs a worker in this process, starts the migration flow of the demo ticket and follows it activity by
activity until DBOS has recorded its end; then it shows where the run report, the evidence and the
ticket's agent page are. Each run starts from a fresh demo folder: the mocks are fresh too, so a flow
remembered from an earlier demo would only replay an old result.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console

from flows.devtools.harness import MockPortals, RunningWorker
from flows.engine.logs import configure_logging
from flows.engine.run_store import FlowRun
from flows.engine.settings import ProcessTimings, Settings
from flows.reporting.page import report_path

DEMO_SCENARIO = Path(__file__).resolve().parents[2] / "mock_portals" / "scenarios" / "demo.yaml"
DEMO_TICKET = 1001

#: The simulated customer answers within a second: the demo need not wait half an hour for anyone.
DEMO_TIMINGS = ProcessTimings(
    customer_reply_seconds=30,
    token_reply_seconds=30,
    agent_review_seconds=30,
    analyst_reply_seconds=60,
    analyst_poll_seconds=0.5,
)


def run_demo(settings: Settings, console: Console) -> int:
    run_dir = settings.run_dir / "demo"
    shutil.rmtree(run_dir, ignore_errors=True)
    settings = settings.model_copy(
        update={
            # The agent panel in the mock Zendesk's sidebar needs a token; the demo makes one of its own.
            "panel_token": settings.panel_token or SecretStr(secrets.token_urlsafe(24)),
            "process": DEMO_TIMINGS,
            "run_dir": run_dir,
            "database_url": None,
            "evidence_dir": run_dir / "evidence",
            "executor_id": "demo",
        }
    )
    configure_logging("WARNING", run_dir / "logs" / "demo.jsonl")
    console.print("[bold]Starting the mock portals[/bold] (scenario: demo)")
    with MockPortals(DEMO_SCENARIO) as mocks:
        settings = mocks.settings(settings)
        worker = RunningWorker(settings, webhooks=True)
        try:
            assert worker.webhooks is not None and settings.panel_token is not None
            mocks.install_panel(worker.webhooks.url, settings.panel_token)
            status, run = _follow(worker, console)
            outcome = run.outcome if run and run.outcome else (run.error if run and run.error else status)
            console.print(f"Outcome: [bold]{outcome}[/bold] (flow {status})")
            console.print(f"Run report:  {report_path(settings, DEMO_TICKET).resolve()}")
            console.print(f"Evidence:    {(settings.evidence_dir / f'ticket-{DEMO_TICKET}').resolve()}")
            agent_page = f"{mocks.urls['zendesk']}/agent/tickets/{DEMO_TICKET}"
            console.print(f"Agent page:  {agent_page} (the robot's panel in its sidebar)")
            if sys.stdin.isatty():
                # The panel's page and API are served by the worker's `rpa serve`: both stay up meanwhile.
                console.input("The agent page and its panel are served until you press Enter... ")
        finally:
            worker.close()
    console.print("Mock portals stopped.")
    return 0 if status == "SUCCESS" and run is not None and run.outcome == "migrated" else 1


def _follow(worker: RunningWorker, console: Console) -> tuple[str, FlowRun | None]:
    """Start the demo ticket's flow and print each activity it enters until DBOS records its end."""
    flow_id = worker.start_flow(DEMO_TICKET)
    shown: list[str] = []
    with console.status("migration running") as status:

        def progress(run: FlowRun | None) -> None:
            if run is None:
                return
            for activity in run.path[len(shown) :]:
                console.print(f"[green]✓[/green] {activity}")
                shown.append(activity)
            status.update(f"{run.activity or 'starting'} · {run.waiting_for or run.state.value}")

        try:
            final = worker.wait_until_done(flow_id, timeout=300, on_progress=progress)
        except TimeoutError:
            final = "timed out"
    return final, worker.store.flow(flow_id)
