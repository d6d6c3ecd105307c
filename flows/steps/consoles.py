"""The console steps of the process, once each: Planifícate, Qvantel, AR, BCCS, the tax registry, Syshelp and
Contrato digital.

A step takes typed inputs, runs its robot and returns ``Done``: the robot's typed result, the title and
summary of the evidence note the step would leave, and the evidence itself (screenshots with their bytes).
Whether that evidence is posted to the ticket or only kept on disk is the caller's business: the flow
follows PROCESS.md's evidence rules, an agent's single step always posts what it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import BaseModel

from flows.engine.toolkit import Toolkit
from flows.steps.evidence_notes import DEBT_TITLE, LINE_STATE_TITLE, NOTE_TITLES
from robots.ar import (
    MigrationOutcome,
    MigrationRequest,
    MigrationResult,
    MigrationState,
    MigrationStateRequest,
    TokenIssued,
    TokenRequest,
)
from robots.bccs import BillingChange, BillingChangeRequest, DebtRequest, HistoricalDebt
from robots.contrato import (
    AnalysisRequest,
    AnalysisSubmitted,
    Backup,
    BackupKind,
    ContractPdf,
    ContractRequest,
    ContractSaved,
    DismissRequest,
    PrintRequest,
    TaskAnswer,
    TaskDismissed,
    TaskQuery,
    TaskReply,
)
from robots.evidence import Evidence
from robots.impuestos import NitRequest, TaxpayerLookup
from robots.planificate import PreanalysisRequest, PreanalysisResult
from robots.qvantel import ConfirmLineRequest, LineConfirmation, LineStatus, LineStatusRequest
from robots.syshelp import Derivation, DerivationRequest

R = TypeVar("R", bound=BaseModel)


@dataclass
class Done(Generic[R]):
    """What a step did: the robot's result, and the evidence note it asks for."""

    step: str
    result: R
    title: str
    summary: str
    evidence: list[Evidence] = field(default_factory=list)

    def record(self) -> R:
        """The result without image bytes: what a durable flow checkpoints (evidence lives on disk and in Zendesk)."""
        if "evidence" in type(self.result).model_fields:
            return self.result.model_copy(update={"evidence": []})
        return self.result


# -- Planifícate, Qvantel ------------------------------------------------------------------------
def preanalysis(toolkit: Toolkit, line: str) -> Done[PreanalysisResult]:
    """PROCESS.md 2.2-2.3: Planifícate on the line; its screenshot is evidence whatever the result."""
    result = toolkit.planificate.preanalysis(PreanalysisRequest(line=line))
    return Done(
        "preanalysis",
        result,
        f"{NOTE_TITLES[BackupKind.PREANALYSIS]} - línea {line}",
        result.summary(),
        result.evidence,
    )


def line_status(toolkit: Toolkit, line: str) -> Done[LineStatus]:
    """PROCESS.md 3.1-3.2: the line's state in Qvantel (confirmed? SIM recovered in 24 h? holder)."""
    result = toolkit.qvantel.line_status(LineStatusRequest(line=line))
    return Done("line-status", result, f"{LINE_STATE_TITLE} - línea {line}", result.summary(), result.evidence)


def confirm_line(toolkit: Toolkit, line: str, holder_ci: str, acmo: str) -> Done[LineConfirmation]:
    """PROCESS.md 5: confirm the line's registration in Qvantel with the holder's CI and register the ACMO."""
    result = toolkit.qvantel.confirm_line(ConfirmLineRequest(line=line, holder_ci=holder_ci, acmo=acmo))
    return Done(
        "confirm-line",
        result,
        f"{NOTE_TITLES[BackupKind.LINE_CONFIRMED]} - línea {line}",
        result.summary(),
        result.evidence,
    )


# -- AR ------------------------------------------------------------------------------------------
def issue_token(toolkit: Toolkit, line: str) -> Done[TokenIssued]:
    """PROCESS.md 7.2: AR sends the migration token by SMS (from 7371) to the line."""
    issued = toolkit.ar.issue_token(TokenRequest(line=line))
    summary = (
        f"AR envió el token por SMS desde {issued.sender} a la línea {line}; "
        f"vence a las {issued.expires_at:%H:%M:%S} ({issued.expires_in_seconds} s)."
    )
    return Done("token", issued, "Token AR", summary)


def migrate(toolkit: Toolkit, request: MigrationRequest) -> Done[MigrationResult]:
    """PROCESS.md 7.6: the migration in AR. Callers fence it: this function clicks "Migrar" every time."""
    result = toolkit.ar.migrate(request)
    title = (
        NOTE_TITLES[BackupKind.AR_ERROR]
        if result.outcome == MigrationOutcome.REFUSED
        else "Deuda histórica informada por AR"
    )
    summary = f"AR: {result.outcome.value} · plan {result.plan} · {result.message}"
    return Done("migrate", result, f"{title} - línea {request.line}", summary, result.evidence)


def migration_state(toolkit: Toolkit, line: str) -> Done[MigrationState]:
    """Whether AR already migrated the line: what is read instead of migrating a second time."""
    state = toolkit.ar.migration_state(MigrationStateRequest(line=line))
    summary = f"Línea {line}: {'migrada' if state.migrated else 'no migrada'} · {state.plan_type} · {state.plan}"
    return Done("migration-state", state, "Estado de migración AR", summary)


