"""Mock of AR, the Activador Regional: the token sent by SMS, the migration itself, and its read-only state.

The token screen "sends" a one-time code from short code 7371 into the line's SMS inbox in the world
(the customer's phone, as the control API shows it); the console never displays the code. The migration
form offers only the plans Scoring allows; on "Migrar" AR checks the token, runs its own pre-analysis
(Scoring, Infocenter, Lista Negra) and answers with what the line's ``ar_outcome`` says. A migration
changes the shared line (plan, plan type, date, counter); a line already postpaid is never migrated again.

Tokens live in ``world.state.records["ar"]``: line -> {code, issued_at, expires_at, used, migration}.
Only the newest token of a line exists, so issuing one voids the previous code. The state screen shows
when that token was sent and when it expires (never its code), which is how a robot can tell afterwards
whether a token SMS went out.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from mock_portals.common import LegacyConsole, now
from mock_portals.world import Line, Sms, World

SHORT_CODE = "7371"
#: Plans offered when Scoring has no list of its own and Planifícate recommended none.
DEFAULT_CATALOGUE = ["Mega Plan 49", "Mega Plan 69", "Mega Plan 99", "Mega Plan 149"]
# No O/0 or I/1: the customer types the code back over WhatsApp.
TOKEN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TOKEN_LENGTH = 6
LA_PAZ = timezone(timedelta(hours=-4))


def new_code() -> str:
    """An alphanumeric one-time code, as AR's SMS shows it: letters and at least one digit."""
    while True:
        code = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))
        if any(c.isdigit() for c in code) and any(c.isalpha() for c in code):
            return code


def console_time(moment: datetime | None) -> str:
    """Dates as AR shows them: Bolivian local time with its offset."""
    if moment is None:
        return "-"
    return moment.astimezone(LA_PAZ).strftime("%d/%m/%Y %H:%M:%S %z")


def _duration(seconds: float) -> str:
    whole = max(1, round(seconds))
    if whole >= 60 and whole % 60 == 0:
        minutes = whole // 60
        return f"{minutes} minuto" if minutes == 1 else f"{minutes} minutos"
    return f"{whole} segundo" if whole == 1 else f"{whole} segundos"


def offered_plans(line: Line) -> list[str]:
    """What Scoring lets this line choose."""
    if line.ar_allowed_plans is not None:
        return list(line.ar_allowed_plans)
    return list(line.recommended_plans or DEFAULT_CATALOGUE)


