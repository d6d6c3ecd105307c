"""The short names a scenario gives the process's macros, under a ticket's ``customer.replies``.

One more key there, ``aclaracion``, is no macro: it answers the agent's own public replies (the questions
the robot writes when it did not understand the customer).

Both the scenario schema (``mock_portals.world``, which checks the names) and the customer simulator
(``mock_portals.customer``, which answers by them) need this table; it lives here, importing nothing, so
that neither has to import the other.
"""

#: Macro short name (the key of ``customer.replies``) -> the macro's exact title in Zendesk.
MACROS: dict[str, str] = {
    "primer_contacto": "Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Primer contacto",
    "segundo_contacto": "Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Segundo contacto",
    "cliente_no_contesta": "Móvil::WhatsApp::Migración Pre a Post::Saludo Inicial::Cliente No Contesta::Mega Plan X",
    "gestion": "Respuesta rápida::Opción 4",
    "rechazo_fr_ro": "Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea en FR/RO",
    "otra_compania": "Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea de otra compañía",
    "autoagenda": "Móvil::WhatsApp::Migración de Pre a Post::No califica::Derivación Autogenda Cita Web",
    "linea_3g": "Móvil::WhatsApp::Migración de Pre a Post::No califica::Línea 3G",
    "deuda_mp": "Móvil::WhatsApp::Migración de Pre a Post::No califica::Deuda en Otra Operadora MP",
    "oferta_confirmada": "Móvil::WhatsApp::Migración de Pre a Post::Oferta::Línea Confirmada + Plan",
    "oferta_sin_confirmacion": "Móvil::WhatsApp::Migración de Pre a Post::Oferta::Línea sin confirmación + Plan",
    "recontacto": "Móvil::WhatsApp::Migración Pre a Post::Recontacto Sin Respuesta",
    "no_titular": "Transacción no exitosa::Cliente no es titular",
    "tyc": "Móvil::WhatsApp::Confirmación::Plan + T&C sin Teléfono",
    "sms_ar": "Móvil::WhatsApp::Migración de Pre a Post::Tocken::Envío SMS por AR",
    "segundo_token": "Móvil::WhatsApp::Migración de Pre a Post::Tocken::Envío SMS 2do Tocken por Vencimiento",
    "token_no_contesta": "Móvil::WhatsApp::Migración de Pre a Post::Tocken::Cliente no contesta",
    "deuda_historica": "Móvil::WhatsApp::Migración Pre a Post::No Califica::Deuda Histórica Móvil",
    "analisis_riesgo": "Móvil::WhatsApp::Migración de Pre a Post::Rechaza::En Revisión de Activaciones",
    "subsanar": "Móvil::WhatsApp::Migración de Pre a Post::Rechaza::Corregir observación",
    "infactible": "Móvil::WhatsApp::Migración de Pre a Post::Rechaza::Solicitud Infactible",
    "migracion_exitosa": "Móvil::WhatsApp::Migración Pre a Post::Activación Exitosa::Línea Sin Equipo",
    "despedida": "BO::Despedida al resolver",
}

#: A key that answers several macros alike; the macro's own short name wins when both are scripted.
ALIASES: dict[str, tuple[str, ...]] = {"oferta": ("oferta_confirmada", "oferta_sin_confirmacion")}

#: The key answering an agent's public reply that is no macro's (a clarifying question), in order.
CLARIFICATION_KEY = "aclaracion"

#: Every key a scenario may use under ``customer.replies``.
REPLY_KEYS: tuple[str, ...] = (*MACROS, *ALIASES, CLARIFICATION_KEY)

SHORT_NAME_OF_TITLE: dict[str, str] = {title: short for short, title in MACROS.items()}
