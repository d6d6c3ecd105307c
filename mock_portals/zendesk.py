"""Mock of Zendesk Support: the REST API the robots read tickets, apply macros and post evidence through.

It follows the real API's shapes (Basic auth with an API token, paths with or without ``.json``, cursor
and offset pagination, files uploaded first and then referenced by token on a ticket update, macros
previewed with ``/apply`` and saved by the client, Zendesk's error JSON) so the same client runs against a
real account. The account is configured as PROCESS.md describes it: the ticket fields the bot Liza fills,
the "Estado de Pedido" drop-down, every macro of the process with its status and order state, the
macros agents ask the robot for one step with (``RPA: Preanálisis (robot)``...: each only adds its step's
tag, which a trigger sends to ``rpa serve``), and the views agents follow tickets up from, "Robot: necesita agente" among them: the tickets the robot handed
over to a person (tag ``rpa_necesita_agente``) and not solved yet.

A ticket update takes ``tags`` (the whole list), ``additional_tags`` and ``remove_tags`` as Zendesk does;
tags are lower case and unique, and a drop-down's option tag and the field's value follow each other:
removing the tag clears the field, adding an option's tag sets it.

The agent page (``/agent/tickets``) is for people: it shows a conversation as an agent sees it, internal
notes apart, lets someone type the customer's WhatsApp messages, and hosts the account's installed apps in
its sidebar (``mock_portals.zendesk_apps``).

Webhooks and triggers (``mock_portals.zendesk_webhooks``), the incremental exports
(``mock_portals.zendesk_exports``) and the rate limits (``mock_portals.zendesk_limits``) build on this
module and are added to its app by ``mock_portals.zendesk_service``, the app the servers run. Every
change this module makes to a ticket is committed as one update (``World.commit_ticket``), so triggers
run once per update, as in Zendesk.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from mock_portals.common import TEMPLATES, fault_middleware, now
from mock_portals.world import (
    AGENT_USER_ID,
    BOT_USER_ID,
    Attachment,
    Comment,
    Ticket,
    User,
    World,
    tag_of,
)
from mock_portals.zendesk_apps import sidebar_apps

PORTAL = "zendesk"

# --------------------------------------------------------------------------------------------
# The account's configuration. Ids are fixed so scenarios, tests and a person reading JSON agree.
# --------------------------------------------------------------------------------------------
ORDER_STATE_FIELD_ID = 360001000001
HOLDER_NAME_FIELD_ID = 360001000002
HOLDER_CI_FIELD_ID = 360001000003
LINE_FIELD_ID = 360001000004
CITY_FIELD_ID = 360001000005
BILLING_NAME_FIELD_ID = 360001000006
BILLING_NIT_FIELD_ID = 360001000007

ORDER_STATE_TITLE = "Estado de Pedido"

#: Text fields: id -> (title, the ``TicketFieldsSpec`` attribute the bot fills). Their values live in
#: ``ticket.fields`` (read and written there), so the world keeps one copy of what Liza collected.
TEXT_FIELDS: dict[int, tuple[str, str]] = {
    HOLDER_NAME_FIELD_ID: ("Nombre del titular", "holder_name"),
    HOLDER_CI_FIELD_ID: ("CI del titular", "holder_ci"),
    LINE_FIELD_ID: ("Línea a migrar", "line"),
    CITY_FIELD_ID: ("Ciudad", "city"),
    BILLING_NAME_FIELD_ID: ("Facturación a nombre de", "billing_name"),
    BILLING_NIT_FIELD_ID: ("NIT de facturación", "billing_nit"),
}
CUSTOM_FIELD_IDS: tuple[int, ...] = (ORDER_STATE_FIELD_ID, *TEXT_FIELDS)

#: Options of "Estado de Pedido": every value of PROCESS.md's macro table. The table writes both
#: "En progreso::Datos Insuficientes" and "En progreso::Datos insuficientes"; Zendesk derives each
#: option's tag in lower case and tags must be unique, so a single option (the first spelling) stands
#: for both, and the macros written with the other spelling set that same tag.
ORDER_STATES: tuple[str, ...] = (
    "En progreso",
    "En progreso::Datos Insuficientes",
    "En progreso::En Gestión",
    "Acepta::Plan Recomendado",
    "No Aplica::Incontactable",
    "No aplica::Contrato en otra Telefonía",
    "No califica::Mora",
    "No clasifica::OTRO",
)
ORDER_STATE_OPTION_ID_BASE = 360001100000
ORDER_STATE_TAGS: dict[str, str] = {tag_of(name): name for name in ORDER_STATES}

#: The Spanish agent UI's statuses and the API's.
STATUS_API: dict[str, str] = {"Abierto": "open", "Pendiente": "pending", "En Espera": "hold", "Resuelto": "solved"}
STATUS_LABELS: dict[str, str] = {"new": "Nuevo", **{api: ui for ui, api in STATUS_API.items()}, "closed": "Cerrado"}
#: What an update may set; "new" cannot come back and "closed" is Zendesk's own doing.
UPDATABLE_STATUSES = frozenset(STATUS_API.values())

#: Configuration objects are older than any ticket; a fixed date keeps their JSON stable.
ACCOUNT_CREATED = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class MacroSpec:
    """One macro of PROCESS.md's table: short name, title path, UI status, Estado de Pedido, reply."""

    short_name: str
    title: str
    status: str
    order_state: str | None
    reply: str


