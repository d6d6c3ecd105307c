"""The Zendesk call budget shared by the processes of a deployment, on a real SQLite file and Postgres."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import time
from collections import Counter
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


def _per_window(granted: list[float], window: float) -> Counter[int]:
    return Counter(math.floor(moment / window) for moment in granted)


def test_two_processes_never_take_more_than_the_budget_together(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    granted = _takers(url, per_window=5, window=1.0, calls=8, processes=2)
    assert len(granted) == 16
    counts = _per_window(granted, 1.0)
    assert max(counts.values()) <= 5, counts
    assert len(counts) >= 4, "16 calls at 5 a window need at least four windows"


def test_the_budget_is_shared_on_postgres_too(postgres):
    url = postgres.create_database("rpa_budget")
    granted = _takers(url, per_window=4, window=1.0, calls=6, processes=3)
    counts = _per_window(granted, 1.0)
    assert len(granted) == 18 and max(counts.values()) <= 4, counts


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
