"""The ``rpa`` command: the mock portals, the agent's single steps, flows, reports and the development tools.

Exit codes: 0 done (a business answer such as "not the holder" is still a done step), 1 the machinery
failed (a console down, retries exhausted), 2 bad input (nothing was changed).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from loguru import logger
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from flows.engine import durable as engine
from flows.engine.logs import configure_logging
from flows.engine.run_store import RunStore
from flows.engine.settings import Settings
from flows.engine.toolkit import Toolkit
from flows.engine.worker import Worker
from flows.interfaces import agent_steps, operations
from flows.process.deployment import migration_deployment
from pages.errors import ApplicationError, BusinessError, InvalidInput, RecordNotFound

app = typer.Typer(
    help="Robots for the prepaid to postpaid migration over WhatsApp.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
mocks_app = typer.Typer(help="The local mock portals.", no_args_is_help=True)
step_app = typer.Typer(help="Run one robot step for a ticket and attach its evidence.", no_args_is_help=True)
flow_app = typer.Typer(help="Whole migrations as durable flows.", no_args_is_help=True)
zendesk_app = typer.Typer(help="The Zendesk account's side of the product.", no_args_is_help=True)
panel_app = typer.Typer(help="The agents' panel: a Zendesk sidebar app served by `rpa serve`.", no_args_is_help=True)
app.add_typer(mocks_app, name="mocks")
app.add_typer(panel_app, name="panel")
app.add_typer(zendesk_app, name="zendesk")
app.add_typer(step_app, name="step")
app.add_typer(flow_app, name="flow")

out = Console()
err = Console(stderr=True)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        err.print(f"[red]error:[/red] settings are not valid:\n{exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from exc


def _run_log(settings: Settings, kind: str) -> Path:
    run_id = f"{kind}-{uuid.uuid4().hex[:8]}"
    return settings.run_dir / "logs" / f"{run_id}.jsonl"


# ---------------------------------------------------------------------------------------------
# rpa mocks
# ---------------------------------------------------------------------------------------------
@mocks_app.command("serve")
def mocks_serve(
    scenario: Annotated[Path | None, typer.Option(help="scenario file (YAML or JSON); default: the demo world")] = None,
    empty: Annotated[bool, typer.Option(help="start with an empty world instead of the demo's")] = False,
    free_ports: Annotated[bool, typer.Option(help="pick free ports instead of 8700-8708")] = False,
    latency_ms: Annotated[int | None, typer.Option(help="server latency per console request")] = None,
) -> None:
    """Start every mock portal; prints their addresses as one JSON line, stops on Ctrl-C or SIGTERM."""
    if scenario is not None and empty:
        err.print("[red]error:[/red] --scenario and --empty exclude each other")
        raise typer.Exit(EXIT_BAD_INPUT)
    if scenario is not None and not scenario.is_file():
        err.print(f"[red]error:[/red] scenario file not found: {scenario}")
        raise typer.Exit(EXIT_BAD_INPUT)
    argv = [sys.executable, "-m", "mock_portals"]
    if scenario is not None:
        argv += ["--scenario", str(scenario)]
    if empty:
        argv.append("--empty")
    if free_ports:
        argv.append("--free-ports")
    if latency_ms is not None:
        argv += ["--latency-ms", str(latency_ms)]
    sys.stdout.flush()
    # The mocks are a program of their own (the product never imports them): replace this process,
    # so Ctrl-C and SIGTERM reach the servers directly.
    os.execv(sys.executable, argv)


# ---------------------------------------------------------------------------------------------
# rpa step
# ---------------------------------------------------------------------------------------------
TicketOption = Annotated[int, typer.Option("--ticket", help="Zendesk ticket number")]
JsonOption = Annotated[bool, typer.Option("--json", help="print the result as one JSON object")]


@contextlib.contextmanager
def exit_codes(doing: str) -> Iterator[None]:
    """Turn our errors into a clear message and the documented exit code (2 bad input, 1 failure)."""
    try:
        yield
    except (InvalidInput, RecordNotFound) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        err.print(f"[red]error:[/red] {problems}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except BusinessError as exc:
        err.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except ApplicationError as exc:
        logger.error("{} failed: {}", doing, exc)
        err.print(f"[red]failed:[/red] {exc}")
        raise typer.Exit(EXIT_FAILED) from None


def _run_step(name: str, as_json: bool, action: Callable[[Toolkit], agent_steps.StepReport], *, ticket: int) -> None:
    settings = load_settings()
    configure_logging(settings.log_level if not as_json else "WARNING", _run_log(settings, f"step-{name}"))
    with exit_codes(f"step {name}"):
        if name in agent_steps.WRITE_STEPS:
            store = RunStore(settings.store_url())
            try:
                agent_steps.refuse_if_flow_is_live(store, ticket, name)
            finally:
                store.dispose()
        with Toolkit(settings) as toolkit:
            report = action(toolkit)
    if as_json:
        print(report.model_dump_json())
        return
    out.print(f"[bold]{name}[/bold] · ticket {report.ticket}")
    out.print(report.summary)
    if report.note is not None:
        state = "posted" if report.note.posted else "already on the ticket"
        out.print(f"internal note: {state}")
    for path in report.evidence_files:
        out.print(f"evidence: {path}")


@step_app.command("preanalysis")
def step_preanalysis(ticket: TicketOption, as_json: JsonOption = False) -> None:
    """Planifícate pre-analysis of the ticket's line; screenshot to an internal note."""
    _run_step("preanalysis", as_json, lambda tk: agent_steps.preanalysis(tk, ticket), ticket=ticket)


