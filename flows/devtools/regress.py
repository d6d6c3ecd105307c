"""``rpa regress``: every branch of PROCESS.md replayed against fresh mock portals, and checked.

The regression catalogue is the scenario files under ``mock_portals/scenarios/`` that carry
``expectations``: each seeds a world (lines, customers, one WhatsApp ticket and how its customer answers)
and says what must be true once the migration flow has run on that ticket (schema: ``Expectations``).
The runner starts the mock portals as a child process (the product never imports them), resets them to
each scenario in turn, runs the flow in a worker of this process (one Chromium, DBOS on a SQLite file in
a temporary run folder) with the process's waits shortened to seconds (``CATALOGUE_TIMINGS``), and
checks the world and the run afterwards with ``check``, the same function the pytest catalogue uses.

A team's own folder of scenario files (``--dir``, same schema) runs besides the catalogue, or alone
(``--no-catalogue``); a bad folder or file is refused before anything starts. ``--junit`` writes the
verdicts as JUnit XML for CI servers, and ``--jobs N`` runs the scenarios on N processes side by side,
each with its own mocks, worker and run folder (DBOS is process-global), reported in the planned order.

The run folder (flow database, evidence, logs; one per job) is deleted when every scenario passes and
kept, with its path printed, when one fails.
"""

from __future__ import annotations

import multiprocessing
import re
import shutil
import tempfile
import time
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from flows.devtools.harness import MockPortals, RunningWorker
from flows.engine.logs import configure_logging
from flows.engine.run_store import FlowRun
from flows.engine.settings import ProcessTimings, Settings
from flows.process.definition import MACRO_SHORT_NAMES, Macro

#: Where the catalogue lives (read as files: the product never imports the mocks).
SCENARIO_DIR = Path(__file__).resolve().parents[2] / "mock_portals" / "scenarios"

#: The process's waits for a regression run. Scripted customers answer within a fraction of a second,
#: so a silent customer is recognised after two seconds instead of thirty minutes. The token wait stays
#: longer than the token scenarios' ``token_ttl_seconds`` (3 s, enough for an on-time code to reach AR
#: on a loaded machine) plus the late customer's half second, so a code sent late is read as expired
#: rather than as no answer.
CATALOGUE_TIMINGS = ProcessTimings(
    customer_reply_seconds=2.0,
    token_reply_seconds=5.0,
    analyst_reply_seconds=15,
    analyst_poll_seconds=0.2,
    agent_review_seconds=8,
    max_tokens=2,
    silence_horizon_seconds=2.0,
    handoff_wait_seconds=30,
    outage_first_pause_seconds=0.5,
    outage_max_pause_seconds=2.0,
    outage_horizon_seconds=30,
)

#: Longest a single scenario may run before it counts as hung.
SCENARIO_TIMEOUT_SECONDS = 120

_SHORT_NAME_OF: dict[Macro, str] = {macro: short for short, macro in MACRO_SHORT_NAMES.items()}

