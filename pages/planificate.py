"""Page object of Planifícate, the pre-analysis tool: search a line and read what it says about it."""

from __future__ import annotations

from urllib.parse import urlencode

from playwright.async_api import Page

from pages.base import ConsolePage


class PlanificatePage(ConsolePage):
    """The search form and the result screen of Planifícate."""

    portal = "planificate"

    def __init__(self, page: Page, base_url: str) -> None:
        super().__init__(page, base_url)
        self.line_input = page.get_by_label("Número de línea")
        self.search_button = page.get_by_role("button", name="Consultar")
        self.result_table = page.get_by_role("table", name="Resultado del preanálisis")
        self.no_result = page.get_by_role("status").filter(has_text="Sin resultados")

    async def search(self, line: str) -> None:
        """Run the pre-analysis of a line (the search form is a GET: its result page is opened directly,
        one page load instead of two)."""
        await self.open(f"/resultado?{urlencode({'linea': line})}", "searching the line")

    async def read_result(self) -> dict[str, str] | None:
        """The result table as label -> value, or None when Planifícate shows no result."""
        either = self.result_table.or_(self.no_result)
        await self._guarded("waiting for the pre-analysis result", lambda: either.first.wait_for())
        fields = await self.read_fields(self.result_table, "reading the result")
        return fields or None
