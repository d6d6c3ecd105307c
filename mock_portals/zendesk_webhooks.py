"""Zendesk's webhooks and triggers in the mock: the product is told of ticket changes instead of polling.

Zendesk pushes ticket activity through a *webhook* connected to *triggers*: after every ticket update
it checks the active triggers in order, and each trigger whose conditions hold performs its actions;
a ``notification_webhook`` action sends the trigger's JSON body, its placeholders (``{{ticket.id}}``,
``{{ticket.latest_comment.value}}``...) filled in, to the webhook's endpoint. The mock does the same on
every update any path makes (an API update or macro, a customer's WhatsApp message, an internal note, a
scenario's seeded ticket), so the product's webhook receiver can be tested against Zendesk's behaviour:

* the Webhooks API (``/api/v2/webhooks``, cursor pagination, ``/signing_secret``) and the Triggers API
  (``/api/v2/triggers``), their shapes Zendesk's;
* triggers evaluated like Zendesk's: in ``position`` order, each at most once per update, starting over
  from the first after one changes the ticket (``status``, ``current_tags``, ``remove_tags``,
  ``set_tags``); webhook bodies rendered once all have run;
* signed requests (``X-Zendesk-Webhook-Signature``: base64 of the HMAC-SHA256 of the signature timestamp
  followed by the raw body, keyed with the webhook's signing secret), sent from the servers' event loop,
  never holding up the request that changed the ticket, retried like Zendesk on a 409, 429 or 5xx answer,
  a timeout or a refused connection, with a backoff the scenario sets (``zendesk.webhook_*``);
* faults: ``duplicate_webhook_deliveries`` sends each invocation twice, with one invocation id;
  ``drop_webhook_deliveries`` sends nothing (a receiver that was not listening).

Every attempt is recorded in ``world.state.records["zendesk"]["webhook_deliveries"]``; the account's
webhooks and triggers are under ``"webhooks"`` and ``"triggers"`` of the same records.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from loguru import logger
from pydantic import ValidationError

from mock_portals.common import now
from mock_portals.world import (
    AGENT_USER_ID,
    TICKET_STATUSES,
    Comment,
    Ticket,
    TicketUpdate,
    TriggerSpec,
    User,
    WebhookSpec,
    World,
    WorldState,
)
from mock_portals.zendesk import (
    _invalid,
    _shapes,
    _ts,
    bad_request,
    cursor_page,
    normalized_tags,
    not_found,
    offset_page,
    record_invalid,
)

#: Key of ``world.state.records`` under which the Zendesk account keeps what it does.
RECORDS = "zendesk"
#: The account's id, sent with every webhook request as Zendesk does.
ACCOUNT_ID = "10013770"
TRIGGER_ID_BASE = 360005000000
INVOCATION_ID_BASE = 8350200000
#: Zendesk's invocation ids are unique for good, not per world: a receiver dedupes by them across resets.
_INVOCATION_IDS = itertools.count(1)
#: Zendesk's id of the user a webhook is created by when the system created it (a seeded one).
SYSTEM_USER = "-1"
TRIGGER_SUBSCRIPTION = "conditional_ticket_events"
#: Answers after which Zendesk sends the request again; timeouts and refused connections too.
RETRY_STATUSES = frozenset({409, 429})
#: The longest ``Retry-After`` a retry waits for.
MAX_RETRY_AFTER_SECONDS = 60.0
#: How placeholders render a status and a channel: as Zendesk's English titles.
STATUS_TITLES = {
    "new": "New",
    "open": "Open",
    "pending": "Pending",
    "hold": "On-hold",
    "solved": "Solved",
    "closed": "Closed",
}
VIA_TITLES = {"whatsapp": "WhatsApp", "api": "Web service", "web": "Web form", "mail": "Mail", "rule": "Trigger"}
CONTENT_TYPES = {
    "json": "application/json",
    "xml": "application/xml",
    "form_encoded": "application/x-www-form-urlencoded",
}
_WEBHOOK_REQUIRED = ("name", "endpoint", "http_method", "request_format", "status")
_WEBHOOK_READ_ONLY = ("id", "created_at", "created_by", "updated_at", "updated_by", "url", "signing_secret")
_TRIGGER_READ_ONLY = ("id", "url", "raw_title", "default", "created_at", "updated_at")


# --------------------------------------------------------------------------------------------
# The account's records
# --------------------------------------------------------------------------------------------
def account(world: World) -> dict[str, Any]:
    """The Zendesk account's records in this world, made on first use with the scenario's webhooks and triggers."""
    records = world.state.records.get(RECORDS)
    if records is None:
        records = {"webhooks": [], "triggers": [], "webhook_deliveries": []}
        world.state.records[RECORDS] = records
        settings = world.scenario.zendesk
        for spec in settings.webhooks:
            _store_webhook(world, records, spec, created_by=SYSTEM_USER)
        for trigger in settings.triggers:
            _store_trigger(records, trigger)
    return records


@dataclass
class _Runtime:
    """What the account keeps beyond its JSON records for one world state."""

    invocations: int = 0
    webhooks_made: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    backlog: list[_Invocation] = field(default_factory=list)


def _runtime(world: World) -> _Runtime:
    return world.runtime.setdefault("zendesk_webhooks", _Runtime())


def _new_webhook_id() -> str:
    # Zendesk's webhook ids are ULIDs: 26 characters of Crockford's base 32, starting with "01".
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "01" + "".join(secrets.choice(alphabet) for _ in range(24))


def _store_webhook(world: World, records: dict[str, Any], spec: WebhookSpec, *, created_by: str) -> dict[str, Any]:
    runtime = _runtime(world)
    runtime.webhooks_made += 1
    stamp = _ts(now())
    webhook = {
        **spec.model_dump(mode="json", exclude={"signing_secret"}),
        "id": spec.id or _new_webhook_id(),
        "signing_secret": {"algorithm": "SHA256", "secret": spec.signing_secret or _new_secret()},
        "created_at": stamp,
        "created_by": created_by,
        "updated_at": stamp,
        "updated_by": created_by,
        "sequence": runtime.webhooks_made,
    }
    records["webhooks"].append(webhook)
    return webhook


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def _store_trigger(records: dict[str, Any], spec: TriggerSpec) -> dict[str, Any]:
    triggers = records["triggers"]
    stamp = _ts(now())
    trigger = {
        **spec.model_dump(mode="json"),
        "id": spec.id or max((t["id"] for t in triggers), default=TRIGGER_ID_BASE) + 1,
        "position": spec.position
        if spec.position is not None
        else max((t["position"] for t in triggers), default=0) + 1,
        "created_at": stamp,
        "updated_at": stamp,
    }
    triggers.append(trigger)
    return trigger


def _webhook(world: World, webhook_id: str) -> dict[str, Any]:
    found = next((w for w in account(world)["webhooks"] if w["id"] == webhook_id), None)
    if found is None:
        raise not_found()
    return found


def _trigger(world: World, trigger_id: int) -> dict[str, Any]:
    found = next((t for t in account(world)["triggers"] if t["id"] == trigger_id), None)
    if found is None:
        raise not_found()
    return found


# --------------------------------------------------------------------------------------------
# JSON shapes and input
# --------------------------------------------------------------------------------------------
def webhook_shape(webhook: dict[str, Any]) -> dict[str, Any]:
    """A webhook as Zendesk shows it: never its secret nor its credentials."""
    shape = {k: v for k, v in webhook.items() if k not in ("signing_secret", "sequence", "authentication")}
    authentication = webhook.get("authentication")
    if authentication:
        shape["authentication"] = {"type": authentication["type"], "add_position": authentication["add_position"]}
    return shape


def trigger_shape(request: Request, world: World, trigger: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": _shapes(world, request).api_url(f"/triggers/{trigger['id']}"),
        **trigger,
        "raw_title": trigger["title"],
        "default": False,
    }


async def _body_of(request: Request, key: str) -> dict[str, Any]:
    try:
        payload = await request.json()
    except ValueError:
        raise bad_request("InvalidParameter", "The body is not JSON") from None
    data = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise bad_request("InvalidParameter", f'The body must be {{"{key}": {{...}}}}')
    return data


def _details_of(error: ValidationError) -> dict[str, list[dict[str, Any]]]:
    """Pydantic's complaints as Zendesk's RecordInvalid details, keyed by the attribute named."""
    details: dict[str, list[dict[str, Any]]] = {}
    for problem in error.errors():
        key = str(problem["loc"][0]) if problem["loc"] else "base"
        where = ".".join(str(part) for part in problem["loc"]) or "base"
        message = str(problem["msg"]).removeprefix("Value error, ")
        _invalid(details, key, f"{where}: {message}")
    return details


def _webhook_spec(data: dict[str, Any], *, partial_of: dict[str, Any] | None = None) -> WebhookSpec:
    details: dict[str, list[dict[str, Any]]] = {}
    given = {k: v for k, v in data.items() if k not in _WEBHOOK_READ_ONLY}
    if partial_of is None:
        for key in _WEBHOOK_REQUIRED:
            if given.get(key) in (None, ""):
                _invalid(details, key, f"{key}: is required")
        merged = given
    else:
        merged = {k: v for k, v in partial_of.items() if k in WebhookSpec.model_fields and k != "signing_secret"}
        merged.update(given)
    if details:
        raise record_invalid(details)
    try:
        return WebhookSpec.model_validate(merged)
    except ValidationError as error:
        raise record_invalid(_details_of(error)) from None


def _trigger_spec(world: World, data: dict[str, Any], *, partial_of: dict[str, Any] | None = None) -> TriggerSpec:
    given = {k: v for k, v in data.items() if k not in _TRIGGER_READ_ONLY}
    merged = given
    if partial_of is not None:
        merged = {k: v for k, v in partial_of.items() if k in TriggerSpec.model_fields and k != "id"}
        merged.update(given)
    try:
        spec = TriggerSpec.model_validate(merged)
    except ValidationError as error:
        raise record_invalid(_details_of(error)) from None
    details: dict[str, list[dict[str, Any]]] = {}
    webhooks = {w["id"]: w for w in account(world)["webhooks"]}
    for webhook_id in spec.webhook_ids():
        webhook = webhooks.get(webhook_id)
        if webhook is None:
            _invalid(details, "actions", f"notification_webhook: webhook {webhook_id} does not exist")
        elif TRIGGER_SUBSCRIPTION not in webhook["subscriptions"]:
            _invalid(details, "actions", f"notification_webhook: webhook {webhook_id} is not connected to triggers")
    if details:
        raise record_invalid(details)
    return spec


# --------------------------------------------------------------------------------------------
# The APIs
# --------------------------------------------------------------------------------------------
def api_router(world: World) -> APIRouter:
    """The Webhooks and Triggers APIs, to be served under ``/api/v2`` behind the agent's authentication."""
    api = APIRouter()

    # -- webhooks -------------------------------------------------------------------------------
    @api.get("/webhooks")
    async def list_webhooks(request: Request) -> dict[str, Any]:
        params = request.query_params
        webhooks = list(account(world)["webhooks"])
        wanted_name = (params.get("filter[name_contains]") or "").casefold()
        wanted_status = params.get("filter[status]")
        webhooks = [
            w
            for w in webhooks
            if wanted_name in w["name"].casefold() and (not wanted_status or w["status"] == wanted_status)
        ]
        sort = params.get("sort") or ""
        if sort.lstrip("-") in ("name", "status"):
            webhooks.sort(key=lambda w: (w[sort.lstrip("-")], w["sequence"]), reverse=sort.startswith("-"))
        shapes = _shapes(world, request)
        return cursor_page(
            request, shapes, "/webhooks", "webhooks", [(w["sequence"], webhook_shape(w)) for w in webhooks]
        )

    @api.post("/webhooks", status_code=201)
    async def create_webhook(request: Request) -> dict[str, Any]:
        spec = _webhook_spec(await _body_of(request, "webhook"))
        webhook = _store_webhook(world, account(world), spec, created_by=str(AGENT_USER_ID))
        return {"webhook": webhook_shape(webhook)}

    @api.get("/webhooks/{webhook_id}")
    async def show_webhook(webhook_id: str) -> dict[str, Any]:
        return {"webhook": webhook_shape(_webhook(world, webhook_id))}

    async def change_webhook(webhook_id: str, request: Request, *, partial: bool) -> Response:
        webhook = _webhook(world, webhook_id)
        data = await _body_of(request, "webhook")
        spec = _webhook_spec(data, partial_of=webhook if partial else None)
        if TRIGGER_SUBSCRIPTION in webhook["subscriptions"] and TRIGGER_SUBSCRIPTION not in spec.subscriptions:
            details: dict[str, list[dict[str, Any]]] = {}
            _invalid(details, "subscriptions", "subscriptions: a webhook's connection method cannot change")
            raise record_invalid(details)
        webhook.update(spec.model_dump(mode="json", exclude={"id", "signing_secret"}))
        webhook["updated_at"] = _ts(now())
        webhook["updated_by"] = str(AGENT_USER_ID)
        return Response(status_code=204)

    @api.put("/webhooks/{webhook_id}")
    async def update_webhook(webhook_id: str, request: Request) -> Response:
        return await change_webhook(webhook_id, request, partial=False)

    @api.patch("/webhooks/{webhook_id}")
    async def patch_webhook(webhook_id: str, request: Request) -> Response:
        return await change_webhook(webhook_id, request, partial=True)

    @api.delete("/webhooks/{webhook_id}")
    async def delete_webhook(webhook_id: str) -> Response:
        webhook = _webhook(world, webhook_id)
        account(world)["webhooks"].remove(webhook)
        return Response(status_code=204)

    @api.get("/webhooks/{webhook_id}/signing_secret")
    async def show_signing_secret(webhook_id: str) -> dict[str, Any]:
        return {"signing_secret": dict(_webhook(world, webhook_id)["signing_secret"])}

    @api.post("/webhooks/{webhook_id}/signing_secret", status_code=201)
    async def reset_signing_secret(webhook_id: str) -> dict[str, Any]:
        webhook = _webhook(world, webhook_id)
        webhook["signing_secret"] = {"algorithm": "SHA256", "secret": _new_secret()}
        return {"signing_secret": dict(webhook["signing_secret"])}

    # -- triggers -------------------------------------------------------------------------------
    def listed(request: Request, triggers: list[dict[str, Any]], path: str) -> dict[str, Any]:
        shapes = _shapes(world, request)
        ordered = sorted(triggers, key=lambda t: (t["position"], t["id"]))
        if "page[size]" in request.query_params:
            items = [(t["id"], trigger_shape(request, world, t)) for t in ordered]
            return cursor_page(request, shapes, path, "triggers", items)
        return offset_page(request, shapes, path, "triggers", [trigger_shape(request, world, t) for t in ordered])

    @api.get("/triggers")
    async def list_triggers(request: Request) -> dict[str, Any]:
        triggers = account(world)["triggers"]
        active = request.query_params.get("active")
        if active in ("true", "false"):
            triggers = [t for t in triggers if t["active"] == (active == "true")]
        return listed(request, triggers, "/triggers")

    @api.get("/triggers/active")
    async def list_active_triggers(request: Request) -> dict[str, Any]:
        return listed(request, [t for t in account(world)["triggers"] if t["active"]], "/triggers/active")

    @api.post("/triggers", status_code=201)
    async def create_trigger(request: Request) -> dict[str, Any]:
        spec = _trigger_spec(world, await _body_of(request, "trigger"))
        trigger = _store_trigger(account(world), spec)
        return {"trigger": trigger_shape(request, world, trigger)}

    @api.get("/triggers/{trigger_id}")
    async def show_trigger(trigger_id: int, request: Request) -> dict[str, Any]:
        return {"trigger": trigger_shape(request, world, _trigger(world, trigger_id))}

    @api.put("/triggers/{trigger_id}")
    async def update_trigger(trigger_id: int, request: Request) -> dict[str, Any]:
        trigger = _trigger(world, trigger_id)
        spec = _trigger_spec(world, await _body_of(request, "trigger"), partial_of=trigger)
        trigger.update(spec.model_dump(mode="json", exclude={"id"}))
        if trigger["position"] is None:
            trigger["position"] = max(t["position"] or 0 for t in account(world)["triggers"]) + 1
        trigger["updated_at"] = _ts(now())
        return {"trigger": trigger_shape(request, world, trigger)}

    @api.delete("/triggers/{trigger_id}")
    async def delete_trigger(trigger_id: int) -> Response:
        account(world)["triggers"].remove(_trigger(world, trigger_id))
        return Response(status_code=204)

    return api


