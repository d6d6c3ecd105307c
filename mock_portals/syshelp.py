"""Mock of Syshelp, the internal help desk where agents derive requests to other teams (PROCESS.md 1 b:
government customers go to "Derivación B2B" / "Ejecutivos Gobierno").

The new-ticket form is a legacy one: the subtypes depend on the type and come from the server (button
"Cargar subtipos" reloads the form with what was typed), validation happens on the server, and a
registered ticket gets a number like ``SH-2026-000001``. Tickets are kept, in order, in
``world.state.records["syshelp"]["tickets"]``.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from mock_portals.common import LegacyConsole, now
from mock_portals.world import World

#: Tipo -> its Subtipos, as the console offers them.
TICKET_TYPES: dict[str, list[str]] = {
    "Consulta": ["Información general", "Estado de trámite"],
    "Derivación B2B": ["Ejecutivos Gobierno", "Ejecutivos Corporativos", "Ejecutivos PyME"],
    "Soporte técnico": ["Red móvil", "Internet fijo"],
    "Reclamo": ["Facturación", "Calidad de servicio"],
}
FIELDS = ("tipo", "subtipo", "entidad", "contacto", "telefono", "correo", "descripcion")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?\d{7,11}$")


def validate(values: dict[str, str]) -> list[str]:
    """The console's own checks, one message per problem."""
    errors = []
    subtypes = TICKET_TYPES.get(values["tipo"])
    if subtypes is None:
        errors.append("Seleccione el Tipo del ticket.")
    elif values["subtipo"] not in subtypes:
        errors.append("Seleccione un Subtipo válido para el Tipo elegido.")
    for key, label in (
        ("entidad", "Nombre de la Entidad"),
        ("contacto", "Nombre del contacto"),
        ("telefono", "Nro de teléfono"),
        ("correo", "Correo"),
        ("descripcion", "Descripción"),
    ):
        if not values[key]:
            errors.append(f"El campo {label} es obligatorio.")
    if values["telefono"] and not PHONE.match(re.sub(r"[\s-]", "", values["telefono"])):
        errors.append("El Nro de teléfono debe tener entre 7 y 11 dígitos.")
    if values["correo"] and not EMAIL.match(values["correo"]):
        errors.append("El Correo no tiene un formato válido (ejemplo: nombre@dominio.com).")
    if len(values["descripcion"]) > 1000:
        errors.append("La Descripción admite hasta 1000 caracteres.")
    return errors


def create_app(world: World) -> FastAPI:
    console = LegacyConsole(world, "syshelp", "Syshelp - Mesa de Ayuda", home="/tickets")
    app = console.app

    def tickets() -> list[dict]:
        return world.state.records.setdefault("syshelp", {"tickets": []})["tickets"]

    def ticket_form(request: Request, values: dict[str, str], errors: list[str] | None = None) -> Response:
        return console.render(
            request,
            "syshelp/new.html",
            {
                "values": values,
                "errors": errors or [],
                "types": list(TICKET_TYPES),
                "subtypes": TICKET_TYPES.get(values.get("tipo", ""), []),
            },
        )

    @app.get("/_alive")
    async def alive() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/")
    async def home(request: Request) -> Response:
        console.require_session(request)
        return RedirectResponse("/tickets", status_code=303)

    @app.get("/tickets")
    async def my_tickets(request: Request) -> Response:
        console.require_session(request)
        return console.render(request, "syshelp/list.html", {"tickets": list(reversed(tickets()))})

    @app.get("/tickets/nuevo")
    async def new_ticket(request: Request) -> Response:
        # Also the target of "Cargar subtipos": whatever was typed comes back in the query and is kept.
        console.require_session(request)
        values = {key: request.query_params.get(key, "").strip() for key in FIELDS}
        return ticket_form(request, values)

    @app.post("/tickets")
    async def register(request: Request) -> Response:
        console.require_session(request)
        form = await request.form()
        values = {key: str(form.get(key, "")).strip() for key in FIELDS}
        errors = validate(values)
        if errors:
            return ticket_form(request, values, errors)
        registered = now()
        number = f"SH-{registered:%Y}-{len(tickets()) + 1:06d}"
        tickets().append(
            {
                "number": number,
                "tipo": values["tipo"],
                "subtipo": values["subtipo"],
                "entity_name": values["entidad"],
                "contact_name": values["contacto"],
                "phone": values["telefono"],
                "email": values["correo"],
                "description": values["descripcion"],
                "status": "Registrado",
                "registered_at": registered.isoformat(),
            }
        )
        return RedirectResponse(f"/tickets/{number}?registrado=1", status_code=303)

    @app.get("/tickets/{number}")
    async def ticket_detail(request: Request, number: str, registrado: int = 0) -> Response:
        console.require_session(request)
        ticket = next((t for t in tickets() if t["number"] == number), None)
        if ticket is None:
            return console.render(
                request,
                "syshelp/list.html",
                {
                    "tickets": list(reversed(tickets())),
                    "error": f"El ticket {number} no existe.",
                },
            )
        return console.render(request, "syshelp/detail.html", {"ticket": ticket, "just_registered": bool(registrado)})

    return app
