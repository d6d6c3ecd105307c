"""A whole migration whose customer and reviewer reach the flow only through Zendesk's webhook.

The mock Zendesk plays the account: a webhook pointing at ``rpa serve`` and a trigger on every update a
person makes (the customer's WhatsApp messages, the supervisor's review note), created through Zendesk's
own API; its deliveries are signed with the webhook's secret. The worker reads tickets once an hour, so
the flow can only move on by webhook. A duplicate-delivery fault sends every invocation twice.
"""

from __future__ import annotations

import json

import httpx
from pydantic import SecretStr

from flows.engine.settings import Settings
from tests.flows.interfaces.test_serve import FLOW, TICKET, WebhookServer
from tests.flows.scenarios import LINE, scenario

#: The body our trigger sends (README, "Zendesk webhooks"), with Zendesk's placeholders.
COMMENT_BODY = json.dumps(
    {"event": "comment_added", "ticket_id": "{{ticket.id}}", "comment_id": "{{ticket.latest_comment.id}}"}
)


def _api(settings: Settings) -> httpx.Client:
    access = settings.zendesk
    return httpx.Client(
        base_url=access.base_url.rstrip("/") + "/api/v2",
        auth=httpx.BasicAuth(f"{access.email}/token", access.api_token.get_secret_value()),
        timeout=10,
    )


def test_the_customer_and_the_reviewer_reach_the_flow_by_webhook(load_scenario, start_worker, flow_settings, faults,
                                                                 world_state, mocks):
    load_scenario(scenario())
    serving = flow_settings.model_copy(update={"webhook_signing_secret": SecretStr("placeholder")})
    with _api(flow_settings) as api:
        robot = api.get("/users/me").json()["user"]["id"]
        # The server's address must exist before the webhook: take it, then give the server its secret.
        server = WebhookServer(serving)
        try:
            created = api.post("/webhooks", json={"webhook": {
                "name": "RPA", "endpoint": server.url + "/zendesk/webhook", "http_method": "POST",
                "request_format": "json", "status": "active", "subscriptions": ["conditional_ticket_events"]}})
            created.raise_for_status()
            webhook = created.json()["webhook"]["id"]
            secret = api.get(f"/webhooks/{webhook}/signing_secret").json()["signing_secret"]["secret"]
        finally:
            server.close()
        trigger = api.post("/triggers", json={"trigger": {
            "title": "RPA: comentario en un ticket del robot", "active": True,
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Change"},
                                   {"field": "current_user", "operator": "is_not", "value": str(robot)}],
                           "any": []},
            "actions": [{"field": "notification_webhook", "value": [webhook, COMMENT_BODY]}]}})
        trigger.raise_for_status()

    faults("zendesk", duplicate_webhook_deliveries=True)
    settings = flow_settings.model_copy(update={
        "webhook_signing_secret": SecretStr(secret),
        "process": flow_settings.process.model_copy(update={"watch_interval_seconds": 3600}),
    })
    port = int(server.url.rsplit(":", 1)[1])
    server = WebhookServer(settings, port=port)
    try:
        worker = start_worker(settings)
        worker.start_flow(TICKET)
        assert worker.wait_until_done(FLOW, timeout=120) == "SUCCESS"
    finally:
        server.close()
    assert worker.store.flow(FLOW).outcome == "migrated"
    world = world_state()
    assert world["lines"][LINE]["migrations"] == 1
    deliveries = world["records"]["zendesk"]["webhook_deliveries"]
    assert deliveries and all(d["status"] == 200 for d in deliveries if d["sent"])
    assert any(d["delivery"] == 2 for d in deliveries), "every invocation was delivered twice"