@step_app.command("line-status")
def step_line_status(ticket: TicketOption, as_json: JsonOption = False) -> None:
    """Qvantel: is the line confirmed, SIM recovered in the last 24 h; screenshot to an internal note."""
    _run_step("line-status", as_json, lambda tk: agent_steps.line_status(tk, ticket), ticket=ticket)


@step_app.command("confirm-line")
def step_confirm_line(
    ticket: TicketOption,
    acmo: Annotated[str | None, typer.Option(help="ACMO code to register (default from settings)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Qvantel (Televentas Digital): confirm the line's registration and register the ACMO."""
    _run_step("confirm-line", as_json, lambda tk: agent_steps.confirm_line(tk, ticket, acmo), ticket=ticket)


@step_app.command("token")
def step_token(ticket: TicketOption, as_json: JsonOption = False) -> None:
    """AR: send the migration token by SMS (from 7371) to the ticket's line."""
    _run_step("token", as_json, lambda tk: agent_steps.issue_token(tk, ticket), ticket=ticket)


@step_app.command("migrate")
def step_migrate(
    ticket: TicketOption,
    token: Annotated[str, typer.Option(help="the code the customer sent back")],
    plan: Annotated[str, typer.Option(help="the postpaid plan the customer chose")],
    as_json: JsonOption = False,
) -> None:
    """AR: migrate the ticket's line (never twice: an already migrated line is left alone)."""
    _run_step("migrate", as_json, lambda tk: agent_steps.migrate(tk, ticket, token, plan), ticket=ticket)


@step_app.command("migration-state")
def step_migration_state(ticket: TicketOption, as_json: JsonOption = False) -> None:
    """AR: has the ticket's line been migrated?"""
    _run_step("migration-state", as_json, lambda tk: agent_steps.migration_state(tk, ticket), ticket=ticket)


@step_app.command("debt")
def step_debt(ticket: TicketOption, as_json: JsonOption = False) -> None:
    """BCCS: the holder's historical debt; screenshot to an internal note."""
    _run_step("debt", as_json, lambda tk: agent_steps.historical_debt(tk, ticket), ticket=ticket)


@step_app.command("billing")
def step_billing(
    ticket: TicketOption,
    name: Annotated[str | None, typer.Option(help="billing name (default: the ticket's)")] = None,
    nit: Annotated[str | None, typer.Option(help="billing NIT (default: the ticket's, else the holder's CI)")] = None,
    as_json: JsonOption = False,
) -> None:
    """BCCS: bill the line to a third party; screenshot to an internal note."""
    _run_step("billing", as_json, lambda tk: agent_steps.change_billing(tk, ticket, name, nit), ticket=ticket)


@step_app.command("nit")
def step_nit(
    ticket: TicketOption,
    nit: Annotated[str | None, typer.Option(help="NIT to look up (default: the ticket's billing NIT)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Tax registry: is the billing NIT a government entity? Screenshot to an internal note."""
    _run_step("nit", as_json, lambda tk: agent_steps.lookup_nit(tk, ticket, nit), ticket=ticket)


@step_app.command("derive")
def step_derive(
    ticket: TicketOption,
    email: Annotated[str, typer.Option(help="the contact's e-mail")],
    description: Annotated[str | None, typer.Option(help="what the customer asks for")] = None,
    as_json: JsonOption = False,
) -> None:
    """Syshelp: derive to the government executives (Derivación B2B / Ejecutivos Gobierno)."""
    _run_step(
        "derive", as_json, lambda tk: agent_steps.derive_to_government(tk, ticket, email, description), ticket=ticket
    )


@step_app.command("contract")
def step_contract(
    ticket: TicketOption,
    plan: Annotated[str, typer.Option(help="the postpaid plan")],
    analysis: Annotated[
        bool, typer.Option("--analysis", help="send to the activations analysts (after an AR error)")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Contrato digital: contract with the backups from the ticket's notes; PDF to a note, or to the analysts."""
    _run_step("contract", as_json, lambda tk: agent_steps.contract(tk, ticket, plan, analysis=analysis), ticket=ticket)


@step_app.command("task")
def step_task(
    ticket: TicketOption,
    task: Annotated[str, typer.Option(help="task number, e.g. TA-000001")],
    as_json: JsonOption = False,
) -> None:
    """Contrato digital: the analysts' answer to a task."""
    _run_step("task", as_json, lambda tk: agent_steps.task_status(tk, ticket, task), ticket=ticket)


@step_app.command("answer-task")
def step_answer_task(
    ticket: TicketOption,
    task: Annotated[str, typer.Option(help="task number")],
    as_json: JsonOption = False,
) -> None:
    """Contrato digital: answer an observed task with the missing backup found in the ticket's notes."""
    _run_step("answer-task", as_json, lambda tk: agent_steps.answer_task(tk, ticket, task), ticket=ticket)


@step_app.command("dismiss-task")
def step_dismiss_task(
    ticket: TicketOption,
    task: Annotated[str, typer.Option(help="task number")],
    reason: Annotated[str, typer.Option(help="why it is dismissed")],
    as_json: JsonOption = False,
) -> None:
    """Contrato digital: complete a task as "desestimado" with its reason."""
    _run_step("dismiss-task", as_json, lambda tk: agent_steps.dismiss_task(tk, ticket, task, reason), ticket=ticket)


# ---------------------------------------------------------------------------------------------
# rpa flow / rpa worker
# ---------------------------------------------------------------------------------------------
def _flow_command(action: Callable[[Settings], None]) -> None:
    """Run a flow command with clear messages: bad input exits 2, machinery failures exit 1."""
    settings = load_settings()
    configure_logging("WARNING", None)
    with exit_codes("flow command"):
        action(settings)


@flow_app.command("start")
def flow_start(
    kind: Annotated[str, typer.Argument(help="the flow: migration")],
    ticket: TicketOption,
) -> None:
    """Start the flow of a ticket (again: the same flow; one flow per ticket). `rpa worker` runs it."""

    def action(settings: Settings) -> None:
        with Toolkit(settings) as toolkit:
            flow_id = operations.start(engine.client(settings), toolkit.zendesk, settings, ticket, kind)
        out.print(f"flow {flow_id} queued; `rpa worker` runs it, `rpa flow status --ticket {ticket}` follows it")

    _flow_command(action)


@flow_app.command("status")
def flow_status(ticket: TicketOption, as_json: JsonOption = False) -> None:
    """Where a ticket's flow is: activity, what it waits for, its steps and outcome."""

    def action(settings: Settings) -> None:
        view = operations.status(engine.client(settings), RunStore(settings.store_url()), ticket)
        if as_json:
            print(view.model_dump_json())
            return
        run = view.run
        out.print(
            f"[bold]{view.flow_id}[/bold] · {view.engine_status}"
            + (f" · {run.state} · {run.activity or '-'}" if run else "")
        )
        if run and run.waiting_for:
            out.print(f"waiting for: {run.waiting_for}")
        if run and run.outcome:
            out.print(f"outcome: {run.outcome}")
        if run and run.error:
            out.print(f"[red]error:[/red] {run.error}")
        table = Table("#", "step", "activity", "seconds", "attempts", "outcome", "evidence")
        for step in view.steps:
            table.add_row(
                str(step.seq),
                step.name,
                step.activity or "",
                f"{step.seconds or 0:.2f}",
                str(step.attempts),
                step.outcome or "…",
                str(len(step.evidence)),
            )
        out.print(table)

    _flow_command(action)


@flow_app.command("list")
def flow_list(as_json: JsonOption = False) -> None:
    """Every flow this run store knows, newest first."""

    def action(settings: Settings) -> None:
        runs = RunStore(settings.store_url()).flows()
        if as_json:
            print(json.dumps([run.model_dump(mode="json") for run in runs]))
            return
        table = Table("flow", "ticket", "state", "activity", "waiting for", "outcome", "updated")
        for run in runs:
            table.add_row(
                run.flow_id,
                str(run.ticket_id),
                run.state,
                run.activity or "",
                run.waiting_for or "",
                run.outcome or "",
                f"{run.updated_at:%Y-%m-%d %H:%M:%S}",
            )
        out.print(table)

    _flow_command(action)


@flow_app.command("send")
def flow_send(
    ticket: TicketOption,
    kind: Annotated[str, typer.Argument(help="customer | token | approve | reject | analyst")],
    value: Annotated[str | None, typer.Argument(help="the text, code or reason")] = None,
) -> None:
    """Hand a message to a ticket's waiting flow (the worker also forwards ticket comments by itself)."""

    def action(settings: Settings) -> None:
        if kind != "analyst":
            operations.send(engine.client(settings), ticket, kind, value)
            out.print(f"sent {kind} to the flow of ticket {ticket}")
            return
        with Toolkit(settings) as toolkit:
            sent = operations.send(
                engine.client(settings), ticket, kind, value, store=RunStore(settings.store_url()), toolkit=toolkit
            )
        out.print(
            f"the analysts' answer went to the flow of ticket {ticket}"
            if sent
            else f"the analysts have not answered the task of ticket {ticket} yet"
        )

    _flow_command(action)


@flow_app.command("retry")
def flow_retry(ticket: TicketOption) -> None:
    """Run a failed flow again from the step that failed."""

    def action(settings: Settings) -> None:
        step = operations.retry(engine.client(settings), RunStore(settings.store_url()), ticket)
        out.print(f"flow of ticket {ticket} queued again from step {step}")

    _flow_command(action)


@flow_app.command("recover")
def flow_recover(
    executor: Annotated[str, typer.Option(help="executor id of a worker machine known to be dead")],
) -> None:
    """Hand a dead worker machine's pending flows to the live workers (multi-machine mode)."""

    def action(settings: Settings) -> None:
        moved = operations.recover(engine.client(settings), executor)
        out.print(f"{len(moved)} flow(s) of {executor} queued for the live workers: {', '.join(moved) or '-'}")

    _flow_command(action)


@app.command("worker")
def worker() -> None:
    """Run flows until stopped (Ctrl-C or SIGTERM); the state lives in the run folder or RPA_DATABASE_URL.

    Exits 1 when it finds its lease taken over (it was silent longer than RPA_WORKER_LEASE_SECONDS and
    another worker took its flows): start it again.
    """
    settings = load_settings()
    configure_logging(settings.log_level, _run_log(settings, "worker"))
    runner = Worker(settings, migration_deployment, take_over=operations.recover)
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    runner.start()
    out.print(f"worker {settings.executor_id} running; Ctrl-C stops it")
    try:
        runner.run_until_stopped()
    except KeyboardInterrupt:
        pass
    finally:
        runner.close()
        logger.complete()
    if runner.lease_lost is not None:
        # Non-zero, so a supervisor starts this worker again clean: its flows now belong to another one.
        err.print(f"[red]error:[/red] {runner.lease_lost}")
    # A step still running after the drain (its flow resumes it on the next start) is not joined on its robot
    # thread, or a stop would last as long as a hung console; waiting flows hold no thread.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if runner.lease_lost is None else EXIT_FAILED)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8710,
) -> None:
    """Receive Zendesk's webhooks (new comments, new migration tickets) until Ctrl-C or SIGTERM."""
    from flows.interfaces.serve import WEBHOOK_PATH, signing_secret
    from flows.interfaces.serve import serve as serve_webhooks

    settings = load_settings()
    configure_logging(settings.log_level, _run_log(settings, "serve"))
    with exit_codes("serve"):
        signing_secret(settings)
        out.print(f"receiving Zendesk webhooks at http://{host}:{port}{WEBHOOK_PATH}; Ctrl-C stops it")
        serve_webhooks(settings, host, port)


@panel_app.command("package")
def panel_package(
    url: Annotated[
        str | None, typer.Option("--url", help="the address at which Zendesk reaches `rpa serve` (https://...)")
    ] = None,
    out_file: Annotated[Path, typer.Option("--out", help="the zip to write")] = Path("rpa-panel.zip"),
    author_name: Annotated[str, typer.Option(help="the app's author, as Zendesk shows it")] = "Centro de contacto",
    author_email: Annotated[str, typer.Option(help="the author's e-mail")] = "rpa@contactcentre.example",
) -> None:
    """Write the zip a Zendesk admin uploads as a private app (the panel beside each ticket)."""
    from flows.interfaces import panel

    with exit_codes("panel package"):
        written = panel.package(url, out_file, author_name=author_name, author_email=author_email)
    out.print(
        f"{written} written: upload it in Zendesk (Admin Center, Apps, Upload private app) and give it "
        "the token set as RPA_PANEL_TOKEN"
    )


@zendesk_app.command("connect")
def zendesk_connect(
    url: Annotated[str, typer.Option("--url", help="the address at which Zendesk reaches `rpa serve` (https://...)")],
    show_secret: Annotated[
        bool, typer.Option("--show-secret", help="print the webhook's signing secret for RPA_WEBHOOK_SIGNING_SECRET")
    ] = False,
) -> None:
    """Point Zendesk's webhook and triggers at `rpa serve` (created once, updated when run again)."""
    from flows.interfaces.zendesk_account import connect, webhook_endpoint

    settings = load_settings()
    configure_logging("WARNING", _run_log(settings, "zendesk-connect"))
    with exit_codes("zendesk connect"):
        endpoint = webhook_endpoint(url)  # a malformed address is refused before Zendesk is touched
        with Toolkit(settings) as toolkit:
            connection = connect(toolkit.zendesk, endpoint)
        for made in connection.created or ["nothing new: the webhook and triggers were there"]:
            out.print(f"created {made}" if connection.created else made)
        out.print(f"webhook {connection.webhook_id} -> {connection.endpoint}")
        for title, trigger_id in connection.trigger_ids.items():
            out.print(f"trigger {trigger_id}: {title}")
        if show_secret:
            print(f"RPA_WEBHOOK_SIGNING_SECRET={connection.signing_secret.get_secret_value()}")
        else:
            out.print("set RPA_WEBHOOK_SIGNING_SECRET for `rpa serve` (run again with --show-secret to print it)")


@app.command("doctor")
def doctor(
    as_json: JsonOption = False,
    serve_url: Annotated[
        str | None, typer.Option("--serve-url", help="where Zendesk reaches `rpa serve` (default: RPA_SERVE_URL)")
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds each check may take", min=1)] = 20.0,
) -> None:
    """Check the consoles, Zendesk, the database and Chromium as configured: one line each, exit 0 when all pass."""
    from flows.interfaces.doctor import doctor_command

    settings = load_settings()
    configure_logging("ERROR", None)
    with exit_codes("doctor"):
        code = doctor_command(settings, as_json=as_json, serve_url=serve_url, timeout=timeout)
    raise typer.Exit(code)


@app.command("report")
def report(
    ticket: Annotated[int | None, typer.Option("--ticket", help="Zendesk ticket number")] = None,
) -> None:
    """Print the path of a ticket's run report (written if missing); without --ticket, the index of runs."""

    def action(settings: Settings) -> None:
        from flows.reporting.page import index_path, report_path

        print(report_path(settings, ticket) if ticket is not None else index_path(settings))

    _flow_command(action)


@app.command("purge")
def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would be removed, remove nothing")] = False,
) -> None:
    """Remove the customer's documents and evidence files of flows ended over RPA_DOCUMENTS_RETENTION_DAYS ago.

    Zendesk's notes (the record) stay; live flows are never touched.
    """
    from flows.engine.purge import purge_documents
    from pages.masking import mask_text

    settings = load_settings()
    configure_logging(settings.log_level, _run_log(settings, "purge"))
    with exit_codes("purge"):
        done = purge_documents(settings, dry_run=dry_run)
    for ticket in done.tickets:
        for name in [*ticket.local_files, *ticket.stored_keys] if dry_run else []:
            # The customer's own file names may carry her CI.
            out.print(f"ticket {ticket.ticket_id}: {mask_text(name)}", soft_wrap=True, markup=False)
    verb = "would be removed" if dry_run else "removed"
    out.print(
        f"{len(done.tickets)} ticket(s) of flows ended before {done.cutoff:%Y-%m-%d}: "
        f"{done.local_files} local and {done.stored_files} stored file(s) {verb}",
        soft_wrap=True,
    )


@app.command("regress")
def regress(
    only: Annotated[str | None, typer.Option(help="run only this scenario (file name, with or without .yaml)")] = None,
    dirs: Annotated[
        list[Path] | None,
        typer.Option("--dir", help="a team's scenario folder, run besides the catalogue (repeatable)"),
    ] = None,
    catalogue: Annotated[
        bool, typer.Option("--catalogue/--no-catalogue", help="--no-catalogue: run only the --dir folders")
    ] = True,
    junit: Annotated[Path | None, typer.Option("--junit", help="write the results as JUnit XML, for CI")] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", min=1, help="scenarios side by side on N processes, each with its own mocks")
    ] = 1,
    list_only: Annotated[
        bool, typer.Option("--list", help="list the scenarios with their branch and description; run nothing")
    ] = False,
) -> None:
    """Run the regression catalogue (mock_portals/scenarios) and --dir folders against fresh mocks."""
    from flows.devtools.regress import regress_command

    raise typer.Exit(regress_command(only, dirs=dirs, catalogue=catalogue, junit=junit, jobs=jobs, list_only=list_only))


@app.command("replies")
def replies(
    corpus: Annotated[
        Path, typer.Option("--corpus", help="the labelled corpus folder (one YAML file per question)")
    ] = Path("tests/flows/process/corpus"),
    as_json: JsonOption = False,
) -> None:
    """Read the labelled corpus of customers' replies with the interpreters: a confusion matrix per question."""
    from rich.markup import escape

    from flows.devtools.corpus import CorpusError, evaluate, load_corpus, render

    try:
        entries = load_corpus(corpus)
    except CorpusError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    report = evaluate(entries)
    print(report.model_dump_json() if as_json else render(report))


@app.command("demo")
def demo() -> None:
    """Start the mock portals, work the demo ticket end to end, and show where the evidence is."""
    from flows.devtools.demo import run_demo

    raise typer.Exit(run_demo(load_settings(), out))


if __name__ == "__main__":  # pragma: no cover
    app()
