"""Zendesk client: the robots' only way to read tickets, apply macros and leave evidence as internal notes.

It speaks Zendesk Support's REST API as documented (API token auth, cursor pagination, uploads, macros
previewed with ``/apply`` and saved with a ticket update), so it works against the mock and a real
account alike. Every HTTP request runs under the caller's retry policy, and every answer that is not a
success becomes an error of ``pages.errors``: the policy retries what is worth retrying (429 after its
Retry-After, 5xx, timeouts, refused connections) and gives everything else back at once.

Ticket fields and macros are found by title, never by id, so one configuration serves accounts whose
ids differ. Evidence notes carry a marker (``robots.evidence.note_marker``) that makes posting them
again a no-op.

Tags are changed with Zendesk's ``additional_tags`` and ``remove_tags``, never by sending the whole list:
a trigger or a person tagging the ticket meanwhile keeps its tags, and repeating the update after a lost
answer changes nothing more.

What happened to the account's tickets while nobody listened (a webhook lost, ``rpa serve`` down) is read
from Zendesk's incremental ticket event export (``ticket_events``), which Zendesk limits to 10 requests a
minute and which leaves out the last minute.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from loguru import logger
from pydantic import BaseModel, Field, SecretStr

from pages.errors import (
    CredentialsRejected,
    InvalidInput,
    PortalTimeout,
    PortalUnavailable,
    RateLimited,
    RecordNotFound,
    RPAError,
    UnexpectedScreen,
)
from robots.evidence import Evidence, markers_in, note_marker
from robots.retry import RetryPolicy, check_before_attempt

PORTAL = "zendesk"
PAGE_SIZE = 100
#: Where Zendesk's incremental exports live; their 429s are theirs alone (10 requests a minute), not the account's.
EXPORTS_PATH = "/incremental/"

#: Ticket field titles in the account, by the ``TicketData`` attribute they fill.
FIELD_TITLES: dict[str, str] = {
    "holder_name": "Nombre del titular",
    "holder_ci": "CI del titular",
    "line": "Línea a migrar",
    "city": "Ciudad",
    "billing_name": "Facturación a nombre de",
    "billing_nit": "NIT de facturación",
    "order_state": "Estado de Pedido",
}


class ZendeskAccess(BaseModel):
    """Where the Zendesk account is and the API agent's token (``base_url`` is the account root)."""

    base_url: str
    email: str
    api_token: SecretStr


class AttachmentData(BaseModel):
    id: int
    file_name: str
    content_url: str
    content_type: str
    size: int


class CommentData(BaseModel):
    id: int
    author_id: int
    body: str
    public: bool
    created_at: datetime
    attachments: list[AttachmentData] = Field(default_factory=list)


class TicketData(BaseModel):
    """A ticket with the fields the bot filled, read by field title."""

    id: int
    subject: str
    status: str
    requester_id: int
    holder_name: str | None = None
    holder_ci: str | None = None
    line: str | None = None
    city: str | None = None
    billing_name: str | None = None
    billing_nit: str | None = None
    order_state: str | None = Field(None, description="Estado de Pedido as its option name, not its tag")
    tags: list[str] = Field(default_factory=list, description="the ticket's tags, as Zendesk stores them")
    group_id: int | None = Field(None, description="the Zendesk group the ticket is assigned to")
    brand_id: int | None = Field(None, description="the Zendesk brand the ticket came through")


class NoteResult(BaseModel):
    """An internal note; ``posted`` is false when a note with the same marker was already there."""

    comment_id: int | None
    posted: bool


class MacroResult(BaseModel):
    """What a saved macro left on the ticket."""

    macro_id: int
    title: str
    status: str
    order_state: str | None
    comment_body: str
    comment_id: int | None = None


class TicketEventKind(str, Enum):
    """What the incremental ticket event export tells that matters to the robots."""

    CREATED = "created"
    COMMENT_ADDED = "comment_added"
    TAGS_ADDED = "tags_added"


class TicketEvent(BaseModel):
    """One thing that happened to a ticket, read from the ticket event export.

    A creation carries the tags the ticket was created with; ``tags_added`` the tags a later update added
    (a bot or a trigger may mark a ticket after creating it); a comment its id, author, whether the customer
    sees it, and its text.
    """

    kind: TicketEventKind
    ticket_id: int
    at: datetime
    tags: list[str] = Field(default_factory=list)
    comment_id: int | None = None
    author_id: int | None = None
    public: bool | None = None
    body: str = ""


