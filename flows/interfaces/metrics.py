"""``GET /metrics`` of ``rpa serve``: the whole deployment in Prometheus' text format, from the shared databases.

Prometheus scrapes one process, so what it reads must not depend on which one. Gauges of the deployment
(flows by state and activity, waits by kind and age, hand-offs waiting for an agent) are counted here at
scrape time from the run store's ``rpa_flow_runs``; the processes' own counters (robot steps, retries,
Zendesk calls, evidence notes) are read from ``rpa_counters``, where each process adds what it counted
(``flows.engine.metrics``), labelled with its ``executor_id``. Nothing is kept in this process between
scrapes, so two ``rpa serve`` behind one address answer the same.

The endpoint is open by default (Prometheus scrapes it on the internal network); with
``RPA_METRICS_REQUIRE_KEY`` it asks for ``RPA_API_KEY`` as a bearer token.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from flows.engine import metrics
from flows.engine.run_store import RunState, RunStore, flow_runs
from flows.engine.settings import Settings
from flows.process.definition import WaitKind
from robots.evidence import utc_now

METRICS_PATH = "/metrics"

#: Age buckets of a wait (since the flow last changed, which is when it began to wait): label and upper bound.
WAIT_AGES = (("lt_1h", 3600.0), ("1h_to_1d", 86400.0), ("1d_to_3d", 259200.0), ("3d_to_7d", 604800.0))
OLDEST_WAIT_AGE = "gt_7d"

#: The counters the processes write: their help and their labels besides ``executor_id``.
COUNTERS = {
    metrics.STEP_FAILURES: ("Robot steps that failed (the machinery, not a business answer)", ("console", "step")),
    metrics.RETRIES: ("Retries made by the retry policies", ("policy",)),
    metrics.ZENDESK_REQUESTS: ("Zendesk API requests sent", ("method",)),
    metrics.ZENDESK_RATE_LIMITED: ("Zendesk API requests answered 429", ()),
    metrics.EVIDENCE_NOTES: ("Evidence notes posted to tickets", ()),
}


def wait_age(seconds: float) -> str:
    for label, bound in WAIT_AGES:
        if seconds < bound:
            return label
    return OLDEST_WAIT_AGE


class DeploymentCollector(Collector):
    """Reads the shared databases at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        yield from self._flows()
        yield from self._counters()

    def _flows(self) -> Iterator[Metric]:
        flows = GaugeMetricFamily("rpa_flows", "Flows by state and activity", labels=["state", "activity"])
        waits = GaugeMetricFamily(
            "rpa_waits", "Waiting flows by what they wait for and since when", labels=["kind", "age"]
        )
        handoffs = GaugeMetricFamily("rpa_handoffs_waiting", "Flows waiting for an agent to answer a hand-off")
        now = utc_now()
        by_wait: dict[tuple[str, str], int] = defaultdict(int)
        handed_off = 0
        with self.engine.connect() as db:
            counted = db.execute(
                select(flow_runs.c.state, flow_runs.c.activity, func.count()).group_by(
                    flow_runs.c.state, flow_runs.c.activity
                )
            )
            for state, activity, count in counted:
                flows.add_metric([state, activity or ""], count)
            waiting = db.execute(
                select(flow_runs.c.waiting_kind, flow_runs.c.updated_at).where(
                    flow_runs.c.state == RunState.WAITING.value
                )
            )
            for kind, since in waiting:
                since = since if since.tzinfo else since.replace(tzinfo=UTC)
                by_wait[(kind or "", wait_age((now - since).total_seconds()))] += 1
                handed_off += kind == WaitKind.AGENT.value
        for kind in WaitKind:
            # Every kind and age is always there, so a graph of a kind nobody waits for reads 0, not a gap.
            for age in [label for label, _ in WAIT_AGES] + [OLDEST_WAIT_AGE]:
                by_wait.setdefault((kind.value, age), 0)
        for (kind, age), count in sorted(by_wait.items()):
            waits.add_metric([kind, age], count)
        handoffs.add_metric([], handed_off)
        yield from (flows, waits, handoffs)

    def _counters(self) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily] = {
            name: CounterMetricFamily(name, help_text, labels=["executor_id", *labels])
            for name, (help_text, labels) in COUNTERS.items()
        }
        # (executor, console, step) -> buckets, sum
        steps: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
        sums: dict[tuple[str, str, str], float] = defaultdict(float)
        for executor, name, labels, value in metrics.stored_counters(self.engine):
            if name in families:
                names = COUNTERS[name][1]
                families[name].add_metric([executor, *(labels.get(n, "") for n in names)], value)
            elif name.startswith(metrics.STEP_DURATION):
                key = (executor, labels.get("console", ""), labels.get("step", ""))
                if name == f"{metrics.STEP_DURATION}_bucket":
                    steps[key][labels.get("le", "+Inf")] = value
                elif name == f"{metrics.STEP_DURATION}_sum":
                    sums[key] = value
        duration = HistogramMetricFamily(
            metrics.STEP_DURATION,
            "How long robot steps took on each console, retries included",
            labels=["executor_id", "console", "step"],
        )
        for key, buckets in sorted(steps.items()):
            ordered = sorted(buckets.items(), key=lambda bucket: float(bucket[0]))
            duration.add_metric(list(key), ordered, sums[key])
        yield duration
        yield from families.values()


class MetricsPage:
    """The ``/metrics`` route; its database engine is made on the first scrape and closed with the server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._registry: CollectorRegistry | None = None
        self._store: RunStore | None = None
        self._lock = threading.Lock()

    def _render(self) -> bytes:
        with self._lock:
            if self._registry is None:
                # The run store makes its tables when missing: a deployment scraped before any flow ran reads 0s.
                self._store = RunStore(self.settings.store_url())
                self._registry = CollectorRegistry(auto_describe=False)
                self._registry.register(DeploymentCollector(self._store.engine))
            registry = self._registry
        return generate_latest(registry)

    def refused(self, request: Request) -> JSONResponse | None:
        if not self.settings.metrics_require_key:
            return None
        key = self.settings.api_key
        if key is None or not key.get_secret_value():
            return JSONResponse({"error": "RPA_METRICS_REQUIRE_KEY is set but RPA_API_KEY is not"}, status_code=503)
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), key.get_secret_value().encode()):
            return JSONResponse({"error": "bearer token required"}, status_code=401)
        return None

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get(METRICS_PATH)
        async def scrape(request: Request) -> Response:
            refusal = self.refused(request)
            if refusal is not None:
                return refusal
            # Database reads: off the event loop, where they would hold up the webhook.
            body = await asyncio.to_thread(self._render)
            return Response(body, media_type=CONTENT_TYPE_LATEST)

        return router

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
