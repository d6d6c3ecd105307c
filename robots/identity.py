"""The business's identifiers, one rule each: a mobile line, a CI, a NIT and an e-mail address.

Every robot request and every flow checks identifiers with these functions, so a value one console would
refuse is refused before the first console is touched, never half-way through a migration. Each
``normal_*`` function returns the value written the way every console takes it, or raises
``InvalidInput`` with a message that names the value and what is wrong with it.

The rules, and why:

- **Mobile line**: 8 digits starting with 6 or 7 (Bolivia's mobile numbering; every line in the mock
  world and the scenarios looks like this). People write ``+591 7123-4567`` or ``(591) 71234567``: the
  country code and the spaces, dashes, dots and parentheses are dropped first.
- **CI**: 4 to 10 digits, optionally a dash and SEGIP's complement (one digit and one letter, ``-1A``),
  the form BCCS's console takes. Dots and spaces are dropped and so is the issuing department (``LP``),
  which is not part of the identity. A foreign resident's CI (``E-1234567``) is refused: Qvantel would
  take it, but BCCS's debt enquiry and billing change cannot, so such a ticket needs a person from the
  start. A complement that is not a digit and a letter is refused too: BCCS would take ``-1``, but
  Qvantel's holder check could not tell it from another person's CI.
- **NIT**: 6 to 13 digits, nothing else (spaces are dropped). A person's NIT is the CI (up to 10 digits)
  followed by 3 more, a company's has 7 to 10; both consoles that take a NIT (the tax registry and BCCS)
  accept 5 to 15, and 6 to 13 is also what the process reads as a NIT in a customer's WhatsApp message.
- **E-mail**: ``name@domain.tld`` with letters, digits and ``. _ % + -`` before the ``@``, dot-separated
  labels of letters, digits and dashes after it, and a top-level domain of two letters or more: a subset
  of what Syshelp's form accepts, and AR accepts anything.
"""

from __future__ import annotations

import re

from pages.errors import InvalidInput
from pages.masking import mask_number
from robots.zendesk import FIELD_TITLES

# -- mobile line ------------------------------------------------------------------------------
COUNTRY_CODE = "591"
_LINE_SEPARATORS = re.compile(r"[\s\-.()]")
_DIGITS = re.compile(r"\d+", re.ASCII)


def normal_line(value: str) -> str:
    """The line's 8 digits: ``"+591 7123-4567"`` -> ``"71234567"``."""
    text = _LINE_SEPARATORS.sub("", str(value or ""))
    if not text:
        raise InvalidInput("the mobile line number is empty")
    if text.startswith("+"):
        if not text.startswith("+" + COUNTRY_CODE):
            raise InvalidInput(f"{value!r} is not a Bolivian mobile line: its country code is not +{COUNTRY_CODE}")
        text = text[1 + len(COUNTRY_CODE) :]
    elif text.startswith(COUNTRY_CODE) and len(text) == 8 + len(COUNTRY_CODE):
        text = text[len(COUNTRY_CODE) :]
    if not _DIGITS.fullmatch(text):
        raise InvalidInput(f"{value!r} is not a mobile line number: it has characters other than digits")
    if len(text) != 8:
        raise InvalidInput(f"{value!r} is not a mobile line number: it has {len(text)} digits, a line has 8")
    if text[0] not in "67":
        raise InvalidInput(
            f"{value!r} is not a mobile line number: it starts with {text[0]}, a mobile line starts with 6 or 7"
        )
    return text


# -- CI (cédula de identidad) -----------------------------------------------------------------
DEPARTMENTS = ("LP", "CB", "SC", "OR", "PT", "TJ", "CH", "BE", "PD")
# Read leniently (a foreign resident's "E-" and any complement included) so that the refusal can say
# exactly what is wrong, and so that two CIs can be compared however people wrote them. The complement
# is tried last, so that "6543210-LP" reads as a department rather than as a complement "LP".
_CI = re.compile(
    r"^(?P<foreign>E-?)?(?P<number>\d+)(?:-(?P<complement>[0-9A-Z]{1,2}?))??"
    rf"(?:-?(?P<department>{'|'.join(DEPARTMENTS)}))?$",
    re.ASCII,
)
_COMPLEMENT = re.compile(r"^[0-9][A-Z]$")
# A complement written after a space ("6543210 1A") would otherwise glue onto the number.
_SPACED_COMPLEMENT = re.compile(r"\s+(?=[0-9][A-Z]\b)")


def _squeeze(value: str) -> str:
    return re.sub(r"[\s.]", "", str(value or "")).upper()


