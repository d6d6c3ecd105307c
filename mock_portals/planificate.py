"""Mock of Planifícate, the pre-analysis tool: search a line, read its state, SIM, operator and plans."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from mock_portals.common import LegacyConsole
from mock_portals.world import World


def create_app(world: World) -> FastAPI:
    console = LegacyConsole(world, "planificate", "Planifícate - Preanálisis de Clientes", home="/")
    app = console.app

    @app.get("/_alive")
    async def alive() -> dict[str, bool]:
        return {"ok": True}

    console.screen("/", "planificate/search.html", {"number": ""})

    @app.get("/resultado")
    async def result(request: Request, linea: str = "") -> Response:
        console.require_session(request)
        number = linea.strip()
        if not number.isdigit() or len(number) != 8:
            return console.render(
                request,
                "planificate/search.html",
                {"number": number, "error": "Ingrese un número de línea de 8 dígitos."},
            )
        line = world.state.lines.get(number)
        # Planifícate knows nothing of lines outside our records, and some of ours give it no result.
        no_result = line is None or (line.other_operator is None and line.recommended_plans is None)
        return console.render(
            request, "planificate/result.html", {"number": number, "line": line, "no_result": no_result}
        )

    return app
