"""What every legacy console page has in common: its login form, navigation, and the error boundary.

All consoles here are server-rendered: a click on a form's button loads a new document. Each navigation
is checked the same way: a 5xx or maintenance answer is ``PortalUnavailable``, landing on the login page
when we did not ask for it is ``SessionExpired``. Playwright's exceptions never leave this layer.

Each exchange with the browser costs a round trip, whatever it does, so a screen's answer (its table, its
alerts, its status line) is read in one evaluation (``read_shown``), and waited for only when the console
has not drawn it yet or a system notice covers it: a server-rendered screen is complete once its
navigation ends, and a wait before every read would double the cost of reading.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page, Response
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from pages.errors import (
    CredentialsRejected,
    PortalTimeout,
    PortalUnavailable,
    SessionExpired,
    UnexpectedScreen,
)

T = TypeVar("T")

_UNREACHABLE = re.compile(
    r"net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE|ADDRESS_UNREACHABLE|CONNECTION_CLOSED)"
)


#: Each element as (its ARIA role, its inner text, the index of the nearest element of the same read that
#: contains it or -1). The role is the element's own ``role`` or the one its tag implies for the elements
#: the consoles show; other tags stand for themselves.
_SHOWN = """elements => elements.map(element => {
  const implicit = {TR: 'row', TABLE: 'table', FORM: 'form', OPTION: 'option', DIALOG: 'dialog', IFRAME: 'iframe'};
  let inside = -1;
  for (let up = element.parentElement; up && inside < 0; up = up.parentElement) inside = elements.indexOf(up);
  const role = element.getAttribute('role') || implicit[element.tagName] || element.tagName.toLowerCase();
  return [role, element.innerText ?? '', inside];
})"""


@dataclass(frozen=True)
class Shown:
    """One element of a screen, as ``ConsolePage.read_shown`` read it."""

    role: str
    text: str
    #: Index, in the same read, of the nearest element that contains this one; None when none does.
    inside: int | None = None


def label_values(rows: list[str]) -> dict[str, str]:
    """The inner texts of a two-column table's rows (header cell, value cell) as label -> value."""
    fields = {}
    for text in rows:
        label, _, value = text.partition("\t")
        fields[label.strip()] = value.strip()
    return fields


def joined_texts(texts: list[str]) -> str:
    """Texts each with its spaces collapsed, joined; empty when all are blank (how alerts are read)."""
    return " ".join(" ".join(text.split()) for text in texts if text.strip())


@contextlib.asynccontextmanager
async def playwright_errors(portal: str, doing: str) -> AsyncIterator[None]:
    """Turn Playwright's exceptions raised while ``doing`` something into our error tree."""
    try:
        yield
    except PlaywrightTimeoutError as exc:
        raise PortalTimeout(f"timed out while {doing}", portal=portal) from exc
    except PlaywrightError as exc:
        text = str(exc)
        if _UNREACHABLE.search(text):
            raise PortalUnavailable(f"console unreachable while {doing}", portal=portal) from exc
        if "Target page, context or browser has been closed" in text or "Target closed" in text:
            raise PortalUnavailable(f"browser closed while {doing}", portal=portal) from exc
        raise UnexpectedScreen(f"browser error while {doing}: {text.splitlines()[0]}", portal=portal) from exc


