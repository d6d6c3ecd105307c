"""``make demo``: start the mock portals, work one ticket end to end, show where the evidence is.

It plays what an agent does on a WhatsApp ticket with the single robot steps: Planifícate pre-analysis,
the line's state in Qvantel, and the line's confirmation, each leaving its screenshot as an internal note.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from flows import agent_steps
from flows.logs import configure_logging
from flows.mock_process import MockPortals
from flows.settings import Settings
from flows.toolkit import Toolkit

DEMO_SCENARIO = Path(__file__).resolve().parent.parent / "mock_portals" / "scenarios" / "demo.yaml"
DEMO_TICKET = 1001


def run_demo(settings: Settings, console: Console) -> int:
    configure_logging("WARNING", settings.run_dir / "logs" / "demo.jsonl")
    console.print("[bold]Starting the mock portals[/bold] (scenario: demo)")
    with MockPortals(DEMO_SCENARIO) as mocks:
        settings = mocks.settings(settings)
        with Toolkit(settings) as toolkit:
            for name, step in (("preanalysis", agent_steps.preanalysis),
                               ("line-status", agent_steps.line_status),
                               ("confirm-line", agent_steps.confirm_line)):
                with console.status(f"rpa step {name} --ticket {DEMO_TICKET}"):
                    report = step(toolkit, DEMO_TICKET)
                console.print(f"[green]✓[/green] {name}: {report.summary}")
            ticket = toolkit.zendesk.ticket(DEMO_TICKET)
        console.print(f"Ticket {DEMO_TICKET}: status {ticket.status}, Estado de Pedido {ticket.order_state or '-'}")
        console.print(f"Agent page (while the mocks run): {mocks.urls['zendesk']}/agent/tickets/{DEMO_TICKET}")
        console.print(f"Evidence folder: {toolkit.evidence.folder_for(DEMO_TICKET).resolve()}")
    console.print("Mock portals stopped.")
    return 0
