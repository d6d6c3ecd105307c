"""AR robot: the SMS token and the migration itself (PROCESS.md activity 7), and the line's migration state.

This is the one step of the process that changes a customer's contract, so it must never happen twice.
``migrate`` retries only what comes before the click on "Migrar" (login, opening the form, filling it);
once the click may have happened, any failure to read AR's answer is ``MigrationInDoubt``, which no
policy retries: the caller reads ``migration_state`` and decides, never clicking again blindly.

AR's answers are data: a wrong, spent or expired token, a plan Scoring does not offer, an AR error
(activity 9, with its screenshot), historical debt (7.7 b, with its screenshot), a line already postpaid
and a successful migration are all ``MigrationOutcome`` values, never retried.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import Enum

from pydantic import BaseModel, Field, computed_field, field_validator

from pages.ar import ARPage, MigrationScreen
from pages.errors import ApplicationError, InvalidInput, RecordNotFound, RuleRefused, UnexpectedScreen
from robots.base import ConsoleRobot, LineRequest
from robots.evidence import Evidence
from robots.identity import normal_email

#: AR shows dates in Bolivian local time with their offset.
CONSOLE_DATE = "%d/%m/%Y %H:%M:%S %z"


class MigrationInDoubt(ApplicationError):
    """Raised when the migrate click may have happened but its answer was lost; read the state, never click again."""

    retryable = False


class MigrationOutcome(str, Enum):
    """What AR answered to a migration request."""

    MIGRATED = "migrated"  # -> 8, digital contract without pre-analysis
    REFUSED = "refused"  # AR error -> 9, contract with pre-analysis (screenshot 9.1)
    HISTORICAL_DEBT = "historical_debt"  # 7.7 b: amount from BCCS, then close (screenshot)
    TOKEN_EXPIRED = "token_expired"  # 7.3: second token
    TOKEN_WRONG = "token_wrong"  # the code does not match the line's latest token
    TOKEN_USED = "token_used"  # the code was already spent on an earlier attempt
    PLAN_NOT_OFFERED = "plan_not_offered"  # Scoring does not offer the chosen plan (see offered_plans)
    ALREADY_POSTPAID = "already_postpaid"  # nothing to migrate; never a second migration


class TokenRequest(LineRequest):
    """Have AR send a migration token by SMS to this line."""


class TokenIssued(BaseModel):
    """AR's confirmation that it sent the token; the code itself only reaches the customer's phone."""

    line: str
    sender: str
    issued_at: datetime
    expires_in_seconds: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def expires_at(self) -> datetime:
        return self.issued_at + timedelta(seconds=self.expires_in_seconds)


class MigrationRequest(LineRequest):
    """Migrate this line to a postpaid plan with the token the customer sent back, and the contract data."""

    token: str
    plan: str
    city: str
    billing_address: str
    email: str | None = None

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        # Customers type the code back over WhatsApp: spaces and lower case are theirs, not the code's.
        code = re.sub(r"\s", "", value or "").upper()
        if not code.isalnum() or not code.isascii():
            raise ValueError(f"{value!r} is not an AR token (letters and digits)")
        return code

    @field_validator("plan", "city", "billing_address")
    @classmethod
    def _required(cls, value: str) -> str:
        if not (value or "").strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return normal_email(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from exc


class MigrationResult(BaseModel):
    line: str
    outcome: MigrationOutcome
    message: str
    plan: str
    offered_plans: list[str] = Field(default_factory=list)
    preanalysis: dict[str, str] = Field(default_factory=dict, description="Scoring, Infocenter, Lista Negra")
    order_number: str | None = None
    migrated_at: datetime | None = None
    evidence: list[Evidence] = Field(default_factory=list)


class MigrationStateRequest(LineRequest):
    """Read whether AR already migrated this line."""


class MigrationState(BaseModel):
    """The line as AR's state screen shows it, with its newest token: the read-back of both AR writes."""

    line: str
    migrated: bool
    plan_type: str
    plan: str
    migrated_at: datetime | None = None
    token_issued_at: datetime | None = Field(None, description="when AR sent the line's newest token SMS")
    token_expires_at: datetime | None = Field(None, description="when that token stops being accepted")


