"""The ticket's side of the process, once each: reading a ticket for a step, macros, replies, the customer's
documents, the T&C acceptance picture and the plans card.

These speak Zendesk's API through the robots' client; like the console steps they are shared by the
durable flow and by the agent's interfaces.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel

from flows.engine.toolkit import Toolkit
from flows.steps.consoles import Done
from flows.steps.evidence_notes import NOTE_TITLES
from pages.errors import InvalidInput
from robots.contrato import Backup, BackupKind
from robots.conversation import ConversationLine
from robots.evidence import Evidence
from robots.identity import normal_ci, normal_line, normal_nit, ticket_identifiers_problem
from robots.zendesk import CommentData, MacroResult, NoteResult, TicketData

#: The robot's internal note asking a person to review the CI photos and selfie starts with these words.
REVIEW_REQUEST = "Revisión de documentos requerida"
#: The folder (under the ticket's evidence folder) where the customer's own documents are kept.
CUSTOMER_FOLDER = "cliente"


# -- the ticket a step works on ------------------------------------------------------------------
def positive_ticket(ticket_id: int) -> int:
    if ticket_id <= 0:
        raise InvalidInput(f"ticket number must be positive, got {ticket_id}")
    return ticket_id


def required_field(value: str | None, ticket_id: int, field: str) -> str:
    if not value:
        raise InvalidInput(f"ticket {ticket_id} has no '{field}' (the field is empty)")
    return value


def normalised(ticket: TicketData) -> TicketData:
    """The ticket with its line, CI and NIT written as every console takes them (``+591 7123-4567`` is
    ``71234567``); a field some console would refuse is left as it is, for ``identifiers_problem`` to name."""
    changes: dict[str, str] = {}
    for field, normal in (("line", normal_line), ("holder_ci", normal_ci), ("billing_nit", normal_nit)):
        value = getattr(ticket, field)
        if value:
            try:
                changes[field] = normal(value)
            except (InvalidInput, ValueError):
                pass
    return ticket.model_copy(update=changes)


def identifiers_problem(ticket: TicketData) -> str | None:
    """What is wrong with the ticket's line, CI or NIT, naming the field; None when every console takes them."""
    return ticket_identifiers_problem(ticket.line, ticket.holder_ci, ticket.billing_nit)


def ticket_with_line(toolkit: Toolkit, ticket_id: int) -> tuple[TicketData, str]:
    """The ticket (normalised) and its line to migrate, refused before anything is touched, with a message
    naming the field, when a console would refuse its line, CI or NIT."""
    ticket = toolkit.zendesk.ticket(positive_ticket(ticket_id))
    if not ticket.line:
        raise InvalidInput(f"ticket {ticket_id} has no line to migrate (field 'Línea a migrar' is empty)")
    problem = identifiers_problem(ticket)
    if problem:
        raise InvalidInput(f"ticket {ticket_id}: {problem}")
    ticket = normalised(ticket)
    return ticket, ticket.line or ""


# -- macros and replies ----------------------------------------------------------------------------
def apply_macro(
    toolkit: Toolkit, ticket_id: int, title: str, attachments: list[str] | None = None, extra_text: str | None = None
) -> MacroResult:
    """Apply a macro by its exact title and save it: its reply, status and Estado de Pedido."""
    files = [file_evidence(toolkit.files.local(p)) for p in attachments or []]
    return toolkit.zendesk.apply_macro(ticket_id, title, attachments=files, extra_text=extra_text)


def reply_since(toolkit: Toolkit, ticket_id: int, reply: str, since: datetime | None) -> CommentData | None:
    """A public comment carrying ``reply``, written at or after ``since`` (to find a macro already saved).

    Zendesk stamps comments to the second and its clock is not ours: a second of slack is allowed.
    """
    if not reply or since is None:
        return None
    earliest = since.replace(microsecond=0) - timedelta(seconds=1)
    comments = toolkit.zendesk.comments(ticket_id)
    return next(
        (c for c in reversed(comments) if c.public and c.created_at >= earliest and c.body.startswith(reply)), None
    )


def public_reply(toolkit: Toolkit, ticket_id: int, body: str) -> int | None:
    return toolkit.zendesk.add_public_reply(ticket_id, body)


# -- the customer's documents ----------------------------------------------------------------------
class SavedDocument(BaseModel):
    kind: str
    path: str
    comment_id: int


def request_document_review(toolkit: Toolkit, ticket_id: int, documents: list[str], *, key: str) -> NoteResult:
    """Ask a person to look at the CI photos and selfie and say which is which: an internal note they answer
    with ``#aprobar anverso=N reverso=N selfie=N`` or ``#rechazar Motivo: ...`` (N: the photo's number)."""
    body = (
        f"{REVIEW_REQUEST}: verifique que el CI (anverso y reverso) y la selfie con la seña correspondan al "
        "titular. Se espera: un supervisor. Responda con una nota interna '#aprobar anverso=N reverso=N "
        "selfie=N' (N: el número de la foto en esta lista) o '#rechazar Motivo: ...'.\n"
        + "\n".join(f"{number}. {Path(d).name}" for number, d in enumerate(documents, start=1))
    )
    return toolkit.zendesk.add_internal_note(ticket_id, body, (), key=key)


#: Documents are photos: what WhatsApp delivers as a JPEG or PNG picture (not a sticker, audio or other file).
PHOTO_TYPES = ("image/jpeg", "image/png")


