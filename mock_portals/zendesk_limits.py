"""Zendesk's rate limits in the mock, so the product is shown to stay within them before it meets them.

Zendesk limits an account's API requests per minute by plan (Team 200, Growth and Professional 400,
Enterprise 700, High Volume 2500), the incremental exports to 10 requests a minute, and the updates of
one ticket to 30 in 10 minutes. Beyond a limit it answers 429 with ``Retry-After`` (seconds) and
``{"error": "APIRateLimitExceeded", "description": ...}``; while an account limit is set every API
answer carries ``X-Rate-Limit`` and ``X-Rate-Limit-Remaining`` (and ``ratelimit-limit``,
``ratelimit-remaining``, ``ratelimit-reset``). The scenario's ``zendesk`` settings choose the limits
(none but the exports' unless set) and the length of their "minute" (``rate_limit_window_seconds``), and
``PATCH /_control/zendesk/settings`` changes them at run time.

Only ``/api/v2/...`` requests count: not the agent's page, the attachment downloads nor the control
API. A request a limit refused does not count against that limit. What was asked is kept in
``world.state.records["zendesk"]["api_requests"]``: the total, the requests of each clock minute
(``per_minute``, keyed ``YYYY-MM-DDTHH:MMZ``) and the 429s of each limit (``limited``);
``usage(world)`` tells the requests in the current window.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware

from mock_portals.common import now
from mock_portals.world import World
from mock_portals.zendesk_webhooks import account

API_PREFIX = "/api/v2/"
EXPORT_PREFIX = "/api/v2/incremental/"
_TICKET_UPDATE = re.compile(r"^/api/v2/tickets/(\d+)$")
LIMITS = ("account", "incremental_exports", "ticket_updates")
DESCRIPTIONS = {
    "account": "Number of allowed API requests per minute exceeded",
    "incremental_exports": "Number of allowed incremental export API requests per minute exceeded",
    "ticket_updates": "Number of allowed updates of this ticket per 10 minutes exceeded",
}


@dataclass
class _Windows:
    """When the requests each limit let through were made (``time.monotonic``), for one world state."""

    account: deque[float] = field(default_factory=deque)
    exports: deque[float] = field(default_factory=deque)
    tickets: dict[int, deque[float]] = field(default_factory=dict)


def _windows(world: World) -> _Windows:
    return world.runtime.setdefault("zendesk_limits", _Windows())


def _expire(times: deque[float], window: float, clock: float) -> None:
    while times and times[0] <= clock - window:
        times.popleft()


def _wait(times: deque[float], window: float, clock: float) -> int:
    """Whole seconds until the oldest request leaves the window (at least 1)."""
    return max(1, math.ceil(times[0] + window - clock)) if times else 1


def api_requests(world: World) -> dict[str, Any]:
    return account(world).setdefault(
        "api_requests", {"total": 0, "per_minute": {}, "limited": dict.fromkeys(LIMITS, 0)}
    )


def _count(world: World) -> dict[str, Any]:
    counts = api_requests(world)
    counts["total"] += 1
    minute = now().strftime("%Y-%m-%dT%H:%MZ")
    counts["per_minute"][minute] = counts["per_minute"].get(minute, 0) + 1
    return counts


def usage(world: World) -> dict[str, Any]:
    """The account's limits and what is left of them now."""
    settings = world.scenario.zendesk
    windows = _windows(world)
    window, clock = settings.rate_limit_window_seconds, time.monotonic()
    _expire(windows.account, window, clock)
    _expire(windows.exports, window, clock)
    limit, export_limit = settings.rate_limit_per_minute, settings.incremental_export_limit_per_minute
    return {
        "window_seconds": window,
        "requests_in_window": len(windows.account),
        "remaining": None if limit is None else max(0, limit - len(windows.account)),
        "incremental_exports_in_window": len(windows.exports),
        "incremental_exports_remaining": None if export_limit is None else max(0, export_limit - len(windows.exports)),
        "api_requests": api_requests(world),
    }


def _too_many(counts: dict[str, Any], limit: str, wait: int, headers: dict[str, str]) -> Response:
    counts["limited"][limit] = counts["limited"].get(limit, 0) + 1
    return JSONResponse(
        {"error": "APIRateLimitExceeded", "description": DESCRIPTIONS[limit]},
        status_code=429,
        headers={**headers, "Retry-After": str(wait)},
    )


def install(app: FastAPI, world: World) -> None:
    """Count and limit the app's API requests, innermost of its middleware: after the ``.json`` suffix is
    taken off the path and after the faults, so a request a fault answered never reached the account."""

    async def limits(request: Request, call_next: Any) -> Response:
        path = request.scope["path"]
        if not path.startswith(API_PREFIX):
            return await call_next(request)
        settings = world.scenario.zendesk
        windows = _windows(world)
        counts = _count(world)
        window, clock = settings.rate_limit_window_seconds, time.monotonic()
        _expire(windows.account, window, clock)
        limit = settings.rate_limit_per_minute

        def rate_headers() -> dict[str, str]:
            if limit is None:
                return {}
            remaining = str(max(0, limit - len(windows.account)))
            reset = str(_wait(windows.account, window, clock) if windows.account else math.ceil(window))
            return {
                "X-Rate-Limit": str(limit),
                "X-Rate-Limit-Remaining": remaining,
                "ratelimit-limit": str(limit),
                "ratelimit-remaining": remaining,
                "ratelimit-reset": reset,
            }

        if limit is not None and len(windows.account) >= limit:
            return _too_many(counts, "account", _wait(windows.account, window, clock), rate_headers())
        windows.account.append(clock)

        export_limit = settings.incremental_export_limit_per_minute
        if path.startswith(EXPORT_PREFIX) and export_limit is not None:
            _expire(windows.exports, window, clock)
            if len(windows.exports) >= export_limit:
                wait = _wait(windows.exports, window, clock)
                return _too_many(counts, "incremental_exports", wait, rate_headers())
            windows.exports.append(clock)

        ticket_limit = settings.ticket_update_limit
        match = _TICKET_UPDATE.match(path)
        if match and request.method == "PUT" and ticket_limit is not None:
            ticket_id = int(match[1])
            if ticket_id in world.state.tickets:
                updates = windows.tickets.setdefault(ticket_id, deque())
                ticket_window = settings.ticket_update_window_seconds
                _expire(updates, ticket_window, clock)
                if len(updates) >= ticket_limit:
                    wait = _wait(updates, ticket_window, clock)
                    return _too_many(counts, "ticket_updates", wait, rate_headers())
                updates.append(clock)

        response = await call_next(request)
        response.headers.update(rate_headers())
        return response

    # ``add_middleware`` would put it outermost; the last of ``user_middleware`` is the innermost.
    app.user_middleware.append(Middleware(BaseHTTPMiddleware, dispatch=limits))