# Alerts AR shows before it runs its pre-analysis, by a phrase of their text.
_FORM_ALERTS: tuple[tuple[str, MigrationOutcome], ...] = (
    ("token incorrecto", MigrationOutcome.TOKEN_WRONG),
    ("token vencido", MigrationOutcome.TOKEN_EXPIRED),
    ("token ya utilizado", MigrationOutcome.TOKEN_USED),
    ("ya tiene un plan pospago", MigrationOutcome.ALREADY_POSTPAID),
    ("no está habilitado por scoring", MigrationOutcome.PLAN_NOT_OFFERED),
    ("scoring no habilita", MigrationOutcome.PLAN_NOT_OFFERED),
)


def _refusal(alert: str, portal: str) -> MigrationOutcome:
    """The outcome an alert shown before the pre-analysis stands for; other alerts are errors."""
    lowered = alert.lower()
    for phrase, outcome in _FORM_ALERTS:
        if phrase in lowered:
            return outcome
    if "no existe" in lowered:
        raise RecordNotFound(alert, portal=portal)
    if "otro operador" in lowered:
        raise RuleRefused(alert, portal=portal)
    raise UnexpectedScreen(f"AR showed an alert the robot does not know: {alert}", portal=portal)


def _classify(screen: MigrationScreen, portal: str) -> MigrationOutcome:
    """What AR's answer to "Migrar" means."""
    if screen.preanalysis and screen.alert:
        # The pre-analysis ran and stopped it: Lista Negra's debt, or any other AR error.
        if "lista negra" in screen.alert.lower() and "deuda" in screen.alert.lower():
            return MigrationOutcome.HISTORICAL_DEBT
        return MigrationOutcome.REFUSED
    if screen.alert:
        return _refusal(screen.alert, portal)
    if screen.result and screen.status and "migración exitosa" in screen.status.lower():
        return MigrationOutcome.MIGRATED
    raise UnexpectedScreen("AR's answer to the migration is neither a result nor an alert", portal=portal)


def _console_date(value: str | None) -> datetime | None:
    return None if value in (None, "", "-") else datetime.strptime(value, CONSOLE_DATE)


