"""Read-backs: after a crash, what each console shows tells whether a write happened since a given time.

Each write is made (by the robot, or by a client the mocks hold at a chosen moment, as a worker that dies
there), then read back with the robot's read-only step: AR's token and migration state, the contracts of
a line, an analysts' task, and a line's billing data in BCCS.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image

from pages.ar import ARPage
from pages.bccs import BCCSPage
from pages.contrato import ContratoPage
from pages.errors import RecordNotFound
from robots.ar import ARRobot, MigrationStateRequest, TokenRequest
from robots.base import LineRequest
from robots.bccs import BCCSRobot, BillingChangeRequest, DocumentType
from robots.contrato import (
    AnalysisRequest,
    Backup,
    BackupKind,
    ContractRequest,
    ContractState,
    ContratoRobot,
    DismissRequest,
    TaskQuery,
    TaskReply,
    TaskStatus,
)

LINES = [
    {"number": "71111111", "holder_name": "Ana Prueba", "holder_ci": "1111111"},
    {"number": "72222222", "holder_name": "Bruno Prueba", "holder_ci": "2222222", "analyst_answers": [
        {"verdict": "fixable", "missing_backup": "Aceptación T&C"},
        {"verdict": "fixable", "missing_backup": "Aceptación T&C"},
    ]},
    {"number": "73333333", "holder_name": "Carla Prueba", "holder_ci": "3333333", "analyst_answers": [
        {"verdict": "unfixable", "reason": "Registro en Lista Negra por fraude"},
    ]},
    {"number": "74444444", "holder_name": "Dina Prueba", "holder_ci": "4444444",
     "billing_name": "Dina Prueba", "billing_id": "4444444"},
    {"number": "77777777", "holder_name": "Gus Prueba", "holder_ci": "7777777", "plan_type": "Pospago",
     "plan": "Mega Plan 99"},
]


@pytest.fixture(autouse=True)
def world(load_scenario) -> None:
    load_scenario({"name": "read-backs", "lines": LINES})


def second_before_now() -> datetime:
    """A moment to compare console times with: they are shown to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 200, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def backup(kind: BackupKind) -> Backup:
    return Backup(kind=kind, file_name=f"{kind.value}.png", content=png())


IDENTITY = [backup(BackupKind.CI_FRONT), backup(BackupKind.CI_BACK), backup(BackupKind.SELFIE)]


def contract(line: str, plan: str = "Mega Plan 69", request_type: type[ContractRequest] = ContractRequest):
    return request_type(line=line, holder_name="Ana Prueba", holder_ci="1111111", plan=plan, city="La Paz",
                        backups=[backup(BackupKind.TERMS_ACCEPTANCE), *IDENTITY])


def holds(mocks) -> list[dict]:
    return httpx.get(mocks.urls["control"] + "/_control/holds").json()["holds"]


def wait_for_hold(mocks) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if found := holds(mocks):
            return found[0]
        time.sleep(0.02)
    raise AssertionError("no request was held")


@pytest.fixture
def dying_worker(mocks) -> Iterator[httpx.Client]:
    """A logged-in client of Contrato Digital whose write the mocks hold, standing in for a worker killed there."""
    with httpx.Client(base_url=mocks.urls["contrato"], follow_redirects=False, timeout=30) as client:
        assert client.post("/login", data={"usuario": "agente.rpa", "clave": "Clave.2026"}).status_code == 303
        yield client


def post_contract(client: httpx.Client, line: str) -> httpx.Response:
    form = {"linea": line, "titular": "Ana Prueba", "ci": "1111111", "plan": "Mega Plan 69", "ciudad": "La Paz"}
    files = {name: (f"{name}.png", png(), "image/png")
             for name in ("respaldo_ci_anverso", "respaldo_ci_reverso", "respaldo_selfie")}
    return client.post("/contratos", data=form, files=files)


# -- AR: was a token SMS sent after time T? ---------------------------------------------------------
def test_ar_state_shows_the_newest_token(console_robot, console_policy):
    robot = console_robot(ARRobot, ARPage, console_policy)
    before = robot.migration_state(MigrationStateRequest(line="71111111"))
    assert (before.token_issued_at, before.token_expires_at) == (None, None)

    since = second_before_now()
    issued = robot.issue_token(TokenRequest(line="71111111"))
    state = robot.migration_state(MigrationStateRequest(line="71111111"))
    assert state.token_issued_at == issued.issued_at and state.token_expires_at == issued.expires_at
    assert state.token_issued_at >= since and state.token_issued_at.utcoffset() == timedelta(hours=-4)
    assert state.token_expires_at - state.token_issued_at == timedelta(seconds=600)
    assert not state.migrated

    again = robot.issue_token(TokenRequest(line="71111111"))
    assert robot.migration_state(MigrationStateRequest(line="71111111")).token_issued_at == again.issued_at

    postpaid = robot.migration_state(MigrationStateRequest(line="77777777"))
    assert postpaid.migrated is False and postpaid.plan_type == "Pospago" and postpaid.token_issued_at is None