def save_customer_documents(toolkit: Toolkit, ticket_id: int, comment_ids: list[int]) -> list[SavedDocument]:
    """Download the customer's photos from these comments to the evidence folder (personal data: internal
    only). A photo's kind is known from its name only when the WhatsApp bot named it; otherwise it is
    "otro" until the person who reviews them labels it. Each photo is put in the file store too: the
    worker that uploads them to the contract may not be this one."""
    folder = toolkit.evidence.folder_for(ticket_id) / CUSTOMER_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for comment in toolkit.zendesk.comments(ticket_id):
        if comment.id not in comment_ids:
            continue
        for attachment in comment.attachments:
            if attachment.content_type.split(";")[0].strip().lower() not in PHOTO_TYPES:
                continue
            path = folder / f"{comment.id}-{attachment.file_name}"
            if not path.exists():
                path.write_bytes(toolkit.zendesk.download(attachment.content_url))
            # Also when it was already on disk: a crash may have come between the download and the store.
            toolkit.files.keep(path)
            kind = BackupKind.of_customer_file(attachment.file_name)
            saved.append(SavedDocument(kind=kind.value if kind else "otro", path=str(path), comment_id=comment.id))
    return saved


# -- hand-offs: the robot asks a person ----------------------------------------------------------------
#: The first words of the robot's note when it needs a person (the agents' view and the README name them).
HANDOFF_REQUEST = "El robot necesita un agente"
#: The tag that puts a ticket in the agents' view "Robot: necesita agente".
HANDOFF_TAG = "rpa_necesita_agente"


def hand_off(toolkit: Toolkit, ticket_id: int, need: str, why: str, who: str, *, key: str) -> NoteResult:
    """Ask a person: an internal note saying what the robot needs and why, the ticket open with the hand-off tag."""
    body = (
        f"{HANDOFF_REQUEST}: {need}\n"
        f"Motivo: {why}\n"
        f"Se espera: {who}\n"
        "Responda con una nota interna que empiece por:\n"
        "#valor <valor> (el dato que el robot necesita)\n"
        "#continuar (el robot sigue desde donde se detuvo; por ejemplo, tras completar un campo del ticket)\n"
        "#terminar <macro> (el robot aplica esa macro y termina; por ejemplo: #terminar despedida)"
    )
    note = toolkit.zendesk.add_internal_note(ticket_id, body, (), key=key)
    toolkit.zendesk.update_ticket(ticket_id, status="open", add_tags=[HANDOFF_TAG])
    return note


def hand_back(toolkit: Toolkit, ticket_id: int) -> None:
    """The agent answered: the ticket leaves the hand-off view (the tag is removed; the status is the macros')."""
    toolkit.zendesk.update_ticket(ticket_id, remove_tags=[HANDOFF_TAG])


def robot_note(toolkit: Toolkit, ticket_id: int, body: str, *, key: str) -> NoteResult:
    """An internal note of the robot's own (why a flow ended, what it waits for)."""
    return toolkit.zendesk.add_internal_note(ticket_id, body, (), key=key)


class TermsAcceptance(BaseModel):
    macro_comment_id: int | None
    acceptance_comment_id: int


def terms_acceptance(
    toolkit: Toolkit, ticket_id: int, macro_comment_id: int | None, acceptance_comment_id: int
) -> Done[TermsAcceptance]:
    """PROCESS.md 6.4: a picture of the formal T&C macro and the customer's ACEPTO."""
    comments = {c.id: c for c in toolkit.zendesk.comments(ticket_id)}
    ticket = toolkit.zendesk.ticket(ticket_id)
    lines = []
    for comment_id, who in ((macro_comment_id, "Agente"), (acceptance_comment_id, "Cliente")):
        comment = comments.get(comment_id) if comment_id else None
        if comment is not None:
            lines.append(ConversationLine(author=who, body=comment.body, at=comment.created_at))
    evidence = toolkit.conversation.capture(
        ticket_id=ticket_id,
        subject=ticket.subject,
        lines=lines,
        step="terms_acceptance",
        description=f"Aceptación de T&C del cliente, ticket {ticket_id}",
    )
    return Done(
        "terms-acceptance",
        TermsAcceptance(macro_comment_id=macro_comment_id, acceptance_comment_id=acceptance_comment_id),
        f"{NOTE_TITLES[BackupKind.TERMS_ACCEPTANCE]} (ACEPTO)",
        "Macro formal de T&C enviada y respuesta ACEPTO del cliente.",
        [evidence],
    )


def plans_card(toolkit: Toolkit, ticket_id: int, plans: list[str]) -> str:
    """The image of the current plans that the offer macros attach (PROCESS.md 3.3), kept on disk."""
    return str(toolkit.evidence.save(toolkit.conversation.plans_card(plans), ticket_id).path)


# -- files as evidence and backups -----------------------------------------------------------------
def _content_type(path: Path) -> str:
    return "application/pdf" if path.suffix == ".pdf" else "image/png"


def file_evidence(path: Path) -> Evidence:
    """A kept file (a plans card, a contract PDF) as evidence to attach to a macro."""
    evidence = Evidence.capture(
        portal="rpa",
        step=path.stem,
        description=path.name,
        content=path.read_bytes(),
        content_type=_content_type(path),
        extension=path.suffix.lstrip("."),
    )
    return evidence.model_copy(update={"filename": path.name})


def backup_from_file(toolkit: Toolkit, kind: str, path: str) -> Backup:
    """A kept file as a contract backup of ``kind`` (read from the file store when another worker kept it)."""
    file = toolkit.files.local(path)
    return Backup(
        kind=BackupKind(kind), file_name=file.name, content=file.read_bytes(), content_type=_content_type(file)
    )
