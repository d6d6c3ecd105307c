"""Page object of Syshelp, the internal help desk: register a ticket, list "Mis tickets", open one."""

from __future__ import annotations

from playwright.async_api import Page

from pages.base import ConsolePage


class SyshelpPage(ConsolePage):
    """The new-ticket form, the ticket detail and the "Mis tickets" list of Syshelp."""

    portal = "syshelp"

    def __init__(self, page: Page, base_url: str) -> None:
        super().__init__(page, base_url)
        # "Tipo" is also inside "Subtipo": the labels must match exactly.
        self.type_select = page.get_by_label("Tipo", exact=True)
        self.load_subtypes_button = page.get_by_role("button", name="Cargar subtipos")
        self.subtype_select = page.get_by_label("Subtipo", exact=True)
        self.entity_input = page.get_by_label("Nombre de la Entidad")
        self.contact_input = page.get_by_label("Nombre del contacto")
        self.phone_input = page.get_by_label("Nro de teléfono")
        self.email_input = page.get_by_label("Correo")
        self.description_input = page.get_by_label("Descripción")
        self.register_button = page.get_by_role("button", name="Registrar")
        self.ticket_table = page.get_by_role("table", name="Detalle del ticket")
        self.my_tickets_table = page.get_by_role("table", name="Mis tickets")

    async def start_ticket(self, ticket_type: str) -> None:
        """Open the new-ticket form and choose its type, which loads the type's subtypes."""
        await self.open("/tickets/nuevo", "opening the new-ticket form")
        await self._guarded("choosing the ticket type", lambda: self.type_select.select_option(label=ticket_type))
        await self.submit(self.load_subtypes_button, "loading the subtypes")

    async def fill_ticket(
        self, subtype: str, entity: str, contact: str, phone: str, email: str, description: str
    ) -> None:
        """Fill the rest of the form once its subtypes are loaded."""
        await self._guarded("choosing the subtype", lambda: self.subtype_select.select_option(label=subtype))
        await self._guarded("typing the entity", lambda: self.entity_input.fill(entity))
        await self._guarded("typing the contact", lambda: self.contact_input.fill(contact))
        await self._guarded("typing the phone", lambda: self.phone_input.fill(phone))
        await self._guarded("typing the e-mail", lambda: self.email_input.fill(email))
        await self._guarded("typing the description", lambda: self.description_input.fill(description))

    async def register(self) -> None:
        """Press "Registrar"."""
        await self.submit(self.register_button, "registering the ticket")

    async def read_ticket(self) -> dict[str, str] | None:
        """The ticket on screen as label -> value, or None when the console answered with alerts."""
        either = self.ticket_table.or_(self.alert)
        await self._guarded("waiting for the ticket", lambda: either.first.wait_for())
        return await self.read_fields(self.ticket_table, "reading the ticket") or None

    async def my_tickets(self) -> list[dict[str, str]]:
        """The "Mis tickets" list, newest first, as rows of column header -> cell."""
        await self.open("/tickets", "opening Mis tickets")
        await self._guarded("waiting for Mis tickets", lambda: self.my_tickets_table.wait_for())
        texts = await self._guarded(
            "reading Mis tickets", lambda: self.my_tickets_table.get_by_role("row").all_inner_texts()
        )
        header = [cell.strip() for cell in texts[0].split("\t")]
        return [dict(zip(header, (cell.strip() for cell in row.split("\t")), strict=False)) for row in texts[1:]]

    async def open_ticket(self, number: str) -> None:
        """Open a ticket's detail by its number."""
        await self.open(f"/tickets/{number}", f"opening ticket {number}")
