"""Every setting of the product in one ``Settings`` object, built once by the CLI and passed down.

Values come from the environment (prefix ``RPA_``, nested with ``__``, e.g. ``RPA_QVANTEL__BASE_URL``)
or an optional ``.env`` file. The defaults point at the local mock portals started by
``rpa mocks serve`` with their demo accounts, so the demo needs no configuration; a real deployment
sets every URL and secret.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pages.browser import BrowserOptions, Timeouts
from robots.retry import RetryTiming
from robots.sessions import PortalAccess
from robots.zendesk import ZendeskAccess

#: The mock consoles' demo account (not a secret: it only opens the local mocks).
DEMO_USER = "agente.rpa"
DEMO_PASSWORD = "Clave.2026"


def _mock(port: int) -> PortalAccess:
    return PortalAccess(base_url=f"http://127.0.0.1:{port}", user=DEMO_USER, password=SecretStr(DEMO_PASSWORD))


class ProcessTimings(BaseModel):
    """Durations of the process (seconds); tests shrink them to fractions of a second."""

    customer_reply_seconds: float = Field(1800, description="wait for the customer before following up")
    token_ttl_seconds: float = Field(600, description="an AR token's lifetime (about 10 minutes)")
    analyst_reply_seconds: float = Field(86400, description="wait for the activations analysts")
    agent_review_seconds: float = Field(86400, description="wait for a person to approve CI photos and selfie")


class Settings(BaseSettings):
    """The product's settings."""

    model_config = SettingsConfigDict(
        env_prefix="RPA_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    planificate: PortalAccess = Field(default_factory=lambda: _mock(8702))
    qvantel: PortalAccess = Field(default_factory=lambda: _mock(8703))
    ar: PortalAccess = Field(default_factory=lambda: _mock(8704))
    bccs: PortalAccess = Field(default_factory=lambda: _mock(8705))
    contrato: PortalAccess = Field(default_factory=lambda: _mock(8706))
    syshelp: PortalAccess = Field(default_factory=lambda: _mock(8707))
    impuestos: PortalAccess = Field(default_factory=lambda: _mock(8708))
    zendesk: ZendeskAccess = Field(default_factory=lambda: ZendeskAccess(
        base_url="http://127.0.0.1:8701", email="rpa@contactcentre.example",
        api_token=SecretStr("demo-api-token"),
    ))
    mocks_control_url: str = Field("http://127.0.0.1:8700", description="control API of the mock portals")

    browser: BrowserOptions = Field(default_factory=BrowserOptions)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    retry: RetryTiming = Field(default_factory=RetryTiming)
    process: ProcessTimings = Field(default_factory=ProcessTimings)

    acmo_code: str = Field("ACMO-TVD-RPA", description="code registered as ACMO when confirming a line")
    evidence_dir: Path = Path("evidence")
    run_dir: Path = Path("runs")
    log_level: str = "INFO"

    def portal(self, name: str) -> PortalAccess:
        access = getattr(self, name, None)
        if not isinstance(access, PortalAccess):
            raise KeyError(f"no console named {name!r} in settings")
        return access
