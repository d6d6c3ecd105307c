"""``rpa doctor``: every outside thing a deployment depends on, checked once before the first flow needs it.

Without it, the first sign of a wrong console address, an expired password, a renamed macro or a missing
ticket field is a flow failing in the middle of a customer's conversation. Each check here is a small
function that returns a ``Verdict`` (ok or not, what it saw, what to fix); they run side by side with a
short timeout each, and one failing never hides another: a console down still lets every macro be read.

Nothing is written anywhere. A console gets one login attempt through its page object, never retried, so
a wrong password cannot lock the robot's account; Zendesk gets reads only. Secrets are never shown: every
configured secret is blanked out of whatever text a check produced, the database password included.
"""

from __future__ import annotations

import difflib
import hmac
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from dbos._migration import get_migration_versions, get_sqlite_migration_versions
from pydantic import BaseModel, Field
from tenacity import stop_after_attempt, wait_none

from flows.engine import run_store
from flows.engine.settings import CONSOLES, Settings
from flows.interfaces.serve import WEBHOOK_PATH
from flows.interfaces.tag_steps import TAG_STEPS, TagStep
from flows.interfaces.zendesk_account import (
    NEW_TICKET_TRIGGER,
    STEP_TRIGGER,
    UPDATE_TRIGGER,
    WEBHOOK_NAME,
    webhook_endpoint,
)
from flows.process.definition import Macro
from flows.steps.tickets import HANDOFF_TAG
from pages.ar import ARPage
from pages.base import ConsolePage
from pages.bccs import BCCSPage
from pages.browser import Timeouts
from pages.contrato import ContratoPage
from pages.errors import CredentialsRejected, PortalTimeout, PortalUnavailable, RPAError
from pages.impuestos import TaxRegistryPage
from pages.planificate import PlanificatePage
from pages.qvantel import QvantelPage
from pages.syshelp import SyshelpPage
from robots.retry import RetryPolicy
from robots.sessions import BrowserHost, PortalSession
from robots.zendesk import FIELD_TITLES, ZendeskClient

T = TypeVar("T")

PAGES: dict[str, type[ConsolePage]] = {
    page.portal: page
    for page in (PlanificatePage, QvantelPage, ARPage, BCCSPage, ContratoPage, SyshelpPage, TaxRegistryPage)
}
ORDER_STATE_TITLE = FIELD_TITLES["order_state"]
#: DBOS's system schema on Postgres (its default; the product does not change it).
DBOS_SCHEMA = "dbos"
DEFAULT_TIMEOUT_SECONDS = 20.0
#: Checks running at once: a few consoles logging in side by side while Zendesk is read.
PARALLEL_CHECKS = 6
CONNECT_FIX = "run `rpa zendesk connect --url <address of rpa serve>` (it creates or repairs them)"


class Verdict(BaseModel):
    """What one check found."""

    check: str = Field(description="what kind of thing was checked: console, macro, database...")
    subject: str = Field(description="which one: the console's name, the macro's title...")
    ok: bool
    detail: str = Field(description="what the check saw")
    fix: str | None = Field(None, description="what to change, when it is not ok")
    seconds: float = 0.0


class Diagnosis(BaseModel):
    """Every verdict, in the order the checks are listed; ``ok`` only when all are."""

    ok: bool
    checks: list[Verdict]


def passed(check: str, subject: str, detail: str) -> Verdict:
    return Verdict(check=check, subject=subject, ok=True, detail=detail)


def failed(check: str, subject: str, detail: str, fix: str) -> Verdict:
    return Verdict(check=check, subject=subject, ok=False, detail=detail, fix=fix)


