"""The robots of one process, built from settings: one Chromium, one session per console, one Zendesk client.

Both the agent's single steps and the flow runner get their robots here, so a login is made once per
console and reused by every step that follows in the same process.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TypeVar

from flows.engine.budget import ZendeskBudget
from flows.engine.files import FlowFiles
from flows.engine.metrics import ProcessMetrics
from flows.engine.settings import Settings
from pages.ar import ARPage
from pages.base import ConsolePage
from pages.bccs import BCCSPage
from pages.contrato import ContratoPage
from pages.impuestos import TaxRegistryPage
from pages.planificate import PlanificatePage
from pages.qvantel import QvantelPage
from pages.syshelp import SyshelpPage
from robots.ar import ARRobot
from robots.bccs import BCCSRobot
from robots.contrato import ContratoRobot
from robots.conversation import ConversationEvidence
from robots.evidence import EvidenceStore
from robots.impuestos import TaxRegistryRobot
from robots.planificate import PlanificateRobot
from robots.qvantel import QvantelRobot
from robots.retry import console_step, zendesk_call
from robots.sessions import BrowserHost, PortalSession
from robots.syshelp import SyshelpRobot
from robots.zendesk import ZendeskClient

C = TypeVar("C", bound=ConsolePage)


class Toolkit:
    """Robots sharing one browser host; close it when done."""

    def __init__(self, settings: Settings, host: BrowserHost | None = None, *, trace: bool = False) -> None:
        self.settings = settings
        self.trace = trace
        self.host = host or BrowserHost(settings.browser)
        self._owns_host = host is None
        self._sessions: dict[str, PortalSession] = {}
        # Every evidence file is also put in the deployment's database, so any worker can go on with the flow.
        self.files = FlowFiles(settings)
        self.evidence = EvidenceStore(settings.evidence_dir, mirror=self.files.keep)
        # Counted per process and written to the shared database, where `rpa serve`'s /metrics reads them.
        self.metrics = ProcessMetrics(settings)

    def session(self, console: type[C]) -> PortalSession[C]:
        if console.portal not in self._sessions:
            self._sessions[console.portal] = PortalSession(
                self.host,
                console,
                self.settings.portal(console.portal),
                self.settings.timeouts,
                trace=self.trace,
            )
        return self._sessions[console.portal]

    @cached_property
    def zendesk(self) -> ZendeskClient:
        per_minute = self.settings.zendesk_calls_per_minute
        return ZendeskClient(
            self.settings.zendesk,
            zendesk_call(self.settings.retry, self.metrics),
            timeout_seconds=self.settings.timeouts.navigation_ms / 1000,
            # Every process of the deployment draws from one budget in the shared database.
            budget=ZendeskBudget(self.settings.store_url(), per_minute) if per_minute else None,
            counter=self.metrics,
        )

    @cached_property
    def planificate(self) -> PlanificateRobot:
        return PlanificateRobot(self.session(PlanificatePage), console_step(self.settings.retry, self.metrics))

    @cached_property
    def qvantel(self) -> QvantelRobot:
        return QvantelRobot(self.session(QvantelPage), console_step(self.settings.retry, self.metrics))

    @cached_property
    def ar(self) -> ARRobot:
        return ARRobot(self.session(ARPage), console_step(self.settings.retry, self.metrics))

    @cached_property
    def bccs(self) -> BCCSRobot:
        return BCCSRobot(self.session(BCCSPage), console_step(self.settings.retry, self.metrics))

    @cached_property
    def contrato(self) -> ContratoRobot:
        return ContratoRobot(self.session(ContratoPage), console_step(self.settings.retry, self.metrics))

    @cached_property
    def syshelp(self) -> SyshelpRobot:
        return SyshelpRobot(self.session(SyshelpPage), console_step(self.settings.retry, self.metrics))

    @cached_property
    def impuestos(self) -> TaxRegistryRobot:
        return TaxRegistryRobot(self.session(TaxRegistryPage), console_step(self.settings.retry, self.metrics))

    @cached_property
    def conversation(self) -> ConversationEvidence:
        return ConversationEvidence(self.host)

    def save_failure(self, folder: Path, stem: str, portal: str | None = None) -> tuple[Path | None, Path | None]:
        """The last screenshot and trace of the console that failed (or, not knowing it, of the one used last)."""
        used = [s for s in self._sessions.values() if s.last_used]
        if not used or not self.host.running:
            return None, None
        failed = self._sessions.get(portal or "")
        latest = failed if failed is not None and failed.last_used else max(used, key=lambda s: s.last_used)
        screenshot, trace = self.host.run(latest.save_failure(folder, stem))
        # Shared so a report built elsewhere shows them; the step's own error is what must surface, not ours.
        self.files.keep_quietly(screenshot)
        self.files.keep_quietly(trace)
        return screenshot, trace

    def close(self) -> None:
        sessions = list(self._sessions.values())
        self._sessions.clear()
        if sessions and self.host.running:
            for session in sessions:
                self.host.run(session.close())
        if self._owns_host:
            self.host.close()
        if "zendesk" in self.__dict__:
            self.zendesk.close()
        self.files.dispose()
        self.metrics.close()

    def __enter__(self) -> Toolkit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
