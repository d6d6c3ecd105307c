"""``make bench``, scale section: a contact centre's volume against the mocks, measured as a deployment runs.

Everything runs as it is deployed, each in its own process: the mock portals, ``rpa worker`` (one, on the
embedded SQLite; then two on a PostgreSQL of the bench's own), ``rpa serve`` receiving the mock Zendesk's
webhooks (connected by ``rpa zendesk connect``'s code), and the budget of Zendesk calls shared by them
(``RPA_ZENDESK_CALLS_PER_MINUTE``) set a little under the account's limit, which the mock Zendesk enforces
with 429s.

1. **Waiting at volume** (one worker, SQLite). ``--tickets`` (1,000) tickets whose customers stay silent
   are started together; figures: Zendesk calls per first contact (every call the account saw until the
   last first contact, divided by the tickets), seconds until every customer had her first contact beside
   the floor the budget allows (those calls / the budget per minute), the 429s the account answered, the
   worker's threads and its process tree's memory (PSS; RSS beside it) while they all wait; then the
   account's requests per minute while nothing but waiting happens.
2. **Reply time** (the same 1,000 waiting). 20 customers answer at once with a message the robot cannot
   read as her data; the robot's next public comment (the clarifying question: no console needed) is the
   reply. Reply time is, as the process's other figures reuse it: from the moment Zendesk has the
   customer's comment to the moment it has the robot's next public comment or macro, both by the mock
   Zendesk's own clock.
3. **A worker killed** (two workers on PostgreSQL). ``--kill-flows`` (300) tickets, a tenth of whose
   customers answer everything (their lines are migrated) and the rest stay silent until their flows close
   the conversation; one worker is killed with SIGKILL while they run. Figures: every flow ended, lines
   migrated more than once (target 0), evidence notes posted twice (target 0), seconds from the kill until
   the dead worker's flows had moved (its lease, ``RPA_WORKER_LEASE_SECONDS``, is part of that).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from dbos import DBOSClient

from flows.devtools.bench import _descendants, _parents, _pss, _rss, bench_scenario
from flows.devtools.harness import MockPortals
from flows.devtools.postgres import PostgresServer, free_port
from flows.engine import durable
from flows.engine.run_store import RunState, RunStore
from flows.engine.settings import CONSOLES, ProcessTimings, Settings
from flows.engine.toolkit import Toolkit
from flows.interfaces.zendesk_account import connect
from flows.process import arrivals
from flows.process.definition import MIGRATION_TAG
from robots.evidence import markers_in
from robots.retry import RetryTiming
from robots.zendesk import TicketData, ZendeskClient

ACCOUNT_LIMIT_PER_MINUTE = 2500
#: The deployment's budget, a little under the account's limit as the README advises: the account's
#: minute and the budget's need not start together, and a token bucket lets a second's worth through at once.
BUDGET_PER_MINUTE = 2400
FIRST_CONTACT_RATIO_TARGET = 1.25
WAITING_CALLS_PER_MINUTE_TARGET = 60
REPLY_P95_TARGET_SECONDS = 5.0
WORKER_MEMORY_TARGET_MB = 1024
ANSWERING = 20
#: What a customer writes that is not her data: the robot asks again, without any console.
UNCLEAR_ANSWER = "mmm no se 🤔"
MB = 1024 * 1024

#: Silent customers wait an hour in part 1: nobody's wait runs out while the figures are taken.
WAITING_TIMINGS = ProcessTimings(customer_reply_seconds=3600, silence_horizon_seconds=3600, analyst_poll_seconds=5)
#: Part 3: the silent close their conversation within about a minute and a half; the answering go through.
KILL_TIMINGS = ProcessTimings(
    customer_reply_seconds=25,
    token_reply_seconds=60,
    silence_horizon_seconds=25,
    agent_review_seconds=60,
    analyst_reply_seconds=120,
    analyst_poll_seconds=1,
    outage_first_pause_seconds=1,
    outage_max_pause_seconds=5,
    outage_horizon_seconds=120,
)
BENCH_RETRY = RetryTiming(attempts=4, max_seconds=60, first_wait_seconds=0.2, max_wait_seconds=5)


@dataclass
class ScaleResult:
    tickets: int
    figures: dict[str, Any] = field(default_factory=dict)


def scale_scenario(ticket_ids: list[int], answering: set[int]) -> dict[str, Any]:
    """Confirmed, eligible lines; the customers of ``answering`` say yes to everything, the others are silent.
    The account has Zendesk's High Volume limit; every ticket carries the bot's migration tag."""
    world = bench_scenario(ticket_ids, latency_ms=0)
    for ticket in world["tickets"]:
        if ticket["id"] not in answering:
            ticket["customer"] = {"replies": {}}
    world["name"] = "scale"
    world["description"] = "make bench, scale: silent customers by the hundred"
    # The WhatsApp bot tags the migration tickets it opens; in the mock a trigger does it at creation.
    bot = {
        "title": "Bot de WhatsApp: ticket de migración",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}]},
        "actions": [{"field": "current_tags", "value": MIGRATION_TAG}],
    }
    world["zendesk"] = {"rate_limit_per_minute": ACCOUNT_LIMIT_PER_MINUTE, "triggers": [bot]}
    return world


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of an ``rpa`` process with these settings (what a deployment's env file holds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    for name in CONSOLES:
        env[f"RPA_{name.upper()}__BASE_URL"] = getattr(settings, name).base_url
    env["RPA_ZENDESK__BASE_URL"] = settings.zendesk.base_url
    env["RPA_RUN_DIR"] = str(settings.run_dir)
    env["RPA_EVIDENCE_DIR"] = str(settings.evidence_dir)
    env["RPA_EXECUTOR_ID"] = settings.executor_id
    env["RPA_LOG_LEVEL"] = "WARNING"
    if settings.database_url:
        env["RPA_DATABASE_URL"] = settings.database_url
    if settings.zendesk_calls_per_minute:
        env["RPA_ZENDESK_CALLS_PER_MINUTE"] = str(settings.zendesk_calls_per_minute)
    for name, value in settings.retry.model_dump().items():
        env[f"RPA_RETRY__{name.upper()}"] = str(value)
    env.update({f"RPA_{k}": v for k, v in extra.items()})
    return env


class RpaProcess:
    """``rpa worker`` or ``rpa serve`` in a process group of its own (a kill takes its Chromium with it)."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, ready: str) -> None:
        self.log = log
        with log.open("w") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flows.interfaces.cli", *argv],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 90
        while ready not in log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(argv)} did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill()


