"""Apps installed in the Zendesk mock, hosted in the agent page's ticket sidebar as Zendesk hosts them.

Agents work in Zendesk's agent workspace, so the product's side of a ticket is a Zendesk app (Zendesk Apps
Framework v2): a page of ours in an iframe of the ticket sidebar that talks to Zendesk through the ZAF
SDK's postMessage protocol. For the same app to run against this mock and a real Zendesk, the mock hosts
the account's installed apps (``ZendeskAccount.apps``, or one installed through the control API) the way
Zendesk does: the iframe's URL carries ``origin`` and ``app_guid``, a host script on the agent page
(``static/zaf_host.js``) answers the handshake, ``get`` and ``invoke`` requests, and relays the app's
``request`` calls to the secure settings proxy here, which puts the installation's settings into the
request server side, so a secure setting never reaches the browser, and only for the hosts the app
whitelists. The installations API lists them in Zendesk's shape, secure settings left out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from mock_portals.world import Ticket, User, World, ZendeskAppSpec

STATIC = Path(__file__).parent / "static"
#: Ids are fixed by install order, so a test and a person reading JSON agree until the next reset.
INSTALLATION_ID_BASE = 360005000000
APP_ID_BASE = 800000
#: Zendesk's placeholder for an installation's setting in a proxied request.
SETTING_PLACEHOLDER = re.compile(r"\{\{\s*setting\.([A-Za-z0-9_.\-]+)\s*\}\}")
PROXY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Installation:
    id: int
    app_id: int
    spec: ZendeskAppSpec


def installations(world: World) -> list[Installation]:
    return [
        Installation(INSTALLATION_ID_BASE + n, APP_ID_BASE + n, spec)
        for n, spec in enumerate(world.scenario.zendesk.apps, start=1)
    ]


def installation_of(world: World, installation_id: int) -> Installation | None:
    return next((i for i in installations(world) if i.id == installation_id), None)


def install(world: World, spec: ZendeskAppSpec) -> Installation:
    """Install an app until the next reset (the scenario's own apps come back then)."""
    account = world.scenario.zendesk.model_copy(update={"apps": [*world.scenario.zendesk.apps, spec]})
    world.scenario = world.scenario.model_copy(update={"zendesk": account})
    return installations(world)[-1]


def installation_shape(installation: Installation) -> dict[str, Any]:
    """An installation as Zendesk's Apps API shows it: secure settings are never part of it."""
    spec = installation.spec
    settings = {"name": spec.name, "title": spec.name, **spec.settings}
    return {
        "id": installation.id,
        "app_id": installation.app_id,
        "product": "support",
        "settings": settings,
        "settings_objects": [{"name": name, "value": value} for name, value in settings.items()],
        "enabled": spec.enabled,
        "collapsible": True,
        "paid": False,
        "role_restrictions": None,
        "group_restrictions": [],
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def sidebar_apps(world: World, request: Request) -> list[dict[str, Any]]:
    """What the agent page needs to host its ticket sidebar apps; empty when none is installed."""
    page_origin = str(request.base_url).rstrip("/")
    hosted = []
    for installation in installations(world):
        spec = installation.spec
        if not spec.enabled or spec.location != "ticket_sidebar":
            continue
        # One guid per app instance, as Zendesk gives each iframe it loads.
        guid = str(uuid.uuid4())
        separator = "&" if "?" in spec.url else "?"
        hosted.append(
            {
                "installation_id": installation.id,
                "name": spec.name,
                "guid": guid,
                "origin": _origin(spec.url),
                "src": spec.url + separator + urlencode({"origin": page_origin, "app_guid": guid}),
                "metadata": {
                    "appId": installation.app_id,
                    "installationId": installation.id,
                    "name": spec.name,
                    "settings": dict(spec.settings),
                },
            }
        )
    return hosted


def _person(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": user.id, "name": user.name, "email": user.email}


def ticket_data(world: World, ticket: Ticket, agent: User) -> dict[str, Any]:
    """The paths a hosted app may ``get``, by ZAF path, with the ticket's last change."""
    requester = _person(world.state.users.get(ticket.requester_id))
    summary = {
        "id": ticket.id,
        "subject": ticket.subject,
        "status": ticket.status,
        "requester": requester,
        "tags": list(ticket.tags),
    }
    paths = {"ticket": summary, **{f"ticket.{name}": value for name, value in summary.items()}}
    paths["currentUser"] = {**(_person(agent) or {}), "role": "agent"}
    return {"updated_at": ticket.updated_at.isoformat(), "paths": paths}


def _whitelisted(host: str, whitelist: list[str]) -> bool:
    host = host.lower()
    for allowed in (a.lower() for a in whitelist):
        if host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:])):
            return True
    return False