EVIDENCE_MARK = "[Evidencia RPA]"
TicketStatus = Literal["new", "open", "pending", "hold", "solved"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorldExpectation(_Strict):
    """The consoles after the flow, for the scenario's line.

    ``migrated``, ``contract``, ``analysis_task``, ``syshelp_derivation`` and ``billing_changed_to`` are
    always checked, and their defaults mean "nothing happened" (no contract, no task, no derivation, no
    billing change); the fields marked "checked when given" are checked only when the scenario sets them.
    """

    line: str = Field(description="the line's number, as in the scenario's ``lines``")
    migrated: bool = Field(
        description="postpaid after the flow: AR (or the activations analysts) migrated "
        "it exactly once; false: still prepaid and never migrated. A line is "
        "never migrated more than once, whatever this says"
    )
    plan: str | None = Field(None, description="the plan the line ends on (checked when given)")
    confirmed: bool | None = Field(None, description="registered to its holder in Qvantel (checked when given)")
    contract: str | None = Field(
        None,
        description="state of the line's newest digital contract as the portal "
        "stores it (guardado, en_revision, aprobado, observado, "
        "desestimado, impreso); null: no contract was made",
    )
    contract_backups: list[str] | None = Field(
        None,
        description="the backups attached to that contract, by the "
        "portal's labels (e.g. 'CI anverso', 'Error AR'), "
        "in any order (checked when given)",
    )
    analysis_task: str | None = Field(
        None,
        description="status of the line's newest analysts' task (pendiente, "
        "aprobada, observada, rechazada, desestimada); null: none",
    )
    syshelp_derivation: bool = Field(
        False, description="a Syshelp ticket 'Derivación B2B' / 'Ejecutivos Gobierno' was registered"
    )
    billing_changed_to: str | None = Field(
        None, description="the billing name BCCS was changed to (exactly one change); null: billing was not changed"
    )
    billing_document: str | None = Field(
        None, description="the document number (NIT or CI) of that change (checked when given)"
    )


class Expectations(_Strict):
    """What a regression scenario must leave behind: the ``expectations`` block of a scenario file.

    Example (the happy path on a confirmed line)::

        expectations:
          ticket: 3001                      # the ticket whose migration flow runs
          outcome: migrated                 # the flow's outcome (flows.process.migration's branch ends)
          status: solved                    # the ticket's status, as the API says it
          order_state: "Acepta::Plan Recomendado"   # "Estado de Pedido" option name; null: never set
          macros: [primer_contacto, gestion, oferta_confirmada, gestion, tyc, sms_ar, gestion,
                   migracion_exitosa, despedida]
          evidence_notes:                   # "[Evidencia RPA] <title>" internal notes, in order
            - Preanálisis Planifícate
            - Estado de la línea en Qvantel
            - Aceptación de T&C
            - Contrato digital
          world: {line: "71234567", migrated: true, plan: Mega Plan 69, contract: impreso}

    Always checked besides the fields: the flow ended through a branch (it did not fail), every evidence
    note is internal (never a public comment), and no line of the world was migrated more than once.
    """

    ticket: int = Field(description="the scenario's ticket the flow runs on; unique across the catalogue")
    outcome: str = Field(description="the flow's outcome, e.g. migrated, rechazo_fr_ro, no_titular, infactible")
    status: TicketStatus = Field(
        description="the ticket's final status as the API names it (open, pending, hold, solved)"
    )
    order_state: str | None = Field(
        description="'Estado de Pedido' as its option name, e.g. "
        "'No califica::Mora' (compared as Zendesk's tag, so case and "
        "accents do not matter); null: the field was never set"
    )
    macros: list[Macro] = Field(
        description="every macro applied to the ticket, in order: short names (the "
        "keys of customer.replies) or exact Zendesk titles"
    )
    evidence_notes: list[str] = Field(
        description="the internal evidence notes, in order: each entry is the "
        "beginning of a note's title (its first line after "
        "'[Evidencia RPA] '); their number is checked too"
    )
    robot_notes: list[str] = Field(
        default_factory=list,
        description="beginnings of the robot's own internal notes that must appear, in this order, among its "
        "notes (e.g. 'El robot necesita un agente: el plan', 'El robot cerró la atención')",
    )
    replies_contain: list[str] = Field(
        default_factory=list,
        description="texts some public agent reply must contain (e.g. a debt amount, the government derivation notice)",
    )
    world: WorldExpectation

    @field_validator("macros", mode="before")
    @classmethod
    def _macro_names(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        resolved = []
        for item in value:
            if isinstance(item, str) and item in MACRO_SHORT_NAMES:
                resolved.append(MACRO_SHORT_NAMES[item])
            elif isinstance(item, str) and item not in {m.value for m in Macro}:
                raise ValueError(
                    f"unknown macro {item!r}: use a short name ({', '.join(MACRO_SHORT_NAMES)}) "
                    "or the macro's exact title"
                )
            else:
                resolved.append(item)
        return resolved


# ---------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------
def order_state_tag(option_name: str) -> str:
    """Zendesk's tag for a drop-down option: lower case, no accents, '::' as '__', other runs as '_'."""
    plain = unicodedata.normalize("NFKD", option_name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_]+", "_", plain.lower().replace("::", "__")).strip("_")


def _names(titles: list[str]) -> list[str]:
    by_title = {m.value: m for m in Macro}
    return [_SHORT_NAME_OF.get(by_title[t], t) if t in by_title else t for t in titles]


def _evidence_title(body: str) -> str | None:
    first = (body or "").splitlines()[0] if body else ""
    return first.removeprefix(EVIDENCE_MARK).strip() if first.startswith(EVIDENCE_MARK) else None


def check(expectations: Expectations | dict, world_json: dict, flow_run: FlowRun | None) -> list[str]:
    """What the run got wrong against its expectations (an empty list: the scenario passes).

    ``world_json`` is the mocks' whole world (``GET /_control/world``); ``flow_run`` the run store's
    record of the ticket's flow (None when it never started).
    """
    exp = expectations if isinstance(expectations, Expectations) else Expectations.model_validate(expectations)
    failures: list[str] = []

    if flow_run is None:
        failures.append(f"no flow ran for ticket {exp.ticket}")
    else:
        if flow_run.state != "ended":
            failures.append(f"flow state {flow_run.state!r} (error: {flow_run.error}), expected it ended")
        if flow_run.outcome != exp.outcome:
            failures.append(f"outcome {flow_run.outcome!r}, expected {exp.outcome!r}")

    ticket = world_json.get("tickets", {}).get(str(exp.ticket))
    if ticket is None:
        return [*failures, f"ticket {exp.ticket} is not in the world"]
    if ticket["status"] != exp.status:
        failures.append(f"ticket status {ticket['status']!r}, expected {exp.status!r}")
    # The order state is the ticket's only drop-down; text fields live in ``fields``.
    dropdowns = [v for v in (ticket.get("custom_fields") or {}).values() if v]
    wanted_tag = order_state_tag(exp.order_state) if exp.order_state else None
    got_tag = dropdowns[0] if dropdowns else None
    if got_tag != wanted_tag:
        failures.append(f"Estado de Pedido {got_tag!r}, expected {wanted_tag!r} ({exp.order_state})")
    applied = list(ticket.get("macros_applied") or [])
    if applied != [m.value for m in exp.macros]:
        failures.append(f"macros {_names(applied)}, expected {_names([m.value for m in exp.macros])}")

    notes = [
        (title, comment)
        for comment in ticket.get("comments", [])
        if (title := _evidence_title(comment.get("body", ""))) is not None
    ]
    public = [title for title, comment in notes if comment.get("public")]
    if public:
        failures.append(f"evidence posted as public comments: {public}")
    titles = [title for title, _ in notes]
    matches = len(titles) == len(exp.evidence_notes) and all(
        title.startswith(prefix) for title, prefix in zip(titles, exp.evidence_notes, strict=False)
    )
    if not matches:
        failures.append(f"evidence notes {titles}, expected {exp.evidence_notes}")
    replies = [
        c.get("body", "")
        for c in ticket.get("comments", [])
        if c.get("public") and c.get("author_id") != ticket.get("requester_id")
    ]
    for text in exp.replies_contain:
        if not any(text in body for body in replies):
            failures.append(f"no public reply contains {text!r}")
    failures += _check_robot_notes(exp, ticket)

    failures += _check_world(exp.world, world_json)
    return failures


#: How the robot's own internal notes begin (hand-offs, closings); a person's command notes begin with "#".
ROBOT_NOTE_STARTS = ("El robot", "Nadie respondió", "Revisión de documentos")


def _check_robot_notes(exp: Expectations, ticket: dict) -> list[str]:
    """The robot's notes expected are there in order, and the flow's end left people a macro or a note."""
    failures: list[str] = []
    comments = ticket.get("comments", [])
    notes = [
        c.get("body", "") for c in comments if not c.get("public") and c.get("body", "").startswith(ROBOT_NOTE_STARTS)
    ]
    position = 0
    for prefix in exp.robot_notes:
        found = next((i for i in range(position, len(notes)) if notes[i].startswith(prefix)), None)
        if found is None:
            failures.append(f"no robot note starting {prefix!r} (in order) among {[n[:60] for n in notes]}")
            break
        position = found + 1
    # No flow ends in silence: the robot's last word is a public message (a macro, a reply) or its own note.
    robot = [
        c
        for c in comments
        if c.get("author_id") != ticket.get("requester_id")
        and not c.get("body", "").lstrip().startswith("#")
        and not _evidence_title(c.get("body", ""))
    ]
    last = robot[-1] if robot else None
    if last is None or not (last.get("public") or last.get("body", "").startswith(ROBOT_NOTE_STARTS[:2])):
        failures.append("the flow ended without a macro or a note to people (its last word was not one)")
    return failures


def _check_world(exp: WorldExpectation, world_json: dict) -> list[str]:
    failures: list[str] = []
    lines = world_json.get("lines", {})
    for number, line in lines.items():
        if line.get("migrations", 0) > 1:
            failures.append(f"line {number} migrated {line['migrations']} times")
    line = lines.get(exp.line)
    if line is None:
        return [*failures, f"line {exp.line} is not in the world"]
    migrated = line.get("plan_type") == "Pospago" and line.get("migrations", 0) == 1
    never = line.get("plan_type") == "Prepago" and line.get("migrations", 0) == 0
    if exp.migrated and not migrated:
        failures.append(f"line {exp.line} not migrated ({line.get('plan_type')}, migrations {line.get('migrations')})")
    if not exp.migrated and not never:
        failures.append(f"line {exp.line} migrated ({line.get('plan_type')} {line.get('plan')}), expected not")
    if exp.plan is not None and line.get("plan") != exp.plan:
        failures.append(f"line {exp.line} on plan {line.get('plan')!r}, expected {exp.plan!r}")
    if exp.confirmed is not None and line.get("confirmed") != exp.confirmed:
        failures.append(f"line {exp.line} confirmed={line.get('confirmed')}, expected {exp.confirmed}")

    records = world_json.get("records", {})
    contracts = [c for c in (records.get("contrato") or {}).get("contracts", []) if c.get("line") == exp.line]
    contract = contracts[-1]["state"] if contracts else None
    if contract != exp.contract:
        failures.append(f"contract {contract!r}, expected {exp.contract!r}")
    if exp.contract_backups is not None:
        attached = sorted(b.get("kind", "") for b in contracts[-1].get("backups", [])) if contracts else []
        if attached != sorted(exp.contract_backups):
            failures.append(f"contract backups {attached}, expected {sorted(exp.contract_backups)}")
    tasks = [t for t in (records.get("contrato") or {}).get("tasks", []) if t.get("line") == exp.line]
    task = tasks[-1]["status"] if tasks else None
    if task != exp.analysis_task:
        failures.append(f"analysts' task {task!r}, expected {exp.analysis_task!r}")

    derivations = [
        t
        for t in (records.get("syshelp") or {}).get("tickets", [])
        if t.get("tipo") == "Derivación B2B" and t.get("subtipo") == "Ejecutivos Gobierno"
    ]
    others = len((records.get("syshelp") or {}).get("tickets", [])) - len(derivations)
    if exp.syshelp_derivation and len(derivations) != 1:
        failures.append(f"{len(derivations)} Syshelp derivations to Ejecutivos Gobierno, expected 1")
    if not exp.syshelp_derivation and derivations:
        failures.append(f"Syshelp derivation registered: {derivations[0].get('number')}")
    if others:
        failures.append(f"{others} other Syshelp ticket(s) registered")

    changes = [c for c in (records.get("bccs") or {}).get("billing_changes", []) if c.get("line") == exp.line]
    if exp.billing_changed_to is None and changes:
        failures.append(f"billing changed in BCCS to {[c.get('name') for c in changes]}, expected no change")
    if exp.billing_changed_to is not None and [c.get("name") for c in changes] != [exp.billing_changed_to]:
        failures.append(f"billing changes {[c.get('name') for c in changes]}, expected [{exp.billing_changed_to!r}]")
    if exp.billing_document is not None and (not changes or changes[-1].get("document_number") != exp.billing_document):
        failures.append(
            f"billing document {changes[-1].get('document_number') if changes else None!r}, "
            f"expected {exp.billing_document!r}"
        )
    return failures


# ---------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------
def load_catalogue(directory: Path = SCENARIO_DIR) -> dict[str, dict]:
    """Scenario name (file stem) -> the scenario as data, for every file carrying ``expectations``.

    Raises ``ValueError`` naming the file when expectations are malformed or two scenarios share a
    ticket (flows are keyed by ticket, so one run of the catalogue needs them distinct).
    """
    catalogue: dict[str, dict] = {}
    tickets: dict[int, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not data.get("expectations"):
            continue
        try:
            exp = Expectations.model_validate(data["expectations"])
        except ValidationError as exc:
            raise ValueError(f"{path.name}: expectations are not valid:\n{exc}") from exc
        if exp.ticket in tickets:
            raise ValueError(f"{path.name}: ticket {exp.ticket} is also used by {tickets[exp.ticket]}")
        tickets[exp.ticket] = path.name
        catalogue[path.stem] = data
    return catalogue


class ScenarioResult(BaseModel):
    name: str
    source: str = "catalogue"
    ticket: int
    outcome: str | None
    failures: list[str]
    seconds: float
    #: What the simulated customer did on the ticket (``customer_did``), kept when the scenario failed.
    customer: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def customer_did(world_json: dict, ticket: int) -> str:
    """What the simulated customer and reviewer did on the ticket, in order: the first thing to read when
    a scenario fails (did she answer, and to which message)."""
    acts = [
        f"{entry.get('macro') or '-'}#{entry.get('occurrence') or 1} {entry['action']}"
        + (f" ({entry['detail']})" if entry.get("detail") else "")
        + f" at {str(entry.get('at', ''))[11:23]}"
        for entry in world_json.get("records", {}).get("customer", [])
        if entry.get("ticket") == ticket
    ]
    return "the simulated customer: " + ("; ".join(acts) if acts else "did nothing")


def run_scenario(
    name: str,
    scenario: dict,
    *,
    worker: RunningWorker,
    reset: Callable[[dict], Any],
    world: Callable[[], dict],
    timeout: float = SCENARIO_TIMEOUT_SECONDS,
) -> ScenarioResult:
    """Reset the mocks to ``scenario``, run its ticket's flow on ``worker`` until it ends, and check it."""
    exp = Expectations.model_validate(scenario["expectations"])
    began = time.monotonic()
    reset(scenario)
    flow_id = worker.start_flow(exp.ticket)
    try:
        status = worker.wait_until_done(flow_id, timeout)
    except TimeoutError:
        status = f"still running after {timeout:.0f} s"
    run = worker.store.flow(flow_id)
    world_json = world()
    failures = check(exp, world_json, run)
    if status != "SUCCESS":
        failures.insert(0, f"flow {flow_id} {status}" + (f": {run.error}" if run and run.error else ""))
    return ScenarioResult(
        name=name,
        ticket=exp.ticket,
        outcome=run.outcome if run else None,
        failures=failures,
        seconds=time.monotonic() - began,
        customer=customer_did(world_json, exp.ticket) if failures else None,
    )


# ---------------------------------------------------------------------------------------------
# The scenarios of a run: the built-in catalogue and the team's own folders
# ---------------------------------------------------------------------------------------------
#: The built-in catalogue's name in listings, results and JUnit reports (its ``classname``).
CATALOGUE_SOURCE = "catalogue"


class ScenarioError(ValueError):
    """A scenario folder or file that cannot run; the message names the file and what is wrong with it."""


class PlannedScenario(BaseModel):
    """One scenario of a run: where it comes from and its data (the scenario file as read)."""

    name: str
    source: str
    path: Path
    data: dict

    @property
    def expectations(self) -> Expectations:
        return Expectations.model_validate(self.data["expectations"])


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors())


def read_team_scenario(path: Path) -> dict:
    """A team's scenario file, checked as far as the product can without the mocks (which the reset checks).

    Unlike the catalogue, which keeps world-only files such as the demo beside its scenarios, a file of a
    team's folder without expectations is refused: a misspelt ``expectations`` key would otherwise turn a
    regression into silence.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: not a scenario (a mapping with lines, tickets and expectations)")
    if not data.get("expectations"):
        raise ScenarioError(f"{path}: has no expectations (what must be true once the flow has run)")
    try:
        exp = Expectations.model_validate(data["expectations"])
    except ValidationError as exc:
        raise ScenarioError(f"{path}: expectations are not valid: {_problems(exc)}") from exc
    tickets = [t.get("id") for t in data.get("tickets") or [] if isinstance(t, dict)]
    if str(exp.ticket) not in {str(t) for t in tickets}:
        raise ScenarioError(f"{path}: expectations.ticket {exp.ticket} is not among the scenario's tickets {tickets}")
    lines = [line.get("number") for line in data.get("lines") or [] if isinstance(line, dict)]
    if exp.world.line not in {str(n) for n in lines}:
        raise ScenarioError(f"{path}: expectations.world.line {exp.world.line!r} is not among the scenario's lines")
    return data


def load_folder(folder: Path) -> list[PlannedScenario]:
    """Every scenario file (``*.yaml``, ``*.yml``) of a team's folder, by file name."""
    if not folder.exists():
        raise ScenarioError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: not a folder")
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not files:
        raise ScenarioError(f"{folder}: no scenario files (*.yaml, *.yml) in it")
    source = str(folder)
    return [PlannedScenario(name=p.stem, source=source, path=p, data=read_team_scenario(p)) for p in files]


def plan_run(only: str | None, dirs: list[Path], *, catalogue: bool = True) -> list[PlannedScenario]:
    """The scenarios a run checks, in the order they are reported: the catalogue's, then each folder's.

    Raises ``ScenarioError`` before anything runs: a bad folder or file, two scenarios of one name (``--only``
    and the results name them), two of one ticket (flows are keyed by ticket), an unknown ``only``.
    """
    planned: list[PlannedScenario] = []
    if catalogue:
        try:
            built_in = load_catalogue()
        except ValueError as exc:
            raise ScenarioError(str(exc)) from exc
        planned += [
            PlannedScenario(name=name, source=CATALOGUE_SOURCE, path=SCENARIO_DIR / f"{name}.yaml", data=data)
            for name, data in built_in.items()
        ]
    seen: set[Path] = set()
    for folder in dirs:
        if folder.resolve() not in seen:  # a folder given twice (a CI variable and a default) runs once
            seen.add(folder.resolve())
            planned += load_folder(folder)
    if not planned:
        raise ScenarioError("nothing to run: --no-catalogue needs at least one --dir")

    by_name: dict[str, PlannedScenario] = {}
    for scenario in planned:
        if scenario.name in by_name:
            raise ScenarioError(
                f"{scenario.path}: the name {scenario.name!r} is taken by {by_name[scenario.name].path}; rename one "
                "(or run the folder alone with --no-catalogue)"
            )
        by_name[scenario.name] = scenario
    if only is not None:
        wanted = only.removesuffix(".yaml").removesuffix(".yml")
        if wanted not in by_name:
            raise ScenarioError(f"no scenario named {only!r} in {SCENARIO_DIR}; known: {', '.join(by_name)}")
        planned = [by_name[wanted]]

    by_ticket: dict[int, PlannedScenario] = {}
    for scenario in planned:
        ticket = scenario.expectations.ticket
        if ticket in by_ticket:
            raise ScenarioError(
                f"{scenario.path}: ticket {ticket} is also used by {by_ticket[ticket].path}; flows are keyed by "
                "ticket, so the scenarios of one run need their own (or run the folder alone with --no-catalogue)"
            )
        by_ticket[ticket] = scenario
    return planned


def branch_of(exp: Expectations) -> str:
    """The branch a scenario checks, in the process's words: its outcome and the order state it ends on."""
    return exp.outcome + (f" · {exp.order_state}" if exp.order_state else "")


def list_scenarios(planned: list[PlannedScenario]) -> str:
    """One line per scenario, grouped by where it comes from: name, branch, description."""
    width = max(len(s.name) for s in planned)
    branch_width = max(len(branch_of(s.expectations)) for s in planned)
    lines: list[str] = []
    for source in dict.fromkeys(s.source for s in planned):
        group = [s for s in planned if s.source == source]
        where = f"{source} ({SCENARIO_DIR})" if source == CATALOGUE_SOURCE else source
        lines.append(f"{where}: {len(group)} scenario(s)")
        for s in group:
            description = " ".join(str(s.data.get("description") or "(no description)").split())
            lines.append(f"  {s.name:<{width}}  {branch_of(s.expectations):<{branch_width}}  {description}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Running: one job (mocks, worker, run folder) per process
# ---------------------------------------------------------------------------------------------
def _failed(scenario: PlannedScenario, problem: str, seconds: float = 0.0) -> ScenarioResult:
    return ScenarioResult(
        name=scenario.name,
        source=scenario.source,
        ticket=scenario.data["expectations"].get("ticket", 0),
        outcome=None,
        failures=[problem],
        seconds=seconds,
    )


def run_job(
    scenarios: list[PlannedScenario],
    run_dir: Path,
    job: int,
    on_result: Callable[[ScenarioResult], None] | None = None,
    on_start: Callable[[PlannedScenario], None] | None = None,
) -> list[ScenarioResult]:
    """Run ``scenarios`` in turn on mocks and a worker of their own, in ``run_dir``.

    A job that cannot start (the mocks, the worker) fails each of its scenarios with the reason, so a
    report still has one verdict per scenario.
    """
    results: list[ScenarioResult] = []
    try:
        base = Settings()
        with MockPortals() as mocks:
            settings = mocks.settings(base).model_copy(
                update={
                    "process": CATALOGUE_TIMINGS,
                    "run_dir": run_dir,
                    "evidence_dir": run_dir / "evidence",
                    "executor_id": f"regress-{job}",
                    "database_url": None,
                }
            )
            worker = RunningWorker(settings, webhooks=True)
            try:
                for scenario in scenarios:
                    if on_start is not None:
                        on_start(scenario)
                    began = time.monotonic()
                    try:
                        result = run_scenario(
                            scenario.name, scenario.data, worker=worker, reset=mocks.reset, world=mocks.world
                        ).model_copy(update={"source": scenario.source})
                    except Exception as exc:
                        result = _failed(scenario, f"{type(exc).__name__}: {exc}", time.monotonic() - began)
                    results.append(result)
                    if on_result is not None:
                        on_result(result)
            finally:
                worker.close()
    except Exception as exc:
        done = {r.name for r in results}
        results += [
            _failed(s, f"job {job} failed: {type(exc).__name__}: {exc}") for s in scenarios if s.name not in done
        ]
    return results


def _job_process(scenarios: list[PlannedScenario], run_dir: Path, job: int) -> list[ScenarioResult]:
    """A job's process (``--jobs``): DBOS is process-global, so each job has a process of its own."""
    configure_logging("WARNING", run_dir / "logs" / "regress.jsonl", console=False)

    def said(result: ScenarioResult) -> None:
        mark = "passed" if result.passed else "FAILED"
        print(f"{mark} {result.name} ({result.seconds:.1f} s, job {job})", flush=True)

    return run_job(scenarios, run_dir, job, on_result=said)


def run_serially(planned: list[PlannedScenario], run_dir: Path, console: Console) -> list[ScenarioResult]:
    configure_logging("WARNING", run_dir / "logs" / "regress.jsonl", console=False)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        bar = progress.add_task("starting", total=len(planned))

        def said(result: ScenarioResult) -> None:
            mark = "[green]passed[/green]" if result.passed else "[red]FAILED[/red]"
            progress.console.print(f"{mark} {escape(result.name)} ({result.seconds:.1f} s)")
            progress.advance(bar)

        return run_job(
            planned,
            run_dir,
            1,
            on_result=said,
            on_start=lambda s: progress.update(bar, description=f"{s.name:<34}"),
        )


def run_side_by_side(planned: list[PlannedScenario], run_dir: Path, jobs: int) -> list[ScenarioResult]:
    """``jobs`` processes, each with its shard (every ``jobs``-th scenario) on its own mocks, worker and folder.

    Results come back in the order planned, whichever job ran them: the verdicts do not depend on ``jobs``.
    """
    shards = [planned[k::jobs] for k in range(jobs)]
    results: dict[tuple[str, str], ScenarioResult] = {}
    # spawn: a forked child would inherit this process's threads and locks (so a caller's main module needs
    # the usual ``if __name__ == "__main__"`` guard, as rpa's has); one task per child: a fresh DBOS.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {
            pool.submit(_job_process, shard, run_dir / f"job-{k + 1}", k + 1): (k + 1, shard)
            for k, shard in enumerate(shards)
        }
        for future in as_completed(futures):
            job, shard = futures[future]
            try:
                done = future.result()
            except Exception as exc:
                done = [_failed(s, f"job {job} ended without results: {type(exc).__name__}: {exc}") for s in shard]
            results.update({(r.source, r.name): r for r in done})
    return [results[(s.source, s.name)] for s in planned]


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def junit_xml(results: list[ScenarioResult]) -> ET.ElementTree:
    """JUnit XML as CI servers read it: a ``testsuite`` per source, a ``testcase`` per scenario."""

    def clean(text: str) -> str:
        # The worlds' texts (customers' messages in failures) may hold characters XML 1.0 cannot carry.
        return _NOT_XML.sub("?", text)

    failed = [r for r in results if not r.passed]
    root = ET.Element(
        "testsuites",
        name="rpa regress",
        tests=str(len(results)),
        failures=str(len(failed)),
        errors="0",
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for source in dict.fromkeys(r.source for r in results):
        group = [r for r in results if r.source == source]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=source,
            tests=str(len(group)),
            failures=str(sum(not r.passed for r in group)),
            errors="0",
            skipped="0",
            time=f"{sum(r.seconds for r in group):.3f}",
        )
        for r in group:
            case = ET.SubElement(suite, "testcase", classname=source, name=r.name, time=f"{r.seconds:.3f}")
            if r.failures:
                failure = ET.SubElement(
                    case, "failure", message=clean("; ".join(r.failures)), type="expectations not met"
                )
                failure.text = clean("\n".join(r.failures))
            out = f"ticket {r.ticket}, outcome {r.outcome or '-'}" + (f"\n{r.customer}" if r.customer else "")
            ET.SubElement(case, "system-out").text = clean(out)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return tree


def results_table(results: list[ScenarioResult]) -> Table:
    several_sources = len({r.source for r in results}) > 1
    table = Table(title="Regression run")
    table.add_column("scenario", no_wrap=True)
    if several_sources:
        table.add_column("from", overflow="fold")
    table.add_column("outcome", overflow="fold")
    table.add_column("expectations", overflow="fold", min_width=12)
    table.add_column("seconds", justify="right", no_wrap=True)
    for r in results:
        verdict = Text("met", style="green") if r.passed else Text("\n".join(r.failures), style="red")
        if r.customer:
            verdict.append(f"\n{r.customer}", style="dim")
        cells: list[str | Text] = [r.name, *([r.source] if several_sources else []), r.outcome or "-", verdict]
        cells.append(f"{r.seconds:.1f}")
        table.add_row(*cells)
    return table


# ---------------------------------------------------------------------------------------------
# rpa regress
# ---------------------------------------------------------------------------------------------
def regress_command(
    only: str | None = None,
    *,
    dirs: list[Path] | None = None,
    catalogue: bool = True,
    junit: Path | None = None,
    jobs: int = 1,
    list_only: bool = False,
) -> int:
    """Run the catalogue and the ``dirs`` (or list them); 0 all passed, 1 one failed, 2 bad input.

    Bad input (a bad folder or file, an unknown scenario, settings, a JUnit file that cannot be written)
    is refused before any mock or worker starts.
    """
    console = Console()

    def refuse(problem: str) -> int:
        console.print(f"[red]error:[/red] {escape(problem)}", soft_wrap=True)
        return 2

    try:
        planned = plan_run(only, list(dirs or []), catalogue=catalogue)
    except ScenarioError as exc:
        return refuse(str(exc))
    if list_only:
        print(list_scenarios(planned))
        return 0
    if jobs < 1:
        return refuse(f"--jobs must be 1 or more, not {jobs}")
    if junit is not None and (not junit.parent.is_dir() or junit.is_dir()):
        return refuse(f"{junit}: cannot write the JUnit report there (no such folder, or it is a folder)")
    try:
        Settings()
    except ValidationError as exc:
        return refuse(f"settings are not valid:\n{exc}")

    jobs = min(jobs, len(planned))
    run_dir = Path(tempfile.mkdtemp(prefix="rpa-regress-"))
    on = f" on {jobs} jobs side by side" if jobs > 1 else ""
    console.print(f"[bold]Regression run[/bold]: {len(planned)} scenario(s) against fresh mock portals{on}")
    began = time.monotonic()
    if jobs == 1:
        results = run_serially(planned, run_dir, console)
    else:
        results = run_side_by_side(planned, run_dir, jobs)
    elapsed = time.monotonic() - began

    console.print(results_table(results))
    if junit is not None:
        junit_xml(results).write(junit, encoding="utf-8", xml_declaration=True)
        console.print(f"JUnit report: {escape(str(junit))}", soft_wrap=True)
    failed = [r for r in results if not r.passed]
    if failed:
        console.print(
            f"[red]{len(failed)} of {len(results)} scenario(s) failed[/red] in {elapsed:.0f} s; "
            f"run folder kept: {escape(str(run_dir))}",
            soft_wrap=True,
        )
        return 1
    shutil.rmtree(run_dir, ignore_errors=True)
    console.print(f"[green]all {len(results)} scenario(s) passed[/green] in {elapsed:.0f} s")
    return 0
