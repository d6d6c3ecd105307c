"""The run report of real flows: the graph with the path taken, the steps, the evidence, the index, a failure."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from flows.reporting import page as report
from pages.browser import Timeouts
from flows.process.definition import Activity
from tests.flows.conftest import wait_for
from pages.errors import RecordNotFound

from tests.flows.scenarios import scenario


def run_flow(load_scenario, start_worker, spec: dict, ticket_id: int = 2001, before_start=lambda: None,
             settings=None):
    load_scenario(spec)
    before_start()  # after the reset: loading a scenario clears the faults
    worker = start_worker(settings)
    flow_id = worker.start_flow(ticket_id)
    return worker, flow_id, worker.wait_until_done(flow_id)


def graph_of(html: str) -> dict[str, ET.Element]:
    """The report's process graph: every SVG element with an id, by id."""
    svg = re.search(r'<svg class="graph".*?</svg>', html, re.DOTALL)
    assert svg, "the report has no process graph"
    root = ET.fromstring(svg.group(0))
    return {el.get("id"): el for el in root.iter() if el.get("id")}


def classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def open_from_disk(browser_host, path: Path) -> tuple[int, list[str]]:
    """Open a report as a person would (file://): how many images fail to decode, and its evidence links."""

    async def look() -> tuple[int, list[str]]:
        context = await browser_host.new_context()
        try:
            page = await context.new_page()
            await page.goto(path.resolve().as_uri())
            broken = await page.evaluate("Array.from(document.images).filter(i => !i.naturalWidth).length")
            links = await page.eval_on_selector_all("#evidence a[href]", "els => els.map(e => e.href)")
            return broken, links
        finally:
            await context.close()

    return browser_host.run(look(), timeout=30)


def test_the_happy_path_report_shows_the_path_steps_and_evidence(load_scenario, start_worker, flow_settings,
                                                                 browser_host):
    worker, flow_id, status = run_flow(load_scenario, start_worker, scenario())
    assert status == "SUCCESS", worker.store.flow(flow_id)
    run, steps = worker.store.flow(flow_id), worker.store.steps(flow_id)

    # Written by the flow itself at its end, before anyone asked for it.
    path = report.report_file(flow_settings, flow_id)
    assert path.is_file()
    html = path.read_text(encoding="utf-8")
    assert 'data-state="ended"' in html and "Línea migrada a pospago" in html

    graph = graph_of(html)
    taken = [Activity.IDENTIFY, Activity.PREANALYSIS, Activity.OFFER, Activity.HOLDER, Activity.TERMS,
             Activity.MIGRATION, Activity.CONTRACT, Activity.SUCCESS, Activity.FAREWELL]
    assert run.path == [a.value for a in taken]
    for order, activity in enumerate(taken, start=1):
        node = graph[f"node-{activity.name}"]
        assert "on-path" in classes(node), activity
        assert str(order) in node.get("data-visits", "").split(",")
    for a, b in zip(taken, taken[1:]):
        assert "on-path" in classes(graph[f"edge-{a.name}-{b.name}"]), (a, b)
    assert {"final", "success"} <= classes(graph["node-FAREWELL"])
    # Branches this run did not take: every node and edge of the process is drawn, not highlighted.
    for activity in (Activity.CONFIRM_LINE, Activity.CONTRACT_ANALYSIS, Activity.NIT_CHECK, Activity.NO_ANSWER):
        assert "off-path" in classes(graph[f"node-{activity.name}"]), activity
    assert "off-path" in classes(graph["edge-HOLDER-CONFIRM_LINE"])
    assert "off-path" in classes(graph["edge-MIGRATION-CONTRACT_ANALYSIS"])
    assert len([k for k in graph if k.startswith("node-")]) == len(Activity)

    # Every recorded step has its row, in order, with its activity and outcome.
    rows = re.findall(r'<tr id="step-([^"]+)" class="step[^"]*" data-step="([^"]+)"', html)
    assert rows == [(s.step_key, s.name) for s in steps]
    assert "Preanálisis en Planifícate" in html and "Primer contacto" in html  # the macro a step applied
    assert "Espera: respuesta del cliente" in html                              # and the waits between steps

    # Evidence: the sha256 of each file as it is on disk, and the internal note it went to.
    evidence = [e for s in steps for e in s.evidence]
    assert len(evidence) >= 5
    for item in evidence:
        assert sha256(Path(item.file)) == item.sha256
        card = re.search(rf'<article class="ev" data-sha256="{item.sha256}" data-note="([0-9]*)">(.*?)</article>',
                         html, re.DOTALL)
        assert card, item.file
        if item.note_id:
            assert card.group(1) == str(item.note_id) and f"Nota interna #{item.note_id}" in card.group(2)
        else:
            assert "solo en disco" in card.group(2)
        assert "coincide con el archivo en disco" in card.group(2)
    assert any(e.note_id is None for e in evidence) and any(e.note_id for e in evidence)

    # The customer's CI photos and selfie: named with their sha256, never shown.
    documents = sorted((flow_settings.evidence_dir / "ticket-2001" / "cliente").iterdir())
    assert len(documents) == 3
    section = html.split('id="customer-documents"', 1)[1]
    for document in documents:
        assert document.name in section and sha256(document) in section
        assert f'href="../../evidence/ticket-2001/cliente/{document.name}"' not in html
    images = [e for e in evidence if e.file.endswith(".png")]
    assert html.count('<img src="data:image/jpeg;base64,') == len(images)

    # The index lists the run and links its report.
    index = (path.parent / "index.html").read_text(encoding="utf-8")
    assert f'id="run-{flow_id}" data-ticket="2001"' in index and f'href="{path.name}"' in index

    # `rpa report` finds it by ticket and does not rewrite a report that is up to date.
    written = path.stat().st_mtime_ns
    assert report.report_path(flow_settings, 2001) == path
    assert path.stat().st_mtime_ns == written
    path.unlink()
    assert report.report_path(flow_settings, 2001) == path and path.is_file()
    with pytest.raises(RecordNotFound):
        report.report_path(flow_settings, 9999)
    assert report.index_path(flow_settings) == path.parent / "index.html"

    # Opened from disk, it stands on its own: every thumbnail decodes, every local link resolves.
    broken, links = open_from_disk(browser_host, path)
    assert broken == 0
    assert links and all(Path(link.removeprefix("file://")).is_file() for link in links)