class ARRobot(ConsoleRobot[ARPage]):
    """Generates tokens, migrates lines and reads their migration state in AR."""

    def issue_token(self, request: TokenRequest) -> TokenIssued:
        """Have AR send the token SMS (PROCESS.md 7.2); raises RecordNotFound/RuleRefused for lines it refuses.

        Retrying after a lost answer is harmless: a new token only voids the earlier code, and the
        customer's newest SMS is the valid one.
        """

        async def work(console: ARPage) -> tuple[dict[str, str], str]:
            await console.generate_token(request.line)
            fields = await console.read_token_confirmation()
            return fields, "" if fields else await console.alert_text()

        fields, alert = self._run(work)
        if not fields:
            if "no existe" in alert.lower():
                raise RecordNotFound(alert, portal=self.portal)
            if alert:
                raise RuleRefused(alert, portal=self.portal)
            raise UnexpectedScreen("AR confirmed no token and showed no alert", portal=self.portal)
        try:
            return TokenIssued(
                line=fields["Línea"],
                sender=fields["Remitente SMS"],
                issued_at=datetime.strptime(fields["Fecha de emisión"], CONSOLE_DATE),
                expires_in_seconds=int(fields["Vigencia (segundos)"]),
            )
        except (KeyError, ValueError) as exc:
            raise UnexpectedScreen(f"AR's token confirmation is unreadable: {exc}", portal=self.portal) from exc

    def migrate(self, request: MigrationRequest) -> MigrationResult:
        """Fill AR's migration form and click "Migrar" once (PROCESS.md 7.6-7.7); AR's answer is the result.

        Raises ``MigrationInDoubt`` when the click may have reached AR but its answer could not be read.
        """

        async def work(console: ARPage) -> MigrationResult:
            # Before the click: every failure here is safe to retry, nothing was sent.
            await console.open_migration(request.line)
            offered = await console.offered_plans()
            if offered is None:
                alert = await console.alert_text()
                return self._result(request, _refusal(alert, self.portal), alert)
            if request.plan not in offered:
                message = (
                    f"Scoring no ofrece el plan '{request.plan}' para la línea; "
                    f"planes habilitados: {', '.join(offered) or '-'}"
                )
                return self._result(request, MigrationOutcome.PLAN_NOT_OFFERED, message, offered=offered)
            await console.fill_migration(
                request.line, request.token, request.plan, request.city, request.billing_address, request.email
            )
            # After the click AR may have migrated the line: no error may lead to a second click.
            try:
                await console.migrate()
                screen = await console.read_outcome()
                outcome = _classify(screen, self.portal)
                shot = (
                    await console.screenshot()
                    if outcome in (MigrationOutcome.REFUSED, MigrationOutcome.HISTORICAL_DEBT)
                    else None
                )
            except ApplicationError as exc:
                raise MigrationInDoubt(
                    f"the migration of line {request.line} was submitted but AR's answer was lost ({exc}); "
                    "read the migration state before doing anything else",
                    portal=self.portal,
                ) from exc
            return self._answer(request, outcome, screen, offered, shot)

        return self._run(work)

    def migration_state(self, request: MigrationStateRequest) -> MigrationState:
        """Whether AR already migrated the line, and when it last sent it a token, read from its 'Estado de
        migración' screen (so a step run again can tell whether a token SMS went out after a given time)."""

        async def work(console: ARPage) -> tuple[dict[str, str], str]:
            await console.open_migration_state(request.line)
            fields = await console.read_migration_state()
            return fields, "" if fields else await console.alert_text()

        fields, alert = self._run(work)
        if not fields:
            if "no existe" in alert.lower():
                raise RecordNotFound(alert, portal=self.portal)
            if alert:
                raise RuleRefused(alert, portal=self.portal)
            raise UnexpectedScreen("AR showed no migration state and no alert", portal=self.portal)
        try:
            return MigrationState(
                line=fields["Línea"],
                migrated=fields["Migrada"] == "Sí",
                plan_type=fields["Tipo de plan"],
                plan=fields["Plan"],
                migrated_at=_console_date(fields.get("Fecha de migración")),
                token_issued_at=_console_date(fields.get("Último token enviado")),
                token_expires_at=_console_date(fields.get("Token vence")),
            )
        except (KeyError, ValueError) as exc:
            raise UnexpectedScreen(f"AR's migration state is unreadable: {exc}", portal=self.portal) from exc

    # -- building results ----------------------------------------------------------------------
    @staticmethod
    def _result(
        request: MigrationRequest, outcome: MigrationOutcome, message: str, offered: list[str] | None = None
    ) -> MigrationResult:
        return MigrationResult(
            line=request.line, outcome=outcome, message=message, plan=request.plan, offered_plans=offered or []
        )

    def _answer(
        self,
        request: MigrationRequest,
        outcome: MigrationOutcome,
        screen: MigrationScreen,
        offered: list[str],
        shot: bytes | None,
    ) -> MigrationResult:
        result = MigrationResult(
            line=request.line,
            outcome=outcome,
            plan=screen.result.get("Plan", request.plan),
            message=screen.status if outcome == MigrationOutcome.MIGRATED else screen.alert,
            offered_plans=offered,
            preanalysis=screen.preanalysis,
            order_number=screen.result.get("N° de orden"),
        )
        if outcome == MigrationOutcome.MIGRATED:
            try:
                result.migrated_at = _console_date(screen.result.get("Fecha de migración"))
            except ValueError:
                result.migrated_at = None  # the line is migrated; an odd date must not hide that
        if shot is not None:
            description = (
                "Deuda histórica informada por Lista Negra en el Activador Regional, línea "
                if outcome == MigrationOutcome.HISTORICAL_DEBT
                else "Error del Activador Regional al migrar la línea "
            )
            result.evidence.append(
                Evidence.capture(
                    portal=self.portal,
                    step=f"ar_{outcome.value}",
                    content=shot,
                    description=f"{description}{request.line}: {result.message}",
                )
            )
        return result
