"""Contrato Digital robot: the postpaid contract of a line, printed or sent to the activations analysts.

PROCESS.md 8.3: upload the contract with its backups, save it, print the PDF (the PDF goes to the customer
with *Migración Exitosa*). PROCESS.md 9.2–9.4: after an AR error the contract goes to the activations
analysts instead; their task comes back approved (print), fixable (answer it with the missing backup) or
unfixable (complete it as "desestimado" with a reason).

Which backups a contract needs is the flow's rule, not this robot's: it uploads what it is given. The
console refuses a contract without both sides of the CI and the selfie; that refusal, a contract that
cannot print yet, or a task in the wrong state are ``RuleRefused`` (never retried). The analysts' verdict
is data (``TaskStatus``), for the flow to branch on.

Steps are written to survive a retry after the console did the work but the answer was lost: a repeated
upload finds the contract the first attempt saved, a repeated send finds the task, a repeated reply or
dismissal sees the task already moved on. After a crash, when no attempt is left to compare with,
``contracts_of_line`` (each contract with its saved time and task) and ``task_answer`` (the task's status
and last update) are the read-backs that tell whether a write happened. CI photos and selfies are
personal data: their bytes never appear in a repr, a dump or a log line.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from enum import Enum

from playwright.async_api import FilePayload
from pydantic import BaseModel, Field, computed_field, field_validator

from pages.contrato import ContratoPage, DownloadedFile
from pages.errors import RecordNotFound, RuleRefused, UnexpectedScreen
from pages.masking import mask_text
from robots.base import ConsoleRobot, LineRequest
from robots.evidence import Evidence
from robots.identity import normal_ci

CONTRACT_NUMBER = re.compile(r"^CD-\d{6}$")
TASK_NUMBER = re.compile(r"^TA-\d{6}$")
#: Contrato Digital prints Bolivian local time (UTC-4 all year) without a zone, to the second.
LA_PAZ = timezone(timedelta(hours=-4))
CONSOLE_TIME = "%d/%m/%Y %H:%M:%S"


def _plain(text: str) -> str:
    """Lower case without accents or extra spaces, to compare a console's wording."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().split())


class BackupKind(str, Enum):
    """The backups a contract carries (PROCESS.md 8.2, 9.2); ``label`` is how the console names them."""

    PREANALYSIS = "preanalysis"
    LINE_CONFIRMED = "line_confirmed"
    TERMS_ACCEPTANCE = "terms_acceptance"
    CI_FRONT = "ci_front"
    CI_BACK = "ci_back"
    SELFIE = "selfie"
    AR_ERROR = "ar_error"

    @property
    def label(self) -> str:
        return _BACKUP_LABELS[self]

    @classmethod
    def of_customer_file(cls, file_name: str) -> BackupKind | None:
        """Which of the customer's documents a WhatsApp attachment is, by its file name."""
        name = file_name.lower()
        return next((kind for word, kind in _CUSTOMER_FILE_WORDS if word in name), None)

    @classmethod
    def from_label(cls, text: str | None) -> BackupKind | None:
        """The kind the console's wording names, or None when it names none of ours."""
        wanted = _plain(text or "")
        return next((kind for kind, label in _BACKUP_LABELS.items() if _plain(label) == wanted), None)


#: Words in the file names of the customer's photos (the WhatsApp bot's names), most specific first.
_CUSTOMER_FILE_WORDS = (
    ("selfie", BackupKind.SELFIE),
    ("reverso", BackupKind.CI_BACK),
    ("anverso", BackupKind.CI_FRONT),
)

_BACKUP_LABELS = {
    BackupKind.PREANALYSIS: "Preanálisis Planifícate",
    BackupKind.LINE_CONFIRMED: "Estado de línea confirmada",
    BackupKind.TERMS_ACCEPTANCE: "Aceptación T&C",
    BackupKind.CI_FRONT: "CI anverso",
    BackupKind.CI_BACK: "CI reverso",
    BackupKind.SELFIE: "Selfie con CI",
    BackupKind.AR_ERROR: "Error AR",
}


class ContractState(str, Enum):
    SAVED = "saved"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    OBSERVED = "observed"
    DISMISSED = "dismissed"
    PRINTED = "printed"