def test_a_failed_flow_report_shows_the_error_the_step_and_its_trace(load_scenario, start_worker, flow_settings,
                                                                      faults):
    # Qvantel logs in but its line sheet never renders: every attempt times out after the login, and
    # the retries are traced (a console failing at its login page leaves a screenshot, never a trace,
    # since the login form holds the password). The flow waits Qvantel out; when it must ask an agent,
    # Zendesk is down too: nobody can be asked, and the flow fails at that step.
    impatient = flow_settings.model_copy(update={"timeouts": Timeouts(action_ms=800, navigation_ms=5000)})
    load_scenario(scenario())
    faults("qvantel", late_render_ms=60_000)
    worker = start_worker(impatient)
    flow_id = worker.start_flow(2001)
    wait_for(lambda: (run := worker.store.flow(flow_id)) is not None and run.waiting_for == "consola: qvantel",
             timeout=90, what="the flow to wait for Qvantel")
    faults("zendesk", fail_next=100_000)
    assert worker.wait_until_done(flow_id) == "ERROR"
    run = worker.store.flow(flow_id)
    failed = [s for s in worker.store.steps(flow_id) if s.outcome == "failed"]
    assert run.state == "failed" and failed[-1].name == "hand_off"
    assert {s.name for s in failed} == {"line_status", "hand_off"}
    step = failed[0]

    path = report.report_file(flow_settings, flow_id)
    html = path.read_text(encoding="utf-8")
    assert 'data-state="failed"' in html
    error = re.search(r'<div class="alert bad" id="run-error">(.*?)</div>', html, re.DOTALL).group(1)
    assert "PortalUnavailable" in error and f"#step-{failed[-1].step_key}" in error
    assert re.search(rf'<tr id="step-{step.step_key}" class="step failed" data-step="line_status"', html)

    graph = graph_of(html)
    assert "on-path" in classes(graph["node-OFFER"])
    assert {"on-path", "failed"} <= classes(graph["node-PERSON"])
    assert "off-path" in classes(graph["node-HOLDER"])
    assert "on-path" in classes(graph["edge-PREANALYSIS-OFFER"])

    # The trace is copied next to the report, the link points at the copy, and it is a Playwright trace.
    detail = re.search(rf'<tr class="failure-detail" id="failure-{step.step_key}">(.*?)</tr>', html, re.DOTALL).group(1)
    trace = path.parent / flow_id / Path(step.trace).name
    assert trace.is_file() and f'href="{flow_id}/{trace.name}"' in detail
    assert f"playwright show-trace {trace.resolve()}" in detail
    with zipfile.ZipFile(trace) as archive:
        names = archive.namelist()
        assert any(n.endswith(".trace") for n in names), names
        assert archive.testzip() is None
    shot = path.parent / flow_id / Path(step.screenshot).name
    assert shot.is_file() and f'href="{flow_id}/{shot.name}"' in detail and "data:image/jpeg" in detail

    index = (path.parent / "index.html").read_text(encoding="utf-8")
    assert f'id="run-{flow_id}"' in index and "falló" in index


def test_the_index_lists_the_newest_runs_and_counts_them_all(flow_settings, monkeypatch):
    """The index is rewritten at every flow's end: it lists the newest runs only, and counts every run
    by state in the database, so its cost does not grow with the store."""
    from flows.engine.run_store import RunState, RunStore

    monkeypatch.setattr(report, "INDEX_RUNS", 2)
    store = RunStore(flow_settings.store_url())
    try:
        for ticket in (7001, 7002, 7003):
            store.flow_started(f"migration-{ticket}", ticket, "migration")
        store.update_flow("migration-7001", state=RunState.ENDED.value)
        path = report.write_index(flow_settings, store)
    finally:
        store.dispose()
    html = path.read_text(encoding="utf-8")
    listed = set(re.findall(r"migration-700\d", html))
    assert listed == {"migration-7002", "migration-7003"}, listed
    assert "3 flujos en el registro" in html and "los 2 más recientes" in html
    running, done = report.labels.state(RunState.RUNNING.value)["label"], report.labels.state(RunState.ENDED.value)["label"]
    assert f"{running}: 2" in html and f"{done}: 1" in html