def _ci_reading(value: str) -> re.Match[str] | None:
    return _CI.match(_squeeze(_SPACED_COMPLEMENT.sub("-", str(value or "").strip().upper())))


def normal_ci(value: str) -> str:
    """The CI as every console takes it: ``"6.543.210 1a LP"`` -> ``"6543210-1A"``.

    Messages mask the number: a CI is personal data and refusals reach logs and ticket notes.
    """
    shown = repr(mask_number(value))
    if not _squeeze(value):
        raise InvalidInput("the CI number is empty")
    reading = _ci_reading(value)
    if reading is None:
        raise InvalidInput(
            f"{shown} is not a CI number: digits, optionally '-' and a complement of a digit and a letter (1234567-1A)"
        )
    if reading["foreign"]:
        raise InvalidInput(f"{shown} is a foreign resident's CI (E-...), which BCCS does not take")
    number, complement = reading["number"], reading["complement"]
    if not 4 <= len(number) <= 10:
        raise InvalidInput(f"{shown} is not a CI number: it has {len(number)} digits, a CI has 4 to 10")
    if complement and not _COMPLEMENT.match(complement):
        raise InvalidInput(
            f"{shown} is not a CI number: its complement {complement!r} is not a digit and a letter (1A)"
        )
    return f"{number}-{complement}" if complement else number


def same_ci(one: str, other: str) -> bool:
    """Whether two CIs as people write them name the same person.

    Spaces, dots and the issuing department never count. The complement is ignored when only one side
    has it, because customers and the WhatsApp bot usually leave it out; when both sides have one they
    must agree, since the complement is exactly what tells apart two people with the same number.
    Text that does not read as a CI is compared as it is, once spaces and dots are gone.
    """
    mine, theirs = _ci_reading(one), _ci_reading(other)
    if mine is None or theirs is None:
        return bool(_squeeze(one)) and _squeeze(one) == _squeeze(other)
    if (bool(mine["foreign"]), mine["number"]) != (bool(theirs["foreign"]), theirs["number"]):
        return False
    return not mine["complement"] or not theirs["complement"] or mine["complement"] == theirs["complement"]


# -- NIT (número de identificación tributaria) ------------------------------------------------
NIT_DIGITS = (6, 13)


def normal_nit(value: str) -> str:
    """The NIT's digits: ``" 1020304050 "`` -> ``"1020304050"``."""
    text = re.sub(r"\s", "", str(value or ""))
    if not text:
        raise InvalidInput("the NIT is empty")
    if not _DIGITS.fullmatch(text):
        raise InvalidInput(f"{value!r} is not a NIT: it has characters other than digits")
    low, high = NIT_DIGITS
    if not low <= len(text) <= high:
        raise InvalidInput(f"{value!r} is not a NIT: it has {len(text)} digits, a NIT has {low} to {high}")
    return text


# -- e-mail -------------------------------------------------------------------------------------
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$")


def normal_email(value: str) -> str:
    """The address without surrounding spaces: ``" ana@gob.bo "`` -> ``"ana@gob.bo"``."""
    text = str(value or "").strip()
    if not text:
        raise InvalidInput("the e-mail address is empty")
    if not _EMAIL.match(text):
        raise InvalidInput(f"{value!r} is not an e-mail address (like nombre@dominio.bo)")
    return text


# -- a ticket's identifiers ---------------------------------------------------------------------
def ticket_identifiers_problem(
    line: str | None, holder_ci: str | None, billing_nit: str | None, *, line_required: bool = True
) -> str | None:
    """What is wrong with a ticket's identifiers, naming each field as the ticket shows it; None if nothing.

    A flow or a step calls it at its start, so a bad identifier stops it before any console is touched.
    The line is required; the holder's CI and the billing NIT are checked when the ticket has them (the
    customer may give them later in the conversation, and the NIT only matters for third-party billing).
    A flow may start before the line is known (``line_required=False``): it asks for it on the way.
    """
    checks = (
        ("line", line, normal_line, line_required),
        ("holder_ci", holder_ci, normal_ci, False),
        ("billing_nit", billing_nit, normal_nit, False),
    )
    problems = []
    for field, value, rule, required in checks:
        if not str(value or "").strip():
            if required:
                problems.append(f"field '{FIELD_TITLES[field]}' is empty")
            continue
        try:
            rule(str(value))
        except InvalidInput as exc:
            problems.append(f"field '{FIELD_TITLES[field]}': {exc.message}")
    return "; ".join(problems) or None
