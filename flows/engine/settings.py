"""Every setting of the product in one ``Settings`` object, built once by the CLI and passed down.

Values come from the environment (prefix ``RPA_``, nested with ``__``, e.g. ``RPA_QVANTEL__BASE_URL``)
or an optional ``.env`` file. The defaults point at the local mock portals started by
``rpa mocks serve`` with their demo accounts, so the demo needs no configuration; a real deployment
sets every URL and secret.
"""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pages.browser import BrowserOptions, Timeouts
from robots.retry import RetryTiming
from robots.sessions import PortalAccess
from robots.zendesk import ZendeskAccess

#: The legacy consoles the robots drive (each has its own address and account in the settings).
CONSOLES = ("planificate", "qvantel", "ar", "bccs", "contrato", "syshelp", "impuestos")

#: The mock consoles' demo account (not a secret: it only opens the local mocks).
DEMO_USER = "agente.rpa"
DEMO_PASSWORD = "Clave.2026"


class ConsoleSettings(PortalAccess):
    """A console's address and account; unset parts fall back to the mocks' demo account."""

    user: str = DEMO_USER
    password: SecretStr = SecretStr(DEMO_PASSWORD)


class ZendeskSettings(ZendeskAccess):
    """Zendesk's address and API account; unset parts fall back to the mock Zendesk's."""

    email: str = "rpa@contactcentre.example"
    api_token: SecretStr = SecretStr("demo-api-token")


def _mock(port: int) -> ConsoleSettings:
    return ConsoleSettings(base_url=f"http://127.0.0.1:{port}")


class ProcessTimings(BaseModel):
    """Durations of the process (seconds); tests shrink them to fractions of a second."""

    customer_reply_seconds: float = Field(1800, description="wait for the customer before following up (30 min)")
    token_reply_seconds: float = Field(600, description="wait for the customer's token (its ~10 min lifetime)")
    analyst_reply_seconds: float = Field(172800, description="wait for the activations analysts")
    analyst_poll_seconds: float = Field(60, description="how often the deployment reads the analysts' task inbox")
    agent_review_seconds: float = Field(86400, description="wait for a person to approve CI photos and selfie")
    watch_interval_seconds: float | None = Field(
        None,
        gt=0,
        description="read every live flow's ticket this often: only for a deployment Zendesk's webhook cannot "
        "reach (one call per live flow per interval, growing with the flows waiting); unset: the flows hear "
        "of their tickets through `rpa serve` and the catch-up reader only",
    )
    catch_up_interval_seconds: float = Field(
        60,
        gt=0,
        description="how often the deployment reads Zendesk's ticket event export for what no webhook brought "
        "(Zendesk allows 10 export requests a minute: below 12 s the reader asks more than half of them)",
    )
    catch_up_look_back_seconds: float = Field(
        3600,
        ge=0,
        description="where a deployment's first read of the ticket event export starts: this long before it",
    )
    max_tokens: int = Field(2, description="tokens sent before *Tocken: Cliente no contesta* (7.4)")
    silence_horizon_seconds: float = Field(
        259200, description="after the last follow-up, how long a silent customer is still waited for (72 h)"
    )
    whatsapp_window_seconds: float = Field(
        86400, description="WhatsApp's customer-service window: later, only an approved template may be sent"
    )
    closing_template: str | None = Field(
        None,
        description="approved WhatsApp template that carries the no-answer macro after the window; "
        "unset: the end of a long silence is a hand-off to an agent instead",
    )
    handoff_wait_seconds: float = Field(604800, description="how long a hand-off waits for an agent (7 days)")
    outage_first_pause_seconds: float = Field(30, description="first pause before trying a down console again")
    outage_max_pause_seconds: float = Field(300, description="longest pause between tries of a down console")
    outage_horizon_seconds: float = Field(1800, description="how long a down console is waited out (30 min)")
    token_alphabet: str = Field("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", description="characters of AR's SMS code")
    token_length: int = Field(6, description="length of AR's SMS code")


