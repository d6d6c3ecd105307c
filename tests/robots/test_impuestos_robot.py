"""TaxRegistryRobot end to end, and the rule of which billing names need the NIT check (PROCESS.md 1)."""

from __future__ import annotations

import pytest

from pages.errors import InvalidInput, PortalUnavailable
from pages.impuestos import TaxRegistryPage
from robots.impuestos import NitRequest, TaxpayerKind, TaxRegistryRobot, billing_needs_government_check

SCENARIO = {
    "name": "impuestos-robot",
    "taxpayers": [
        {"nit": "1001234020", "name": "Gobierno Autónomo Departamental de La Paz", "kind": "government"},
        {"nit": "2002345021", "name": "Comercial Andina S.R.L.", "kind": "commercial"},
        {"nit": "4004567023", "name": "Juan Pérez Flores", "kind": "other"},
    ],
}




@pytest.fixture
def policy(counting_console_policy):
    return counting_console_policy


@pytest.fixture
def robot(load_scenario, console_robot, policy):
    load_scenario(SCENARIO)
    return console_robot(TaxRegistryRobot, TaxRegistryPage, policy)


@pytest.mark.parametrize(("name", "needed"), [
    ("Gobernación del Departamento de La Paz", True),
    ("Gobierno Autónomo Municipal de El Alto", True),
    ("ALCALDIA DE SUCRE", True),
    ("Ministerio de Salud y Deportes", True),
    ("compras@sedes.gob.bo", True),
    ("Empresa Estatal de Transporte S.A.", True),   # public wins over the company suffix
    ("Fundación Vida Plena", True),                 # an institution that is not a company
    ("Comercial Andina S.R.L.", False),
    ("Importadora del Sur S. A.", False),
    ("Transportes Illimani LTDA.", False),
    ("Tiendas Unidas SRL", False),
    ("", False),
])
def test_which_billing_names_need_the_government_check(name, needed):
    assert billing_needs_government_check(name) is needed


@pytest.mark.parametrize("nit", ["12AB345", "", "1001-234", "123"])
def test_a_nit_that_is_not_digits_is_invalid_input(nit):
    with pytest.raises(InvalidInput):
        NitRequest(nit=nit)


def test_a_government_nit_is_government_with_its_screenshot(robot, policy):
    lookup = robot.lookup_nit(NitRequest(nit="1001234020"))
    assert (lookup.found, lookup.kind, lookup.is_government) == (True, TaxpayerKind.GOVERNMENT, True)
    assert (lookup.name, lookup.status) == ("Gobierno Autónomo Departamental de La Paz", "ACTIVO HABILITADO")
    assert lookup.model_dump()["is_government"] is True
    [shot] = lookup.evidence
    assert shot.step == "nit-lookup" and shot.content.startswith(b"\x89PNG")
    assert policy.attempts == 1


@pytest.mark.parametrize(("nit", "kind", "label"), [
    ("2002345021", TaxpayerKind.COMMERCIAL, "EMPRESA COMERCIAL (S.R.L.)"),
    ("4004567023", TaxpayerKind.OTHER, "PERSONA NATURAL"),
])
def test_other_taxpayers_are_not_government(robot, nit, kind, label):
    lookup = robot.lookup_nit(NitRequest(nit=nit))
    assert (lookup.found, lookup.kind, lookup.kind_label, lookup.is_government) == (True, kind, label, False)


def test_nit_inexistente_is_an_answer_not_retried(robot, policy):
    lookup = robot.lookup_nit(NitRequest(nit="9999999"))
    assert (lookup.found, lookup.is_government, lookup.name) == (False, False, None)
    assert lookup.evidence and policy.attempts == 1


def test_an_expired_session_is_logged_into_again(robot, faults):
    robot.lookup_nit(NitRequest(nit="1001234020"))
    faults("impuestos", expire_sessions=True)
    assert robot.lookup_nit(NitRequest(nit="1001234020")).is_government
    assert robot.session.logins == 2


def test_a_burst_of_500s_is_retried_to_success(robot, policy, faults):
    faults("impuestos", fail_next=2)
    assert robot.lookup_nit(NitRequest(nit="1001234020")).is_government
    assert policy.attempts == 3


def test_an_unexpected_notice_is_dismissed(robot, faults):
    faults("impuestos", modal=True)
    assert robot.lookup_nit(NitRequest(nit="2002345021")).kind is TaxpayerKind.COMMERCIAL


def test_a_late_rendered_answer_is_waited_for(robot, faults):
    faults("impuestos", late_render_ms=200)
    assert robot.lookup_nit(NitRequest(nit="1001234020")).is_government
    assert not robot.lookup_nit(NitRequest(nit="9999999")).found


def test_a_registry_down_for_good_is_portal_unavailable(robot, policy, faults):
    faults("impuestos", maintenance_seconds=60)
    with pytest.raises(PortalUnavailable):
        robot.lookup_nit(NitRequest(nit="1001234020"))
    assert policy.attempts == 4