class Doctor:
    """What the checks share: the settings, one browser, one Zendesk client, and Zendesk's lists read once.

    A list read once is kept with its error too, so twenty macro checks against a Zendesk that is down
    make one request, not twenty, and all say why.
    """

    def __init__(self, settings: Settings, *, serve_url: str | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS):
        self.settings = settings
        self.timeout = timeout
        url = serve_url or settings.serve_url
        self.endpoint = webhook_endpoint(url) if url else None
        self.host = BrowserHost(settings.browser)
        # One attempt: the doctor reports what is wrong now; waiting out a retry would only hide it.
        self.zendesk = ZendeskClient(
            settings.zendesk, RetryPolicy("doctor", stop_after_attempt(1), wait_none()), timeout_seconds=timeout
        )
        self._lock = threading.Lock()
        self._memo: dict[str, tuple[Any, BaseException | None]] = {}
        self._memo_locks: dict[str, threading.Lock] = {}
        #: Whether Chromium started, once its check ran (the consoles are logged in to through it).
        self.browser_started: bool | None = None

    def once(self, key: str, read: Callable[[], T]) -> T:
        """``read()`` the first time, its result (or its error) every time after."""
        with self._lock:
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                try:
                    self._memo[key] = (read(), None)
                except Exception as exc:
                    self._memo[key] = (None, exc)
            value, error = self._memo[key]
        if error is not None:
            raise error
        return value

    def macros(self) -> list[dict[str, Any]]:
        return self.once("macros", self.zendesk.macros)

    def fields(self) -> list[dict[str, Any]]:
        return self.once("fields", self.zendesk.ticket_fields)

    def webhook(self) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            return next((w for w in self.zendesk.webhooks() if w.get("name") == WEBHOOK_NAME), None)

        return self.once("webhook", read)

    def secrets(self) -> list[str]:
        """Every secret value the settings hold, to blank out of any text shown."""
        values = [self.settings.portal(name).password.get_secret_value() for name in CONSOLES]
        values.append(self.settings.zendesk.api_token.get_secret_value())
        for secret in (self.settings.webhook_signing_secret, self.settings.panel_token, self.settings.api_key):
            if secret is not None:
                values.append(secret.get_secret_value())
        if self.settings.database_url:
            password = sa.engine.make_url(self.settings.database_url).password
            if password:
                values.append(str(password))
        return [v for v in values if len(v) >= 3]

    def close(self) -> None:
        self.zendesk.close()
        self.host.close()


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------
def check_chromium(doctor: Doctor) -> Verdict:
    executable = doctor.settings.browser.executable()
    fix = f"install Debian's chromium-headless-shell or set RPA_BROWSER__EXECUTABLE_PATH (now {executable})"
    if not Path(executable).is_file():
        return failed("chromium", "browser", f"no browser at {executable}", fix)
    try:
        browser = doctor.host.run(doctor.host.browser(), timeout=doctor.timeout)
    except FutureTimeout:
        return failed("chromium", "browser", f"{executable} did not start within {doctor.timeout:g} s", fix)
    except Exception as exc:
        return failed("chromium", "browser", f"{executable} does not start: {_first_line(exc)}", fix)
    return passed("chromium", "browser", f"{executable} starts (version {browser.version})")


def check_console(doctor: Doctor, name: str) -> Verdict:
    """One login through the console's page object: never retried, so a wrong password locks nothing."""
    access = doctor.settings.portal(name)
    limit_ms = int(doctor.timeout * 1000)
    timeouts = Timeouts(
        action_ms=min(doctor.settings.timeouts.action_ms, limit_ms),
        navigation_ms=min(doctor.settings.timeouts.navigation_ms, limit_ms),
    )
    session = PortalSession(doctor.host, PAGES[name], access, timeouts)
    env = f"RPA_{name.upper()}"
    if doctor.browser_started is False:
        return failed("console", name, "not tried: Chromium does not start", "make Chromium start first (its line)")

    async def logged_in(_: ConsolePage) -> None:
        return None

    try:
        doctor.host.run(session.use(logged_in), timeout=doctor.timeout + 5)
        return passed("console", name, f"{access.base_url} accepted the login of {access.user}")
    except CredentialsRejected:
        return failed(
            "console",
            name,
            f"{access.base_url} refused the user {access.user} or its password (one attempt made)",
            f"set the robot's account in {env}__USER and {env}__PASSWORD",
        )
    except (PortalUnavailable, PortalTimeout, FutureTimeout) as exc:
        said = _first_line(exc) or f"no answer within {doctor.timeout:g} s"
        return failed(
            "console",
            name,
            f"{access.base_url} cannot be reached: {said}",
            f"check {env}__BASE_URL and that the console is up and reachable from this machine",
        )
    except RPAError as exc:
        return failed(
            "console",
            name,
            f"{access.base_url}: the login did not go as the page object expects: {_first_line(exc)}",
            f"check that {env}__BASE_URL is the console's address; if the console changed, its page object must too",
        )
    finally:
        try:
            doctor.host.run(session.close(), timeout=10)
        except Exception:
            pass  # a console that never answered leaves nothing worth closing