def worker(settings: Settings, work: Path, **extra: str) -> RpaProcess:
    env = process_env(settings, **extra)
    return RpaProcess(["worker"], env, work / f"worker-{settings.executor_id}.log", "running; Ctrl-C stops it")


def serve(settings: Settings, work: Path, zendesk: ZendeskClient) -> RpaProcess:
    """``rpa serve`` on a free loopback port, the mock account's webhook and triggers pointed at it."""
    port = free_port()
    secret = connect(zendesk, f"http://127.0.0.1:{port}").signing_secret.get_secret_value()
    env = process_env(settings, WEBHOOK_SIGNING_SECRET=secret)
    return RpaProcess(["serve", "--port", str(port)], env, work / "serve.log", "receiving Zendesk webhooks")


def start_all(client: DBOSClient, settings: Settings, world: dict[str, Any]) -> None:
    """Queue every ticket's flow at once, as a morning's tickets arrive (the bench knows their fields: no read)."""
    for ticket in world["tickets"]:
        data = TicketData(
            id=ticket["id"], subject="Migración", status="new", requester_id=0, tags=[MIGRATION_TAG], **ticket["fields"]
        )
        arrivals.start_flow(client, settings, data)


def api_requests(mocks: MockPortals) -> dict[str, Any]:
    """What the mock account counted: total API requests and the 429s of each limit."""
    world = httpx.get(mocks.urls["control"] + "/_control/world", timeout=60).json()
    return world["records"]["zendesk"].get("api_requests", {"total": 0, "limited": {}})