#: Macro ids are ``MACRO_ID_BASE + row`` (1-based row of PROCESS.md's "Macros" table).
MACRO_ID_BASE = 360002000000
MACROS: tuple[MacroSpec, ...] = (
    MacroSpec(
        "Primer contacto",
        "Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Primer contacto",
        "En Espera",
        "En progreso::Datos Insuficientes",
        "¡Hola! Gracias por escribirnos. Con gusto te ayudamos a pasar tu línea prepago a un plan pospago. "
        "Por favor, indícanos el nombre completo y el número de carnet de identidad del titular, la línea "
        "que deseas migrar y la ciudad desde la que nos escribes. ¿La factura será a nombre del titular?",
    ),
    MacroSpec(
        "Segundo contacto",
        "Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Segundo contacto",
        "Pendiente",
        "En progreso::Datos Insuficientes",
        "¡Hola de nuevo! Seguimos atentos a tu solicitud de plan pospago. Para continuar necesitamos el "
        "nombre completo y el carnet de identidad del titular, la línea a migrar y tu ciudad.",
    ),
    MacroSpec(
        "Cliente no Contesta",
        "Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Cliente No Contesta::Mega Plan X",
        "Pendiente",
        "No Aplica::Incontactable",
        "Hola, intentamos comunicarnos contigo para continuar con tu solicitud del Mega Plan, sin recibir "
        "respuesta. Cuando quieras retomarla, escríbenos a este mismo número y con gusto te atenderemos.",
    ),
    MacroSpec(
        "Gestión",
        "Respuesta rápida::Opción 4",
        "Abierto",
        None,
        "Gracias por la información. Estamos procesando tu consulta en nuestro sistema; las validaciones "
        "tomarán unos minutos. Te escribimos apenas tengamos el resultado.",
    ),
    MacroSpec(
        "Rechazo FR/RO",
        "Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea en FR/RO",
        "Resuelto",
        "No clasifica::OTRO",
        "Lamentamos informarte que tu línea tiene una restricción que no permite la migración por ahora. "
        "Te invitamos a acercarte a cualquiera de nuestras oficinas con tu carnet de identidad para "
        "regularizarla.",
    ),
    MacroSpec(
        "Línea de otra compañía",
        "Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea de otra compañía",
        "Pendiente",
        "No aplica::Contrato en otra Telefonía",
        "Verificamos que la línea indicada pertenece a otra compañía. Para acceder a nuestros planes "
        "pospago puedes solicitar la portabilidad de tu número en una de nuestras oficinas. "
        "¿Te interesa hacer la portación?",
    ),
    MacroSpec(
        "Derivación Autoagenda Cita Web",
        "Móvil::WhatsApp::Migración de Pre a Post::No califica::Derivación Autogenda Cita Web",
        "Resuelto",
        None,
        "¡Excelente! Puedes agendar tu cita de portabilidad en nuestra página web, en la sección "
        "Autoagenda Cita Web, eligiendo la oficina y el horario que prefieras. ¡Te esperamos!",
    ),
    MacroSpec(
        "Línea 3G",
        "Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea 3G",
        "En Espera",
        None,
        "Tu línea usa un chip 3G. Para migrar a un plan pospago primero debes renovar tu chip a uno LTE "
        "en cualquiera de nuestras oficinas, salvo que prefieras activar el plan en una línea nueva. "
        "¿Cómo deseas continuar?",
    ),
    MacroSpec(
        "Deuda en Otra Operadora MP",
        "Móvil::WhatsApp::Migración de Pre a Post::No califica::Deuda en Otra Operadora MP",
        "Pendiente",
        "No califica::Mora",
        "Verificamos que tu línea tiene una deuda pendiente con tu anterior operadora. Para continuar, "
        "primero debes regularizarla con ella; cuando lo hayas hecho, escríbenos y con gusto te ayudamos.",
    ),
    MacroSpec(
        "Oferta confirmada",
        "Móvil::WhatsApp::Migración de Pre a Post::Oferta::Línea Confirmada + Plan",
        "En Espera",
        "En progreso::Datos insuficientes",
        "¡Buenas noticias! Tu línea puede migrar a un plan pospago. Te enviamos la imagen con los planes "
        "vigentes. Para continuar, dinos qué plan eliges y envíanos una foto del anverso y del reverso de "
        "tu carnet de identidad vigente y una selfie sosteniendo tu carnet mientras haces una seña.",
    ),
    MacroSpec(
        "Oferta sin confirmación",
        "Móvil::WhatsApp::Migración de Pre a Post::Oferta::Línea sin confirmación + Plan",
        "En Espera",
        "En progreso::Datos insuficientes",
        "¡Buenas noticias! Tu línea puede migrar a un plan pospago. Te enviamos la imagen con los planes "
        "vigentes. Para continuar, dinos qué plan eliges y envíanos una foto del anverso y del reverso de "
        "tu carnet de identidad vigente y una selfie sosteniendo tu carnet mientras haces una seña. Como tu "
        "línea aún no está confirmada a tu nombre, al enviarnos estas fotos nos autorizas a confirmarla.",
    ),
    MacroSpec(
        "Recontacto sin Respuesta",
        "Móvil::WhatsApp::Migración Pre a Post::Recontacto Sin Respuesta",
        "Pendiente",
        "En progreso::Datos Insuficientes",
        "Hola, seguimos esperando tu respuesta para continuar con tu plan pospago. Por favor respóndenos "
        "o indícanos un horario en el que podamos contactarte.",
    ),
    MacroSpec(
        "Cliente no es titular",
        "Transacción no exitosa::Cliente no es titular",
        "Resuelto",
        None,
        "Lamentamos informarte que no podemos continuar con la solicitud: los datos enviados no "
        "corresponden al titular de la línea, y la migración debe solicitarla el titular.",
    ),
    MacroSpec(
        "Confirmación Plan + T&C",
        "Móvil::WhatsApp::Confirmación::Plan + T&C sin Teléfono",
        "En Espera",
        "En progreso::En Gestión",
        "Para completar tu migración, confirma que aceptas las características del plan elegido y sus "
        "términos y condiciones del servicio respondiendo con la palabra ACEPTO.",
    ),
    MacroSpec(
        "Envío SMS por AR",
        "Móvil::WhatsApp::Migración de Pre a Post::Tocken::Envío SMS por AR",
        "En Espera",
        "En progreso::En Gestión",
        "En unos momentos recibirás un SMS del número 7371 con un código de verificación. Por favor, "
        "envíanoslo por este medio apenas te llegue: vence en unos 10 minutos.",
    ),
    MacroSpec(
        "2do Tocken",
        "Móvil::WhatsApp::Migración de Pre a Post::Tocken::Envío SMS 2do Tocken por Vencimiento",
        "En Espera",
        "En progreso::En Gestión",
        "El código anterior venció. Te enviamos un nuevo SMS desde el número 7371 con otro código de "
        "verificación; por favor compártelo con nosotros apenas lo recibas.",
    ),
    MacroSpec(
        "Tocken: Cliente no contesta",
        "Móvil::WhatsApp::Migración de Pre a Post::Tocken::Cliente no contesta",
        "Pendiente",
        "En progreso::En Gestión",
        "No recibimos el código de verificación. ¿Estás disponible para que generemos uno nuevo? Si "
        "prefieres, indícanos un horario en el que podamos contactarte.",
    ),
    MacroSpec(
        "Deuda Histórica Móvil",
        "Móvil::WhatsApp::Migración Pre a Post::No Califica::Deuda Histórica Móvil",
        "Resuelto",
        "No califica::Mora",
        "Lamentamos informarte que no es posible realizar la migración porque registras una deuda "
        "histórica pendiente con nosotros. Una vez cancelada, podrás solicitar nuevamente tu plan pospago.",
    ),
    MacroSpec(
        "Análisis de Riesgo",
        "Móvil::WhatsApp::Migración de Pre a Post::Rechaza::En Revisión de Activaciones",
        "En Espera",
        None,
        "Tu solicitud está en proceso de aprobación en nuestra área de activaciones. Te contactaremos "
        "nuevamente apenas tengamos una respuesta.",
    ),
    MacroSpec(
        "Subsanar Observación",
        "Móvil::WhatsApp::Migración de Pre a Post::Rechaza::Corregir observación",
        "En Espera",
        "En progreso",
        "Para continuar con la aprobación de tu solicitud necesitamos un dato o documento adicional. "
        "Por favor envíanos lo que te detallamos a continuación.",
    ),
    MacroSpec(
        "Solicitud Infactible",
        "Móvil::WhatsApp::Migración de Pre a Post::Rechaza::Solicitud Infactible",
        "Resuelto",
        None,
        "Lamentamos informarte que tu solicitud de migración no pudo ser aprobada. Gracias por tu "
        "interés; quedamos a tu disposición para cualquier otra consulta.",
    ),
    MacroSpec(
        "Migración Exitosa",
        "Móvil::WhatsApp::Migración Pre a Post::Activación Exitosa::Línea Sin Equipo",
        "Resuelto",
        "Acepta::Plan Recomendado",
        "¡Felicidades! Tu línea ya está en tu nuevo plan pospago. Te adjuntamos tu contrato en PDF con los "
        "términos y condiciones, los canales de pago y las fechas en que tendrás disponibles tus facturas.",
    ),
    MacroSpec(
        "Despedida",
        "BO::Despedida al resolver",
        "Resuelto",
        None,
        "Gracias por comunicarte con nosotros, fue un gusto atenderte. ¡Que tengas un excelente día!",
    ),
)
MACROS_BY_ID: dict[int, MacroSpec] = {MACRO_ID_BASE + row: spec for row, spec in enumerate(MACROS, start=1)}


