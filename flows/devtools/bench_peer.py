"""``make bench``, flow section: what the customer waits for, and what a naive script costs for the same work.

The flow's figures (active time against its floor) say what the product spends; they do not say what the
customer on WhatsApp sees, nor what the product saves against the obvious way of scripting the robots.
Two figures, taken in the same run as the flow's, at the same console latency:

1. **Customer-visible reply time.** For the single happy-path flows the bench has just timed, each customer
   answer on the ticket is paired with the robot's next public comment; the reply time is, as in
   ``bench_scale``, from the moment Zendesk has the customer's comment to the moment it has that reply,
   both by the mock Zendesk's clock. Beside it, what the consoles alone need for that reply: the console
   requests of the robot steps that started in between, times the console latency. The request log of
   each flow is gone by then (the bench keeps it only while a flow runs), so the requests per robot step
   are those the log showed for the fastest run (``floor["robot_steps"]``): on the happy path every run
   makes the same requests in the same steps. Answers that arrive in several comments before one reply
   count once, from the last of them (the answer is whole only then). The robot acknowledges an answer it
   must work on at once (*Respuesta rápida::Opción 4*, "estamos procesando") and only then goes to the
   consoles, so the next public comment needs no console; the time to the next comment past that
   acknowledgement (the offer, the token's SMS...) and its consoles' need are reported beside it.
2. **A naive peer.** The happy path's robot steps done the way a plain Playwright script does them: for
   each step a fresh Chromium launch, a new context, a login to the console, the step through the same
   page objects, its evidence (the screenshot where the robot takes one, the PDF for the print), and
   close. No session is reused, no browser shared, no durable engine, no Zendesk. It runs as a child
   process (``python -m flows.devtools.bench_peer``) on a fresh ticket of the bench scenario, so its CPU is
   its own process tree's: the children's resource usage the kernel hands back when the child is reaped,
   checked against a sampling of ``/proc`` (a process orphaned on the way would escape the first), minus
   what the child spent starting Python and preparing the world before the first step. The customer's
   part is played as the simulated customer plays it: the CI photos and selfie are sent on the ticket
   through the control API and downloaded from Zendesk before the clock starts, and the token is the
   newest SMS from AR's sender on the line (``/_control/sms``), read between the token and the migration
   (its time is left out of the wall time, as the flow's waits are left out of its active time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import resource
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from playwright.async_api import Playwright, async_playwright

from flows.devtools.bench import BenchWorker, _cpu_seconds, _descendants, _parents, bench_scenario
from flows.engine.settings import CONSOLES, Settings
from flows.process.definition import MACRO_SHORT_NAMES, Macro
from pages.ar import ARPage
from pages.base import ConsolePage
from pages.contrato import ContratoPage
from pages.conversation import ConversationCard
from pages.planificate import PlanificatePage
from pages.qvantel import QvantelPage
from robots.contrato import Backup, BackupKind
from robots.retry import RetryTiming, zendesk_call
from robots.zendesk import ZendeskClient

C = TypeVar("C", bound=ConsolePage)

#: The happy path's robot steps, in the flow's order (``round_trips`` in bench.json).
PEER_STEPS = (
    "planificate.preanalysis",
    "qvantel.line_status",
    "conversation.plans_card",
    "conversation.capture",
    "ar.issue_token",
    "ar.migrate",
    "contrato.upload_contract",
    "contrato.print_contract",
)
#: AR's SMS sender: the token is the code in its newest SMS on the line.
TOKEN_SENDER = "7371"
_CODE = re.compile(r"\b[A-Z0-9]{4,12}\b")
#: What the T&C picture shows: the formal macro and the customer's answer.
TERMS_LINES = (
    (
        "Agente",
        "Confirmamos el plan elegido y los términos y condiciones del servicio pospago. Responda ACEPTO.",
        False,
    ),
    ("Cliente", "ACEPTO", True),
)
_MACRO_SHORT_NAME = {macro.value: name for name, macro in MACRO_SHORT_NAMES.items()}
#: The robot's "we are on it" reply to an answer it then works on ("Respuesta rápida::Opción 4").
ACKNOWLEDGEMENT = _MACRO_SHORT_NAME[Macro.GESTION.value]


def percentile(values: list[float], share: float) -> float:
    """Nearest rank, as ``bench_scale`` reports its reply times."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------------------------
