"""Page object of Contrato Digital: new contract with its backups, print to PDF, analysts' task inbox.

Printing answers a file, not a document: the click either starts a download (the PDF) or, when something
went wrong, navigates to a page (a 500, the login page, a refusal). ``print_pdf`` waits for whichever
comes, so a failure is classified at once instead of waiting out a download that will never start.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from playwright.async_api import Download, FilePayload, Locator, Page, Response

from pages.base import ConsolePage
from pages.errors import UnexpectedScreen


class DownloadedFile(NamedTuple):
    """A file the console handed over as a download."""

    file_name: str
    content: bytes


class ContratoPage(ConsolePage):
    """The screens of Contrato Digital: Nuevo contrato, a contract, Bandeja de tareas and a task."""

    portal = "contrato"

    def __init__(self, page: Page, base_url: str) -> None:
        super().__init__(page, base_url)
        # Several labels share words ("CI del titular", "CI anverso", "Selfie con CI"): match them exactly.
        self.line_input = page.get_by_label("Línea", exact=True)
        self.holder_input = page.get_by_label("Titular", exact=True)
        self.ci_input = page.get_by_label("CI del titular", exact=True)
        self.plan_input = page.get_by_label("Plan", exact=True)
        self.city_input = page.get_by_label("Ciudad", exact=True)
        self.save_button = page.get_by_role("button", name="Guardar", exact=True)
        self.contracts_table = page.get_by_role("table", name="Contratos", exact=True)
        self.contract_table = page.get_by_role("table", name="Datos del contrato")
        self.print_button = page.get_by_role("button", name="Imprimir contrato")
        self.send_button = page.get_by_role("button", name="Enviar a análisis de activaciones")
        self.tasks_table = page.get_by_role("table", name="Bandeja de tareas")
        self.task_table = page.get_by_role("table", name="Detalle de la tarea")
        self.reply_kind = page.get_by_label("Tipo de respaldo")
        self.reply_document = page.get_by_label("Documento", exact=True)
        self.reply_button = page.get_by_role("button", name="Responder tarea")
        self.dismiss_reason = page.get_by_label("Motivo de desestimación")
        self.dismiss_button = page.get_by_role("button", name="Completar como desestimado")

    # -- a contract -----------------------------------------------------------------------------
    async def create_contract(self, line: str, holder_name: str, holder_ci: str, plan: str, city: str) -> None:
        """Open "Nuevo contrato" and fill in the line and its holder."""
        await self.open("/contratos/nuevo", "opening the new contract form")
        for field, value, doing in (
            (self.line_input, line, "typing the line"),
            (self.holder_input, holder_name, "typing the holder's name"),
            (self.ci_input, holder_ci, "typing the holder's CI"),
            (self.plan_input, plan, "typing the plan"),
            (self.city_input, city, "typing the city"),
        ):
            await self._guarded(doing, functools.partial(field.fill, value))

    async def attach_backup(self, kind: str, file: str | Path | FilePayload) -> None:
        """Put a file in the backup input labelled ``kind`` (a path, or ``{name, mimeType, buffer}``)."""
        backup_input = self.page.get_by_label(kind, exact=True)
        await self._guarded(f"attaching the backup {kind!r}", lambda: backup_input.set_input_files(file))

    async def save(self) -> None:
        """Press "Guardar"; the console shows the saved contract, or the form again with its reasons."""
        await self.submit(self.save_button, "saving the contract")

    async def list_contracts(self, line: str) -> list[dict[str, str]]:
        """The contracts of a line, from the "Contratos" list, as column -> value."""
        await self.open(f"/contratos?linea={quote(line)}", "opening the contract list")
        return await self._read_rows(self.contracts_table, "the contract list")

    async def open_contract(self, contract_number: str) -> None:
        await self.open(f"/contratos/{quote(contract_number)}", f"opening contract {contract_number}")

    async def read_contract(self) -> dict[str, str]:
        """The "Datos del contrato" table as label -> value."""
        fields, _ = await self.read_contract_or_alert()
        return fields

    async def read_contract_or_alert(self) -> tuple[dict[str, str], str]:
        """The "Datos del contrato" table as label -> value, with what the screen's alerts say (a refused
        form, an unknown contract), read together; an alert shown instead is not waited out."""
        return await self.read_fields_or_alert(self.contract_table, "the contract", awaited=self.contract_table)

    async def print_pdf(self) -> DownloadedFile:
        """Press "Imprimir contrato" on an open contract and take the PDF it downloads."""
        doing = "printing the contract"
        main_frame = self.page.main_frame

        def is_answer(response: Response) -> bool:
            # The final answer to the click: the PDF or a page, never the redirect on the way to a login.
            return (
                response.frame == main_frame
                and response.request.is_navigation_request()
                and not 300 <= response.status < 400
            )

        async def click() -> Response:
            async with self.page.expect_response(is_answer) as answer:
                await self.print_button.click()
            return await answer.value

        download: asyncio.Future[Download] = asyncio.ensure_future(self.page.wait_for_event("download"))
        try:
            response = await self._guarded(doing, click)
            # The headers the answer arrived with carry its type; asking for the final ones costs a round trip.
            content_type = response.headers.get("content-type")
            if "application/pdf" not in (content_type or ""):
                await self._guarded(doing, lambda: self.page.wait_for_url(response.url))
                self._check_document(response, doing)
                raise UnexpectedScreen("the console answered a page instead of the contract PDF", portal=self.portal)
            pdf = await self._guarded(doing, lambda: download)
            path = await self._guarded("reading the downloaded PDF", pdf.path)
            content = await asyncio.to_thread(Path(path).read_bytes)
            await self._guarded("discarding the downloaded PDF", pdf.delete)
            return DownloadedFile(pdf.suggested_filename, content)
        finally:
            if not download.done():
                download.cancel()
            elif not download.cancelled():
                download.exception()  # retrieved, so an unused timeout is not reported as lost

    async def send_to_analysis(self) -> None:
        """Press "Enviar a análisis de activaciones" on an open contract."""
        await self.submit(self.send_button, "sending the contract to the activations analysts")

    # -- the analysts' tasks ----------------------------------------------------------------------
    async def open_tasks(self) -> None:
        await self.open("/tareas", "opening the task inbox")

    async def read_tasks(self) -> list[dict[str, str]]:
        """Every row of "Bandeja de tareas" as column -> value."""
        return await self._read_rows(self.tasks_table, "the task inbox")

    async def _read_rows(self, table: Locator, what: str) -> list[dict[str, str]]:
        """A table with a header row, as one dict per row, read in one round trip."""
        shown = await self.read_shown(table.get_by_role("row"), what, awaited=table)
        header, *rows = [[cell.strip() for cell in s.text.split("\t")] for s in shown if s.role == "row"]
        return [dict(zip(header, row, strict=False)) for row in rows]

    async def open_task(self, task_number: str) -> None:
        await self.open(f"/tareas/{quote(task_number)}", f"opening task {task_number}")

    async def read_task_or_alert(self) -> tuple[dict[str, str], str]:
        """The "Detalle de la tarea" table as label -> value, with what the screen's alerts say, read
        together; an alert shown instead is not waited out."""
        return await self.read_fields_or_alert(self.task_table, "the task", awaited=self.task_table)

    async def answer_task(self, task_number: str, kind: str, file: str | Path | FilePayload) -> None:
        """Answer an observed task with the document it asks for ("Responder tarea")."""
        await self.open_task(task_number)
        await self._guarded("choosing the backup kind", lambda: self.reply_kind.select_option(label=kind))
        await self._guarded("attaching the document", lambda: self.reply_document.set_input_files(file))
        await self.submit(self.reply_button, f"answering task {task_number}")

    async def complete_as_dismissed(self, task_number: str, reason: str) -> None:
        """Close a task as "desestimado" with its reason."""
        await self.open_task(task_number)
        await self._guarded("typing the reason", lambda: self.dismiss_reason.fill(reason))
        await self.submit(self.dismiss_button, f"completing task {task_number} as dismissed")