# --------------------------------------------------------------------------------------------
# Triggers: conditions and actions
# --------------------------------------------------------------------------------------------
@dataclass
class _Situation:
    """What a trigger's conditions look at: the ticket now, the update, its comments and who made it."""

    ticket: Ticket
    update: TicketUpdate
    comments: list[Comment]
    updater: User | None


def _status_changed(s: _Situation) -> bool:
    return s.update.created or s.update.status_before != s.ticket.status


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def holds(condition: dict[str, Any], s: _Situation) -> bool:
    """Whether one condition (Zendesk's ``{field, operator, value}``) holds for the update."""
    name, operator, value = condition["field"], condition["operator"], condition.get("value")
    if name == "update_type":
        return (value == "Create") == s.update.created
    if name == "status":
        current, before, changed = s.ticket.status, s.update.status_before, _status_changed(s)
        rank = TICKET_STATUSES.index
        checks = {
            "is": lambda: current == value,
            "is_not": lambda: current != value,
            "less_than": lambda: rank(current) < rank(value),
            "greater_than": lambda: rank(current) > rank(value),
            "changed": lambda: changed,
            "not_changed": lambda: not changed,
            "value": lambda: changed and current == value,
            "value_previous": lambda: changed and before == value,
            "not_value": lambda: not (changed and current == value),
            "not_value_previous": lambda: not (changed and before == value),
        }
        return checks[operator]()
    if name == "current_tags":
        present = bool(set(str(value).lower().split()) & set(s.ticket.tags))
        return present if operator == "includes" else not present
    if name == "comment_is_public":
        publics = [c.public for c in s.comments]
        return {
            "true": any(publics),
            "false": not all(publics),
            "not_relevant": bool(publics),
            "requester_can_see_comment": any(publics),
        }[str(value)]
    if name == "comment_includes_word":
        text = " ".join(c.body for c in s.comments)
        if operator in ("includes", "not_includes"):
            found = bool(_words(str(value)) & _words(text)) if s.comments else False
            return found if operator == "includes" else not found
        contains = bool(s.comments) and str(value).casefold() in text.casefold()
        return contains if operator == "is" else not contains
    if name == "requester_id":
        same = str(s.ticket.requester_id) == str(value)
        return same if operator == "is" else not same
    if name in ("role", "current_user"):
        role = (s.updater.role if s.updater else "end-user").replace("-", "_")
        who = str(s.update.updater_id) if str(value).isdigit() else role
        return (who == str(value)) if operator == "is" else (who != str(value))
    return False