# 1: reply times of the timed single flows
# ---------------------------------------------------------------------------------------------
def measure_reply_times(control_url: str, bench: BenchWorker, floor: dict[str, Any], latency_ms: int) -> dict[str, Any]:
    """Each customer answer of the single flows in ``floor["runs"]``: its reply time and the consoles' need, to
    the robot's next public comment and to its next one past the acknowledgement."""
    world = httpx.get(control_url + "/_control/world", timeout=60).json()
    requests_of_step: dict[str, list[int]] = defaultdict(list)
    for step in floor.get("robot_steps", []):
        requests_of_step[step["step"]].append(step["console_requests"])
    # Comments carry Zendesk's wall clock, robot steps this process's monotonic one: both are the kernel's.
    wall_minus_monotonic = time.time() - time.monotonic()

    def consoles(steps: list[tuple[str, float]], since: datetime, until: datetime) -> tuple[list[str], int]:
        """The robot steps started between two comments, and the console requests they make."""
        start, end = since.timestamp() - wall_minus_monotonic, until.timestamp() - wall_minus_monotonic
        inside = [name for name, started in steps if start <= started <= end]
        seen: dict[str, int] = defaultdict(int)
        requests = 0
        for name in inside:
            counts = requests_of_step.get(name, [])
            requests += counts[min(seen[name], len(counts) - 1)] if counts else 0
            seen[name] += 1
        return inside, requests

    replies = []
    for flow_id in [run["flow_id"] for run in floor.get("runs", [])]:
        run = bench.store.flow(flow_id)
        if run is None or str(run.ticket_id) not in world["tickets"]:
            continue
        ticket = world["tickets"][str(run.ticket_id)]
        steps = [(s.step, s.started) for s in bench.probe.steps_of([flow_id])]
        ended = run.updated_at if run.updated_at.tzinfo else run.updated_at.replace(tzinfo=UTC)
        for pair in _replies(ticket, until=ended):
            inside, requests = consoles(steps, pair["answered_at"], pair["replied_at"])
            reply = {
                "flow_id": flow_id,
                "step": pair["step"],
                "comments": pair["comments"],
                "reply_s": round((pair["replied_at"] - pair["answered_at"]).total_seconds(), 3),
                "console_s": round(requests * latency_ms / 1000, 3),
                "console_requests": requests,
                "robot_steps": inside,
            }
            if pair["substance_at"] is not None:
                inside, requests = consoles(steps, pair["answered_at"], pair["substance_at"])
                reply |= {
                    "substance": pair["substance"],
                    "substance_s": round((pair["substance_at"] - pair["answered_at"]).total_seconds(), 3),
                    "substance_console_s": round(requests * latency_ms / 1000, 3),
                    "substance_robot_steps": inside,
                }
            replies.append(reply)
    figures: dict[str, Any] = {
        "latency_ms": latency_ms,
        "flows": len(floor.get("runs", [])),
        "how": "reply: customer comment to the robot's next public comment, by the mock Zendesk's clock; "
        f"substance: to its next public comment other than the acknowledgement ({ACKNOWLEDGEMENT}); console: "
        "console requests of the robot steps started in between (per step, as logged in the fastest run) x latency",
        "replies": replies,
        **_spread(replies),
    }
    by_step: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for reply in replies:
        by_step[reply["step"]].append(reply)
    figures["by_step"] = {step: {"replies": len(items), **_spread(items)} for step, items in by_step.items()}
    return figures


