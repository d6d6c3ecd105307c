"""The AR robot: the token by SMS, each migration outcome, a single migration whatever fails, and the faults."""

from __future__ import annotations

import hashlib
import re
import time

import httpx
import pytest

from pages.ar import ARPage
from pages.errors import PortalTimeout, PortalUnavailable, RecordNotFound, RuleRefused
from robots.ar import (
    ARRobot,
    MigrationInDoubt,
    MigrationOutcome,
    MigrationRequest,
    MigrationStateRequest,
    TokenRequest,
)
from robots.sessions import PortalSession

LINES = [
    {"number": "71111111", "holder_name": "Ana", "holder_ci": "1"},
    {"number": "72222222", "holder_name": "Beto", "holder_ci": "2", "ar_outcome": "error",
     "ar_error_message": "Error en Scoring: no se pudo completar la evaluación crediticia (cod. 504)"},
    {"number": "73333333", "holder_name": "Carla", "holder_ci": "3", "ar_outcome": "historical_debt"},
    {"number": "74444444", "holder_name": "Dina", "holder_ci": "4", "ar_allowed_plans": ["Mega Plan 149"]},
    {"number": "76666666", "holder_name": "Fito", "holder_ci": "6", "other_operator": "Viva"},
]


@pytest.fixture
def scenario(load_scenario):
    def load(**extra):
        load_scenario({"name": "ar-robot", "lines": LINES, **extra})

    load()
    return load


@pytest.fixture
def robot(browser_host, access, console_policy, scenario):
    session = PortalSession(browser_host, ARPage, access("ar"))
    yield ARRobot(session, console_policy)
    browser_host.run(session.close())


@pytest.fixture
def sms_token(mocks):
    """The code in the line's newest SMS from 7371, as the customer would send it back."""

    def latest(line: str) -> str:
        messages = httpx.get(f"{mocks.urls['control']}/_control/sms/{line}").json()["messages"]
        [*_, sms] = [m for m in messages if m["sender"] == "7371"]
        return re.search(r"migración es ([A-Z0-9]{6})\.", sms["text"]).group(1)

    return latest


def request(line: str, token: str, plan: str = "Mega Plan 69", email: str | None = None) -> MigrationRequest:
    return MigrationRequest(line=line, token=token, plan=plan, city="La Paz", billing_address="Av. Arce 2631",
                            email=email)


def migrations(world_state, line: str) -> int:
    return world_state()["lines"][line]["migrations"]


def test_token_by_sms_then_one_migration(robot, sms_token, world_state):
    before = robot.migration_state(MigrationStateRequest(line="71111111"))
    assert (before.migrated, before.plan_type, before.migrated_at) == (False, "Prepago", None)

    issued = robot.issue_token(TokenRequest(line="71111111"))
    assert (issued.line, issued.sender, issued.expires_in_seconds) == ("71111111", "7371", 600)
    assert 0 <= time.time() - issued.issued_at.timestamp() < 30
    assert "token" not in issued.model_dump()  # the robot never learns the code

    result = robot.migrate(request("71111111", sms_token("71111111").lower(), plan="Mega Plan 99",
                                   email="ana@example.com"))
    assert result.outcome == MigrationOutcome.MIGRATED
    contract = world_state()["records"]["ar"]["71111111"]["migration"]
    assert (contract["city"], contract["billing_address"], contract["email"]) == (
        "La Paz", "Av. Arce 2631", "ana@example.com")
    assert result.plan == "Mega Plan 99" and result.order_number.startswith("AR-")
    assert result.preanalysis["Lista Negra"] == "Sin registros"
    assert result.evidence == []
    assert migrations(world_state, "71111111") == 1

    after = robot.migration_state(MigrationStateRequest(line="71111111"))
    assert (after.migrated, after.plan_type, after.plan) == (True, "Pospago", "Mega Plan 99")
    assert after.migrated_at == result.migrated_at

    again = robot.migrate(request("71111111", sms_token("71111111"), plan="Mega Plan 99"))
    assert again.outcome == MigrationOutcome.ALREADY_POSTPAID
    with pytest.raises(RuleRefused, match="Pospago"):
        robot.issue_token(TokenRequest(line="71111111"))
    assert migrations(world_state, "71111111") == 1