def trigger_fires(trigger: dict[str, Any], s: _Situation) -> bool:
    conditions = trigger["conditions"]
    every = all(holds(c, s) for c in conditions.get("all") or [])
    some = not conditions.get("any") or any(holds(c, s) for c in conditions["any"])
    return every and some


def _perform(trigger: dict[str, Any], ticket: Ticket, notifications: list[tuple[dict[str, Any], str, str]]) -> bool:
    """Do a trigger's actions; True when they changed the ticket."""
    tags_before, status_before = list(ticket.tags), ticket.status
    for action in trigger["actions"]:
        name, value = action["field"], action["value"]
        if name == "notification_webhook":
            notifications.append((trigger, value[0], value[1]))
        elif name == "status":
            ticket.status = value
        elif name == "current_tags":
            ticket.tags = normalized_tags([*ticket.tags, *str(value).split()])
        elif name == "remove_tags":
            gone = set(normalized_tags(str(value).split()))
            ticket.tags = [tag for tag in ticket.tags if tag not in gone]
        elif name == "set_tags":
            ticket.tags = normalized_tags(str(value).split())
    changed = ticket.tags != tags_before or ticket.status != status_before
    if changed:
        ticket.updated_at = now()
    return changed


def run_triggers(world: World, update: TicketUpdate) -> None:
    """Check the active triggers against a committed update, as Zendesk does, and send their webhooks."""
    ticket = world.state.tickets.get(update.ticket_id)
    records = account(world)
    active = sorted((t for t in records["triggers"] if t["active"]), key=lambda t: (t["position"], t["id"]))
    if ticket is None or not active:
        return
    situation = _Situation(
        ticket=ticket,
        update=update,
        comments=[c for c in ticket.comments if c.id in update.comment_ids],
        updater=world.state.users.get(update.updater_id) if update.updater_id is not None else None,
    )
    fired: set[int] = set()
    notifications: list[tuple[dict[str, Any], str, str]] = []
    restart = True
    while restart:
        restart = False
        for trigger in active:
            if trigger["id"] in fired or not trigger_fires(trigger, situation):
                continue
            fired.add(trigger["id"])
            if _perform(trigger, ticket, notifications):
                restart = True  # the ticket changed: the triggers not fired yet are checked again from the top
                break
    for trigger, webhook_id, template in notifications:
        webhook = next((w for w in records["webhooks"] if w["id"] == webhook_id), None)
        if webhook is None or webhook["status"] != "active":
            continue
        body = render(template, world, ticket, situation.updater, json_values=webhook["request_format"] == "json")
        _invoke(world, webhook, trigger["id"], ticket.id, body)


