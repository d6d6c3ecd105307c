"""Syshelp robot: derive a government customer to the government executives (PROCESS.md 1 b).

The process wants a Syshelp ticket of Tipo "Derivación B2B", Subtipo "Ejecutivos Gobierno", carrying the
entity, the contact, a phone, an e-mail and a description; an executive then calls the customer within
24 to 48 hours. The data is checked here before the console is touched, so a bad request changes nothing.

Registering is not idempotent in Syshelp, and a step may run again (a retry after the console failed
while answering, or the agent repeating the step): before registering, the robot looks in "Mis tickets"
for the same derivation (same type, subtype, entity and e-mail) and reuses it instead of making a second.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from pages.errors import InvalidInput, UnexpectedScreen
from pages.syshelp import SyshelpPage
from robots.base import ConsoleRobot
from robots.evidence import Evidence
from robots.identity import normal_email

DERIVATION_TYPE = "Derivación B2B"
GOVERNMENT_EXECUTIVES = "Ejecutivos Gobierno"
PHONE = re.compile(r"^\+?\d{7,11}$")
DESCRIPTION_MAX = 1000
#: A derivation in one of these states is finished: a new request deserves a new ticket.
CLOSED_STATES = ("Cerrado", "Atendido", "Anulado")


def _required(value: str, what: str) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise InvalidInput(f"the derivation needs {what}")
    return text


class DerivationRequest(BaseModel):
    """What the government executives need to call the customer back.

    Every check raises ``InvalidInput`` (not ``ValueError``), so a bad request is a business error
    wherever it is built.
    """

    entity_name: str
    contact_name: str
    phone: str
    email: str
    description: str

    @field_validator("entity_name")
    @classmethod
    def _entity(cls, value: str) -> str:
        return _required(value, "the entity's name (Nombre de la Entidad)")

    @field_validator("contact_name")
    @classmethod
    def _contact(cls, value: str) -> str:
        return _required(value, "the contact's name (Nombre del contacto)")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        phone = re.sub(r"[\s-]", "", _required(value, "a phone number (Nro de teléfono)"))
        if not PHONE.match(phone):
            raise InvalidInput(f"{value!r} is not a phone number (7 to 11 digits, optionally with '+')")
        return phone

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normal_email(_required(value, "an e-mail (Correo)"))

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        text = str(value or "").strip()
        if not text:
            raise InvalidInput("the derivation needs a description of the request (Descripción)")
        if len(text) > DESCRIPTION_MAX:
            raise InvalidInput(f"the description is longer than {DESCRIPTION_MAX} characters")
        return text


class Derivation(BaseModel):
    """The Syshelp ticket that carries the derivation."""

    number: str
    tipo: str = DERIVATION_TYPE
    subtipo: str = GOVERNMENT_EXECUTIVES
    entity_name: str
    status: str = ""
    already_registered: bool = Field(False, description="found in Mis tickets instead of registered now")
    evidence: list[Evidence] = Field(default_factory=list)

    def summary(self) -> str:
        how = "ya registrado" if self.already_registered else "registrado"
        return f"Syshelp: ticket {self.number} {how} ({self.tipo} / {self.subtipo}) para la entidad {self.entity_name}"


class SyshelpRobot(ConsoleRobot[SyshelpPage]):
    """Registers derivations in Syshelp."""

    def derive_to_government_executive(self, request: DerivationRequest) -> Derivation:
        """Register (or find) the "Derivación B2B / Ejecutivos Gobierno" ticket, with its screenshot."""

        async def work(console: SyshelpPage) -> tuple[dict[str, str] | None, str, bool, bytes]:
            existing = _same_derivation(await console.my_tickets(), request)
            if existing:
                await console.open_ticket(existing)
            else:
                await console.start_ticket(DERIVATION_TYPE)
                await console.fill_ticket(
                    GOVERNMENT_EXECUTIVES,
                    request.entity_name,
                    request.contact_name,
                    request.phone,
                    request.email,
                    request.description,
                )
                await console.register()
            ticket = await console.read_ticket()
            if ticket is None:
                return None, await console.alert_text(), False, b""
            return ticket, "", bool(existing), await console.screenshot()

        ticket, alert, reused, shot = self._run(work)
        if ticket is None:
            # The request was checked already: the console's rules differ from ours, say it in its words.
            raise InvalidInput(f"Syshelp rejected the derivation: {alert}", portal=self.portal)
        number = ticket.get("Número", "")
        if not number:
            raise UnexpectedScreen("the ticket screen shows no number", portal=self.portal)
        derivation = Derivation(
            number=number,
            tipo=ticket.get("Tipo", DERIVATION_TYPE),
            subtipo=ticket.get("Subtipo", GOVERNMENT_EXECUTIVES),
            entity_name=ticket.get("Nombre de la Entidad", request.entity_name),
            status=ticket.get("Estado", ""),
            already_registered=reused,
        )
        derivation.evidence.append(
            Evidence.capture(
                portal=self.portal,
                step="government-derivation",
                content=shot,
                description=(
                    f"Ticket Syshelp {number} ({derivation.tipo} / {derivation.subtipo}) "
                    f"que deriva a {request.entity_name} a un ejecutivo de Gobierno"
                ),
            )
        )
        return derivation


def _same_derivation(rows: list[dict[str, str]], request: DerivationRequest) -> str | None:
    """The number of a ticket in Mis tickets that is this very derivation, if any."""
    for row in rows:
        if (
            row.get("Estado") not in CLOSED_STATES
            and row.get("Tipo") == DERIVATION_TYPE
            and row.get("Subtipo") == GOVERNMENT_EXECUTIVES
            and row.get("Entidad", "").casefold() == request.entity_name.casefold()
            and row.get("Correo", "").casefold() == request.email.casefold()
        ):
            return row.get("Número") or None
    return None