# -- Contrato digital: was a contract saved, or sent to analysis, after time T? ---------------------------------
def test_contracts_of_a_line_with_saved_time_and_task(console_robot, console_policy):
    robot = console_robot(ContratoRobot, ContratoPage, console_policy)
    assert robot.contracts_of_line(LineRequest(line="71111111")) == []

    since = second_before_now()
    saved = robot.upload_contract(contract("71111111"))
    robot.upload_contract(contract("72222222"))  # another line's contract is never listed
    sent = robot.send_to_analysis(contract("71111111", "Mega Plan 99", AnalysisRequest))

    newest, oldest = robot.contracts_of_line(LineRequest(line="71111111"))
    assert (oldest.number, oldest.line, oldest.plan, oldest.state, oldest.task_number) == (
        saved.contract_number, "71111111", "Mega Plan 69", ContractState.SAVED, None)
    assert (newest.number, newest.plan, newest.state, newest.task_number) == (
        sent.contract_number, "Mega Plan 99", ContractState.APPROVED, sent.task_number)
    now = datetime.now(UTC)
    assert since <= oldest.saved_at <= newest.saved_at <= now
    assert oldest.saved_at.utcoffset() == timedelta(hours=-4)


def test_a_contract_committed_while_its_worker_died_is_read_back(
    console_robot, console_policy, mocks, faults, dying_worker
):
    robot = console_robot(ContratoRobot, ContratoPage, console_policy)
    since = second_before_now()
    faults("contrato", hold={"method": "POST", "path": "/contratos", "phase": "after", "seconds": 30})
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(post_contract, dying_worker, "71111111")
        wait_for_hold(mocks)  # saved, answer not sent: the worker would die here
        [found] = robot.contracts_of_line(LineRequest(line="71111111"))
        assert found.saved_at >= since and found.state is ContractState.SAVED
        httpx.delete(mocks.urls["control"] + "/_control/faults").raise_for_status()
        assert pending.result(timeout=10).status_code == 303


def test_a_contract_lost_before_the_console_saw_it_is_not_read_back(
    console_robot, console_policy, mocks, faults, dying_worker
):
    robot = console_robot(ContratoRobot, ContratoPage, console_policy)
    faults("contrato", hold={"method": "POST", "path": "/contratos", "phase": "before", "seconds": 30})
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(post_contract, dying_worker, "71111111")
        wait_for_hold(mocks)
        assert robot.contracts_of_line(LineRequest(line="71111111")) == []
        httpx.delete(mocks.urls["control"] + "/_control/faults").raise_for_status()
        assert pending.result(timeout=10).status_code == 503
    assert robot.contracts_of_line(LineRequest(line="71111111")) == []


# -- Contrato digital: was a task answered, or dismissed, after time T? -----------------------------------------
def test_an_answered_task_reads_as_the_analysts_next_answer_with_its_time(console_robot, console_policy):
    robot = console_robot(ContratoRobot, ContratoPage, console_policy)
    sent = robot.send_to_analysis(contract("72222222", request_type=AnalysisRequest))
    first = robot.task_answer(TaskQuery(task_number=sent.task_number))
    assert first.status is TaskStatus.FIXABLE and first.updated_at is not None

    time.sleep(1.05)  # console times are to the second
    since = second_before_now()
    replied = robot.answer_task(TaskReply(task_number=sent.task_number, backup=backup(BackupKind.TERMS_ACCEPTANCE)))
    after = robot.task_answer(TaskQuery(task_number=sent.task_number))
    # The analysts answer at once (here: fixable again), so the status alone cannot tell a reply was made;
    # the time of the task's last change can.
    assert replied.status is TaskStatus.FIXABLE and after.status is TaskStatus.FIXABLE
    assert first.updated_at < since <= after.updated_at


def test_a_dismissed_task_reads_as_dismissed_from_then_on(console_robot, console_policy):
    robot = console_robot(ContratoRobot, ContratoPage, console_policy)
    sent = robot.send_to_analysis(contract("73333333", request_type=AnalysisRequest))
    assert robot.task_answer(TaskQuery(task_number=sent.task_number)).status is TaskStatus.UNFIXABLE

    since = second_before_now()
    robot.dismiss_task(DismissRequest(task_number=sent.task_number, reason="Registro en Lista Negra por fraude"))
    after = robot.task_answer(TaskQuery(task_number=sent.task_number))
    assert after.status is TaskStatus.DISMISSED and after.updated_at >= since
    assert after.contract_number == sent.contract_number


# -- BCCS: is the line billed to the third party already? ------------------------------------------------
def test_billing_of_a_line_before_and_after_a_change(console_robot, console_policy):
    robot = console_robot(BCCSRobot, BCCSPage, console_policy)
    unchanged = robot.billing_of(LineRequest(line="71111111"))
    assert (unchanged.line, unchanged.name, unchanged.document_type, unchanged.document_number) == (
        "71111111", None, None, None)
    seeded = robot.billing_of(LineRequest(line="74444444"))
    assert (seeded.name, seeded.document_number) == ("Dina Prueba", "4444444")

    change = BillingChangeRequest(line="71111111", name="Comercial Andina S.R.L.", document_type="NIT",
                                  document_number="1020304050")
    robot.change_billing_holder(change)
    billed = robot.billing_of(LineRequest(line="71111111"))
    assert (billed.name, billed.document_type, billed.document_number) == (
        "Comercial Andina S.R.L.", DocumentType.NIT, change.document_number)


def test_billing_of_an_unknown_line_is_not_found(console_robot, console_policy):
    robot = console_robot(BCCSRobot, BCCSPage, console_policy)
    with pytest.raises(RecordNotFound, match="79999999"):
        robot.billing_of(LineRequest(line="79999999"))