class Settings(BaseSettings):
    """The product's settings."""

    model_config = SettingsConfigDict(env_prefix="RPA_", env_nested_delimiter="__", env_file=".env", extra="ignore")

    planificate: ConsoleSettings = Field(default_factory=lambda: _mock(8702))
    qvantel: ConsoleSettings = Field(default_factory=lambda: _mock(8703))
    ar: ConsoleSettings = Field(default_factory=lambda: _mock(8704))
    bccs: ConsoleSettings = Field(default_factory=lambda: _mock(8705))
    contrato: ConsoleSettings = Field(default_factory=lambda: _mock(8706))
    syshelp: ConsoleSettings = Field(default_factory=lambda: _mock(8707))
    impuestos: ConsoleSettings = Field(default_factory=lambda: _mock(8708))
    zendesk: ZendeskSettings = Field(default_factory=lambda: ZendeskSettings(base_url="http://127.0.0.1:8701"))
    mocks_control_url: str = Field("http://127.0.0.1:8700", description="control API of the mock portals")

    browser: BrowserOptions = Field(default_factory=BrowserOptions)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    retry: RetryTiming = Field(default_factory=RetryTiming)
    process: ProcessTimings = Field(default_factory=ProcessTimings)

    database_url: str | None = Field(None, description="Postgres URL for many workers; default SQLite")
    executor_id: str = Field(default_factory=socket.gethostname, description="this worker machine's stable name")
    application_version: str = Field(
        "migration-3",
        description=(
            "pinned so waiting flows survive upgrades: changes of the flow go behind patches and keep it; "
            "only a change no patch can carry bumps it (see the README, Upgrades)"
        ),
    )
    zendesk_calls_per_minute: int | None = Field(
        None,
        gt=0,
        description="Zendesk API calls per minute that every process of the deployment shares (set it below "
        "the account's plan limit: 200 Team … 700 Enterprise, 2,500 High Volume); unset: not counted",
    )
    flows_per_worker: int = Field(
        8,
        gt=0,
        description="robot steps one worker runs at once: its browser's capacity (a flow waiting for someone "
        "does not count: it holds no thread)",
    )
    flows_in_memory_per_worker: int = Field(
        5000,
        gt=0,
        description="flows one worker keeps at once, waiting ones included; a waiting flow costs under 100 kB "
        "of memory and no thread, so this only bounds memory",
    )
    worker_lease_seconds: float = Field(
        30,
        gt=0,
        description="a worker silent this long (its lease not renewed, on a shared database) is taken for dead: "
        "a live worker takes its pending flows over, and if it wakes it stops and exits",
    )
    trace_failed_steps: bool = Field(True, description="keep a Playwright trace of a failed step")
    shared_file_max_mb: float = Field(
        25,
        gt=0,
        description="largest flow file (evidence, customer photo, failed step's screenshot or trace) put in the "
        "database for every worker and `rpa serve`; a larger one stays on the disk of the machine that wrote it",
    )
    webhook_signing_secret: SecretStr | None = Field(
        None, description="signing secret of the Zendesk webhook `rpa serve` receives; unset: `rpa serve` refuses"
    )
    serve_url: str | None = Field(
        None,
        description="the address at which Zendesk reaches `rpa serve` (https://...): `rpa doctor` checks that "
        "the webhook `rpa zendesk connect` made points there",
    )
    webhook_tolerance_seconds: float = Field(
        300, description="how far a webhook's signed timestamp may be from now before it is refused as a replay"
    )
    panel_token: SecretStr | None = Field(
        None,
        description="bearer token the Zendesk panel app sends (its secure setting `token`); unset with "
        "api_key unset: the panel's API answers 503",
    )
    api_key: SecretStr | None = Field(
        None, description="bearer token of other callers of the panel's API, and the supervisor page's key"
    )
    panel_allowed_groups: list[int] = Field(
        default_factory=list, description="Zendesk group ids whose tickets the panel may act on; empty: all"
    )
    panel_allowed_brands: list[int] = Field(
        default_factory=list, description="Zendesk brand ids whose tickets the panel may act on; empty: all"
    )

    metrics_require_key: bool = Field(
        False,
        description="`rpa serve`'s /metrics asks for RPA_API_KEY as bearer token; off: open, for a Prometheus "
        "that scrapes it on the internal network",
    )
    metrics_flush_seconds: float = Field(
        5, gt=0, description="how often a process writes its counters to the shared database for /metrics"
    )
    documents_retention_days: int = Field(
        30,
        gt=0,
        description="days the customer's CI photos, selfie and evidence files are kept after their flow ended "
        "(`rpa purge` removes them; the Zendesk notes stay)",
    )

    acmo_code: str = Field("ACMO-TVD-RPA", description="code registered as ACMO when confirming a line")
    evidence_dir: Path = Path("evidence")
    run_dir: Path = Path("runs")
    log_level: str = "INFO"

    def system_database_url(self) -> str:
        """Where DBOS keeps flow state: the shared Postgres, or a SQLite file in the run folder."""
        if self.database_url:
            return self.database_url
        self.run_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.run_dir / 'flows.sqlite').resolve()}"

    def store_url(self) -> str:
        """Where the run store keeps its tables: the same Postgres, or its own SQLite file."""
        if self.database_url:
            return self.database_url
        self.run_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.run_dir / 'store.sqlite').resolve()}"

    def portal(self, name: str) -> PortalAccess:
        access = getattr(self, name, None)
        if not isinstance(access, PortalAccess):
            raise KeyError(f"no console named {name!r} in settings")
        return access
