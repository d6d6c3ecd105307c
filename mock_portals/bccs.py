"""Mock of BCCS, the billing and collections console: a customer's historical debt by CI, and a line's
billing data (the name and document the invoices carry).

Debt comes from the scenario's customers; billing changes land on the shared world's line
(``billing_name``/``billing_id``) and each one is kept, with what it replaced, in
``world.state.records["bccs"]["billing_changes"]``.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from mock_portals.common import LegacyConsole, now
from mock_portals.world import World

DOCUMENT_TYPES = ("CI", "NIT")
CI_NUMBER = re.compile(r"^\d{4,10}(-[0-9A-Z]{1,2})?$")
NIT_NUMBER = re.compile(r"^\d{5,15}$")


def bolivianos(amount: float | Decimal) -> str:
    """Money the way BCCS prints it: ``Bs 1.250,50`` (dot for thousands, comma for cents)."""
    value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole, _, cents = f"{value:,.2f}".partition(".")
    return f"Bs {whole.replace(',', '.')},{cents}"


def debt_rows(total: float, detail: str) -> list[str]:
    """The detail table's concepts: one per ``;`` or line of the scenario's free-text detail."""
    concepts = [part.strip() for part in re.split(r"[;\n]", detail or "") if part.strip()]
    if total > 0 and not concepts:
        concepts = ["Deuda histórica móvil"]
    return concepts


def create_app(world: World) -> FastAPI:
    console = LegacyConsole(world, "bccs", "BCCS - Facturación y Cobranzas", home="/")
    app = console.app

    def records() -> dict:
        return world.state.records.setdefault("bccs", {"billing_changes": []})

    @app.get("/_alive")
    async def alive() -> dict[str, bool]:
        return {"ok": True}

    console.screen("/", "bccs/menu.html")

    # -- historical debt ------------------------------------------------------------------------
    console.screen("/deuda", "bccs/debt_form.html", {"ci": ""})

    @app.get("/deuda/consulta")
    async def debt_result(request: Request, ci: str = "") -> Response:
        console.require_session(request)
        ci = ci.strip().upper()
        if not CI_NUMBER.match(ci):
            return console.render(
                request,
                "bccs/debt_form.html",
                {"ci": ci, "error": "Ingrese un número de CI válido (solo dígitos y complemento)."},
            )
        customer = world.state.customers.get(ci)
        if customer is None:
            return console.render(
                request, "bccs/debt_form.html", {"ci": ci, "error": f"No existe un cliente registrado con el CI {ci}."}
            )
        return console.render(
            request,
            "bccs/debt_result.html",
            {
                "ci": ci,
                "customer": customer,
                "total": bolivianos(customer.historical_debt),
                "has_debt": customer.historical_debt > 0,
                "rows": debt_rows(customer.historical_debt, customer.debt_detail),
            },
        )

    # -- billing data -----------------------------------------------------------------------------
    def billing_form(request: Request, values: dict, errors: list[str] | None = None) -> Response:
        return console.render(
            request,
            "bccs/billing_form.html",
            {"values": values, "errors": errors or [], "document_types": DOCUMENT_TYPES},
        )

    @app.get("/facturacion")
    async def billing_start(request: Request) -> Response:
        console.require_session(request)
        return billing_form(request, {"linea": "", "nombre": "", "tipo_documento": "NIT", "numero_documento": ""})

    @app.post("/facturacion")
    async def billing_save(request: Request) -> Response:
        console.require_session(request)
        form = await request.form()
        values = {
            key: str(form.get(key, "")).strip() for key in ("linea", "nombre", "tipo_documento", "numero_documento")
        }
        values["numero_documento"] = values["numero_documento"].upper()
        errors = []
        if not re.fullmatch(r"\d{8}", values["linea"]):
            errors.append("Ingrese un número de línea de 8 dígitos.")
        if not values["nombre"]:
            errors.append("El nombre o razón social es obligatorio.")
        elif len(values["nombre"]) > 120:
            errors.append("El nombre o razón social admite hasta 120 caracteres.")
        if values["tipo_documento"] not in DOCUMENT_TYPES:
            errors.append("Seleccione el tipo de documento (CI o NIT).")
        elif not (CI_NUMBER if values["tipo_documento"] == "CI" else NIT_NUMBER).match(values["numero_documento"]):
            errors.append(f"El número de documento no es un {values['tipo_documento']} válido.")
        if errors:
            return billing_form(request, values, errors)
        line = world.state.lines.get(values["linea"])
        if line is None:
            return billing_form(request, values, [f"La línea {values['linea']} no está registrada en BCCS."])
        records()["billing_changes"].append(
            {
                "line": line.number,
                "previous_name": line.billing_name,
                "previous_id": line.billing_id,
                "name": values["nombre"],
                "document_type": values["tipo_documento"],
                "document_number": values["numero_documento"],
                "changed_at": now().isoformat(),
            }
        )
        line.billing_name = values["nombre"]
        line.billing_id = values["numero_documento"]
        return RedirectResponse(f"/facturacion/confirmacion?linea={line.number}", status_code=303)

    @app.get("/facturacion/confirmacion")
    async def billing_done(request: Request, linea: str = "") -> Response:
        console.require_session(request)
        line = world.state.lines.get(linea.strip())
        if line is None:
            return billing_form(
                request,
                {"linea": linea, "nombre": "", "tipo_documento": "NIT", "numero_documento": ""},
                [f"La línea {linea} no está registrada en BCCS."],
            )
        changes = [c for c in records()["billing_changes"] if c["line"] == line.number]
        document_type = changes[-1]["document_type"] if changes else "-"
        return console.render(request, "bccs/billing_done.html", {"line": line, "document_type": document_type})

    return app
