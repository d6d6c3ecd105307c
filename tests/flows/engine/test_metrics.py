"""Prometheus metrics: `rpa serve`'s /metrics shows the whole deployment, each process's counts once.

The deployment's gauges come from the run store at scrape time; the processes' counters from the rows each
process adds its counts to, labelled with its executor id. A worker runs a flow to its wait for the
customer, and the scrape of an `rpa serve` beside it shows the waiting flow, the robot steps and the
Zendesk calls of that worker.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from flows.devtools.harness import WebhookServer
from flows.engine.metrics import ProcessMetrics, stored_counters
from flows.engine.run_store import RunStore
from flows.engine.settings import Settings
from flows.interfaces.serve import create_app
from flows.process.definition import Activity
from tests.flows.conftest import mocks_env, wait_for
from tests.flows.scenarios import HAPPY_REPLIES, scenario

TICKET = 2001
FLOW = f"migration-{TICKET}"


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of the scrape by its name (``_total``, ``_bucket`` included), parsed as Prometheus does."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def total(found: dict, name: str, **labels: str) -> float:
    return sum(v for got, v in found.get(name, []) if all(got.get(k) == want for k, want in labels.items()))


def test_a_scrape_during_a_flow_shows_its_wait_and_the_workers_counts(load_scenario, start_worker, flow_settings):
    # The customer answers the first contact only: the flow runs its console steps and waits for her plan.
    load_scenario(scenario(replies={"primer_contacto": HAPPY_REPLIES["primer_contacto"]}))
    settings = flow_settings.model_copy(
        update={
            "metrics_flush_seconds": 0.2,
            "process": flow_settings.process.model_copy(update={"customer_reply_seconds": 600}),
        }
    )
    worker = start_worker(settings)
    server = WebhookServer(settings)
    try:
        worker.start_flow(TICKET)
        wait_for(
            lambda: (run := worker.store.flow(FLOW)) is not None
            and run.waiting_kind == "customer"
            and run.activity == Activity.OFFER.value,
            timeout=120,
            what="the flow to wait for the customer's plan",
        )

        def scraped() -> dict | None:
            answer = httpx.get(server.url + "/metrics", timeout=10)
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("text/plain")
            found = samples(answer.text)
            steps = total(found, "rpa_robot_step_duration_seconds_count", executor_id="test-worker")
            calls = total(found, "rpa_zendesk_requests_total", executor_id="test-worker")
            return found if steps > 0 and calls > 0 else None

        started = time.monotonic()
        found = wait_for(scraped, timeout=10, what="the worker's counts to reach the scrape")
        print(f"counts reached /metrics {time.monotonic() - started:.2f} s after the flow waited")
    finally:
        server.close()

    assert total(found, "rpa_flows", state="waiting", activity=Activity.OFFER.value) == 1
    assert total(found, "rpa_flows") == 1
    assert total(found, "rpa_waits", kind="customer", age="lt_1h") == 1
    assert total(found, "rpa_waits", kind="agent") == 0
    assert total(found, "rpa_handoffs_waiting") == 0
    consoles = {labels["console"] for labels, _ in found["rpa_robot_step_duration_seconds_count"]}
    assert {"planificate", "qvantel"} <= consoles
    assert total(found, "rpa_robot_step_duration_seconds_bucket", executor_id="test-worker", le="+Inf") == total(
        found, "rpa_robot_step_duration_seconds_count", executor_id="test-worker"
    )
    assert total(found, "rpa_robot_step_failures_total") == 0
    assert total(found, "rpa_evidence_notes_total", executor_id="test-worker") > 0


def test_counts_of_processes_with_one_executor_id_add_up_and_are_never_written_twice(tmp_path):
    settings = Settings(run_dir=tmp_path / "runs", evidence_dir=tmp_path / "evidence", executor_id="machine-1")
    worker, step = ProcessMetrics(settings), ProcessMetrics(settings)
    for _ in range(3):
        worker.zendesk_request("GET")
    step.zendesk_request("GET")
    worker.step_ran("ar", "migrate", 3.0, failed=True)
    worker.flush()
    worker.flush()  # nothing new: nothing added
    step.close()
    worker.retried("console_step")
    worker.close()
    rows = {(name, tuple(sorted(labels.items()))): value for _, name, labels, value in stored_counters(worker.engine)}
    assert rows[("rpa_zendesk_requests_total", (("method", "GET"),))] == 4
    assert rows[("rpa_robot_step_failures_total", (("console", "ar"), ("step", "migrate")))] == 1
    assert ("rpa_robot_step_duration_seconds_bucket", (("console", "ar"), ("le", "2.0"), ("step", "migrate"))) not in rows
    assert rows[("rpa_robot_step_duration_seconds_bucket", (("console", "ar"), ("le", "5.0"), ("step", "migrate")))] == 1
    assert rows[("rpa_robot_step_duration_seconds_sum", (("console", "ar"), ("step", "migrate")))] == 3.0
    assert rows[("rpa_retries_total", (("policy", "console_step"),))] == 1


def test_metrics_ask_for_the_api_key_only_when_told_to(tmp_path):
    base = Settings(run_dir=tmp_path / "runs", evidence_dir=tmp_path / "evidence", api_key=SecretStr("team-key"))
    secret = lambda: SecretStr("webhook-secret")  # noqa: E731
    with TestClient(create_app(base, handle=lambda event: None, secret=secret)) as open_app:
        assert open_app.get("/metrics").status_code == 200
    guarded = base.model_copy(update={"metrics_require_key": True})
    with TestClient(create_app(guarded, handle=lambda event: None, secret=secret)) as app:
        assert app.get("/metrics").status_code == 401
        assert app.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        answer = app.get("/metrics", headers={"Authorization": "Bearer team-key"})
        assert answer.status_code == 200
        assert "rpa_flows" in answer.text


def test_an_agents_step_writes_its_counts_before_its_process_ends(mocks, load_scenario, tmp_path):
    load_scenario(scenario())
    env = mocks_env(mocks, tmp_path / "runs", tmp_path / "evidence", EXECUTOR_ID="agent-pc")
    step = subprocess.run(
        [sys.executable, "-m", "flows.interfaces.cli", "step", "preanalysis", "--ticket", str(TICKET)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert step.returncode == 0, step.stderr
    settings = Settings(run_dir=tmp_path / "runs", evidence_dir=tmp_path / "evidence")
    store = RunStore(settings.store_url())
    try:
        rows = [(executor, name, labels) for executor, name, labels, _ in stored_counters(store.engine)]
    finally:
        store.dispose()
    assert ("agent-pc", "rpa_robot_step_duration_seconds_count", {"console": "planificate", "step": "preanalysis"}) in rows
    assert ("agent-pc", "rpa_evidence_notes_total", {}) in rows
