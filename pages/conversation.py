"""A page the robot draws itself: a WhatsApp conversation excerpt, rendered to take its picture.

Zendesk's agent screen differs between accounts, so the T&C evidence (the formal macro and the
customer's ACEPTO, PROCESS.md 6.4) is drawn from the ticket's comments read through the API and
photographed here, which works the same against any Zendesk.
"""

from __future__ import annotations

import html

from playwright.async_api import Page

from pages.base import playwright_errors

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; background: #e5ddd5; margin: 0; padding: 16px; width: 640px; }
h1 { font-size: 15px; color: #075e54; margin: 0 0 10px; }
.msg { border-radius: 8px; padding: 8px 10px; margin: 8px 0; max-width: 520px; white-space: pre-wrap; }
.agent { background: #fff; }
.customer { background: #dcf8c6; margin-left: 100px; }
.who { font-size: 11px; color: #667; margin-bottom: 3px; }
"""


class ConversationCard:
    """Renders messages as a chat and photographs it."""

    portal = "zendesk"

    def __init__(self, page: Page) -> None:
        self.page = page
        self.card = page.get_by_role("article", name="Conversación")

    async def show(self, title: str, messages: list[tuple[str, str, str, bool]]) -> None:
        """Draw ``(author, when, text, from_customer)`` messages under a title."""
        items = "".join(
            f'<div class="msg {"customer" if mine else "agent"}"><div class="who">{html.escape(who)} · '
            f"{html.escape(when)}</div>{html.escape(text)}</div>"
            for who, when, text, mine in messages
        )
        document = (
            f"<!doctype html><html lang='es'><head><meta charset='utf-8'><style>{_STYLE}</style></head>"
            f"<body><article aria-label='Conversación'><h1>{html.escape(title)}</h1>{items}</article>"
            "</body></html>"
        )
        async with playwright_errors(self.portal, "drawing the conversation"):
            await self.page.set_content(document)

    async def show_plans(self, title: str, plans: list[str]) -> None:
        """Draw the list of plans on offer, as the image the offer macros attach."""
        items = "".join(f'<div class="msg agent">{html.escape(plan)}</div>' for plan in plans)
        document = (
            f"<!doctype html><html lang='es'><head><meta charset='utf-8'><style>{_STYLE}</style></head>"
            f"<body><article aria-label='Conversación'><h1>{html.escape(title)}</h1>{items}</article>"
            "</body></html>"
        )
        async with playwright_errors(self.portal, "drawing the plans"):
            await self.page.set_content(document)

    async def picture(self) -> bytes:
        async with playwright_errors(self.portal, "photographing the conversation"):
            return await self.card.screenshot()
