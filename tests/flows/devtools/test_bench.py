"""``make bench`` works end to end in a tiny configuration (no timing is asserted: timings are measured)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pytest
from dbos import DBOS
from playwright._impl.connection import Connection
from rich.console import Console

from flows.devtools import bench
from flows.process.inboxes import TicketInbox


def test_the_request_log_is_off_until_asked_and_lists_each_request(mocks, load_scenario):
    load_scenario(bench.bench_scenario([4001], latency_ms=0))
    control = mocks.urls["control"] + "/_control/request_log"
    httpx.get(mocks.urls["planificate"] + "/login")
    assert httpx.get(control).json() == {"requests": []}

    httpx.post(control).raise_for_status()
    httpx.post(mocks.urls["planificate"] + "/login", data={"usuario": "x", "clave": "y"})
    [logged] = httpx.get(control).json()["requests"]
    assert (logged["portal"], logged["method"], logged["path"], logged["status"]) == ("planificate", "POST", "/login", 200)
    assert logged["content_type"] == "application/x-www-form-urlencoded"

    httpx.delete(control).raise_for_status()
    httpx.get(mocks.urls["planificate"] + "/login")
    assert httpx.get(control).json() == {"requests": []}


def test_the_bench_measures_flows_at_zero_latency_and_writes_its_table(tmp_path):
    recv, recv_async, send = DBOS.__dict__["recv"], DBOS.__dict__["recv_async"], Connection.send_message_to_server

    result = bench.run_bench(bench.BenchConfig(latency_ms=0, flows=1, repeats=1))

    round_trips, floor, concurrency = result.round_trips, result.floor, result.concurrency
    # Every browser robot step of the happy path was seen, each with its round trips to the browser.
    steps = {s["step"] for s in round_trips["steps"]}
    assert {"planificate.preanalysis", "qvantel.line_status", "ar.issue_token", "ar.migrate",
            "contrato.upload_contract", "contrato.print_contract"} <= steps
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


def test_the_bench_finds_the_ticket_inbox_among_the_workers_inboxes():
    """The bench reads tickets through its marked client by swapping the client of the deployment's inbox."""
    tickets = TicketInbox(store=None, zendesk=None, send=lambda *_: None)  # type: ignore[arg-type]
    running = SimpleNamespace(worker=SimpleNamespace(inboxes=[(lambda: 0, 1.0, 0.0), (tickets.poll_once, 0.2, 0.0)]))
    assert bench.ticket_inbox(running) is tickets  # type: ignore[arg-type]

    running.worker.inboxes = [(lambda: 0, 1.0, 0.0)]
    with pytest.raises(LookupError):
        bench.ticket_inbox(running)  # type: ignore[arg-type]
