"""BCCS robot: the billing console's two jobs in the process.

- PROCESS.md 7.7 b: when AR refuses for historical debt, the amount BCCS shows goes into the macro
  "Deuda Histórica Móvil", and its screenshot is the evidence.
- PROCESS.md 8.1: when the customer wants the invoices in a third party's name, the line's billing data
  is changed in BCCS after the migration.

An unknown customer is ``RecordNotFound`` (AR just said this person has debt, so BCCS not knowing them is
a data problem for a person to look at); an unknown line in the billing change is an outcome, as data.
``billing_of`` reads a line's billing data without changing it: after a crash, it tells whether a change
was made.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import Enum

from pydantic import BaseModel, Field, ValidationInfo, computed_field, field_validator

from pages.bccs import BCCSPage
from pages.errors import InvalidInput, RecordNotFound, RuleRefused, UnexpectedScreen
from pages.masking import mask_number
from robots.base import ConsoleRobot, LineRequest
from robots.evidence import Evidence
from robots.identity import normal_ci, normal_nit

_MONEY = re.compile(r"^Bs\.?\s*([\d.]+),(\d{2})$")


def parse_bolivianos(text: str) -> Decimal:
    """``Bs 1.250,50`` (BCCS's way: dot for thousands, comma for cents) -> ``Decimal("1250.50")``."""
    match = _MONEY.match(" ".join(str(text).split()))
    if not match:
        raise ValueError(f"not an amount in bolivianos: {text!r}")
    try:
        return Decimal(f"{match.group(1).replace('.', '')}.{match.group(2)}")
    except InvalidOperation as exc:
        raise ValueError(f"not an amount in bolivianos: {text!r}") from exc


def format_bolivianos(amount: Decimal) -> str:
    """``Decimal("1250.5")`` -> ``Bs 1.250,50``, as the customer reads it in the macro."""
    whole, _, cents = f"{amount.quantize(Decimal('0.01')):,.2f}".partition(".")
    return f"Bs {whole.replace(',', '.')},{cents}"


# -- historical debt (PROCESS.md 7.7 b) ------------------------------------------------------------
class DebtRequest(BaseModel):
    """Look up the historical debt of the customer with this CI."""

    ci: str

    @field_validator("ci")
    @classmethod
    def _ci(cls, value: str) -> str:
        # InvalidInput, not ValueError: a bad CI is a business error wherever the request is built.
        return normal_ci(value)


class HistoricalDebt(BaseModel):
    """What BCCS says the customer owes from before."""

    ci: str
    customer_name: str
    amount: Decimal
    detail: list[str] = Field(default_factory=list, description="the concepts of the debt, as BCCS lists them")
    evidence: list[Evidence] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_debt(self) -> bool:
        return self.amount > 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def amount_text(self) -> str:
        """The amount as the macro "Deuda Histórica Móvil" shows it to the customer."""
        return format_bolivianos(self.amount)

    def summary(self) -> str:
        if not self.has_debt:
            return "BCCS: sin deuda histórica"
        detail = "; ".join(self.detail) or "-"
        return f"BCCS: deuda histórica de {self.amount_text} (detalle: {detail})"


# -- billing data (PROCESS.md 8.1) -----------------------------------------------------------------
class DocumentType(str, Enum):
    """The document the invoices carry."""

    CI = "CI"
    NIT = "NIT"


class BillingChangeRequest(LineRequest):
    """Put the invoices of this line in the name of ``name`` with this document."""

    name: str
    document_type: DocumentType
    document_number: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        name = " ".join(str(value or "").split())
        if not name:
            raise InvalidInput("the billing name (nombre o razón social) is empty")
        if len(name) > 120:
            raise InvalidInput("the billing name (nombre o razón social) is longer than 120 characters")
        return name

    @field_validator("document_type", mode="before")
    @classmethod
    def _document_type(cls, value: object) -> object:
        text = str(getattr(value, "value", value) or "").strip().upper()
        if text not in DocumentType.__members__:
            raise InvalidInput(f"document type must be CI or NIT, got {value!r}")
        return text

    @field_validator("document_number")
    @classmethod
    def _document_number(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("document_type") == DocumentType.NIT:
            return normal_nit(value)
        return normal_ci(value)


class BillingChangeOutcome(str, Enum):
    CHANGED = "changed"
    LINE_NOT_FOUND = "line_not_found"


class BillingChange(BaseModel):
    """What happened to the line's billing data."""

    line: str
    outcome: BillingChangeOutcome
    name: str | None = None
    document_type: DocumentType | None = None
    document_number: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)

    def summary(self) -> str:
        if self.outcome is BillingChangeOutcome.LINE_NOT_FOUND:
            return f"BCCS: la línea {self.line} no está registrada; datos de facturación sin cambios"
        return (
            f"BCCS: datos de facturación de la línea {self.line} cambiados a {self.name} "
            f"({self.document_type.value if self.document_type else '-'} {self.document_number})"
        )


class BillingData(BaseModel):
    """A line's billing data as BCCS shows it now; ``None`` where BCCS shows nothing ("-")."""

    line: str
    name: str | None = None
    document_type: DocumentType | None = Field(None, description="shown only once BCCS recorded a change")
    document_number: str | None = None


class BCCSRobot(ConsoleRobot[BCCSPage]):
    """Reads historical debt and changes billing data in BCCS."""

    def historical_debt(self, request: DebtRequest) -> HistoricalDebt:
        """The customer's historical debt with a screenshot of it (PROCESS.md 7.7 b).

        Raises ``RecordNotFound`` when BCCS has no customer with that CI.
        """

        async def work(console: BCCSPage) -> tuple[dict[str, str] | None, list[dict[str, str]], str, bytes]:
            await console.search_debt(request.ci)
            fields = await console.read_debt()
            if fields is None:
                return None, [], await console.alert_text(), b""
            return fields, await console.read_debt_detail(), "", await console.screenshot()

        fields, rows, alert, shot = self._run(work)
        if fields is None:
            if "no existe" in alert.lower():
                raise RecordNotFound(f"BCCS has no customer with CI {mask_number(request.ci)}", portal=self.portal)
            raise RuleRefused(alert or "BCCS refused the debt enquiry without a message", portal=self.portal)
        try:
            amount = parse_bolivianos(fields.get("Deuda histórica total", ""))
        except ValueError as exc:
            raise UnexpectedScreen(f"cannot read the debt amount: {exc}", portal=self.portal) from exc
        debt = HistoricalDebt(
            ci=request.ci,
            customer_name=fields.get("Nombre del cliente", ""),
            amount=amount,
            detail=[row.get("Concepto", "") for row in rows if row.get("Concepto")],
        )
        debt.evidence.append(
            Evidence.capture(
                portal=self.portal,
                step="historical-debt",
                content=shot,
                description=(
                    f"Deuda histórica en BCCS del cliente con CI {mask_number(request.ci)}: "
                    f"{debt.amount_text if debt.has_debt else 'sin deuda histórica'}"
                ),
            )
        )
        return debt

    def change_billing_holder(self, request: BillingChangeRequest) -> BillingChange:
        """Change the line's billing name and document, with a screenshot of what BCCS saved (PROCESS.md 8.1).

        Saving the same data twice leaves the same data, so a retried attempt cannot do harm.
        """

        async def work(console: BCCSPage) -> tuple[dict[str, str] | None, str, bytes]:
            await console.change_billing(
                request.line, request.name, request.document_type.value, request.document_number
            )
            saved = await console.read_billing()
            alert = "" if saved else await console.alert_text()
            return saved, alert, await console.screenshot()

        saved, alert, shot = self._run(work)
        if saved is None:
            if "no está registrada" not in alert:
                raise RuleRefused(alert or "BCCS refused the billing change without a message", portal=self.portal)
            result = BillingChange(line=request.line, outcome=BillingChangeOutcome.LINE_NOT_FOUND)
            description = f"BCCS: la línea {request.line} no está registrada (cambio de facturación no realizado)"
        else:
            result = BillingChange(
                line=request.line,
                outcome=BillingChangeOutcome.CHANGED,
                name=saved.get("Nombre o razón social"),
                document_type=DocumentType(saved.get("Tipo de documento", request.document_type.value)),
                document_number=saved.get("Número de documento"),
            )
            description = (
                f"Datos de facturación de la línea {request.line} cambiados en BCCS a "
                f"{result.name} ({request.document_type.value})"
            )
        result.evidence.append(
            Evidence.capture(portal=self.portal, step="billing-change", content=shot, description=description)
        )
        return result

    def billing_of(self, request: LineRequest) -> BillingData:
        """The line's billing data as BCCS shows it now; nothing is changed.

        Raises ``RecordNotFound`` when BCCS has no such line.
        """

        async def work(console: BCCSPage) -> tuple[dict[str, str] | None, str]:
            await console.open_billing(request.line)
            shown = await console.read_billing()
            return shown, "" if shown else await console.alert_text()

        shown, alert = self._run(work)
        if shown is None:
            if "no está registrada" in alert:
                raise RecordNotFound(f"BCCS has no line {request.line}", portal=self.portal)
            raise RuleRefused(alert or "BCCS showed no billing data and no alert", portal=self.portal)
        if shown.get("Línea") != request.line:
            raise UnexpectedScreen(
                f"BCCS showed the billing data of line {shown.get('Línea')!r}, not {request.line}", portal=self.portal
            )
        document_type = _dash_none(shown.get("Tipo de documento"))
        return BillingData(
            line=request.line,
            name=_dash_none(shown.get("Nombre o razón social")),
            document_type=DocumentType(document_type) if document_type in DocumentType.__members__ else None,
            document_number=_dash_none(shown.get("Número de documento")),
        )


def _dash_none(value: str | None) -> str | None:
    return None if value in (None, "", "-") else value
