"""Shared fixtures: the real mock portals on loopback, one Chromium, and fast retry timings.

The mock servers start once per test session on free ports; ``world`` resets them to a scenario before
each test that asks for it. pytest-playwright's own ``browser``/``context``/``page`` fixtures launch the
same Debian Chromium the robots use.

Under pytest-xdist (``make test`` runs ``-n 4``) every worker is a test session of its own: its own mock
servers, its own Chromium, its own temporary folders; nothing here writes to a fixed path or port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from mock_portals.server import MockServers
from mock_portals.world import Scenario
from pages.browser import BrowserOptions
from robots.retry import RetryPolicy, RetryTiming, console_step, zendesk_call
from robots.sessions import BrowserHost, PortalAccess, PortalSession

T = TypeVar("T")

FAST_RETRIES = RetryTiming(attempts=4, max_seconds=20, first_wait_seconds=0.01, max_wait_seconds=0.05)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """pytest-playwright launches Debian's Chromium with the closed-network flags, like the robots."""
    return BrowserOptions().launch_kwargs()


@pytest.fixture(scope="session")
def mocks() -> Iterator[MockServers]:
    """The mock portals of this test process (each pytest-xdist worker has its own, on its own free ports)."""
    for attempt in range(1, 4):
        servers = MockServers(Scenario())
        try:
            servers.start_in_thread()
            break
        except TimeoutError:
            # A port free when chosen was taken before the server bound it (another worker's servers,
            # PostgreSQL, a browser's connection): start again on other free ports.
            servers.stop_thread()
            if attempt == 3:
                raise
    yield servers
    servers.stop_thread()


@pytest.fixture
def load_scenario(mocks: MockServers) -> Callable[[Scenario | dict], Scenario]:
    """Reset the mock world to a scenario (a ``Scenario`` or its dict) through the control API."""

    def load(scenario: Scenario | dict) -> Scenario:
        model = scenario if isinstance(scenario, Scenario) else Scenario.model_validate(scenario)
        response = httpx.post(mocks.urls["control"] + "/_control/reset", json=model.model_dump(mode="json"))
        response.raise_for_status()
        return model

    return load


@pytest.fixture
def faults(mocks: MockServers) -> Iterator[Callable[..., dict]]:
    """Inject faults into a portal: ``faults("qvantel", fail_next=3)``; all are cleared after the test."""

    def inject(portal: str, **fault: Any) -> dict:
        response = httpx.post(mocks.urls["control"] + "/_control/faults", json={"portal": portal, **fault})
        response.raise_for_status()
        return response.json()

    yield inject
    httpx.delete(mocks.urls["control"] + "/_control/faults")


@pytest.fixture
def world_state(mocks: MockServers) -> Callable[[], dict]:
    """The whole mock world as JSON, read through the control API."""
    return lambda: httpx.get(mocks.urls["control"] + "/_control/world").json()


@pytest.fixture(scope="session")
def browser_host() -> Iterator[BrowserHost]:
    host = BrowserHost(BrowserOptions())
    yield host
    host.close()


@pytest.fixture
def access(mocks: MockServers) -> Callable[[str], PortalAccess]:
    """The demo credentials of a mock console."""
    return lambda portal: PortalAccess(base_url=mocks.urls[portal], user="agente.rpa", password="Clave.2026")


class CountingPolicy:
    """A real retry policy that counts its attempts (to tell a retried error from one that is not)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.attempts = 0

    def call(self, fn: Callable[[], T]) -> T:
        def counted() -> T:
            self.attempts += 1
            return fn()

        return self.policy.call(counted)


@pytest.fixture
def console_policy():
    return console_step(FAST_RETRIES)


@pytest.fixture
def counting_console_policy(console_policy) -> CountingPolicy:
    return CountingPolicy(console_policy)


@pytest.fixture
def console_robot(browser_host, access) -> Iterator[Callable[..., Any]]:
    """Build a console robot on a fresh session of its console: ``console_robot(BCCSRobot, BCCSPage, policy)``;
    the sessions are closed after the test."""
    sessions: list[PortalSession] = []

    def build(robot_type: type, page_type: type, policy: Any) -> Any:
        session = PortalSession(browser_host, page_type, access(page_type.portal))
        sessions.append(session)
        return robot_type(session, policy)

    yield build
    for session in sessions:
        browser_host.run(session.close())


@pytest.fixture
def zendesk_policy():
    return zendesk_call(FAST_RETRIES)


#: The longest tests (``pytest --durations``), started first: with ``-n`` free workers take the next
#: tests in this order (pyproject's ``--dist load --maxschedchunk 2``), so a minute-long test never
#: starts last and runs alone. Listed by file; the rest keep their collection order.
LONGEST_FIRST = (
    "tests/flows/engine/test_crash_matrix.py",
    "tests/flows/devtools/test_demo.py",
    "tests/flows/reporting/test_report.py",
    "tests/flows/engine/test_upgrade.py",
    "tests/flows/interfaces/test_flow_commands.py",
    "tests/flows/devtools/test_bench.py",
    "tests/flows/engine/test_many_workers.py",
    "tests/flows/engine/test_worker_stop.py",
    "tests/flows/engine/test_worker_leases.py",
    "tests/flows/engine/test_crash_recovery.py",
    "tests/flows/interfaces/test_doctor.py",
    "tests/flows/interfaces/test_cli.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file and among the rest is kept