def create_app(world: World) -> FastAPI:
    console = LegacyConsole(world, "ar", "Activador Regional - AR", home="/")
    app = console.app

    def tokens() -> dict[str, dict[str, Any]]:
        return world.state.records.setdefault("ar", {})

    def find_line(number: str) -> tuple[Line | None, str | None]:
        """The line, or the alert AR shows instead of working on it."""
        if not number.isdigit() or len(number) != 8:
            return None, "Ingrese un número de línea de 8 dígitos."
        line = world.state.lines.get(number)
        if line is None:
            return None, f"La línea {number} no existe en el sistema."
        if line.other_operator:
            return None, f"La línea {number} pertenece a otro operador ({line.other_operator})."
        return line, None

    def postpaid_alert(line: Line) -> str:
        return f"La línea {line.number} ya tiene un plan Pospago ({line.plan}); no corresponde migrarla."

    @app.get("/_alive")
    async def alive() -> dict[str, bool]:
        return {"ok": True}

    console.screen("/", "ar/home.html")

    # -- token -------------------------------------------------------------------------------
    console.screen("/token", "ar/token.html", {"number": ""})

    @app.post("/token")
    async def issue_token(request: Request) -> Response:
        console.require_session(request)
        form = await request.form()
        number = str(form.get("linea", "")).strip()
        line, error = find_line(number)
        if line is not None and line.plan_type == "Pospago":
            error = postpaid_alert(line)
        if error:
            return console.render(request, "ar/token.html", {"number": number, "error": error})
        assert line is not None
        ttl = world.scenario.token_ttl_seconds
        code = new_code()
        issued = now()
        tokens()[number] = {
            "code": code,
            "issued_at": issued,
            "expires_at": issued + timedelta(seconds=ttl),
            "used": False,
            "migration": None,
        }
        world.state.sms.setdefault(number, []).append(
            Sms(
                sender=SHORT_CODE,
                sent_at=issued,
                text=f"Su código de verificación para la migración es {code}. Vence en {_duration(ttl)}.",
            )
        )
        return console.render(
            request,
            "ar/token.html",
            {
                "number": number,
                "issued": {
                    "line": number,
                    "sender": SHORT_CODE,
                    "issued_at": console_time(issued),
                    "ttl_seconds": max(1, round(ttl)),
                    "expires_at": console_time(issued + timedelta(seconds=ttl)),
                },
            },
        )

    # -- migration ---------------------------------------------------------------------------
    def render_form(request: Request, line: Line, values: dict[str, str], error: str | None = None) -> Response:
        return console.render(
            request,
            "ar/migration_form.html",
            {"line": line, "plans": offered_plans(line), "values": values, "error": error},
        )

    @app.get("/migracion")
    async def migration_form(request: Request, linea: str | None = None) -> Response:
        console.require_session(request)
        if linea is None:
            return console.render(request, "ar/migration_search.html", {"number": ""})
        number = linea.strip()
        line, error = find_line(number)
        if line is not None and line.plan_type == "Pospago":
            error = postpaid_alert(line)
        if line is not None and not error and not offered_plans(line):
            error = f"Scoring no habilita planes pospago para la línea {number}."
        if error or line is None:
            return console.render(request, "ar/migration_search.html", {"number": number, "error": error})
        return render_form(request, line, {"linea": number})

    @app.post("/migracion")
    async def migrate(request: Request) -> Response:
        console.require_session(request)
        form = await request.form()
        values = {
            name: str(form.get(name, "")).strip()
            for name in ("linea", "token", "plan", "ciudad", "correo", "direccion")
        }
        number = values["linea"]
        line, error = find_line(number)
        if error or line is None:
            return console.render(request, "ar/migration_search.html", {"number": number, "error": error})
        # Checked again on submit: the line may have been migrated from another screen meanwhile.
        if line.plan_type == "Pospago":
            return console.render(
                request, "ar/migration_search.html", {"number": number, "error": postpaid_alert(line)}
            )
        token = tokens().get(number)
        typed = values["token"].upper()
        if token is None or not typed or typed != token["code"]:
            return render_form(request, line, values, "Token incorrecto. Verifique el código enviado por SMS.")
        if token["used"]:
            return render_form(request, line, values, "Token ya utilizado. Genere un nuevo token.")
        if now() > token["expires_at"]:
            return render_form(request, line, values, "Token vencido. Genere un nuevo token.")
        if values["plan"] not in offered_plans(line):
            return render_form(
                request, line, values, f"El plan '{values['plan']}' no está habilitado por Scoring para esta línea."
            )
        # The process never asks the customer for an e-mail, so AR does not require one.
        missing = [
            label
            for name, label in (("ciudad", "Ciudad"), ("direccion", "Dirección de facturación"))
            if not values[name]
        ]
        if missing:
            return render_form(request, line, values, f"Complete los campos obligatorios: {', '.join(missing)}.")

        # From here the request is processed: the one-time code is spent whatever AR answers.
        token["used"] = True
        token["migration"] = {
            "plan": values["plan"],
            "city": values["ciudad"],
            "email": values["correo"],
            "billing_address": values["direccion"],
            "outcome": line.ar_outcome,
            "at": now(),
        }
        if line.ar_outcome == "error":
            preanalysis = {"Scoring": "No concluido", "Infocenter": "No concluido", "Lista Negra": "No concluido"}
            return console.render(
                request,
                "ar/migration_result.html",
                {"line": line, "preanalysis": preanalysis, "error": line.ar_error_message},
            )
        if line.ar_outcome == "historical_debt":
            preanalysis = {
                "Scoring": "Aprobado",
                "Infocenter": "Sin observaciones",
                "Lista Negra": "Deuda histórica registrada",
            }
            return console.render(
                request,
                "ar/migration_result.html",
                {
                    "line": line,
                    "preanalysis": preanalysis,
                    "error": "Lista Negra: el cliente registra deuda histórica. No se puede realizar la migración.",
                },
            )
        line.plan_type = "Pospago"
        line.plan = values["plan"]
        line.migrated_at = now()
        line.migrations += 1
        order = f"AR-{world.next_id()}"
        token["migration"]["order"] = order
        preanalysis = {"Scoring": "Aprobado", "Infocenter": "Sin observaciones", "Lista Negra": "Sin registros"}
        return console.render(
            request,
            "ar/migration_result.html",
            {"line": line, "preanalysis": preanalysis, "order": order, "migrated_at": console_time(line.migrated_at)},
        )

    # -- state -------------------------------------------------------------------------------
    @app.get("/estado")
    async def state(request: Request, linea: str | None = None) -> Response:
        console.require_session(request)
        if linea is None:
            return console.render(request, "ar/state.html", {"number": ""})
        number = linea.strip()
        line, error = find_line(number)
        context: dict[str, Any] = {"number": number, "error": error}
        if line is not None:
            token = tokens().get(number) or {}
            context["state"] = {
                "Línea": line.number,
                "Tipo de plan": line.plan_type,
                "Plan": line.plan,
                "Migrada": "Sí" if line.migrations else "No",
                "Fecha de migración": console_time(line.migrated_at),
                "Último token enviado": console_time(token.get("issued_at")),
                "Token vence": console_time(token.get("expires_at")),
            }
        return console.render(request, "ar/state.html", context)

    return app