# -- BCCS, tax registry, Syshelp -----------------------------------------------------------------
def historical_debt(toolkit: Toolkit, ci: str) -> Done[HistoricalDebt]:
    """PROCESS.md 7.7 b: the holder's historical debt in BCCS."""
    result = toolkit.bccs.historical_debt(DebtRequest(ci=ci))
    return Done("debt", result, DEBT_TITLE, result.summary(), result.evidence)


def change_billing(toolkit: Toolkit, request: BillingChangeRequest) -> Done[BillingChange]:
    """PROCESS.md 8.1: billing to a third party, changed in BCCS."""
    result = toolkit.bccs.change_billing_holder(request)
    return Done("billing", result, "Cambio de datos de facturación en BCCS", result.summary(), result.evidence)


def lookup_nit(toolkit: Toolkit, nit: str) -> Done[TaxpayerLookup]:
    """PROCESS.md 1 a): is the billing NIT a government entity?"""
    result = toolkit.impuestos.lookup_nit(NitRequest(nit=nit))
    return Done("nit", result, "Consulta de NIT en el padrón", result.summary(), result.evidence)


def derive_to_government(toolkit: Toolkit, request: DerivationRequest) -> Done[Derivation]:
    """PROCESS.md 1 b): the Syshelp derivation "Derivación B2B / Ejecutivos Gobierno"."""
    result = toolkit.syshelp.derive_to_government_executive(request)
    return Done("derive", result, "Derivación Syshelp a Ejecutivos Gobierno", result.summary(), result.evidence)


# -- Contrato digital ----------------------------------------------------------------------------
def upload_contract(toolkit: Toolkit, request: ContractRequest) -> Done[ContractSaved]:
    """PROCESS.md 8.3: the digital contract with its backups, saved."""
    saved = toolkit.contrato.upload_contract(request)
    summary = (
        f"Contrato {saved.contract_number} guardado con {len(request.backups)} respaldos "
        f"({', '.join(b.kind.label for b in request.backups)})."
    )
    return Done("contract", saved, f"Contrato digital {saved.contract_number}", summary, saved.evidence)


def print_contract(toolkit: Toolkit, contract_number: str) -> Done[ContractPdf]:
    """PROCESS.md 8.3 / 9.4 a1: the contract printed as PDF, which is evidence of its own."""
    pdf = toolkit.contrato.print_contract(PrintRequest(contract_number=contract_number))
    return Done(
        "print-contract",
        pdf,
        f"Contrato digital {contract_number} (PDF)",
        f"Contrato impreso, SHA-256 {pdf.sha256}.",
        pdf.evidence,
    )


def send_to_analysis(toolkit: Toolkit, request: AnalysisRequest) -> Done[AnalysisSubmitted]:
    """PROCESS.md 9.2: the contract goes to the activations analysts with its backups and the AR error."""
    sent = toolkit.contrato.send_to_analysis(request)
    summary = f"Contrato {sent.contract_number} enviado a análisis de activaciones: tarea {sent.task_number}."
    return Done("contract-analysis", sent, "Contrato enviado a análisis", summary, sent.evidence)


def submit_for_analysis(toolkit: Toolkit, contract_number: str) -> Done[AnalysisSubmitted]:
    """PROCESS.md 9.2, second half: a saved contract sent to the analysts (one already sent is left alone)."""
    sent = toolkit.contrato.submit_for_analysis(contract_number)
    summary = f"Contrato {sent.contract_number} enviado a análisis de activaciones: tarea {sent.task_number}."
    return Done("contract-analysis", sent, "Contrato enviado a análisis", summary, sent.evidence)


def task_answer(toolkit: Toolkit, task_number: str) -> Done[TaskAnswer]:
    """PROCESS.md 9.4: the activations analysts' answer to a task, as their inbox shows it."""
    answer = toolkit.contrato.task_answer(TaskQuery(task_number=task_number))
    summary = (
        f"Tarea {answer.task_number}: {answer.status.value}"
        + (f" · falta {answer.missing_backup}" if answer.missing_backup else "")
        + (f" · motivo: {answer.reason}" if answer.reason else "")
    )
    return Done("task", answer, "Tarea de activaciones", summary)


def answer_task(toolkit: Toolkit, task_number: str, backup: Backup) -> Done[TaskAnswer]:
    """PROCESS.md 9.4 b: answer an observed task with the missing backup; it goes back to the analysts."""
    result = toolkit.contrato.answer_task(TaskReply(task_number=task_number, backup=backup))
    summary = f"Tarea {task_number} respondida con {backup.kind.label}: ahora {result.status.value}."
    return Done("answer-task", result, "Respuesta a tarea de activaciones", summary)


def dismiss_task(toolkit: Toolkit, task_number: str, reason: str) -> Done[TaskDismissed]:
    """PROCESS.md 9.4 c1: complete the task as "desestimado" with the reason."""
    result = toolkit.contrato.dismiss_task(DismissRequest(task_number=task_number, reason=reason))
    return Done(
        "dismiss-task", result, "Tarea desestimada", f"Tarea {task_number} desestimada: {reason}", result.evidence
    )
