"""The process as data: which tickets are its own (their tag), every macro by its exact Zendesk title, and
the activities as a graph.

Titles are the contact centre's own (PROCESS.md's macro table), reproduced letter for letter, "Tocken"
included. The graph is what the run report draws, with the path a flow took highlighted.
"""

from __future__ import annotations

from enum import Enum

#: The tag the WhatsApp bot puts on the tickets of customers who want to migrate a line from prepaid to
#: postpaid: a ticket with it is the process's, and its flow starts by itself (``flows.process.arrivals``).
MIGRATION_TAG = "migracion_pre_pos"


class Macro(str, Enum):
    """The process's macros; the value is the macro's exact title in Zendesk."""

    PRIMER_CONTACTO = "Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Primer contacto"
    SEGUNDO_CONTACTO = "Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Segundo contacto"
    CLIENTE_NO_CONTESTA = "Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Cliente No Contesta::Mega Plan X"
    GESTION = "Respuesta rápida::Opción 4"
    RECHAZO_FR_RO = "Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea en FR/RO"
    LINEA_OTRA_COMPANIA = "Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea de otra compañía"
    DERIVACION_AUTOAGENDA = "Móvil::WhatsApp::Migración de Pre a Post::No califica::Derivación Autogenda Cita Web"
    LINEA_3G = "Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea 3G"
    DEUDA_OTRA_OPERADORA_MP = "Móvil::WhatsApp::Migración de Pre a Post::No califica::Deuda en Otra Operadora MP"
    OFERTA_CONFIRMADA = "Móvil::WhatsApp::Migración de Pre a Post::Oferta::Línea Confirmada + Plan"
    OFERTA_SIN_CONFIRMACION = "Móvil::WhatsApp::Migración de Pre a Post::Oferta::Línea sin confirmación + Plan"
    RECONTACTO_SIN_RESPUESTA = "Móvil::WhatsApp::Migración Pre a Post::Recontacto Sin Respuesta"
    CLIENTE_NO_ES_TITULAR = "Transacción no exitosa::Cliente no es titular"
    CONFIRMACION_PLAN_TYC = "Móvil::WhatsApp::Confirmación::Plan + T&C sin Teléfono"
    ENVIO_SMS_AR = "Móvil::WhatsApp::Migración de Pre a Post::Tocken::Envío SMS por AR"
    SEGUNDO_TOKEN = "Móvil::WhatsApp::Migración de Pre a Post::Tocken::Envío SMS 2do Tocken por Vencimiento"
    TOKEN_CLIENTE_NO_CONTESTA = "Móvil::WhatsApp::Migración de Pre a Post::Tocken::Cliente no contesta"
    DEUDA_HISTORICA_MOVIL = "Móvil::WhatsApp::Migración Pre a Post::No Califica::Deuda Histórica Móvil"
    ANALISIS_DE_RIESGO = "Móvil::WhatsApp::Migración de Pre a Post::Rechaza::En Revisión de Activaciones"
    SUBSANAR_OBSERVACION = "Móvil::WhatsApp::Migración de Pre a Post::Rechaza::Corregir observación"
    SOLICITUD_INFACTIBLE = "Móvil::WhatsApp::Migración de Pre a Post::Rechaza::Solicitud Infactible"
    MIGRACION_EXITOSA = "Móvil::WhatsApp::Migración Pre a Post::Activación Exitosa::Línea Sin Equipo"
    DESPEDIDA = "BO::Despedida al resolver"


#: Macro short names: what an agent writes after ``#terminar`` and what a regression scenario lists (the same
#: keys the scenarios' ``customer.replies`` use), so people and files speak one language.
MACRO_SHORT_NAMES: dict[str, Macro] = {
    "primer_contacto": Macro.PRIMER_CONTACTO,
    "segundo_contacto": Macro.SEGUNDO_CONTACTO,
    "cliente_no_contesta": Macro.CLIENTE_NO_CONTESTA,
    "gestion": Macro.GESTION,
    "rechazo_fr_ro": Macro.RECHAZO_FR_RO,
    "otra_compania": Macro.LINEA_OTRA_COMPANIA,
    "autoagenda": Macro.DERIVACION_AUTOAGENDA,
    "linea_3g": Macro.LINEA_3G,
    "deuda_mp": Macro.DEUDA_OTRA_OPERADORA_MP,
    "oferta_confirmada": Macro.OFERTA_CONFIRMADA,
    "oferta_sin_confirmacion": Macro.OFERTA_SIN_CONFIRMACION,
    "recontacto": Macro.RECONTACTO_SIN_RESPUESTA,
    "no_titular": Macro.CLIENTE_NO_ES_TITULAR,
    "tyc": Macro.CONFIRMACION_PLAN_TYC,
    "sms_ar": Macro.ENVIO_SMS_AR,
    "segundo_token": Macro.SEGUNDO_TOKEN,
    "token_no_contesta": Macro.TOKEN_CLIENTE_NO_CONTESTA,
    "deuda_historica": Macro.DEUDA_HISTORICA_MOVIL,
    "analisis_riesgo": Macro.ANALISIS_DE_RIESGO,
    "subsanar": Macro.SUBSANAR_OBSERVACION,
    "infactible": Macro.SOLICITUD_INFACTIBLE,
    "migracion_exitosa": Macro.MIGRACION_EXITOSA,
    "despedida": Macro.DESPEDIDA,
}