def test_expired_token(robot, scenario, sms_token, world_state):
    scenario(token_ttl_seconds=1)
    assert robot.issue_token(TokenRequest(line="71111111")).expires_in_seconds == 1
    time.sleep(1.2)
    result = robot.migrate(request("71111111", sms_token("71111111")))
    assert result.outcome == MigrationOutcome.TOKEN_EXPIRED and "vencido" in result.message
    assert migrations(world_state, "71111111") == 0


def test_wrong_token_then_the_right_one(robot, sms_token, world_state):
    robot.issue_token(TokenRequest(line="71111111"))
    code = sms_token("71111111")
    wrong = ("Z" if code[0] != "Z" else "Y") + code[1:]
    assert robot.migrate(request("71111111", wrong)).outcome == MigrationOutcome.TOKEN_WRONG
    assert migrations(world_state, "71111111") == 0
    assert robot.migrate(request("71111111", code)).outcome == MigrationOutcome.MIGRATED


def test_ar_error_is_refused_with_its_screenshot(robot, sms_token, world_state):
    robot.issue_token(TokenRequest(line="72222222"))
    code = sms_token("72222222")
    result = robot.migrate(request("72222222", code))
    assert result.outcome == MigrationOutcome.REFUSED
    assert result.message == "Error en Scoring: no se pudo completar la evaluación crediticia (cod. 504)"
    [shot] = result.evidence
    assert shot.content.startswith(b"\x89PNG") and shot.sha256 == hashlib.sha256(shot.content).hexdigest()
    assert shot.portal == "ar" and "Error del Activador Regional" in shot.description
    # The code was spent on that attempt: a second one needs a new token.
    assert robot.migrate(request("72222222", code)).outcome == MigrationOutcome.TOKEN_USED
    assert migrations(world_state, "72222222") == 0


def test_historical_debt_with_its_screenshot(robot, sms_token):
    robot.issue_token(TokenRequest(line="73333333"))
    result = robot.migrate(request("73333333", sms_token("73333333")))
    assert result.outcome == MigrationOutcome.HISTORICAL_DEBT
    assert result.message.startswith("Lista Negra: el cliente registra deuda histórica")
    assert result.preanalysis["Lista Negra"] == "Deuda histórica registrada"
    [shot] = result.evidence
    assert shot.step == "ar_historical_debt" and "Deuda histórica" in shot.description


def test_plan_scoring_does_not_offer(robot, sms_token, world_state):
    robot.issue_token(TokenRequest(line="74444444"))
    result = robot.migrate(request("74444444", sms_token("74444444"), plan="Mega Plan 69"))
    assert result.outcome == MigrationOutcome.PLAN_NOT_OFFERED
    assert result.offered_plans == ["Mega Plan 149"]
    assert world_state()["records"]["ar"]["74444444"]["used"] is False  # never submitted


def test_lines_ar_does_not_know_or_serve(robot):
    with pytest.raises(RecordNotFound):
        robot.issue_token(TokenRequest(line="79999999"))
    with pytest.raises(RuleRefused, match="Viva"):
        robot.issue_token(TokenRequest(line="76666666"))
    with pytest.raises(RecordNotFound):
        robot.migration_state(MigrationStateRequest(line="79999999"))


def test_business_outcomes_are_not_retried(robot, sms_token, world_state):
    def requests_for(line: str, token: str) -> tuple[MigrationOutcome, int]:
        before = world_state()["requests"]["ar"]
        outcome = robot.migrate(request(line, token)).outcome
        return outcome, world_state()["requests"]["ar"] - before

    robot.issue_token(TokenRequest(line="71111111"))
    robot.issue_token(TokenRequest(line="72222222"))
    wrong = requests_for("71111111", "AAAAAA")
    refused = requests_for("72222222", sms_token("72222222"))
    migrated = requests_for("71111111", sms_token("71111111"))
    assert (wrong[0], refused[0], migrated[0]) == (
        MigrationOutcome.TOKEN_WRONG, MigrationOutcome.REFUSED, MigrationOutcome.MIGRATED)
    assert wrong[1] == refused[1] == migrated[1]


