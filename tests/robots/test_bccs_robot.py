"""BCCSRobot end to end: debt amounts and billing changes as typed results, and the console's faults."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pages.bccs import BCCSPage
from pages.errors import InvalidInput, PortalUnavailable, RecordNotFound
from robots.bccs import (
    BCCSRobot,
    BillingChangeOutcome,
    BillingChangeRequest,
    DebtRequest,
    DocumentType,
    format_bolivianos,
    parse_bolivianos,
)

SCENARIO = {
    "name": "bccs-robot",
    "lines": [{"number": "71234567", "holder_name": "María Rojas", "holder_ci": "6543210"}],
    "customers": [
        {"ci": "6543210", "name": "María Rojas", "historical_debt": 1250.5,
         "debt_detail": "Factura 03/2024 línea 71234567; Factura 04/2024 línea 71234567"},
        {"ci": "7654321", "name": "Jorge Mamani"},
    ],
}
CHANGE = BillingChangeRequest(line="71234567", name="Comercial Andina S.R.L.", document_type="NIT",
                              document_number="1020304050")




@pytest.fixture
def policy(counting_console_policy):
    return counting_console_policy


@pytest.fixture
def robot(load_scenario, console_robot, policy):
    load_scenario(SCENARIO)
    return console_robot(BCCSRobot, BCCSPage, policy)


def test_money_reads_and_prints_the_bolivian_way():
    assert parse_bolivianos("Bs 1.250,50") == Decimal("1250.50")
    assert parse_bolivianos("Bs 0,00") == Decimal("0")
    assert format_bolivianos(Decimal("1234567.8")) == "Bs 1.234.567,80"
    with pytest.raises(ValueError):
        parse_bolivianos("1250.50")


def test_bad_requests_are_invalid_input_before_any_console():
    with pytest.raises(InvalidInput):
        DebtRequest(ci="65A")
    with pytest.raises(InvalidInput):
        BillingChangeRequest(line="71234567", name="X", document_type="NIT", document_number="12AB")
    with pytest.raises(InvalidInput):
        BillingChangeRequest(line="71234567", name="X", document_type="RUC", document_number="123456")
    with pytest.raises(InvalidInput):
        BillingChangeRequest(line="71234567", name="  ", document_type="CI", document_number="1234567")
    assert BillingChangeRequest(line="71234567", name="Ana", document_type="ci",
                                document_number="1234567-1a").document_number == "1234567-1A"


def test_historical_debt_is_the_amount_for_the_macro_with_its_screenshot(robot, policy):
    debt = robot.historical_debt(DebtRequest(ci="6543210"))
    assert (debt.customer_name, debt.amount, debt.has_debt) == ("María Rojas", Decimal("1250.50"), True)
    assert debt.amount_text == "Bs 1.250,50"
    assert debt.detail == ["Factura 03/2024 línea 71234567", "Factura 04/2024 línea 71234567"]
    [shot] = debt.evidence
    assert shot.step == "historical-debt" and shot.content.startswith(b"\x89PNG")
    assert "Bs 1.250,50" in shot.description and "6543210" not in shot.description
    assert policy.attempts == 1


def test_no_debt_is_zero(robot):
    debt = robot.historical_debt(DebtRequest(ci="7654321"))
    assert (debt.amount, debt.has_debt, debt.detail) == (Decimal("0.00"), False, [])
    assert debt.summary() == "BCCS: sin deuda histórica"


def test_an_unknown_customer_is_record_not_found_and_not_retried(robot, policy):
    with pytest.raises(RecordNotFound):
        robot.historical_debt(DebtRequest(ci="1111111"))
    assert policy.attempts == 1


def test_the_billing_change_reaches_the_world(robot, policy, world_state):
    change = robot.change_billing_holder(CHANGE)
    assert change.outcome is BillingChangeOutcome.CHANGED
    assert (change.name, change.document_type, change.document_number) == (
        "Comercial Andina S.R.L.", DocumentType.NIT, "1020304050")
    assert change.evidence[0].step == "billing-change"
    line = world_state()["lines"]["71234567"]
    assert (line["billing_name"], line["billing_id"]) == ("Comercial Andina S.R.L.", "1020304050")
    assert policy.attempts == 1


def test_an_unknown_line_is_an_outcome_not_retried(robot, policy, world_state):
    change = robot.change_billing_holder(CHANGE.model_copy(update={"line": "79999999"}))
    assert change.outcome is BillingChangeOutcome.LINE_NOT_FOUND
    assert change.evidence and policy.attempts == 1
    assert world_state()["records"].get("bccs", {}).get("billing_changes", []) == []


def test_an_expired_session_is_logged_into_again(robot, faults):
    robot.historical_debt(DebtRequest(ci="6543210"))
    faults("bccs", expire_sessions=True)
    assert robot.historical_debt(DebtRequest(ci="6543210")).amount == Decimal("1250.50")
    assert robot.session.logins == 2


def test_a_burst_of_500s_is_retried_to_success(robot, policy, faults, world_state):
    faults("bccs", fail_next=2)
    assert robot.change_billing_holder(CHANGE).outcome is BillingChangeOutcome.CHANGED
    assert policy.attempts == 3
    assert len(world_state()["records"]["bccs"]["billing_changes"]) == 1


def test_an_unexpected_notice_is_dismissed(robot, faults):
    faults("bccs", modal=True)
    assert robot.change_billing_holder(CHANGE).outcome is BillingChangeOutcome.CHANGED


def test_a_late_rendered_result_is_waited_for(robot, faults):
    faults("bccs", late_render_ms=200)
    assert robot.historical_debt(DebtRequest(ci="6543210")).amount == Decimal("1250.50")


def test_a_console_down_for_good_is_portal_unavailable(robot, policy, faults):
    faults("bccs", maintenance_seconds=60)
    with pytest.raises(PortalUnavailable):
        robot.historical_debt(DebtRequest(ci="6543210"))
    assert policy.attempts == 4
