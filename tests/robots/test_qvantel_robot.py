"""The Qvantel robot: line states (3.2), holder check (4.2), confirmation outcomes (5), evidence, sessions
and retries."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from pages.errors import InvalidInput, PortalUnavailable
from pages.qvantel import QvantelPage
from robots.qvantel import (
    ConfirmationOutcome,
    ConfirmLineRequest,
    LineStatus,
    LineStatusRequest,
    PlanType,
    QvantelRobot,
    same_ci,
)
from robots.sessions import PortalSession

RECOVERED_AT = datetime(2026, 3, 10, 14, 5, tzinfo=timezone.utc)  # 10:05 in La Paz

LINES = [
    {"number": "71111111", "holder_name": "Ana Rojas", "holder_ci": "6543210", "confirmed": False,
     "last_sim_recovery": RECOVERED_AT.isoformat()},
    {"number": "72222222", "holder_name": "Juan Pérez", "holder_ci": "1234567-1A", "acmo": "ACMO-OLD"},
    {"number": "73333333", "holder_name": "Luis Mamani", "holder_ci": "3333333", "plan_type": "Pospago",
     "plan": "Mega Plan 69"},
]


@pytest.fixture
def clock():
    """A settable 'now' for the 24-hour window: two hours after the recovery unless a test moves it."""
    moment = {"now": RECOVERED_AT + timedelta(hours=2)}
    return moment


@pytest.fixture
def robot(browser_host, access, console_policy, load_scenario, clock):
    load_scenario({"name": "robot", "lines": LINES})
    session = PortalSession(browser_host, QvantelPage, access("qvantel"))
    yield QvantelRobot(session, console_policy, clock=lambda: clock["now"])
    browser_host.run(session.close())


def line_in_world(world_state, number: str) -> dict:
    return world_state()["lines"][number]


def assert_screenshot(evidence, step: str) -> None:
    [shot] = evidence
    assert shot.content.startswith(b"\x89PNG")
    assert shot.sha256 == hashlib.sha256(shot.content).hexdigest()
    assert (shot.portal, shot.step) == ("qvantel", step)


# -- line state ---------------------------------------------------------------------------------
def test_pending_line_recently_recovered(robot):
    status = robot.line_status(LineStatusRequest(line="71111111"))
    assert status.exists and not status.confirmed
    assert status.last_sim_recovery == RECOVERED_AT
    assert status.sim_recovered_last_24h
    assert (status.holder_name, status.holder_ci) == ("Ana Rojas", "6543210")
    assert (status.plan_type, status.plan, status.acmo) == (PlanType.PREPAID, "Prepago Total", None)
    assert_screenshot(status.evidence, "line-status")
    assert "Pendiente de confirmación, con recuperación de SIM" in status.evidence[0].description
    assert "6543210" not in status.summary() and "****210" in status.summary()


def test_recovery_window_follows_the_clock(robot, clock):
    clock["now"] = RECOVERED_AT + timedelta(hours=24, minutes=1)
    assert not robot.line_status(LineStatusRequest(line="71111111")).sim_recovered_last_24h


def test_confirmed_and_migrated_lines(robot):
    confirmed = robot.line_status(LineStatusRequest(line="72222222"))
    assert confirmed.confirmed and confirmed.acmo == "ACMO-OLD"
    assert confirmed.last_sim_recovery is None and not confirmed.sim_recovered_last_24h
    migrated = robot.line_status(LineStatusRequest(line="73333333"))
    assert (migrated.plan_type, migrated.plan) == (PlanType.POSTPAID, "Mega Plan 69")


def test_unknown_line_is_an_answer_with_its_screenshot(robot):
    status = robot.line_status(LineStatusRequest(line="79999999"))
    assert not status.exists and not status.confirmed
    assert not status.is_holder("6543210")
    assert_screenshot(status.evidence, "line-status")


@pytest.mark.parametrize("customer_ci, holder_ci, same", [
    ("6543210", "6543210", True),
    (" 6.543.210 ", "6543210", True),
    ("6543210 LP", "6543210", True),
    ("6543210-1A", "6543210", True),        # complement on one side only: ignored
    ("6543210 1a", "6543210-1A", True),
    ("6543210-1A", "6543210-2B", False),    # both sides have one and they differ: another person
    ("6543211", "6543210", False),
    ("", "6543210", False),
])
def test_is_holder_ignores_formatting(customer_ci, holder_ci, same):
    status = LineStatus(line="71111111", exists=True, holder_ci=holder_ci)
    assert status.is_holder(customer_ci) is same
    assert same_ci(customer_ci, holder_ci) is same


# -- confirmation -------------------------------------------------------------------------------
def test_pending_line_is_confirmed_with_the_acmo(robot, world_state):
    result = robot.confirm_line(ConfirmLineRequest(line="71111111", holder_ci="6.543.210 LP", acmo="acmo-tvd-rpa"))
    assert result.outcome == ConfirmationOutcome.CONFIRMED
    assert result.acmo == "ACMO-TVD-RPA"
    assert_screenshot(result.evidence, "line-confirmed")
    line = line_in_world(world_state, "71111111")
    assert line["confirmed"] and line["acmo"] == "ACMO-TVD-RPA" and line["confirmed_at"]
    assert robot.line_status(LineStatusRequest(line="71111111")).confirmed


def test_already_confirmed_line_is_left_alone(robot, world_state):
    before = line_in_world(world_state, "72222222")
    result = robot.confirm_line(ConfirmLineRequest(line="72222222", holder_ci="1234567", acmo="ACMO-NEW"))
    assert result.outcome == ConfirmationOutcome.ALREADY_CONFIRMED
    assert result.acmo == "ACMO-OLD"
    assert_screenshot(result.evidence, "line-confirmed")
    assert line_in_world(world_state, "72222222") == before


def test_not_the_holder_changes_nothing(robot, world_state):
    result = robot.confirm_line(ConfirmLineRequest(line="71111111", holder_ci="7654321", acmo="ACMO-1"))
    assert result.outcome == ConfirmationOutcome.NOT_HOLDER
    assert result.evidence == []
    line = line_in_world(world_state, "71111111")
    assert (line["confirmed"], line["acmo"]) == (False, None)


def test_unknown_line_cannot_be_confirmed(robot):
    result = robot.confirm_line(ConfirmLineRequest(line="79999999", holder_ci="6543210", acmo="ACMO-1"))
    assert result.outcome == ConfirmationOutcome.LINE_NOT_FOUND and result.evidence == []


def test_business_outcomes_are_not_retried(robot, world_state):
    def requests_for(call) -> int:
        before = world_state()["requests"]["qvantel"]
        call()
        return world_state()["requests"]["qvantel"] - before

    robot.line_status(LineStatusRequest(line="72222222"))  # log in first
    # Each count is exactly one pass over the console: a retry would add a whole pass.
    # "no existe"
    assert requests_for(lambda: robot.line_status(LineStatusRequest(line="79999999"))) == 1
    assert requests_for(lambda: robot.confirm_line(
        ConfirmLineRequest(line="79999999", holder_ci="6543210", acmo="A1"))) == 1
    # line view, its frame
    assert requests_for(lambda: robot.confirm_line(
        ConfirmLineRequest(line="72222222", holder_ci="1234567", acmo="A1"))) == 2
    # line view, its frame, Televentas Digital, the refused post
    assert requests_for(lambda: robot.confirm_line(
        ConfirmLineRequest(line="71111111", holder_ci="7654321", acmo="A1"))) == 4


@pytest.mark.parametrize("fields", [
    {"holder_ci": "abc", "acmo": "ACMO-1"},
    {"holder_ci": "6543210", "acmo": "  "},
    {"holder_ci": "6543210", "acmo": "ACMO 1!"},
])
def test_malformed_confirmation_is_refused_before_any_browser_work(fields):
    with pytest.raises(InvalidInput):
        ConfirmLineRequest(line="71111111", **fields)


def test_ci_never_shows_in_the_request_repr():
    assert "6543210" not in repr(ConfirmLineRequest(line="71111111", holder_ci="6543210", acmo="ACMO-1"))


# -- the console misbehaving --------------------------------------------------------------------
def test_expired_session_is_logged_into_again(robot, faults):
    robot.line_status(LineStatusRequest(line="72222222"))
    faults("qvantel", expire_sessions=True)
    result = robot.confirm_line(ConfirmLineRequest(line="71111111", holder_ci="6543210", acmo="ACMO-1"))
    assert result.outcome == ConfirmationOutcome.CONFIRMED
    assert robot.session.logins == 2


def test_burst_of_500s_is_retried_to_success(robot, faults):
    faults("qvantel", fail_next=2)
    result = robot.confirm_line(ConfirmLineRequest(line="71111111", holder_ci="6543210", acmo="ACMO-1"))
    assert result.outcome == ConfirmationOutcome.CONFIRMED


def test_modal_and_late_sheet_do_not_stop_the_robot(robot, faults):
    faults("qvantel", modal=True, late_render_ms=200)
    assert not robot.line_status(LineStatusRequest(line="71111111")).confirmed
    result = robot.confirm_line(ConfirmLineRequest(line="71111111", holder_ci="6543210", acmo="ACMO-1"))
    assert result.outcome == ConfirmationOutcome.CONFIRMED


def test_portal_down_for_good_is_a_clear_application_error(robot, faults):
    faults("qvantel", fail_next=1000)
    with pytest.raises(PortalUnavailable, match="HTTP 500"):
        robot.line_status(LineStatusRequest(line="71111111"))
