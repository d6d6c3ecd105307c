"""Evidence of what was said on WhatsApp: the agent's formal macro and the customer's answer as a picture."""

from __future__ import annotations

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

    def _draw(self, fill: Callable[[ConversationCard], Awaitable[None]]) -> bytes:
        async def draw() -> bytes:
            context = await self.host.new_context(viewport={"width": 700, "height": 400})
            try:
                card = ConversationCard(await context.new_page())
                await fill(card)
                return await card.picture()
            finally:
                await context.close()

        return self.host.run(draw())

    def capture(self, *, ticket_id: int, subject: str, lines: list[ConversationLine], step: str,
                description: str) -> Evidence:
        """A picture of conversation lines (e.g. the formal T&C macro and the customer's ACEPTO)."""
        messages = [(line.author, f"{line.at:%d/%m/%Y %H:%M}", line.body, line.author == "Cliente")
                    for line in lines]
        content = self._draw(lambda card: card.show(f"Ticket #{ticket_id} · {subject}", messages))
        return Evidence.capture(portal="zendesk", step=step, description=description, content=content)

    def plans_card(self, plans: list[str]) -> Evidence:
        """The image of the plans on offer that the offer macros attach."""
        content = self._draw(lambda card: card.show_plans("Planes pospago vigentes", plans))
        return Evidence.capture(portal="rpa", step="planes_vigentes", description="Planes pospago ofertados",
                                content=content)
