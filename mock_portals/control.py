"""The control API: load a scenario, read the whole world, inject faults into a portal, speak as a customer.

Tests and regression runs drive the mocks through it; no console screen links here. A hold fault
(``mock_portals.world.HoldSpec``) keeps one request of a portal before or after it commits, and
``GET /_control/holds`` shows the requests held now, so a test can stop a worker at that moment of a write.
``/_control/zendesk/settings`` reads and changes the Zendesk account's limits and webhook delivery
settings at run time (``mock_portals.world.ZendeskAccount``), with the requests counted against them.
``POST /_control/zendesk/apps`` installs a Zendesk app (``mock_portals.zendesk_apps``) until the next reset.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from mock_portals.common import REQUEST_LOG, now
from mock_portals.customer import customer_says
from mock_portals.world import PORTALS, FaultState, FileKind, HoldSpec, Scenario, World, ZendeskAppSpec
from mock_portals.zendesk_apps import install, installation_shape
from mock_portals.zendesk_limits import usage


class FaultRequest(BaseModel):
    """Faults for one portal; omitted fields keep their current value."""

    portal: str
    latency_ms: int | None = Field(None, ge=0)
    fail_next: int | None = Field(None, ge=0, description="HTTP 500 for the next N requests")
    expire_sessions: bool = Field(False, description="expire every session of the portal now")
    maintenance_seconds: float | None = Field(None, ge=0, description="maintenance page for N seconds")
    late_render_ms: int | None = Field(None, ge=0)
    modal: bool | None = None
    rate_limit_next: int | None = Field(None, ge=0)
    hold: HoldSpec | None = Field(None, description="arm one more hold: the next matching request is held")
    duplicate_webhook_deliveries: bool | None = Field(None, description="Zendesk: deliver each invocation twice")
    drop_webhook_deliveries: bool | None = Field(None, description="Zendesk: send no webhook request")


class ZendeskSettings(BaseModel):
    """Zendesk account settings to change; omitted ones keep their value, null lifts a limit."""

    model_config = ConfigDict(extra="forbid")

    rate_limit_per_minute: int | None = Field(None, ge=1)
    rate_limit_window_seconds: float | None = Field(None, gt=0)
    incremental_export_limit_per_minute: int | None = Field(None, ge=1)
    ticket_update_limit: int | None = Field(None, ge=1)
    ticket_update_window_seconds: float | None = Field(None, gt=0)
    incremental_export_lag_seconds: float | None = Field(None, ge=0)
    webhook_retry_seconds: float | None = Field(None, ge=0)
    webhook_max_attempts: int | None = Field(None, ge=1)
    webhook_timeout_seconds: float | None = Field(None, gt=0)


#: Settings that must have a value: null is refused for them.
_REQUIRED_SETTINGS = frozenset(ZendeskSettings.model_fields) - {
    "rate_limit_per_minute",
    "incremental_export_limit_per_minute",
    "ticket_update_limit",
}


class CustomerMessage(BaseModel):
    """A WhatsApp message of a ticket's requester, typed by hand (the demo, or a test)."""

    body: str = Field(min_length=1)
    documents: bool = Field(False, description="attach the CI photos and the selfie, like a scripted customer")
    files: list[FileKind] = Field(
        default_factory=list, description="attach a sticker, a voice note, a photo or a PDF, like a scripted customer"
    )


