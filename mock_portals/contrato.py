"""Mock of Contrato Digital, the postpaid contract portal (PROCESS.md activities 8 and 9).

An agent fills "Nuevo contrato" for a line (línea, titular, CI, plan, ciudad) with one file input per
kind of backup, and "Guardar" stores it, refusing one without both sides of the CI and the selfie. A saved
contract can be printed ("Imprimir contrato" answers a real PDF as a download) or sent to the activations
analysts ("Enviar a análisis de activaciones"), which opens a task in "Bandeja de tareas".

The analysts are the scenario: each submission takes the line's next ``AnalystAnswer`` (approve once the
list runs out) and answers at once, so tests and flows never wait here. The state machine stays that of
the real portal: an observed (fixable) task is answered with a document, which resubmits it; a rejected
(unfixable) one is completed as "desestimado" with a reason; only a saved or approved contract prints.
An approval is the analysts activating the plan: the shared line becomes postpaid on the contract's plan.

Records live in ``world.state.records["contrato"]``: ``contracts`` and ``tasks`` in order, and
``answers_used`` (line -> analyst answers consumed). Uploaded bytes are kept in ``world.blobs``. Screens
show times in Bolivian local time to the second, so the contract list tells when each contract was saved.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fpdf import FPDF
from starlette.datastructures import UploadFile

from mock_portals.common import LegacyConsole, now
from mock_portals.world import World

#: Form field -> the backup kind the console labels it with, in the order of the form.
BACKUP_KINDS: dict[str, str] = {
    "respaldo_preanalisis": "Preanálisis Planifícate",
    "respaldo_linea_confirmada": "Estado de línea confirmada",
    "respaldo_aceptacion": "Aceptación T&C",
    "respaldo_ci_anverso": "CI anverso",
    "respaldo_ci_reverso": "CI reverso",
    "respaldo_selfie": "Selfie con CI",
    "respaldo_error_ar": "Error AR",
}
#: What the portal will not save a contract without: the holder's identity.
REQUIRED_KINDS = ("CI anverso", "CI reverso", "Selfie con CI")
MAX_FILE_BYTES = 5 * 1024 * 1024

CONTRACT_STATES = {
    "guardado": "Guardado",
    "en_revision": "En revisión",
    "aprobado": "Aprobado",
    "observado": "Observado",
    "desestimado": "Desestimado",
    "impreso": "Impreso",
}
PRINTABLE = ("guardado", "aprobado", "impreso")
TASK_STATES = {
    "pendiente": "Pendiente",
    "aprobada": "Aprobada",
    "observada": "Observada (subsanable)",
    "rechazada": "Rechazada (no subsanable)",
    "desestimada": "Desestimada",
}
FIELDS = ("linea", "titular", "ci", "plan", "ciudad")
LINE_NUMBER = re.compile(r"^[67]\d{7}$")
LA_PAZ = timezone(timedelta(hours=-4))


def _local(iso: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(LA_PAZ):%d/%m/%Y %H:%M}"


def console_time(iso: str) -> str:
    """Times as the portal's screens show them: Bolivian local time, to the second, without a zone.

    To the second, so a contract listed as saved can be told apart from one saved a moment before."""
    return f"{datetime.fromisoformat(iso).astimezone(LA_PAZ):%d/%m/%Y %H:%M:%S}"


def contract_pdf(contract: dict[str, Any]) -> bytes:
    """The printed contract: who, which line and plan, when, and the backups it was accepted with."""

    def text(value: object) -> str:
        # The PDF core fonts speak Latin-1; anything else would stop the print.
        return str(value).encode("latin-1", "replace").decode("latin-1")

    pdf = FPDF(format="A4")
    pdf.set_title(text(f"Contrato {contract['number']}"))
    pdf.set_author("Contrato Digital - Pospago")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 10, text("Contrato de Servicio Móvil Pospago"), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("Helvetica", "", 11)
    printed = now().astimezone(LA_PAZ)
    rows = [
        ("Número de contrato", contract["number"]),
        ("Fecha del contrato", _local(contract["saved_at"])),
        ("Impreso el", f"{printed:%d/%m/%Y %H:%M}"),
        ("Línea", contract["line"]),
        ("Titular", contract["holder_name"]),
        ("CI del titular", contract["holder_ci"]),
        ("Plan", contract["plan"]),
        ("Ciudad", contract["city"]),
    ]
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(55, 8, text(label))
        pdf.set_font("Helvetica", "", 11)
        pdf.cell(0, 8, text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, text("Respaldos adjuntos"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for backup in contract["backups"]:
        pdf.cell(0, 7, text(f"- {backup['kind']}: {backup['file_name']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.multi_cell(
        0,
        6,
        text(
            "El titular acepta las características del plan y los términos y condiciones del servicio "
            "pospago, aceptados por WhatsApp con la palabra ACEPTO. Las facturas estarán disponibles "
            "mensualmente en los canales de pago habilitados."
        ),
    )
    return bytes(pdf.output())


def create_app(world: World) -> FastAPI:
    console = LegacyConsole(world, "contrato", "Contrato Digital - Pospago", home="/contratos")
    console.templates.env.filters["console_time"] = console_time
    app = console.app

    def records() -> dict[str, Any]:
        return world.state.records.setdefault("contrato", {"contracts": [], "tasks": [], "answers_used": {}})

    def find(kind: str, number: str) -> dict[str, Any] | None:
        return next((r for r in records()[kind] if r["number"] == number), None)

    def log(record: dict[str, Any], event: str) -> None:
        record["history"].append({"at": now().isoformat(), "event": event})

    def keep_upload(kind: str, file_name: str, content_type: str, content: bytes) -> dict[str, Any]:
        blob_id = world.next_id()
        world.blobs[blob_id] = content
        return {
            "kind": kind,
            "file_name": file_name,
            "content_type": content_type,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "blob_id": blob_id,
            "attached_at": now().isoformat(),
        }

    def analysts_answer(task: dict[str, Any], contract: dict[str, Any]) -> None:
        """The activations analysts review the task: the line's next scripted answer, else approval
        ("silent": they never answer it)."""
        line = world.state.lines.get(contract["line"])
        answers = line.analyst_answers if line is not None else []
        used = records()["answers_used"].get(contract["line"], 0)
        records()["answers_used"][contract["line"]] = used + 1
        answer = answers[used] if used < len(answers) else None
        verdict = answer.verdict if answer is not None else "approved"
        if verdict == "silent":
            return  # the analysts never get to it: the task stays pending
        task["missing_backup"] = task["reason"] = None
        if verdict == "approved":
            task["status"], contract["state"] = "aprobada", "aprobado"
            log(task, "Aprobada por análisis de activaciones")
            activate(contract)
        elif verdict == "fixable":
            task["status"], contract["state"] = "observada", "observado"
            task["missing_backup"] = (answer.missing_backup if answer else None) or "Respaldo no especificado"
            log(task, f"Observada (subsanable): falta {task['missing_backup']}")
        else:
            task["status"], contract["state"] = "rechazada", "observado"
            task["reason"] = (answer.reason if answer else None) or "No cumple la política de activaciones"
            log(task, f"Rechazada (no subsanable): {task['reason']}")
        task["answered_at"] = now().isoformat()

    def activate(contract: dict[str, Any]) -> None:
        """Approving is the analysts activating the plan AR refused (PROCESS.md 9.4 a): the shared line
        becomes postpaid on the contract's plan, once; a line already postpaid is left as it is."""
        line = world.state.lines.get(contract["line"])
        if line is None or line.plan_type == "Pospago":
            return
        line.plan_type, line.plan, line.migrated_at = "Pospago", contract["plan"], now()
        line.migrations += 1
        log(contract, f"Plan {contract['plan']} activado por activaciones")

    def submit_for_analysis(task: dict[str, Any], contract: dict[str, Any]) -> None:
        task["status"], contract["state"] = "pendiente", "en_revision"
        task["submissions"] += 1
        log(task, "Enviada a análisis de activaciones")
        log(contract, f"En revisión de activaciones (tarea {task['number']})")
        analysts_answer(task, contract)

    # -- screens ------------------------------------------------------------------------------
    def contract_form(request: Request, values: dict[str, str], errors: list[str] | None = None) -> Response:
        return console.render(
            request,
            "contrato/new.html",
            {
                "values": values,
                "errors": errors or [],
                "kinds": BACKUP_KINDS,
                "required": REQUIRED_KINDS,
            },
        )

    def contract_view(
        request: Request,
        contract: dict[str, Any],
        *,
        message: str | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        return console.render(
            request,
            "contrato/detail.html",
            {
                "contract": contract,
                "state_label": CONTRACT_STATES[contract["state"]],
                "printable": contract["state"] in PRINTABLE,
                "can_send": contract["state"] == "guardado",
                "message": message,
                "error": error,
            },
            status_code=status_code,
        )

    def task_view(
        request: Request,
        task: dict[str, Any],
        *,
        message: str | None = None,
        error: str | None = None,
        reason: str = "",
    ) -> Response:
        return console.render(
            request,
            "contrato/task.html",
            {
                "task": task,
                "status_label": TASK_STATES[task["status"]],
                "kinds": list(BACKUP_KINDS.values()),
                "can_reply": task["status"] == "observada",
                "can_dismiss": task["status"] in ("observada", "rechazada"),
                "message": message,
                "error": error,
                "reason": reason,
            },
        )

    def contract_list(request: Request, error: str | None = None, line: str = "") -> Response:
        contracts = [c for c in reversed(records()["contracts"]) if not line or c["line"] == line]
        return console.render(
            request,
            "contrato/list.html",
            {"contracts": contracts, "states": CONTRACT_STATES, "error": error, "line": line},
        )

    def task_list(request: Request, error: str | None = None) -> Response:
        return console.render(
            request,
            "contrato/tasks.html",
            {
                "tasks": list(reversed(records()["tasks"])),
                "states": TASK_STATES,
                "error": error,
            },
        )

    @app.get("/_alive")
    async def alive() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/")
    async def home(request: Request) -> Response:
        console.require_session(request)
        return RedirectResponse("/contratos", status_code=303)

    @app.get("/contratos")
    async def contracts(request: Request, linea: str = "") -> Response:
        console.require_session(request)
        return contract_list(request, line=re.sub(r"[\s-]", "", linea))

    @app.get("/contratos/nuevo")
    async def new_contract(request: Request) -> Response:
        console.require_session(request)
        return contract_form(request, {key: "" for key in FIELDS})

    @app.post("/contratos")
    async def save_contract(request: Request) -> Response:
        console.require_session(request)
        form = await request.form()
        values = {key: str(form.get(key, "")).strip() for key in FIELDS}
        values["linea"] = re.sub(r"[\s-]", "", values["linea"])
        errors = []
        if not LINE_NUMBER.match(values["linea"]):
            errors.append("Ingrese un número de línea válido (8 dígitos que empiezan con 6 o 7).")
        elif values["linea"] not in world.state.lines:
            errors.append(f"La línea {values['linea']} no está registrada en el sistema.")
        for key, label in (("titular", "Titular"), ("ci", "CI del titular"), ("plan", "Plan"), ("ciudad", "Ciudad")):
            if not values[key]:
                errors.append(f"El campo {label} es obligatorio.")
        uploads: list[tuple[str, UploadFile, bytes]] = []
        for field, kind in BACKUP_KINDS.items():
            upload = form.get(field)
            # A file input left empty still sends a part, with no file name and no bytes.
            if isinstance(upload, UploadFile) and upload.filename:
                content = await upload.read()
                if not content:
                    errors.append(f"El archivo de {kind} está vacío.")
                elif len(content) > MAX_FILE_BYTES:
                    errors.append(f"El archivo de {kind} supera los 5 MB permitidos.")
                else:
                    uploads.append((kind, upload, content))
        attached = {kind for kind, _, _ in uploads}
        missing = [kind for kind in REQUIRED_KINDS if kind not in attached]
        if missing:
            errors.append(f"No se puede guardar el contrato: faltan respaldos obligatorios: {', '.join(missing)}.")
        if errors:
            return contract_form(request, values, errors)
        number = f"CD-{100 + len(records()['contracts']) + 1:06d}"
        contract = {
            "number": number,
            "line": values["linea"],
            "holder_name": values["titular"],
            "holder_ci": values["ci"],
            "plan": values["plan"],
            "city": values["ciudad"],
            "state": "guardado",
            "saved_at": now().isoformat(),
            "printed_at": None,
            "prints": 0,
            "task": None,
            "history": [],
            "backups": [
                keep_upload(kind, upload.filename or kind, upload.content_type or "application/octet-stream", content)
                for kind, upload, content in uploads
            ],
        }
        log(contract, "Guardado")
        records()["contracts"].append(contract)
        return RedirectResponse(f"/contratos/{number}?guardado=1", status_code=303)

    @app.get("/contratos/{number}")
    async def contract_detail(request: Request, number: str, guardado: int = 0, enviado: int = 0) -> Response:
        console.require_session(request)
        contract = find("contracts", number)
        if contract is None:
            return contract_list(request, f"El contrato {number} no existe.")
        message = None
        if guardado:
            message = f"Contrato {number} guardado correctamente."
        elif enviado and contract["task"]:
            message = f"Contrato {number} enviado a análisis de activaciones: tarea {contract['task']}."
        return contract_view(request, contract, message=message)

    @app.post("/contratos/{number}/imprimir")
    async def print_contract(request: Request, number: str) -> Response:
        console.require_session(request)
        contract = find("contracts", number)
        if contract is None:
            return contract_list(request, f"El contrato {number} no existe.")
        if contract["state"] not in PRINTABLE:
            return contract_view(
                request,
                contract,
                error=(
                    f"El contrato {number} no puede imprimirse en estado {CONTRACT_STATES[contract['state']]}: "
                    "solo se imprimen contratos guardados o aprobados por activaciones."
                ),
            )
        pdf = contract_pdf(contract)
        contract["state"], contract["printed_at"] = "impreso", now().isoformat()
        contract["prints"] += 1
        log(contract, "Impreso")
        return Response(
            pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{number}.pdf"'}
        )

    @app.post("/contratos/{number}/enviar")
    async def send_contract(request: Request, number: str) -> Response:
        console.require_session(request)
        contract = find("contracts", number)
        if contract is None:
            return contract_list(request, f"El contrato {number} no existe.")
        if contract["state"] != "guardado":
            return contract_view(
                request,
                contract,
                error=(
                    f"El contrato {number} ya no puede enviarse a análisis "
                    f"(estado {CONTRACT_STATES[contract['state']]})."
                ),
            )
        task = {
            "number": f"TA-{len(records()['tasks']) + 1:06d}",
            "contract": number,
            "line": contract["line"],
            "status": "pendiente",
            "missing_backup": None,
            "reason": None,
            "dismiss_reason": None,
            "submissions": 0,
            "created_at": now().isoformat(),
            "answered_at": None,
            "replies": [],
            "history": [],
        }
        records()["tasks"].append(task)
        contract["task"] = task["number"]
        submit_for_analysis(task, contract)
        return RedirectResponse(f"/contratos/{number}?enviado=1", status_code=303)

    @app.get("/respaldos/{blob_id}")
    async def backup_file(request: Request, blob_id: int) -> Response:
        console.require_session(request)
        for contract in records()["contracts"]:
            for backup in contract["backups"]:
                if backup["blob_id"] == blob_id:
                    return Response(
                        world.blobs[blob_id],
                        media_type=backup["content_type"],
                        headers={"Content-Disposition": f'attachment; filename="{backup["file_name"]}"'},
                    )
        return contract_list(request, "El respaldo solicitado no existe.")

    @app.get("/tareas")
    async def tasks(request: Request) -> Response:
        console.require_session(request)
        return task_list(request)

    @app.get("/tareas/{number}")
    async def task_detail(request: Request, number: str, respondida: int = 0, desestimada: int = 0) -> Response:
        console.require_session(request)
        task = find("tasks", number)
        if task is None:
            return task_list(request, f"La tarea {number} no existe.")
        message = None
        if respondida:
            message = f"Tarea {number} respondida y reenviada a análisis de activaciones."
        elif desestimada:
            message = f"Tarea {number} completada como desestimada."
        return task_view(request, task, message=message)

    @app.post("/tareas/{number}/responder")
    async def reply_task(request: Request, number: str) -> Response:
        console.require_session(request)
        task = find("tasks", number)
        if task is None:
            return task_list(request, f"La tarea {number} no existe.")
        form = await request.form()
        if task["status"] != "observada":
            return task_view(
                request, task, error=(f"La tarea {number} no admite respuesta en estado {TASK_STATES[task['status']]}.")
            )
        kind = str(form.get("tipo", ""))
        upload = form.get("documento")
        content = await upload.read() if isinstance(upload, UploadFile) and upload.filename else b""
        if kind not in BACKUP_KINDS.values():
            return task_view(request, task, error="Seleccione el tipo de respaldo que adjunta.")
        if not content or not isinstance(upload, UploadFile):
            return task_view(request, task, error="Adjunte el documento solicitado por activaciones.")
        if len(content) > MAX_FILE_BYTES:
            return task_view(request, task, error="El documento supera los 5 MB permitidos.")
        contract = find("contracts", task["contract"])
        assert contract is not None
        backup = keep_upload(kind, upload.filename or kind, upload.content_type or "application/octet-stream", content)
        contract["backups"].append(backup)
        task["replies"].append(
            {
                "kind": kind,
                "file_name": backup["file_name"],
                "at": backup["attached_at"],
                "comment": str(form.get("comentario", "")).strip(),
            }
        )
        log(task, f"Respondida con {kind}: {backup['file_name']}")
        submit_for_analysis(task, contract)
        return RedirectResponse(f"/tareas/{number}?respondida=1", status_code=303)

    @app.post("/tareas/{number}/desestimar")
    async def dismiss_task(request: Request, number: str) -> Response:
        console.require_session(request)
        task = find("tasks", number)
        if task is None:
            return task_list(request, f"La tarea {number} no existe.")
        form = await request.form()
        reason = str(form.get("motivo", "")).strip()
        if task["status"] not in ("observada", "rechazada"):
            return task_view(
                request,
                task,
                error=(f"La tarea {number} no puede desestimarse en estado {TASK_STATES[task['status']]}."),
            )
        if not reason:
            return task_view(request, task, error="Indique el motivo de la desestimación.")
        contract = find("contracts", task["contract"])
        assert contract is not None
        task["status"], task["dismiss_reason"] = "desestimada", reason
        contract["state"] = "desestimado"
        log(task, f"Completada como desestimada: {reason}")
        log(contract, f"Desestimado: {reason}")
        return RedirectResponse(f"/tareas/{number}?desestimada=1", status_code=303)

    return app
