"""The person on the other side of WhatsApp, and the supervisor who reviews her documents, played by script.

Regression runs and the demo need a customer who answers the robot's macros the way a scenario says
(answers late, never, with the wrong token, with another person's CI) without a human at the keyboard.
A ticket's ``customer`` script (``mock_portals.world.CustomerScript``) says what she answers to each
application of each macro; ``CustomerSimulator`` watches the world and plays it:

* when ``ticket.macros_applied`` grows, it looks up the reply for that macro (by its short name in
  ``mock_portals.macro_names.MACROS``) and its occurrence, waits the reply's delay and adds a public
  comment authored by the requester, ``via="whatsapp"``: text, the CI photos and selfie (PNG
  attachments drawn at run time), or the code of the newest SMS from 7371 on the line, sent on time,
  late or mistyped;
* when an agent posts an internal note containing ``REVIEW_REQUEST``, the supervisor answers with an
  internal note ``#aprobar`` or ``#rechazar Motivo: ...`` (or stays silent), as ``reviewer`` says.

Answers on one ticket go out in the order of the macros that asked for them. What the simulator did is
logged in ``world.state.records["customer"]`` (``GET /_control/world`` shows it). The task runs on the
servers' event loop, the only place the world changes, so it reads and writes the world without locks;
a world reset through the control API cancels every pending answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from loguru import logger
from PIL import Image, ImageDraw, ImageFont

# MACROS and REPLY_KEYS are also read from here by the tests and the regression catalogue.
from mock_portals.macro_names import ALIASES, SHORT_NAME_OF_TITLE
from mock_portals.world import (
    Comment,
    CustomerReply,
    CustomerScript,
    ReviewerAnswer,
    Sms,
    Ticket,
    User,
    World,
    WorldState,
    utc_now,
)
from mock_portals.zendesk import add_customer_message

#: The runner puts this in an internal note to ask a person to review the CI photos and selfie.
REVIEW_REQUEST = "Revisión de documentos requerida"
#: The reviewer's answer starts with one of these; a rejection goes on with "Motivo: <reason>".
APPROVE_TAG = "#aprobar"
REJECT_TAG = "#rechazar"
SUPERVISOR_NAME = "Supervisor"
SUPERVISOR_EMAIL = "supervisor@contactcentre.example"

TOKEN_SENDER = "7371"
RECORDS_KEY = "customer"
DOCUMENT_FILES = ("ci_anverso.png", "ci_reverso.png", "selfie_ci.png")
DOCUMENTS_ONLY_BODY = "Te envío las fotos de mi carnet (anverso y reverso) y la selfie con mi carnet."
#: Once a token expires, the late customer waits this much longer before sending it.
LATE_MARGIN_SECONDS = 0.5


# --------------------------------------------------------------------------------------------
# What the customer says
# --------------------------------------------------------------------------------------------
def reply_key(script: CustomerScript, title: str) -> str | None:
    """The key of ``script.replies`` that answers the macro titled ``title``, if any."""
    short = SHORT_NAME_OF_TITLE.get(title)
    if short is None:
        return None
    if short in script.replies:
        return short
    for alias, members in ALIASES.items():
        if short in members and alias in script.replies:
            return alias
    return None


def customer_says(
    world: World, ticket: Ticket, body: str, *, documents: bool = False, script: CustomerScript | None = None
) -> Comment:
    """Add a WhatsApp message of the ticket's requester, with the CI photos and selfie if asked."""
    files: list[tuple[str, str, bytes]] = []
    if documents:
        name, ci = document_holder(world, ticket, script or ticket.customer)
        files = [(file_name, "image/png", content) for file_name, content in document_images(name, ci).items()]
    # Zendesk's own rules for a requester's message (it reopens the ticket) live with the Zendesk mock.
    return add_customer_message(world, ticket, body, files)


def document_holder(world: World, ticket: Ticket, script: CustomerScript | None) -> tuple[str, str]:
    """Name and CI the photos show: the script's, else the ticket's holder, else the line's holder."""
    line = world.state.lines.get(ticket.fields.line or "")
    requester = world.state.users.get(ticket.requester_id)
    name = (
        (script and script.document_name)
        or ticket.fields.holder_name
        or (line and line.holder_name)
        or (requester and requester.name)
        or "Cliente"
    )
    ci = (script and script.document_ci) or ticket.fields.holder_ci or (line and line.holder_ci) or "0000000"
    return name, ci


_CODE = re.compile(r"\b[A-Z0-9]{4,12}\b")


def token_code(text: str) -> str | None:
    """The code in an SMS: the first word of 4-12 capitals and digits mixing both, else the first such word."""
    words = [w for w in _CODE.findall(text) if w != TOKEN_SENDER]
    mixed = [w for w in words if not w.isdigit() and not w.isalpha()]
    return (mixed or words or [None])[0]