def _spread(replies: list[dict[str, Any]]) -> dict[str, float]:
    """p50 and p95 of every time the replies carry."""
    spread = {}
    for key in ("reply_s", "console_s", "substance_s", "substance_console_s"):
        values = [r[key] for r in replies if key in r]
        if values:
            name = key.removesuffix("_s")
            spread[f"{name}_p50_s"], spread[f"{name}_p95_s"] = percentile(values, 0.5), percentile(values, 0.95)
    return spread


def _replies(ticket: dict[str, Any], until: datetime | None = None) -> list[dict[str, Any]]:
    """Each customer answer with the robot's next public comment, and its next past the acknowledgement.

    An answer in several comments before the robot speaks counts once, from its last comment. Only comments
    up to ``until`` (the flow's end) count: the floor replays the flow's Zendesk requests on the same ticket
    afterwards, and the simulated customer answers that replay too."""
    customer = ticket["requester_id"]
    public = [  # in the order Zendesk took them
        c
        for c in ticket.get("comments", [])
        if c.get("public", True) and (until is None or datetime.fromisoformat(c["created_at"]) <= until)
    ]
    pairs = []
    asked: str | None = None  # what the robot last said in public: what the customer answers
    for n, comment in enumerate(public):
        if comment["author_id"] != customer:
            asked = _macro_name(comment)
            continue
        following = public[n + 1] if n + 1 < len(public) else None
        if asked is None or following is None or following["author_id"] == customer:
            continue  # the conversation's opening message, an answer not over yet, or one left unanswered
        robot_said = list(itertools.takewhile(lambda c: c["author_id"] != customer, public[n + 1 :]))
        substance = next((c for c in robot_said if _macro_name(c) != ACKNOWLEDGEMENT), None)
        pairs.append(
            {
                "step": f"{asked} -> {_macro_name(following)}",
                "comments": [comment["id"], following["id"]],
                "answered_at": datetime.fromisoformat(comment["created_at"]),
                "replied_at": datetime.fromisoformat(following["created_at"]),
                "substance": _macro_name(substance) if substance else None,
                "substance_at": datetime.fromisoformat(substance["created_at"]) if substance else None,
            }
        )
    return pairs


def _macro_name(comment: dict[str, Any]) -> str:
    title = comment.get("macro_title")
    if not title:
        return "public reply"
    return _MACRO_SHORT_NAME.get(title, title.rsplit("::", 1)[-1])