def macro_named(name: str) -> Macro | None:
    """The macro an agent named: its short name (``despedida``), member name or exact title."""
    text = name.strip()
    key = text.lower().replace(" ", "_")
    if key in MACRO_SHORT_NAMES:
        return MACRO_SHORT_NAMES[key]
    by_name = Macro.__members__.get(text.upper().replace(" ", "_"))
    return by_name or next((m for m in Macro if m.value == text), None)


#: The reply of PROCESS.md 1 b), sent as it is written when a request is derived to a government executive.
GOVERNMENT_DERIVATION_REPLY = (
    "Estimado cliente, su solicitud ha sido derivada a un ejecutivo especializado en corporaciones, quien se "
    "pondrá en contacto con usted en un plazo de 24 a 48 horas. Agradecemos su paciencia y comprensión."
)


class Activity(str, Enum):
    """Nodes of the process graph (PROCESS.md's activities and the ends of its branches)."""

    IDENTIFY = "1 Identificar escenario"
    NIT_CHECK = "1a Verificar NIT"
    DERIVE_GOVERNMENT = "1b Derivar por Syshelp"
    PREANALYSIS = "2 Preanálisis Planifícate"
    FR_RO = "2b Línea en FR/RO"
    OTHER_OPERATOR = "2c Línea de otra compañía"
    SIM_3G = "2d Línea 3G"
    DEBT_MP = "2e Deuda en otra operadora"
    OFFER = "3 Oferta"
    HOLDER = "4 Validar titularidad"
    NOT_HOLDER = "4.3 Cliente no es titular"
    CONFIRM_LINE = "5 Confirmar línea"
    TERMS = "6 T&C"
    MIGRATION = "7 Token y migración AR"
    HISTORICAL_DEBT = "7b Deuda histórica"
    CONTRACT = "8 Contrato sin preanálisis"
    CONTRACT_ANALYSIS = "9 Contrato con preanálisis"
    UNFEASIBLE = "9c Solicitud infactible"
    SUCCESS = "10 Migración exitosa"
    FAREWELL = "11 Despedida"
    NO_ANSWER = "Sin respuesta del cliente"
    PERSON = "Derivado a una persona"


