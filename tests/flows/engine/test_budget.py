"""The Zendesk call budget shared by the processes of a deployment, on a real SQLite file and Postgres."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flows.engine.budget import ZendeskBudget

#: One process of a deployment: takes calls from the shared budget and prints when each was granted.
TAKER = textwrap.dedent("""
    import json, sys, time
    from flows.engine.budget import ZendeskBudget
    budget = ZendeskBudget(sys.argv[1], int(sys.argv[2]), window_seconds=float(sys.argv[3]))
    granted = []
    for _ in range(int(sys.argv[4])):
        budget.take()
        granted.append(time.time())
    print(json.dumps(granted))
""")


def _takers(url: str, per_window: int, window: float, calls: int, processes: int) -> list[float]:
    running = [
        subprocess.Popen([sys.executable, "-c", TAKER, url, str(per_window), str(window), str(calls)],
                         stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    granted: list[float] = []
    for process in running:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        granted += json.loads(out)
    return granted


def _most_in_any_window(granted: list[float], window: float) -> int:
    """The most calls any window of that length saw, wherever it starts (a limit need not align with ours)."""
    moments = sorted(granted)
    return max(sum(1 for m in moments[i:] if m < start + window) for i, start in enumerate(moments))


def test_two_processes_never_take_more_than_the_budget_together(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    granted = _takers(url, per_window=5, window=1.0, calls=8, processes=2)
    assert len(granted) == 16
    # 5 a second, at most one second's worth at once: any second sees at most 5 + 5.
    assert _most_in_any_window(granted, 1.0) <= 10
    assert max(granted) - min(granted) >= 2.0, "16 calls at 5 a second, 5 at once, take over two seconds"


def test_the_budget_is_shared_on_postgres_too(postgres):
    url = postgres.create_database("rpa_budget")
    granted = _takers(url, per_window=4, window=1.0, calls=6, processes=3)
    assert len(granted) == 18 and _most_in_any_window(granted, 1.0) <= 8
    assert max(granted) - min(granted) >= 3.0


def test_a_429_pauses_every_process(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    one = ZendeskBudget(url, 1000)
    other = ZendeskBudget(url, 1000)
    one.take()
    one.pause(1.5)
    started = time.time()
    other.take()
    assert time.time() - started >= 1.3
    one.dispose()
    other.dispose()


def test_a_budget_needs_a_positive_limit(tmp_path: Path):
    with pytest.raises(ValueError, match="at least one call"):
        ZendeskBudget(f"sqlite:///{tmp_path / 'store.sqlite'}", 0)


def _calls(client_of, clients: int, calls: int) -> None:
    import threading

    def work(client) -> None:
        for _ in range(calls):
            client.ticket(TICKET)

    made = [client_of() for _ in range(clients)]
    threads = [threading.Thread(target=work, args=(client,)) for client in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for client in made:
        client.close()


TICKET = 2001


def test_clients_sharing_the_budget_stay_within_the_accounts_limit(mocks, load_scenario, world_state, tmp_path):
    """Against the mock Zendesk's account limit (10 a 'minute' of 2 s): two clients drawing from one budget
    of 6 (at most 6 + 3 in any 2 s) never get a 429; without the budget they do."""
    import httpx

    from robots.retry import RetryTiming, zendesk_call
    from robots.zendesk import ZendeskAccess, ZendeskClient
    from tests.flows.scenarios import scenario

    load_scenario(scenario())
    limits = {"rate_limit_per_minute": 10, "rate_limit_window_seconds": 2}
    httpx.patch(mocks.urls["control"] + "/_control/zendesk/settings", json=limits, timeout=10).raise_for_status()
    access = ZendeskAccess(base_url=mocks.urls["zendesk"], email="rpa@contactcentre.example",
                           api_token="demo-api-token")
    policy = zendesk_call(RetryTiming(attempts=8, max_seconds=60, first_wait_seconds=0.05, max_wait_seconds=0.5))
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"

    def limited() -> int:
        return world_state()["records"]["zendesk"]["api_requests"]["limited"]["account"]

    _calls(lambda: ZendeskClient(access, policy, budget=ZendeskBudget(url, 6, window_seconds=2.0)), 2, 10)
    assert limited() == 0
    _calls(lambda: ZendeskClient(access, policy), 2, 10)
    assert limited() > 0, "without the budget the same calls overrun the account"