_CONTRACT_STATES = {
    "guardado": ContractState.SAVED,
    "en revision": ContractState.IN_REVIEW,
    "aprobado": ContractState.APPROVED,
    "observado": ContractState.OBSERVED,
    "desestimado": ContractState.DISMISSED,
    "impreso": ContractState.PRINTED,
}
#: Only a contract saved without analysis, or approved by the analysts, prints (and a printed one again).
PRINTABLE = (ContractState.SAVED, ContractState.APPROVED, ContractState.PRINTED)


class TaskStatus(str, Enum):
    """Where the analysts' task stands (PROCESS.md 9.4)."""

    PENDING = "pending"  # still with the analysts
    APPROVED = "approved"  # 9.4 a: print the contract
    FIXABLE = "fixable"  # 9.4 b: answer with ``missing_backup``
    UNFIXABLE = "unfixable"  # 9.4 c: complete as "desestimado" with ``reason``
    DISMISSED = "dismissed"  # completed as "desestimado"


_TASK_STATES = {
    "pendiente": TaskStatus.PENDING,
    "aprobada": TaskStatus.APPROVED,
    "observada (subsanable)": TaskStatus.FIXABLE,
    "rechazada (no subsanable)": TaskStatus.UNFIXABLE,
    "desestimada": TaskStatus.DISMISSED,
}


# -- inputs ------------------------------------------------------------------------------------
class Backup(BaseModel):
    """One file backing the contract: a screenshot from an internal note, a CI photo, the selfie."""

    kind: BackupKind
    file_name: str = Field(min_length=1)
    content: bytes = Field(min_length=1, exclude=True, repr=False)
    content_type: str = "image/png"

    @field_validator("file_name")
    @classmethod
    def _bare_name(cls, value: str) -> str:
        name = re.split(r"[\\/]", value.strip())[-1]
        if not name:
            raise ValueError("a backup needs a file name")
        return name

    def payload(self) -> FilePayload:
        """The file as the browser's file input takes it."""
        return FilePayload(name=self.file_name, mimeType=self.content_type, buffer=self.content)


class ContractRequest(LineRequest):
    """Upload a contract for this line with its backups (PROCESS.md 8.3)."""

    holder_name: str = Field(min_length=1)
    holder_ci: str = Field(min_length=1)
    plan: str = Field(min_length=1)
    city: str = Field(min_length=1)
    backups: list[Backup] = Field(min_length=1)

    @field_validator("holder_ci")
    @classmethod
    def _holder_ci(cls, value: str) -> str:
        # The console takes any text, but the contract must carry the CI the other consoles know.
        return normal_ci(value)

    @field_validator("backups")
    @classmethod
    def _one_file_per_kind(cls, value: list[Backup]) -> list[Backup]:
        kinds = [backup.kind for backup in value]
        repeated = sorted({kind.value for kind in kinds if kinds.count(kind) > 1})
        if repeated:
            raise ValueError(f"the console takes one file per backup kind; repeated: {', '.join(repeated)}")
        return value


class AnalysisRequest(ContractRequest):
    """Upload a contract for the activations analysts (PROCESS.md 9.2; backups include the AR error)."""


def _numbered(pattern: re.Pattern[str], what: str, value: str) -> str:
    number = str(value or "").strip().upper()
    if not pattern.match(number):
        raise ValueError(f"{value!r} is not a {what} number like {pattern.pattern[1:3]}000123")
    return number


class PrintRequest(BaseModel):
    contract_number: str

    @field_validator("contract_number")
    @classmethod
    def _number(cls, value: str) -> str:
        return _numbered(CONTRACT_NUMBER, "contract", value)


class TaskQuery(BaseModel):
    task_number: str

    @field_validator("task_number")
    @classmethod
    def _number(cls, value: str) -> str:
        return _numbered(TASK_NUMBER, "task", value)


class TaskReply(TaskQuery):
    """Answer an observed task with the backup the analysts asked for (PROCESS.md 9.4 b)."""

    backup: Backup


class DismissRequest(TaskQuery):
    """Complete an unfixable task as "desestimado" (PROCESS.md 9.4 c1)."""

    reason: str = Field(min_length=1, max_length=1000)


# -- results ------------------------------------------------------------------------------------
class ContractSaved(BaseModel):
    contract_number: str
    line: str
    state: ContractState
    backups: list[BackupKind] = Field(default_factory=list, description="as the console lists them")
    evidence: list[Evidence] = Field(default_factory=list)


