"""``rpa serve connect``: the Zendesk account's side of the webhook intake, set up in one command.

``rpa serve`` learns of the robot's tickets from Zendesk's webhook, which Zendesk calls from two triggers:
a new migration ticket (the WhatsApp bot's tag ``migracion_pre_pos`` at creation) and an update of such a
ticket by anyone but the robot's API agent (a customer's message, an agent's command note; the robot's
own notes and macros need no read and would each cost one). Setting that up by hand in Zendesk's admin
centre is a dozen fields where one typo means a silent intake; this does it through Zendesk's Webhooks
and Triggers APIs, idempotently: run again, it finds the webhook and triggers by name, points them at the
given address and changes nothing else. It is what the demo and the regression catalogue do against the
mock Zendesk, and what an administrator runs once against the real account.

A third trigger calls the webhook when a ticket carries one of the step tags an agent's macro adds
(``flows.interfaces.tag_steps``). It has no "current user is not the robot" condition: an agent's macro
may be applied through the API with the robot's credentials (the mock does so), and the robot's own
updates while the tag is there cost one ticket read that finds the step already done or running.

The webhook's signing secret is Zendesk's, generated with the webhook: it is returned for the caller to
put in ``RPA_WEBHOOK_SIGNING_SECRET`` of the machine that runs ``rpa serve``.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, SecretStr

from flows.interfaces.serve import WEBHOOK_PATH
from flows.interfaces.tag_steps import STEP_REQUESTED_BODY, STEP_TAGS
from flows.process.definition import MIGRATION_TAG
from pages.errors import InvalidInput
from robots.zendesk import ZendeskClient

WEBHOOK_NAME = "RPA migración prepago a pospago"
NEW_TICKET_TRIGGER = "RPA: nuevo ticket de migración"
UPDATE_TRIGGER = "RPA: actualización de un ticket de migración"
STEP_TRIGGER = "RPA: paso pedido por macro"
#: What the triggers send (``flows.interfaces.serve.WebhookEvent``), with Zendesk's placeholders.
NEW_TICKET_BODY = json.dumps({"event": "ticket_created", "ticket_id": "{{ticket.id}}"})
COMMENT_BODY = json.dumps(
    {"event": "comment_added", "ticket_id": "{{ticket.id}}", "comment_id": "{{ticket.latest_comment.id}}"}
)


class Connection(BaseModel):
    """What the account holds for the intake after ``connect``."""

    webhook_id: str
    endpoint: str
    trigger_ids: dict[str, int]
    created: list[str]
    signing_secret: SecretStr


def webhook_endpoint(serve_url: str) -> str:
    """The webhook's endpoint for ``rpa serve`` reachable at ``serve_url`` (its address, as Zendesk sees it)."""
    url = serve_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"the address of rpa serve must start with https:// (or http://), got {serve_url!r}")
    return url if url.endswith(WEBHOOK_PATH) else url + WEBHOOK_PATH


def connect(zendesk: ZendeskClient, serve_url: str) -> Connection:
    """Create or update the webhook pointing at ``serve_url`` and the three triggers that call it."""
    endpoint = webhook_endpoint(serve_url)
    created: list[str] = []
    webhook = next((w for w in zendesk.webhooks() if w.get("name") == WEBHOOK_NAME), None)
    spec = {
        "name": WEBHOOK_NAME,
        "endpoint": endpoint,
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["conditional_ticket_events"],
    }
    if webhook is None:
        webhook = zendesk.create_webhook(spec)
        created.append(f"webhook '{WEBHOOK_NAME}'")
    elif webhook.get("endpoint") != endpoint or webhook.get("status") != "active":
        zendesk.change_webhook(str(webhook["id"]), {"endpoint": endpoint, "status": "active"})
    webhook_id = str(webhook["id"])
    robot = zendesk.current_user_id()
    tagged = {"field": "current_tags", "operator": "includes", "value": MIGRATION_TAG}
    wanted = {
        NEW_TICKET_TRIGGER: {
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}, tagged], "any": []},
            "actions": [{"field": "notification_webhook", "value": [webhook_id, NEW_TICKET_BODY]}],
        },
        UPDATE_TRIGGER: {
            "conditions": {
                "all": [
                    {"field": "update_type", "operator": "is", "value": "Change"},
                    tagged,
                    {"field": "current_user", "operator": "is_not", "value": str(robot)},
                ],
                "any": [],
            },
            "actions": [{"field": "notification_webhook", "value": [webhook_id, COMMENT_BODY]}],
        },
        STEP_TRIGGER: {
            # Zendesk's "contains at least one of" is ``includes`` with the tags separated by spaces.
            "conditions": {
                "all": [{"field": "current_tags", "operator": "includes", "value": " ".join(STEP_TAGS)}],
                "any": [],
            },
            "actions": [{"field": "notification_webhook", "value": [webhook_id, STEP_REQUESTED_BODY]}],
        },
    }
    existing = {t.get("title"): t for t in zendesk.triggers()}
    trigger_ids: dict[str, int] = {}
    for title, body in wanted.items():
        trigger = {"title": title, "active": True, **body}
        found = existing.get(title)
        if found is None:
            saved = zendesk.create_trigger(trigger)
            created.append(f"trigger '{title}'")
        else:
            saved = zendesk.change_trigger(int(found["id"]), trigger)
        trigger_ids[title] = int(saved["id"])
    return Connection(
        webhook_id=webhook_id,
        endpoint=endpoint,
        trigger_ids=trigger_ids,
        created=created,
        signing_secret=zendesk.webhook_signing_secret(webhook_id),
    )
