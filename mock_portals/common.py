"""What makes a mock a *legacy console*: login and idle-expiring sessions, slow pages, injected faults.

Every console app is built with ``LegacyConsole``, which adds the login form, a cookie session per
portal, the fault middleware (latency, HTTP 500 bursts, a maintenance page, late-rendered elements, an
unexpected notice dialog, a request held before or after the console commits it) and a Jinja2
environment sharing one base layout. Console modules add only their own screens.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from mock_portals.world import FaultState, HeldRequest, HoldSpec, World

TEMPLATES = Path(__file__).parent / "templates"
#: Key of ``world.state.records`` holding the request log while one is kept (``/_control/request_log``).
REQUEST_LOG = "request_log"


def now() -> datetime:
    return datetime.now(UTC)


class LoginRequired(Exception):
    """Raised by ``require_session`` when the visitor has no live session."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def fault_middleware(app: FastAPI, world: World, portal: str, *, json_errors: bool = False) -> None:
    """Apply the portal's injected faults and the scenario's latency to every request.

    The scenario's latency is the slowness of the legacy consoles; the Zendesk API (``json_errors``), a
    SaaS, gets latency only as an injected fault. A hold (``HoldSpec``) keeps one matching request so a
    test can stop its client at a chosen moment of a write; ``world.held`` lists the requests held now. While a request log is kept (``REQUEST_LOG``, switched
    on through the control API; off by default) every request is appended to it, so a benchmark can
    replay the very requests a flow made.
    """

    @app.middleware("http")
    async def faults(request: Request, call_next: Any) -> Response:
        log = world.state.records.get(REQUEST_LOG)
        if log is None:
            return await answer(request, call_next)
        started = time.monotonic()
        body = await request.body()
        response = await answer(request, call_next)
        log.append(
            {
                "portal": portal,
                "method": request.method,
                "path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                "content_type": request.headers.get("content-type"),
                "body": base64.b64encode(body).decode("ascii"),
                "user_agent": request.headers.get("user-agent", ""),
                "status": response.status_code,
                "started": started,
                "seconds": time.monotonic() - started,
            }
        )
        return response

    async def answer(request: Request, call_next: Any) -> Response:
        fault: FaultState = world.state.faults[portal]
        world.state.requests[portal] = world.state.requests.get(portal, 0) + 1
        delay = (0 if json_errors else world.scenario.latency_ms) + fault.latency_ms
        if delay:
            await asyncio.sleep(delay / 1000)
        if fault.maintenance_until and fault.maintenance_until > now():
            if json_errors:
                return Response(
                    '{"error": "ServiceUnavailable", "description": "Maintenance"}',
                    status_code=503,
                    media_type="application/json",
                    headers={"Retry-After": "1"},
                )
            return HTMLResponse(
                _page("Sistema en mantenimiento", "El sistema se encuentra en mantenimiento. Intente más tarde."),
                status_code=503,
            )
        if fault.fail_next > 0:
            fault.fail_next -= 1
            if json_errors:
                return Response(
                    '{"error": "InternalServerError", "description": "Internal Server Error"}',
                    status_code=500,
                    media_type="application/json",
                )
            return HTMLResponse(_page("Error del servidor", "Ocurrió un error inesperado (500)."), status_code=500)
        if json_errors and fault.rate_limit_next > 0:
            fault.rate_limit_next -= 1
            return Response(
                '{"error": "TooManyRequests", "description": "Rate limit exceeded"}',
                status_code=429,
                media_type="application/json",
                headers={"Retry-After": "1"},
            )
        # Matched last: a request another fault answered never reached the console, so it is not held.
        path = request.scope["path"]
        hold = next((h for h in fault.holds if h.matches(request.method, path)), None)
        if hold is None:
            return await call_next(request)
        fault.holds.remove(hold)  # one request per hold: later matches pass
        return await held_answer(request, call_next, hold, path)

    async def held_answer(request: Request, call_next: Any, hold: HoldSpec, path: str) -> Response:
        """Keep the request ``before`` the console sees it (then 503, nothing committed), or keep the
        console's answer ``after`` it committed; either until the hold's time passes or it is released."""
        response = await call_next(request) if hold.phase == "after" else None
        # Listed only from here: once a test sees an "after" hold, the console has committed.
        since = now()
        held = HeldRequest(
            portal=portal,
            method=request.method,
            path=path,
            phase=hold.phase,
            since=since,
            until=since + timedelta(seconds=hold.seconds),
        )
        world.held.append(held)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(held.release.wait(), hold.seconds)
        finally:
            if held in world.held:
                world.held.remove(held)
        if response is not None:
            return response
        if json_errors:
            return Response(
                '{"error": "ServiceUnavailable", "description": "Service unavailable"}',
                status_code=503,
                media_type="application/json",
                headers={"Retry-After": "1"},
            )
        return HTMLResponse(
            _page("Servicio no disponible", "El sistema no pudo atender la solicitud. Intente más tarde."),
            status_code=503,
        )