def tree_memory(root: int) -> dict[str, float]:
    pids = {root} | _descendants(root, _parents())
    threads = 0
    try:
        for line in Path(f"/proc/{root}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
    except OSError:
        pass
    return {
        "pss_mb": sum(_pss(p) for p in pids) / MB,
        "rss_mb": sum(_rss(p) for p in pids) / MB,
        "python_threads": threads,
        "processes": len(pids),
    }


def _wait(condition: Callable[[], bool], timeout: float, what: str, every: float = 1.0) -> float:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(every)
    return time.monotonic() - began


def _settings(mocks: MockPortals, work: Path, executor: str, timings: ProcessTimings, **update: Any) -> Settings:
    base = Settings(
        run_dir=work / "runs",
        evidence_dir=work / f"evidence-{executor}",
        executor_id=executor,
        process=timings,
        retry=BENCH_RETRY,
        zendesk_calls_per_minute=BUDGET_PER_MINUTE,
    )
    return mocks.settings(base).model_copy(update=update)


# ---------------------------------------------------------------------------------------------
# 1 and 2: a thousand waiting, twenty answering
# ---------------------------------------------------------------------------------------------
def measure_waiting(tickets: int, quiet_seconds: float, work: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    ticket_ids = [300_000 + n for n in range(tickets)]
    world = scale_scenario(ticket_ids, answering=set())
    work.mkdir(parents=True, exist_ok=True)
    scenario_file = work / "scale.json"
    scenario_file.write_text(json.dumps(world))
    figures: dict[str, Any] = {"tickets": tickets}
    with MockPortals(scenario_file) as mocks:
        settings = _settings(mocks, work, "scale-1", WAITING_TIMINGS)
        store = RunStore(settings.store_url())
        client = durable.client(settings)
        running: list[RpaProcess] = []
        try:
            with Toolkit(settings) as toolkit:
                running.append(serve(settings, work, toolkit.zendesk))
            the_worker = worker(settings, work)
            running.append(the_worker)
            before = api_requests(mocks)["total"]
            progress(f"starting {tickets} flows whose customers stay silent")
            began = time.monotonic()
            start_all(client, settings, world)
            figures["queueing_seconds"] = time.monotonic() - began
            peak = {"pss_mb": 0.0, "rss_mb": 0.0, "python_threads": 0}

            def all_contacted() -> bool:
                for key, value in tree_memory(the_worker.pid).items():
                    if key in peak:
                        peak[key] = max(peak[key], value)
                waiting = len([r for r in store.flows(limit=tickets + 10) if r.state == RunState.WAITING])
                progress(f"first contacts: {waiting}/{tickets}")
                return waiting >= tickets

            _wait(all_contacted, 3600, "every customer's first contact", every=2.0)
            contacted_after = time.monotonic() - began
            counted = api_requests(mocks)
            calls = counted["total"] - before
            floor = calls / BUDGET_PER_MINUTE * 60
            figures.update(
                first_contact_seconds=contacted_after,
                zendesk_calls=calls,
                calls_per_first_contact=calls / tickets,
                floor_seconds=floor,
                first_contact_ratio=contacted_after / floor if floor else None,
                rate_limited=counted.get("limited", {}),
            )
            progress(f"{tickets} waiting: the account's requests for {quiet_seconds:.0f} s")
            quiet_from, quiet_began = counted["total"], time.monotonic()
            time.sleep(quiet_seconds)
            waiting_memory = tree_memory(the_worker.pid)
            quiet_calls = api_requests(mocks)["total"] - quiet_from
            figures.update(
                waiting_calls_per_minute=quiet_calls / (time.monotonic() - quiet_began) * 60,
                waiting_memory=waiting_memory,
                peak_memory=peak,
            )
            progress(f"{ANSWERING} customers answer at once")
            figures["reply_seconds"] = _reply_times(mocks, ticket_ids[:ANSWERING])
        finally:
            for process in reversed(running):
                process.stop()
            store.dispose()
            client.destroy()
    return figures


def _comments(mocks: MockPortals) -> dict[str, list[dict[str, Any]]]:
    world = httpx.get(mocks.urls["control"] + "/_control/world", timeout=60).json()
    return {key: ticket.get("comments", []) for key, ticket in world["tickets"].items()}


def _reply_times(mocks: MockPortals, ticket_ids: list[int]) -> dict[str, Any]:
    """Customers answer together; each reply time is by the mock Zendesk's clock, comment to comment."""
    base = mocks.urls["zendesk"]
    with httpx.Client(timeout=30) as http:
        for ticket_id in ticket_ids:
            http.post(f"{base}/agent/tickets/{ticket_id}/responder", data={"mensaje": UNCLEAR_ANSWER})
    times: dict[int, float] = {}

    def replied() -> bool:
        comments = _comments(mocks)
        for ticket_id in ticket_ids:
            said = comments.get(str(ticket_id), [])
            asked = [c for c in said if c.get("body") == UNCLEAR_ANSWER]
            if not asked or ticket_id in times:
                continue
            at = datetime.fromisoformat(asked[-1]["created_at"])
            after = [
                datetime.fromisoformat(c["created_at"])
                for c in said
                if c.get("public", True)
                and c.get("body") != UNCLEAR_ANSWER
                and datetime.fromisoformat(c["created_at"]) > at
            ]
            if after:
                times[ticket_id] = (min(after) - at).total_seconds()
        return len(times) == len(ticket_ids)

    try:
        _wait(replied, 300, "the robot's replies", every=0.5)
    except TimeoutError:
        pass
    values = sorted(times.values())
    if not values:
        return {"answered": 0, "replied": 0}
    return {
        "answered": len(ticket_ids),
        "replied": len(values),
        "p50": statistics.median(values),
        "p95": values[min(len(values) - 1, round(0.95 * (len(values) - 1)))],
        "max": values[-1],
    }


# ---------------------------------------------------------------------------------------------
# 3: two workers on PostgreSQL, one killed
# ---------------------------------------------------------------------------------------------
def measure_kill(flows: int, work: Path, progress: Callable[[str], None], lease_seconds: int = 10) -> dict[str, Any]:
    ticket_ids = [400_000 + n for n in range(flows)]
    answering = set(ticket_ids[::10])
    world = scale_scenario(ticket_ids, answering=answering)
    work.mkdir(parents=True, exist_ok=True)
    scenario_file = work / "kill.json"
    scenario_file.write_text(json.dumps(world))
    figures: dict[str, Any] = {"flows": flows, "answering": len(answering), "lease_seconds": lease_seconds}
    postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="rpa-bench-pg-"))).start()
    try:
        url = postgres.create_database("scale")
        with MockPortals(scenario_file) as mocks:
            first = _settings(mocks, work / "a", "scale-a", KILL_TIMINGS, database_url=url)
            second = _settings(mocks, work / "b", "scale-b", KILL_TIMINGS, database_url=url)
            for settings in (first, second):
                settings.run_dir.mkdir(parents=True, exist_ok=True)
            client = durable.client(first)
            store = RunStore(first.store_url())
            running: list[RpaProcess] = []
            try:
                with Toolkit(first) as toolkit:
                    running.append(serve(first, work, toolkit.zendesk))
                lease = {"WORKER_LEASE_SECONDS": str(lease_seconds)}
                doomed = worker(first, work, **lease)
                running += [doomed, worker(second, work, **lease)]
                progress(f"starting {flows} flows on two workers")
                start_all(client, first, world)
                # Kill while the first worker holds flows at work and waiting.
                _wait(lambda: len(_pending_on(client, "scale-a")) >= flows // 4, 600, "flows on the first worker")
                time.sleep(5)
                held = len(_pending_on(client, "scale-a"))
                progress(f"SIGKILL of the first worker, holding {held} flows")
                doomed.kill()
                killed_at = time.monotonic()
                moved = _wait(lambda: not _pending_on(client, "scale-a"), 600, "the dead worker's flows to move", 0.5)
                figures.update(held_by_killed=held, moved_after_seconds=moved)
                progress("waiting for every flow to end")

                def ended() -> bool:
                    done = [
                        w
                        for w in client.list_workflows(load_input=False, load_output=False)
                        if w.status in ("SUCCESS", "ERROR", "CANCELLED")
                    ]
                    progress(f"ended: {len(done)}/{flows}")
                    return len(done) >= flows

                _wait(ended, 1800, "every flow to end", every=3.0)
                figures["all_ended_seconds"] = time.monotonic() - killed_at
                statuses = Counter(w.status for w in client.list_workflows(load_input=False, load_output=False))
                figures["statuses"] = dict(statuses)
                figures.update(_duplicates(mocks, ticket_ids, answering))
            finally:
                for process in reversed(running):
                    process.stop()
                store.dispose()
                client.destroy()
    finally:
        postgres.stop()
    return figures


def _pending_on(client: DBOSClient, executor: str) -> list[Any]:
    return client.list_workflows(status="PENDING", executor_id=executor, load_input=False, load_output=False)


def _duplicates(mocks: MockPortals, ticket_ids: list[int], answering: set[int]) -> dict[str, Any]:
    world = httpx.get(mocks.urls["control"] + "/_control/world", timeout=60).json()
    migrations = [line.get("migrations", 0) for line in world["lines"].values()]
    twice_notes = 0
    for ticket_id in ticket_ids:
        marks = Counter(
            mark for c in world["tickets"][str(ticket_id)].get("comments", []) for mark in markers_in(c.get("body", ""))
        )
        twice_notes += sum(1 for count in marks.values() if count > 1)
    return {
        "lines_migrated": sum(1 for m in migrations if m >= 1),
        "lines_migrated_twice": sum(1 for m in migrations if m > 1),
        "notes_posted_twice": twice_notes,
    }


# ---------------------------------------------------------------------------------------------
# The section's run and its rows in ``make bench``'s table
# ---------------------------------------------------------------------------------------------
def run_scale(
    tickets: int, kill_flows: int, quiet_seconds: float, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="rpa-bench-scale-"))
    began = time.monotonic()
    figures: dict[str, Any] = {}
    try:
        if tickets:
            figures["waiting"] = measure_waiting(tickets, quiet_seconds, work / "waiting", progress)
        if kill_flows:
            figures["kill"] = measure_kill(kill_flows, work / "kill", progress)
    finally:
        figures["seconds"] = time.monotonic() - began
        figures["work_dir"] = str(work)
    return figures