# --------------------------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


def placeholder_value(name: str, world: World, ticket: Ticket, updater: User | None) -> str | None:
    """The text of one placeholder, or None for one the mock does not know (rendered empty, like Zendesk)."""
    users = world.state.users
    requester = users.get(ticket.requester_id)
    simple: dict[str, Any] = {
        "ticket.id": ticket.id,
        "ticket.status": STATUS_TITLES.get(ticket.status, ticket.status),
        "ticket.tags": " ".join(ticket.tags),
        "ticket.title": ticket.subject,
        "ticket.via": VIA_TITLES["whatsapp"],
        "ticket.created_at_with_timestamp": _ts(ticket.created_at),
        "ticket.updated_at_with_timestamp": _ts(ticket.updated_at),
        "ticket.requester.id": ticket.requester_id,
        "ticket.requester.name": requester.name if requester else "",
        "ticket.requester.phone": (requester.phone or "") if requester else "",
        "current_user.id": updater.id if updater else "",
        "current_user.name": updater.name if updater else "",
    }
    if name in simple:
        return str(simple[name])
    for prefix, public_only in (("ticket.latest_comment.", False), ("ticket.latest_public_comment.", True)):
        if name.startswith(prefix):
            comments = [c for c in ticket.comments if c.public or not public_only]
            return _comment_value(name.removeprefix(prefix), comments[-1] if comments else None, users)
    return None


