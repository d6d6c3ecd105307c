"""Page object of Qvantel, the CRM/BSS console: find a line, read its sheet, confirm its registration.

The line's data lives in an iframe ("Ficha de la línea"), a document the console loads on its own. Its
answer is checked like any navigation: a 5xx in the frame is ``PortalUnavailable`` and a frame that
landed on the login page is ``SessionExpired``, instead of waiting for a table that will never come.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urlencode, urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page, Response

from pages.base import ConsolePage
from pages.errors import PortalUnavailable, SessionExpired, UnexpectedScreen


class QvantelPage(ConsolePage):
    """The line search, the line view with its framed sheet, and the Televentas Digital form."""

    portal = "qvantel"

    def __init__(self, page: Page, base_url: str) -> None:
        super().__init__(page, base_url)
        # Search
        self.line_input = page.get_by_label("Número de línea")
        self.search_button = page.get_by_role("button", name="Buscar")
        # Line view and its framed sheet
        self.sheet = page.get_by_title("Ficha de la línea")
        sheet_document = self.sheet.content_frame
        self.sheet_table = sheet_document.get_by_role("table", name="Datos de la línea")
        self.sheet_alert = sheet_document.get_by_role("alert")
        self.confirm_link = page.get_by_role("link", name="Confirmar registro")
        # Televentas Digital
        self.holder_ci_input = page.get_by_label("CI del titular")
        self.acmo_input = page.get_by_label("ACMO")
        self.confirm_button = page.get_by_role("button", name="Confirmar registro")
        self._sheet_answer: Response | None = None
        page.on("response", self._remember_sheet_answer)

    def _remember_sheet_answer(self, response: Response) -> None:
        # The frame's document arrives outside any navigation we wait for; keep its status for read_line.
        request = response.request
        with contextlib.suppress(PlaywrightError):  # a request of a frame already gone has no frame
            if request.is_navigation_request() and request.frame.parent_frame is not None:
                self._sheet_answer = response

    # -- verbs --------------------------------------------------------------------------------
    async def open_line(self, line: str) -> None:
        """Land on a line's view (or on the 'no existe' alert); the search form is a GET, so its answer
        is opened directly, one page load instead of two."""
        await self.open(f"/linea?{urlencode({'numero': line})}", "searching the line")

    async def read_line(self) -> dict[str, str] | None:
        """The framed sheet "Datos de la línea" as label -> value, or None when the console says the line
        does not exist."""
        await self._guarded("waiting for the line view", lambda: self.sheet.or_(self.alert).first.wait_for())
        if await self._guarded("looking for an alert", lambda: self.alert.count()):
            return None
        await self._check_sheet_document()
        either = self.sheet_table.or_(self.sheet_alert)
        await self._guarded("waiting for the line sheet", lambda: either.first.wait_for())
        fields = await self.read_fields(self.sheet_table, "reading the line sheet")
        return fields or None

    async def confirm_registration(self, holder_ci: str, acmo: str) -> None:
        """From a pending line's view, fill Televentas Digital with the holder's CI and the ACMO and send it."""
        await self.submit(self.confirm_link, "opening Televentas Digital")
        await self._guarded("typing the holder's CI", lambda: self.holder_ci_input.fill(holder_ci))
        await self._guarded("typing the ACMO", lambda: self.acmo_input.fill(acmo))
        await self.submit(self.confirm_button, "confirming the registration")

    async def screenshot(self) -> bytes:
        """The screen as the agent sees it, with any system notice closed first so it hides nothing."""
        # Waiting for the notice to be gone lets the notice handler close it; screenshots alone do not.
        await self._guarded("closing the system notice", lambda: self.notice_dialog.wait_for(state="hidden"))
        return await super().screenshot()

    # -- helpers ------------------------------------------------------------------------------
    async def _check_sheet_document(self) -> None:
        doing = "loading the line sheet"
        frame = await self._sheet_frame(doing)
        await self._guarded(doing, lambda: frame.wait_for_load_state())
        answer = self._sheet_answer
        if answer is not None and answer.frame == frame and answer.status >= 500:
            kind = "maintenance" if answer.status == 503 else f"HTTP {answer.status}"
            raise PortalUnavailable(f"{kind} in the line sheet", portal=self.portal)
        if urlsplit(frame.url).path.rstrip("/") == self.login_path.rstrip("/"):
            raise SessionExpired("the line sheet was sent back to the login page", portal=self.portal)

    async def _sheet_frame(self, doing: str) -> Frame:
        handle = await self._guarded(doing, lambda: self.sheet.element_handle())
        try:
            frame = await self._guarded(doing, handle.content_frame)
        finally:
            await self._guarded(doing, handle.dispose)
        if frame is None:
            raise UnexpectedScreen("the line sheet frame has no document", portal=self.portal)
        return frame
