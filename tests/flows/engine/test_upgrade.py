"""An upgrade of the flow's code reaches flows already waiting, without repeating or skipping anything.

Version A is the code as it is. Version B is a copy of it whose flow sends one more public reply right
before the T&C wait, behind ``patched``. A flow waits for its customer's ACEPTO on a worker of version A;
the worker is replaced by one of version B; the customer answers. The old flow must end as version A
would have ended it (no reply it never sent, nothing twice), and a flow started on version B must take
the new step.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from flows.engine.run_store import RunStore
from flows.process.definition import Macro

from tests.flows.conftest import WORKER_PROCESS, WorkerProcess, flow_end, wait_for
from tests.flows.engine.test_crash_recovery import start_flow
from tests.flows.scenarios import LINE, scenario

ROOT = Path(__file__).resolve().parents[3]
REMINDER = "Recordatorio: para continuar, responda con la palabra ACEPTO."
#: Where version B adds its step: the first wait for ACEPTO.
WAIT = '            answer = await self.wait_customer("ACEPTO", self.timings.customer_reply_seconds)\n'
NEW_STEP = ('            if await self.patched("tyc-reminder"):\n'
            f'                await self.act.public_reply(self.ticket_id, "{REMINDER}", self.visit("reply:reminder"))\n')


def version_b(folder: Path) -> Path:
    """A copy of the product whose flow has one more step before the T&C wait."""
    for package in ("pages", "robots", "flows"):
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    migration = folder / "flows" / "process" / "migration.py"
    code = migration.read_text()
    assert code.count(WAIT) >= 1, "the T&C wait moved: update the test's version B"
    migration.write_text(code.replace(WAIT, NEW_STEP + WAIT, 1))
    return folder


def test_a_waiting_flow_survives_an_upgrade_that_adds_a_step(load_scenario, world_state, worker_env, flow_settings,
                                                            mocks, tmp_path):
    replies = scenario()["tickets"][0]["customer"]["replies"]
    replies.pop("tyc")  # the customer is silent at T&C until the test answers for her
    spec = scenario(replies=replies)
    other = scenario(ticket_id=2002, line={"number": "71234568"}, fields={"line": "71234568"})
    spec["lines"] += other["lines"]
    spec["tickets"] += other["tickets"]
    load_scenario(spec)
    timings = WORKER_PROCESS.model_copy(update={"customer_reply_seconds": 60})
    env = dict(worker_env)
    settings = flow_settings.model_copy(update={"run_dir": Path(worker_env["RPA_RUN_DIR"]), "process": timings})
    store = RunStore(settings.store_url())

    old = WorkerProcess(env, tmp_path)
    try:
        flow_id, client = start_flow(settings)
        wait_for(lambda: (run := store.flow(flow_id)) is not None and run.waiting_for == "cliente: ACEPTO",
                 what="the flow to wait for ACEPTO on version A")
    finally:
        old.stop()

    code_b = version_b(tmp_path / "version-b")
    new = WorkerProcess({**env, "PYTHONPATH": str(code_b)}, tmp_path)
    try:
        new.wait_ready()
        httpx.post(f"{mocks.urls['zendesk']}/agent/tickets/2001/responder", data={"mensaje": "ACEPTO"},
                   timeout=10)
        assert flow_end(client, flow_id, 300, what="the old flow to end") == "SUCCESS"
        # A flow started on version B takes the new step.
        from flows.engine.toolkit import Toolkit
        from flows.interfaces import operations
        with Toolkit(settings) as toolkit:
            fresh = operations.start(client, toolkit.zendesk, settings, 2002)
        assert flow_end(client, fresh, 300, what="the new flow to end") == "SUCCESS"
    finally:
        new.stop()

    world = world_state()
    old_ticket, new_ticket = world["tickets"]["2001"], world["tickets"]["2002"]
    assert store.flow(flow_id).outcome == "migrated"
    assert old_ticket["macros_applied"] == [
        Macro.PRIMER_CONTACTO, Macro.GESTION, Macro.OFERTA_CONFIRMADA, Macro.GESTION,
        Macro.CONFIRMACION_PLAN_TYC, Macro.ENVIO_SMS_AR, Macro.GESTION, Macro.MIGRACION_EXITOSA, Macro.DESPEDIDA,
    ]
    assert not any(REMINDER in c["body"] for c in old_ticket["comments"]), "version B's step ran on an old flow"
    assert sum(REMINDER in c["body"] for c in new_ticket["comments"]) == 1, "a new flow must take version B's step"
    notes = [c["body"].splitlines()[0] for c in old_ticket["comments"] if not c["public"]]
    assert len(notes) == len(set(notes)), f"an internal note was posted twice: {notes}"
    assert world["lines"][LINE]["migrations"] == 1
    client.destroy()
    store.dispose()