@dataclass(frozen=True)
class StepMacroSpec:
    """A macro the account adds beside the process's: it only tags the ticket, asking the robot for a step."""

    title: str
    tag: str


#: The robot's steps an agent asks for by macro; ids far from the process's rows, which tests count.
STEP_MACRO_ID_BASE = MACRO_ID_BASE + 100_000
STEP_MACROS: tuple[StepMacroSpec, ...] = (
    StepMacroSpec("RPA: Preanálisis (robot)", "rpa_paso_preanalisis"),
    StepMacroSpec("RPA: Estado de la línea (robot)", "rpa_paso_estado_linea"),
    StepMacroSpec("RPA: Deuda histórica (robot)", "rpa_paso_deuda"),
    StepMacroSpec("RPA: Estado de la migración (robot)", "rpa_paso_estado_migracion"),
    StepMacroSpec("RPA: Consulta del NIT (robot)", "rpa_paso_nit"),
    StepMacroSpec("RPA: Confirmar la línea (robot)", "rpa_paso_confirmar_linea"),
    StepMacroSpec("RPA: Enviar el token (robot)", "rpa_paso_token"),
    StepMacroSpec("RPA: Cambiar la facturación (robot)", "rpa_paso_facturacion"),
)
STEP_MACROS_BY_ID: dict[int, StepMacroSpec] = {
    STEP_MACRO_ID_BASE + row: spec for row, spec in enumerate(STEP_MACROS, start=1)
}
#: Where the world keeps the titles macros were renamed to (macro id as text -> title); a reset forgets them.
RENAMED_MACROS = "zendesk_renamed_macros"
MACRO_TITLES: dict[int, str] = {
    **{mid: spec.title for mid, spec in MACROS_BY_ID.items()},
    **{mid: spec.title for mid, spec in STEP_MACROS_BY_ID.items()},
}


@dataclass(frozen=True)
class ViewSpec:
    """A shared view: which statuses it lists, the tags a listed ticket must all carry, and the conditions
    Zendesk would show for it."""

    id: int
    title: str
    statuses: tuple[str, ...]
    conditions: dict[str, list[dict[str, str]]]
    tags: tuple[str, ...] = ()

    def lists(self, ticket: Ticket) -> bool:
        return ticket.status in self.statuses and all(tag in ticket.tags for tag in self.tags)


#: The robot tags a ticket it hands over to a person; the view below lists those not solved yet.
HANDOFF_TAG = "rpa_necesita_agente"
HANDOFF_VIEW_ID = 360003000004
HANDOFF_VIEW_TITLE = "Robot: necesita agente"
UNSOLVED_STATUSES = ("new", "open", "pending", "hold")

VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec(
        360003000001,
        "En Espera",
        ("hold",),
        {"all": [{"field": "status", "operator": "is", "value": "hold"}], "any": []},
    ),
    ViewSpec(
        360003000002,
        "Pendientes",
        ("pending",),
        {"all": [{"field": "status", "operator": "is", "value": "pending"}], "any": []},
    ),
    ViewSpec(
        360003000003,
        "Abiertos",
        ("new", "open"),
        {"all": [{"field": "status", "operator": "less_than", "value": "pending"}], "any": []},
    ),
    ViewSpec(
        HANDOFF_VIEW_ID,
        HANDOFF_VIEW_TITLE,
        UNSOLVED_STATUSES,
        {
            "all": [
                {"field": "status", "operator": "less_than", "value": "solved"},
                {"field": "current_tags", "operator": "includes", "value": HANDOFF_TAG},
            ],
            "any": [],
        },
        tags=(HANDOFF_TAG,),
    ),
)
VIEWS_BY_ID: dict[int, ViewSpec] = {view.id: view for view in VIEWS}

MAX_PAGE_SIZE = 100
UPLOAD_TTL = timedelta(minutes=60)


# --------------------------------------------------------------------------------------------
# Errors in Zendesk's JSON
# --------------------------------------------------------------------------------------------
class ZendeskApiError(Exception):
    """An API answer other than success, rendered as Zendesk renders it."""

    def __init__(self, status_code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("error"))
        self.status_code = status_code
        self.body = body
        self.headers = headers


def not_found() -> ZendeskApiError:
    return ZendeskApiError(404, {"error": "RecordNotFound", "description": "Not found"})


def bad_request(error: str, description: str) -> ZendeskApiError:
    return ZendeskApiError(400, {"error": error, "description": description})


def record_invalid(details: dict[str, list[dict[str, Any]]]) -> ZendeskApiError:
    return ZendeskApiError(
        422, {"error": "RecordInvalid", "description": "Record validation errors", "details": details}
    )


def _invalid(details: dict[str, list[dict[str, Any]]], key: str, description: str, **extra: Any) -> None:
    details.setdefault(key, []).append({"description": description, "error": "InvalidValue", **extra})


# --------------------------------------------------------------------------------------------
# JSON shapes
# --------------------------------------------------------------------------------------------
def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _html_of(body: str) -> str:
    """Zendesk's rendering of a plain-text comment: paragraphs, line breaks, escaped."""
    paragraphs = [p for p in re.split(r"\n\s*\n", body.strip()) if p]
    inner = "".join(f'<p dir="auto">{html.escape(p).replace(chr(10), "<br>")}</p>' for p in paragraphs)
    return f'<div class="zd-comment" dir="auto">{inner}</div>'


