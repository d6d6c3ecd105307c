"""The run report: one HTML page per flow that a person would rather read than the logs.

``<run_dir>/reports/<flow_id>.html`` shows the process drawn as a graph with the path the run took
highlighted, every recorded step with its duration, attempts and outcome, the evidence thumbnails with
their sha256 and the internal note they went to, and, for a failed step, the console's last screenshot
and the Playwright trace (copied next to the report, with the command that opens it). The page is one
self-contained file: images are inline, the graph is inline SVG, nothing is fetched.
``<run_dir>/reports/index.html`` lists every run in the store and is rewritten with each report.

The run store is the source; DBOS's record of the same flow adds what the store does not keep (which
macro a step applied, how long the flow waited for the customer). Without it the report is still whole.
The files it shows may have been kept by another worker: each is read through the file store
(:mod:`flows.engine.files`), which fetches it into this machine's folders first, so a report built by
any worker or by ``rpa report`` anywhere has every thumbnail. Reports themselves are not put in the file
store: they are rebuilt from the run store and the file store wherever they are asked for.

This module gathers what a page shows and renders it; the drawing of the graph is
:mod:`flows.reporting.graph_layout`, the words are :mod:`flows.reporting.labels`, and the files around
the page (thumbnails, checksums, copied captures) are :mod:`flows.reporting.assets`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from loguru import logger

from flows.engine.files import FlowFiles
from flows.engine.run_store import FlowRun, RunStore, StepRecord
from flows.engine.settings import Settings
from flows.process.definition import EDGES, Activity
from flows.reporting import assets, graph_layout, labels
from flows.reporting.graph_layout import ProcessGraph
from pages.errors import RecordNotFound

#: Bump when the page changes, so reports written by an older version count as stale.
REPORT_VERSION = "1"

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


# =============================================================================================
# Public API
# =============================================================================================
def reports_dir(settings: Settings) -> Path:
    return settings.run_dir / "reports"


def report_file(settings: Settings, flow_id: str) -> Path:
    return reports_dir(settings) / f"{_safe(flow_id)}.html"


def report_path(settings: Settings, ticket_id: int) -> Path:
    """The report of the ticket's latest flow, written first if it is missing or older than the run."""
    store = RunStore(settings.store_url())
    try:
        run = store.latest_flow(ticket_id)
        if run is None:
            raise RecordNotFound(
                f"no flow has run for ticket {ticket_id} (start one with: "
                f"rpa flow start migration --ticket {ticket_id})"
            )
        path = report_file(settings, run.flow_id)
        steps = store.steps(run.flow_id)
        if _written_key(path) != _key(run, steps):
            path = write_report(settings, run.flow_id, store=store)
        return path
    finally:
        store.dispose()


def index_path(settings: Settings) -> Path:
    """The index of every run in the store, rewritten now."""
    store = RunStore(settings.store_url())
    try:
        return write_index(settings, store)
    finally:
        store.dispose()


def write_report(settings: Settings, flow_id: str, *, store: RunStore | None = None) -> Path:
    """Write the flow's report and the index; returns the report's path."""
    own = store is None
    store = store or RunStore(settings.store_url())
    try:
        run = store.flow(flow_id)
        if run is None:
            raise RecordNotFound(f"no flow {flow_id!r} in the run store")
        steps = store.steps(flow_id)
        path = report_file(settings, flow_id)
        files = FlowFiles(settings, engine=store.engine)
        page = _render_report(settings, files, run, steps, path)
        assets.write_atomically(path, page)
        write_index(settings, store)
        return path
    finally:
        if own:
            store.dispose()


def write_quietly(settings: Settings, flow_id: str, store: RunStore | None = None) -> Path | None:
    """Write the report at the end of a run; a report that cannot be written never fails the flow."""
    try:
        path = write_report(settings, flow_id, store=store)
        logger.info("run report of {} written to {}", flow_id, path)
        return path
    except Exception:
        logger.exception("could not write the run report of {}", flow_id)
        return None


#: Runs listed in the index, newest first. It is rewritten at every flow's end, so it must not grow with
#: the store: a deployment ends hundreds of flows a day, and each would otherwise render all of them.
INDEX_RUNS = 500


def write_index(settings: Settings, store: RunStore) -> Path:
    folder = reports_dir(settings)
    rows: list[dict[str, Any]] = []
    for run in store.flows(limit=INDEX_RUNS):
        report = report_file(settings, run.flow_id)
        rows.append(
            {
                "run": run,
                "state": labels.state(run.state),
                "outcome": labels.outcome(run.outcome),
                "started": _when(run.started_at),
                "duration": _duration(_elapsed(run)),
                "href": report.name if report.exists() else None,
            }
        )
    counts: dict[str, int] = defaultdict(int)
    for state, count in store.state_counts().items():
        counts[labels.state(state)["label"]] += count
    page = _templates.get_template("index.html").render(
        rows=rows,
        counts=dict(counts),
        total=sum(counts.values()),
        generated=_when(_now()),
        folder=str(folder.resolve()),
    )
    path = folder / "index.html"
    assets.write_atomically(path, page)
    return path


