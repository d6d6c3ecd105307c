"""``make bench`` works end to end in a tiny configuration (no timing is asserted: timings are measured)."""

from __future__ import annotations

import copy
import inspect
import json
import threading
import time
from types import SimpleNamespace

import httpx
import pytest
from dbos import DBOS
from playwright._impl.connection import Connection
from rich.console import Console

from flows.devtools import bench
from flows.devtools.bench_profile import SamplingProfiler, package_of, relative_file
from flows.process.inboxes import TicketInbox
from pages.browser import FULL_CHROMIUM, HEADLESS_SHELL


def test_the_request_log_is_off_until_asked_and_lists_each_request(mocks, load_scenario):
    load_scenario(bench.bench_scenario([4001], latency_ms=0))
    control = mocks.urls["control"] + "/_control/request_log"
    httpx.get(mocks.urls["planificate"] + "/login")
    assert httpx.get(control).json() == {"requests": []}

    httpx.post(control).raise_for_status()
    httpx.post(mocks.urls["planificate"] + "/login", data={"usuario": "x", "clave": "y"})
    [logged] = httpx.get(control).json()["requests"]
    assert (logged["portal"], logged["method"], logged["path"], logged["status"]) == (
        "planificate",
        "POST",
        "/login",
        200,
    )
    assert logged["content_type"] == "application/x-www-form-urlencoded"

    httpx.delete(control).raise_for_status()
    httpx.get(mocks.urls["planificate"] + "/login")
    assert httpx.get(control).json() == {"requests": []}


def test_the_bench_measures_flows_at_zero_latency_and_writes_its_table(tmp_path):
    recv, recv_async, send = DBOS.__dict__["recv"], DBOS.__dict__["recv_async"], Connection.send_message_to_server

    # One browser here (a second one is a second worker: the same code, twice the time).
    result = bench.run_bench(bench.BenchConfig(latency_ms=0, flows=1, repeats=1, browsers=("shell",)))

    round_trips, floor, concurrency = result.round_trips, result.floor, result.concurrency
    # Every browser robot step of the happy path was seen, each with its round trips to the browser.
    steps = {s["step"] for s in round_trips["steps"]}
    assert {
        "planificate.preanalysis",
        "qvantel.line_status",
        "ar.issue_token",
        "ar.migrate",
        "contrato.upload_contract",
        "contrato.print_contract",
    } <= steps
    assert all(s["round_trips"] > 0 for s in round_trips["steps"])
    # The floor replays what the flow asked of the consoles and of Zendesk, and nothing of the bench's own.
    assert {"planificate", "qvantel", "ar", "contrato", "zendesk"} <= set(floor["requests_by_portal"])
    assert floor["floor_s"] > 0 and floor["active_s"] > 0 and floor["waiting_s"] > 0
    assert len(concurrency["many_active_s"]) == 1
    assert concurrency["many"]["pss_mb"] > 0 and concurrency["many"]["processes"] > 1
    # The bench's wrappers are gone once it is done.
    assert DBOS.__dict__["recv"] is recv and Connection.send_message_to_server is send
    assert DBOS.__dict__["recv_async"] is recv_async

    written = json.loads(bench.write_json(result, tmp_path / "bench.json").read_text(encoding="utf-8"))
    assert [row["measure"] for row in written["table"]] == [row["measure"] for row in bench.rows(result)]
    console = Console(record=True, width=200)
    bench.print_table(result, console)
    assert "PASS" in console.export_text() or "MISS" in console.export_text()

    # The verdicts are the headless shell's, and the profile of its single flows is in the JSON.
    assert set(result.browsers) == {"shell"} and result.browsers["shell"]["executable"] == str(HEADLESS_SHELL)
    assert result.floor is result.browsers["shell"]["floor"]
    profile = written["python_profile"]
    assert profile["busy_samples"] > 0 and profile["threads_cpu_s"] > 0
    assert {"pages", "robots", "flows", "playwright", "dbos", "sqlalchemy", "asyncio", "other"} <= set(
        profile["packages"]
    )
    assert profile["self"] and all(row["function"].count(":") >= 2 for row in profile["self"])
    assert not {"MainThread", "bench-memory", "bench-profiler"} & set(profile["threads"])
    table = {row["measure"]: row for row in written["table"]}
    cpu = table["Worker CPU per flow, 0 ms (headless shell)"]
    assert cpu["target"] == "<= 2.0 s" and cpu["pass"] is not None
    assert table["Happy-path flow / its floor, 0 ms (headless shell)"]["target"] == "<= 1.2x"
    assert "Python CPU per flow, 0 ms (headless shell)" in table

    # With the full Chromium measured too, each of its rows follows the shell's, without a verdict.
    result.browsers["full"] = copy.deepcopy(result.browsers["shell"])
    both = [row for row in bench.rows(result) if row["measure"].endswith(("(headless shell)", "(full chromium)"))]
    assert both[-1]["measure"].startswith("Python CPU per flow")
    for shell, full in zip(both[0:-1:2], both[1:-1:2], strict=True):
        assert full["measure"] == shell["measure"].replace("(headless shell)", "(full chromium)")
        assert full["pass"] is None and full["target"] == ""