class ContractPdf(BaseModel):
    """The printed contract (PROCESS.md 8.3 / 9.4 a1), to attach to *Migración Exitosa*."""

    contract_number: str
    file_name: str
    sha256: str
    pdf: bytes = Field(exclude=True, repr=False)
    evidence: list[Evidence] = Field(default_factory=list)


class AnalysisSubmitted(BaseModel):
    contract_number: str
    task_number: str
    evidence: list[Evidence] = Field(default_factory=list)


class TaskAnswer(BaseModel):
    task_number: str
    contract_number: str
    status: TaskStatus
    missing_backup: str | None = Field(None, description="fixable: the backup the analysts ask for")
    reason: str | None = Field(None, description="unfixable: why the analysts refused")
    updated_at: datetime | None = Field(
        None,
        description="when the task last changed (the inbox's 'Actualizada'); None when the screen read lacks it",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def missing_kind(self) -> BackupKind | None:
        """``missing_backup`` as one of our kinds, when the analysts named one."""
        return BackupKind.from_label(self.missing_backup)


class ContractSummary(BaseModel):
    """One contract as the "Contratos" list shows it: the read-back of an upload or a send to analysis."""

    number: str
    line: str
    plan: str
    state: ContractState
    saved_at: datetime | None = Field(None, description="when it was saved, to the second; None if not shown")
    task_number: str | None = Field(None, description="the analysts' task, once it was sent to analysis")


class TaskDismissed(BaseModel):
    task_number: str
    contract_number: str
    reason: str
    evidence: list[Evidence] = Field(default_factory=list)


# -- the robot ------------------------------------------------------------------------------------
class ContratoRobot(ConsoleRobot[ContratoPage]):
    """Uploads, prints and sends contracts in Contrato Digital, and works the analysts' tasks."""

    def upload_contract(self, request: ContractRequest) -> ContractSaved:
        """Fill "Nuevo contrato", attach the backups and save it, with a screenshot of the saved contract."""
        baseline: list[set[str]] = []

        async def work(console: ContratoPage) -> tuple[dict[str, str], bytes]:
            known = await self._contracts_of(console, request.line)
            if not baseline:
                baseline.append(known)
            elif known - baseline[0]:
                # An earlier attempt saved it and lost the answer: take that contract, do not save twice.
                await console.open_contract(min(known - baseline[0]))
                return await console.read_contract(), await console.screenshot()
            await console.create_contract(
                request.line, request.holder_name, request.holder_ci, request.plan, request.city
            )
            for backup in request.backups:
                await console.attach_backup(backup.kind.label, backup.payload())
            await console.save()
            fields, refused = await console.read_contract_or_alert()
            if refused:
                raise RuleRefused(mask_text(refused), portal=self.portal)
            return fields, await console.screenshot()

        fields, shot = self._run(work)
        number = _field(fields, "Número de contrato", self.portal)
        return ContractSaved(
            contract_number=number,
            line=request.line,
            state=self._contract_state(fields),
            backups=self._backups(fields),
            evidence=[
                Evidence.capture(
                    portal=self.portal,
                    step="contract_saved",
                    content=shot,
                    description=f"Contrato digital {number} guardado con sus respaldos (línea {request.line})",
                )
            ],
        )

    def print_contract(self, request: PrintRequest) -> ContractPdf:
        """Download the contract's PDF ("Imprimir contrato"); only a saved or approved contract prints."""
        number = request.contract_number

        async def work(console: ContratoPage) -> DownloadedFile:
            fields = await self._open_contract(console, number)
            state = self._contract_state(fields)
            if state not in PRINTABLE:
                raise RuleRefused(
                    f"contract {number} is {state.value}: only a saved or approved contract can be printed",
                    portal=self.portal,
                )
            return await console.print_pdf()

        downloaded = self._run(work)
        if not downloaded.content.startswith(b"%PDF-"):
            raise UnexpectedScreen(f"the download for contract {number} is not a PDF", portal=self.portal)
        return ContractPdf(
            contract_number=number,
            file_name=downloaded.file_name or f"{number}.pdf",
            sha256=hashlib.sha256(downloaded.content).hexdigest(),
            pdf=downloaded.content,
            evidence=[
                Evidence.capture(
                    portal=self.portal,
                    step="contract_pdf",
                    content=downloaded.content,
                    content_type="application/pdf",
                    extension="pdf",
                    description=f"Contrato digital {number} impreso en PDF",
                )
            ],
        )

    def send_to_analysis(self, request: AnalysisRequest) -> AnalysisSubmitted:
        """Save the contract, then send it to the activations analysts; returns the task they work on."""
        return self.submit_for_analysis(self.upload_contract(request).contract_number)

    def submit_for_analysis(self, number: str) -> AnalysisSubmitted:
        """Send a saved contract to the activations analysts; one already sent is left as it is, and its task
        is returned (so a send repeated after a crash never makes a second task)."""

        async def work(console: ContratoPage) -> tuple[dict[str, str], bytes]:
            fields = await self._open_contract(console, number)
            if _blank(fields.get("Tarea de análisis")):
                state = self._contract_state(fields)
                if state is not ContractState.SAVED:
                    raise RuleRefused(
                        f"contract {number} is {state.value}: only a saved contract can be sent to analysis",
                        portal=self.portal,
                    )
                await console.send_to_analysis()
                fields, refused = await console.read_contract_or_alert()
                if refused:
                    raise RuleRefused(mask_text(refused), portal=self.portal)
            return fields, await console.screenshot()

        fields, shot = self._run(work)
        task = _field(fields, "Tarea de análisis", self.portal)
        return AnalysisSubmitted(
            contract_number=number,
            task_number=task,
            evidence=[
                Evidence.capture(
                    portal=self.portal,
                    step="analysis_submitted",
                    content=shot,
                    description=f"Contrato digital {number} enviado a análisis de activaciones (tarea {task})",
                )
            ],
        )

    def contracts_of_line(self, request: LineRequest) -> list[ContractSummary]:
        """Every contract Contrato Digital lists for the line, newest first, read from one screen.

        Nothing is written: after a crash this tells whether a contract was saved (``saved_at``) or sent
        to the analysts (``task_number``) since a given time.
        """

        async def work(console: ContratoPage) -> list[dict[str, str]]:
            return await console.list_contracts(request.line)

        rows = self._run(work)
        return [self._summary(row) for row in rows if row.get("Línea") == request.line and row.get("Número")]

    def task_answer(self, request: TaskQuery) -> TaskAnswer:
        """What the analysts answered to a task, read from "Bandeja de tareas".

        The analysts answer a reply at once, so a task read after ``answer_task`` shows their next answer,
        never "pending"; ``updated_at`` tells a task answered since a given time from one still waiting.
        """

        async def work(console: ContratoPage) -> list[dict[str, str]]:
            await console.open_tasks()
            return await console.read_tasks()

        rows = self._run(work)
        row = next((r for r in rows if r.get("Número") == request.task_number), None)
        if row is None:
            raise RecordNotFound(f"no task {request.task_number} in the task inbox", portal=self.portal)
        answer = self._answer(request.task_number, row)
        answer.updated_at = self._console_time(row.get("Actualizada"), "task update time")
        return answer

    def answer_task(self, request: TaskReply) -> TaskAnswer:
        """Answer a fixable task with the missing backup; the analysts' next answer comes back."""
        number = request.task_number
        baseline: list[int] = []

        async def work(console: ContratoPage) -> dict[str, str]:
            fields = await self._open_task(console, number)
            submissions = _count(fields.get("Envíos a análisis"))
            if not baseline:
                baseline.append(submissions)
            elif submissions > baseline[0]:
                return fields  # an earlier attempt's reply reached the analysts
            status = self._task_status(fields)
            if status is not TaskStatus.FIXABLE:
                raise RuleRefused(
                    f"task {number} is {status.value}: only a fixable task takes a reply", portal=self.portal
                )
            await console.answer_task(number, request.backup.kind.label, request.backup.payload())
            fields, refused = await console.read_task_or_alert()
            if refused:
                raise RuleRefused(mask_text(refused), portal=self.portal)
            return fields

        return self._answer(number, self._run(work))

    def dismiss_task(self, request: DismissRequest) -> TaskDismissed:
        """Complete an unfixable (or fixable) task as "desestimado" with the reason, and screenshot it."""
        number = request.task_number

        async def work(console: ContratoPage) -> tuple[dict[str, str], bytes]:
            fields = await self._open_task(console, number)
            status = self._task_status(fields)
            if status is not TaskStatus.DISMISSED:
                if status not in (TaskStatus.FIXABLE, TaskStatus.UNFIXABLE):
                    raise RuleRefused(
                        f"task {number} is {status.value}: only an observed task can be dismissed", portal=self.portal
                    )
                await console.complete_as_dismissed(number, request.reason)
                fields, refused = await console.read_task_or_alert()
                if refused:
                    raise RuleRefused(mask_text(refused), portal=self.portal)
            return fields, await console.screenshot()

        fields, shot = self._run(work)
        reason = _dash_none(fields.get("Motivo de desestimación")) or request.reason
        return TaskDismissed(
            task_number=number,
            contract_number=_field(fields, "Contrato", self.portal),
            reason=reason,
            evidence=[
                Evidence.capture(
                    portal=self.portal,
                    step="task_dismissed",
                    content=shot,
                    description=f"Tarea {number} de activaciones completada como desestimada: {reason}",
                )
            ],
        )

    # -- reading the console --------------------------------------------------------------------
    async def _contracts_of(self, console: ContratoPage, line: str) -> set[str]:
        """Numbers of the contracts the console lists for a line."""
        rows = await console.list_contracts(line)
        return {row["Número"] for row in rows if row.get("Línea") == line and row.get("Número")}

    async def _open_contract(self, console: ContratoPage, number: str) -> dict[str, str]:
        await console.open_contract(number)
        fields, missing = await console.read_contract_or_alert()
        if missing:
            raise RecordNotFound(f"no contract {number} in Contrato Digital", portal=self.portal)
        return fields

    async def _open_task(self, console: ContratoPage, number: str) -> dict[str, str]:
        await console.open_task(number)
        fields, missing = await console.read_task_or_alert()
        if missing:
            raise RecordNotFound(f"no task {number} in the task inbox", portal=self.portal)
        return fields

    def _contract_state(self, fields: dict[str, str]) -> ContractState:
        label = fields.get("Estado", "")
        state = _CONTRACT_STATES.get(_plain(label))
        if state is None:
            raise UnexpectedScreen(f"unknown contract state {label!r}", portal=self.portal)
        return state

    def _task_status(self, fields: dict[str, str]) -> TaskStatus:
        label = fields.get("Estado", "")
        status = _TASK_STATES.get(_plain(label))
        if status is None:
            raise UnexpectedScreen(f"unknown task state {label!r}", portal=self.portal)
        return status

    def _summary(self, row: dict[str, str]) -> ContractSummary:
        """A row of the "Contratos" list (Número, Fecha, Línea, Titular, Plan, Estado, Tarea)."""
        return ContractSummary(
            number=row["Número"],
            line=row["Línea"],
            plan=row.get("Plan", ""),
            state=self._contract_state(row),
            saved_at=self._console_time(row.get("Fecha"), "contract date"),
            task_number=_dash_none(row.get("Tarea")),
        )

    def _console_time(self, text: str | None, what: str) -> datetime | None:
        """A time the console shows; None when it shows none, or only a day (too coarse to compare with)."""
        value = _dash_none((text or "").strip())
        if value is None or ":" not in value:
            return None
        try:
            return datetime.strptime(value, CONSOLE_TIME).replace(tzinfo=LA_PAZ)
        except ValueError as exc:
            raise UnexpectedScreen(f"cannot read the {what} {value!r}", portal=self.portal) from exc

    def _backups(self, fields: dict[str, str]) -> list[BackupKind]:
        names = [name.strip() for name in fields.get("Respaldos adjuntos", "").split(",")]
        return [kind for kind in map(BackupKind.from_label, names) if kind is not None]

    def _answer(self, number: str, fields: dict[str, str]) -> TaskAnswer:
        return TaskAnswer(
            task_number=number,
            contract_number=_field(fields, "Contrato", self.portal),
            status=self._task_status(fields),
            missing_backup=_dash_none(fields.get("Respaldo faltante")),
            reason=_dash_none(fields.get("Motivo")),
        )


def _dash_none(value: str | None) -> str | None:
    return None if value in (None, "", "-") else value


def _blank(value: str | None) -> bool:
    return _dash_none(value) is None


def _count(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


def _field(fields: dict[str, str], label: str, portal: str) -> str:
    value = _dash_none(fields.get(label))
    if value is None:
        raise UnexpectedScreen(f"the console shows no {label!r}", portal=portal)
    return value