def check_zendesk_token(doctor: Doctor) -> Verdict:
    access = doctor.settings.zendesk
    try:
        user_id = doctor.once("me", doctor.zendesk.current_user_id)
    except CredentialsRejected:
        return failed(
            "zendesk",
            "token",
            f"{access.base_url} refused the API token of {access.email}",
            "set RPA_ZENDESK__EMAIL and RPA_ZENDESK__API_TOKEN (Admin Center, Apps and integrations, Zendesk API)",
        )
    except RPAError as exc:
        return failed("zendesk", "token", _first_line(exc), "check RPA_ZENDESK__BASE_URL (the account's root)")
    return passed("zendesk", "token", f"{access.base_url} accepts the token of {access.email} (user {user_id})")


def check_field(doctor: Doctor, title: str) -> Verdict:
    field = next((f for f in doctor.fields() if title in (f.get("title"), f.get("raw_title"))), None)
    fix = f"create the ticket field {title!r} in Zendesk, or give the existing one this exact title"
    if field is None:
        return failed("ticket field", title, "no ticket field with this exact title", fix)
    if not field.get("active", True):
        return failed("ticket field", title, f"field {field['id']} is inactive", "activate it in Zendesk")
    return passed("ticket field", title, f"field {field['id']} ({field.get('type', '?')})")


def check_macro(doctor: Doctor, macro: Macro) -> Verdict:
    title = macro.value
    found = next((m for m in doctor.macros() if m.get("title") == title and m.get("active", True)), None)
    if found is None:
        titles = [str(m.get("title")) for m in doctor.macros() if m.get("active", True)]
        near = difflib.get_close_matches(title, titles, n=1, cutoff=0.8)
        hint = f"; the closest is {near[0]!r}" if near else ""
        return failed(
            "macro",
            title,
            f"no active macro with this exact title{hint}",
            "give the macro in Zendesk back this exact title: the flow applies macros by title",
        )
    status, order_state = _macro_effects(found, doctor.fields())
    return passed("macro", title, f"sets status {status or '-'}, {ORDER_STATE_TITLE} {order_state or '-'}")


def check_step_macro(doctor: Doctor, step: TagStep) -> Verdict:
    found = next((m for m in doctor.macros() if m.get("active", True) and step.tag in _tags_added(m)), None)
    if found is None:
        return failed(
            "step macro",
            step.tag,
            f"no active macro adds the tag {step.tag} ({step.title})",
            f"create a macro that adds the tag {step.tag}: agents ask the robot for this step with it",
        )
    return passed("step macro", step.tag, f"{found.get('title')!r} asks for {step.title}")


def check_handoff_view(doctor: Doctor) -> Verdict:
    views = doctor.once("views", doctor.zendesk.views)
    found = next((v for v in views if v.get("active", True) and HANDOFF_TAG in _condition_tags(v)), None)
    if found is None:
        return failed(
            "zendesk",
            "hand-off view",
            f"no active view lists the tickets tagged {HANDOFF_TAG}",
            f"create a view of unsolved tickets whose tags include {HANDOFF_TAG}: the robot hands tickets to "
            "agents there",
        )
    return passed("zendesk", "hand-off view", f"{found.get('title')!r} lists the tickets tagged {HANDOFF_TAG}")


