"""Zendesk's incremental exports in the mock: what a poller reads when a webhook never came.

A product that is told of ticket changes by webhooks still has to catch up on what it missed (a
delivery dropped, a receiver down) without reading every ticket: Zendesk's answer is the incremental
export API. The mock serves the two exports that matter here, as Zendesk shapes them:

* ``GET /api/v2/incremental/tickets/cursor.json?start_time=<unix>`` then ``?cursor=<after_cursor>``
  (cursor-based: ``tickets``, ``after_cursor``, ``after_url``, ``before_cursor``, ``before_url``,
  ``end_of_stream``), the tickets in the order they were last updated;
* ``GET /api/v2/incremental/ticket_events.json?start_time=<unix>[&include=comment_events]`` (time-based:
  ``ticket_events``, ``next_page``, ``count``, ``end_time``, ``end_of_stream``), one event per ticket
  update with its ``child_events``: the creation, status and tag changes, and the update's comments
  (their id, author, body and whether they are public with ``comment_events``; else only
  ``comment_present``/``comment_public``).

Like Zendesk, both leave out what changed in the last ``zendesk.incremental_export_lag_seconds`` (a
minute by default; a test sets 0), so a later request picks it up. Their 10 requests a minute are
counted in ``mock_portals.zendesk_limits``. Every committed ticket update is logged for the event
export under ``world.state.records["zendesk"]["ticket_events"]``.
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request

from mock_portals.common import now
from mock_portals.world import Ticket, TicketUpdate, World
from mock_portals.zendesk import Shapes, _int_param, _shapes, _ts, bad_request
from mock_portals.zendesk_webhooks import VIA_TITLES, account

#: Zendesk's largest page of an incremental export.
MAX_EXPORT_PAGE = 1000
EVENT_ID_BASE = 9260000000000
#: Child events are numbered after their ticket event: ``event id * CHILD_SPACING + n``.
CHILD_SPACING = 100


# --------------------------------------------------------------------------------------------
# The log of ticket updates
# --------------------------------------------------------------------------------------------
def log_update(world: World, update: TicketUpdate) -> None:
    """Log a committed ticket update for the ticket event export (after the triggers it set off)."""
    ticket = world.state.tickets.get(update.ticket_id)
    if ticket is None:
        return
    events = account(world).setdefault("ticket_events", [])
    changes: list[dict[str, Any]] = []
    if update.created or update.status_before != ticket.status:
        changes.append({"field_name": "status", "value": ticket.status, "previous_value": update.status_before})
    if update.created or update.tags_before != ticket.tags:
        changes.append({"field_name": "tags", "value": list(ticket.tags), "previous_value": update.tags_before})
    moment = now()
    events.append(
        {
            "id": EVENT_ID_BASE + len(events) + 1,
            "ticket_id": ticket.id,
            "timestamp": moment.timestamp(),
            "created_at": _ts(moment),
            "updater_id": update.updater_id,
            "via": update.via,
            "update_type": "Create" if update.created else "Change",
            "comment_ids": list(update.comment_ids),
            "changes": changes,
        }
    )


def _via(channel: str) -> dict[str, Any]:
    return {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}}


def event_shape(shapes: Shapes, ticket: Ticket | None, logged: dict[str, Any], *, comments: bool) -> dict[str, Any]:
    """A logged update as Zendesk's incremental ticket event, comments in full when ``comments``."""
    via = VIA_TITLES.get(logged["via"], logged["via"])
    children: list[dict[str, Any]] = []

    def child(**values: Any) -> None:
        children.append(
            {"id": logged["id"] * CHILD_SPACING + len(children) + 1, "via": via, "via_reference_id": None, **values}
        )

    created = logged["update_type"] == "Create"
    for change in logged["changes"]:
        kind = "Create" if created else "Change"
        if change["field_name"] == "status":
            extra = {} if created else {"previous_value": change["previous_value"]}
            child(status=change["value"], event_type=kind, **extra)
        else:
            before, after = change["previous_value"] or [], change["value"]
            child(
                tags=after,
                added_tags=[t for t in after if t not in before],
                removed_tags=[t for t in before if t not in after],
                event_type=kind,
            )
    by_id = {c.id: c for c in ticket.comments} if ticket else {}
    for comment_id in logged["comment_ids"]:
        comment = by_id.get(comment_id)
        if comment is None:
            continue
        if comments:
            children.append(
                {
                    **shapes.comment(comment),
                    "via": _via(comment.via),
                    "via_reference_id": None,
                    "audit_id": logged["id"],
                    "event_type": "Comment",
                }
            )
        else:
            child(comment_present=True, comment_public=comment.public, event_type="Comment")
    return {
        "id": logged["id"],
        "ticket_id": logged["ticket_id"],
        "timestamp": int(logged["timestamp"]),
        "created_at": logged["created_at"],
        "updater_id": logged["updater_id"],
        "via": via,
        "system": {},
        "metadata": {"system": {}, "custom": {}},
        "event_type": "Audit",
        "child_events": children,
    }


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------
def _start_time(request: Request) -> int:
    raw = request.query_params.get("start_time")
    if raw is None or not raw.strip().lstrip("-").isdigit():
        raise bad_request("InvalidValue", "start_time is required: a Unix time in seconds")
    start = int(raw)
    if start < 0:
        raise bad_request("InvalidValue", "start_time cannot be negative")
    if start > now().timestamp():
        raise bad_request("InvalidValue", "start_time cannot be in the future")
    return start


