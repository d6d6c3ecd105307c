"""Fixtures for flows: settings pointed at the mock portals, a worker in this process (the development
harness's), fast timings, worker processes and a PostgreSQL of the tests' own."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flows.devtools.harness import RunningWorker
from flows.engine.settings import CONSOLES, ProcessTimings, Settings
from robots.retry import RetryTiming
from flows.devtools.postgres import PostgresServer

FAST_PROCESS = ProcessTimings(customer_reply_seconds=2.5, token_reply_seconds=2.5, analyst_reply_seconds=10,
                              analyst_poll_seconds=0.2, agent_review_seconds=5, watch_interval_seconds=0.1,
                              silence_horizon_seconds=2.5, handoff_wait_seconds=120, outage_first_pause_seconds=0.2,
                              outage_max_pause_seconds=1, outage_horizon_seconds=8)


@pytest.fixture
def flow_settings(mocks, tmp_path: Path) -> Settings:
    access = {name: {"base_url": mocks.urls[name]} for name in CONSOLES}
    return Settings(
        **access,
        zendesk={"base_url": mocks.urls["zendesk"]},
        mocks_control_url=mocks.urls["control"],
        retry=RetryTiming(attempts=3, max_seconds=10, first_wait_seconds=0.01, max_wait_seconds=0.05),
        process=FAST_PROCESS,
        run_dir=tmp_path / "runs",
        evidence_dir=tmp_path / "evidence",
        executor_id="test-worker",
    )


@pytest.fixture
def start_worker(flow_settings: Settings) -> Iterator[Callable[..., RunningWorker]]:
    workers: list[RunningWorker] = []

    def start(settings: Settings | None = None) -> RunningWorker:
        worker = RunningWorker(settings or flow_settings)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test session's own (its folder outside pytest's root-only temp tree,
    which the ``postgres`` user could not enter)."""
    root = Path(tempfile.mkdtemp(prefix="rpa-postgres-"))
    server = PostgresServer(root).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def mocks_env(mocks, run_dir: Path, evidence_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of an ``rpa`` process pointed at the mocks, with fast retries and extra settings."""
    env = {**os.environ, "RPA_RUN_DIR": str(run_dir), "RPA_EVIDENCE_DIR": str(evidence_dir),
           "RPA_RETRY__ATTEMPTS": "3", "RPA_RETRY__FIRST_WAIT_SECONDS": "0.01", "RPA_RETRY__MAX_WAIT_SECONDS": "0.05",
           **{f"RPA_{name.upper()}": value for name, value in settings.items()}}
    for name in (*CONSOLES, "zendesk"):
        env[f"RPA_{name.upper()}__BASE_URL"] = mocks.urls[name]
    return env


#: Timings of flows run by worker processes: long enough that a worker killed and started again does not
#: see its customer's wait run out meanwhile. Flows take their timings from whoever starts them.
WORKER_PROCESS = ProcessTimings(customer_reply_seconds=20, token_reply_seconds=20, agent_review_seconds=20,
                                analyst_reply_seconds=60, analyst_poll_seconds=0.2, watch_interval_seconds=0.1,
                                silence_horizon_seconds=20, handoff_wait_seconds=120, outage_first_pause_seconds=0.2,
                                outage_max_pause_seconds=1, outage_horizon_seconds=60)


@pytest.fixture
def worker_env(mocks, tmp_path: Path) -> dict[str, str]:
    timings = {f"PROCESS__{name.upper()}": str(value) for name, value in WORKER_PROCESS.model_dump().items()}
    return mocks_env(mocks, tmp_path / "runs", tmp_path / "evidence", EXECUTOR_ID="crash-test", LOG_LEVEL="WARNING",
                     **timings)


class WorkerProcess:
    """``rpa worker`` as its own process group, so a kill takes its Chromium down with it."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        # Its output goes to a file: a pipe nobody reads would stall a worker that logs a lot.
        self.output = cwd / f"worker-{env.get('RPA_EXECUTOR_ID', 'default')}-{time.monotonic_ns()}.log"
        with self.output.open("w") as sink:
            self.process = subprocess.Popen([sys.executable, "-m", "flows.interfaces.cli", "worker"], env=env, cwd=cwd,
                                            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the worker says it runs (DBOS launched, polling its queue)."""
        wait_for(lambda: "running; Ctrl-C stops it" in self.output.read_text(errors="replace"), timeout,
                 what=f"the worker to start ({self.output})")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(condition, timeout: float = 90, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"waited {timeout} s for {what}")


def flow_status(client, flow_id: str) -> str | None:
    """The flow's status in DBOS (PENDING, ENQUEUED, SUCCESS, ERROR, ...), None if it does not exist."""
    found = client.list_workflows(workflow_ids=[flow_id], load_input=False, load_output=False)
    return found[0].status if found else None


def flow_end(client, flow_id: str, timeout: float = 90, what: str = "the flow to end") -> str:
    """Wait until DBOS records the flow's end (SUCCESS or ERROR) and return it."""
    return wait_for(lambda: (status := flow_status(client, flow_id)) in ("SUCCESS", "ERROR") and status,
                    timeout, what=what)