def mistype(code: str) -> str:
    """The code with its last character changed, as a customer copying it by hand might."""
    last = code[-1]
    if last.isdigit():
        changed = str((int(last) + 1) % 10)
    elif last.isalpha():
        base = "A" if last.isupper() else "a"
        changed = chr(ord(base) + (ord(last) - ord(base) + 1) % 26)
    else:
        changed = "X"
    return code[:-1] + changed


def supervisor(world: World) -> User:
    """The supervisor who reviews documents, created in the world the first time it is needed."""
    for user in world.state.users.values():
        if user.email == SUPERVISOR_EMAIL:
            return user
    user = User(id=world.next_id(), name=SUPERVISOR_NAME, email=SUPERVISOR_EMAIL, role="agent")
    world.state.users[user.id] = user
    return user


def review_body(answer: ReviewerAnswer) -> str:
    return APPROVE_TAG if answer.decision == "approve" else f"{REJECT_TAG} Motivo: {answer.reason}"


def is_review_request(world: World, comment: Comment) -> bool:
    author = world.state.users.get(comment.author_id)
    return (
        not comment.public
        and REVIEW_REQUEST in comment.body
        and not (author is not None and author.email == SUPERVISOR_EMAIL)
    )


# --------------------------------------------------------------------------------------------
# The documents: drawn cards and a drawn selfie, never a real person
# --------------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> tuple[Any, bool]:
    """A font of that size, and whether it can draw accents (Pillow's built-in one cannot)."""
    for name in (
        ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf") if bold else ("DejaVuSans.ttf", "LiberationSans-Regular.ttf")
    ):
        with contextlib.suppress(OSError):
            return ImageFont.truetype(name, size), True
    return ImageFont.load_default(size), False


def _write(
    draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int, *, bold: bool = False, fill: str = "#1b2a3a"
) -> None:
    font, full = _font(size, bold)
    if not full:
        text = unicodedata.normalize("NFKD", text.replace("—", "-")).encode("ascii", "ignore").decode()
    draw.text(xy, text, font=font, fill=fill)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _card(title: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (520, 330), "#f3efe2")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((6, 6, 513, 323), radius=18, fill="#dfe9f2", outline="#2f5d87", width=3)
    draw.rectangle((6, 24, 513, 70), fill="#2f5d87")
    _write(draw, (22, 34), title, 21, bold=True, fill="white")
    _write(draw, (22, 296), "DOCUMENTO SIMULADO — SIN VALIDEZ", 12, fill="#7a4b2a")
    return image, draw


def document_images(name: str, ci: str) -> dict[str, bytes]:
    """The three pictures the customer sends: CI front, CI back and a selfie holding the CI (PNG)."""
    front, draw = _card("CÉDULA DE IDENTIDAD — ANVERSO")
    draw.rounded_rectangle((24, 90, 154, 260), radius=8, fill="#c9d3dc", outline="#60758a", width=2)
    draw.ellipse((59, 112, 119, 172), fill="#8a9bab")
    draw.pieslice((39, 178, 139, 278), 180, 360, fill="#8a9bab")
    _write(draw, (176, 96), "Nombre", 13, fill="#4b5d70")
    _write(draw, (176, 114), name, 18, bold=True)
    _write(draw, (176, 160), "Cédula de identidad", 13, fill="#4b5d70")
    _write(draw, (176, 178), f"CI {ci}", 22, bold=True)
    _write(draw, (176, 226), "Vence: 31/12/2030", 14, fill="#4b5d70")

    back, draw = _card("CÉDULA DE IDENTIDAD — REVERSO")
    for ring in range(6):
        draw.ellipse((40 + ring * 7, 96 + ring * 9, 140 - ring * 7, 216 - ring * 9), outline="#60758a", width=2)
    _write(draw, (30, 226), "Huella", 13, fill="#4b5d70")
    _write(draw, (176, 96), f"CI {ci}", 18, bold=True)
    _write(draw, (176, 126), name, 15)
    draw.line((176, 200, 470, 200), fill="#60758a", width=2)
    _write(draw, (176, 206), "Firma del titular", 12, fill="#4b5d70")
    for bar in range(40):
        x = 176 + bar * 7
        draw.rectangle((x, 240, x + (2 if bar % 3 else 4), 282), fill="#1b2a3a")

    selfie = Image.new("RGB", (360, 480), "#cfe3d4")
    draw = ImageDraw.Draw(selfie)
    _write(draw, (16, 14), "SELFIE CON CI — SIMULADA", 18, bold=True)
    draw.rounded_rectangle((80, 300, 280, 480), radius=40, fill="#5c7f9e")
    draw.ellipse((120, 110, 240, 250), fill="#e2c2a0", outline="#8c6a4c", width=2)
    draw.ellipse((150, 160, 162, 172), fill="#33302d")
    draw.ellipse((198, 160, 210, 172), fill="#33302d")
    draw.arc((150, 180, 210, 225), 20, 160, fill="#8c4a3c", width=3)
    draw.line((285, 300, 300, 215), fill="#e2c2a0", width=10)  # the distinctive gesture: two fingers up
    draw.line((292, 300, 325, 222), fill="#e2c2a0", width=10)
    draw.ellipse((268, 290, 318, 340), fill="#e2c2a0")
    draw.rounded_rectangle((40, 330, 190, 420), radius=8, fill="#dfe9f2", outline="#2f5d87", width=3)
    _write(draw, (52, 344), "CÉDULA", 14, bold=True)
    _write(draw, (52, 370), f"CI {ci}", 16, bold=True)
    _write(draw, (16, 450), "Seña: dos dedos en V", 13)
    return dict(zip(DOCUMENT_FILES, (_png(front), _png(back), _png(selfie)), strict=True))


