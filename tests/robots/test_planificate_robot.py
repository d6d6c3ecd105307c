"""The Planifícate robot: verdicts for each branch of activity 2, evidence, sessions and retries."""

from __future__ import annotations

import hashlib

import pytest

from pages.errors import PortalUnavailable
from pages.planificate import PlanificatePage
from robots.planificate import PlanificateRobot, PreanalysisRequest, PreanalysisVerdict
from robots.sessions import PortalSession

LINES = [
    {"number": "71111111", "holder_name": "A", "holder_ci": "1"},
    {"number": "72222222", "holder_name": "B", "holder_ci": "2", "recommended_plans": None},
    {"number": "73333333", "holder_name": "C", "holder_ci": "3", "state": "FR"},
    {"number": "73333334", "holder_name": "C", "holder_ci": "3", "state": "RO"},
    {"number": "74444444", "holder_name": "D", "holder_ci": "4", "other_operator": "Viva"},
    {"number": "75555555", "holder_name": "E", "holder_ci": "5", "sim": "3G"},
    {"number": "76666666", "holder_name": "F", "holder_ci": "6", "state": "MP"},
]


@pytest.fixture
def robot(browser_host, access, console_policy, load_scenario):
    load_scenario({"name": "robot", "lines": LINES})
    session = PortalSession(browser_host, PlanificatePage, access("planificate"))
    yield PlanificateRobot(session, console_policy)
    browser_host.run(session.close())


@pytest.mark.parametrize("line, verdict", [
    ("71111111", PreanalysisVerdict.ELIGIBLE),
    ("72222222", PreanalysisVerdict.NO_RESULT),
    ("73333333", PreanalysisVerdict.BLOCKED_FR_RO),
    ("73333334", PreanalysisVerdict.BLOCKED_FR_RO),
    ("74444444", PreanalysisVerdict.OTHER_OPERATOR),
    ("75555555", PreanalysisVerdict.SIM_3G),
    ("76666666", PreanalysisVerdict.DEBT_MP),
])
def test_each_branch_has_its_verdict_and_a_screenshot(robot, line, verdict):
    result = robot.preanalysis(PreanalysisRequest(line=line))
    assert result.verdict == verdict
    [shot] = result.evidence
    assert shot.content.startswith(b"\x89PNG")
    assert shot.sha256 == hashlib.sha256(shot.content).hexdigest()
    assert shot.portal == "planificate" and shot.step == "preanalysis"


def test_eligible_reads_plans(robot):
    result = robot.preanalysis(PreanalysisRequest(line="71111111"))
    assert result.recommended_plans == ["Mega Plan 69", "Mega Plan 99"]
    assert (result.state, result.sim) == ("AC", "USIM LTE")


def test_session_is_reused_and_an_expired_one_logged_into_again(robot, faults):
    robot.preanalysis(PreanalysisRequest(line="71111111"))
    robot.preanalysis(PreanalysisRequest(line="72222222"))
    assert robot.session.logins == 1
    faults("planificate", expire_sessions=True)
    result = robot.preanalysis(PreanalysisRequest(line="71111111"))
    assert result.verdict == PreanalysisVerdict.ELIGIBLE
    assert robot.session.logins == 2


def test_burst_of_500s_is_retried_to_success(robot, faults):
    faults("planificate", fail_next=2)
    assert robot.preanalysis(PreanalysisRequest(line="71111111")).found


def test_modal_and_late_rendering_do_not_stop_the_robot(robot, faults):
    faults("planificate", modal=True, late_render_ms=200)
    assert robot.preanalysis(PreanalysisRequest(line="71111111")).verdict == PreanalysisVerdict.ELIGIBLE


def test_portal_down_for_good_is_a_clear_application_error(robot, faults):
    faults("planificate", fail_next=1000)
    with pytest.raises(PortalUnavailable, match="HTTP 500"):
        robot.preanalysis(PreanalysisRequest(line="71111111"))


def test_business_outcomes_are_not_retried(robot, world_state):
    def requests_for(line: str) -> int:
        before = world_state()["requests"]["planificate"]
        robot.preanalysis(PreanalysisRequest(line=line))
        return world_state()["requests"]["planificate"] - before

    robot.preanalysis(PreanalysisRequest(line="71111111"))  # log in first
    success = requests_for("71111111")
    assert requests_for("73333333") == success  # FR: one pass, no retry
    assert requests_for("72222222") == success  # no result: one pass, no retry


def test_malformed_line_is_refused_before_any_browser_work():
    with pytest.raises(ValueError, match="not a mobile line number"):
        PreanalysisRequest(line="12345")
