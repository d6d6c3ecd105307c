"""Qvantel robot: the CRM/BSS console's part in the process.

- PROCESS.md 3.1-3.2: is the line confirmed (registered to its holder), was its SIM recovered in the
  last 24 hours; the screenshot of the line's state is the evidence for the offer's internal note.
- PROCESS.md 4.2: is the person on WhatsApp the line's holder (``LineStatus.is_holder``).
- PROCESS.md 5: confirm a pending line's registration in Televentas Digital with the holder's CI and
  the ACMO; the screenshot of the confirmed line is the evidence (5.1).

Everything the console can answer is data: an unknown line, an already confirmed line, a CI that is not
the holder's. None of it is retried. CI numbers are personal data: they reach logs and notes masked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum

from loguru import logger
from pydantic import BaseModel, Field, field_validator

from pages.errors import InvalidInput, RuleRefused, UnexpectedScreen
from pages.masking import mask_number
from pages.qvantel import QvantelPage
from robots.base import ConsoleRobot, LineRequest
from robots.evidence import Evidence, utc_now
from robots.identity import normal_ci, same_ci
from robots.retry import RetryPolicy
from robots.sessions import PortalSession

#: Bolivia keeps UTC-4 all year; Qvantel prints local time without a zone.
LA_PAZ = timezone(timedelta(hours=-4))
CONSOLE_TIME = "%d/%m/%Y %H:%M"
SIM_RECOVERY_WINDOW = timedelta(hours=24)

# The console's words (Spanish, as it prints them).
CONFIRMED = "Confirmada"
PENDING = "Pendiente de confirmación"
NO_RECOVERY = "Sin registro"
NOT_HOLDER_ALERT = "no corresponde al titular"
NOT_FOUND_ALERT = "no existe"
ALREADY_CONFIRMED_STATUS = "ya se encuentra confirmada"

_ACMO = re.compile(r"^[A-Z0-9][A-Z0-9._-]{1,29}$")


class PlanType(str, Enum):
    PREPAID = "Prepago"
    POSTPAID = "Pospago"


# -- line state (PROCESS.md 3.1-3.2, 4.2) -----------------------------------------------------------
class LineStatusRequest(LineRequest):
    """Read the state of this line in Qvantel."""


class LineStatus(BaseModel):
    """What Qvantel's sheet says about a line."""

    line: str
    exists: bool
    confirmed: bool = False
    last_sim_recovery: datetime | None = Field(None, description="La Paz time, to the minute, as the console shows")
    sim_recovered_last_24h: bool = Field(False, description="against the robot's clock when the sheet was read")
    holder_name: str | None = None
    holder_ci: str | None = Field(None, repr=False)
    plan_type: PlanType | None = None
    plan: str | None = None
    acmo: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)

    def is_holder(self, ci: str) -> bool:
        """Whether ``ci`` is the line holder's CI (PROCESS.md 4.2); see ``same_ci`` for what is ignored."""
        return self.exists and self.holder_ci is not None and same_ci(ci, self.holder_ci)

    def summary(self) -> str:
        if not self.exists:
            return f"Qvantel: la línea {self.line} no existe"
        state = CONFIRMED if self.confirmed else PENDING
        recovery = (
            "con recuperación de SIM en las últimas 24 h"
            if self.sim_recovered_last_24h
            else "sin recuperación de SIM en las últimas 24 h"
        )
        when = f" (última: {self.last_sim_recovery:{CONSOLE_TIME}})" if self.last_sim_recovery else ""
        plan_type = self.plan_type.value if self.plan_type else "-"
        return (
            f"Qvantel: línea {self.line} {state.lower()}, {recovery}{when}; titular {self.holder_name} "
            f"(CI {mask_number(self.holder_ci)}); plan {self.plan} ({plan_type})"
        )