def test_expired_session_is_logged_into_again(robot, sms_token, faults, world_state):
    robot.issue_token(TokenRequest(line="71111111"))
    assert robot.session.logins == 1
    faults("ar", expire_sessions=True)
    assert robot.migrate(request("71111111", sms_token("71111111"))).outcome == MigrationOutcome.MIGRATED
    assert robot.session.logins == 2
    assert migrations(world_state, "71111111") == 1


def test_burst_of_500s_before_the_click_is_retried_to_success(robot, sms_token, faults, world_state):
    faults("ar", fail_next=2)
    robot.issue_token(TokenRequest(line="71111111"))
    faults("ar", fail_next=2)
    assert robot.migrate(request("71111111", sms_token("71111111"))).outcome == MigrationOutcome.MIGRATED
    assert migrations(world_state, "71111111") == 1


def test_modal_and_late_rendering_do_not_stop_the_robot(robot, sms_token, faults):
    faults("ar", modal=True, late_render_ms=200)
    robot.issue_token(TokenRequest(line="71111111"))
    assert robot.migrate(request("71111111", sms_token("71111111"))).outcome == MigrationOutcome.MIGRATED
    assert robot.migration_state(MigrationStateRequest(line="71111111")).migrated


def test_portal_down_for_good_is_a_clear_application_error(robot, faults):
    faults("ar", fail_next=1000)
    with pytest.raises(PortalUnavailable, match="HTTP 500"):
        robot.issue_token(TokenRequest(line="71111111"))


# -- a migration is never clicked twice ----------------------------------------------------------
def test_an_error_answering_the_click_is_in_doubt_and_not_retried(robot, sms_token, faults, world_state,
                                                                   monkeypatch):
    robot.issue_token(TokenRequest(line="71111111"))
    click = ARPage.migrate

    async def click_into_a_500(self: ARPage) -> None:
        faults("ar", fail_next=1)
        await click(self)

    monkeypatch.setattr(ARPage, "migrate", click_into_a_500)
    with pytest.raises(MigrationInDoubt, match="read the migration state") as caught:
        robot.migrate(request("71111111", sms_token("71111111")))
    assert not caught.value.retryable and isinstance(caught.value.__cause__, PortalUnavailable)
    # A retry would have clicked again and migrated: the answer was a 500, so nothing happened.
    assert migrations(world_state, "71111111") == 0
    assert not robot.migration_state(MigrationStateRequest(line="71111111")).migrated


def test_a_lost_answer_after_migrating_is_in_doubt_and_the_state_tells(robot, sms_token, world_state,
                                                                      monkeypatch):
    robot.issue_token(TokenRequest(line="71111111"))

    async def answer_lost(self: ARPage):
        raise PortalTimeout("timed out while waiting for the migration answer", portal="ar")

    monkeypatch.setattr(ARPage, "read_outcome", answer_lost)
    with pytest.raises(MigrationInDoubt):
        robot.migrate(request("71111111", sms_token("71111111")))
    assert migrations(world_state, "71111111") == 1
    assert robot.migration_state(MigrationStateRequest(line="71111111")).migrated


def test_a_session_lost_on_the_click_is_not_logged_into_and_clicked_again(robot, sms_token, faults,
                                                                         world_state, monkeypatch):
    robot.issue_token(TokenRequest(line="71111111"))
    click = ARPage.migrate

    async def click_after_expiry(self: ARPage) -> None:
        faults("ar", expire_sessions=True)
        await click(self)

    monkeypatch.setattr(ARPage, "migrate", click_after_expiry)
    with pytest.raises(MigrationInDoubt, match="login page"):
        robot.migrate(request("71111111", sms_token("71111111")))
    assert robot.session.logins == 1
    assert migrations(world_state, "71111111") == 0


def test_malformed_requests_are_refused_before_any_browser_work():
    with pytest.raises(ValueError, match="not a mobile line number"):
        TokenRequest(line="12345")
    with pytest.raises(ValueError, match="not an AR token"):
        request("71111111", "AB-12")
    with pytest.raises(ValueError, match="not an e-mail"):
        MigrationRequest(line="71111111", token="ABC234", plan="Mega Plan 69", city="La Paz",
                         email="nada", billing_address="x")
    assert request("71111111", " ab c234 ").token == "ABC234"
