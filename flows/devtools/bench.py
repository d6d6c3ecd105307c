"""``make bench``: what the robots cost, measured against the mock portals, printed as one table.

Three measurements, each printed beside its target (the issue's "Measured, not asserted"; a figure meets its
target at or below it) and written to ``<run_dir>/bench.json`` with the raw numbers behind it (per flow, per
robot step, per Playwright method):

1. **Flow against its floor, at 300 ms.** The happy-path migration runs in a worker of this process (the
   same ``Worker`` as ``rpa worker``, DBOS on a temporary SQLite, a simulated customer answering within a
   fraction of a second). Its *active time* is the flow's wall time, from its first step starting to its
   last step ending (the run store's ``started_at``/``updated_at``; the queue's pick-up before it is not
   counted), minus the time the flow spent inside ``DBOS.recv_async`` waiting for the customer, the reviewer or
   the token (which also holds the ticket inbox's polling interval): what is left is robots, Zendesk calls,
   evidence and the engine's own bookkeeping. The mocks log every request the flow made
   (``/_control/request_log``); the *floor* is those same requests sent again one after another with
   httpx, no browser, at the same latency (consoles logged in first, untimed, as the flow's sessions were).
   Three flows run one after another and the fastest counts: work of other processes only ever adds time.
2. **One flow against eight at once, at 300 ms.** Eight tickets started together in the same worker:
   one Chromium, one browser context per console whose pages are handed one to each flow working on
   that console at the same moment (``robots.sessions.PortalSession``; the issue says "a context each",
   the code shares the login's context and gives each concurrent flow its own *page*). The time ratio is
   the slowest of the eight flows' active times over the fastest single flow's. Memory is the worker's
   process tree, sampled from ``/proc`` on a thread: this Python process, Playwright's driver and every
   Chromium process under it; the mock portals' child process is the outside world and is left out. The
   verdict uses the proportional set size (PSS, every ~2 s and at the end of each run, since reading it
   costs a few ms per process): summed RSS, sampled every 100 ms, counts the pages Chromium's processes
   share (its 250 MB binary, its libraries) once per process, so every new renderer looks like 100+ MB.
   Both are in the table; the figure per extra flow is (peak with eight - peak with one) / 7. The CPU
   seconds the tree spent are read from ``/proc`` too, and with them the share of the machine that other
   processes took meanwhile; the CPU seconds per flow of the single flows have a target of their own.
3. **Round trips at zero latency.** During the bench, every public method of the browser robots (one
   *robot step*, e.g. ``qvantel.line_status``) marks the work it hands to the browser's event loop
   (``run_coroutine_threadsafe`` runs it in a copy of the caller's context), and every message
   Playwright's client sends its driver (``Connection.send_message_to_server``, the client's protocol
   layer) is counted against the step that caused it: a *round trip* when the caller waits for its
   answer, with the time until it comes; one-way otherwise (the trace's call stacks). Reported: round
   trips per robot step, and milliseconds per round trip as robot-step time divided by round trips (what
   a step costs per round trip, Python included), with the driver's mean answer time beside it.

All three are taken once per browser (``--browser shell|full|both``), each in a worker of its own: Debian's
``chromium-headless-shell``, which the product launches by default (``pages.browser.BrowserOptions``), and
the full ``/usr/bin/chromium``. The verdicts are about the headless shell; the full browser's figures are
printed beside them, and ``bench.json`` keeps both under ``browsers`` (its top-level ``floor``,
``concurrency`` and ``round_trips`` are the headless shell's).

Where the worker's Python time goes: during one more single flow of the headless shell at 300 ms, after
the timed ones, a sampling profiler (``flows.devtools.bench_profile``) looks at the worker's threads every 5 ms; ``bench.json`` keeps the
functions with most samples, on top of the stack and anywhere on it, and the share of each package
(``python_profile``). The table prints the worker threads' CPU per flow with the three packages on top.
That flow is not one of the timed ones, so neither the sampler's CPU nor its shorter switch interval (see
the module) lands in a figure with a target.

Latency applies to the legacy consoles only. The issue's reason for it is that legacy consoles are slow;
Zendesk is a SaaS API whose answer time does not depend on them, and its calls go through httpx in the
flow and in the floor alike, so slowing them would add the same seconds to both sides and hide the cost
this bench looks for: the browser's. (``fault_middleware`` applies the scenario's latency to consoles
only; Zendesk can still be slowed with an injected fault.)

Runs are warm, as in a worker that has been up for a while: each console is logged in before the
measured flows, and the zero-latency flow runs first so that no first-use cost of Python lands in the
timed runs. The flow section takes about two minutes per browser.
"""

from __future__ import annotations

import argparse
import base64
import contextvars
import functools
import inspect
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from dbos import DBOS
from loguru import logger
from rich.console import Console
from rich.table import Table

from flows.devtools.bench_profile import SamplingProfiler
from flows.devtools.harness import FINAL_STATUSES, MockPortals, RunningWorker
from flows.engine.settings import ProcessTimings, Settings
from flows.engine.toolkit import Toolkit
from flows.process.definition import Outcome
from flows.process.inboxes import TicketInbox
from pages.browser import FULL_CHROMIUM, HEADLESS_SHELL
from robots.retry import RetryTiming, zendesk_call
from robots.zendesk import ZendeskClient

#: The issue's targets, each met at or below it.
FLOOR_RATIO_TARGET = 1.2
CPU_PER_FLOW_TARGET = 2.0  # CPU seconds of the worker's process tree per flow, flows one after another
CONCURRENCY_RATIO_TARGET = 2.0
MB_PER_FLOW_TARGET = 100.0

#: The browsers measured: key, as the table names it, binary. The first one measured is the one the
#: verdicts are about: the headless shell, which the product launches by default.
BROWSERS: dict[str, tuple[str, Path]] = {
    "shell": ("headless shell", HEADLESS_SHELL),
    "full": ("full chromium", FULL_CHROMIUM),
}
#: Threads of this process that are the bench's, not the worker's: left out of the Python profile.
BENCH_THREADS = ("MainThread", "bench-memory")