def check_webhook(doctor: Doctor) -> Verdict:
    webhook = doctor.webhook()
    if webhook is None:
        return failed("zendesk", "webhook", f"no webhook named {WEBHOOK_NAME!r}", CONNECT_FIX)
    endpoint = str(webhook.get("endpoint") or "")
    if webhook.get("status") != "active":
        return failed("zendesk", "webhook", f"{WEBHOOK_NAME!r} is {webhook.get('status')}", CONNECT_FIX)
    if doctor.endpoint is not None and endpoint != doctor.endpoint:
        return failed(
            "zendesk",
            "webhook",
            f"{WEBHOOK_NAME!r} calls {endpoint}, not {doctor.endpoint}",
            f"run `rpa zendesk connect --url {doctor.endpoint.removesuffix(WEBHOOK_PATH)}`",
        )
    if not endpoint.endswith(WEBHOOK_PATH):
        return failed("zendesk", "webhook", f"{WEBHOOK_NAME!r} calls {endpoint}, not rpa serve's path", CONNECT_FIX)
    unchecked = "" if doctor.endpoint else " (give --serve-url or RPA_SERVE_URL to check the address)"
    return passed("zendesk", "webhook", f"{WEBHOOK_NAME!r} calls {endpoint}{unchecked}")


def check_trigger(doctor: Doctor, title: str) -> Verdict:
    triggers = doctor.once("triggers", doctor.zendesk.triggers)
    found = next((t for t in triggers if t.get("title") == title), None)
    if found is None:
        return failed("trigger", title, "no trigger with this title", CONNECT_FIX)
    if not found.get("active", True):
        return failed("trigger", title, f"trigger {found['id']} is inactive", CONNECT_FIX)
    webhook = doctor.webhook()
    calls = {
        str(action["value"][0])
        for action in found.get("actions") or []
        if action.get("field") == "notification_webhook" and action.get("value")
    }
    if webhook is None or str(webhook["id"]) not in calls:
        return failed("trigger", title, f"trigger {found['id']} does not call {WEBHOOK_NAME!r}", CONNECT_FIX)
    return passed("trigger", title, f"trigger {found['id']} calls the webhook")


def check_signing_secret(doctor: Doctor) -> Verdict:
    secret = doctor.settings.webhook_signing_secret
    fix = "set RPA_WEBHOOK_SIGNING_SECRET where `rpa serve` runs (`rpa zendesk connect --url ... --show-secret`)"
    if secret is None or not secret.get_secret_value().strip():
        return failed("webhook secret", "RPA_WEBHOOK_SIGNING_SECRET", "not set: `rpa serve` refuses to start", fix)
    webhook = doctor.webhook()
    if webhook is None:
        return passed("webhook secret", "RPA_WEBHOOK_SIGNING_SECRET", "set (no webhook to compare it with)")
    actual = doctor.zendesk.webhook_signing_secret(str(webhook["id"]))
    if not hmac.compare_digest(actual.get_secret_value().encode(), secret.get_secret_value().encode()):
        return failed(
            "webhook secret",
            "RPA_WEBHOOK_SIGNING_SECRET",
            f"set, but not the signing secret of {WEBHOOK_NAME!r}: `rpa serve` would refuse every call",
            fix,
        )
    return passed("webhook secret", "RPA_WEBHOOK_SIGNING_SECRET", f"set, and it is {WEBHOOK_NAME!r}'s")


def _database_url(settings: Settings, file_name: str, subject: str, missing: str, fix: str) -> str | Verdict:
    """The shared Postgres, or the embedded SQLite file in the run folder; a file not made yet is a verdict
    (the doctor never creates a database)."""
    if settings.database_url:
        return settings.database_url
    path = (settings.run_dir / file_name).resolve()
    if not path.is_file():
        return failed("database", subject, f"{missing} at {path}", fix)
    return f"sqlite:///{path}"


def check_flows_database(doctor: Doctor) -> Verdict:
    """DBOS's own tables: there, and migrated to what this DBOS expects."""
    fix = "start `rpa worker` once: DBOS creates and migrates its tables when it launches"
    url = _database_url(doctor.settings, "flows.sqlite", "flows", "no flows database yet", fix)
    if isinstance(url, Verdict):
        return url
    engine = _engine(url, doctor.timeout)
    shown = _shown(url)
    try:
        if url.startswith("sqlite"):
            recorded, latest = get_sqlite_migration_versions(engine)
        else:
            recorded, latest = get_migration_versions(engine, DBOS_SCHEMA, True)
    except sa.exc.SQLAlchemyError as exc:
        return _unreachable("flows", shown, exc)
    finally:
        engine.dispose()
    if recorded < latest:
        return failed("database", "flows", f"{shown}: DBOS schema at version {recorded}, this DBOS needs {latest}", fix)
    return passed("database", "flows", f"{shown}: DBOS schema current (version {recorded})")