# -- confirmation (PROCESS.md 5) ----------------------------------------------------------------------
class ConfirmLineRequest(LineRequest):
    """Confirm this line's registration to the holder with this CI, registering this ACMO."""

    holder_ci: str = Field(repr=False)
    acmo: str

    @field_validator("holder_ci")
    @classmethod
    def _holder_ci(cls, value: str) -> str:
        # InvalidInput, not ValueError: a bad CI is a business error wherever the request is built.
        return normal_ci(value)

    @field_validator("acmo")
    @classmethod
    def _acmo(cls, value: str) -> str:
        code = str(value or "").strip().upper()
        if not code:
            raise InvalidInput("the ACMO (agent / operation code) is empty")
        if not _ACMO.match(code):
            raise InvalidInput(f"ACMO {value!r} may only have letters, digits, dots and dashes (2 to 30)")
        return code


class ConfirmationOutcome(str, Enum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    NOT_HOLDER = "not_holder"  # -> "Cliente no es titular"
    LINE_NOT_FOUND = "line_not_found"


class LineConfirmation(BaseModel):
    """What Qvantel did with the confirmation."""

    line: str
    outcome: ConfirmationOutcome
    acmo: str | None = Field(None, description="the ACMO the line carries afterwards")
    message: str = Field("", description="what the console said, in its words")
    evidence: list[Evidence] = Field(default_factory=list)

    def summary(self) -> str:
        return {
            ConfirmationOutcome.CONFIRMED: f"Qvantel: registro de la línea {self.line} confirmado (ACMO {self.acmo})",
            ConfirmationOutcome.ALREADY_CONFIRMED: f"Qvantel: la línea {self.line} ya estaba confirmada (ACMO {self.acmo or '-'})",
            ConfirmationOutcome.NOT_HOLDER: f"Qvantel: el CI no corresponde al titular de la línea {self.line}; registro no confirmado",
            ConfirmationOutcome.LINE_NOT_FOUND: f"Qvantel: la línea {self.line} no existe",
        }[self.outcome]


@dataclass
class _Attempt:
    """What one pass over the console saw, before it is read as business data."""

    before: dict[str, str] | None
    after: dict[str, str] | None = None
    alert: str = ""
    status: str = ""
    shot: bytes = b""


class QvantelRobot(ConsoleRobot[QvantelPage]):
    """Reads line states and confirms line registrations in Qvantel."""

    def __init__(
        self, session: PortalSession[QvantelPage], policy: RetryPolicy, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        super().__init__(session, policy)
        #: "Now" for the 24-hour SIM-recovery window; tests inject a fixed one.
        self.clock = clock

    def line_status(self, request: LineStatusRequest) -> LineStatus:
        """The line's state with a screenshot of it, whatever it shows (PROCESS.md 3.2)."""

        async def work(console: QvantelPage) -> tuple[dict[str, str] | None, bytes]:
            await console.open_line(request.line)
            fields = await console.read_line()
            return fields, await console.screenshot()

        fields, shot = self._run(work)
        status = self._status(request.line, fields)
        if status.exists:
            description = (
                f"Estado de la línea {request.line} en Qvantel: "
                f"{CONFIRMED if status.confirmed else PENDING}, "
                f"{'con' if status.sim_recovered_last_24h else 'sin'} recuperación de SIM en las últimas 24 h"
            )
        else:
            description = f"Qvantel: la línea {request.line} no existe"
        status.evidence.append(
            Evidence.capture(portal=self.portal, step="line-status", content=shot, description=description)
        )
        logger.info(
            "qvantel: line {} exists={} confirmed={} sim_recovered_24h={} holder CI {}",
            request.line,
            status.exists,
            status.confirmed,
            status.sim_recovered_last_24h,
            mask_number(status.holder_ci),
        )
        return status

    def confirm_line(self, request: ConfirmLineRequest) -> LineConfirmation:
        """Confirm a pending line's registration and register the ACMO (PROCESS.md 5), with a screenshot
        of the confirmed line (5.1) when it is confirmed, whether now or before.

        A line that is already confirmed is left alone. If an attempt confirmed the line but failed
        before reading the result, the retry finds it confirmed and reports ``ALREADY_CONFIRMED``; the
        evidence is the same confirmed line either way.
        """

        async def work(console: QvantelPage) -> _Attempt:
            await console.open_line(request.line)
            before = await console.read_line()
            if before is None or before.get("Estado de registro") == CONFIRMED:
                return _Attempt(before=before, shot=await console.screenshot() if before else b"")
            await console.confirm_registration(request.holder_ci, request.acmo)
            alert = await console.alert_text()
            if alert:
                return _Attempt(before=before, alert=alert)
            status = await console.status_text()
            after = await console.read_line()
            return _Attempt(before=before, after=after, status=status, shot=await console.screenshot())

        attempt = self._run(work)
        masked = mask_number(request.holder_ci)
        if attempt.before is None or NOT_FOUND_ALERT in attempt.alert.lower():
            logger.info("qvantel: line {} not found; nothing confirmed", request.line)
            return LineConfirmation(
                line=request.line, outcome=ConfirmationOutcome.LINE_NOT_FOUND, message=attempt.alert
            )
        if NOT_HOLDER_ALERT in attempt.alert.lower():
            logger.info("qvantel: CI {} is not the holder of line {}; nothing confirmed", masked, request.line)
            return LineConfirmation(
                line=request.line,
                outcome=ConfirmationOutcome.NOT_HOLDER,
                acmo=_dash_none(attempt.before.get("ACMO")),
                message=attempt.alert,
            )
        if attempt.alert:
            raise RuleRefused(f"Qvantel refused the confirmation: {attempt.alert}", portal=self.portal)

        sheet = attempt.after if attempt.after is not None else attempt.before
        if sheet.get("Estado de registro") != CONFIRMED:
            raise UnexpectedScreen(
                f"after confirming, line {request.line} still reads {sheet.get('Estado de registro')!r}",
                portal=self.portal,
            )
        done_now = attempt.after is not None and ALREADY_CONFIRMED_STATUS not in attempt.status.lower()
        outcome = ConfirmationOutcome.CONFIRMED if done_now else ConfirmationOutcome.ALREADY_CONFIRMED
        result = LineConfirmation(
            line=request.line, outcome=outcome, acmo=_dash_none(sheet.get("ACMO")), message=attempt.status
        )
        result.evidence.append(
            Evidence.capture(
                portal=self.portal,
                step="line-confirmed",
                content=attempt.shot,
                description=(
                    f"Línea {request.line} confirmada en Qvantel (Televentas Digital), ACMO {result.acmo or '-'}"
                ),
            )
        )
        logger.info("qvantel: line {} {} with ACMO {} (holder CI {})", request.line, outcome.value, result.acmo, masked)
        return result

    # -- reading the sheet --------------------------------------------------------------------------
    def _status(self, line: str, fields: dict[str, str] | None) -> LineStatus:
        if fields is None:
            return LineStatus(line=line, exists=False)
        state = fields.get("Estado de registro")
        if state not in (CONFIRMED, PENDING):
            raise UnexpectedScreen(f"unknown registration state {state!r} for line {line}", portal=self.portal)
        try:
            plan_type = PlanType(fields.get("Tipo de plan", ""))
        except ValueError as exc:
            raise UnexpectedScreen(f"unknown plan type {fields.get('Tipo de plan')!r}", portal=self.portal) from exc
        recovered = self._console_time(fields.get("Última recuperación de SIM", ""))
        return LineStatus(
            line=line,
            exists=True,
            confirmed=state == CONFIRMED,
            last_sim_recovery=recovered,
            sim_recovered_last_24h=recovered is not None and self._now() - recovered <= SIM_RECOVERY_WINDOW,
            holder_name=_dash_none(fields.get("Titular")),
            holder_ci=_dash_none(fields.get("CI del titular")),
            plan_type=plan_type,
            plan=_dash_none(fields.get("Plan")),
            acmo=_dash_none(fields.get("ACMO")),
        )

    def _console_time(self, text: str) -> datetime | None:
        if text.strip() in ("", NO_RECOVERY, "-"):
            return None
        try:
            return datetime.strptime(text.strip(), CONSOLE_TIME).replace(tzinfo=LA_PAZ)
        except ValueError as exc:
            raise UnexpectedScreen(f"cannot read the SIM recovery date {text!r}", portal=self.portal) from exc

    def _now(self) -> datetime:
        now = self.clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)


def _dash_none(value: str | None) -> str | None:
    return None if value in (None, "", "-") else value
