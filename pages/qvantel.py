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

from pages.base import ConsolePage, label_values
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
        # The sheet's rows and its alert, read together inside the frame (an "or" is resolved in one
        # document, so it is built from the frame's side).
        self.sheet_contents = sheet_document.locator(
            page.get_by_role("table", name="Datos de la línea").get_by_role("row").or_(page.get_by_role("alert"))
        )
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
        view = await self.read_shown(self.sheet.or_(self.alert), "the line view")
        if any(s.role == "alert" for s in view):
            return None
        await self._check_sheet_document()
        # The notice covers the main document, not the sheet; ``screenshot`` waits for it to close.
        sheet = await self.read_shown(
            self.sheet_contents, "the line sheet", awaited=self.sheet_table.or_(self.sheet_alert), notice=False
        )
        return label_values([s.text for s in sheet if s.role == "row"]) or None

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
        frame = self._answered_sheet_frame() or await self._sheet_frame(doing)
        await self._guarded(doing, lambda: frame.wait_for_load_state())
        answer = self._sheet_answer if self._sheet_answer and self._sheet_answer.frame == frame else None
        if answer is not None and answer.status >= 500:
            kind = "maintenance" if answer.status == 503 else f"HTTP {answer.status}"
            raise PortalUnavailable(f"{kind} in the line sheet", portal=self.portal)
        # The answer's address tells a login page even before the frame shows it.
        if any(
            urlsplit(url).path.rstrip("/") == self.login_path.rstrip("/")
            for url in (frame.url, answer.url if answer else "")
        ):
            raise SessionExpired("the line sheet was sent back to the login page", portal=self.portal)

    def _answered_sheet_frame(self) -> Frame | None:
        """The sheet's frame, known without asking the browser: the line view's only frame, when the
        document it holds is the last one the sheet was answered with."""
        answer = self._sheet_answer
        children = self.page.main_frame.child_frames
        if answer is None or len(children) != 1:
            return None
        with contextlib.suppress(PlaywrightError):
            if answer.frame == children[0] and not answer.frame.is_detached():
                return answer.frame
        return None

    async def _sheet_frame(self, doing: str) -> Frame:
        handle = await self._guarded(doing, lambda: self.sheet.element_handle())
        try:
            frame = await self._guarded(doing, handle.content_frame)
        finally:
            await self._guarded(doing, handle.dispose)
        if frame is None:
            raise UnexpectedScreen("the line sheet frame has no document", portal=self.portal)
        return frame
