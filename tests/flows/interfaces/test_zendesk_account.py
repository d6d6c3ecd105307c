"""``rpa zendesk connect`` against the mock Zendesk: the webhook and triggers ``rpa serve`` relies on, made once.

Run twice, it finds what it made by name and only points it at the new address; a malformed address is
refused before Zendesk is touched. That the triggers it makes bring a whole flow's news is shown by the
regression catalogue, which runs with this intake.
"""

from __future__ import annotations

from flows.interfaces.tag_steps import STEP_TAGS
from flows.interfaces.zendesk_account import NEW_TICKET_TRIGGER, STEP_TRIGGER, UPDATE_TRIGGER, WEBHOOK_NAME
from flows.process.definition import MIGRATION_TAG
from tests.flows.interfaces.test_cli import rpa  # noqa: F401  (fixture)
from tests.flows.scenarios import scenario


def _account(world: dict) -> tuple[list[dict], list[dict]]:
    records = world["records"]["zendesk"]
    return records.get("webhooks", []), records.get("triggers", [])


def test_connect_makes_the_webhook_and_triggers_once_and_follows_a_new_address(rpa, load_scenario, world_state):
    load_scenario(scenario())
    first = rpa("zendesk", "connect", "--url", "http://127.0.0.1:9/", "--show-secret")
    assert first.returncode == 0, first.stderr
    assert f"created webhook '{WEBHOOK_NAME}'" in first.stdout
    webhooks, triggers = _account(world_state())
    assert [w["endpoint"] for w in webhooks] == ["http://127.0.0.1:9/zendesk/webhook"]
    secret = webhooks[0]["signing_secret"]["secret"]
    assert f"RPA_WEBHOOK_SIGNING_SECRET={secret}" in first.stdout
    mine = {t["title"]: t for t in triggers if t["title"] in (NEW_TICKET_TRIGGER, UPDATE_TRIGGER)}
    assert set(mine) == {NEW_TICKET_TRIGGER, UPDATE_TRIGGER}
    for trigger in mine.values():
        conditions = trigger["conditions"]["all"]
        assert {"field": "current_tags", "operator": "includes", "value": MIGRATION_TAG} in conditions
        assert trigger["actions"][0]["field"] == "notification_webhook"
        assert str(trigger["actions"][0]["value"][0]) == str(webhooks[0]["id"])
    # The robot's own updates are not news for it: the update trigger leaves them out.
    assert any(c["field"] == "current_user" and c["operator"] == "is_not" for c in mine[UPDATE_TRIGGER]["conditions"]["all"])
    # An agent's macro that tags the ticket with a step asks rpa serve to run it.
    step = next(t for t in triggers if t["title"] == STEP_TRIGGER)
    assert step["conditions"]["all"] == [{"field": "current_tags", "operator": "includes", "value": " ".join(STEP_TAGS)}]
    assert step["actions"][0]["value"][0] == webhooks[0]["id"]
    assert '"event": "step_requested"' in step["actions"][0]["value"][1]

    again = rpa("zendesk", "connect", "--url", "https://rpa.example.bo/zendesk/webhook")
    assert again.returncode == 0, again.stderr
    assert "nothing new" in again.stdout
    assert secret not in again.stdout, "the secret is printed only when asked for"
    webhooks, triggers = _account(world_state())
    assert [w["endpoint"] for w in webhooks] == ["https://rpa.example.bo/zendesk/webhook"]
    assert sorted(t["title"] for t in triggers if t["title"].startswith("RPA:")) == sorted(
        [NEW_TICKET_TRIGGER, UPDATE_TRIGGER, STEP_TRIGGER]
    )


def test_connect_refuses_an_address_zendesk_could_not_call_and_changes_nothing(rpa, load_scenario, world_state):
    load_scenario(scenario())
    refused = rpa("zendesk", "connect", "--url", "rpa.example.bo")
    assert refused.returncode == 2
    assert "must start with https://" in refused.stderr and "rpa.example.bo" in refused.stderr
    webhooks, triggers = _account(world_state())
    assert webhooks == [] and not [t for t in triggers if t["title"].startswith("RPA:")]
