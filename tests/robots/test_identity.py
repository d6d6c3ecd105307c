"""One rule per business identifier (line, CI, NIT, e-mail), and every robot request keeping to it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pages.errors import InvalidInput
from robots.ar import MigrationRequest, TokenRequest
from robots.base import LineRequest, valid_line
from robots.bccs import BillingChangeRequest, DebtRequest
from robots.contrato import Backup, BackupKind, ContractRequest
from robots.identity import (
    normal_ci,
    normal_email,
    normal_line,
    normal_nit,
    same_ci,
    ticket_identifiers_problem,
)
from robots.impuestos import NitRequest
from robots.planificate import PreanalysisRequest
from robots.qvantel import ConfirmLineRequest, LineStatusRequest
from robots.syshelp import DerivationRequest


def refusal(rule: Callable[[str], str], value: str) -> str:
    with pytest.raises(InvalidInput) as raised:
        rule(value)
    return raised.value.message


# -- mobile line ------------------------------------------------------------------------------
@pytest.mark.parametrize("written", [
    "+591 7123-4567", "+591 7123 4567", "+59171234567", "591 71234567", "(591) 7123.4567",
    "7123 4567", "7123-4567", " 71234567 ",
])
def test_a_line_is_its_eight_digits_however_it_is_written(written):
    assert normal_line(written) == "71234567"


@pytest.mark.parametrize(("written", "why"), [
    ("7123456", "it has 7 digits, a line has 8"),
    ("+591 7123 45678", "it has 9 digits, a line has 8"),
    ("81234567", "it starts with 8, a mobile line starts with 6 or 7"),
    ("7123abc4", "characters other than digits"),
    ("+54 9 11 2345 6789", "country code is not +591"),
])
def test_a_refused_line_names_the_value_and_what_is_wrong(written, why):
    message = refusal(normal_line, written)
    assert repr(written) in message and why in message


def test_an_empty_line_says_so():
    assert "empty" in refusal(normal_line, "  ")


def test_every_line_request_normalises_and_refuses_alike():
    for request_type in (LineRequest, LineStatusRequest, PreanalysisRequest, TokenRequest):
        assert request_type(line="+591 7123-4567").line == "71234567"
        with pytest.raises(ValueError, match="not a mobile line number: it has 7 digits"):
            request_type(line="7123456")
    assert valid_line is normal_line  # the name flows know it by


# -- CI -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("written", "normal"), [
    ("6543210", "6543210"),
    ("6.543.210", "6543210"),
    ("6543210 LP", "6543210"),
    ("6543210-LP", "6543210"),
    ("6543210-1a", "6543210-1A"),
    ("6543210 1A", "6543210-1A"),
    ("6543210-1A LP", "6543210-1A"),
])
def test_a_ci_is_number_and_complement_without_dots_spaces_or_department(written, normal):
    assert normal_ci(written) == normal


@pytest.mark.parametrize(("written", "why"), [
    ("E-1234567", "foreign resident's CI (E-...), which BCCS does not take"),
    ("1234567-1", "its complement '1' is not a digit and a letter"),
    ("1234567-AB", "its complement 'AB' is not a digit and a letter"),
    ("123", "it has 3 digits, a CI has 4 to 10"),
    ("12345678901", "it has 11 digits, a CI has 4 to 10"),
    ("65A", "not a CI number"),
    ("", "empty"),
])
def test_a_refused_ci_says_what_is_wrong_without_showing_the_number(written, why):
    message = refusal(normal_ci, written)
    assert why in message
    assert len(written) <= 3 or written not in message


#: Every request that carries a CI to a console, built with the CI ``ci``.
CI_REQUESTS: dict[str, Callable[[str], str]] = {
    "Qvantel confirmation": lambda ci: ConfirmLineRequest(line="71234567", holder_ci=ci, acmo="A1").holder_ci,
    "BCCS debt": lambda ci: DebtRequest(ci=ci).ci,
    "BCCS billing": lambda ci: BillingChangeRequest(line="71234567", name="Ana", document_type="CI",
                                                    document_number=ci).document_number,
    "Contrato Digital": lambda ci: ContractRequest(
        line="71234567", holder_name="Ana", holder_ci=ci, plan="Mega Plan 69", city="La Paz",
        backups=[Backup(kind=BackupKind.SELFIE, file_name="selfie.png", content=b"png")]).holder_ci,
}


@pytest.mark.parametrize("console", CI_REQUESTS)
@pytest.mark.parametrize("written", [
    "E-1234567",      # passed Qvantel, failed BCCS half-way through a flow
    "1234567-1",      # passed BCCS, failed Qvantel
    "6543210-AB",     # passed BCCS, failed Qvantel
])
def test_a_ci_one_console_refused_is_refused_by_every_request(console, written):
    with pytest.raises(InvalidInput) as raised:
        CI_REQUESTS[console](written)
    assert raised.value.message == refusal(normal_ci, written)


@pytest.mark.parametrize("console", CI_REQUESTS)
@pytest.mark.parametrize("written", ["6.543.210 LP", "6543210 1a", "6543210"])
def test_a_ci_one_console_took_is_taken_by_every_request_in_the_same_form(console, written):
    assert CI_REQUESTS[console](written) == normal_ci(written)


def test_the_holder_check_tells_a_foreign_residents_ci_from_a_bolivians():
    assert same_ci("E-1234567", "e-1234567")
    assert not same_ci("E-1234567", "1234567")


# -- NIT ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("written", ["102030", "1020304050", "1234567019", "1234567890019", " 1020304050 "])
def test_a_nit_is_six_to_thirteen_digits(written):
    assert normal_nit(written) == written.strip()


@pytest.mark.parametrize(("written", "why"), [
    ("12345", "it has 5 digits, a NIT has 6 to 13"),
    ("12345678901234", "it has 14 digits, a NIT has 6 to 13"),
    ("1001-234", "characters other than digits"),
    ("12AB345", "characters other than digits"),
])
def test_a_refused_nit_names_the_value_and_what_is_wrong(written, why):
    message = refusal(normal_nit, written)
    assert repr(written) in message and why in message


@pytest.mark.parametrize("written", ["12345", "102030", "1020304050", "12345678901234", "1001-234"])
def test_the_tax_registry_and_bccs_take_the_same_nits(written):
    def billing(nit: str) -> str:
        return BillingChangeRequest(line="71234567", name="Comercial Andina S.R.L.", document_type="NIT",
                                    document_number=nit).document_number

    answers = []
    for build in (lambda nit: NitRequest(nit=nit).nit, billing, normal_nit):
        try:
            answers.append(build(written))
        except InvalidInput as exc:
            answers.append(exc.message)
    assert answers[0] == answers[1] == answers[2]


# -- e-mail -------------------------------------------------------------------------------------
@pytest.mark.parametrize("written", ["ana.quispe@lapaz.gob.bo", "ana+pospago@example.com", " a_b@mail-1.co "])
def test_an_e_mail_is_kept_without_surrounding_spaces(written):
    assert normal_email(written) == written.strip()


@pytest.mark.parametrize("written", ["ana.quispe", "ana@lapaz", "ana quispe@lapaz.bo", "ana@@lapaz.bo",
                                     "ana@-lapaz.bo", "ana@lapaz.b0"])
def test_a_refused_e_mail_names_the_value(written):
    assert repr(written) in refusal(normal_email, written)


@pytest.mark.parametrize("written", ["ana.quispe@lapaz.gob.bo", "ana@lapaz", "ana@lapaz.b0", "a b@c.bo"])
def test_syshelp_and_ar_take_the_same_e_mails(written):
    def syshelp(email: str) -> str:
        return DerivationRequest(entity_name="Gobernación", contact_name="Ana", phone="71234567", email=email,
                                 description="x").email

    def ar(email: str) -> str | None:
        return MigrationRequest(line="71234567", token="ABC123", plan="Mega Plan 69", city="La Paz",
                                billing_address="x", email=email).email

    try:
        expected = normal_email(written)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            syshelp(written)
        with pytest.raises(ValueError, match="not an e-mail address"):
            ar(written)
    else:
        assert syshelp(written) == ar(written) == expected


# -- a ticket's identifiers ---------------------------------------------------------------------
def test_a_good_ticket_has_no_problem():
    assert ticket_identifiers_problem("+591 7123 4567", "6.543.210 LP", "1020304050") is None
    assert ticket_identifiers_problem("71234567", None, None) is None  # CI and NIT may come later


@pytest.mark.parametrize(("line", "ci", "nit", "field"), [
    ("7123456", "6543210", None, "field 'Línea a migrar': '7123456' is not a mobile line number"),
    ("", "6543210", None, "field 'Línea a migrar' is empty"),
    ("71234567", "E-1234567", None, "field 'CI del titular': '******567' is a foreign resident's CI"),
    ("71234567", "6543210", "12AB", "field 'NIT de facturación': '12AB' is not a NIT"),
])
def test_a_bad_ticket_is_refused_naming_the_field(line, ci, nit, field):
    assert field in ticket_identifiers_problem(line, ci, nit)


def test_every_problem_of_a_ticket_is_told_at_once():
    problem = ticket_identifiers_problem("8123", "E-1234567", "12")
    assert problem.count("field '") == 3
    assert all(name in problem for name in ("Línea a migrar", "CI del titular", "NIT de facturación"))