class ConsolePage:
    """Base of the console page objects: login, open a screen, submit a form, read its alerts, take a screenshot."""

    #: Short name of the console, used in errors and evidence.
    portal: str = "console"
    #: Path of the console's login page.
    login_path: str = "/login"

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.username_input = page.get_by_label("Usuario")
        self.password_input = page.get_by_label("Contraseña")
        self.login_button = page.get_by_role("button", name="Ingresar")
        # Every console answers a refused form, an unknown record or a failed login in role=alert
        # elements, and reports what it did in role=status ones; these are read the same way everywhere.
        self.alert = page.get_by_role("alert")
        self.status = page.get_by_role("status")
        self.notice_dialog = page.get_by_role("dialog", name="Aviso del sistema")
        self.notice_accept = self.notice_dialog.get_by_role("button", name="Aceptar")

    # -- the boundary -------------------------------------------------------------------------
    async def _guarded(self, doing: str, action: Callable[[], Awaitable[T]]) -> T:
        async with playwright_errors(self.portal, doing):
            return await action()

    def _check_document(self, response: Response | None, doing: str, *, expect_login: bool = False) -> None:
        """Classify the document a navigation ended on."""
        if response is not None and response.status >= 500:
            kind = "maintenance" if response.status == 503 else f"HTTP {response.status}"
            raise PortalUnavailable(f"{kind} while {doing}", portal=self.portal)
        on_login = urlsplit(self.page.url).path.rstrip("/") == self.login_path.rstrip("/")
        if on_login and not expect_login:
            raise SessionExpired(f"sent back to the login page while {doing}", portal=self.portal)

    async def open(self, path: str, doing: str | None = None) -> None:
        """Load a screen of the console by its path."""
        doing = doing or f"opening {path}"
        response = await self._guarded(doing, lambda: self.page.goto(self.base_url + path))
        self._check_document(response, doing)

    async def submit(self, button: Locator, doing: str, *, expect_login: bool = False) -> None:
        """Click a button that posts a form, and check the document that comes back."""

        async def click_and_wait() -> Response | None:
            async with self.page.expect_navigation() as navigation:
                await button.click()
            return await navigation.value

        response = await self._guarded(doing, click_and_wait)
        self._check_document(response, doing, expect_login=expect_login)

    # -- verbs shared by every console --------------------------------------------------------
    async def login(self, user: str, password: str) -> None:
        """Log in through the console's own login form."""
        response = await self._guarded(
            "opening the login page", lambda: self.page.goto(self.base_url + self.login_path)
        )
        self._check_document(response, "opening the login page", expect_login=True)
        await self._guarded("typing the user", lambda: self.username_input.fill(user))
        await self._guarded("typing the password", lambda: self.password_input.fill(password))
        await self.submit(self.login_button, "logging in", expect_login=True)
        if urlsplit(self.page.url).path.rstrip("/") == self.login_path.rstrip("/"):
            raise CredentialsRejected("the console refused the configured user or password", portal=self.portal)

    async def dismiss_notices_automatically(self) -> None:
        """Close the console's 'Aviso del sistema' dialog whenever it pops up over a screen.

        Legacy consoles show such notices at random; Playwright runs this handler before any action
        the dialog would block, so the page objects' verbs never see it.
        """

        async def accept(_: Locator) -> None:
            await self.notice_accept.click()

        await self._guarded(
            "installing the notice handler", lambda: self.page.add_locator_handler(self.notice_dialog, accept)
        )

    async def read_fields(self, table: Locator, doing: str) -> dict[str, str]:
        """A two-column table (header cell, value cell) as label -> value, read in one round trip."""
        return label_values(await self._guarded(doing, lambda: table.get_by_role("row").all_inner_texts()))

    async def read_shown(
        self,
        parts: Locator,
        what: str,
        *,
        until: Collection[str] | None = None,
        awaited: Locator | None = None,
        notice: bool = True,
    ) -> list[Shown]:
        """Every element ``parts`` matches on the screen now, in document order, in one round trip.

        A screen is ready once it shows an element of one of the roles in ``until`` (any element when
        None). One that is not ready yet (a console drawing late) is waited for, as is one the system
        notice covers (``notice``: the wait lets the notice handler close it, as any action would): then
        ``awaited`` (``parts`` when None) shows up, and the screen is read again. Server-rendered
        screens are complete when their navigation ends, so usually the first read is the only one.
        """
        seen = parts.or_(self.notice_dialog) if notice else parts

        async def read() -> list[Shown]:
            found = await seen.evaluate_all(_SHOWN)
            return [Shown(role, text, None if inside < 0 else inside) for role, text, inside in found]

        shown = await self._guarded(f"reading {what}", read)
        # The notice is the one dialog a read can meet: parts never are dialogs.
        drawn = any(s.role != "dialog" and (until is None or s.role in until) for s in shown)
        covered = any(s.role == "dialog" for s in shown)
        if drawn and not covered:
            return shown
        target = (awaited or parts).first
        await self._guarded(f"waiting for {what}", lambda: target.wait_for())
        return await self._guarded(f"reading {what}", read)

    async def read_fields_or_alert(
        self, table: Locator, what: str, *, awaited: Locator | None = None
    ) -> tuple[dict[str, str], str]:
        """A two-column table as label -> value (empty when not shown), and what the screen's alerts say,
        read together in one round trip; waits for either (or ``awaited``) when neither is drawn yet."""
        rows = table.get_by_role("row")
        shown = await self.read_shown(rows.or_(self.alert), what, awaited=awaited or table.or_(self.alert))
        return (
            label_values([s.text for s in shown if s.role == "row"]),
            joined_texts([s.text for s in shown if s.role == "alert"]),
        )

    async def alert_text(self) -> str:
        """What the screen's alerts say, each with its spaces collapsed, joined; empty when it shows none.

        What the words mean (an unknown line, a wrong token, a refused form) is for the robot to decide.
        """
        return await self._texts(self.alert, "reading the alert")

    async def status_text(self) -> str:
        """What the screen's status messages say, joined like ``alert_text``; empty when it shows none."""
        return await self._texts(self.status, "reading the status message")

    async def _texts(self, locator: Locator, doing: str) -> str:
        return joined_texts(await self._guarded(doing, lambda: locator.all_inner_texts()))

    async def screenshot(self) -> bytes:
        """A PNG of the whole screen as the agent would see it."""
        return await self._guarded("taking a screenshot", lambda: self.page.screenshot(full_page=True))