def test_the_bench_pins_the_browser_its_worker_launches(tmp_path):
    mocks = SimpleNamespace(settings=lambda base: base)
    for key, (_, executable) in bench.BROWSERS.items():
        settings = bench.bench_settings(mocks, tmp_path, browser=executable)  # type: ignore[arg-type]
        assert settings.browser.executable() == executable, key
    assert {executable for _, executable in bench.BROWSERS.values()} == {HEADLESS_SHELL, FULL_CHROMIUM}
    with pytest.raises(ValueError):
        bench.run_bench(bench.BenchConfig(browsers=("firefox",)))


def test_the_profiler_counts_working_threads_where_they_work_and_waiting_ones_apart():
    def spin_for_the_profiler(seconds: float) -> None:
        until = time.perf_counter() + seconds
        while time.perf_counter() < until:
            sum(range(200))

    stop = threading.Event()
    threads = [
        threading.Thread(target=spin_for_the_profiler, args=(0.4,), name="spinner"),
        threading.Thread(target=stop.wait, args=(0.4,), name="waiter"),
        threading.Thread(target=spin_for_the_profiler, args=(0.4,), name="left-out"),
    ]
    with SamplingProfiler(ignore=("MainThread", "left-out")) as profiler:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    profile = profiler.result()

    assert profile["busy_samples"] > 10 and profile["waiting_samples"] > 10
    assert profile["self"][0]["function"].endswith(".spin_for_the_profiler")
    assert profile["self"][0]["function"].startswith("tests/flows/devtools/test_bench.py:")
    assert set(profile["threads"]) >= {"spinner"} and not {"left-out", "MainThread"} & set(profile["threads"])
    # Other threads of a test process (xdist's, pytest's) may be caught working now and then.
    assert profile["threads"]["spinner"]["busy_samples"] >= 0.8 * profile["busy_samples"]


def test_the_profiler_names_files_and_packages_as_the_project_and_site_packages_do():
    assert relative_file(inspect.getfile(Connection)) == "playwright/_impl/connection.py"
    assert relative_file(bench.__file__) == "flows/devtools/bench.py"
    assert relative_file(threading.__file__) == "threading.py"
    assert [package_of(f) for f in ("flows/devtools/bench.py", "httpcore/_sync/x.py", "asyncio/events.py")] == [
        "flows",
        "httpx",
        "asyncio",
    ]
    assert package_of("threading.py") == "other" and package_of("pydantic_core/core.py") == "pydantic"


def test_the_bench_finds_the_ticket_inbox_among_the_workers_inboxes():
    """The bench reads tickets through its marked client by swapping the client of the deployment's inbox."""
    tickets = TicketInbox(store=None, zendesk=None, send=lambda *_: None)  # type: ignore[arg-type]
    running = SimpleNamespace(worker=SimpleNamespace(inboxes=[(lambda: 0, 1.0, 0.0), (tickets.poll_once, 0.2, 0.0)]))
    assert bench.ticket_inbox(running) is tickets  # type: ignore[arg-type]

    running.worker.inboxes = [(lambda: 0, 1.0, 0.0)]
    with pytest.raises(LookupError):
        bench.ticket_inbox(running)  # type: ignore[arg-type]