def _comment_value(attribute: str, comment: Comment | None, users: dict[int, User]) -> str:
    if comment is None:
        return ""
    author = users.get(comment.author_id)
    values: dict[str, Any] = {
        "id": comment.id,
        "value": comment.body,
        "is_public": "true" if comment.public else "false",
        "created_at": _ts(comment.created_at),
        "created_at_with_time": _ts(comment.created_at),
        "author.id": comment.author_id,
        "author.name": author.name if author else "",
    }
    return str(values.get(attribute, ""))


def render(template: str, world: World, ticket: Ticket, updater: User | None, *, json_values: bool) -> str:
    """A trigger's body with its placeholders filled in; in a JSON body each value is escaped as JSON text
    would be inside a string, so a comment with quotes or line breaks keeps the body valid JSON."""

    def value(match: re.Match[str]) -> str:
        text = placeholder_value(match[1], world, ticket, updater) or ""
        return json.dumps(text, ensure_ascii=False)[1:-1] if json_values else text

    return _PLACEHOLDER.sub(value, template)


# --------------------------------------------------------------------------------------------
# Deliveries
# --------------------------------------------------------------------------------------------
@dataclass
class _Invocation:
    """One webhook invocation of a trigger, and the world state it belongs to."""

    state: WorldState
    webhook_id: str
    invocation_id: str
    trigger_id: int
    ticket_id: int
    body: str
    duplicate: bool
    dropped: bool


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's ``X-Zendesk-Webhook-Signature``: base64(HMAC-SHA256(secret, timestamp + body))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _invoke(world: World, webhook: dict[str, Any], trigger_id: int, ticket_id: int, body: str) -> None:
    runtime = _runtime(world)
    runtime.invocations += 1
    fault = world.state.faults["zendesk"]
    invocation = _Invocation(
        state=world.state,
        webhook_id=webhook["id"],
        invocation_id=str(INVOCATION_ID_BASE + next(_INVOCATION_IDS)),
        trigger_id=trigger_id,
        ticket_id=ticket_id,
        body=body,
        duplicate=fault.duplicate_webhook_deliveries,
        dropped=fault.drop_webhook_deliveries,
    )
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        # Building a world outside the servers' loop: sent once the loop runs the next invocation.
        runtime.backlog.append(invocation)
        return
    for pending in [*runtime.backlog, invocation]:
        task = loop.create_task(_deliver(world, pending), name=f"zendesk-webhook-{pending.invocation_id}")
        runtime.tasks.add(task)
        task.add_done_callback(runtime.tasks.discard)
    runtime.backlog.clear()


