"""The person on the other side of WhatsApp, the supervisor who reviews her documents and the agent on
duty who takes over from the robot, played by script.

Regression runs and the demo need a customer who answers the robot's macros the way a scenario says
(answers late, never, with the wrong token, with another person's CI, with a sticker) without a human
at the keyboard, and people who answer the robot's internal notes. A ticket's ``customer`` script
(``mock_portals.world.CustomerScript``) says what each of them answers; ``CustomerSimulator`` watches
the world and plays it:

* when a macro is applied, it looks up the reply for that macro (by its short name in
  ``mock_portals.macro_names.MACROS``) and its occurrence, waits the reply's delay and adds a public
  comment authored by the requester, ``via="whatsapp"``: text, the CI photos and selfie (drawn at run
  time, named ``ci_anverso.png``... or as WhatsApp names photos, ``IMG-<date>-WA0001.jpg``...), other
  files WhatsApp carries (a sticker, a voice note, a photo of something else, a PDF), or the code of the
  newest SMS from 7371 on the line, sent on time, late or mistyped;
* when an agent writes a public reply that is no macro's (the robot asking again what it did not
  understand), the customer answers it as ``replies.aclaracion`` says, or not at all without that key;
* when an agent posts an internal note containing ``REVIEW_REQUEST``, the supervisor answers with an
  internal note ``#aprobar anverso=N reverso=N selfie=N`` (the numbers the request gave the photos she
  knows to be the front, the back and the selfie; plain ``#aprobar`` when it does not list them all),
  ``#rechazar Motivo: ...``, or stays silent, as ``reviewer`` says;
* when the robot hands the ticket over with an internal note starting ``HANDOFF_REQUEST``, the agent on
  duty fills the ticket fields and posts the command note ``agent`` says, or does nothing.

The customer's answers on one ticket go out in the order of the messages that asked for them. What the
simulator did is logged in ``world.state.records["customer"]``, and which file the customer sent is
which (a WhatsApp name does not tell a CI's front from a selfie; she knows, having taken them) in
``world.state.records["customer_files"]``; ``GET /_control/world`` shows both. The task runs on the
servers' event loop, the only place the world changes, so it reads and writes the world without locks;
a world reset through the control API cancels every pending answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import re
import struct
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from fpdf import FPDF
from loguru import logger
from PIL import Image, ImageDraw, ImageFont

# MACROS and REPLY_KEYS are also read from here by the tests and the regression catalogue.
from mock_portals.ar import TOKEN_ALPHABET
from mock_portals.macro_names import ALIASES, CLARIFICATION_KEY, SHORT_NAME_OF_TITLE
from mock_portals.world import (
    AgentAnswer,
    Comment,
    CustomerReply,
    CustomerScript,
    DocumentStyle,
    FileKind,
    ReviewerAnswer,
    Sms,
    Ticket,
    User,
    World,
    WorldState,
    utc_now,
)
from mock_portals.zendesk import TEXT_FIELDS, add_customer_message, set_field_value

#: The runner puts this in an internal note to ask a person to review the CI photos and selfie.
REVIEW_REQUEST = "Revisión de documentos requerida"
#: The reviewer's answer starts with one of these; a rejection goes on with "Motivo: <reason>".
APPROVE_TAG = "#aprobar"
REJECT_TAG = "#rechazar"
SUPERVISOR_NAME = "Supervisor"
SUPERVISOR_EMAIL = "supervisor@contactcentre.example"
#: The robot's internal note handing a ticket over to a person starts with this.
HANDOFF_REQUEST = "El robot necesita un agente"
AGENT_NAME = "Agente de turno"
AGENT_EMAIL = "agente.turno@contactcentre.example"

TOKEN_SENDER = "7371"
RECORDS_KEY = "customer"
#: Under this key of the world's records: which file each of the customer's messages carried, and its kind.
FILES_RECORDS_KEY = "customer_files"
#: The kinds of the three pictures, in the order they are sent; also the labels of a labelled approval.
DOCUMENT_KINDS = ("anverso", "reverso", "selfie")
DOCUMENT_FILES = ("ci_anverso.png", "ci_reverso.png", "selfie_ci.png")
DOCUMENTS_ONLY_BODY = "Te envío las fotos de mi carnet (anverso y reverso) y la selfie con mi carnet."
#: Bolivia keeps UTC-4 all year; the customer's phone names files by its own date.
LA_PAZ = timezone(timedelta(hours=-4))
#: ``FIELD_ID_OF[key]``: the Zendesk field of a scenario's ticket field key (``line``, ``holder_ci``...).
FIELD_ID_OF: dict[str, int] = {attribute: field_id for field_id, (_, attribute) in TEXT_FIELDS.items()}
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
    world: World,
    ticket: Ticket,
    body: str,
    *,
    documents: bool = False,
    files: Sequence[FileKind] = (),
    script: CustomerScript | None = None,
) -> Comment:
    """Add a WhatsApp message of the ticket's requester, with the CI photos and selfie and other files if asked.

    The photos are named as the script's ``document_style`` says; which file is which is remembered in
    the world's records (``FILES_RECORDS_KEY``).
    """
    script = script or ticket.customer
    day = datetime.now(LA_PAZ).date()
    sent: list[SentFile] = []
    if documents:
        name, ci = document_holder(world, ticket, script)
        sent += document_files(name, ci, script.document_style if script else "named", day)
    sent += [extra_file(kind, day) for kind in files]
    # Zendesk's own rules for a requester's message (it reopens the ticket) live with the Zendesk mock.
    comment = add_customer_message(world, ticket, body, [(f.file_name, f.content_type, f.content) for f in sent])
    remembered = world.state.records.setdefault(FILES_RECORDS_KEY, [])
    remembered += [{"ticket": ticket.id, "comment": comment.id, "file_name": f.file_name, "kind": f.kind} for f in sent]
    return comment


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
    """The code with its last character changed, as a customer copying it by hand might: into another
    character AR's codes use and of the same kind (a digit for a digit, a letter for a letter), so the
    mistake still looks like a code (letters and a digit) and only AR can tell it is wrong."""
    last = code[-1].upper()
    letters = "".join(c for c in TOKEN_ALPHABET if c.isalpha()) or "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    digits = "".join(c for c in TOKEN_ALPHABET if c.isdigit()) or "0123456789"
    kind = digits if last.isdigit() else letters
    changed = kind[(kind.index(last) + 1) % len(kind)] if last in kind else kind[0]
    return code[:-1] + changed


def supervisor(world: World) -> User:
    """The supervisor who reviews documents, created in the world the first time it is needed."""
    for user in world.state.users.values():
        if user.email == SUPERVISOR_EMAIL:
            return user
    user = User(id=world.next_id(), name=SUPERVISOR_NAME, email=SUPERVISOR_EMAIL, role="agent")
    world.state.users[user.id] = user
    return user


def agent_on_duty(world: World) -> User:
    """The agent who takes over tickets the robot hands over, created in the world the first time it is needed."""
    for user in world.state.users.values():
        if user.email == AGENT_EMAIL:
            return user
    user = User(id=world.next_id(), name=AGENT_NAME, email=AGENT_EMAIL, role="agent")
    world.state.users[user.id] = user
    return user


def review_body(answer: ReviewerAnswer, approval: str = APPROVE_TAG) -> str:
    return approval if answer.decision == "approve" else f"{REJECT_TAG} Motivo: {answer.reason}"


#: A photo listed in a review request: ``N. <file name>``, the name maybe prefixed with ``<comment id>-``.
_LISTED_FILE = re.compile(r"^[ \t]*(\d+)\.[ \t]+(\S[^\n]*?)[ \t]*$", re.MULTILINE)


def labelled_approval(world: World, ticket: Ticket, request: str) -> str:
    """``#aprobar anverso=N reverso=N selfie=N`` with the numbers ``request`` gives the customer's photos.

    A listed name is one of hers when it ends with the name she sent it under; when she sent the
    pictures more than once, the newest of each kind counts. Without all three, plain ``#aprobar``.
    """
    sent = [
        entry
        for entry in world.state.records.get(FILES_RECORDS_KEY, [])
        if entry["ticket"] == ticket.id and entry["kind"] in DOCUMENT_KINDS
    ]
    chosen: dict[str, tuple[int, int]] = {}  # kind -> (how recent the photo is, its number in the list)
    for match in _LISTED_FILE.finditer(request):
        number, listed = int(match[1]), match[2].strip("`'\" ")
        exact = [n for n, e in enumerate(sent) if listed == f"{e['comment']}-{e['file_name']}"]
        by_name = [n for n, e in enumerate(sent) if listed.endswith(e["file_name"])]
        found = exact or by_name
        if not found:
            continue
        recency = found[-1]
        kind = sent[recency]["kind"]
        if kind not in chosen or recency >= chosen[kind][0]:
            chosen[kind] = (recency, number)
    if set(chosen) != set(DOCUMENT_KINDS):
        return APPROVE_TAG
    return " ".join([APPROVE_TAG, *(f"{kind}={chosen[kind][1]}" for kind in DOCUMENT_KINDS)])


def is_review_request(world: World, comment: Comment) -> bool:
    author = world.state.users.get(comment.author_id)
    return (
        not comment.public
        and REVIEW_REQUEST in comment.body
        and not (author is not None and author.email == SUPERVISOR_EMAIL)
    )


def is_handoff_request(world: World, comment: Comment) -> bool:
    """An internal note of the robot asking a person to take over (never the agent on duty's own note)."""
    author = world.state.users.get(comment.author_id)
    return (
        not comment.public
        and comment.body.lstrip().startswith(HANDOFF_REQUEST)
        and not (author is not None and author.email == AGENT_EMAIL)
    )


def is_clarifying_reply(world: World, ticket: Ticket, comment: Comment) -> bool:
    """A public reply of an agent that no macro wrote: the robot asking what it did not understand.

    The conversation a scenario seeds (``via="whatsapp"``) is history the customer has already read.
    """
    author = world.state.users.get(comment.author_id)
    return (
        comment.public
        and comment.macro_title is None
        and comment.via != "whatsapp"
        and comment.author_id != ticket.requester_id
        and author is not None
        and author.role in ("agent", "admin")
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


def _encoded(image: Image.Image, image_format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    return _encoded(image, "PNG", optimize=True)


def _jpeg(image: Image.Image) -> bytes:
    return _encoded(image.convert("RGB"), "JPEG", quality=85)


def _card(title: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (520, 330), "#f3efe2")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((6, 6, 513, 323), radius=18, fill="#dfe9f2", outline="#2f5d87", width=3)
    draw.rectangle((6, 24, 513, 70), fill="#2f5d87")
    _write(draw, (22, 34), title, 21, bold=True, fill="white")
    _write(draw, (22, 296), "DOCUMENTO SIMULADO — SIN VALIDEZ", 12, fill="#7a4b2a")
    return image, draw


def document_pictures(name: str, ci: str) -> tuple[Image.Image, Image.Image, Image.Image]:
    """The three pictures the customer sends: CI front, CI back and a selfie holding the CI."""
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
    return front, back, selfie


def document_images(name: str, ci: str) -> dict[str, bytes]:
    """The three pictures as PNG, by their ``named`` file names."""
    return dict(zip(DOCUMENT_FILES, map(_png, document_pictures(name, ci)), strict=True))


# --------------------------------------------------------------------------------------------
# The files a WhatsApp message carries, named as WhatsApp names them
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SentFile:
    """One attachment of a customer's message, and what it is (``DOCUMENT_KINDS`` or a ``FileKind``)."""

    file_name: str
    content_type: str
    content: bytes
    kind: str


def whatsapp_name(prefix: str, day: date, number: int, extension: str) -> str:
    """WhatsApp's name for a media file: ``IMG-20261129-WA0001.jpg``."""
    return f"{prefix}-{day:%Y%m%d}-WA{number:04d}.{extension}"


def document_files(name: str, ci: str, style: DocumentStyle, day: date) -> list[SentFile]:
    """The CI front, back and selfie: ``named`` PNGs, or JPEGs named by WhatsApp that do not tell which is which."""
    pictures = document_pictures(name, ci)
    if style == "named":
        return [
            SentFile(file_name, "image/png", _png(picture), kind)
            for file_name, picture, kind in zip(DOCUMENT_FILES, pictures, DOCUMENT_KINDS, strict=True)
        ]
    return [
        SentFile(whatsapp_name("IMG", day, number, "jpg"), "image/jpeg", _jpeg(picture), kind)
        for number, (picture, kind) in enumerate(zip(pictures, DOCUMENT_KINDS, strict=True), start=1)
    ]


def extra_file(kind: FileKind, day: date) -> SentFile:
    """A file WhatsApp carries that is none of the CI pictures."""
    if kind == "sticker":
        return SentFile(whatsapp_name("STK", day, 1, "webp"), "image/webp", _sticker(), kind)
    if kind == "voice_note":
        return SentFile(whatsapp_name("PTT", day, 1, "opus"), "audio/ogg", _voice_note(), kind)
    if kind == "photo":
        # Numbered past the CI pictures so that it never shares a name with one of them.
        return SentFile(whatsapp_name("IMG", day, 7, "jpg"), "image/jpeg", _jpeg(_landscape()), kind)
    return SentFile(whatsapp_name("DOC", day, 1, "pdf"), "application/pdf", _receipt_pdf(), kind)


def _sticker() -> bytes:
    """A small WebP sticker: a smiling face giving a thumbs up, on a transparent background."""
    image = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, 150, 150), fill="#ffcc33", outline="#b8860b", width=4)
    draw.ellipse((50, 55, 64, 75), fill="#3b2a14")
    draw.ellipse((96, 55, 110, 75), fill="#3b2a14")
    draw.arc((45, 70, 115, 125), 20, 160, fill="#3b2a14", width=6)
    return _encoded(image, "WEBP", quality=80)


def _landscape() -> Image.Image:
    """A holiday photo: a snowy mountain over a lake; nothing like an identity document."""
    image = Image.new("RGB", (640, 480), "#8ec5ff")
    draw = ImageDraw.Draw(image)
    draw.ellipse((500, 40, 580, 120), fill="#fff3b0")
    draw.polygon([(40, 330), (250, 110), (460, 330)], fill="#6d7a8c")
    draw.polygon([(200, 162), (250, 110), (300, 162), (272, 150), (250, 168), (228, 150)], fill="white")
    draw.polygon([(300, 330), (470, 170), (640, 330)], fill="#59677a")
    draw.rectangle((0, 330, 640, 480), fill="#3f7fbf")
    _write(draw, (16, 450), "FOTO SIMULADA", 14, fill="white")
    return image


def _ogg_crc(data: bytes) -> int:
    """Ogg's page checksum: CRC-32 with polynomial 0x04C11DB7, not reflected, starting at 0."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(packet: bytes, sequence: int, header_type: int) -> bytes:
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, header_type, 0, 0x5741, sequence, 0, len(lacing))
    page = header + bytes(lacing) + packet
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def _voice_note() -> bytes:
    """A voice note's Ogg Opus headers (identification and comments), with no sound after them."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    vendor = b"WhatsApp simulado"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    return _ogg_page(head, 0, 0x02) + _ogg_page(tags, 1, 0x04)


def _receipt_pdf() -> bytes:
    """A one-page PDF the customer had at hand: a payment receipt, not a document of the process."""
    pdf = FPDF(format="A4")
    pdf.set_title("Comprobante de pago")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, "Comprobante de pago", new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "Pago de servicio de agua potable - documento simulado, sin validez.")
    return bytes(pdf.output())


