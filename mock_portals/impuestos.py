"""Mock of the tax service's public taxpayer registry (padrón NIT): "Verificar estado del contribuyente".

The real page is public; this one keeps the login of every other console (the robots open every console
the same way) and says on its screens that it is for consultation only. Taxpayers come from the
scenario; the registry only reads the world.
"""

from __future__ import annotations

import re
import unicodedata

from fastapi import FastAPI, Request
from fastapi.responses import Response

from mock_portals.common import LegacyConsole
from mock_portals.world import TaxpayerSpec, World

NIT = re.compile(r"^\d{5,15}$")
_SUFFIXES = (("S R L", "S.R.L."), ("SRL", "S.R.L."), ("LTDA", "LTDA."), ("S A", "S.A."), ("SA", "S.A."))
_NON_PROFIT = re.compile(r"\b(FUNDACION|ASOCIACION|COOPERATIVA|ONG|IGLESIA|SINDICATO|FEDERACION)\b")


def kind_label(taxpayer: TaxpayerSpec) -> str:
    """The registry's "Tipo de contribuyente", from the scenario's kind and the name's legal form."""
    if taxpayer.kind == "government":
        return "ENTIDAD PÚBLICA / GUBERNAMENTAL"
    plain = unicodedata.normalize("NFKD", taxpayer.name).encode("ascii", "ignore").decode().upper()
    words = " " + re.sub(r"[^A-Z0-9]+", " ", plain).strip() + " "
    if taxpayer.kind == "commercial":
        form = next((label for token, label in _SUFFIXES if f" {token} " in words), None)
        return f"EMPRESA COMERCIAL ({form})" if form else "EMPRESA COMERCIAL (UNIPERSONAL)"
    if _NON_PROFIT.search(plain):
        return "ASOCIACIÓN / FUNDACIÓN SIN FINES DE LUCRO"
    return "PERSONA NATURAL"


def create_app(world: World) -> FastAPI:
    console = LegacyConsole(
        world, "impuestos", "Servicio de Impuestos Nacionales - Padrón Nacional de Contribuyentes (Consulta)", home="/"
    )
    app = console.app

    @app.get("/_alive")
    async def alive() -> dict[str, bool]:
        return {"ok": True}

    console.screen("/", "impuestos/search.html", {"nit": ""})

    @app.get("/estado")
    async def status(request: Request, nit: str = "") -> Response:
        console.require_session(request)
        nit = nit.strip()
        if not NIT.match(nit):
            return console.render(
                request,
                "impuestos/search.html",
                {"nit": nit, "error": "Ingrese un NIT válido: solo números, de 5 a 15 dígitos."},
            )
        taxpayer = world.state.taxpayers.get(nit)
        return console.render(
            request,
            "impuestos/result.html",
            {
                "nit": nit,
                "taxpayer": taxpayer,
                "kind": kind_label(taxpayer) if taxpayer else None,
            },
        )

    return app