# --------------------------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------------------------
@dataclass
class _Say:
    """One answer of the customer: to which ticket, macro and time that macro was applied."""

    ticket: Ticket
    macro: str
    occurrence: int
    at: datetime = field(default_factory=utc_now)


@dataclass
class _Watch:
    """How far the simulator has read one ticket, and the last answer queued on it."""

    macros_seen: int = 0
    comments_seen: int = 0
    review_requests: int = 0
    customer_turn: asyncio.Task[None] | None = None
    reviewer_turn: asyncio.Task[None] | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


#: How long a customer with only an older unanswered SMS waits for the announced new one.
FRESH_SMS_GRACE_SECONDS = 1.5


class CustomerSimulator:
    """Plays every scripted ticket's customer and reviewer, polling the world on the servers' loop."""

    def __init__(self, world: World, *, poll_seconds: float = 0.05) -> None:
        self.world = world
        self.poll_seconds = poll_seconds
        self._state: WorldState | None = None
        self._watches: dict[int, _Watch] = {}
        # SMS from 7371 already answered, per line: a new token is one beyond this count.
        self._sms_used: dict[str, int] = {}

    async def run(self) -> None:
        """Watch the world until cancelled."""
        try:
            while True:
                try:
                    self.tick()
                except Exception:  # a broken script must not stop the other tickets' customers
                    logger.exception("customer simulator: tick failed")
                await asyncio.sleep(self.poll_seconds)
        finally:
            self._forget()

    def tick(self) -> None:
        """Queue an answer for every macro applied and every review requested since the last tick."""
        state = self.world.state
        if state is not self._state:
            self._forget()
            self._state = state
        for ticket in list(state.tickets.values()):
            if ticket.customer is None:
                continue
            watch = self._watches.setdefault(ticket.id, _Watch())
            while watch.macros_seen < len(ticket.macros_applied):
                index = watch.macros_seen
                watch.macros_seen += 1
                watch.customer_turn = self._queue(
                    ticket, watch, watch.customer_turn, functools.partial(self._answer_macro, state, ticket, index)
                )
            while watch.comments_seen < len(ticket.comments):
                comment = ticket.comments[watch.comments_seen]
                watch.comments_seen += 1
                if is_review_request(self.world, comment):
                    watch.review_requests += 1
                    watch.reviewer_turn = self._queue(
                        ticket,
                        watch,
                        watch.reviewer_turn,
                        functools.partial(self._review, state, ticket, watch.review_requests),
                    )

    # -- turns ----------------------------------------------------------------------------------
    def _queue(
        self, ticket: Ticket, watch: _Watch, previous: asyncio.Task[None] | None, step: Callable[[], Awaitable[None]]
    ) -> asyncio.Task[None]:
        async def in_turn() -> None:
            if previous is not None:
                await asyncio.wait([previous])  # waits without inheriting its failure or cancellation
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("customer simulator: answer on ticket {} failed", ticket.id)
                if self.world.state is self._state:
                    self._record(ticket, "error", detail=repr(exc))

        task = asyncio.get_running_loop().create_task(in_turn())
        watch.tasks.add(task)
        task.add_done_callback(watch.tasks.discard)
        return task

    def _forget(self) -> None:
        for watch in self._watches.values():
            for task in list(watch.tasks):
                task.cancel()
        self._watches.clear()
        self._sms_used.clear()

    def _current(self, state: WorldState) -> bool:
        return self.world.state is state

    def _record(
        self,
        ticket: Ticket,
        action: str,
        *,
        macro: str | None = None,
        occurrence: int | None = None,
        detail: str | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "ticket": ticket.id,
            "macro": macro,
            "occurrence": occurrence,
            "action": action,
            "at": utc_now().isoformat(),
        }
        if detail:
            entry["detail"] = detail
        self.world.state.records.setdefault(RECORDS_KEY, []).append(entry)

    # -- the customer ----------------------------------------------------------------------------
    async def _answer_macro(self, state: WorldState, ticket: Ticket, index: int) -> None:
        script = ticket.customer
        if script is None or not self._current(state):
            return
        applied = ticket.macros_applied[: index + 1]
        title = applied[-1]
        short = SHORT_NAME_OF_TITLE.get(title, title)
        key = reply_key(script, title)
        if key is None:
            self._record(ticket, "silent", macro=short, occurrence=applied.count(title), detail="no reply scripted")
            return
        occurrence = sum(1 for t in applied if reply_key(script, t) == key)
        replies = script.replies[key]
        reply = replies[min(occurrence, len(replies)) - 1]
        say = _Say(ticket=ticket, macro=short, occurrence=occurrence)
        if reply.silent or (reply.token == "silent" and reply.text is None and not reply.documents):
            self._record(ticket, "silent", macro=short, occurrence=occurrence)
            return
        await asyncio.sleep(script.delay_seconds if reply.delay_seconds is None else reply.delay_seconds)
        if not self._current(state):
            return
        await self._say(state, script, reply, say)

    async def _say(self, state: WorldState, script: CustomerScript, reply: CustomerReply, say: _Say) -> None:
        actions: list[str] = []
        body = reply.text
        if reply.text is not None:
            actions.append("text")
        if reply.token not in (None, "silent"):
            sms = await self._new_sms(state, say.ticket, script, after=say.at)
            if sms is None:
                self._record(
                    say.ticket,
                    "no_sms",
                    macro=say.macro,
                    occurrence=say.occurrence,
                    detail=f"no new SMS from {TOKEN_SENDER} on line {self._line(say.ticket, script)}",
                )
                return
            code = token_code(sms.text) or sms.text.strip()
            if reply.token == "late":
                expiry = sms.sent_at + timedelta(seconds=self.world.scenario.token_ttl_seconds + LATE_MARGIN_SECONDS)
                await asyncio.sleep(max(0.0, (expiry - utc_now()).total_seconds()))
                if not self._current(state):
                    return
            elif reply.token == "mistyped":
                code = mistype(code)
            if body is None:
                body = code
            elif "{token}" in body:
                body = body.replace("{token}", code)
            else:
                body = f"{body} {code}"
            actions = [f"token_{reply.token}"]
        if reply.documents:
            actions.append("documents")
        customer_says(
            self.world,
            say.ticket,
            body if body is not None else DOCUMENTS_ONLY_BODY,
            documents=reply.documents,
            script=script,
        )
        self._record(say.ticket, "+".join(actions), macro=say.macro, occurrence=say.occurrence)

    def _line(self, ticket: Ticket, script: CustomerScript) -> str:
        if script.line or ticket.fields.line:
            return script.line or ticket.fields.line or ""
        requester = self.world.state.users.get(ticket.requester_id)
        digits = re.sub(r"\D", "", (requester.phone if requester else "") or "")
        return digits[-8:]

    async def _new_sms(self, state: WorldState, ticket: Ticket, script: CustomerScript, after: datetime) -> Sms | None:
        """The newest SMS from 7371 on the line not answered yet, waiting for it up to ``sms_wait_seconds``.

        Told that a code is on its way, a person who only has an older unanswered SMS gives the new
        one a moment (``FRESH_SMS_GRACE_SECONDS``) to arrive before typing the older code.
        """
        line = self._line(ticket, script)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + script.sms_wait_seconds
        patience = loop.time() + FRESH_SMS_GRACE_SECONDS
        while True:
            if not self._current(state):
                return None
            inbox = [sms for sms in state.sms.get(line, []) if sms.sender == TOKEN_SENDER]
            fresh = bool(inbox) and inbox[-1].sent_at >= after
            if len(inbox) > self._sms_used.get(line, 0) and (fresh or loop.time() >= patience):
                self._sms_used[line] = len(inbox)
                return inbox[-1]
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(self.poll_seconds)

    # -- the reviewer ----------------------------------------------------------------------------
    async def _review(self, state: WorldState, ticket: Ticket, number: int) -> None:
        script = ticket.customer
        if script is None or not self._current(state):
            return
        answers = script.reviewer or [ReviewerAnswer(decision="silent")]
        answer = answers[min(number, len(answers)) - 1]
        if answer.decision == "silent":
            self._record(ticket, "review_silent", occurrence=number)
            return
        await asyncio.sleep(script.delay_seconds if answer.delay_seconds is None else answer.delay_seconds)
        if not self._current(state):
            return
        self.world.add_comment(
            ticket, author_id=supervisor(self.world).id, body=review_body(answer), public=False, via="web"
        )
        self._record(ticket, f"review_{answer.decision}", occurrence=number)