#: Edges of the process graph: (from, to, label).
EDGES: list[tuple[Activity, Activity, str]] = [
    (Activity.IDENTIFY, Activity.PREANALYSIS, "prepago"),
    (Activity.IDENTIFY, Activity.NIT_CHECK, "factura a institución"),
    (Activity.IDENTIFY, Activity.NO_ANSWER, "no contesta"),
    (Activity.IDENTIFY, Activity.PERSON, "datos incompletos"),
    (Activity.NIT_CHECK, Activity.DERIVE_GOVERNMENT, "gobierno"),
    (Activity.NIT_CHECK, Activity.PREANALYSIS, "no gobierno"),
    (Activity.DERIVE_GOVERNMENT, Activity.FAREWELL, ""),
    (Activity.PREANALYSIS, Activity.OFFER, "AC + LTE / sin resultado"),
    (Activity.PREANALYSIS, Activity.FR_RO, "FR/RO"),
    (Activity.PREANALYSIS, Activity.OTHER_OPERATOR, "otra compañía"),
    (Activity.PREANALYSIS, Activity.SIM_3G, "3G"),
    (Activity.PREANALYSIS, Activity.DEBT_MP, "MP"),
    (Activity.FR_RO, Activity.FAREWELL, ""),
    (Activity.OTHER_OPERATOR, Activity.FAREWELL, "sin interés"),
    (Activity.SIM_3G, Activity.FAREWELL, ""),
    (Activity.OFFER, Activity.HOLDER, "elige plan + documentos"),
    (Activity.OFFER, Activity.NO_ANSWER, "no contesta"),
    (Activity.HOLDER, Activity.CONFIRM_LINE, "titular, pendiente"),
    (Activity.HOLDER, Activity.TERMS, "titular, confirmada"),
    (Activity.HOLDER, Activity.NOT_HOLDER, "no titular"),
    (Activity.HOLDER, Activity.PERSON, "sin revisión"),
    (Activity.CONFIRM_LINE, Activity.TERMS, ""),
    (Activity.CONFIRM_LINE, Activity.NOT_HOLDER, "CI no corresponde"),
    (Activity.TERMS, Activity.MIGRATION, "ACEPTO"),
    (Activity.TERMS, Activity.NO_ANSWER, "no contesta"),
    (Activity.TERMS, Activity.FAREWELL, "no acepta"),
    (Activity.MIGRATION, Activity.CONTRACT, "migrada"),
    (Activity.MIGRATION, Activity.CONTRACT_ANALYSIS, "error AR"),
    (Activity.MIGRATION, Activity.HISTORICAL_DEBT, "deuda histórica"),
    (Activity.MIGRATION, Activity.NO_ANSWER, "token sin respuesta"),
    (Activity.MIGRATION, Activity.PERSON, "estado desconocido"),
    (Activity.CONTRACT, Activity.SUCCESS, ""),
    (Activity.CONTRACT_ANALYSIS, Activity.SUCCESS, "aprobado"),
    (Activity.CONTRACT_ANALYSIS, Activity.UNFEASIBLE, "no subsanable"),
    (Activity.CONTRACT_ANALYSIS, Activity.NO_ANSWER, "observación sin respuesta"),
    (Activity.SUCCESS, Activity.FAREWELL, ""),
    (Activity.OFFER, Activity.PERSON, "respuesta no entendida"),
    (Activity.TERMS, Activity.PERSON, "respuesta no entendida"),
    (Activity.CONTRACT_ANALYSIS, Activity.PERSON, "analistas sin respuesta"),
    (Activity.SIM_3G, Activity.PERSON, "línea nueva"),
    (Activity.PERSON, Activity.FAREWELL, "agente termina"),
]


class Outcome(str, Enum):
    """How a migration flow ended: one member per end of a branch of PROCESS.md (the value is what the run
    store, the report and the regression catalogue show)."""

    MIGRATED = "migrated"
    UNREACHABLE = "incontactable"
    INCOMPLETE_DATA = "datos_incompletos"
    DERIVED_GOVERNMENT = "derivado_gobierno"
    REJECTED_FR_RO = "rechazo_fr_ro"
    DERIVED_PORTABILITY = "derivado_portabilidad"
    OTHER_OPERATOR_NOT_INTERESTED = "otra_compania_sin_interes"
    SIM_RECOVERY_PENDING = "recuperacion_sim_pendiente"
    SIM_3G_NO_AGREEMENT = "sim_3g_sin_acuerdo"
    DEBT_OTHER_OPERATOR = "deuda_otra_operadora"
    NO_ANSWER_OFFER = "sin_respuesta_oferta"
    DOCUMENT_REVIEW_PENDING = "revision_documentos_pendiente"
    NOT_HOLDER = "no_titular"
    NO_ANSWER_TERMS = "sin_respuesta_tyc"
    TERMS_REFUSED = "no_acepta_tyc"
    NO_ANSWER_TOKEN = "sin_respuesta_token"
    HISTORICAL_DEBT = "deuda_historica"
    ANALYSTS_SILENT = "analistas_sin_respuesta"
    UNFEASIBLE = "infactible"
    NO_ANSWER_FIX = "sin_respuesta_subsanacion"
    AR_UNRESOLVED = "ar_sin_resolver"
    BUSINESS_RULE = "regla_sin_cubrir"
    ENDED_BY_AGENT = "terminado_por_agente"
    HANDOFF_UNANSWERED = "agente_sin_respuesta"


class WaitKind(str, Enum):
    """Who a waiting flow waits for (the run store, ``rpa flow status`` and the report show it)."""

    CUSTOMER = "customer"
    REVIEWER = "reviewer"
    ANALYSTS = "analysts"
    AGENT = "agent"  # a hand-off: an agent must answer the robot's note
    CONSOLE = "console"  # a console is down: the flow tries again after a pause
    HELD = "held"  # an agent took the ticket over from the panel: nothing happens until it is given back
