"""Mock of Qvantel, the CRM/BSS console: look a line up, read its sheet, confirm its registration.

The line view is an old-style shell: header and actions in the outer document, the line's data in an
iframe ("Ficha de la línea") that is a document of its own and checks the session by itself, so an
expired session can show up inside the frame. Pending lines offer "Confirmar registro", the
Televentas Digital form: the agent types the holder's CI (checked against the line's holder) and the
ACMO (agent / operation code). Confirming changes the shared world's line (``confirmed``,
``confirmed_at``, ``acmo``), so AR sees it; every confirmation is also kept in
``world.state.records["qvantel"]["confirmations"]``. Plan type and plan are read straight from the
world's line, so a line AR migrated shows up here as Pospago with its new plan.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from mock_portals.common import LegacyConsole, now
from mock_portals.world import Line, World

#: Bolivia keeps UTC-4 all year; the console shows local time.
LA_PAZ = timezone(timedelta(hours=-4))
LINE_DIGITS = re.compile(r"^\d{8}$")
ACMO_CODE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{1,29}$")
_CI = re.compile(r"^(?P<number>(?:E-)?\d{4,10})(?:-(?P<complement>[0-9][A-Z]))?(?:-?(?:LP|CB|SC|OR|PT|TJ|CH|BE|PD))?$")

#: Messages the line view shows after the Televentas Digital form, by the ``aviso`` query value.
NOTICES = {
    "confirmada": "Registro de la línea {number} confirmado correctamente.",
    "ya_confirmada": "La línea {number} ya se encuentra confirmada. No se realizaron cambios.",
}


def console_time(moment: datetime | None) -> str:
    """A date-time the way Qvantel prints it (La Paz time, to the minute), or "Sin registro"."""
    if moment is None:
        return "Sin registro"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{aware.astimezone(LA_PAZ):%d/%m/%Y %H:%M}"


def same_holder(typed: str, holder: str) -> bool:
    """Qvantel's holder check: the CI number must match; the issuing department never counts, and the
    complement (``-1A``) only when both sides carry one (agents often leave it out)."""

    def parts(value: str) -> tuple[str, str | None] | None:
        text = re.sub(r"\s+(?=[0-9][A-Z]\b)", "-", str(value).strip().upper())
        match = _CI.match(re.sub(r"[\s.]", "", text))
        return (match["number"], match["complement"]) if match else None

    mine, theirs = parts(typed), parts(holder)
    if mine is None or theirs is None:
        return re.sub(r"[\s.]", "", typed).upper() == re.sub(r"[\s.]", "", holder).upper()
    if mine[0] != theirs[0]:
        return False
    return mine[1] is None or theirs[1] is None or mine[1] == theirs[1]


def create_app(world: World) -> FastAPI:
    console = LegacyConsole(world, "qvantel", "Qvantel BSS - Gestión de Clientes", home="/")
    app = console.app

    def records() -> dict:
        return world.state.records.setdefault("qvantel", {"confirmations": []})

    def search_page(request: Request, number: str = "", error: str | None = None) -> Response:
        return console.render(request, "qvantel/search.html", {"number": number, "error": error})

    def line_view(number: str) -> str:
        return "/linea?" + urlencode({"numero": number})

    @app.get("/_alive")
    async def alive() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/")
    async def search(request: Request) -> Response:
        console.require_session(request)
        return search_page(request)

    @app.get("/linea")
    async def line(request: Request, numero: str = "", aviso: str = "") -> Response:
        console.require_session(request)
        number = numero.strip()
        if not LINE_DIGITS.match(number):
            return search_page(request, number, "Ingrese un número de línea de 8 dígitos.")
        found = world.state.lines.get(number)
        if found is None:
            return search_page(request, number, f"La línea {number} no existe.")
        notice = NOTICES.get(aviso, "").format(number=number) or None
        return console.render(request, "qvantel/line.html", {"line": found, "notice": notice})

    @app.get("/linea/ficha")
    async def sheet(request: Request, numero: str = "") -> Response:
        # The frame is requested on its own, so it checks the session on its own too.
        console.require_session(request)
        number = numero.strip()
        found = world.state.lines.get(number)
        return console.render(
            request,
            "qvantel/sheet.html",
            {
                "number": number,
                "line": found,
                "last_sim_recovery": console_time(found.last_sim_recovery) if found else "",
            },
        )

    # -- Televentas Digital: confirm the registration ------------------------------------------
    def confirm_form(request: Request, found: Line, values: dict[str, str], error: str | None = None) -> Response:
        return console.render(request, "qvantel/confirm.html", {"line": found, "values": values, "error": error})

    @app.get("/linea/confirmar")
    async def confirm_start(request: Request, numero: str = "") -> Response:
        console.require_session(request)
        number = numero.strip()
        found = world.state.lines.get(number)
        if found is None:
            return search_page(request, number, f"La línea {number} no existe.")
        if found.confirmed:
            return RedirectResponse(line_view(number) + "&aviso=ya_confirmada", status_code=303)
        return confirm_form(request, found, {"ci": "", "acmo": ""})

    @app.post("/linea/confirmar")
    async def confirm(request: Request) -> Response:
        sid = console.require_session(request)
        form = await request.form()
        number = str(form.get("numero", "")).strip()
        values = {"ci": str(form.get("ci", "")).strip(), "acmo": str(form.get("acmo", "")).strip().upper()}
        found = world.state.lines.get(number)
        if found is None:
            return search_page(request, number, f"La línea {number} no existe.")
        if not values["ci"]:
            return confirm_form(request, found, values, "Ingrese el CI del titular.")
        if not values["acmo"]:
            return confirm_form(request, found, values, "Ingrese el ACMO (código de agente / operación).")
        if not ACMO_CODE.match(values["acmo"]):
            return confirm_form(
                request, found, values, "El ACMO solo admite letras, números, puntos y guiones (hasta 30 caracteres)."
            )
        if found.confirmed:
            return RedirectResponse(line_view(number) + "&aviso=ya_confirmada", status_code=303)
        if not same_holder(values["ci"], found.holder_ci):
            return confirm_form(request, found, values, "El CI no corresponde al titular de la línea.")
        found.confirmed = True
        found.confirmed_at = now()
        found.acmo = values["acmo"]
        records()["confirmations"].append(
            {
                "line": number,
                "acmo": found.acmo,
                "session": sid[:6],
                "confirmed_at": found.confirmed_at.isoformat(),
            }
        )
        return RedirectResponse(line_view(number) + "&aviso=confirmada", status_code=303)

    return app