# ---------------------------------------------------------------------------------------------
# 2: the naive peer, run as a child process and measured from here
# ---------------------------------------------------------------------------------------------
def measure_peer(
    urls: dict[str, str], ticket_id: int, latency_ms: int, executable: Path | None = None, timeout: float = 300
) -> dict[str, Any]:
    """Reset the world to one fresh bench ticket and run the naive peer on it; its wall time, steps and CPU.

    ``executable`` is the Chromium to launch (the settings' choice when None): the product's, to compare."""
    reset = httpx.post(urls["control"] + "/_control/reset", json=bench_scenario([ticket_id], latency_ms), timeout=30)
    reset.raise_for_status()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = [sys.executable, "-m", "flows.devtools.bench_peer", "--urls", json.dumps(urls), "--ticket", str(ticket_id)]
    child = subprocess.Popen(
        argv + (["--browser", str(executable)] if executable else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = _TreeCpu(child.pid).start()
    try:
        out, err = child.communicate(timeout=timeout)
    finally:
        sampler.stop()
        if child.poll() is None:
            child.kill()
            child.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode != 0 or not out.strip():
        raise RuntimeError(f"the naive peer failed ({child.returncode}): {err.strip()[-2000:]}")
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    # The reaped children's usage counts the whole tree when every parent waited for its children.
    reaped = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    tree = max(reaped, sampler.seconds)
    figures.update(
        latency_ms=latency_ms,
        ticket_id=ticket_id,
        cpu_reaped_s=round(reaped, 3),
        cpu_sampled_s=round(sampler.seconds, 3),
        cpu_s=round(tree - figures["cpu_before_first_step_s"], 3),
    )
    return figures


class _TreeCpu:
    """Samples the CPU seconds of a process and its descendants, keeping the last value seen of each."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root = root
        self.interval = interval
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-peer-cpu", daemon=True)

    def start(self) -> _TreeCpu:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def seconds(self) -> float:
        return sum(self._seen.values())

    def _run(self) -> None:
        while True:
            for pid in _descendants(self.root, _parents()):
                spent = _cpu_seconds(pid)
                if spent:
                    self._seen[pid] = max(self._seen.get(pid, 0.0), spent)
            if self._stop.wait(self.interval):
                return


# ---------------------------------------------------------------------------------------------
# The peer itself (the child process)
# ---------------------------------------------------------------------------------------------
class NaivePeer:
    """The happy path's robot steps, each in a browser of its own, logged in afresh."""

    def __init__(self, playwright: Playwright, settings: Settings) -> None:
        self.playwright = playwright
        self.settings = settings
        self.launches = 0
        self.logins = 0
        self.steps: list[dict[str, Any]] = []

    @contextlib.asynccontextmanager
    async def fresh_page(self, **context: Any) -> AsyncIterator[Any]:
        browser = await self.playwright.chromium.launch(**self.settings.browser.launch_kwargs())
        self.launches += 1
        try:
            page_context = await browser.new_context(locale="es-BO", timezone_id="America/La_Paz", **context)
            page_context.set_default_timeout(self.settings.timeouts.action_ms)
            page_context.set_default_navigation_timeout(self.settings.timeouts.navigation_ms)
            yield await page_context.new_page()
        finally:
            await browser.close()

    @contextlib.asynccontextmanager
    async def console(self, console_type: type[C]) -> AsyncIterator[C]:
        access = self.settings.portal(console_type.portal)
        async with self.fresh_page() as page:
            console = console_type(page, access.base_url)
            await console.dismiss_notices_automatically()
            await console.login(access.user, access.password.get_secret_value())
            self.logins += 1
            yield console

    @contextlib.asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        started = time.perf_counter()
        yield
        self.steps.append({"step": name, "seconds": round(time.perf_counter() - started, 3)})


async def run_peer_steps(settings: Settings, control_url: str, ticket: dict[str, Any]) -> dict[str, Any]:
    """Prepare what the customer sends (untimed), then the timed sequence of steps."""
    fields = ticket["fields"]
    line, city = fields["line"], fields["city"]
    documents = _customer_documents(settings, control_url, ticket["id"])
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    customer_s = 0.0
    started = time.perf_counter()
    async with async_playwright() as playwright:
        peer = NaivePeer(playwright, settings)
        async with peer.step("planificate.preanalysis"), peer.console(PlanificatePage) as planificate:
            await planificate.search(line)
            preanalysis = await planificate.read_result() or {}
            preanalysis_shot = await planificate.screenshot()
        plans = [p.strip() for p in preanalysis.get("Planes recomendados", "").split(",") if p.strip() not in ("", "-")]
        plan = plans[0]
        async with peer.step("qvantel.line_status"), peer.console(QvantelPage) as qvantel:
            await qvantel.open_line(line)
            await qvantel.read_line()
            line_shot = await qvantel.screenshot()
        async with peer.step("conversation.plans_card"), peer.fresh_page(viewport=_CARD) as page:
            card = ConversationCard(page)
            await card.show_plans("Planes pospago vigentes", plans)
            await card.picture()
        async with peer.step("conversation.capture"), peer.fresh_page(viewport=_CARD) as page:
            card = ConversationCard(page)
            when = f"{datetime.now():%d/%m/%Y %H:%M}"
            await card.show(
                f"Ticket #{ticket['id']} · {ticket['subject']}", [(w, when, t, m) for w, t, m in TERMS_LINES]
            )
            terms_shot = await card.picture()
        async with peer.step("ar.issue_token"), peer.console(ARPage) as ar:
            await ar.generate_token(line)
            if not await ar.read_token_confirmation():
                raise RuntimeError(f"AR issued no token: {await ar.alert_text()}")
        waited = time.perf_counter()
        token = _newest_token(control_url, line)
        customer_s += time.perf_counter() - waited
        async with peer.step("ar.migrate"), peer.console(ARPage) as ar:
            await ar.open_migration(line)
            if plan not in (await ar.offered_plans() or []):
                raise RuntimeError(f"AR does not offer {plan}: {await ar.alert_text()}")
            await ar.fill_migration(line, token, plan, city, city)
            await ar.migrate()
            outcome = await ar.read_outcome()
            if outcome.alert or not outcome.result:
                raise RuntimeError(f"AR did not migrate the line: {outcome.alert}")
        backups = [
            Backup(kind=BackupKind.PREANALYSIS, file_name="preanalisis.png", content=preanalysis_shot),
            Backup(kind=BackupKind.LINE_CONFIRMED, file_name="linea.png", content=line_shot),
            Backup(kind=BackupKind.TERMS_ACCEPTANCE, file_name="tyc.png", content=terms_shot),
            *documents,
        ]
        async with peer.step("contrato.upload_contract"), peer.console(ContratoPage) as contrato:
            await contrato.list_contracts(line)
            await contrato.create_contract(line, fields["holder_name"], fields["holder_ci"], plan, city)
            for backup in backups:
                await contrato.attach_backup(backup.kind.label, backup.payload())
            await contrato.save()
            refused = await contrato.alert_text()
            if refused:
                raise RuntimeError(f"Contrato digital refused the contract: {refused}")
            number = (await contrato.read_contract())["Número de contrato"]
            await contrato.screenshot()
        async with peer.step("contrato.print_contract"), peer.console(ContratoPage) as contrato:
            await contrato.open_contract(number)
            if await contrato.alert_text():
                raise RuntimeError(f"no contract {number}")
            await contrato.read_contract()
            pdf = await contrato.print_pdf()
    wall = time.perf_counter() - started - customer_s
    return {
        "wall_s": round(wall, 3),
        "customer_s": round(customer_s, 3),
        "steps": peer.steps,
        "launches": peer.launches,
        "logins": peer.logins,
        "skipped": [],
        "plan": plan,
        "contract_number": number,
        "pdf_bytes": len(pdf.content),
        "cpu_before_first_step_s": round(cpu_before.ru_utime + cpu_before.ru_stime, 3),
    }


#: The size of the page the product draws its conversation pictures on.
_CARD = {"width": 700, "height": 400}


def _customer_documents(settings: Settings, control_url: str, ticket_id: int) -> list[Backup]:
    """The customer's CI photos and selfie, sent on the ticket as she sends them and read back from Zendesk."""
    answer = httpx.post(
        f"{control_url}/_control/tickets/{ticket_id}/customer_message",
        json={"body": "Le envío mi carnet y la selfie", "documents": True},
        timeout=30,
    )
    answer.raise_for_status()
    zendesk = ZendeskClient(settings.zendesk, zendesk_call(RetryTiming()))
    try:
        found: dict[BackupKind, Backup] = {}
        for comment in zendesk.comments(ticket_id):
            if comment.id != answer.json()["comment_id"]:
                continue
            for attachment in comment.attachments:
                kind = BackupKind.of_customer_file(attachment.file_name)
                if kind is not None:
                    found[kind] = Backup(
                        kind=kind,
                        file_name=attachment.file_name,
                        content_type=attachment.content_type,
                        content=zendesk.download(attachment.content_url),
                    )
    finally:
        zendesk.close()
    return list(found.values())


def _newest_token(control_url: str, line: str, wait_seconds: float = 30) -> str:
    """The code in the newest SMS from AR on the line, as the customer reads it on her phone."""
    deadline = time.monotonic() + wait_seconds
    while True:
        messages = httpx.get(f"{control_url}/_control/sms/{line}", timeout=30).json()["messages"]
        texts = [m["text"] for m in messages if m["sender"] == TOKEN_SENDER]
        codes = [w for w in _CODE.findall(texts[-1]) if w != TOKEN_SENDER] if texts else []
        if codes:
            return str(codes[0])
        if time.monotonic() > deadline:
            raise RuntimeError(f"no token SMS on line {line}")
        time.sleep(0.05)


def mock_settings(urls: dict[str, str]) -> Settings:
    """This environment's settings with the consoles and Zendesk at the mocks' addresses."""
    base = Settings()
    update: dict[str, Any] = {
        name: getattr(base, name).model_copy(update={"base_url": urls[name]}) for name in CONSOLES if name in urls
    }
    update["zendesk"] = base.zendesk.model_copy(update={"base_url": urls["zendesk"]})
    return base.model_copy(update=update)


# ---------------------------------------------------------------------------------------------
# The table's rows
# ---------------------------------------------------------------------------------------------
def peer_rows(
    reply_time: dict[str, Any], peer: dict[str, Any], floor: dict[str, Any], concurrency: dict[str, Any]
) -> list[dict[str, Any]]:
    """Rows for ``bench.rows``: reply time and the naive peer (no targets: the issue sets none)."""
    found = []
    if reply_time.get("replies"):
        r = reply_time
        substance = (
            f"; past the acknowledgement ({ACKNOWLEDGEMENT}): p50 {r['substance_p50_s']:.1f} s / p95 "
            f"{r['substance_p95_s']:.1f} s, consoles alone p50 {r['substance_console_p50_s']:.1f} s / p95 "
            f"{r['substance_console_p95_s']:.1f} s"
            if "substance_p50_s" in r
            else ""
        )
        found.append(
            {
                "measure": f"Customer-visible reply time, {r['latency_ms']} ms",
                "value": f"p50 {r['reply_p50_s']:.1f} s / p95 {r['reply_p95_s']:.1f} s",
                "detail": f"consoles alone p50 {r['console_p50_s']:.1f} s / p95 {r['console_p95_s']:.1f} s"
                f"{substance} (console requests x {r['latency_ms']} ms); {len(r['replies'])} answers in "
                f"{r['flows']} flows",
                "target": "",
                "pass": None,
            }
        )
    if peer.get("steps"):
        skipped = f"; skipped: {', '.join(peer['skipped'])}" if peer.get("skipped") else ""
        product_cpu = concurrency.get("one_cpu_per_flow_s")
        found.append(
            {
                "measure": f"Naive peer (browser + login per step), {peer['latency_ms']} ms",
                "value": f"{peer['wall_s']:.1f} s",
                "detail": f"CPU {peer['cpu_s']:.1f} s, {peer['launches']} launches, {peer['logins']} logins for "
                f"{len(peer['steps'])} robot steps; the product: active {floor.get('active_s', 0):.1f} s "
                f"(robot steps {floor.get('robot_steps_s', 0):.1f} s), CPU "
                + (f"{product_cpu:.1f} s" if product_cpu is not None else "-")
                + skipped,
                "target": "",
                "pass": None,
            }
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.devtools.bench_peer", description="the naive peer's steps on one bench ticket"
    )
    parser.add_argument("--urls", required=True, help="the mocks' addresses, as JSON (MockPortals.urls)")
    parser.add_argument("--ticket", type=int, required=True)
    parser.add_argument("--browser", type=Path, default=None, help="the Chromium to launch (default: the settings')")
    args = parser.parse_args(argv)
    urls: dict[str, str] = json.loads(args.urls)
    settings = mock_settings(urls)
    if args.browser is not None:
        settings.browser = settings.browser.model_copy(update={"executable_path": args.browser})
    world = httpx.get(urls["control"] + "/_control/world", timeout=60).json()
    ticket = world["tickets"][str(args.ticket)]
    figures = asyncio.run(run_peer_steps(settings, urls["control"], ticket))
    figures["executable"] = str(settings.browser.executable())
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