def process_graph(path: list[str], final_mark: str | None = None, final_label: str = "") -> ProcessGraph:
    """The process drawn in layers, with the activities of ``path`` and the edges between them highlighted.

    ``path`` holds activities as the run store records them (their titles); one that the process no
    longer has is left out of the drawing.
    """
    by_title = {a.value: a.name for a in Activity}
    return graph_layout.highlight(_process_layout(), [by_title.get(a, a) for a in path], final_mark, final_label)


@functools.lru_cache(maxsize=1)
def _process_layout() -> graph_layout.Layout:
    """The process's graph laid out once: every report draws the same one."""
    return graph_layout.layout(
        [a.name for a in Activity],
        [(a.name, b.name, label) for a, b, label in EDGES],
        titles={a.name: a.value for a in Activity},
    )


# =============================================================================================
# The report
# =============================================================================================
def _render_report(settings: Settings, files: FlowFiles, run: FlowRun, steps: list[StepRecord], path: Path) -> str:
    captures = path.parent / path.stem
    engine_steps = _engine_steps(settings, run.flow_id)
    rows = _step_rows(steps, engine_steps, captures, path.parent, files)
    evidence = _evidence_cards(steps, path.parent, files)
    # The customer's documents may have been downloaded by another worker: fetched into this folder first.
    files.folder(settings.evidence_dir / f"ticket-{run.ticket_id}" / assets.CUSTOMER_FOLDER)
    customer_docs = assets.customer_documents(settings.evidence_dir, run.ticket_id)
    graph = process_graph(run.path, *labels.run_mark(run.state, run.outcome))
    failed = [r for r in rows if r["failed"]]
    ended = _finished(run)
    return _templates.get_template("report.html").render(
        key=_key(run, steps),
        run=run,
        state=labels.state(run.state),
        outcome=labels.outcome(run.outcome),
        started=_when(run.started_at),
        ended=_when(run.updated_at) if ended else None,
        duration=_duration(_elapsed(run)),
        graph=graph,
        rows=rows,
        failed=failed,
        evidence=evidence,
        customer_docs=customer_docs,
        notes=sorted({c["note_id"] for c in evidence if c["note_id"]}),
        retries=sum(max(s.attempts - 1, 0) for s in steps),
        step_count=len(steps),
        path_labels=run.path,
        generated=_when(_now()),
        index_href="index.html",
        personal_note=labels.PERSONAL_NOTE,
    )


def _step_rows(
    steps: list[StepRecord], engine_steps: dict[int, dict], captures: Path, base: Path, files: FlowFiles
) -> list[dict]:
    """The table's rows: recorded steps, the waits between them, runs of identical polls folded."""
    items: list[tuple[int, dict[str, Any]]] = []
    longest = max((s.seconds or 0 for s in steps), default=0) or 1
    by_seq = {s.seq: s for s in steps}
    for step in steps:
        info = engine_steps.get(step.seq, {})
        row = {
            "kind": "step",
            "seq": step.seq,
            "name": step.name,
            "title": labels.step_title(step.name),
            "detail": labels.step_detail(step.name, info.get("output")),
            "reruns": step.runs - 1,
            "activity": step.activity or "",
            "started": _when(step.started_at),
            "seconds": step.seconds,
            "duration": _duration(step.seconds),
            "bar": min(100, 100 * (step.seconds or 0) / longest),
            "attempts": step.attempts,
            "outcome": labels.step_outcome(step.outcome),
            "error": step.error,
            "failed": step.outcome == "failed",
            "evidence": len(step.evidence),
            "count": 1,
            "screenshot": None,
            "trace": None,
            "key": step.step_key,
        }
        if row["failed"]:
            row["screenshot"], row["trace"] = assets.failure_captures(
                _local(files, step.screenshot), _local(files, step.trace), captures, base
            )
        items.append((step.seq, row))
    for seq in sorted(engine_steps):
        info = engine_steps[seq]
        if info.get("function_name") != "DBOS.recv":
            continue
        before = max((s for s in by_seq if s < seq), default=None)
        if before is not None and labels.polled(by_seq[before].name):
            continue  # waiting between polls is the poll's own story: its folded row tells it
        items.append((seq, _wait_row(seq, info, by_seq.get(before) if before is not None else None)))
    items.sort(key=lambda item: item[0])
    rows = _fold_polls([row for _, row in items])
    for number, row in enumerate(rows, start=1):
        row["number"] = number
    # The activity cell spans the rows of one visit to an activity.
    # A failed step has a second row under it, with its screenshot and trace.
    span_start: dict[str, Any] | None = None
    for row in rows:
        height = 2 if row["failed"] else 1
        if span_start is not None and row["activity"] == span_start["activity"]:
            span_start["span"] += height
            row["span"] = 0
        else:
            row["span"] = height
            span_start = row
    return rows