def _page(title: str, text: str) -> str:
    return (
        f"<!doctype html><html lang='es'><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    )


class LegacyConsole:
    """Builds the FastAPI app of one legacy console over the shared world."""

    def __init__(self, world: World, portal: str, title: str, *, home: str = "/") -> None:
        self.world = world
        self.portal = portal
        self.title = title
        self.home = home
        self.cookie = f"{portal}_sid"
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        self.app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
        fault_middleware(self.app, world, portal)
        self._add_login_routes()

        @self.app.exception_handler(LoginRequired)
        async def to_login(request: Request, exc: LoginRequired) -> Response:
            return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    # -- sessions ---------------------------------------------------------------------------
    @property
    def sessions(self) -> dict[str, datetime]:
        return self.world.sessions[self.portal]

    def require_session(self, request: Request) -> str:
        """The visitor's session id; refreshes its idle clock, or sends them to the login page."""
        sid = request.cookies.get(self.cookie)
        seen = self.sessions.get(sid or "")
        idle = self.world.scenario.session_idle_seconds
        if sid is None or seen is None or (now() - seen).total_seconds() > idle:
            self.sessions.pop(sid or "", None)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
        self.sessions[sid] = now()
        return sid

    def _add_login_routes(self) -> None:
        app = self.app

        @app.get("/login", response_class=HTMLResponse)
        async def login_form(request: Request, next: str = "") -> Response:
            return self.render(request, "login.html", {"next": next, "error": None})

        @app.post("/login")
        async def login(request: Request) -> Response:
            form = await request.form()
            creds = self.world.scenario.credentials
            user, password = str(form.get("usuario", "")), str(form.get("clave", ""))
            next_path = str(form.get("next") or self.home)
            if urlsplit(next_path).netloc or not next_path.startswith("/"):
                next_path = self.home
            if user != creds.user or password != creds.password:
                return self.render(
                    request,
                    "login.html",
                    {"next": next_path, "error": "Usuario o contraseña incorrectos."},
                    status_code=200,
                )
            sid = secrets.token_urlsafe(16)
            self.sessions[sid] = now()
            response = RedirectResponse(next_path, status_code=303)
            response.set_cookie(self.cookie, sid, httponly=True, samesite="lax")
            return response

        @app.get("/logout")
        async def logout(request: Request) -> Response:
            self.sessions.pop(request.cookies.get(self.cookie, ""), None)
            return RedirectResponse("/login", status_code=303)

    def screen(self, path: str, template: str, context: dict[str, Any] | None = None) -> None:
        """Serve a fixed screen (a menu, an empty form) behind the login."""

        async def show(request: Request) -> Response:
            self.require_session(request)
            return self.render(request, template, dict(context or {}))

        self.app.add_api_route(path, show, methods=["GET"], include_in_schema=False)

    # -- rendering --------------------------------------------------------------------------
    def render(
        self, request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
    ) -> Response:
        fault = self.world.state.faults[self.portal]
        ctx = {
            "console_title": self.title,
            "portal": self.portal,
            "show_notice": fault.modal,
            "late_render_ms": fault.late_render_ms,
            "logged_in": template != "login.html",
            **(context or {}),
        }
        return self.templates.TemplateResponse(request, template, ctx, status_code=status_code)
