"""Page object of BCCS, the billing console: a customer's historical debt, and a line's billing data."""

from __future__ import annotations

from urllib.parse import urlencode

from playwright.async_api import Locator, Page

from pages.base import ConsolePage


class BCCSPage(ConsolePage):
    """The debt enquiry by CI and the billing-data change form of BCCS."""

    portal = "bccs"

    def __init__(self, page: Page, base_url: str) -> None:
        super().__init__(page, base_url)
        # Historical debt
        self.ci_input = page.get_by_label("Número de CI")
        self.debt_search_button = page.get_by_role("button", name="Consultar")
        self.debt_table = page.get_by_role("table", name="Deuda histórica del cliente")
        self.debt_detail_table = page.get_by_role("table", name="Detalle de la deuda histórica")
        # Billing data
        self.line_input = page.get_by_label("Número de línea")
        self.billing_name_input = page.get_by_label("Nombre o razón social")
        self.document_type_select = page.get_by_label("Tipo de documento")
        self.document_number_input = page.get_by_label("Número de documento")
        self.save_billing_button = page.get_by_role("button", name="Guardar cambios")
        self.billing_table = page.get_by_role("table", name="Datos de facturación")

    async def _wait_for_either(self, result: Locator, doing: str) -> None:
        # The console answers with its result or with an alert; whichever comes first is the answer.
        either = result.or_(self.alert)
        await self._guarded(doing, lambda: either.first.wait_for())

    # -- historical debt ----------------------------------------------------------------------
    async def search_debt(self, ci: str) -> None:
        """Ask for the historical debt of the customer with this CI."""
        await self.open("/deuda", "opening the historical-debt enquiry")
        await self._guarded("typing the CI", lambda: self.ci_input.fill(ci))
        await self.submit(self.debt_search_button, "searching the customer's debt")

    async def read_debt(self) -> dict[str, str] | None:
        """The customer's debt summary as label -> value, or None when the console answered with an alert."""
        await self._wait_for_either(self.debt_table, "waiting for the historical debt")
        return await self.read_fields(self.debt_table, "reading the historical debt") or None

    async def read_debt_detail(self) -> list[dict[str, str]]:
        """The rows of the debt detail table (column header -> cell); empty when there is no debt."""
        return await self._read_rows(self.debt_detail_table, "reading the debt detail")

    # -- billing data -------------------------------------------------------------------------
    async def change_billing(self, line: str, name: str, document_type: str, document_number: str) -> None:
        """Fill and save the billing-data change of a line."""
        await self.open("/facturacion", "opening the billing-data change")
        await self._guarded("typing the line", lambda: self.line_input.fill(line))
        await self._guarded("typing the billing name", lambda: self.billing_name_input.fill(name))
        await self._guarded(
            "choosing the document type", lambda: self.document_type_select.select_option(label=document_type)
        )
        await self._guarded("typing the document number", lambda: self.document_number_input.fill(document_number))
        await self.submit(self.save_billing_button, "saving the billing data")

    async def open_billing(self, line: str) -> None:
        """Show the line's billing data as BCCS holds it now (the screen a saved change lands on)."""
        await self.open(f"/facturacion/confirmacion?{urlencode({'linea': line})}", "opening the billing data")

    async def read_billing(self) -> dict[str, str] | None:
        """The saved billing data as label -> value, or None when the console answered with an alert."""
        await self._wait_for_either(self.billing_table, "waiting for the billing confirmation")
        return await self.read_fields(self.billing_table, "reading the billing data") or None

    # -- shared -------------------------------------------------------------------------------
    async def _read_rows(self, table: Locator, doing: str) -> list[dict[str, str]]:
        texts = await self._guarded(doing, lambda: table.get_by_role("row").all_inner_texts())
        if not texts:
            return []
        header = [cell.strip() for cell in texts[0].split("\t")]
        return [dict(zip(header, (cell.strip() for cell in row.split("\t")), strict=False)) for row in texts[1:]]
