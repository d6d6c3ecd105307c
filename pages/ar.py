"""Page object of AR, the Activador Regional: generate the SMS token, fill and submit the migration, read state.

AR answers on the same screens with either its result or an alert (role=alert); the verbs here only
wait for whichever comes and read it. Deciding what an alert means is the robot's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from playwright.async_api import Page

from pages.base import ConsolePage, joined_texts, label_values


@dataclass
class MigrationScreen:
    """What AR showed after "Migrar": its alert or status line, and the tables it drew."""

    alert: str = ""
    status: str = ""
    result: dict[str, str] = field(default_factory=dict)
    preanalysis: dict[str, str] = field(default_factory=dict)


class ARPage(ConsolePage):
    """The token, migration and migration-state screens of AR."""

    portal = "ar"

    def __init__(self, page: Page, base_url: str) -> None:
        super().__init__(page, base_url)
        self.line_input = page.get_by_label("Número de línea", exact=True)
        # token screen
        self.generate_button = page.get_by_role("button", name="Generar token")
        self.token_table = page.get_by_role("table", name="Token generado")
        # migration screens
        self.search_button = page.get_by_role("button", name="Buscar")
        self.migration_form = page.get_by_role("form", name="Migración prepago a pospago")
        self.token_input = page.get_by_label("Token", exact=True)
        self.plan_select = page.get_by_label("Plan", exact=True)
        self.city_input = page.get_by_label("Ciudad", exact=True)
        self.email_input = page.get_by_label("Correo electrónico", exact=True)
        self.address_input = page.get_by_label("Dirección de facturación", exact=True)
        self.migrate_button = page.get_by_role("button", name="Migrar")
        self.result_table = page.get_by_role("table", name="Resultado de la migración")
        self.preanalysis_table = page.get_by_role("table", name="Preanálisis del activador")
        # state screen
        self.query_button = page.get_by_role("button", name="Consultar")
        self.state_table = page.get_by_role("table", name="Estado de migración")
        # What each screen's answer is read from, in one round trip. The answer to "Migrar" reads the
        # result table itself too, so that its rows can be told from the pre-analysis's.
        self.migration_screen = self.migration_form.or_(self.alert).or_(self.plan_select.locator("option"))
        self.outcome_screen = (
            self.alert.or_(self.status)
            .or_(self.result_table)
            .or_(self.result_table.get_by_role("row"))
            .or_(self.preanalysis_table.get_by_role("row"))
        )

    # -- token ---------------------------------------------------------------------------------
    async def generate_token(self, line: str) -> None:
        """Ask AR to send a token by SMS to the line."""
        await self.open("/token", "opening the token screen")
        await self._guarded("typing the line", lambda: self.line_input.fill(line))
        await self.submit(self.generate_button, "generating the token")

    async def read_token_confirmation(self) -> dict[str, str]:
        """The 'Token generado' table as label -> value; empty when AR answered with an alert."""
        fields, _ = await self.read_fields_or_alert(self.token_table, "the token confirmation")
        return fields

    # -- migration -----------------------------------------------------------------------------
    async def open_migration(self, line: str) -> None:
        """Look the line up on the migration screen, which then shows its form or an alert (the lookup is
        a GET form: its answer is opened directly)."""
        await self.open(f"/migracion?{urlencode({'linea': line})}", "looking the line up for migration")

    async def offered_plans(self) -> list[str] | None:
        """The plans in the form's select (Scoring's), or None when AR showed an alert instead of the form."""
        either = self.migration_form.or_(self.alert)
        shown = await self.read_shown(
            self.migration_screen, "the migration form", until=("form", "alert"), awaited=either
        )
        if not any(s.role == "form" for s in shown):
            return None
        return [s.text.strip() for s in shown if s.role == "option"]

    async def fill_migration(
        self, line: str, token: str, plan: str, city: str, billing_address: str, email: str | None = None
    ) -> None:
        """Fill the open migration form; nothing is sent until ``migrate``."""
        await self._guarded("typing the line", lambda: self.line_input.fill(line))
        await self._guarded("typing the token", lambda: self.token_input.fill(token))
        await self._guarded("choosing the plan", lambda: self.plan_select.select_option(label=plan))
        await self._guarded("typing the city", lambda: self.city_input.fill(city))
        await self._guarded("typing the e-mail", lambda: self.email_input.fill(email or ""))
        await self._guarded("typing the billing address", lambda: self.address_input.fill(billing_address))

    async def migrate(self) -> None:
        """Click "Migrar": from here AR may have changed the line, whatever happens to the answer."""
        await self.submit(self.migrate_button, "migrating the line")

    async def read_outcome(self) -> MigrationScreen:
        """AR's answer to "Migrar": the success tables, or an alert (with its pre-analysis when it ran)."""
        either = self.result_table.or_(self.alert)
        shown = await self.read_shown(
            self.outcome_screen, "the migration answer", until=("table", "alert"), awaited=either
        )
        tables = {i for i, s in enumerate(shown) if s.role == "table"}
        rows = [s for s in shown if s.role == "row"]
        return MigrationScreen(
            alert=joined_texts([s.text for s in shown if s.role == "alert"]),
            status=joined_texts([s.text for s in shown if s.role == "status"]),
            result=label_values([s.text for s in rows if s.inside in tables]),
            preanalysis=label_values([s.text for s in rows if s.inside not in tables]),
        )

    # -- state ---------------------------------------------------------------------------------
    async def open_migration_state(self, line: str) -> None:
        """Query the read-only migration state of a line."""
        await self.open("/estado", "opening the migration state screen")
        await self._guarded("typing the line", lambda: self.line_input.fill(line))
        await self.submit(self.query_button, "querying the migration state")

    async def read_migration_state(self) -> dict[str, str]:
        """The 'Estado de migración' table as label -> value; empty when AR answered with an alert."""
        fields, _ = await self.read_fields_or_alert(self.state_table, "the migration state")
        return fields