# --------------------------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------------------------
@dataclass
class _Say:
    """One answer of the customer: to which ticket, which message (a macro's short name or
    ``aclaracion``), its occurrence, and when she read it."""

    ticket: Ticket
    macro: str
    occurrence: int
    at: datetime = field(default_factory=utc_now)


@dataclass
class _Watch:
    """How far the simulator has read one ticket, and the last answer queued for each person on it."""

    macros_seen: int = 0
    comments_seen: int = 0
    clarifications: int = 0
    review_requests: int = 0
    handoffs: int = 0
    customer_turn: asyncio.Task[None] | None = None
    reviewer_turn: asyncio.Task[None] | None = None
    agent_turn: asyncio.Task[None] | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


#: How long a customer with only an older unanswered SMS waits for the announced new one.
FRESH_SMS_GRACE_SECONDS = 1.5


class CustomerSimulator:
    """Plays every scripted ticket's customer, reviewer and agent on duty, polling the world on the servers' loop."""

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
        """Queue an answer for every macro, clarifying reply, review request and hand-off since the last tick.

        Comments are read in order, and a macro's answer is queued when its reply is read, so the customer
        answers a clarifying question and a macro in the order she received them.
        """
        state = self.world.state
        if state is not self._state:
            self._forget()
            self._state = state
        for ticket in list(state.tickets.values()):
            if ticket.customer is None:
                continue
            watch = self._watches.setdefault(ticket.id, _Watch())
            while watch.comments_seen < len(ticket.comments):
                comment = ticket.comments[watch.comments_seen]
                watch.comments_seen += 1
                if comment.macro_title is not None:
                    self._queue_macros(state, ticket, watch, through=comment.macro_title)
                elif is_clarifying_reply(self.world, ticket, comment):
                    watch.clarifications += 1
                    watch.customer_turn = self._queue(
                        ticket,
                        watch,
                        watch.customer_turn,
                        functools.partial(self._answer_clarification, state, ticket, watch.clarifications),
                    )
                elif is_review_request(self.world, comment):
                    watch.review_requests += 1
                    watch.reviewer_turn = self._queue(
                        ticket,
                        watch,
                        watch.reviewer_turn,
                        functools.partial(self._review, state, ticket, watch.review_requests, comment.body),
                    )
                # A note both asking for a review and handing over is the reviewer's, who answers it.
                elif is_handoff_request(self.world, comment):
                    watch.handoffs += 1
                    watch.agent_turn = self._queue(
                        ticket,
                        watch,
                        watch.agent_turn,
                        functools.partial(self._answer_handoff, state, ticket, watch.handoffs),
                    )
            # Macros applied without a reply of their own.
            self._queue_macros(state, ticket, watch)

    def _queue_macros(self, state: WorldState, ticket: Ticket, watch: _Watch, through: str | None = None) -> None:
        """Queue the answers to the macros applied and not yet read, up to the first one titled ``through``."""
        while watch.macros_seen < len(ticket.macros_applied):
            index = watch.macros_seen
            watch.macros_seen += 1
            watch.customer_turn = self._queue(
                ticket, watch, watch.customer_turn, functools.partial(self._answer_macro, state, ticket, index)
            )
            if ticket.macros_applied[index] == through:
                return

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
        await self._reply(state, script, reply, _Say(ticket=ticket, macro=short, occurrence=occurrence))

    async def _answer_clarification(self, state: WorldState, ticket: Ticket, number: int) -> None:
        script = ticket.customer
        if script is None or not self._current(state):
            return
        replies = script.replies.get(CLARIFICATION_KEY)
        if not replies:
            self._record(ticket, "silent", macro=CLARIFICATION_KEY, occurrence=number, detail="no reply scripted")
            return
        reply = replies[min(number, len(replies)) - 1]
        await self._reply(state, script, reply, _Say(ticket=ticket, macro=CLARIFICATION_KEY, occurrence=number))

    async def _reply(self, state: WorldState, script: CustomerScript, reply: CustomerReply, say: _Say) -> None:
        says_nothing = reply.token == "silent" and reply.text is None and not reply.documents and not reply.files
        if reply.silent or says_nothing:
            self._record(say.ticket, "silent", macro=say.macro, occurrence=say.occurrence)
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
            sms = (
                self._newest_sms(state, say.ticket, script)
                if reply.token == "retyped"
                else await self._new_sms(state, say.ticket, script, after=say.at, grace=say.macro != CLARIFICATION_KEY)
            )
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
        if reply.files:
            actions.append("files")
        if body is None:
            # A sticker or a voice note alone comes with no text.
            body = DOCUMENTS_ONLY_BODY if reply.documents else ""
        customer_says(self.world, say.ticket, body, documents=reply.documents, files=reply.files, script=script)
        self._record(
            say.ticket,
            "+".join(actions),
            macro=say.macro,
            occurrence=say.occurrence,
            detail=", ".join(reply.files) or None,
        )

    def _line(self, ticket: Ticket, script: CustomerScript) -> str:
        if script.line or ticket.fields.line:
            return script.line or ticket.fields.line or ""
        requester = self.world.state.users.get(ticket.requester_id)
        digits = re.sub(r"\D", "", (requester.phone if requester else "") or "")
        return digits[-8:]

    def _newest_sms(self, state: WorldState, ticket: Ticket, script: CustomerScript) -> Sms | None:
        """The newest SMS from 7371 on the line, answered or not (a code typed again after a mistake)."""
        inbox = [sms for sms in state.sms.get(self._line(ticket, script), []) if sms.sender == TOKEN_SENDER]
        return inbox[-1] if inbox else None

    async def _new_sms(
        self, state: WorldState, ticket: Ticket, script: CustomerScript, after: datetime, *, grace: bool = True
    ) -> Sms | None:
        """The newest SMS from 7371 on the line not answered yet, waiting for it up to ``sms_wait_seconds``.

        Told that a code is on its way (a token macro), a person who only has an older unanswered SMS
        gives the new one a moment (``FRESH_SMS_GRACE_SECONDS``) to arrive before typing the older code.
        Reminded to send the code she has (a clarification, ``grace=False``), she types it at once: no new
        SMS is coming, and waiting for one would only eat into the robot's wait on a busy machine.
        """
        line = self._line(ticket, script)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + script.sms_wait_seconds
        patience = loop.time() + (FRESH_SMS_GRACE_SECONDS if grace else 0.0)
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
    async def _review(self, state: WorldState, ticket: Ticket, number: int, request: str) -> None:
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
        body = review_body(answer, labelled_approval(self.world, ticket, request))
        self.world.add_comment(ticket, author_id=supervisor(self.world).id, body=body, public=False, via="web")
        self._record(ticket, f"review_{answer.decision}", occurrence=number, detail=body)

    # -- the agent on duty -----------------------------------------------------------------------
    async def _answer_handoff(self, state: WorldState, ticket: Ticket, number: int) -> None:
        script = ticket.customer
        if script is None or not self._current(state):
            return
        answer = script.agent[min(number, len(script.agent)) - 1] if script.agent else AgentAnswer(silent=True)
        if answer.silent:
            self._record(ticket, "agent_silent", occurrence=number)
            return
        await asyncio.sleep(script.delay_seconds if answer.delay_seconds is None else answer.delay_seconds)
        if not self._current(state):
            return
        actions, done = [], []
        # The fields and the note are one update of the ticket, as when a person saves both at once.
        self.world.touch_ticket(ticket, updater_id=agent_on_duty(self.world).id, via="web")
        if answer.set_fields:
            for key, value in answer.set_fields.items():
                set_field_value(ticket, FIELD_ID_OF[key], value)
            ticket.updated_at = utc_now()
            actions.append("fields")
            done += [f"{key}={value}" for key, value in answer.set_fields.items()]
        if answer.note is not None:
            self.world.add_comment(
                ticket, author_id=agent_on_duty(self.world).id, body=answer.note, public=False, via="web"
            )
            actions.append("note")
            done.append(answer.note)
        self._record(ticket, "agent_" + "+".join(actions), occurrence=number, detail="; ".join(done))