def _substitute(value: Any, settings: dict[str, Any]) -> Any:
    """Put settings into every text of a request part; a placeholder of no such setting stays as written."""
    if isinstance(value, str):
        return SETTING_PLACEHOLDER.sub(lambda m: str(settings[m[1]]) if m[1] in settings else m[0], value)
    if isinstance(value, dict):
        return {key: _substitute(item, settings) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, settings) for item in value]
    return value


def _answer(status: int, status_text: str, text: str = "", content_type: str = "") -> dict[str, Any]:
    return {"status": status, "status_text": status_text, "response_text": text, "content_type": content_type}


async def proxy(installation: Installation, message: dict[str, Any]) -> dict[str, Any]:
    """Zendesk's request proxy: settings substituted here, the request made from here, its answer relayed."""
    spec = installation.spec
    secure = message.get("secure") is True
    url = _substitute(str(message.get("url") or ""), spec.settings)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _answer(400, "error", f"URL inválida: {url}")
    if secure and not _whitelisted(parts.hostname, spec.domain_whitelist):
        return _answer(403, "error", f"{parts.hostname} no está en la lista de dominios permitidos de la app")
    # Secure settings only for a secure request, which has just been checked to go to a whitelisted host.
    settings = {**spec.settings, **spec.secure_settings} if secure else spec.settings
    url = _substitute(url, settings)
    given = message.get("headers")
    headers = {str(k): str(v) for k, v in _substitute(given, settings).items()} if isinstance(given, dict) else {}
    data = _substitute(message.get("data"), settings)
    content_type = str(message.get("contentType") or "")
    if content_type and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = content_type
    body: dict[str, Any] = {}
    if isinstance(data, str):
        body["content"] = data
    elif isinstance(data, dict | list) and "json" in content_type.lower():
        body["json"] = data
    elif isinstance(data, dict):
        body["data"] = data
    method = str(message.get("type") or "GET").upper()
    try:
        async with httpx.AsyncClient(timeout=PROXY_TIMEOUT_SECONDS) as client:
            response = await client.request(method, url, headers=headers, **body)
    except httpx.HTTPError as error:
        return _answer(502, "error", f"No se pudo conectar con {parts.hostname}: {type(error).__name__}")
    return _answer(
        response.status_code,
        "success" if response.is_success else response.reason_phrase or "error",
        response.text,
        response.headers.get("content-type", ""),
    )


def add_agent_routes(app: FastAPI, world: World, current_agent: Callable[[World], User]) -> None:
    """The host script, the data it answers ``get`` with, and the request proxy, beside the agent page."""

    @app.get("/agent/apps/zaf_host.js")
    async def host_script() -> Response:
        return FileResponse(STATIC / "zaf_host.js", media_type="text/javascript")

    @app.get("/agent/tickets/{ticket_id}/apps/data")
    async def app_data(ticket_id: int) -> dict[str, Any]:
        ticket = world.state.tickets.get(ticket_id)
        if ticket is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return ticket_data(world, ticket, current_agent(world))

    @app.post("/agent/apps/{installation_id}/proxy")
    async def request_proxy(installation_id: int, request: Request) -> dict[str, Any]:
        installation = installation_of(world, installation_id)
        if installation is None:
            raise HTTPException(404, f"no app installation {installation_id}")
        try:
            message = await request.json()
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return _answer(400, "error", "la solicitud de la app no es un objeto JSON")
        return await proxy(installation, message)


def api_router(world: World) -> APIRouter:
    """Zendesk's Apps API, read side: the account's installations (mounted under ``/api/v2``)."""
    api = APIRouter()

    @api.get("/apps/installations")
    async def list_installations() -> dict[str, Any]:
        return {"installations": [installation_shape(i) for i in installations(world)]}

    @api.get("/apps/installations/{installation_id}")
    async def show_installation(installation_id: int) -> Response:
        installation = installation_of(world, installation_id)
        if installation is None:
            return JSONResponse({"error": "RecordNotFound", "description": "Not found"}, status_code=404)
        return JSONResponse({"installation": installation_shape(installation)})

    return api