def create_app(world: World) -> FastAPI:
    app = FastAPI(title="Control de mocks", docs_url=None, redoc_url=None)

    @app.get("/_alive")
    async def alive() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/_control/reset")
    async def reset(scenario: Scenario) -> dict[str, Any]:
        world.reset(scenario)
        return {"scenario": scenario.name, "lines": len(scenario.lines), "tickets": len(scenario.tickets)}

    @app.get("/_control/world")
    async def snapshot() -> dict[str, Any]:
        return world.snapshot()

    @app.get("/_control/sms/{line}")
    async def sms_inbox(line: str) -> dict[str, Any]:
        """The SMS a line's phone received (AR's tokens among them), newest last."""
        messages = world.state.sms.get(line, [])
        return {"line": line, "messages": [m.model_dump(mode="json") for m in messages]}

    @app.post("/_control/tickets/{ticket_id}/customer_message")
    async def customer_message(ticket_id: int, message: CustomerMessage) -> dict[str, Any]:
        ticket = world.state.tickets.get(ticket_id)
        if ticket is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        comment = customer_says(world, ticket, message.body, documents=message.documents, files=message.files)
        return {
            "ticket": ticket_id,
            "comment_id": comment.id,
            "attachment_ids": comment.attachment_ids,
            "status": ticket.status,
        }

    @app.get("/_control/urls")
    async def urls() -> dict[str, str]:
        return app.state.urls

    @app.post("/_control/faults")
    async def faults(request: FaultRequest) -> dict[str, Any]:
        if request.portal not in PORTALS:
            raise HTTPException(422, f"unknown portal {request.portal!r}; known: {', '.join(PORTALS)}")
        fault: FaultState = world.state.faults[request.portal]
        names = ("latency_ms", "fail_next", "late_render_ms", "modal", "rate_limit_next")
        for name in (*names, "duplicate_webhook_deliveries", "drop_webhook_deliveries"):
            value = getattr(request, name)
            if value is not None:
                setattr(fault, name, value)
        if request.maintenance_seconds is not None:
            fault.maintenance_until = now() + timedelta(seconds=request.maintenance_seconds)
        if request.expire_sessions:
            world.sessions[request.portal].clear()
        if request.hold is not None:
            fault.holds.append(request.hold)
        return {"portal": request.portal, "faults": fault.model_dump(mode="json")}

    @app.delete("/_control/faults")
    async def clear_faults() -> dict[str, str]:
        for portal in PORTALS:
            world.state.faults[portal] = FaultState()
        world.release_holds()
        return {"faults": "cleared"}

    def zendesk_settings() -> dict[str, Any]:
        account = world.scenario.zendesk
        return {
            "settings": {name: getattr(account, name) for name in ZendeskSettings.model_fields},
            "usage": usage(world),
        }

    @app.get("/_control/zendesk/settings")
    async def show_zendesk_settings() -> dict[str, Any]:
        """The Zendesk account's limits and webhook settings, and its API requests in the current window."""
        return zendesk_settings()

    @app.patch("/_control/zendesk/settings")
    async def change_zendesk_settings(settings: ZendeskSettings) -> dict[str, Any]:
        """Change some of the account's settings until the next reset (a scenario's own come back then)."""
        changes = settings.model_dump(exclude_unset=True)
        cleared = sorted(name for name, value in changes.items() if value is None and name in _REQUIRED_SETTINGS)
        if cleared:
            raise HTTPException(422, f"these settings cannot be null: {', '.join(cleared)}")
        account = world.scenario.zendesk.model_copy(update=changes)
        world.scenario = world.scenario.model_copy(update={"zendesk": account})
        return zendesk_settings()

    @app.post("/_control/zendesk/apps", status_code=201)
    async def install_zendesk_app(spec: ZendeskAppSpec) -> dict[str, Any]:
        """Install an app in the account (a scenario's ``zendesk.apps`` come back at the next reset)."""
        return {"installation": installation_shape(install(world, spec))}

    @app.get("/_control/holds")
    async def holds() -> dict[str, Any]:
        """The requests held now, oldest first: portal, method, path, phase, since and until (ISO times)."""
        return {"holds": [held.describe() for held in world.held]}

    @app.post("/_control/request_log")
    async def start_request_log() -> dict[str, bool]:
        """Keep a log of every portal request from now on (emptied if one was kept); a reset stops it."""
        world.state.records[REQUEST_LOG] = []
        return {"logging": True}

    @app.get("/_control/request_log")
    async def request_log() -> dict[str, Any]:
        """The requests logged so far: portal, method, path, content type, body (base64), status, timing."""
        return {"requests": world.state.records.get(REQUEST_LOG) or []}

    @app.delete("/_control/request_log")
    async def stop_request_log() -> dict[str, bool]:
        world.state.records.pop(REQUEST_LOG, None)
        return {"logging": False}

    return app