#: Consoles the happy path works on (logged in before the timed runs).
HAPPY_PATH_CONSOLES = ("planificate", "qvantel", "ar", "contrato")
#: Toolkit attributes holding browser robots, whose public methods are the robot steps counted.
BROWSER_ROBOTS = ("planificate", "qvantel", "ar", "bccs", "contrato", "syshelp", "impuestos", "conversation")
#: User-Agent of the bench's own Zendesk calls (starting flows, the ticket inbox's polling): not the flow's.
BENCH_AGENT = "rpa-bench"

#: Fast customer: answers in 50 ms; timeouts long, since the scripted customer never stays silent.
BENCH_TIMINGS = ProcessTimings(
    customer_reply_seconds=120,
    token_reply_seconds=120,
    analyst_reply_seconds=120,
    analyst_poll_seconds=0.5,
    agent_review_seconds=120,
    watch_interval_seconds=0.2,
)
BENCH_RETRY = RetryTiming(attempts=3, max_seconds=30, first_wait_seconds=0.05, max_wait_seconds=0.5)

_HOLDERS = (
    "María Fernanda Rojas Quiroga",
    "Juan Carlos Mamani Choque",
    "Ana Lucía Gutiérrez Vargas",
    "Luis Alberto Quispe Flores",
    "Carla Andrea Pérez Soliz",
    "Jorge Eduardo Torrez Limachi",
    "Patricia Elena Condori Ríos",
    "Roberto Daniel Salazar Ortiz",
    "Silvia Marcela Choque Aliaga",
    "Fernando José Aguilar Rocha",
)


# ---------------------------------------------------------------------------------------------
# The scenario: one happy customer per ticket
# ---------------------------------------------------------------------------------------------
def line_of(ticket_id: int) -> str:
    return f"7{ticket_id % 10_000_000:07d}"


def bench_scenario(ticket_ids: list[int], latency_ms: int) -> dict[str, Any]:
    """A world of confirmed, eligible lines, each with a ticket whose customer says yes to everything."""
    lines, customers, tickets = [], [], []
    for n, ticket_id in enumerate(ticket_ids):
        holder, ci, line = _HOLDERS[n % len(_HOLDERS)], str(6_000_000 + ticket_id), line_of(ticket_id)
        lines.append(
            {
                "number": line,
                "holder_name": holder,
                "holder_ci": ci,
                "state": "AC",
                "sim": "USIM LTE",
                "confirmed": True,
                "recommended_plans": ["Mega Plan 69", "Mega Plan 99"],
            }
        )
        customers.append({"ci": ci, "name": holder})
        tickets.append(
            {
                "id": ticket_id,
                "requester_name": holder.split()[0],
                "requester_phone": "+591" + line,
                "fields": {
                    "holder_name": holder,
                    "holder_ci": ci,
                    "line": line,
                    "city": "La Paz",
                    "billing_name": holder,
                },
                "conversation": [{"author": "customer", "body": "Hola, quiero un plan pospago."}],
                # The customer waits for the token's SMS up to a minute: under load AR may send it seconds
                # after the macro announcing it.
                "customer": {
                    "delay_seconds": 0.05,
                    "reviewer": "approve",
                    "sms_wait_seconds": 60,
                    "replies": {
                        "primer_contacto": {
                            "text": f"Hola, soy {holder}, CI {ci}, de La Paz. Quiero migrar la línea {line}."
                        },
                        "oferta": {"text": "Quiero el Mega Plan 69", "documents": True},
                        "tyc": {"text": "ACEPTO"},
                        "sms_ar": {"token": "on_time"},
                        "segundo_token": {"token": "on_time"},
                    },
                },
            }
        )
    return {
        "name": "bench",
        "description": "make bench: happy customers on confirmed lines",
        "lines": lines,
        "customers": customers,
        "tickets": tickets,
        "latency_ms": latency_ms,
    }


# ---------------------------------------------------------------------------------------------
# Instruments: time in recv per flow, Playwright round trips per robot step
# ---------------------------------------------------------------------------------------------
@dataclass
class StepTally:
    """One robot step: its time and the browser round trips it made."""

    step: str
    flow_id: str | None
    seconds: float = 0.0
    round_trips: int = 0
    answer_seconds: float = 0.0
    one_way: int = 0  # messages nobody waits for (the trace's call stacks)
    started: float = 0.0  # time.monotonic(), the clock the mocks' request log uses too
    methods: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    method_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def answered(self, method: str, seconds: float) -> None:
        self.answer_seconds += seconds
        self.method_seconds[method] += seconds


_current_step: contextvars.ContextVar[StepTally | None] = contextvars.ContextVar("bench_step", default=None)


