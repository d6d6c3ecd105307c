"""Where the worker's Python time goes while a flow runs: a sampling profiler for ``make bench``.

The bench says how many CPU seconds a flow costs; this says which code spends them. A flow runs on several
threads of the worker at once: DBOS's event loop runs the flow's steps, the browser host's loop runs
Playwright's client, the inboxes poll on a thread of their own, ``asyncio.to_thread`` borrows pool threads.
``cProfile`` (like any ``sys.setprofile`` hook) sees only the thread it was enabled in, and enabling it in
each of them would slow every Python call several times over and with it the timings it sits beside. So
a thread of its own looks at every thread's stack (``sys._current_frames()``) every few milliseconds,
without touching the threads it watches; what costs little (a look at the top frame of each thread, two
clock reads) is done for all of them, and the stack is walked only for a thread that is working.

A thread is *waiting* rather than working when its top frame is a known wait (a selector's ``select``, the
``wait`` of a lock or condition, a queue's ``get``, a future's ``result``) or when its CPU clock
(``pthread_getcpuclockid``) hardly moved since the last look: that also catches waits that leave no frame
of their own, ``time.sleep``, a socket read, the GIL. Waiting samples are counted apart; the shares are
of the working ones. The same clocks give each thread's CPU seconds, which need no sampling at all.

To look, the sampler needs the GIL, which a thread running Python gives up only when it blocks or when the
interpreter's switch interval is up: at its default 5 ms, a callback of an event loop shorter than that
would only ever be seen from the ``select`` it ends in. The switch interval is therefore 0.5 ms while the
profiler runs (the threads it watches change hands a little more often; the sampler itself takes a few
percent of one core, which the bench takes out of the worker's CPU).

Functions are named ``file:line:function``, the file relative to the project or to ``site-packages`` (or
to the standard library), the line the one the function starts on. *Self* samples count the function at
the top of the stack, *inclusive* ones every function on it (once per sample, however deep it recurses).
"""

from __future__ import annotations

import sys
import sysconfig
import threading
import time
from collections import Counter
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
#: Our own packages, then the libraries the issue asks about; everything else is "other".
OUR_PACKAGES = ("pages", "robots", "flows")
PACKAGES = (*OUR_PACKAGES, "playwright", "dbos", "sqlalchemy", "pydantic", "httpx", "loguru", "asyncio", "other")
#: Modules counted under the library that brings them in.
_PACKAGE_OF = {"pydantic_core": "pydantic", "httpcore": "httpx"}

#: Top frames of a thread that waits: (file, function), the file relative as in the functions' names.
#: ``None`` as a function means any function of that file. An event loop waits in its selector's
#: ``select`` (called from ``BaseEventLoop._run_once``); ``_run_once`` itself on top is the loop working.
_WAITS: frozenset[tuple[str, str | None]] = frozenset(
    {
        ("selectors.py", None),
        ("threading.py", "Condition.wait"),
        ("threading.py", "Event.wait"),
        ("threading.py", "Semaphore.acquire"),
        ("threading.py", "Thread._wait_for_tstate_lock"),
        ("threading.py", "Thread.join"),
        ("queue.py", "Queue.get"),
        ("concurrent/futures/thread.py", "_worker"),
        ("concurrent/futures/_base.py", "Future.result"),
        ("concurrent/futures/_base.py", "_AcquireFutures.__enter__"),
        ("httpcore/_backends/sync.py", "SyncStream.read"),  # an HTTP answer on its way
    }
)
#: A thread whose CPU clock moved less than this share of the time between two looks was not working.
BUSY_SHARE = 0.1
#: The interpreter's switch interval while sampling, in seconds (5 ms otherwise). The sampler needs the GIL
#: to look; a thread running Python hands it over only when it blocks or when the switch interval is up.
#: At 5 ms an event loop's callbacks, shorter than that, would always be seen from the ``select`` they
#: end in, never while they run.
SWITCH_INTERVAL = 0.0005
TOP = 25


def relative_file(filename: str) -> str:
    """The file of a function relative to the project, to ``site-packages`` or to the standard library."""
    if "/site-packages/" in filename:
        return filename.rsplit("/site-packages/", 1)[1]
    path = Path(filename)
    for root in (PROJECT_ROOT, STDLIB):
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return filename


def package_of(file: str) -> str:
    """The package a function belongs to, from its relative file."""
    first = file.split("/", 1)[0].removesuffix(".py")
    first = _PACKAGE_OF.get(first, first)
    return first if first in PACKAGES else "other"


