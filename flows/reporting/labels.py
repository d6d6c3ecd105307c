"""Every word the run report shows a person: states, outcomes, step titles and what each step did.

The run store keeps codes (a flow's state, its outcome, a step's name and outcome); this module turns
them into the contact centre's Spanish. Steps are known by the name the run store recorded for them, and
:data:`STEPS` is the one place that lists them. A name, state or outcome not listed here is shown as it
was recorded: a step renamed or added in the flow makes a plainer report, never a broken one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger

from flows.reporting.assets import CUSTOMER_FOLDER

#: Shown instead of the customer's documents, which are personal data.
PERSONAL_NOTE = "Dato personal del cliente: no se muestra en el informe."
#: Shown instead of the size of an evidence file that is no longer on disk.
MISSING_FILE = "falta el archivo"

#: A flow's state: (label, tone); the tone picks the colour.
STATES: dict[str, tuple[str, str]] = {
    "running": ("en curso", "info"),
    "waiting": ("esperando", "warn"),
    "ended": ("terminado", "ok"),
    "failed": ("falló", "bad"),
}

#: Where the drawn path ends, by the flow's state: (CSS mark of the last node, its tag).
RUN_MARKS: dict[str, tuple[str, str]] = {
    "ended": ("final", "fin"),
    "failed": ("failed", "falló aquí"),
    "waiting": ("waiting", "espera aquí"),
    "running": ("current", "aquí ahora"),
}

#: How a flow ended.
OUTCOMES: dict[str, str] = {
    "migrated": "Línea migrada a pospago",
    "incontactable": "Cliente incontactable",
    "datos_incompletos": "Datos del ticket incompletos",
    "derivado_gobierno": "Derivado a Ejecutivos Gobierno (Syshelp)",
    "rechazo_fr_ro": "Rechazo: línea en FR/RO",
    "derivado_portabilidad": "Derivado a portabilidad (Autoagenda)",
    "otra_compania_sin_interes": "Línea de otra compañía, sin interés",
    "recuperacion_sim_pendiente": "Línea 3G: recuperación de SIM pendiente",
    "sim_3g_sin_acuerdo": "Línea 3G: el cliente no acepta",
    "deuda_otra_operadora": "Deuda en otra operadora (MP)",
    "sin_respuesta_oferta": "Sin respuesta a la oferta",
    "revision_documentos_pendiente": "Revisión de documentos pendiente",
    "no_titular": "El cliente no es titular",
    "sin_respuesta_tyc": "Sin respuesta a T&C",
    "no_acepta_tyc": "No acepta T&C",
    "sin_respuesta_token": "Sin respuesta al token",
    "deuda_historica": "Deuda histórica móvil",
    "analistas_sin_respuesta": "Analistas sin respuesta",
    "infactible": "Solicitud infactible",
    "sin_respuesta_subsanacion": "Sin respuesta a la observación",
    "ar_sin_resolver": "AR sin resolver: decide una persona",
    "regla_sin_cubrir": "Caso sin regla del proceso: decide una persona",
    "terminado_por_agente": "Terminado por un agente",
    "agente_sin_respuesta": "Nadie respondió al pedido del robot",
}

#: A step's outcome: (label, tone).
STEP_OUTCOMES: dict[str, tuple[str, str]] = {
    "open": ("ticket Abierto", "neutral"),
    "pending": ("ticket Pendiente", "neutral"),
    "hold": ("ticket En Espera", "neutral"),
    "solved": ("ticket Resuelto", "ok"),
    "new": ("ticket Nuevo", "neutral"),
    "done": ("hecho", "neutral"),
    "yes": ("sí", "neutral"),
    "no": ("no", "neutral"),
    "failed": ("falló", "bad"),
    "eligible": ("apta (AC + LTE)", "ok"),
    "no_result": ("sin resultado", "warn"),
    "migrated": ("migrada", "ok"),
    "not_migrated": ("no migrada", "warn"),
    "refused": ("rechazada por AR", "warn"),
}


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------
def _macro(output: Any) -> str | None:
    if not hasattr(output, "title"):
        return None
    # Macro titles are long paths ("Móvil::WhatsApp::…::Primer contacto"): the last two parts say enough.
    title = output.title.split("::")
    short = "::".join(title[-2:]) if len(title) > 1 else output.title
    state = f" · Estado de Pedido: {output.order_state}" if getattr(output, "order_state", None) else ""
    return f"{short}{state}"


def _contract(output: Any) -> str | None:
    return f"contrato {output}" if isinstance(output, str) else None


def _analysis(output: Any) -> str | None:
    if not hasattr(output, "task_number"):
        return None
    return f"contrato {output.contract_number}, tarea {output.task_number}"


def _migration(output: Any) -> str | None:
    return getattr(output, "message", "") or None


def _derivation(output: Any) -> str | None:
    number = getattr(getattr(output, "result", None), "number", None)
    return f"derivación Syshelp {number}" if number else None


def _review_note(output: Any) -> str | None:
    return f"nota interna #{output}" if isinstance(output, int) else None


def _customer_files(output: Any) -> str | None:
    return f"{len(output)} archivo(s) en {CUSTOMER_FOLDER}/" if isinstance(output, list) else None


def _nit(output: Any) -> str | None:
    lookup = getattr(output, "result", output)
    if not hasattr(lookup, "is_government"):
        return None
    return "entidad de gobierno" if lookup.is_government else "no es entidad de gobierno"


def _task_reason(output: Any) -> str | None:
    return getattr(output, "reason", None) or None


@dataclass(frozen=True)
class StepLabel:
    """How the report shows one kind of step."""

    title: str
    #: One line of what the step did, from its result as DBOS kept it (never customer text).
    detail: Callable[[Any], str | None] | None = None
    #: Read over and over while the flow waits: runs of identical results fold into one row.
    polled: bool = False


#: Every step the report knows, by the name the run store records for it.
STEPS: dict[str, StepLabel] = {
    "register": StepLabel("Registrar el flujo"),
    "read_ticket": StepLabel("Leer el ticket"),
    "apply_macro": StepLabel("Aplicar macro", _macro),
    "public_reply": StepLabel("Respuesta pública"),
    "request_document_review": StepLabel("Pedir revisión de CI y selfie", _review_note),
    "save_customer_documents": StepLabel("Guardar documentos del cliente", _customer_files),
    "terms_acceptance_evidence": StepLabel("Evidencia de aceptación de T&C"),
    "plans_image": StepLabel("Imagen de planes vigentes"),
    "preanalysis": StepLabel("Preanálisis en Planifícate"),
    "line_status": StepLabel("Estado de la línea en Qvantel"),
    "confirm_line": StepLabel("Confirmar línea en Qvantel"),
    "lookup_nit": StepLabel("Consultar NIT en Impuestos", _nit),
    "derive_to_government": StepLabel("Derivar por Syshelp", _derivation),
    "issue_token": StepLabel("Generar token en AR"),
    "migrate_once": StepLabel("Migrar en AR", _migration),
    "historical_debt": StepLabel("Deuda histórica en BCCS"),
    "change_billing": StepLabel("Cambiar facturación en BCCS"),
    "upload_contract": StepLabel("Subir contrato digital", _contract),
    "print_contract": StepLabel("Imprimir contrato (PDF)"),
    "send_to_analysis": StepLabel("Enviar contrato a análisis", _analysis),
    "task_answer": StepLabel("Leer la tarea de los analistas", _task_reason, polled=True),
    "answer_task": StepLabel("Responder la observación"),
    "dismiss_task": StepLabel("Desestimar la tarea"),
    "hand_off": StepLabel("Pedir ayuda a un agente"),
    "hand_back": StepLabel("El agente respondió"),
    "robot_note": StepLabel("Nota interna del robot"),
    "token_expired": StepLabel("¿Venció el token? (AR)", lambda output: "vencido" if output is True else "vigente"),
}


def step(name: str) -> StepLabel:
    """How to show the step; a name not in :data:`STEPS` shows as itself."""
    return STEPS.get(name) or StepLabel(title=name)


def step_title(name: str) -> str:
    return step(name).title


def step_detail(name: str, output: Any) -> str | None:
    """One line of what the step did, or None when its result says nothing worth a line."""
    describe = step(name).detail
    if output is None or describe is None:
        return None
    try:
        return describe(output)
    except Exception as exc:
        logger.debug("no detail for step {} from {!r}: {}", name, output, exc)
        return None


def polled(name: str) -> bool:
    return step(name).polled


# ---------------------------------------------------------------------------------------------
# Runs, outcomes, waits
# ---------------------------------------------------------------------------------------------
def code(value: Any) -> str:
    """A code as the store means it: an enum member stands for its value, nothing for ``""``."""
    return "" if value is None else str(getattr(value, "value", value))


def state(value: Any) -> dict[str, str]:
    key = code(value)
    label, tone = STATES.get(key, (key or "?", "neutral"))
    return {"code": key, "label": label, "tone": tone}


def outcome(value: Any) -> dict[str, str] | None:
    key = code(value)
    if not key:
        return None
    return {"code": key, "label": OUTCOMES.get(key, key.replace("_", " "))}


def step_outcome(value: Any) -> dict[str, str]:
    if value is None:
        return {"label": "en curso", "tone": "info"}
    key = code(value)
    label, tone = STEP_OUTCOMES.get(key, (key.replace("_", " "), "neutral"))
    return {"label": label, "tone": tone}


def run_mark(state_value: Any, outcome_value: Any) -> tuple[str | None, str]:
    """The CSS mark and the tag of the last node of the drawn path."""
    mark, label = RUN_MARKS.get(code(state_value), (None, ""))
    if code(state_value) == "ended" and code(outcome_value) == "migrated":
        mark = "final success"
    return mark, label


def wait(output: Any) -> tuple[str, dict[str, str]]:
    """The title and outcome of a wait, from the message that ended it (None when none came in time)."""
    if isinstance(output, dict) and "approve" in output:
        title, said = "Espera: revisión de una persona", ("aprobado" if output["approve"] else "rechazado")
    elif isinstance(output, dict) and "comment_id" in output:
        title = "Espera: respuesta del cliente"
        said = "respondió" + (" con adjuntos" if output.get("attachments") else "")
    elif isinstance(output, dict):
        title, said = "Espera: aviso", "recibido"
    else:
        title, said = "Espera", "sin respuesta en el plazo"
    return title, {"label": said, "tone": "neutral" if output is not None else "warn"}
