"""Many worker machines on one PostgreSQL: they share the flows, and a dead one's flows move to a live one."""

from __future__ import annotations

import copy
import hashlib
import shutil
import time
import subprocess
import sys
from pathlib import Path

import pytest

from flows.engine import durable as engine
from flows.interfaces import operations
from flows.engine.run_store import RunStore
from flows.engine.toolkit import Toolkit
from tests.flows.conftest import WorkerProcess, wait_for, WORKER_PROCESS
from tests.flows.scenarios import scenario


def several_tickets(count: int, **changes) -> dict:
    """``count`` customers, each with a line and a ticket of her own (tickets 3001, 3002, ...)."""
    base = scenario(**changes)
    world = {**base, "lines": [], "customers": [], "tickets": []}
    for n in range(count):
        line, ci = f"7{n + 1}00000{n}"[:8].ljust(8, "0"), f"90000{n}"
        spec = copy.deepcopy(base)
        spec["lines"][0].update(number=line, holder_ci=ci)
        spec["customers"][0].update(ci=ci)
        ticket = spec["tickets"][0]
        ticket.update(id=3001 + n, requester_phone="+591" + line)
        ticket["fields"].update(line=line, holder_ci=ci)
        world["lines"] += spec["lines"]
        world["customers"] += spec["customers"]
        world["tickets"].append(ticket)
    return world


@pytest.fixture
def pg_env(worker_env, postgres, request) -> dict[str, str]:
    url = postgres.create_database(f"rpa_{request.node.name[:40].lower()}")
    # Each machine keeps two flows at most: a queue shares flows between machines by what each may keep.
    return {**worker_env, "RPA_DATABASE_URL": url, "RPA_FLOWS_PER_WORKER": "2", "RPA_FLOWS_IN_MEMORY_PER_WORKER": "2"}


def statuses(client, flow_ids: list[str]) -> dict[str, str]:
    return {w.workflow_id: w.status for w in client.list_workflows(workflow_ids=flow_ids, load_input=False,
                                                                     load_output=False)}


def test_two_workers_share_the_flows_of_one_database(load_scenario, world_state, flow_settings, pg_env, tmp_path):
    load_scenario(several_tickets(4))
    settings = flow_settings.model_copy(update={"database_url": pg_env["RPA_DATABASE_URL"], "process": WORKER_PROCESS})
    workers = [WorkerProcess({**pg_env, "RPA_EXECUTOR_ID": name}, tmp_path) for name in ("machine-a", "machine-b")]
    try:
        for worker in workers:  # both polling before any flow is queued: each may take two of the four
            worker.wait_ready()
        client = engine.client(settings)
        with Toolkit(settings) as toolkit:
            flow_ids = [operations.start(client, toolkit.zendesk, settings, 3001 + n) for n in range(4)]
        wait_for(lambda: set(statuses(client, flow_ids).values()) == {"SUCCESS"}, timeout=150,
                 what="four flows to finish")
        executors = {w.executor_id for w in client.list_workflows(workflow_ids=flow_ids, load_input=False,
                                                                   load_output=False)}
        assert executors == {"machine-a", "machine-b"}
        assert all(line["migrations"] == 1 for line in world_state()["lines"].values())
        store = RunStore(settings.store_url())
        assert {store.flow(f).outcome for f in flow_ids} == {"migrated"}
        store.dispose()
        client.destroy()
    finally:
        for worker in workers:
            worker.stop()