class ExportLimitReached(RateLimited):
    """Zendesk refused an incremental export request (10 a minute per account). Not retried in place: another
    request within the minute is refused too; the reader comes back after ``retry_after`` seconds."""

    retryable = False


class CallBudget(Protocol):
    """The account's calls per minute, shared with the deployment's other processes (``take`` before each
    request; ``pause`` when Zendesk answered 429 with ``Retry-After``)."""

    def take(self) -> float: ...

    def pause(self, seconds: float) -> None: ...


class CallCounter(Protocol):
    """Told of each request sent and each 429 answered, for whoever counts them (the deployment's metrics)."""

    def zendesk_request(self, method: str) -> None: ...

    def zendesk_rate_limited(self) -> None: ...


class ZendeskClient:
    """A synchronous Zendesk Support API client for one agent; close it (or use ``with``) when done."""

    def __init__(
        self,
        access: ZendeskAccess,
        policy: RetryPolicy,
        timeout_seconds: float = 15.0,
        budget: CallBudget | None = None,
        counter: CallCounter | None = None,
    ) -> None:
        self.policy = policy
        self.budget = budget
        self.counter = counter
        root = access.base_url.rstrip("/")
        self._origin = _origin(root)
        self._http = httpx.Client(
            base_url=root + "/api/v2",
            auth=httpx.BasicAuth(f"{access.email}/token", access.api_token.get_secret_value()),
            timeout=timeout_seconds,
            headers={"Accept": "application/json"},
        )
        self._fields: dict[str, dict[str, Any]] | None = None
        self._macros: list[dict[str, Any]] | None = None

    def __enter__(self) -> ZendeskClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- tickets ------------------------------------------------------------------------------------
    def ticket(self, ticket_id: int) -> TicketData:
        return self._ticket_data(self._json("GET", f"/tickets/{ticket_id}.json")["ticket"])

    def comments(self, ticket_id: int) -> list[CommentData]:
        """Every comment of the ticket, oldest first, public and internal."""
        pages = self._cursor_pages(f"/tickets/{ticket_id}/comments.json", "comments")
        return [_comment_data(c) for c in pages]

    def ticket_events(self, start_time: int) -> tuple[list[TicketEvent], int, bool]:
        """One page of the account's ticket events since ``start_time`` (Unix seconds): ticket creations,
        tags added and comments added, oldest first; the ``start_time`` of the next page; and whether this
        page reached the end of the stream (what Zendesk holds back, the last minute, comes later).

        Why this export and not the cursor-based tickets export: one request tells both the new tickets and
        every comment (with its id, author and visibility), where the tickets export tells only which tickets
        changed and each would cost a read of its comments. Both allow 10 requests a minute. Time-based
        pages may repeat the events of their boundary second: whoever reads must hand each over idempotently
        (by comment id, one flow per ticket). A 429 raises ``ExportLimitReached`` at once, without waiting.
        """

        def once() -> httpx.Response:
            try:
                return self._request_once(
                    "GET",
                    "/incremental/ticket_events.json",
                    params={"start_time": start_time, "include": "comment_events"},
                )
            except RateLimited as exc:
                raise ExportLimitReached(str(exc), portal=PORTAL, retry_after=exc.retry_after) from exc

        response = self.policy.call(once)
        try:
            answer = response.json()
        except ValueError as exc:
            raise UnexpectedScreen("the ticket event export answered without JSON", portal=PORTAL) from exc
        events = [event for audit in answer.get("ticket_events") or [] for event in _ticket_events(audit)]
        return events, int(answer.get("end_time") or start_time), bool(answer.get("end_of_stream", True))

    def view_tickets(self, view_title: str) -> list[TicketData]:
        """The tickets a view lists now, the view found by its exact title."""
        views = list(self._offset_pages("/views.json", "views"))
        view = next((v for v in views if v.get("title") == view_title and v.get("active", True)), None)
        if view is None:
            raise RecordNotFound(f"no active view titled {view_title!r}", portal=PORTAL)
        return [self._ticket_data(t) for t in self._offset_pages(f"/views/{view['id']}/tickets.json", "tickets")]

    # -- the account's configuration, as it is (``rpa doctor`` compares it with what the robots need) --
    def views(self) -> list[dict[str, Any]]:
        return list(self._offset_pages("/views.json", "views"))

    def ticket_fields(self) -> list[dict[str, Any]]:
        """Every ticket field, present or not among those the robots read (no error for a missing one)."""
        return list(self._offset_pages("/ticket_fields.json", "ticket_fields"))

    # -- files --------------------------------------------------------------------------------------
    def upload(self, filename: str, content: bytes, content_type: str) -> str:
        """Upload a file; the token it returns attaches it to the next comment that names it."""
        if not content:
            raise InvalidInput(f"file {filename!r} is empty; Zendesk takes no empty uploads", portal=PORTAL)
        answer = self._json(
            "POST",
            "/uploads.json",
            params={"filename": filename},
            content=content,
            headers={"Content-Type": content_type},
        )
        return answer["upload"]["token"]

    def download(self, content_url: str) -> bytes:
        """The bytes of an attachment (its ``content_url``; Zendesk redirects it to its file host)."""
        # The token goes only to the account's own origin, never to a host an attachment URL names.
        auth = httpx.USE_CLIENT_DEFAULT if _origin(content_url) == self._origin else None
        response = self._send("GET", content_url, auth=auth, follow_redirects=True, headers={"Accept": "*/*"})
        return response.content

    # -- internal notes -------------------------------------------------------------------------------
    def add_internal_note(
        self, ticket_id: int, body: str, evidence: Sequence[Evidence] = (), key: str | None = None
    ) -> NoteResult:
        """Post a private note with the evidence files attached.

        With a ``key``, the note ends with its marker and is posted only if no comment of the ticket
        carries that marker yet, so a step repeated after a crash leaves one note, not two.
        """
        if key is not None:
            existing = next((c for c in self.comments(ticket_id) if key in markers_in(c.body)), None)
            if existing is not None:
                logger.info("ticket {}: note {} already posted as comment {}", ticket_id, key, existing.id)
                return NoteResult(comment_id=existing.id, posted=False)
            body = f"{body}\n\n{note_marker(key)}"
        tokens = [self.upload(_file_name(e), e.content, e.content_type) for e in evidence]
        answer = self._update(ticket_id, {"comment": {"body": body, "public": False, "uploads": tokens}})
        comment_id = _comment_id(answer)
        logger.info("ticket {}: internal note {} posted with {} file(s)", ticket_id, comment_id, len(tokens))
        return NoteResult(comment_id=comment_id, posted=True)

    # -- macros ---------------------------------------------------------------------------------------
    def macros(self) -> list[dict[str, Any]]:
        """Every macro the agent can use (read once per client)."""
        if self._macros is None:
            self._macros = list(self._offset_pages("/macros.json", "macros"))
        return list(self._macros)

    def find_macro(self, title: str) -> dict[str, Any]:
        """The active macro whose title is exactly ``title``."""
        for macro in self.macros():
            if macro.get("title") == title and macro.get("active", True):
                return macro
        raise RecordNotFound(f"no active macro titled {title!r}", portal=PORTAL)

    def macro_reply(self, title: str) -> str:
        """The reply text a macro writes (its ``comment_value`` action), empty when it writes none."""
        actions = self.find_macro(title).get("actions", [])
        return next(
            (str(a.get("value") or "") for a in actions if a.get("field") in ("comment_value", "comment_value_html")),
            "",
        )

    def apply_macro(
        self, ticket_id: int, title: str, *, attachments: Sequence[Evidence] = (), extra_text: str | None = None
    ) -> MacroResult:
        """Apply a macro as an agent does: its reply, status and Estado de Pedido, saved in one update.

        ``attachments`` go with the macro's reply (the plans image, the contract PDF); ``extra_text`` is
        appended to the reply for what the macro leaves to the agent (a debt amount, a missing document).
        """
        macro = self.find_macro(title)
        preview = self._json("GET", f"/tickets/{ticket_id}/macros/{macro['id']}/apply.json")["result"]
        after = preview["ticket"]
        comment = after.get("comment") or preview.get("comment") or {}
        body = str(comment.get("body") or "")
        if extra_text:
            body = f"{body}\n\n{extra_text}" if body else extra_text
        if not body and attachments:
            raise InvalidInput(f"macro {title!r} has no reply to attach files to", portal=PORTAL)
        # Only the fields the macro sets are sent, so nobody's concurrent edit of another field is undone.
        set_ids = {
            int(a["field"].removeprefix("custom_fields_"))
            for a in macro.get("actions", [])
            if str(a.get("field", "")).startswith("custom_fields_")
        }
        update: dict[str, Any] = {
            "status": after["status"],
            "custom_fields": [f for f in after.get("custom_fields", []) if f["id"] in set_ids],
            # Zendesk's write-only field recording the macro in the ticket's audit.
            "macro_id": macro["id"],
        }
        if body:
            reply: dict[str, Any] = {"body": body, "public": bool(comment.get("public", True))}
            if comment.get("html_body") and not extra_text:
                reply["html_body"] = comment["html_body"]
            reply["uploads"] = [self.upload(_file_name(e), e.content, e.content_type) for e in attachments]
            update["comment"] = reply
        answer = self._update(ticket_id, update)
        saved = self._ticket_data(answer["ticket"])
        logger.info(
            "ticket {}: macro {!r} applied (status {}, estado {})", ticket_id, title, saved.status, saved.order_state
        )
        return MacroResult(
            macro_id=macro["id"],
            title=title,
            status=saved.status,
            order_state=saved.order_state,
            comment_body=body,
            comment_id=_comment_id(answer) if body else None,
        )

    def update_ticket(
        self,
        ticket_id: int,
        *,
        status: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> TicketData:
        """Change the ticket's status and tags in one update and return the ticket as saved.

        Tags are added and removed one by one (``additional_tags``, ``remove_tags``), so tags someone else
        set meanwhile stay; with nothing to change, the ticket is only read.
        """
        added, removed = _tags(add_tags), _tags(remove_tags)
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = status
        if added:
            changes["additional_tags"] = added
        if removed:
            changes["remove_tags"] = removed
        if not changes:
            return self.ticket(ticket_id)
        saved = self._ticket_data(self._update(ticket_id, changes)["ticket"])
        logger.info(
            "ticket {}: status {}, tags +{} -{}",
            ticket_id,
            saved.status,
            ",".join(added) or "-",
            ",".join(removed) or "-",
        )
        return saved

    def add_public_reply(self, ticket_id: int, body: str) -> int | None:
        """A message to the customer that no macro covers (e.g. the government derivation notice)."""
        answer = self._update(ticket_id, {"comment": {"body": body, "public": True}})
        return _comment_id(answer)

    # -- ticket fields --------------------------------------------------------------------------------
    def _ticket_fields(self) -> dict[str, dict[str, Any]]:
        """The account's ticket fields by title (read once per client)."""
        if self._fields is None:
            fields = list(self._offset_pages("/ticket_fields.json", "ticket_fields"))
            by_title: dict[str, dict[str, Any]] = {}
            for field in fields:
                for name in (field.get("raw_title"), field.get("title")):
                    if name:
                        by_title.setdefault(name, field)
            missing = [t for t in FIELD_TITLES.values() if t not in by_title]
            if missing:
                raise RecordNotFound(
                    f"the account has no ticket field titled {', '.join(map(repr, missing))}", portal=PORTAL
                )
            self._fields = by_title
        return self._fields

    def _ticket_data(self, ticket: dict[str, Any]) -> TicketData:
        fields = self._ticket_fields()
        values = {f["id"]: f.get("value") for f in ticket.get("custom_fields") or ticket.get("fields") or []}
        data: dict[str, Any] = {}
        for attribute, title in FIELD_TITLES.items():
            field = fields[title]
            value = values.get(field["id"])
            if field.get("type") == "tagger" and value:
                names = {o["value"]: o["name"] for o in field.get("custom_field_options", [])}
                value = names.get(value, value)
            data[attribute] = str(value) if value not in (None, "") else None
        return TicketData(
            id=ticket["id"],
            subject=ticket.get("subject") or "",
            status=ticket["status"],
            requester_id=ticket["requester_id"],
            tags=[str(t) for t in ticket.get("tags") or []],
            group_id=ticket.get("group_id"),
            brand_id=ticket.get("brand_id"),
            **data,
        )

    # -- the account's webhooks and triggers ------------------------------------------------------------
    def current_user_id(self) -> int:
        """The id of the agent this client acts as (triggers exclude the robot's own updates by it)."""
        return int(self._json("GET", "/users/me.json")["user"]["id"])

    def webhooks(self) -> list[dict[str, Any]]:
        return list(self._cursor_pages("/webhooks", "webhooks"))

    def create_webhook(self, webhook: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/webhooks", json={"webhook": webhook})["webhook"]

    def change_webhook(self, webhook_id: str, changes: dict[str, Any]) -> None:
        """Zendesk answers a webhook's PATCH with 204 and no body."""
        self._send("PATCH", f"/webhooks/{webhook_id}", json={"webhook": changes})

    def webhook_signing_secret(self, webhook_id: str) -> SecretStr:
        answer = self._json("GET", f"/webhooks/{webhook_id}/signing_secret")
        return SecretStr(str(answer["signing_secret"]["secret"]))

    def triggers(self) -> list[dict[str, Any]]:
        return list(self._offset_pages("/triggers.json", "triggers"))

    def create_trigger(self, trigger: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/triggers.json", json={"trigger": trigger})["trigger"]

    def change_trigger(self, trigger_id: int, trigger: dict[str, Any]) -> dict[str, Any]:
        return self._json("PUT", f"/triggers/{trigger_id}.json", json={"trigger": trigger})["trigger"]

    # -- HTTP -----------------------------------------------------------------------------------------
    def _update(self, ticket_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        return self._json("PUT", f"/tickets/{ticket_id}.json", json={"ticket": changes})

    def _offset_pages(self, path: str, key: str) -> Iterator[dict[str, Any]]:
        url: str | None = path
        params: dict[str, Any] | None = {"per_page": PAGE_SIZE}
        while url:
            answer = self._json("GET", url, params=params)
            yield from answer.get(key, [])
            url, params = answer.get("next_page"), None

    def _cursor_pages(self, path: str, key: str) -> Iterator[dict[str, Any]]:
        url: str | None = path
        params: dict[str, Any] | None = {"page[size]": PAGE_SIZE}
        while url:
            answer = self._json("GET", url, params=params)
            yield from answer.get(key, [])
            more = (answer.get("meta") or {}).get("has_more")
            url, params = ((answer.get("links") or {}).get("next") if more else None), None

    def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, url, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise UnexpectedScreen(
                f"{method} {_path(url)} answered {response.status_code} without JSON", portal=PORTAL
            ) from exc

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request under the retry policy; the answer, or the error it maps to."""
        return self.policy.call(lambda: self._request_once(method, url, **kwargs))

    def _request_once(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        where = f"{method} {_path(url)}"
        if method != "GET":
            check_before_attempt()
        logger.debug("zendesk {}", where)
        if self.budget is not None:
            self.budget.take()
        if self.counter is not None:
            self.counter.zendesk_request(method)
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise PortalTimeout(f"{where} did not answer in time", portal=PORTAL) from exc
        except httpx.TransportError as exc:
            raise PortalUnavailable(f"{where} failed: {type(exc).__name__}", portal=PORTAL) from exc
        if response.is_success:
            return response
        error = _error_for(where, response)
        if isinstance(error, RateLimited) and self.counter is not None:
            self.counter.zendesk_rate_limited()
        if isinstance(error, RateLimited) and self.budget is not None and EXPORTS_PATH not in _path(url):
            self.budget.pause(error.retry_after or 1.0)
        raise error


def _error_for(where: str, response: httpx.Response) -> RPAError:
    status = response.status_code
    detail = _describe(response)
    if status == 401:
        return CredentialsRejected(f"{where}: Zendesk refused the API token ({detail})", portal=PORTAL)
    if status == 403:
        return CredentialsRejected(f"{where}: the API agent may not do this ({detail})", portal=PORTAL)
    if status == 404:
        return RecordNotFound(f"{where}: not found ({detail})", portal=PORTAL)
    if status == 429:
        return RateLimited(
            f"{where}: rate limited ({detail})",
            portal=PORTAL,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    if status == 409:
        # Zendesk answers 409 to two updates of one ticket at the same moment; trying again succeeds.
        return PortalUnavailable(f"{where}: concurrent update ({detail})", portal=PORTAL)
    if status >= 500:
        return PortalUnavailable(f"{where}: HTTP {status} ({detail})", portal=PORTAL)
    return InvalidInput(f"{where}: HTTP {status} ({detail})", portal=PORTAL)


def _describe(response: httpx.Response) -> str:
    """Zendesk's own words for an error: error, description and details."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return str(body)
    error = body.get("error")
    if isinstance(error, dict):  # some endpoints nest {"title", "message"}
        error = error.get("title") or error.get("message")
    parts = [str(p) for p in (error, body.get("description")) if p]
    details = body.get("details")
    if isinstance(details, dict):
        parts += [
            f"{name}: {d.get('description', d)}" if isinstance(d, dict) else f"{name}: {d}"
            for name, items in details.items()
            for d in (items if isinstance(items, list) else [items])
        ]
    return "; ".join(parts) or f"HTTP {response.status_code}"


def _retry_after(header: str | None) -> float:
    try:
        return max(0.0, float(header)) if header is not None else 1.0
    except ValueError:
        return 1.0


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _path(url: str) -> str:
    """A URL without its host and query, for messages and logs."""
    return urlsplit(url).path


def _tags(values: Sequence[str]) -> list[str]:
    """Tags as Zendesk keeps them (lower case, unique); one with a space would become two, so it is refused."""
    if isinstance(values, str):
        raise InvalidInput(f"tags must be a list of tags, not the text {values!r}", portal=PORTAL)
    tags: list[str] = []
    for value in values:
        tag = value.strip().lower()
        if not tag or any(c.isspace() for c in tag):
            raise InvalidInput(f"{value!r} is not a Zendesk tag: tags have no spaces", portal=PORTAL)
        if tag not in tags:
            tags.append(tag)
    return tags


def _file_name(evidence: Evidence) -> str:
    if evidence.filename:
        return evidence.filename
    extension = evidence.content_type.rsplit("/", 1)[-1]
    return f"{evidence.portal}-{evidence.step}.{extension}"


def _comment_data(comment: dict[str, Any]) -> CommentData:
    return CommentData(
        id=comment["id"],
        author_id=comment["author_id"],
        body=comment.get("body") or "",
        public=bool(comment.get("public")),
        created_at=comment["created_at"],
        attachments=[
            AttachmentData(
                id=a["id"],
                file_name=a["file_name"],
                content_url=a["content_url"],
                content_type=a.get("content_type") or "application/octet-stream",
                size=a.get("size") or 0,
            )
            for a in comment.get("attachments") or []
        ],
    )


def _ticket_events(audit: dict[str, Any]) -> list[TicketEvent]:
    """The events of one update (an audit of the export) the robots act on."""
    ticket_id, children = int(audit["ticket_id"]), audit.get("child_events") or []
    at = datetime.fromtimestamp(float(audit.get("timestamp") or 0), UTC)
    events: list[TicketEvent] = []
    if any(c.get("event_type") == "Create" for c in children):
        tags = next((c.get("tags") or c.get("added_tags") or [] for c in children if "tags" in c), [])
        events.append(TicketEvent(kind=TicketEventKind.CREATED, ticket_id=ticket_id, at=at, tags=tags))
    else:
        added = [t for c in children if c.get("event_type") == "Change" for t in c.get("added_tags") or []]
        if added:
            events.append(TicketEvent(kind=TicketEventKind.TAGS_ADDED, ticket_id=ticket_id, at=at, tags=added))
    for child in children:
        # Without comment events included Zendesk tells only that a comment was there, not which.
        if child.get("event_type") == "Comment" and "author_id" in child:
            events.append(
                TicketEvent(
                    kind=TicketEventKind.COMMENT_ADDED,
                    ticket_id=ticket_id,
                    at=at,
                    comment_id=int(child["id"]),
                    author_id=child.get("author_id"),
                    public=bool(child.get("public")),
                    body=child.get("body") or "",
                )
            )
    return events


def _comment_id(answer: dict[str, Any]) -> int | None:
    """The new comment's id, from the update's audit (Zendesk gives it no other way)."""
    events = (answer.get("audit") or {}).get("events") or []
    return next((e["id"] for e in events if e.get("type") == "Comment"), None)