def scale_rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    w = figures.get("waiting")
    if w:
        n, memory, peak = w["tickets"], w["waiting_memory"], w["peak_memory"]
        limited = sum((w.get("rate_limited") or {}).values())
        rows += [
            {
                "measure": f"{n} silent customers: first contacts / budget floor",
                "value": f"{w['first_contact_ratio']:.2f}x",
                "detail": f"{w['first_contact_seconds']:.0f} s / floor {w['floor_seconds']:.0f} s "
                f"({w['zendesk_calls']} calls at the budget's {BUDGET_PER_MINUTE}/min; the account allows "
                f"{ACCOUNT_LIMIT_PER_MINUTE}); 429s: {limited}",
                "target": f"< {FIRST_CONTACT_RATIO_TARGET}x, no 429 lost",
                "pass": w["first_contact_ratio"] < FIRST_CONTACT_RATIO_TARGET,
            },
            {
                "measure": "  Zendesk calls per first contact",
                "value": f"{w['calls_per_first_contact']:.1f}",
                "detail": "every call the account saw until the last first contact, per ticket",
                "target": "",
                "pass": None,
            },
            {
                "measure": f"Worker with {n} waiting: threads, memory",
                "value": f"{memory['python_threads']} threads, {memory['pss_mb']:.0f} MB",
                "detail": f"PSS of the worker's tree ({memory['processes']} processes; RSS {memory['rss_mb']:.0f} MB); "
                f"peak while starting {peak['python_threads']} threads, {peak['pss_mb']:.0f} MB",
                "target": f"threads flat, < {WORKER_MEMORY_TARGET_MB} MB",
                "pass": memory["pss_mb"] < WORKER_MEMORY_TARGET_MB and memory["python_threads"] < 100,
            },
            {
                "measure": f"Zendesk requests a minute, {n} waiting",
                "value": f"{w['waiting_calls_per_minute']:.0f}",
                "detail": "the account's whole count while nobody writes (webhooks and the catch-up reader only)",
                "target": f"< {WAITING_CALLS_PER_MINUTE_TARGET}",
                "pass": w["waiting_calls_per_minute"] < WAITING_CALLS_PER_MINUTE_TARGET,
            },
        ]
        r = w["reply_seconds"]
        if r.get("replied"):
            rows.append(
                {
                    "measure": f"Reply time, {r['answered']} answering of {n} waiting",
                    "value": f"p95 {r['p95']:.1f} s",
                    "detail": f"p50 {r['p50']:.1f} s, max {r['max']:.1f} s; {r['replied']} of {r['answered']} replied "
                    "(customer's comment to the robot's next public comment, Zendesk's clock)",
                    "target": f"p95 < {REPLY_P95_TARGET_SECONDS:.0f} s",
                    "pass": r["p95"] < REPLY_P95_TARGET_SECONDS and r["replied"] == r["answered"],
                }
            )
    k = figures.get("kill")
    if k:
        clean = k.get("lines_migrated_twice") == 0 and k.get("notes_posted_twice") == 0
        ended = sum(k.get("statuses", {}).get(s, 0) for s in ("SUCCESS",)) == k["flows"]
        rows += [
            {
                "measure": f"Two workers (PostgreSQL), {k['flows']} flows, one SIGKILLed",
                "value": "all ended" if ended else "NOT all ended",
                "detail": f"statuses {k.get('statuses')}; lines migrated {k.get('lines_migrated')} "
                f"(twice: {k.get('lines_migrated_twice')}); evidence notes twice: {k.get('notes_posted_twice')}",
                "target": "all end, nothing twice",
                "pass": ended and clean,
            },
            {
                "measure": "  seconds until the dead worker's flows moved",
                "value": f"{k['moved_after_seconds']:.0f} s" if "moved_after_seconds" in k else "-",
                "detail": f"{k.get('held_by_killed')} flows held; worker lease {k['lease_seconds']} s",
                "target": "",
                "pass": None,
            },
        ]
    return rows