class SamplingProfiler:
    """Samples every thread's stack every ``interval`` seconds on a thread of its own.

    ``ignore`` names threads that are not the worker's (the bench's own: its main thread driving the flows,
    its memory sampler); the profiler's own thread is never counted.
    """

    def __init__(self, interval: float = 0.005, ignore: tuple[str, ...] = ()) -> None:
        self.interval = interval
        self.ignore = set(ignore)
        self.ticks = 0
        self.waiting = 0
        self.busy = 0
        self.seconds = 0.0
        self.sampler_cpu_s = 0.0
        self.threads_cpu_ns = 0
        self.self_samples: Counter[str] = Counter()
        self.inclusive_samples: Counter[str] = Counter()
        self.packages: Counter[str] = Counter()
        self.threads: Counter[str] = Counter()
        self.threads_cpu: Counter[str] = Counter()  # CPU nanoseconds per thread name, from its own clock
        self._labels: dict[CodeType, tuple[str, str, str]] = {}  # code -> (name, file, qualified function)
        self._names: dict[int, str] = {}
        self._clocks: dict[int, int] = {}  # thread ident -> its CPU clock id
        self._cpu: dict[int, int] = {}  # thread ident -> its CPU nanoseconds at the last look
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-profiler", daemon=True)

    def __enter__(self) -> SamplingProfiler:
        self._started = time.perf_counter()
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        sys.setswitchinterval(self._switch_interval)
        self.seconds = time.perf_counter() - self._started

    # -- sampling ------------------------------------------------------------------------------
    def _run(self) -> None:
        own = threading.get_ident()
        started_cpu = time.thread_time()
        last = time.perf_counter_ns()
        while not self._stop.wait(self.interval):
            now = time.perf_counter_ns()
            self.sample(sys._current_frames(), own, now - last)
            last = now
        self.sampler_cpu_s = time.thread_time() - started_cpu

    def sample(self, frames: dict[int, FrameType], own: int, elapsed_ns: int) -> None:
        """One look at every thread but ``own``: waiting, or working where its stack says."""
        self.ticks += 1
        if any(ident not in self._names for ident in frames):
            self._names = {thread.ident: thread.name for thread in threading.enumerate() if thread.ident}
        for ident, frame in frames.items():
            name = self._names.get(ident, str(ident))
            if ident == own or name in self.ignore:
                continue
            used = self._cpu_used(ident)
            if used:
                self.threads_cpu[name] += used
            if (used is not None and used < BUSY_SHARE * elapsed_ns) or self._is_wait(frame.f_code):
                self.waiting += 1
                continue
            self.busy += 1
            self.threads[name] += 1
            label, file, _ = self._label(frame.f_code)
            self.self_samples[label] += 1
            self.packages[package_of(file)] += 1
            on_stack: set[str] = set()
            caller: FrameType | None = frame
            while caller is not None:
                on_stack.add(self._label(caller.f_code)[0])
                caller = caller.f_back
            self.inclusive_samples.update(on_stack)

    def _cpu_used(self, ident: int) -> int | None:
        """CPU nanoseconds the thread spent since the last look (None the first time, or if unreadable)."""
        try:
            clock = self._clocks.get(ident)
            if clock is None:
                clock = self._clocks[ident] = time.pthread_getcpuclockid(ident)
            now = time.clock_gettime_ns(clock)
        except (OSError, OverflowError):
            return None  # the thread has just ended
        before = self._cpu.get(ident)
        self._cpu[ident] = now
        if before is None:
            return None
        self.threads_cpu_ns += now - before
        return now - before

    def _label(self, code: CodeType) -> tuple[str, str, str]:
        label = self._labels.get(code)
        if label is None:
            file = relative_file(code.co_filename)
            label = self._labels[code] = (f"{file}:{code.co_firstlineno}:{code.co_qualname}", file, code.co_qualname)
        return label

    def _is_wait(self, code: CodeType) -> bool:
        _, file, function = self._label(code)
        return (file, None) in _WAITS or (file, function) in _WAITS

    # -- the figures ---------------------------------------------------------------------------
    def result(self, top: int = TOP) -> dict[str, Any]:
        """The profile as the bench's JSON keeps it."""
        busy = max(self.busy, 1)

        def ranked(counts: Counter[str]) -> list[dict[str, Any]]:
            return [
                {"function": function, "samples": n, "share": round(n / busy, 4)}
                for function, n in counts.most_common(top)
            ]

        packages = {package: self.packages.get(package, 0) for package in PACKAGES}
        return {
            "interval_ms": self.interval * 1000,
            "seconds": round(self.seconds, 2),
            "ticks": self.ticks,
            "samples": self.busy + self.waiting,
            "busy_samples": self.busy,
            "waiting_samples": self.waiting,
            # CPU of the threads looked at (the worker's), from their own clocks: what the samples share out.
            "threads_cpu_s": round(self.threads_cpu_ns / 1e9, 3),
            "sampler_cpu_s": round(self.sampler_cpu_s, 3),
            "packages": {
                package: {"samples": n, "share": round(n / busy, 4)}
                for package, n in sorted(packages.items(), key=lambda kv: -kv[1])
            },
            "ours_share": round(sum(packages[p] for p in OUR_PACKAGES) / busy, 4),
            "threads": {
                name: {"busy_samples": self.threads.get(name, 0), "cpu_s": round(ns / 1e9, 3)}
                for name, ns in self.threads_cpu.most_common()
            },
            "self": ranked(self.self_samples),
            "inclusive": ranked(self.inclusive_samples),
        }