def _per_page(request: Request) -> int:
    return min(_int_param(request, "per_page", MAX_EXPORT_PAGE), MAX_EXPORT_PAGE)


def _cutoff(world: World) -> datetime:
    """Items changed after this moment are left out, as Zendesk leaves out the last minute."""
    return now() - timedelta(seconds=world.scenario.zendesk.incremental_export_lag_seconds)


def _encode_cursor(timestamp: float, ticket_id: int) -> str:
    # Zendesk's cursors read "<timestamp>||<id>|" once decoded; clients must not rely on it, nor do we.
    return base64.urlsafe_b64encode(f"{timestamp!r}||{ticket_id}|".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, rest = text.partition("||")
        return float(stamp), int(rest.rstrip("|"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request("InvalidPaginationParameter", "cursor is not a valid cursor") from None


def _position(ticket: Ticket) -> tuple[float, int]:
    return ticket.updated_at.timestamp(), ticket.id


# --------------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------------
def api_router(world: World) -> APIRouter:
    """The incremental exports, to be served under ``/api/v2`` behind the agent's authentication."""
    api = APIRouter()

    @api.get("/incremental/tickets/cursor")
    async def tickets_by_cursor(request: Request) -> dict[str, Any]:
        cursor = request.query_params.get("cursor")
        after = _decode_cursor(cursor) if cursor else (float(_start_time(request)), -1)
        per_page = _per_page(request)
        cutoff = _cutoff(world).timestamp()
        changed = sorted(
            (t for t in world.state.tickets.values() if _position(t) > after and _position(t)[0] <= cutoff),
            key=_position,
        )
        page = changed[:per_page]
        last = _position(page[-1]) if page else after
        shapes = _shapes(world, request)
        after_cursor = _encode_cursor(*last)
        params: dict[str, Any] = {"cursor": after_cursor}
        if "per_page" in request.query_params:
            params["per_page"] = per_page
        return {
            "tickets": [shapes.ticket(t) for t in page],
            "after_url": shapes.api_url("/incremental/tickets/cursor", params),
            "after_cursor": after_cursor,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": len(changed) <= per_page,
        }

    @api.get("/incremental/ticket_events")
    async def ticket_events(request: Request) -> dict[str, Any]:
        start = _start_time(request)
        per_page = _per_page(request)
        include = {part.strip() for part in (request.query_params.get("include") or "").split(",")}
        cutoff = _cutoff(world).timestamp()
        logged = sorted(
            (
                e
                for e in account(world).get("ticket_events", [])
                if int(e["timestamp"]) >= start and e["timestamp"] <= cutoff
            ),
            key=lambda e: (e["timestamp"], e["id"]),
        )
        page = logged[:per_page]
        if page and len(logged) > per_page:
            # A second is never split between two pages, so the next page can start at a whole second.
            last_second = int(page[-1]["timestamp"])
            page += [e for e in logged[per_page:] if int(e["timestamp"]) == last_second]
        end_of_stream = len(page) == len(logged)
        if end_of_stream:
            # Whatever changed after the cutoff in its last second comes on the next page.
            end_time = max(start, math.floor(cutoff))
        else:
            end_time = int(page[-1]["timestamp"])
            if end_time == start:
                end_time += 1  # the whole second is on this page: starting again there would repeat it forever
        shapes = _shapes(world, request)
        tickets = world.state.tickets
        next_params = {k: v for k, v in request.query_params.items() if k != "start_time"}
        return {
            "ticket_events": [
                event_shape(shapes, tickets.get(e["ticket_id"]), e, comments="comment_events" in include) for e in page
            ],
            "next_page": shapes.api_url("/incremental/ticket_events", {**next_params, "start_time": end_time}),
            "count": len(page),
            "end_time": end_time,
            "end_of_stream": end_of_stream,
        }

    return api
