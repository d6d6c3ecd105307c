"""SyshelpRobot end to end: the government derivation registered once, bad data refused, the faults."""

from __future__ import annotations

import pytest

from pages.errors import InvalidInput, PortalUnavailable
from pages.syshelp import SyshelpPage
from robots.syshelp import DerivationRequest, SyshelpRobot

REQUEST = DerivationRequest(
    entity_name="Gobernación de La Paz", contact_name="Ana Quispe", phone="712-34567",
    email="ana.quispe@lapaz.gob.bo", description="Solicita migrar 20 líneas a pospago a nombre de la Gobernación.",
)




@pytest.fixture
def policy(counting_console_policy):
    return counting_console_policy


@pytest.fixture
def robot(load_scenario, console_robot, policy):
    load_scenario({"name": "syshelp-robot"})
    return console_robot(SyshelpRobot, SyshelpPage, policy)


def stored(world_state) -> list[dict]:
    return world_state()["records"].get("syshelp", {}).get("tickets", [])


@pytest.mark.parametrize("change", [
    {"email": "ana.quispe"}, {"email": "ana@lapaz"}, {"entity_name": " "}, {"contact_name": ""},
    {"phone": "12"}, {"phone": "7123abcd"}, {"description": ""}, {"description": "x" * 1001},
])
def test_invalid_data_is_invalid_input_before_the_console(change):
    with pytest.raises(InvalidInput):
        DerivationRequest(**{**REQUEST.model_dump(), **change})


def test_derives_to_the_government_executives(robot, policy, world_state):
    derivation = robot.derive_to_government_executive(REQUEST)
    [ticket] = stored(world_state)
    assert derivation.number == ticket["number"] and derivation.number.startswith("SH-")
    assert (derivation.tipo, derivation.subtipo) == ("Derivación B2B", "Ejecutivos Gobierno")
    assert (ticket["entity_name"], ticket["contact_name"], ticket["phone"], ticket["email"]) == (
        "Gobernación de La Paz", "Ana Quispe", "71234567", "ana.quispe@lapaz.gob.bo")
    assert not derivation.already_registered
    [shot] = derivation.evidence
    assert shot.step == "government-derivation" and shot.content.startswith(b"\x89PNG")
    assert derivation.number in shot.description
    assert policy.attempts == 1


def test_the_same_derivation_twice_is_registered_once(robot, world_state):
    first = robot.derive_to_government_executive(REQUEST)
    again = robot.derive_to_government_executive(REQUEST)
    assert again.number == first.number and again.already_registered
    assert len(stored(world_state)) == 1
    other = robot.derive_to_government_executive(REQUEST.model_copy(update={"entity_name": "Alcaldía de Sucre"}))
    assert other.number != first.number and len(stored(world_state)) == 2


def test_a_console_rule_we_do_not_check_is_invalid_input_not_retried(robot, policy, world_state):
    # A request built around our checks stands for a console rule we did not foresee: the console's own
    # messages come back as InvalidInput, and nothing is retried or registered.
    bad = REQUEST.model_construct(**{**REQUEST.model_dump(), "email": "sin-arroba"})
    with pytest.raises(InvalidInput, match="Correo no tiene un formato válido"):
        robot.derive_to_government_executive(bad)
    assert policy.attempts == 1 and stored(world_state) == []


def test_a_failure_after_registering_does_not_register_twice(robot, policy, browser_host, world_state):
    # The console registers the ticket, then fails to show it: the retry must find it, not make another.
    failed = []

    async def fail_once(route):
        if failed or route.request.method != "POST":
            await route.continue_()
            return
        await route.fetch(max_redirects=0)  # the console registers the ticket...
        failed.append(route.request.url)
        await route.fulfill(status=500, body="Error del servidor")  # ...but we never see its answer

    async def break_ticket_screen(console: SyshelpPage) -> None:
        await console.page.route("**/tickets", fail_once)

    browser_host.run(robot.session.use(break_ticket_screen))
    derivation = robot.derive_to_government_executive(REQUEST)
    assert failed and policy.attempts == 2
    assert derivation.already_registered and len(stored(world_state)) == 1


def test_an_expired_session_is_logged_into_again(robot, faults, world_state):
    robot.derive_to_government_executive(REQUEST)
    faults("syshelp", expire_sessions=True)
    robot.derive_to_government_executive(REQUEST.model_copy(update={"entity_name": "Ministerio de Salud"}))
    assert robot.session.logins == 2 and len(stored(world_state)) == 2


def test_a_burst_of_500s_is_retried_to_success(robot, policy, faults, world_state):
    faults("syshelp", fail_next=2)
    assert robot.derive_to_government_executive(REQUEST).number
    assert policy.attempts == 3 and len(stored(world_state)) == 1


def test_an_unexpected_notice_is_dismissed(robot, faults, world_state):
    faults("syshelp", modal=True)
    assert robot.derive_to_government_executive(REQUEST).number == stored(world_state)[0]["number"]


def test_a_late_rendered_ticket_is_waited_for(robot, faults, world_state):
    faults("syshelp", late_render_ms=200)
    robot.derive_to_government_executive(REQUEST)
    assert robot.derive_to_government_executive(REQUEST).already_registered
    assert len(stored(world_state)) == 1


def test_a_console_down_for_good_is_portal_unavailable(robot, policy, faults, world_state):
    faults("syshelp", maintenance_seconds=60)
    with pytest.raises(PortalUnavailable):
        robot.derive_to_government_executive(REQUEST)
    assert policy.attempts == 4 and stored(world_state) == []