def _wait_row(seq: int, info: dict, before: StepRecord | None) -> dict:
    started, ended = info.get("started_at_epoch_ms"), info.get("completed_at_epoch_ms")
    seconds = (ended - started) / 1000 if started and ended else None
    title, outcome = labels.wait(info.get("output"))
    return {
        "kind": "wait",
        "seq": seq,
        "name": "DBOS.recv",
        "title": title,
        "detail": None,
        "activity": before.activity if before and before.activity else "",
        "started": _when(datetime.fromtimestamp(started / 1000, UTC)) if started else "",
        "seconds": seconds,
        "duration": _duration(seconds),
        "bar": 0,
        "attempts": None,
        "outcome": outcome,
        "error": None,
        "failed": False,
        "evidence": 0,
        "count": 1,
        "screenshot": None,
        "trace": None,
        "key": f"wait-{seq}",
    }


def _fold_polls(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Identical quiet polls in a row (the analysts' inbox read every minute) become one row."""
    folded: list[dict] = []
    for row in rows:
        last = folded[-1] if folded else None
        if (
            last
            and row["kind"] == "step"
            and last["kind"] == "step"
            and row["name"] == last["name"]
            and labels.polled(row["name"])
            and row["outcome"] == last["outcome"]
            and not row["failed"]
        ):
            last["count"] += 1
            last["seconds"] = (last["seconds"] or 0) + (row["seconds"] or 0)
            last["duration"] = _duration(last["seconds"])
            last["attempts"] += row["attempts"]
            last["title"] = f"{labels.step_title(row['name'])} (×{last['count']})"
            continue
        folded.append(row)
    return folded


def _evidence_cards(steps: list[StepRecord], base: Path, files: FlowFiles) -> list[dict]:
    cards = []
    for step in steps:
        for item in step.evidence:
            file = files.local(item.file)
            exists = file.is_file()
            kind = assets.kind(file)
            cards.append(
                {
                    "name": file.name,
                    "href": assets.link(file, base) if exists and kind != "personal" else None,
                    "sha256": item.sha256,
                    "verified": assets.sha256(file) == item.sha256 if exists else None,
                    "portal": item.portal,
                    "description": item.description,
                    "note_id": item.note_id,
                    "public": item.public,
                    "step": labels.step_title(step.name),
                    "seq": step.seq,
                    "kind": kind,
                    "thumb": assets.thumbnail(file) if kind == "image" and exists else None,
                    "size": assets.size(file.stat().st_size) if exists else labels.MISSING_FILE,
                }
            )
    return cards


def _local(files: FlowFiles, path: str | None) -> str | None:
    """A failed step's capture on this machine (fetched from the file store when another worker kept it)."""
    return str(files.local(path)) if path else None


def _engine_steps(settings: Settings, flow_id: str) -> dict[int, dict]:
    """DBOS's record of the flow's steps (outputs, waits); empty when it cannot be read."""
    try:
        from dbos import DBOSClient

        client = DBOSClient(system_database_url=settings.system_database_url())
        try:
            return {int(s["function_id"]): dict(s) for s in client.list_workflow_steps(flow_id)}
        finally:
            client.destroy()
    except Exception as exc:
        logger.debug("report of {} without DBOS step details: {}", flow_id, exc)
        return {}


# =============================================================================================
# Staleness
# =============================================================================================
def _key(run: FlowRun, steps: list[StepRecord]) -> str:
    """A fingerprint of what the report shows: a report with another one is stale.

    The watcher may still touch a run just after it ended (its ``watch_after`` mark, hence ``updated_at``);
    that changes nothing the report shows about a finished run.
    """
    shown = run.model_dump(mode="json", exclude={"watch_after"} | ({"updated_at"} if _finished(run) else set()))
    data = json.dumps([REPORT_VERSION, shown, [s.model_dump(mode="json") for s in steps]], sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:32]


_KEY = re.compile(r'<meta name="rpa-report-key" content="([0-9a-f]+)"')


def _written_key(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8") as fh:
            head = fh.read(4096)  # the key is a <meta> near the top: no need to read the whole page
    except OSError:
        return None
    match = _KEY.search(head)
    return match.group(1) if match else None


# =============================================================================================
# Times and names
# =============================================================================================
def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes; the store writes UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _finished(run: FlowRun) -> bool:
    return labels.code(run.state) in ("ended", "failed")


def _elapsed(run: FlowRun) -> float:
    end = _aware(run.updated_at) if _finished(run) else _now()
    return max(0.0, (end - _aware(run.started_at)).total_seconds())


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = _aware(moment).astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''}".strip()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