async def _deliver(world: World, invocation: _Invocation) -> None:
    try:
        for copy in (1, 2) if invocation.duplicate else (1,):
            await _attempts(world, invocation, copy)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("zendesk mock: webhook invocation {} failed", invocation.invocation_id)


def _record(world: World, invocation: _Invocation, entry: dict[str, Any]) -> None:
    if world.state is not invocation.state:
        return
    account(world)["webhook_deliveries"].append(
        {
            "webhook_id": invocation.webhook_id,
            "invocation_id": invocation.invocation_id,
            "trigger_id": invocation.trigger_id,
            "ticket_id": invocation.ticket_id,
            **entry,
            "body": invocation.body,
            "at": now().isoformat(),
        }
    )


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(raw))
    return None


async def _attempts(world: World, invocation: _Invocation, copy: int) -> None:
    """Send one copy of an invocation, again after a retryable failure, as many times as the account says."""
    settings = world.scenario.zendesk
    for attempt in range(1, settings.webhook_max_attempts + 1):
        if world.state is not invocation.state:
            return
        webhook = next((w for w in account(world)["webhooks"] if w["id"] == invocation.webhook_id), None)
        if webhook is None:
            return
        if invocation.dropped:
            _record(
                world,
                invocation,
                {
                    "delivery": copy,
                    "attempt": attempt,
                    "sent": False,
                    "status": None,
                    "error": "dropped (drop_webhook_deliveries)",
                },
            )
            return
        status, error, wait = await _send(world, webhook, invocation, settings.webhook_timeout_seconds)
        _record(
            world, invocation, {"delivery": copy, "attempt": attempt, "sent": True, "status": status, "error": error}
        )
        retryable = status is None or status in RETRY_STATUSES or status >= 500
        if not retryable or attempt == settings.webhook_max_attempts:
            return
        backoff = settings.webhook_retry_seconds * 2 ** (attempt - 1)
        await asyncio.sleep(min(wait, MAX_RETRY_AFTER_SECONDS) if wait is not None else backoff)


