"""Evidence of what was said on WhatsApp: the agent's formal macro and the customer's answer as a picture.

The pictures are drawn on one page kept for the purpose, one drawing at a time: a browser context per
picture cost a new Chromium renderer process each time (about 0.35 s of CPU per picture, against 0.05 s
to redraw a kept page, measured by ``make bench``). Each drawing replaces the whole document, so
nothing of one ticket's picture reaches the next.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from pydantic import BaseModel

from pages.conversation import ConversationCard
from robots.evidence import Evidence
from robots.sessions import BrowserHost


class ConversationLine(BaseModel):
    author: str
    body: str
    at: datetime


class ConversationEvidence:
    """Draws conversation excerpts in the process's browser and returns them as evidence."""

    def __init__(self, host: BrowserHost) -> None:
        self.host = host
        self._card: ConversationCard | None = None
        # Made on the host's loop, where it is used (a host that was closed starts a new loop).
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def _drawing_page(self) -> ConversationCard:
        if self._card is None or self._card.page.is_closed():
            context = await self.host.new_context(viewport={"width": 700, "height": 400})
            self._card = ConversationCard(await context.new_page())
        return self._card

    def _draw(self, fill: Callable[[ConversationCard], Awaitable[None]]) -> bytes:
        async def draw() -> bytes:
            loop = asyncio.get_running_loop()
            if self._lock is None or self._lock_loop is not loop:
                self._lock, self._lock_loop = asyncio.Lock(), loop
            async with self._lock:
                card = await self._drawing_page()
                try:
                    await fill(card)
                    return await card.picture()
                except Exception:
                    # A page that failed once is not drawn on again: the next picture starts on a fresh one.
                    self._card = None
                    with contextlib.suppress(Exception):
                        await card.page.context.close()
                    raise

        return self.host.run(draw())

    def capture(
        self, *, ticket_id: int, subject: str, lines: list[ConversationLine], step: str, description: str
    ) -> Evidence:
        """A picture of conversation lines (e.g. the formal T&C macro and the customer's ACEPTO)."""
        messages = [(line.author, f"{line.at:%d/%m/%Y %H:%M}", line.body, line.author == "Cliente") for line in lines]
        content = self._draw(lambda card: card.show(f"Ticket #{ticket_id} · {subject}", messages))
        return Evidence.capture(portal="zendesk", step=step, description=description, content=content)

    def plans_card(self, plans: list[str]) -> Evidence:
        """The image of the plans on offer that the offer macros attach."""
        content = self._draw(lambda card: card.show_plans("Planes pospago vigentes", plans))
        return Evidence.capture(
            portal="rpa", step="planes_vigentes", description="Planes pospago ofertados", content=content
        )