def check_run_store(doctor: Doctor) -> Verdict:
    """The run store's tables and every column this version reads."""
    fix = "start `rpa worker` once (or run `rpa flow list`): the run store creates and completes its tables"
    url = _database_url(doctor.settings, "store.sqlite", "run store", "no run store yet", fix)
    if isinstance(url, Verdict):
        return url
    engine = _engine(url, doctor.timeout)
    shown = _shown(url)
    try:
        inspector = sa.inspect(engine)
        present = set(inspector.get_table_names())
        missing: list[str] = []
        for table in run_store.metadata.sorted_tables:
            if table.name not in present:
                missing.append(table.name)
                continue
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in columns]
    except sa.exc.SQLAlchemyError as exc:
        return _unreachable("run store", shown, exc)
    finally:
        engine.dispose()
    if missing:
        return failed("database", "run store", f"{shown}: missing {', '.join(missing)}", fix)
    return passed("database", "run store", f"{shown}: {len(run_store.metadata.tables)} tables current")


# ---------------------------------------------------------------------------------------------
# Running them
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """A check to run and what to call it if it cannot even finish."""

    check: str
    subject: str
    run: Callable[[Doctor], Verdict]


def checks() -> list[Check]:
    """Every check, in the order they are shown: the machine, the consoles, Zendesk, the intake."""
    listed = [
        Check("chromium", "browser", check_chromium),  # first: ``diagnose`` runs it before the others
        Check("database", "flows", check_flows_database),
        Check("database", "run store", check_run_store),
    ]
    listed += [Check("console", name, partial(check_console, name=name)) for name in CONSOLES]
    listed.append(Check("zendesk", "token", check_zendesk_token))
    listed += [Check("ticket field", t, partial(check_field, title=t)) for t in FIELD_TITLES.values()]
    listed += [Check("macro", m.value, partial(check_macro, macro=m)) for m in Macro]
    listed += [Check("step macro", s.tag, partial(check_step_macro, step=s)) for s in TAG_STEPS]
    listed.append(Check("zendesk", "hand-off view", check_handoff_view))
    listed.append(Check("zendesk", "webhook", check_webhook))
    listed += [
        Check("trigger", t, partial(check_trigger, title=t)) for t in (NEW_TICKET_TRIGGER, UPDATE_TRIGGER, STEP_TRIGGER)
    ]
    listed.append(Check("webhook secret", "RPA_WEBHOOK_SIGNING_SECRET", check_signing_secret))
    return listed


