"""The error types every layer speaks, answering one question: should this be retried?

Page objects turn Playwright's exceptions into these at the browser boundary
(``raise ... from exc``); robots, the runner and the CLI only ever see this tree::

    RPAError
    ├── BusinessError                 a rule said no or the data is wrong: never retried
    │   ├── InvalidInput              the request itself is malformed (bad line number, missing field)
    │   ├── RecordNotFound            the console or Zendesk has no such line, ticket, NIT or contract
    │   └── RuleRefused               a console refused an action for a business reason (its own message)
    └── ApplicationError              the machinery failed: retried with backoff
        ├── PortalTimeout             a page, element or request did not answer in time
        ├── PortalUnavailable         HTTP 5xx, a maintenance page, connection refused
        ├── SessionExpired            the console sent us back to its login page
        ├── UnexpectedScreen          the console showed a page or dialog we do not know how to read
        ├── RateLimited               the API answered 429; ``retry_after`` says how long to wait
        └── CredentialsRejected       the console refused our user and password (not worth retrying)

They live in ``pages`` because that is the lowest layer: robots and flows import them from here.
"""

from __future__ import annotations


class RPAError(Exception):
    """Root of every error this product raises on purpose."""

    #: Whether the retry policies may try the failed action again.
    retryable: bool = False

    def __init__(self, message: str, *, portal: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.portal = portal

    def __str__(self) -> str:
        return f"[{self.portal}] {self.message}" if self.portal else self.message


class BusinessError(RPAError):
    """Raised when the data or a business rule says no; retrying would give the same answer."""


class InvalidInput(BusinessError):
    """Raised when a request is malformed: a line number that is not one, a ticket without a line."""


class RecordNotFound(BusinessError):
    """Raised when a console or Zendesk has no record for the key we asked about."""


class RuleRefused(BusinessError):
    """Raised when a console refuses an action with a business message of its own."""


class ApplicationError(RPAError):
    """Raised when the machinery fails (network, console, session); retried with backoff."""

    retryable = True


class PortalTimeout(ApplicationError):
    """Raised when a page, an element or an HTTP call does not answer within its timeout."""


class PortalUnavailable(ApplicationError):
    """Raised on HTTP 5xx, a maintenance page, or a refused connection."""


class SessionExpired(ApplicationError):
    """Raised when a console sends us back to its login page in the middle of work."""


class UnexpectedScreen(ApplicationError):
    """Raised when a console shows a page or dialog the page object cannot read."""


class RateLimited(ApplicationError):
    """Raised when an API answers 429; ``retry_after`` holds its Retry-After seconds."""

    def __init__(self, message: str, *, portal: str | None = None, retry_after: float = 1.0) -> None:
        super().__init__(message, portal=portal)
        self.retry_after = retry_after


class CredentialsRejected(ApplicationError):
    """Raised when a console refuses the configured user or password; retrying could lock the account."""

    retryable = False
