"""The control API: load a scenario, read the whole world, inject faults into a portal, speak as a customer.

Tests and regression runs drive the mocks through it; no console screen links here. A hold fault
(``mock_portals.world.HoldSpec``) keeps one request of a portal before or after it commits, and
``GET /_control/holds`` shows the requests held now, so a test can stop a worker at that moment of a write.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from mock_portals.common import REQUEST_LOG, now
from mock_portals.customer import customer_says
from mock_portals.world import PORTALS, FaultState, FileKind, HoldSpec, Scenario, World


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
        for name in ("latency_ms", "fail_next", "late_render_ms", "modal", "rate_limit_next"):
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
