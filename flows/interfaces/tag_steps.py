"""Robot steps an agent asks for with a Zendesk macro, without the panel or a terminal.

An agent in Zendesk's agent workspace applies a macro such as "RPA: Preanálisis (robot)", which only adds a
tag (``rpa_paso_preanalisis``); a trigger sends ``step_requested`` to ``rpa serve``'s webhook, which runs
the same function ``rpa step`` runs (``flows.interfaces.agent_steps``) on serve's warm toolkit and lets the
step post its evidence note as usual. The tag is then replaced by ``rpa_paso_hecho``, or by
``rpa_paso_fallido`` with a short internal note saying why when the step was refused or failed.

The table below is the only place that knows which tag asks for which step. Read steps all have a tag.
A write step has one only when it needs nothing an agent would type (confirm the line, send the token,
change the billing to the ticket's own fields): a macro has no box to type a token, a plan or an email
in, so migrating, deriving, the contract and the analysts' tasks stay with ``rpa step`` and the panel.
Write steps are refused while the ticket's flow is live, exactly as ``rpa step`` refuses them.

Zendesk may deliver one call twice, and the robot's own evidence note fires the trigger again while the
tag is still on the ticket; so the tags are read again from Zendesk before anything runs, and a step runs
only while its tag is there. Events of one ticket are handled one at a time (``serve.Intake`` lanes), and
the tag goes once the step has ended, so a repeated call finds it gone and does nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from loguru import logger

from flows.engine.run_store import RunStore
from flows.engine.toolkit import Toolkit
from flows.interfaces import agent_steps
from flows.interfaces.agent_steps import StepReport
from pages.errors import InvalidInput, RPAError

DONE_TAG = "rpa_paso_hecho"
FAILED_TAG = "rpa_paso_fallido"
#: What the trigger sends (``flows.interfaces.serve.WebhookEvent``), with Zendesk's placeholders.
STEP_REQUESTED_BODY = json.dumps({"event": "step_requested", "ticket_id": "{{ticket.id}}", "tags": "{{ticket.tags}}"})
NOTE_PREFIX = "[RPA]"


@dataclass(frozen=True)
class TagStep:
    """One step an agent may ask for by tag: the tag, ``rpa step``'s name for it, and its Spanish title."""

    tag: str
    step: str
    title: str
    run: Callable[[Toolkit, int], StepReport]

    @property
    def writes(self) -> bool:
        return self.step in agent_steps.WRITE_STEPS


TAG_STEPS: tuple[TagStep, ...] = (
    TagStep("rpa_paso_preanalisis", "preanalysis", "Preanálisis", agent_steps.preanalysis),
    TagStep("rpa_paso_estado_linea", "line-status", "Estado de la línea", agent_steps.line_status),
    TagStep("rpa_paso_deuda", "debt", "Deuda histórica", agent_steps.historical_debt),
    TagStep("rpa_paso_estado_migracion", "migration-state", "Estado de la migración", agent_steps.migration_state),
    TagStep(
        "rpa_paso_nit", "nit", "Consulta del NIT", lambda toolkit, ticket: agent_steps.lookup_nit(toolkit, ticket, None)
    ),
    TagStep(
        "rpa_paso_confirmar_linea",
        "confirm-line",
        "Confirmación de la línea",
        lambda toolkit, ticket: agent_steps.confirm_line(toolkit, ticket),
    ),
    TagStep("rpa_paso_token", "token", "Envío del token", agent_steps.issue_token),
    TagStep(
        "rpa_paso_facturacion",
        "billing",
        "Cambio de facturación",
        lambda toolkit, ticket: agent_steps.change_billing(toolkit, ticket, None, None),
    ),
)
STEP_BY_TAG: dict[str, TagStep] = {step.tag: step for step in TAG_STEPS}
STEP_TAGS: tuple[str, ...] = tuple(STEP_BY_TAG)


def requested(tags: Iterable[str]) -> list[TagStep]:
    """The steps these tags ask for, in the table's order."""
    present = {tag.strip().lower() for tag in tags}
    return [step for step in TAG_STEPS if step.tag in present]


class TagSteps:
    """Runs the steps a ticket's tags ask for and replaces each tag by the step's outcome."""

    def __init__(self, toolkit: Toolkit, store: RunStore) -> None:
        self.toolkit = toolkit
        self.store = store
        # The toolkit has one logged-in session per console: two steps at once would drive the same page.
        self._consoles = threading.Lock()

    def handle(self, ticket_id: int, tags_sent: Iterable[str] = ()) -> list[str]:
        """Run what the ticket asks for now; the outcome tag of each step run, in order."""
        sent = list(tags_sent)
        if sent and not requested(sent):
            return []  # a call from some other trigger: no need to read the ticket
        # The call's tags may be old news: a repeated delivery must not run a step that has already run.
        steps = requested(self.toolkit.zendesk.ticket(ticket_id).tags)
        if not steps:
            logger.info("ticket {}: no step tag left, nothing to run", ticket_id)
        return [self._run(ticket_id, step) for step in steps]

    def _run(self, ticket_id: int, step: TagStep) -> str:
        problem: str | None = None
        report: StepReport | None = None
        try:
            if step.writes:
                agent_steps.refuse_if_flow_is_live(self.store, ticket_id, step.step)
            with self._consoles:
                report = step.run(self.toolkit, ticket_id)
        except InvalidInput as exc:
            problem = f"no se ejecutó: {exc}"
        except RPAError as exc:
            problem = f"falló: {exc}"
        except Exception as exc:  # the tag must still go, or every update of the ticket would run it again
            logger.opt(exception=exc).error("ticket {}: step {} by tag failed", ticket_id, step.step)
            problem = f"falló por un error interno ({type(exc).__name__}); el detalle está en el registro de rpa serve."
        zendesk = self.toolkit.zendesk
        if problem is not None:
            logger.warning("ticket {}: step {} asked by tag {} {}", ticket_id, step.step, step.tag, problem)
            zendesk.add_internal_note(ticket_id, f"{NOTE_PREFIX} {step.title} (pedido por macro) {problem}")
            outcome, other = FAILED_TAG, DONE_TAG
        else:
            if report is not None and report.note is None:
                # Without evidence the step posts no note, and the agent would see only the tag change.
                zendesk.add_internal_note(ticket_id, f"{NOTE_PREFIX} {step.title} (pedido por macro): {report.summary}")
            outcome, other = DONE_TAG, FAILED_TAG
        zendesk.update_ticket(ticket_id, add_tags=[outcome], remove_tags=[step.tag, other])
        logger.info("ticket {}: step {} asked by tag {}: {}", ticket_id, step.step, step.tag, outcome)
        return outcome