async def _send(
    world: World, webhook: dict[str, Any], invocation: _Invocation, timeout: float
) -> tuple[int | None, str | None, float | None]:
    """One HTTP request of a delivery: its status (None when no answer came), the error, the Retry-After."""
    method = webhook["http_method"]
    body = invocation.body.encode() if method in ("POST", "PUT", "PATCH") else b""
    stamp = _ts(now())
    headers = {
        **webhook.get("custom_headers", {}),
        "Content-Type": CONTENT_TYPES[webhook["request_format"]],
        "User-Agent": "Zendesk Webhook",
        "X-Zendesk-Account-Id": ACCOUNT_ID,
        "X-Zendesk-Webhook-Id": webhook["id"],
        "X-Zendesk-Webhook-Invocation-Id": invocation.invocation_id,
        "X-Zendesk-Webhook-Signature": signature(webhook["signing_secret"]["secret"], stamp, body),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }
    headers.update(_auth_headers(webhook.get("authentication")))
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.request(method, webhook["endpoint"], content=body, headers=headers)
    except httpx.TimeoutException:
        return None, f"timeout after {time.monotonic() - started:.1f} s", None
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}", None
    wait = _retry_after(response) if response.status_code in (429, 503) else None
    return response.status_code, None, wait


def _auth_headers(authentication: dict[str, Any] | None) -> dict[str, str]:
    if not authentication:
        return {}
    data = authentication.get("data") or {}
    if authentication["type"] == "basic_auth":
        token = base64.b64encode(f"{data['username']}:{data['password']}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    if authentication["type"] == "bearer_token":
        return {"Authorization": f"Bearer {data['token']}"}
    return {data["name"]: data["value"]}
