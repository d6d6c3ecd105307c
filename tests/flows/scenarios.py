"""Scenario builders for flow tests: one customer, one line, one ticket, and how the customer answers."""

from __future__ import annotations

import copy
from typing import Any

LINE = "71234567"
CI = "6543210"
HOLDER = "María Fernanda Rojas Quiroga"

HAPPY_REPLIES: dict[str, Any] = {
    "primer_contacto": {"text": f"Hola, soy {HOLDER}, CI {CI}, de La Paz. Quiero migrar la línea {LINE}."},
    "oferta": {"text": "Quiero el Mega Plan 69", "documents": True},
    "tyc": {"text": "ACEPTO"},
    "sms_ar": {"token": "on_time"},
    "segundo_token": {"token": "on_time"},
}


def scenario(*, line: dict | None = None, replies: dict | None = None, reviewer: Any = "approve",
             fields: dict | None = None, taxpayers: list | None = None, customers: list | None = None,
             ticket_id: int = 2001, name: str = "flow", **extra: Any) -> dict:
    """A one-ticket world; ``line`` and ``fields`` override the defaults, ``replies`` replaces the script."""
    line_spec = {"number": LINE, "holder_name": HOLDER, "holder_ci": CI, "state": "AC", "sim": "USIM LTE",
                 "confirmed": True, "recommended_plans": ["Mega Plan 69", "Mega Plan 99"], **(line or {})}
    ticket_fields = {"holder_name": HOLDER, "holder_ci": CI, "line": LINE, "city": "La Paz",
                     "billing_name": HOLDER, **(fields or {})}
    return {
        "name": name,
        "lines": [line_spec],
        "customers": customers if customers is not None else [{"ci": CI, "name": HOLDER}],
        "taxpayers": taxpayers or [],
        "tickets": [{
            "id": ticket_id, "requester_name": "María Fernanda", "requester_phone": "+591" + LINE,
            "fields": ticket_fields,
            "conversation": [{"author": "customer", "body": "Hola, quiero un plan pospago."}],
            "customer": {"delay_seconds": 0.05,
                         "replies": copy.deepcopy(HAPPY_REPLIES if replies is None else replies),
                         "reviewer": reviewer},
        }],
        **extra,
    }