class Probe:
    """Wraps, for the bench only, ``DBOS.recv``, Playwright's message sending and the robots' public methods.

    Robot calls reach the browser's loop with ``run_coroutine_threadsafe``, which runs the coroutine in a
    copy of the caller's context: the step set in the flow's thread is the one Playwright's calls see.
    """

    def __init__(self) -> None:
        self.recv_seconds: dict[str, float] = defaultdict(float)
        self.steps: list[StepTally] = []
        self._lock = threading.Lock()
        self._undo: list[Callable[[], None]] = []

    def install(self, toolkit: Any) -> None:
        self._wrap_recv()
        self._wrap_driver_messages()
        for name in BROWSER_ROBOTS:
            self._wrap_robot(name, getattr(toolkit, name))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def reset(self) -> None:
        with self._lock:
            self.recv_seconds.clear()
            self.steps.clear()

    def steps_of(self, flow_ids: list[str]) -> list[StepTally]:
        with self._lock:
            return [s for s in self.steps if s.flow_id in flow_ids]

    # -- the wrappers ---------------------------------------------------------------------------
    def _wrap_recv(self) -> None:
        original = DBOS.__dict__["recv"]
        recv = DBOS.recv
        probe = self

        def timed_recv(cls: type, *args: Any, **kwargs: Any) -> Any:
            flow_id = DBOS.workflow_id or "-"
            started = time.perf_counter()
            try:
                return recv(*args, **kwargs)
            finally:
                with probe._lock:
                    probe.recv_seconds[flow_id] += time.perf_counter() - started

        DBOS.recv = classmethod(timed_recv)  # type: ignore[method-assign, assignment]
        self._undo.append(lambda: setattr(DBOS, "recv", original))

        # The migration flow is an async workflow: its waits are ``recv_async``.
        original_async = DBOS.__dict__["recv_async"]
        recv_async = DBOS.recv_async

        async def timed_recv_async(cls: type, *args: Any, **kwargs: Any) -> Any:
            flow_id = DBOS.workflow_id or "-"
            started = time.perf_counter()
            try:
                return await recv_async(*args, **kwargs)
            finally:
                with probe._lock:
                    probe.recv_seconds[flow_id] += time.perf_counter() - started

        DBOS.recv_async = classmethod(timed_recv_async)  # type: ignore[method-assign, assignment]
        self._undo.append(lambda: setattr(DBOS, "recv_async", original_async))

    def _wrap_driver_messages(self) -> None:
        from playwright._impl.connection import Connection

        original = Connection.send_message_to_server

        def counted(connection: Any, owner: Any, method: str, params: Any, options: Any) -> Any:
            tally = _current_step.get()
            started = time.perf_counter()
            answer = original(connection, owner, method, params, options)
            if tally is None:
                return answer
            name = f"{owner._type}.{method}"
            tally.methods[name] += 1
            if method == "__waitInfo__" or method.endswith("NoReply"):
                tally.one_way += 1  # sent and forgotten: the caller does not wait for it
            else:
                tally.round_trips += 1
                answer.add_done_callback(lambda _: tally.answered(name, time.perf_counter() - started))
            return answer

        Connection.send_message_to_server = counted  # type: ignore[method-assign,assignment]
        self._undo.append(lambda: setattr(Connection, "send_message_to_server", original))

    def _wrap_robot(self, name: str, robot: Any) -> None:
        for attr, _member in inspect.getmembers(type(robot), inspect.isfunction):
            if attr.startswith("_"):
                continue
            setattr(robot, attr, self._step(f"{name}.{attr}", getattr(robot, attr)))
            self._undo.append(functools.partial(delattr, robot, attr))

    def _step(self, step: str, method: Callable[..., Any]) -> Callable[..., Any]:
        probe = self

        @functools.wraps(method)
        def step_method(*args: Any, **kwargs: Any) -> Any:
            if _current_step.get() is not None:  # a step calling another counts as one
                return method(*args, **kwargs)
            tally = StepTally(step=step, flow_id=DBOS.workflow_id, started=time.monotonic())
            token = _current_step.set(tally)
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                tally.seconds = time.perf_counter() - started
                _current_step.reset(token)
                with probe._lock:
                    probe.steps.append(tally)

        return step_method


# ---------------------------------------------------------------------------------------------
# Memory and CPU of the process tree, from /proc
# ---------------------------------------------------------------------------------------------
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024
KINDS = ("python", "driver", "chromium")


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after "(comm)" (comm may hold spaces and parentheses): state, ppid, ..."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def _descendants(root: int, parents: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for pid, parent in parents.items():
        children[parent].append(pid)
    found, pending = {root}, [root]
    while pending:
        for child in children[pending.pop()]:
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    """Proportional set size: each shared page divided among the processes mapping it (costly to read)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    """The process's CPU seconds and those of its children it has reaped: a renderer or a browser that
    exits inside a window keeps counting, through its parent, after it is gone from ``/proc``."""
    try:
        fields = _stat_fields(pid)
        return sum(int(fields[k]) for k in (11, 12, 13, 14)) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def _kind(pid: int, root: int) -> str:
    if pid == root:
        return "python"
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return "chromium"
    return "chromium" if "chrom" in exe else "driver"


@dataclass
class WindowStats:
    """Peaks and CPU of the worker's process tree while a block ran."""

    rss_mb: float = 0.0  # sum of resident sets: pages shared by Chromium's processes count once each
    anon_mb: float = 0.0  # sum of anonymous + shared-memory resident pages (no shared binaries)
    pss_mb: float = 0.0  # sum of proportional sets: shared pages split among their processes
    processes: int = 0
    mocks_rss_mb: float = 0.0
    seconds: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # by kind, for processes alive at the end
    machine_busy: float = 0.0  # share of all cores busy (every process of the machine)