def _text_of(markup: str) -> str:
    """The plain text of an ``html_body`` sent without a ``body``."""
    text = re.sub(r"(?i)<br\s*/?>", "\n", markup)
    text = re.sub(r"(?i)</p\s*>", "\n\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


class Shapes:
    """Renders world records as Zendesk JSON, with absolute URLs on the address the client used."""

    def __init__(self, world: World, base: str) -> None:
        self.world = world
        self.base = base.rstrip("/")

    def api_url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base}/api/v2{path}.json{query}"

    def content_url(self, attachment: Attachment) -> str:
        return f"{self.base}/attachments/token/{attachment.id}/?name={quote(attachment.file_name)}"

    def attachment(self, attachment: Attachment) -> dict[str, Any]:
        content_url = self.content_url(attachment)
        return {
            "id": attachment.id,
            "url": self.api_url(f"/attachments/{attachment.id}"),
            "file_name": attachment.file_name,
            "content_url": content_url,
            "mapped_content_url": content_url,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "width": None,
            "height": None,
            "inline": False,
            "deleted": False,
            "malware_access_override": False,
            "malware_scan_result": "malware_not_found",
            "thumbnails": [],
        }

    def comment(self, comment: Comment) -> dict[str, Any]:
        attachments = [
            self.world.state.attachments[aid] for aid in comment.attachment_ids if aid in self.world.state.attachments
        ]
        return {
            "id": comment.id,
            "type": "Comment",
            "author_id": comment.author_id,
            "body": comment.body,
            "html_body": comment.html_body or _html_of(comment.body),
            "plain_body": comment.body,
            "public": comment.public,
            "attachments": [self.attachment(a) for a in attachments],
            "via": {"channel": comment.via, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": _ts(comment.created_at),
            "metadata": {"system": {}, "custom": {}},
        }

    def ticket(
        self, ticket: Ticket, *, status: str | None = None, custom_fields: dict[int, Any] | None = None
    ) -> dict[str, Any]:
        """A ticket; ``status`` and ``custom_fields`` override the stored ones (a macro's preview)."""
        values = {fid: field_value(ticket, fid) for fid in CUSTOM_FIELD_IDS} | (custom_fields or {})
        fields = [{"id": fid, "value": values[fid]} for fid in CUSTOM_FIELD_IDS]
        return {
            "url": self.api_url(f"/tickets/{ticket.id}"),
            "id": ticket.id,
            "external_id": None,
            "via": {"channel": "whatsapp", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": _ts(ticket.created_at),
            "updated_at": _ts(ticket.updated_at),
            "generated_timestamp": int(ticket.updated_at.timestamp()),
            "type": None,
            "subject": ticket.subject,
            "raw_subject": ticket.subject,
            "description": ticket.comments[0].body if ticket.comments else "",
            "priority": None,
            "status": status or ticket.status,
            "recipient": None,
            "requester_id": ticket.requester_id,
            "submitter_id": ticket.requester_id,
            "assignee_id": None,
            "organization_id": None,
            "group_id": None,
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "forum_topic_id": None,
            "problem_id": None,
            "has_incidents": False,
            "is_public": any(c.public for c in ticket.comments),
            "due_at": None,
            "tags": list(ticket.tags),
            "custom_fields": fields,
            "fields": fields,
            "satisfaction_rating": None,
            "sharing_agreement_ids": [],
            "followup_ids": [],
            "ticket_form_id": None,
            "brand_id": None,
            "allow_channelback": True,
            "allow_attachments": True,
            "from_messaging_channel": True,
        }

    def user(self, user: User) -> dict[str, Any]:
        return {
            "id": user.id,
            "url": self.api_url(f"/users/{user.id}"),
            "name": user.name,
            "email": user.email,
            "phone": user.phone,
            "role": user.role,
            "active": True,
            "verified": True,
            "locale": "es-419",
            "time_zone": "America/La_Paz",
            "created_at": _ts(ACCOUNT_CREATED),
            "updated_at": _ts(ACCOUNT_CREATED),
        }

    def ticket_field(self, field_id: int) -> dict[str, Any]:
        if field_id == ORDER_STATE_FIELD_ID:
            title, kind = ORDER_STATE_TITLE, "tagger"
        else:
            title, kind = TEXT_FIELDS[field_id][0], "text"
        shape: dict[str, Any] = {
            "id": field_id,
            "url": self.api_url(f"/ticket_fields/{field_id}"),
            "type": kind,
            "title": title,
            "raw_title": title,
            "description": "",
            "raw_description": "",
            "position": CUSTOM_FIELD_IDS.index(field_id) + 10,
            "active": True,
            "required": False,
            "collapsed_for_agents": False,
            "regexp_for_validation": None,
            "title_in_portal": title,
            "raw_title_in_portal": title,
            "visible_in_portal": False,
            "editable_in_portal": False,
            "required_in_portal": False,
            "tag": None,
            "removable": True,
            "key": None,
            "agent_description": None,
            "created_at": _ts(ACCOUNT_CREATED),
            "updated_at": _ts(ACCOUNT_CREATED),
        }
        if kind == "tagger":
            shape["custom_field_options"] = [
                {
                    "id": ORDER_STATE_OPTION_ID_BASE + n,
                    "name": name,
                    "raw_name": name,
                    "value": tag_of(name),
                    "default": False,
                }
                for n, name in enumerate(ORDER_STATES, start=1)
            ]
        return shape

    def macro(self, macro_id: int) -> dict[str, Any]:
        step = STEP_MACROS_BY_ID.get(macro_id)
        if step is not None:
            return self._macro(macro_id, step.title, "", [{"field": "current_tags", "value": step.tag}])
        spec = MACROS_BY_ID[macro_id]
        actions: list[dict[str, Any]] = [{"field": "status", "value": STATUS_API[spec.status]}]
        if spec.order_state is not None:
            actions.append({"field": f"custom_fields_{ORDER_STATE_FIELD_ID}", "value": tag_of(spec.order_state)})
        actions += [
            {"field": "comment_value", "value": spec.reply},
            {"field": "comment_mode_is_public", "value": "true"},
        ]
        return self._macro(macro_id, spec.title, spec.short_name, actions)

    def _macro(self, macro_id: int, title: str, description: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
        # An administrator may have renamed it (``PUT /macros/{id}``) since the world was loaded.
        title = self.world.state.records.get(RENAMED_MACROS, {}).get(str(macro_id), title)
        return {
            "url": self.api_url(f"/macros/{macro_id}"),
            "id": macro_id,
            "title": title,
            "raw_title": title,
            "description": description,
            "active": True,
            "position": list(MACRO_TITLES).index(macro_id) + 1,
            "actions": actions,
            "restriction": None,
            "default": False,
            "created_at": _ts(ACCOUNT_CREATED),
            "updated_at": _ts(ACCOUNT_CREATED),
        }

    def view(self, view: ViewSpec) -> dict[str, Any]:
        return {
            "url": self.api_url(f"/views/{view.id}"),
            "id": view.id,
            "title": view.title,
            "raw_title": view.title,
            "active": True,
            "position": VIEWS.index(view) + 1,
            "description": None,
            "default": False,
            "restriction": None,
            "conditions": view.conditions,
            "execution": {
                "group_by": None,
                "sort_by": "updated_at",
                "sort_order": "asc",
                "columns": [
                    {"id": "subject", "title": "Asunto"},
                    {"id": "requester", "title": "Solicitante"},
                    {"id": "updated", "title": "Actualizado"},
                ],
            },
            "created_at": _ts(ACCOUNT_CREATED),
            "updated_at": _ts(ACCOUNT_CREATED),
        }


# --------------------------------------------------------------------------------------------
# Ticket changes shared by the API and the agent page
# --------------------------------------------------------------------------------------------
def field_value(ticket: Ticket, field_id: int) -> Any:
    if field_id == ORDER_STATE_FIELD_ID:
        return ticket.custom_fields.get(field_id)
    return getattr(ticket.fields, TEXT_FIELDS[field_id][1])


def set_field_value(ticket: Ticket, field_id: int, value: Any) -> None:
    """Set a custom field as Zendesk does; the drop-down's option tag follows it in the ticket's tags."""
    value = value if value not in ("", None) else None
    if field_id == ORDER_STATE_FIELD_ID:
        ticket.tags = [t for t in ticket.tags if t not in ORDER_STATE_TAGS]
        if value is None:
            ticket.custom_fields.pop(field_id, None)
        else:
            ticket.custom_fields[field_id] = value
            ticket.tags.append(value)
    else:
        # A copy, not an in-place change: the seeded TicketFieldsSpec may be the scenario's own object.
        ticket.fields = ticket.fields.model_copy(update={TEXT_FIELDS[field_id][1]: value})


def order_state_name(ticket: Ticket) -> str | None:
    tag = ticket.custom_fields.get(ORDER_STATE_FIELD_ID)
    return ORDER_STATE_TAGS.get(tag, tag) if tag else None


def add_customer_message(
    world: World, ticket: Ticket, body: str, files: list[tuple[str, str, bytes]] | None = None
) -> Comment:
    """The requester writes on WhatsApp: a public comment of theirs, with any files they sent.

    As in Zendesk, a requester's message on a pending, on-hold or solved ticket opens it again.
    """
    attachment_ids = [
        world.add_blob(name, content_type, content, token=secrets.token_urlsafe(12)).id
        for name, content_type, content in files or []
    ]
    comment = world.add_comment(
        ticket, author_id=ticket.requester_id, body=body, public=True, attachment_ids=attachment_ids, via="whatsapp"
    )
    if ticket.status in ("pending", "hold", "solved"):
        ticket.status = "open"
    world.commit_ticket(ticket)
    return comment


# --------------------------------------------------------------------------------------------
# Pagination
# --------------------------------------------------------------------------------------------
def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request("InvalidPaginationParameter", f"{name} must be an integer") from None
    if value < 1:
        raise bad_request("InvalidPaginationParameter", f"{name} must be positive")
    return value


def offset_page(request: Request, shapes: Shapes, path: str, key: str, items: list[Any]) -> dict[str, Any]:
    """Zendesk's offset pagination: ``page`` and ``per_page``, with ``next_page`` as an absolute URL."""
    page = _int_param(request, "page", 1)
    per_page = min(_int_param(request, "per_page", MAX_PAGE_SIZE), MAX_PAGE_SIZE)
    start = (page - 1) * per_page
    extra = {k: v for k, v in request.query_params.items() if k not in ("page", "per_page")}
    more = start + per_page < len(items)
    return {
        key: items[start : start + per_page],
        "next_page": shapes.api_url(path, {**extra, "page": page + 1, "per_page": per_page}) if more else None,
        "previous_page": shapes.api_url(path, {**extra, "page": page - 1, "per_page": per_page}) if page > 1 else None,
        "count": len(items),
    }


def _cursor(item_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{item_id}".encode()).decode().rstrip("=")


def _uncursor(cursor: str, name: str, ids: list[int]) -> int:
    """The position in ``ids`` of the record a cursor points at."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return ids.index(int(text.removeprefix("id:")))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request("InvalidPaginationParameter", f"{name} is not a valid cursor") from None


def cursor_page(request: Request, shapes: Shapes, path: str, key: str, items: list[tuple[int, Any]]) -> dict[str, Any]:
    """Zendesk's cursor pagination: ``page[size]``, ``page[after]``/``page[before]``, ``meta`` and ``links``.

    As in Zendesk, ``links`` are given whenever the page has records; ``meta.has_more`` is what says
    whether another page exists.
    """
    size = _int_param(request, "page[size]", MAX_PAGE_SIZE)
    if size > MAX_PAGE_SIZE:
        raise bad_request("InvalidPaginationParameter", f"page[size] must be at most {MAX_PAGE_SIZE}")
    ids = [item_id for item_id, _ in items]
    after, before = request.query_params.get("page[after]"), request.query_params.get("page[before]")
    if before:
        end = _uncursor(before, "page[before]", ids)
        start = max(0, end - size)
        has_more = start > 0
    else:
        start = _uncursor(after, "page[after]", ids) + 1 if after else 0
        end = min(len(items), start + size)
        has_more = end < len(items)
    chunk = items[start:end]
    first, last = (_cursor(chunk[0][0]), _cursor(chunk[-1][0])) if chunk else (None, None)
    return {
        key: [shape for _, shape in chunk],
        "meta": {"has_more": has_more, "after_cursor": last, "before_cursor": first},
        "links": {
            "prev": shapes.api_url(path, {"page[size]": size, "page[before]": first}) if first else None,
            "next": shapes.api_url(path, {"page[size]": size, "page[after]": last}) if last else None,
        },
    }


# --------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------
def create_app(world: World) -> FastAPI:
    app = FastAPI(title="Zendesk Support (mock)", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    fault_middleware(app, world, PORTAL, json_errors=True)

    @app.middleware("http")
    async def json_suffix(request: Request, call_next: Any) -> Response:
        # Zendesk serves every API path with and without ".json"; routes are declared without it.
        path = request.scope["path"]
        if path.startswith("/api/v2/") and path.endswith(".json"):
            request.scope["path"] = path.removesuffix(".json")
        return await call_next(request)

    @app.exception_handler(ZendeskApiError)
    async def api_error(request: Request, exc: ZendeskApiError) -> Response:
        return JSONResponse(exc.body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and request.url.path.startswith("/api/"):
            return JSONResponse({"error": "InvalidEndpoint", "description": "Not found"}, status_code=404)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(request: Request, exc: RequestValidationError) -> Response:
        where = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        return JSONResponse(
            {"error": "InvalidParameter", "description": f"Invalid parameter: {where}"}, status_code=400
        )

    @app.get("/_alive")
    async def alive() -> dict[str, bool]:
        return {"ok": True}

    app.include_router(_api_router(world))
    _add_attachment_routes(app, world)
    _add_agent_routes(app, world, templates)
    return app


def _shapes(world: World, request: Request) -> Shapes:
    return Shapes(world, str(request.base_url))


def _ticket_of(world: World, ticket_id: int) -> Ticket:
    ticket = world.state.tickets.get(ticket_id)
    if ticket is None:
        raise not_found()
    return ticket


def agent_auth(world: World) -> Callable[[Request], None]:
    """The API's authentication: Basic auth with the agent's email and API token, as Zendesk takes it."""

    def require_agent(request: Request) -> None:
        account = world.scenario.zendesk
        expected = f"{account.agent_email}/token:{account.api_token}"
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            given = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            given = ""
        if scheme.lower() != "basic" or not secrets.compare_digest(given.encode(), expected.encode()):
            raise ZendeskApiError(
                401, {"error": "Couldn't authenticate you"}, headers={"WWW-Authenticate": 'Basic realm="Web Password"'}
            )

    return require_agent


def _api_router(world: World) -> APIRouter:
    api = APIRouter(prefix="/api/v2", dependencies=[Depends(agent_auth(world))])

    # -- tickets --------------------------------------------------------------------------------
    @api.get("/tickets/{ticket_id}")
    async def show_ticket(ticket_id: int, request: Request) -> dict[str, Any]:
        return {"ticket": _shapes(world, request).ticket(_ticket_of(world, ticket_id))}

    @api.put("/tickets/{ticket_id}")
    async def update_ticket(ticket_id: int, request: Request) -> dict[str, Any]:
        ticket = _ticket_of(world, ticket_id)
        try:
            payload = await request.json()
        except ValueError:
            raise bad_request("InvalidParameter", "The body is not JSON") from None
        data = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise bad_request("InvalidParameter", 'The body must be {"ticket": {...}}')
        update = _validate_update(world, data)
        shapes = _shapes(world, request)
        audit_id = world.next_id()
        events = _apply_update(world, ticket, update, shapes, audit_id)
        # Triggers run before Zendesk answers, so the ticket returned shows what they changed.
        world.commit_ticket(ticket)
        audit = {
            "id": audit_id,
            "ticket_id": ticket.id,
            "created_at": _ts(now()),
            "author_id": AGENT_USER_ID,
            "metadata": {"system": {"client": request.headers.get("user-agent", "")}, "custom": {}},
            "events": events,
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
        }
        return {"ticket": shapes.ticket(ticket), "audit": audit}

    @api.get("/tickets/{ticket_id}/comments")
    async def list_comments(ticket_id: int, request: Request) -> dict[str, Any]:
        ticket = _ticket_of(world, ticket_id)
        shapes = _shapes(world, request)
        path = f"/tickets/{ticket_id}/comments"
        if "page[size]" in request.query_params:
            return cursor_page(request, shapes, path, "comments", [(c.id, shapes.comment(c)) for c in ticket.comments])
        return offset_page(request, shapes, path, "comments", [shapes.comment(c) for c in ticket.comments])

    # -- uploads and attachments ----------------------------------------------------------------
    @api.post("/uploads", status_code=201)
    async def upload(request: Request, filename: str = "", token: str | None = None) -> dict[str, Any]:
        content = await request.body()
        details: dict[str, list[dict[str, Any]]] = {}
        if not filename:
            _invalid(details, "filename", "Filename: cannot be blank")
        if not content:
            _invalid(details, "base", "The uploaded file is empty")
        if token and not _attachments_of(world, token):
            _invalid(details, "token", f"Upload token {token} is unknown")
        if details:
            raise record_invalid(details)
        token = token or secrets.token_urlsafe(18)
        content_type = request.headers.get("content-type", "application/binary").split(";")[0].strip()
        attachment = world.add_blob(filename, content_type, content, token=token)
        shapes = _shapes(world, request)
        return {
            "upload": {
                "token": token,
                "expires_at": _ts(now() + UPLOAD_TTL),
                "attachments": [shapes.attachment(a) for a in _attachments_of(world, token)],
                "attachment": shapes.attachment(attachment),
            }
        }

    @api.get("/attachments/{attachment_id}")
    async def show_attachment(attachment_id: int, request: Request) -> dict[str, Any]:
        attachment = world.state.attachments.get(attachment_id)
        if attachment is None:
            raise not_found()
        return {"attachment": _shapes(world, request).attachment(attachment)}

    # -- ticket fields and users ----------------------------------------------------------------
    @api.get("/ticket_fields")
    async def list_ticket_fields(request: Request) -> dict[str, Any]:
        shapes = _shapes(world, request)
        return offset_page(
            request, shapes, "/ticket_fields", "ticket_fields", [shapes.ticket_field(fid) for fid in CUSTOM_FIELD_IDS]
        )

    @api.get("/ticket_fields/{field_id}")
    async def show_ticket_field(field_id: int, request: Request) -> dict[str, Any]:
        if field_id not in CUSTOM_FIELD_IDS:
            raise not_found()
        return {"ticket_field": _shapes(world, request).ticket_field(field_id)}

    @api.get("/users/me")
    async def show_me(request: Request) -> dict[str, Any]:
        return {"user": _shapes(world, request).user(world.state.users[AGENT_USER_ID])}

    @api.get("/users/{user_id}")
    async def show_user(user_id: int, request: Request) -> dict[str, Any]:
        user = world.state.users.get(user_id)
        if user is None:
            raise not_found()
        return {"user": _shapes(world, request).user(user)}

    # -- macros ---------------------------------------------------------------------------------
    @api.get("/macros")
    async def list_macros(request: Request) -> dict[str, Any]:
        shapes = _shapes(world, request)
        return offset_page(request, shapes, "/macros", "macros", [shapes.macro(mid) for mid in MACRO_TITLES])

    @api.get("/macros/search")
    async def search_macros(request: Request, query: str = "") -> dict[str, Any]:
        if not query.strip():
            raise bad_request("InvalidParameter", "query is required")
        shapes = _shapes(world, request)
        wanted = query.strip().casefold()
        found = [shapes.macro(mid) for mid, title in MACRO_TITLES.items() if wanted in title.casefold()]
        return offset_page(request, shapes, "/macros/search", "macros", found)

    @api.get("/macros/{macro_id}")
    async def show_macro(macro_id: int, request: Request) -> dict[str, Any]:
        if macro_id not in MACRO_TITLES:
            raise not_found()
        return {"macro": _shapes(world, request).macro(macro_id)}

    @api.put("/macros/{macro_id}")
    async def rename_macro(macro_id: int, request: Request) -> dict[str, Any]:
        """Only a new title is taken: enough to play an administrator renaming a macro the robots use."""
        if macro_id not in MACRO_TITLES:
            raise not_found()
        payload = await request.json()
        title = (payload.get("macro") or {}).get("title") if isinstance(payload, dict) else None
        if not isinstance(title, str) or not title.strip():
            raise bad_request("InvalidParameter", 'The body must be {"macro": {"title": "..."}}')
        world.state.records.setdefault(RENAMED_MACROS, {})[str(macro_id)] = title.strip()
        return {"macro": _shapes(world, request).macro(macro_id)}

    @api.get("/tickets/{ticket_id}/macros/{macro_id}/apply")
    async def ticket_after_macro(ticket_id: int, macro_id: int, request: Request) -> dict[str, Any]:
        """The ticket as the macro would leave it; nothing is saved (the client saves it with a PUT)."""
        ticket = _ticket_of(world, ticket_id)
        step = STEP_MACROS_BY_ID.get(macro_id)
        if step is not None:
            # A tagging macro writes nothing and leaves the status be: only the tags change.
            shape = _shapes(world, request).ticket(ticket)
            shape["tags"] = normalized_tags([*ticket.tags, step.tag])
            return {"result": {"ticket": shape}}
        spec = MACROS_BY_ID.get(macro_id)
        if spec is None:
            raise not_found()
        changes = {ORDER_STATE_FIELD_ID: tag_of(spec.order_state)} if spec.order_state else {}
        shape = _shapes(world, request).ticket(ticket, status=STATUS_API[spec.status], custom_fields=changes)
        shape["comment"] = {
            "body": spec.reply,
            "html_body": _html_of(spec.reply),
            "scoped_body": [["channel:all", spec.reply]],
            "public": True,
        }
        return {"result": {"ticket": shape}}

    # -- views ----------------------------------------------------------------------------------
    @api.get("/views")
    async def list_views(request: Request) -> dict[str, Any]:
        shapes = _shapes(world, request)
        return offset_page(request, shapes, "/views", "views", [shapes.view(v) for v in VIEWS])

    @api.get("/views/{view_id}")
    async def show_view(view_id: int, request: Request) -> dict[str, Any]:
        view = VIEWS_BY_ID.get(view_id)
        if view is None:
            raise not_found()
        return {"view": _shapes(world, request).view(view)}

    @api.get("/views/{view_id}/tickets")
    async def view_tickets(view_id: int, request: Request) -> dict[str, Any]:
        view = VIEWS_BY_ID.get(view_id)
        if view is None:
            raise not_found()
        shapes = _shapes(world, request)
        listed = sorted((t for t in world.state.tickets.values() if view.lists(t)), key=lambda t: (t.updated_at, t.id))
        return offset_page(request, shapes, f"/views/{view_id}/tickets", "tickets", [shapes.ticket(t) for t in listed])

    return api


def _attachments_of(world: World, token: str) -> list[Attachment]:
    return [a for a in world.state.attachments.values() if a.token == token]


@dataclass
class _Update:
    """A validated ticket update, applied only once every part of it is known to be valid."""

    status: str | None
    comment: dict[str, Any] | None
    attachment_ids: list[int]
    custom_fields: dict[int, Any]
    macro_ids: list[int]
    tags: list[str] | None = None
    additional_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)

    @property
    def changes_tags(self) -> bool:
        return self.tags is not None or bool(self.additional_tags) or bool(self.remove_tags)


def normalized_tags(values: list[Any]) -> list[str]:
    """Tags as Zendesk stores them: lower case, unique, in order; a value with spaces is several tags."""
    tags: list[str] = []
    for value in values:
        for tag in str(value).lower().split():
            if tag not in tags:
                tags.append(tag)
    return tags


def _tag_list(details: dict[str, list[dict[str, Any]]], data: dict[str, Any], key: str) -> list[str] | None:
    """The tags under ``key`` (None when absent), or a validation error when they are not a list of text."""
    if key not in data or data[key] is None:
        return None
    values = data[key]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        _invalid(details, key, f"{key}: must be a list of tags")
        return None
    return normalized_tags(values)


def _validate_update(world: World, data: dict[str, Any]) -> _Update:
    details: dict[str, list[dict[str, Any]]] = {}
    status = data.get("status")
    if status is not None and status not in UPDATABLE_STATUSES:
        _invalid(details, "status", f"Status: {status} is not valid for an update")

    comment = data.get("comment")
    attachment_ids: list[int] = []
    if comment is not None:
        if not isinstance(comment, dict):
            _invalid(details, "comment", "Comment: must be an object")
            comment = None
        else:
            if not str(comment.get("body") or comment.get("html_body") or "").strip():
                _invalid(details, "comment", "Comment: body cannot be blank")
            if not isinstance(comment.get("public", True), bool):
                _invalid(details, "comment", "Comment: public must be true or false")
            tokens = comment.get("uploads") or []
            if not isinstance(tokens, list):
                _invalid(details, "uploads", "Uploads: must be a list of upload tokens")
                tokens = []
            for token in tokens:
                found = _attachments_of(world, str(token))
                if not found:
                    _invalid(details, "uploads", f"Upload token {token} is unknown")
                attachment_ids += [a.id for a in found]

    custom_fields: dict[int, Any] = {}
    for entry in data.get("custom_fields") or data.get("fields") or []:
        field_id = entry.get("id") if isinstance(entry, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else None
        if field_id not in CUSTOM_FIELD_IDS:
            _invalid(details, "base", f"Unknown ticket field: {field_id}", field_key=field_id)
        elif field_id == ORDER_STATE_FIELD_ID and value not in (None, "") and value not in ORDER_STATE_TAGS:
            _invalid(
                details, "base", f"{ORDER_STATE_TITLE}: {value} is not one of the field's options", field_key=field_id
            )
        elif field_id != ORDER_STATE_FIELD_ID and not isinstance(value, str | int | float | None):
            _invalid(details, "base", f"{TEXT_FIELDS[field_id][0]}: must be text", field_key=field_id)
        else:
            custom_fields[field_id] = value if value is None or isinstance(value, str) else str(value)

    # "macro_id" is Zendesk's write-only field for an update; "macro_ids" is its list form (ticket
    # create). Either records which macros were applied: the world's ticket.macros_applied.
    named = data.get("macro_ids") or []
    macro_ids = named if isinstance(named, list) else [named]
    if data.get("macro_id"):
        macro_ids = [*macro_ids, data["macro_id"]]
    for macro_id in macro_ids:
        if not isinstance(macro_id, int) or macro_id not in MACRO_TITLES:
            _invalid(details, "macro_ids", f"Macro {macro_id} does not exist")

    tags = _tag_list(details, data, "tags")
    additional_tags = _tag_list(details, data, "additional_tags") or []
    remove_tags = _tag_list(details, data, "remove_tags") or []
    if details:
        raise record_invalid(details)
    return _Update(status, comment, attachment_ids, custom_fields, macro_ids, tags, additional_tags, remove_tags)


def _apply_tags(ticket: Ticket, update: _Update) -> None:
    """Replace, add, then remove tags; the Estado de Pedido drop-down follows its option tags."""
    current = ticket.custom_fields.get(ORDER_STATE_FIELD_ID)
    tags = list(update.tags) if update.tags is not None else list(ticket.tags)
    tags += [tag for tag in update.additional_tags if tag not in tags]
    ticket.tags = [tag for tag in tags if tag not in update.remove_tags]
    options = [tag for tag in ticket.tags if tag in ORDER_STATE_TAGS]
    # A drop-down has one value: an option tag just added wins over the one the field had.
    added = [tag for tag in options if tag != current]
    chosen = added[-1] if added else (current if current in options else None)
    if chosen != current or len(options) > 1:
        set_field_value(ticket, ORDER_STATE_FIELD_ID, chosen)


def _apply_update(world: World, ticket: Ticket, update: _Update, shapes: Shapes, audit_id: int) -> list[dict]:
    """Change the ticket and return the audit's events."""
    world.touch_ticket(ticket, updater_id=AGENT_USER_ID, via="api")
    events: list[dict[str, Any]] = []
    if update.comment is not None:
        body = str(update.comment.get("body") or "")
        markup = str(update.comment.get("html_body") or "")
        comment = world.add_comment(
            ticket,
            author_id=AGENT_USER_ID,
            body=body or _text_of(markup),
            public=update.comment.get("public", True),
            attachment_ids=update.attachment_ids,
            via="api",
        )
        comment.html_body = markup or _html_of(comment.body)
        if update.macro_ids:
            comment.macro_title = MACRO_TITLES[update.macro_ids[-1]]
        events.append({**shapes.comment(comment), "audit_id": audit_id})
    if update.status is not None and update.status != ticket.status:
        events.append(
            {
                "id": world.next_id(),
                "type": "Change",
                "field_name": "status",
                "value": update.status,
                "previous_value": ticket.status,
            }
        )
        ticket.status = update.status
    fields_before = {field_id: field_value(ticket, field_id) for field_id in CUSTOM_FIELD_IDS}
    tags_before = list(ticket.tags)
    if update.changes_tags:
        _apply_tags(ticket, update)
    # A field named in the same update has the last word over the tags.
    for field_id, value in update.custom_fields.items():
        set_field_value(ticket, field_id, value)
    for field_id, previous in fields_before.items():
        if field_value(ticket, field_id) != previous:
            events.append(
                {
                    "id": world.next_id(),
                    "type": "Change",
                    "field_name": str(field_id),
                    "value": field_value(ticket, field_id),
                    "previous_value": previous,
                }
            )
    if ticket.tags != tags_before:
        events.append(
            {
                "id": world.next_id(),
                "type": "Change",
                "field_name": "tags",
                "value": list(ticket.tags),
                "previous_value": tags_before,
            }
        )
    for macro_id in update.macro_ids:
        title = MACRO_TITLES[macro_id]
        ticket.macros_applied.append(title)
        events.append(
            {
                "id": world.next_id(),
                "type": "AgentMacroReference",
                "macro_id": macro_id,
                "macro_title": title,
                "macro_deleted": False,
            }
        )
    ticket.updated_at = now()
    return events


# --------------------------------------------------------------------------------------------
# Attachment content: open without auth, like a Zendesk account without private attachments
# --------------------------------------------------------------------------------------------
def _add_attachment_routes(app: FastAPI, world: World) -> None:
    @app.get("/attachments/token/{attachment_id}/")
    async def content_link(attachment_id: int) -> Response:
        # Zendesk redirects content_url to its user-content host; clients must follow redirects.
        attachment = world.state.attachments.get(attachment_id)
        if attachment is None:
            raise not_found()
        return RedirectResponse(f"/attachment/{attachment.id}/{quote(attachment.file_name)}", status_code=302)

    @app.get("/attachment/{attachment_id}/{file_name}")
    async def content(attachment_id: int, file_name: str) -> Response:
        attachment = world.state.attachments.get(attachment_id)
        if attachment is None or attachment.id not in world.blobs:
            raise not_found()
        return Response(
            world.blobs[attachment.id],
            media_type=attachment.content_type,
            headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(attachment.file_name)}"},
        )


# --------------------------------------------------------------------------------------------
# The agent page
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Message:
    id: int
    author: str
    css: str
    kind: str
    when: str
    body: str
    attachments: list[dict[str, Any]]


def _messages(world: World, ticket: Ticket, shapes: Shapes) -> list[_Message]:
    messages = []
    for comment in ticket.comments:
        user = world.state.users.get(comment.author_id)
        name = user.name if user else f"Usuario {comment.author_id}"
        if comment.author_id == ticket.requester_id:
            author, css = f"{name} (cliente)", "customer"
        elif comment.author_id == BOT_USER_ID:
            author, css = f"{name} (bot)", "bot"
        else:
            author, css = f"{name} (agente)", "agent"
        files = [
            {
                "file_name": a.file_name,
                "url": shapes.content_url(a),
                "size": a.size,
                "is_image": a.content_type.startswith("image/"),
            }
            for a in (world.state.attachments.get(aid) for aid in comment.attachment_ids)
            if a
        ]
        messages.append(
            _Message(
                id=comment.id,
                author=author,
                css=css if comment.public else f"{css} internal",
                kind="Mensaje público" if comment.public else "Nota interna",
                when=comment.created_at.astimezone(UTC).strftime("%d/%m/%Y %H:%M:%S UTC"),
                body=comment.body,
                attachments=files,
            )
        )
    return messages


def _add_agent_routes(app: FastAPI, world: World, templates: Jinja2Templates) -> None:
    base_context = {"console_title": "Zendesk - Espacio del agente", "logged_in": False, "show_notice": False}

    def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
        return templates.TemplateResponse(request, template, {**base_context, **context}, status_code=status_code)

    def ticket_page(request: Request, ticket: Ticket, error: str | None = None, status_code: int = 200) -> Response:
        requester = world.state.users.get(ticket.requester_id)
        return render(
            request,
            "zendesk/ticket.html",
            {
                "ticket": ticket,
                "requester": requester,
                "status_label": STATUS_LABELS.get(ticket.status, ticket.status),
                "order_state": order_state_name(ticket),
                "fields": [(title, getattr(ticket.fields, attr)) for title, attr in TEXT_FIELDS.values()],
                "messages": _messages(world, ticket, _shapes(world, request)),
                "error": error,
                "apps": sidebar_apps(world, request),
            },
            status_code=status_code,
        )

    @app.get("/")
    async def home() -> Response:
        return RedirectResponse("/agent/tickets", status_code=303)

    @app.get("/agent/tickets", response_class=HTMLResponse)
    async def ticket_list(request: Request) -> Response:
        rows = [
            {
                "ticket": t,
                "requester": world.state.users.get(t.requester_id),
                "status_label": STATUS_LABELS.get(t.status, t.status),
                "order_state": order_state_name(t),
            }
            for t in sorted(world.state.tickets.values(), key=lambda t: t.id)
        ]
        return render(request, "zendesk/tickets.html", {"rows": rows})

    @app.get("/agent/tickets/{ticket_id}", response_class=HTMLResponse)
    async def ticket_detail(request: Request, ticket_id: int) -> Response:
        ticket = world.state.tickets.get(ticket_id)
        if ticket is None:
            return render(request, "zendesk/missing.html", {"ticket_id": ticket_id}, status_code=404)
        return ticket_page(request, ticket)

    @app.post("/agent/tickets/{ticket_id}/responder")
    async def reply_as_customer(request: Request, ticket_id: int) -> Response:
        ticket = world.state.tickets.get(ticket_id)
        if ticket is None:
            return render(request, "zendesk/missing.html", {"ticket_id": ticket_id}, status_code=404)
        form = await request.form()
        text = str(form.get("mensaje") or "").strip()
        upload = form.get("adjunto")
        files = []
        if isinstance(upload, UploadFile) and upload.filename:
            content = await upload.read()
            if content:
                files.append((upload.filename, upload.content_type or "application/octet-stream", content))
        if not text and not files:
            return ticket_page(request, ticket, error="Escriba un mensaje o adjunte un archivo.", status_code=400)
        comment = add_customer_message(world, ticket, text, files)
        return RedirectResponse(f"/agent/tickets/{ticket.id}#c{comment.id}", status_code=303)
