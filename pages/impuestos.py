"""Page object of the tax registry (padrón NIT): "Verificar estado del contribuyente" by NIT."""

from __future__ import annotations

from playwright.async_api import Page

from pages.base import ConsolePage


class TaxRegistryPage(ConsolePage):
    """The NIT search and the taxpayer's state on the tax service's registry."""

    portal = "impuestos"

    def __init__(self, page: Page, base_url: str) -> None:
        super().__init__(page, base_url)
        self.nit_input = page.get_by_label("NIT", exact=True)
        self.search_button = page.get_by_role("button", name="Consultar")
        self.taxpayer_table = page.get_by_role("table", name="Estado del contribuyente")
        self.nonexistent = self.status.filter(has_text="NIT inexistente")

    async def search(self, nit: str) -> None:
        """Ask the registry about a NIT."""
        await self.open("/", "opening the taxpayer search")
        await self._guarded("typing the NIT", lambda: self.nit_input.fill(nit))
        await self.submit(self.search_button, "searching the NIT")

    async def read_taxpayer(self) -> dict[str, str] | None:
        """The taxpayer's state as label -> value, or None when the registry answered with a message instead."""
        either = self.taxpayer_table.or_(self.nonexistent).or_(self.alert)
        await self._guarded("waiting for the registry's answer", lambda: either.first.wait_for())
        return await self.read_fields(self.taxpayer_table, "reading the taxpayer") or None