class TreeMonitor:
    """Samples the worker's process tree: RSS and anonymous memory every ``interval`` s, PSS every
    ``pss_every`` samples (reading it costs a few ms per Chromium process), all on a thread.

    The tree is this process and its descendants, without the subtree of ``outside`` (the mocks).
    """

    def __init__(self, outside: int | None = None, interval: float = 0.1, pss_every: int = 20) -> None:
        self.root = os.getpid()
        self.outside = outside
        self.interval = interval
        self.pss_every = pss_every
        self.samples = 0
        self._peak = WindowStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def start(self) -> TreeMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def tree(self) -> tuple[set[int], set[int]]:
        parents = _parents()
        mocks = _descendants(self.outside, parents) if self.outside else set()
        return _descendants(self.root, parents) - mocks, mocks

    def sample(self, *, pss: bool) -> WindowStats:
        worker, mocks = self.tree()
        return WindowStats(
            rss_mb=sum(map(_rss, worker)) / MB,
            anon_mb=sum(map(_anon, worker)) / MB,
            pss_mb=sum(map(_pss, worker)) / MB if pss else 0.0,
            processes=len(worker),
            mocks_rss_mb=sum(map(_rss, mocks)) / MB,
        )

    def cpu(self) -> dict[str, float]:
        worker, mocks = self.tree()
        spent = dict.fromkeys((*KINDS, "mocks"), 0.0)
        for pid in worker:
            spent[_kind(pid, self.root)] += _cpu_seconds(pid)
        spent["mocks"] = sum(map(_cpu_seconds, mocks))
        return spent

    @contextmanager
    def window(self) -> Iterator[WindowStats]:
        """Peaks, CPU seconds and the machine's load while the block runs (filled in when it ends)."""
        with self._lock:
            self._peak = self.sample(pss=True)
        cpu_before, busy_before, started = self.cpu(), _machine_busy(), time.perf_counter()
        result = WindowStats()
        yield result
        cpu_after, busy_after = self.cpu(), _machine_busy()
        last = self.sample(pss=True)
        with self._lock:
            _raise_peaks(self._peak, last)
            for name in ("rss_mb", "anon_mb", "pss_mb", "processes", "mocks_rss_mb"):
                setattr(result, name, getattr(self._peak, name))
        result.seconds = time.perf_counter() - started
        result.cpu_seconds = {k: round(cpu_after[k] - cpu_before.get(k, 0.0), 2) for k in cpu_after}
        result.machine_busy = (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples += 1
            now = self.sample(pss=self.samples % self.pss_every == 0)
            with self._lock:
                _raise_peaks(self._peak, now)


def _raise_peaks(peak: WindowStats, now: WindowStats) -> None:
    for name in ("rss_mb", "anon_mb", "pss_mb", "processes", "mocks_rss_mb"):
        setattr(peak, name, max(getattr(peak, name), getattr(now, name)))


def _anon(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            return sum(int(line.split()[1]) * 1024 for line in status if line.startswith(("RssAnon:", "RssShmem:")))
    except (OSError, IndexError, ValueError):
        return 0


# ---------------------------------------------------------------------------------------------
# A worker in this process, as the tests run it
# ---------------------------------------------------------------------------------------------
def bench_settings(
    mocks: MockPortals, work_dir: Path, *, trace: bool | None = None, browser: Path | None = None
) -> Settings:
    """The worker's settings against these mocks; ``browser`` pins the Chromium binary the robots launch."""
    base = Settings(
        retry=BENCH_RETRY,
        process=BENCH_TIMINGS,
        run_dir=work_dir / "runs",
        evidence_dir=work_dir / "evidence",
        executor_id="bench",
    )
    if trace is not None:
        base = base.model_copy(update={"trace_failed_steps": trace})
    if browser is not None:
        base = base.model_copy(update={"browser": base.browser.model_copy(update={"executable_path": browser})})
    return mocks.settings(base)


def marked_zendesk(settings: Settings) -> ZendeskClient:
    """A Zendesk client whose requests the mocks' log shows as the bench's, not the flow's."""
    client = ZendeskClient(settings.zendesk, zendesk_call(settings.retry))
    client._http.headers["User-Agent"] = BENCH_AGENT
    return client


def ticket_inbox(running: RunningWorker) -> TicketInbox:
    """The deployment's ``TicketInbox``: its polling method is one of the worker's inboxes."""
    for inbox, _, _ in running.worker.inboxes:
        owner = getattr(inbox, "__self__", None)
        if isinstance(owner, TicketInbox):
            return owner
    raise LookupError("the worker polls no TicketInbox")


class BenchWorker:
    """``rpa worker`` in this process (the harness's ``RunningWorker``), with the probe installed and the
    ticket inbox reading Zendesk through the bench's marked client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.running = RunningWorker(settings)
        self.toolkit: Toolkit = self.running.worker.toolkit
        self.client = self.running.client
        self.store = self.running.store
        self.zendesk = marked_zendesk(settings)
        self.probe = Probe()
        try:
            # The inbox is already polling, but with no flow yet it has read no ticket with the flows' client.
            ticket_inbox(self.running).zendesk = self.zendesk
            self.probe.install(self.toolkit)
        except BaseException:
            self.probe.uninstall()
            self.running.close()
            self.zendesk.close()
            raise

    def warm(self, consoles: tuple[str, ...] = HAPPY_PATH_CONSOLES) -> None:
        """Fresh logged-in sessions on these consoles (after a world reset the old ones are dead)."""

        async def look(console: Any) -> None:
            await console.open("/")

        for name in consoles:
            session = getattr(self.toolkit, name).session
            self.toolkit.host.run(session.close())
            self.toolkit.host.run(session.use(look))

    def run_flows(self, ticket_ids: list[int], timeout: float = 240) -> list[str]:
        flow_ids = [self.running.start_flow(t, self.zendesk) for t in ticket_ids]
        deadline = time.monotonic() + timeout
        for flow_id in flow_ids:
            try:
                status = self.running.wait_until_done(flow_id, timeout=max(deadline - time.monotonic(), 0.2))
            except TimeoutError:
                pending = [f for f in flow_ids if self.running.status(f) not in FINAL_STATUSES]
                raise TimeoutError(f"flows still running after {timeout} s: {self._diagnosis(pending)}") from None
            run = self.store.flow(flow_id)
            if status != "SUCCESS" or run is None or run.outcome != Outcome.MIGRATED.value:
                raise RuntimeError(f"flow {flow_id} did not migrate the line: {status}, {run}")
        return flow_ids

    def _diagnosis(self, flow_ids: list[str]) -> str:
        """Where stuck flows are, and what the simulated customer did on their tickets."""
        world = httpx.get(self.settings.mocks_control_url + "/_control/world", timeout=30).json()
        parts = []
        for flow_id in flow_ids:
            run = self.store.flow(flow_id)
            ticket = run.ticket_id if run else None
            customer = [r for r in world["records"].get("customer", []) if r.get("ticket") == ticket]
            parts.append(
                f"{flow_id}: {run}; steps {[s.step_key for s in self.store.steps(flow_id)]}; customer {customer}"
            )
        return "\n".join(parts)

    def flow_times(self, flow_id: str) -> dict[str, float]:
        """Wall time inside the flow, time waiting in recv, active time, and the recorded steps' time."""
        run = self.store.flow(flow_id)
        assert run is not None
        wall = (run.updated_at - run.started_at).total_seconds()
        waiting = self.probe.recv_seconds.get(flow_id, 0.0)
        steps = self.store.steps(flow_id)
        robot = sum(s.seconds for s in self.probe.steps_of([flow_id]))
        return {
            "wall_s": wall,
            "waiting_s": waiting,
            "active_s": wall - waiting,
            "recorded_steps_s": sum(s.seconds or 0 for s in steps),
            "recorded_steps": len(steps),
            "robot_steps_s": robot,
        }

    def close(self) -> None:
        try:
            self.running.close()
        finally:
            self.probe.uninstall()
            self.zendesk.close()


# ---------------------------------------------------------------------------------------------
# The floor: the flow's portal requests again, without a browser
# ---------------------------------------------------------------------------------------------
def flow_requests(mocks: MockPortals) -> list[dict[str, Any]]:
    answer = httpx.get(mocks.urls["control"] + "/_control/request_log", timeout=30)
    answer.raise_for_status()
    return [r for r in answer.json()["requests"] if r["user_agent"] != BENCH_AGENT]


def replay(requests: list[dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """Send the requests one after another with httpx; consoles are logged in first, untimed."""
    clients: dict[str, httpx.Client] = {}
    try:
        for portal in sorted({r["portal"] for r in requests}):
            if portal == "zendesk":
                clients[portal] = httpx.Client(
                    base_url=settings.zendesk.base_url,
                    timeout=30,
                    auth=httpx.BasicAuth(
                        f"{settings.zendesk.email}/token", settings.zendesk.api_token.get_secret_value()
                    ),
                )
                continue
            access = settings.portal(portal)
            clients[portal] = httpx.Client(base_url=access.base_url, timeout=30)
            clients[portal].post(
                "/login", data={"usuario": access.user, "next": "/", "clave": access.password.get_secret_value()}
            )
        by_portal: dict[str, float] = defaultdict(float)
        started = time.perf_counter()
        for request in requests:
            headers = {"Content-Type": request["content_type"]} if request["content_type"] else {}
            sent = time.perf_counter()
            clients[request["portal"]].request(
                request["method"], request["path"], headers=headers, content=base64.b64decode(request["body"])
            )
            by_portal[request["portal"]] += time.perf_counter() - sent
        total = time.perf_counter() - started
    finally:
        for client in clients.values():
            client.close()
    counts: dict[str, int] = defaultdict(int)
    for request in requests:
        counts[request["portal"]] += 1
    return {
        "floor_s": total,
        "requests": len(requests),
        "requests_by_portal": dict(counts),
        "seconds_by_portal": dict(by_portal),
    }


# ---------------------------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------------------------
@dataclass
class BenchConfig:
    latency_ms: int = 300
    flows: int = 8
    repeats: int = 3  # single flows timed one after another; the fastest counts
    trace: bool | None = None  # None: the settings' default (traces of failed steps on)
    first_ticket: int = 5001
    browsers: tuple[str, ...] = tuple(BROWSERS)  # keys of BROWSERS; the first one gets the verdicts
    profile: bool = True  # sample the worker's Python stacks during the single flows of the first browser


@dataclass
class BenchResult:
    config: dict[str, Any]
    floor: dict[str, Any] = field(default_factory=dict)
    concurrency: dict[str, Any] = field(default_factory=dict)
    round_trips: dict[str, Any] = field(default_factory=dict)
    # floor, concurrency and round_trips above are those of ``verdict_browser``; here every browser's
    browsers: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdict_browser: str = "shell"
    python_profile: dict[str, Any] = field(default_factory=dict)
    reply_time: dict[str, Any] = field(default_factory=dict)  # flows.devtools.bench_peer
    peer: dict[str, Any] = field(default_factory=dict)  # flows.devtools.bench_peer
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    seconds: float = 0.0


def reset_world(mocks: MockPortals, ticket_ids: list[int], latency_ms: int) -> None:
    mocks.reset(bench_scenario(ticket_ids, latency_ms))


def _is_trace(method: str) -> bool:
    return method.startswith(("Tracing.", "LocalUtils.trac")) and not method.endswith("NoReply")


def measure_round_trips(mocks: MockPortals, bench: BenchWorker, monitor: TreeMonitor, ticket_id: int) -> dict[str, Any]:
    """One happy-path flow at zero latency: Playwright round trips per robot step, and their cost."""
    reset_world(mocks, [ticket_id], 0)
    bench.warm()
    bench.probe.reset()
    with monitor.window() as window:
        [flow_id] = bench.run_flows([ticket_id])
    steps = bench.probe.steps_of([flow_id])
    trips = sum(s.round_trips for s in steps)
    seconds = sum(s.seconds for s in steps)
    return {
        "flow_id": flow_id,
        "robot_steps": len(steps),
        "round_trips": trips,
        "one_way_messages": sum(s.one_way for s in steps),
        # Awaited only because failed steps keep a trace: each console step restarts the trace's chunk.
        "trace_round_trips": sum(n for s in steps for m, n in s.methods.items() if _is_trace(m)),
        "trace_ms": 1000 * sum(t for s in steps for m, t in s.method_seconds.items() if _is_trace(m)),
        "round_trips_per_step": trips / len(steps) if steps else 0.0,
        "ms_per_round_trip": 1000 * seconds / trips if trips else 0.0,
        "driver_answer_ms": 1000 * sum(s.answer_seconds for s in steps) / trips if trips else 0.0,
        "robot_seconds": seconds,
        "steps": [
            {
                "step": s.step,
                "round_trips": s.round_trips,
                "one_way": s.one_way,
                "ms": round(1000 * s.seconds, 1),
                "ms_per_round_trip": round(1000 * s.seconds / s.round_trips, 1) if s.round_trips else None,
                "methods": dict(sorted(s.methods.items(), key=lambda kv: -kv[1])),
                "method_ms": {
                    k: round(1000 * v, 1) for k, v in sorted(s.method_seconds.items(), key=lambda kv: -kv[1])
                },
            }
            for s in steps
        ],
        "flow": bench.flow_times(flow_id),
        "window": asdict(window),
    }


def _logged_flow(mocks: MockPortals, bench: BenchWorker, ticket_id: int) -> tuple[str, list[dict[str, Any]]]:
    """One flow with the mocks logging its requests."""
    control = mocks.urls["control"] + "/_control/request_log"
    httpx.post(control, timeout=10).raise_for_status()
    [flow_id] = bench.run_flows([ticket_id])
    requests = flow_requests(mocks)
    httpx.delete(control, timeout=10).raise_for_status()
    return flow_id, requests


def _against_floor(bench: BenchWorker, flow_id: str, requests: list[dict[str, Any]], latency_ms: int) -> dict[str, Any]:
    """A flow's times beside its floor: its requests replayed now."""
    times = bench.flow_times(flow_id)
    floor = replay(requests, bench.settings)
    steps = []
    for step in bench.probe.steps_of([flow_id]):
        inside = [
            r
            for r in requests
            if r["portal"] != "zendesk" and step.started <= r["started"] <= step.started + step.seconds
        ]
        steps.append(
            {
                "step": step.step,
                "seconds": round(step.seconds, 3),
                "console_requests": len(inside),
                "beyond_latency_s": round(step.seconds - len(inside) * latency_ms / 1000, 3),
                "requests": [f"{r['method']} {r['path'].split('?')[0]}" for r in inside],
            }
        )
    console_floor = sum(s for p, s in floor["seconds_by_portal"].items() if p != "zendesk")
    return {
        "flow_id": flow_id,
        "latency_ms": latency_ms,
        **times,
        **floor,
        "console_floor_s": console_floor,
        "ratio": times["active_s"] / floor["floor_s"],
        "robot_vs_console_floor": times["robot_steps_s"] / console_floor if console_floor else None,
        "browser_requests": sum(1 for r in requests if r["portal"] != "zendesk"),
        "robot_steps": steps,
        "request_paths": [f"{r['portal']} {r['method']} {r['path'].split('?')[0]} {r['status']}" for r in requests],
    }


def _cpu_per_flow(window: WindowStats, flows: int) -> float:
    return sum(window.cpu_seconds.get(kind, 0.0) for kind in KINDS) / flows


def _others_busy(window: WindowStats) -> float:
    """Share of the machine's cores that processes outside the bench kept busy during the window."""
    ours = sum(window.cpu_seconds.values()) / max(window.seconds * (os.cpu_count() or 1), 1e-9)
    return max(window.machine_busy - ours, 0.0)


def measure_flow_and_concurrency(
    mocks: MockPortals,
    bench: BenchWorker,
    monitor: TreeMonitor,
    latency_ms: int,
    flows: int,
    first_ticket: int,
    repeats: int = 3,
    profiler: SamplingProfiler | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """At ``latency_ms``: one flow against its floor (``repeats`` times, one after another; the fastest run
    counts, since other work on the machine only ever adds time), then ``flows`` flows at once. A
    ``profiler`` samples the worker's stacks during the single flows."""
    singles = list(range(first_ticket, first_ticket + repeats))
    many = list(range(first_ticket + repeats, first_ticket + repeats + flows))
    profiled = first_ticket + repeats + flows
    reset_world(mocks, [*singles, *many, profiled], latency_ms)
    bench.warm()
    bench.probe.reset()

    with monitor.window() as one_window:
        logged = [_logged_flow(mocks, bench, ticket_id) for ticket_id in singles]
    runs = [_against_floor(bench, flow_id, requests, latency_ms) for flow_id, requests in logged]
    best = min(runs, key=lambda run: run["active_s"])
    floor_result = {
        **best,
        "runs": [
            {k: run[k] for k in ("flow_id", "active_s", "floor_s", "ratio", "robot_steps_s", "waiting_s")}
            for run in runs
        ],
    }

    with monitor.window() as many_window:
        started = time.perf_counter()
        flow_ids = bench.run_flows(many)
        makespan = time.perf_counter() - started
    if profiler is not None:
        # One more single flow, sampled apart from the timed ones: the sampler's CPU and its shorter switch
        # interval never land in the figures with targets.
        with profiler:
            bench.run_flows([profiled])
    actives = [bench.flow_times(f)["active_s"] for f in flow_ids]
    one_active = best["active_s"]
    concurrency = {
        "flows": flows,
        "latency_ms": latency_ms,
        "one_active_s": one_active,
        "one_runs_active_s": [run["active_s"] for run in runs],
        "many_active_s": actives,
        "many_active_max_s": max(actives),
        "many_active_mean_s": statistics.mean(actives),
        "ratio": max(actives) / one_active,
        "mean_ratio": statistics.mean(actives) / one_active,
        "makespan_s": makespan,
        "one": asdict(one_window),
        "many": asdict(many_window),
        "one_cpu_per_flow_s": _cpu_per_flow(one_window, repeats),
        "many_cpu_per_flow_s": _cpu_per_flow(many_window, flows),
        "others_busy_one": _others_busy(one_window),
        "others_busy_many": _others_busy(many_window),
        "mb_per_extra_flow": (many_window.pss_mb - one_window.pss_mb) / max(flows - 1, 1),
        "rss_mb_per_extra_flow": (many_window.rss_mb - one_window.rss_mb) / max(flows - 1, 1),
        "anon_mb_per_extra_flow": (many_window.anon_mb - one_window.anon_mb) / max(flows - 1, 1),
        "monitor_samples": monitor.samples,
        "pages_per_console": {name: len(getattr(bench.toolkit, name).session._idle) for name in HAPPY_PATH_CONSOLES},
    }
    return floor_result, concurrency


def measure_browser(
    mocks: MockPortals,
    monitor: TreeMonitor,
    work_dir: Path,
    config: BenchConfig,
    browser: str,
    *,
    profile: bool,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """The three measurements with the robots driving one browser, in a worker of its own (its own DBOS
    database, so that the same tickets and flow ids serve every browser)."""
    label, executable = BROWSERS[browser]
    progress(f"{label} ({executable}): a worker")
    # A second worker in one process registers its DBOS classes after the first launch: DBOS warns that
    # recovery could miss them, which does not apply to a bench whose flows all end before it moves on.
    logging.getLogger("dbos").setLevel(logging.ERROR)
    # The previous browser's tickets go first: a new worker's intake would take them for tickets waiting
    # for a flow, and the world is reset under them a moment later.
    reset_world(mocks, [config.first_ticket], 0)
    bench = BenchWorker(bench_settings(mocks, work_dir, trace=config.trace, browser=executable))
    profiler = SamplingProfiler(ignore=BENCH_THREADS) if profile else None
    try:
        progress(f"{label}, zero latency: one flow, counting browser round trips per robot step")
        round_trips = measure_round_trips(mocks, bench, monitor, config.first_ticket)
        progress(
            f"{label}, {config.latency_ms} ms: {config.repeats} flows one after another, their floor"
            + (" (Python stacks sampled)" if profile else "")
            + f", then {config.flows} flows at once"
        )
        floor, concurrency = measure_flow_and_concurrency(
            mocks, bench, monitor, config.latency_ms, config.flows, config.first_ticket + 1, config.repeats, profiler
        )
        from flows.devtools.bench_peer import measure_reply_times

        reply_time = measure_reply_times(mocks.urls["control"], bench, floor, config.latency_ms)
    finally:
        bench.close()
    figures: dict[str, Any] = {
        "browser": label,
        "executable": str(executable),
        "floor": floor,
        "concurrency": concurrency,
        "round_trips": round_trips,
        "reply_time": reply_time,
    }
    if profiler is not None:
        figures["python_profile"] = {**profiler.result(), "flows": 1, "latency_ms": config.latency_ms}
    return figures


def run_bench(config: BenchConfig, progress: Callable[[str], None] = lambda _: None) -> BenchResult:
    """Start the mocks (a child process), then for each browser a worker in this process, and take the three
    measurements; the first browser's are the ones with verdicts."""
    unknown = set(config.browsers) - set(BROWSERS)
    if not config.browsers or unknown:
        raise ValueError(f"browsers to measure: some of {list(BROWSERS)}, not {list(config.browsers)}")
    result = BenchResult(config=asdict(config), verdict_browser=config.browsers[0])
    started = time.perf_counter()
    work_dir = Path(tempfile.mkdtemp(prefix="rpa-bench-"))
    progress(f"starting the mock portals (latency {config.latency_ms} ms)")
    mocks = MockPortals(latency_ms=config.latency_ms)
    monitor = TreeMonitor(outside=mocks.process.pid).start()
    try:
        for browser in config.browsers:
            result.browsers[browser] = measure_browser(
                mocks,
                monitor,
                work_dir / browser,
                config,
                browser,
                profile=config.profile and browser == result.verdict_browser,
                progress=progress,
            )
        from flows.devtools.bench_peer import measure_peer

        progress(f"{config.latency_ms} ms: a naive peer, a browser and a login for each robot step")
        peer_ticket = config.first_ticket + 1 + config.repeats + config.flows
        result.peer = measure_peer(mocks.urls, peer_ticket, config.latency_ms, BROWSERS[result.verdict_browser][1])
    finally:
        monitor.stop()
        mocks.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
    verdicts = result.browsers[result.verdict_browser]
    result.floor, result.concurrency, result.round_trips = (
        verdicts["floor"],
        verdicts["concurrency"],
        verdicts["round_trips"],
    )
    result.python_profile = verdicts.pop("python_profile", {})
    result.reply_time = verdicts.pop("reply_time", {})
    result.seconds = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------
def rows(result: BenchResult) -> list[dict[str, Any]]:
    """The table's rows: measure, value, target, verdict (None where the issue sets no target).

    Each measure of the flow section once per browser, the one with verdicts first, the others beside it
    without; then where the worker's Python time went."""
    lat = result.config["latency_ms"]
    browsers = result.browsers or {
        result.verdict_browser: {
            "floor": result.floor,
            "concurrency": result.concurrency,
            "round_trips": result.round_trips,
        }
    }
    per_browser = [
        flow_rows(figures, lat, verdicts=name == result.verdict_browser, browser=BROWSERS[name][0])
        for name, figures in sorted(browsers.items(), key=lambda kv: kv[0] != result.verdict_browser)
    ]
    table = [row for same_measure in zip(*per_browser, strict=True) for row in same_measure]
    if result.python_profile:
        table.append(profile_row(result.python_profile, BROWSERS[result.verdict_browser][0]))
    from flows.devtools.bench_peer import peer_rows

    return table + peer_rows(result.reply_time, result.peer, result.floor, result.concurrency)


def flow_rows(figures: dict[str, Any], lat: int, *, verdicts: bool, browser: str) -> list[dict[str, Any]]:
    """The flow section's rows for one browser; ``verdicts`` False prints no target nor verdict."""
    f, c, r = figures["floor"], figures["concurrency"], figures["round_trips"]
    n, cores = c["flows"], os.cpu_count() or 1
    one_cpu, many_cpu, repeats = c["one_cpu_per_flow_s"], c["many_cpu_per_flow_s"], len(c["one_runs_active_s"])
    cpu_split = ", ".join(f"{kind} {c['one']['cpu_seconds'].get(kind, 0) / repeats:.1f}" for kind in KINDS)
    # Eight flows cannot finish before their CPU work is done on this machine's cores.
    cpu_bound = n * many_cpu / cores / c["one_active_s"]
    table = [
        {
            "measure": f"Happy-path flow / its floor, {lat} ms",
            "value": f"{f['ratio']:.2f}x",
            "detail": f"active {f['active_s']:.1f} s (wall {f['wall_s']:.1f} s - waits {f['waiting_s']:.1f} s) / "
            f"floor {f['floor_s']:.1f} s ({f['requests']} requests, {f['browser_requests']} to consoles); "
            f"best of {len(f['runs'])}: " + ", ".join(f"{run['ratio']:.2f}x" for run in f["runs"]),
            "target": f"<= {FLOOR_RATIO_TARGET}x",
            "pass": f["ratio"] <= FLOOR_RATIO_TARGET,
        },
        {
            "measure": "  robot steps / console part of the floor",
            "value": f"{f['robot_vs_console_floor']:.2f}x" if f["robot_vs_console_floor"] else "-",
            "detail": f"robots {f['robot_steps_s']:.1f} s / consoles {f['console_floor_s']:.1f} s",
            "target": "",
            "pass": None,
        },
        {
            "measure": f"Worker CPU per flow, {lat} ms",
            "value": f"{one_cpu:.1f} s",
            "detail": f"single flows, worker tree: {cpu_split} s; {n} at once: {many_cpu:.1f} s each",
            "target": f"<= {CPU_PER_FLOW_TARGET} s",
            "pass": one_cpu <= CPU_PER_FLOW_TARGET,
        },
        {
            "measure": f"{n} flows at once / one flow, {lat} ms",
            "value": f"{c['ratio']:.2f}x",
            "detail": f"slowest {c['many_active_max_s']:.1f} s, mean {c['many_active_mean_s']:.1f} s / one "
            f"{c['one_active_s']:.1f} s; their CPU alone needs {cpu_bound:.1f}x on {cores} cores",
            "target": f"<= {CONCURRENCY_RATIO_TARGET}x",
            "pass": c["ratio"] <= CONCURRENCY_RATIO_TARGET,
        },
        {
            "measure": "Peak memory per extra concurrent flow",
            "value": f"{c['mb_per_extra_flow']:.0f} MB",
            "detail": f"PSS of the worker tree {c['one']['pss_mb']:.0f} -> {c['many']['pss_mb']:.0f} MB "
            f"({c['one']['processes']} -> {c['many']['processes']} processes); summed RSS "
            f"{c['rss_mb_per_extra_flow']:.0f} MB per flow",
            "target": f"<= {MB_PER_FLOW_TARGET:.0f} MB",
            "pass": c["mb_per_extra_flow"] <= MB_PER_FLOW_TARGET,
        },
        {
            "measure": "Browser round trips per robot step, 0 ms",
            "value": f"{r['round_trips_per_step']:.1f}",
            "detail": f"{r['round_trips']} in {r['robot_steps']} steps, {r['trace_round_trips']} of them restarting the "
            f"trace ({r['trace_ms']:.0f} ms); +{r['one_way_messages']} one-way messages",
            "target": "",
            "pass": None,
        },
        {
            "measure": "Milliseconds per round trip, 0 ms",
            "value": f"{r['ms_per_round_trip']:.0f} ms",
            "detail": f"robot step time / round trips; the driver answers in {r['driver_answer_ms']:.0f} ms on average",
            "target": "",
            "pass": None,
        },
    ]
    for row in table:
        row["measure"] += f" ({browser})"
        if not verdicts:
            row["target"], row["pass"] = "", None
    return table


def profile_row(profile: dict[str, Any], browser: str) -> dict[str, Any]:
    """Where the worker's Python time went in the profiled flow: its threads' CPU, and the packages on top."""
    packages = sorted(profile["packages"].items(), key=lambda kv: -kv[1]["samples"])
    top = ", ".join(f"{name} {p['share']:.0%}" for name, p in packages[:3] if p["samples"])
    return {
        "measure": f"Python CPU per flow, {profile['latency_ms']} ms ({browser})",
        "value": f"{profile['threads_cpu_s'] / max(profile['flows'], 1):.2f} s",
        "detail": f"worker threads; on top: {top or '-'} (pages/robots/flows {profile['ours_share']:.0%}) of "
        f"{profile['busy_samples']} busy samples every {profile['interval_ms']:.0f} ms",
        "target": "",
        "pass": None,
    }


def machine_note(result: BenchResult) -> str:
    c = result.concurrency
    return (
        f"{os.cpu_count()} cores; processes outside the bench kept {c['others_busy_one']:.0%} of them busy "
        f"during the single flows and {c['others_busy_many']:.0%} during the {c['flows']} at once"
    )


def print_table(result: BenchResult, console: Console) -> None:
    table = Table(title=f"make bench ({result.seconds:.0f} s)", show_lines=False)
    for column, justify in (
        ("Measure", "left"),
        ("Value", "right"),
        ("Target", "right"),
        ("", "center"),
        ("How", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows(result):
        verdict = "" if row["pass"] is None else ("[green]PASS[/green]" if row["pass"] else "[red]MISS[/red]")
        table.add_row(row["measure"], row["value"], row["target"], verdict, row["detail"])
    table.caption = machine_note(result)
    console.print(table)


def write_json(result: BenchResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**asdict(result), "table": rows(result), "machine": machine_note(result)}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.devtools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=int, default=300, help="console latency for the timed flows")
    parser.add_argument("--flows", type=int, default=8, help="flows run at once in the concurrency measure")
    parser.add_argument("--repeats", type=int, default=3, help="single flows timed against the floor")
    parser.add_argument("--no-trace", action="store_true", help="no Playwright traces (diagnosis only)")
    parser.add_argument(
        "--browser",
        choices=("shell", "full", "both"),
        default="both",
        help="flow section: Chromium's headless shell (the product's default), the full Chromium, or both",
    )
    parser.add_argument("--no-profile", action="store_true", help="flow section: no sampling of Python stacks")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default <run_dir>/bench.json)")
    parser.add_argument(
        "--section",
        choices=("flow", "panel", "scale", "all"),
        default="all",
        help="the flow's cost, a step from the agent panel, the volume, or all",
    )
    parser.add_argument("--tickets", type=int, default=1000, help="scale: silent customers waiting at once")
    parser.add_argument("--kill-flows", type=int, default=300, help="scale: flows on two workers, one killed")
    parser.add_argument("--quiet-seconds", type=float, default=60, help="scale: how long the waiting calls are counted")
    args = parser.parse_args(argv)

    console = Console() if sys.stdout.isatty() else Console(width=150)
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    out = args.out or Settings().run_dir / "bench.json"
    say = lambda text: console.print(f"[dim]bench:[/dim] {text}")  # noqa: E731
    if args.section in ("flow", "all"):
        config = BenchConfig(
            latency_ms=args.latency_ms,
            flows=args.flows,
            repeats=args.repeats,
            trace=False if args.no_trace else None,
            browsers=tuple(BROWSERS) if args.browser == "both" else (args.browser,),
            profile=not args.no_profile,
        )
        result = run_bench(config, progress=say)
        print_table(result, console)
        console.print(f"written to {write_json(result, out)}")
    if args.section in ("panel", "all"):
        from flows.devtools.bench_panel import measure_panel_step, panel_rows

        say(f"a robot step from the agent panel against the console's own time, {args.latency_ms} ms")
        panel_figures = measure_panel_step(args.latency_ms)
        table = Table(title="make bench, agent panel")
        for column in ("Measure", "Value", "Target", "", "How"):
            table.add_column(column)
        for row in panel_rows(panel_figures):
            verdict = "[green]PASS[/green]" if row["pass"] else "[red]MISS[/red]"
            table.add_row(row["measure"], row["value"], row["target"], verdict, row["detail"])
        console.print(table)
        panel_out = out.with_name(out.stem + "-panel.json")
        panel_out.parent.mkdir(parents=True, exist_ok=True)
        panel_out.write_text(json.dumps({**panel_figures, "table": panel_rows(panel_figures)}, indent=2))
        console.print(f"written to {panel_out}")
    if args.section in ("scale", "all"):
        from flows.devtools.bench_scale import run_scale, scale_rows

        figures = run_scale(args.tickets, args.kill_flows, args.quiet_seconds, progress=say)
        table = Table(title=f"make bench, scale ({figures['seconds']:.0f} s)")
        for column in ("Measure", "Value", "Target", "", "How"):
            table.add_column(column)
        for row in scale_rows(figures):
            verdict = "" if row["pass"] is None else ("[green]PASS[/green]" if row["pass"] else "[red]MISS[/red]")
            table.add_row(row["measure"], row["value"], row["target"], verdict, row["detail"])
        console.print(table)
        scale_out = out.with_name(out.stem + "-scale.json")
        scale_out.parent.mkdir(parents=True, exist_ok=True)
        scale_out.write_text(json.dumps({**figures, "table": scale_rows(figures)}, indent=2, default=str))
        console.print(f"written to {scale_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