def test_a_dead_machines_flows_are_recovered_by_a_live_one(load_scenario, world_state, flow_settings, pg_env,
                                                           tmp_path):
    spec = scenario()
    spec["tickets"][0]["customer"]["replies"]["tyc"] = {"text": "ACEPTO", "delay_seconds": 2}
    load_scenario(spec)
    settings = flow_settings.model_copy(update={"database_url": pg_env["RPA_DATABASE_URL"], "process": WORKER_PROCESS})
    dead = WorkerProcess({**pg_env, "RPA_EXECUTOR_ID": "machine-dead"}, tmp_path)
    live = None
    try:
        client = engine.client(settings)
        with Toolkit(settings) as toolkit:
            flow_id = operations.start(client, toolkit.zendesk, settings, 2001)
        store = RunStore(settings.store_url())
        wait_for(lambda: (run := store.flow(flow_id)) is not None and run.waiting_for == "cliente: ACEPTO",
                 what="the flow to wait for ACEPTO")
        dead.kill()
        live = WorkerProcess({**pg_env, "RPA_EXECUTOR_ID": "machine-live"}, tmp_path)
        recovered = subprocess.run([sys.executable, "-m", "flows.interfaces.cli", "flow", "recover", "--executor", "machine-dead"],
                                   env=pg_env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert recovered.returncode == 0, recovered.stderr
        assert "1 flow(s)" in recovered.stdout
        wait_for(lambda: statuses(client, [flow_id]).get(flow_id) == "SUCCESS", timeout=90, what="the flow to end")
        assert store.flow(flow_id).outcome == "migrated"
        assert world_state()["lines"]["71234567"]["migrations"] == 1
        store.dispose()
        client.destroy()
    finally:
        dead.stop()
        if live is not None:
            live.stop()


def test_a_flow_taken_over_uploads_the_photos_the_dead_machine_downloaded(load_scenario, world_state, flow_settings,
                                                                          pg_env, tmp_path):
    """Each machine has folders of its own, and the dead one's go with it: the customer's CI photos and selfie
    and the screenshots the contract needs come to the live one from the database, and so do the thumbnails
    of the report it writes at the flow's end."""
    spec = scenario()
    spec["tickets"][0]["customer"]["replies"]["tyc"] = {"text": "ACEPTO", "delay_seconds": 2}
    load_scenario(spec)

    def own_folders(name: str) -> dict[str, str]:
        # A short lease: the live machine takes the dead one's flows by itself, without `rpa flow recover`.
        return {"RPA_EXECUTOR_ID": name, "RPA_EVIDENCE_DIR": str(tmp_path / name / "evidence"),
                "RPA_RUN_DIR": str(tmp_path / name / "runs"), "RPA_WORKER_LEASE_SECONDS": "3"}

    settings = flow_settings.model_copy(update={"database_url": pg_env["RPA_DATABASE_URL"], "process": WORKER_PROCESS})
    dead = WorkerProcess({**pg_env, **own_folders("machine-dead")}, tmp_path)
    live = None
    try:
        client = engine.client(settings)
        with Toolkit(settings) as toolkit:
            flow_id = operations.start(client, toolkit.zendesk, settings, 2001)
        store = RunStore(settings.store_url())
        wait_for(lambda: (run := store.flow(flow_id)) is not None and run.waiting_for == "cliente: ACEPTO",
                 what="the flow to wait for ACEPTO")
        assert len(list((tmp_path / "machine-dead" / "evidence" / "ticket-2001" / "cliente").iterdir())) == 3
        dead.kill()
        shutil.rmtree(tmp_path / "machine-dead")
        killed_at = time.monotonic()
        live = WorkerProcess({**pg_env, **own_folders("machine-live")}, tmp_path)
        wait_for(lambda: statuses(client, [flow_id]).get(flow_id) == "SUCCESS", timeout=120, what="the flow to end")
        assert time.monotonic() - killed_at >= 3, "taken over only once the dead machine's lease ran out"
        assert "taken for dead" in live.output.read_text(errors="replace")
        assert store.flow(flow_id).outcome == "migrated"

        contracts = world_state()["records"]["contrato"]["contracts"]
        assert len(contracts) == 1
        backups = {b["kind"]: b["sha256"] for b in contracts[0]["backups"]}
        assert set(backups) == {"Preanálisis Planifícate", "Estado de línea confirmada", "Aceptación T&C",
                                "CI anverso", "CI reverso", "Selfie con CI"}
        photos = tmp_path / "machine-live" / "evidence" / "ticket-2001" / "cliente"
        fetched = {hashlib.sha256(f.read_bytes()).hexdigest() for f in photos.iterdir()}
        assert {backups["CI anverso"], backups["CI reverso"], backups["Selfie con CI"]} == fetched

        report = Path(tmp_path / "machine-live" / "runs" / "reports" / f"{flow_id}.html")
        html = report.read_text(encoding="utf-8")
        images = [e for s in store.steps(flow_id) for e in s.evidence if e.file.endswith(".png")]
        assert any("machine-dead" in e.file for e in images)  # screenshots the dead machine took
        assert html.count('<img src="data:image/jpeg;base64,') == len(images)
        assert "el archivo no está en disco" not in html
        store.dispose()
        client.destroy()
    finally:
        dead.stop()
        if live is not None:
            live.stop()