def diagnose(
    settings: Settings, *, serve_url: str | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> Diagnosis:
    """Run every check side by side, each within ``timeout`` seconds of its start; secrets blanked out."""
    doctor = Doctor(settings, serve_url=serve_url, timeout=timeout)
    listed = checks()
    started: dict[int, float] = {}
    verdicts: dict[int, Verdict] = {}

    def run(index: int, check: Check) -> Verdict:
        started[index] = time.monotonic()
        try:
            verdict = check.run(doctor)
        except RPAError as exc:
            verdict = failed(check.check, check.subject, _first_line(exc), _fix_for(exc))
        except Exception as exc:  # one broken check must not hide the others' verdicts
            verdict = failed(check.check, check.subject, f"{type(exc).__name__}: {_first_line(exc)}", "see the detail")
        verdict.seconds = round(time.monotonic() - started[index], 3)
        return verdict

    # Chromium first and alone: the consoles' checks then share the one browser it started, instead of
    # each starting its own at the same moment.
    verdicts[0] = run(0, listed[0])
    doctor.browser_started = verdicts[0].ok
    pool = ThreadPoolExecutor(max_workers=PARALLEL_CHECKS, thread_name_prefix="doctor")
    try:
        futures: dict[int, Future[Verdict]] = {i: pool.submit(run, i, c) for i, c in enumerate(listed) if i}
        while len(verdicts) < len(listed):
            for index, future in futures.items():
                if index in verdicts:
                    continue
                if future.done():
                    verdicts[index] = future.result()
                elif index in started and time.monotonic() - started[index] > timeout + 10:
                    check = listed[index]
                    verdicts[index] = failed(
                        check.check, check.subject, f"no answer within {timeout:g} s", "see the detail"
                    )
            time.sleep(0.02)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        doctor.close()
    secrets = doctor.secrets()
    ordered = [_blanked(verdicts[i], secrets) for i in range(len(listed))]
    return Diagnosis(ok=all(v.ok for v in ordered), checks=ordered)


def render(diagnosis: Diagnosis) -> str:
    """One line per check: its verdict, what it is about, what it saw, and what to fix."""
    lines = []
    for v in diagnosis.checks:
        line = f"{'ok' if v.ok else 'FALLA':<5}  {v.check} · {v.subject}: {v.detail}"
        lines.append(line + (f" → {v.fix}" if v.fix else ""))
    failures = sum(not v.ok for v in diagnosis.checks)
    lines.append(
        "all checks pass" if diagnosis.ok else f"{failures} of {len(diagnosis.checks)} checks fail (FALLA above)"
    )
    return "\n".join(lines)


def doctor_command(
    settings: Settings, *, as_json: bool, serve_url: str | None, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> int:
    """``rpa doctor``: print the diagnosis; 0 when every check passes, 1 otherwise."""
    diagnosis = diagnose(settings, serve_url=serve_url, timeout=timeout)
    print(json.dumps(diagnosis.model_dump(mode="json"), ensure_ascii=False) if as_json else render(diagnosis))
    return 0 if diagnosis.ok else 1


# ---------------------------------------------------------------------------------------------
# Reading Zendesk's objects
# ---------------------------------------------------------------------------------------------
def _macro_effects(macro: dict[str, Any], fields: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The status and the Estado de Pedido option (by its name) a macro's actions set."""
    order_field = next((f for f in fields if ORDER_STATE_TITLE in (f.get("title"), f.get("raw_title"))), None)
    status = order_state = None
    for action in macro.get("actions") or []:
        field, value = str(action.get("field", "")), action.get("value")
        if field == "status":
            status = str(value)
        elif order_field is not None and field == f"custom_fields_{order_field['id']}":
            names = {o.get("value"): o.get("name") for o in order_field.get("custom_field_options") or []}
            order_state = str(names.get(value, value))
    return status, order_state


def _tags_added(macro: dict[str, Any]) -> set[str]:
    # Zendesk's "Add tags" action is ``current_tags``; ``set_tags`` replaces them and adds them too.
    return {
        tag
        for action in macro.get("actions") or []
        if action.get("field") in ("current_tags", "set_tags")
        for tag in str(action.get("value") or "").split()
    }


def _condition_tags(view: dict[str, Any]) -> set[str]:
    conditions = view.get("conditions") or {}
    return {
        tag
        for group in ("all", "any")
        for condition in conditions.get(group) or []
        if condition.get("field") == "current_tags" and condition.get("operator") == "includes"
        for tag in str(condition.get("value") or "").split()
    }


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _engine(url: str, timeout: float) -> sa.Engine:
    if url.startswith("sqlite"):
        # Only called for a file that exists, so no empty database is left where there was none.
        return sa.create_engine(url, connect_args={"timeout": timeout})
    return sa.create_engine(url, connect_args={"connect_timeout": max(1, int(timeout))}, pool_pre_ping=True)


def _shown(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _unreachable(subject: str, shown: str, exc: BaseException) -> Verdict:
    return failed(
        "database",
        subject,
        f"{shown} cannot be read: {_first_line(exc)}",
        "check RPA_DATABASE_URL (or RPA_RUN_DIR for SQLite) and that the database is up",
    )


def _fix_for(exc: RPAError) -> str:
    if isinstance(exc, CredentialsRejected):
        return "check RPA_ZENDESK__EMAIL and RPA_ZENDESK__API_TOKEN"
    if isinstance(exc, PortalUnavailable | PortalTimeout):
        return f"check that {exc.portal or 'the service'} is up and its address in the settings"
    return "see the detail"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _blanked(verdict: Verdict, secrets: list[str]) -> Verdict:
    detail, fix = verdict.detail, verdict.fix
    for secret in secrets:
        detail = detail.replace(secret, "***")
        fix = fix.replace(secret, "***") if fix else fix
    return verdict.model_copy(update={"detail": detail, "fix": fix})
