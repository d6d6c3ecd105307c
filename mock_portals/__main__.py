"""``python -m mock_portals [--scenario FILE | --empty]``: serve every console until Ctrl-C or SIGTERM.

Without ``--scenario`` the consoles serve the demo world (``scenarios/demo.yaml``), so a person who just
starts them finds a ticket to work on; ``--empty`` serves a world with nothing in it, for a caller that
loads its own scenarios through the control API. The first line printed is one JSON object mapping each
portal to its address.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from pathlib import Path

from pydantic import ValidationError

from mock_portals.server import APPS, DEFAULT_PORTS, MockServers
from mock_portals.world import Scenario

DEMO_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "demo.yaml"


def chosen_scenario(path: str | Path | None, *, empty: bool = False) -> Scenario:
    """The world to serve: the file named, else the demo; nothing at all when ``empty``."""
    if empty:
        return Scenario()
    return Scenario.load(path or DEMO_SCENARIO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mock_portals", description=__doc__)
    world = parser.add_mutually_exclusive_group()
    world.add_argument("--scenario", help="scenario file (YAML or JSON); the demo world when not given")
    world.add_argument("--empty", action="store_true", help="serve an empty world instead of the demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--free-ports", action="store_true", help="pick free ports instead of 8700-8708")
    parser.add_argument("--latency-ms", type=int, default=None, help="server latency per console request")
    args = parser.parse_args(argv)

    try:
        scenario = chosen_scenario(args.scenario, empty=args.empty)
    except FileNotFoundError:
        print(f"error: scenario file not found: {args.scenario}", file=sys.stderr)
        return 2
    except (ValidationError, ValueError) as exc:
        print(f"error: scenario {args.scenario or DEMO_SCENARIO} is not valid:\n{exc}", file=sys.stderr)
        return 2
    if args.latency_ms is not None:
        scenario.latency_ms = args.latency_ms

    ports = {} if args.free_ports else {name: DEFAULT_PORTS[name] for name in APPS}
    servers = MockServers(scenario, host=args.host, ports=ports)

    def announce() -> None:
        servers.wait_ready()
        print(json.dumps(servers.urls), flush=True)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, servers.stop)
        threading.Thread(target=announce, daemon=True).start()
        await servers.serve()

    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"error: cannot start the mock portals: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
