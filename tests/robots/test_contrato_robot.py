"""The Contrato Digital robot: upload and print (8.3), each analysts' answer (9.4), sessions and faults."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image, ImageDraw
from pydantic import ValidationError
from pypdf import PdfReader

from pages.contrato import ContratoPage
from pages.errors import PortalUnavailable, RecordNotFound, RuleRefused
from robots.contrato import (
    AnalysisRequest,
    Backup,
    BackupKind,
    ContractRequest,
    ContractState,
    ContratoRobot,
    DismissRequest,
    PrintRequest,
    TaskQuery,
    TaskReply,
    TaskStatus,
)
from robots.sessions import PortalSession

LINES = [
    {"number": "71111111", "holder_name": "Ana Prueba", "holder_ci": "1111111"},
    {"number": "72222222", "holder_name": "Bruno Prueba", "holder_ci": "2222222", "analyst_answers": [
        {"verdict": "fixable", "missing_backup": "Aceptación T&C"},
    ]},
    {"number": "73333333", "holder_name": "Carla Prueba", "holder_ci": "3333333", "analyst_answers": [
        {"verdict": "unfixable", "reason": "Registro en Lista Negra por fraude"},
    ]},
]


def png(text: str) -> bytes:
    """A small synthetic image standing in for a photo or a screenshot (never a real person)."""
    image = Image.new("RGB", (96, 48), (235, 235, 210))
    ImageDraw.Draw(image).text((4, 18), text, fill=(30, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def backup(kind: BackupKind) -> Backup:
    return Backup(kind=kind, file_name=f"{kind.value}.png", content=png(kind.value))


IDENTITY = [backup(BackupKind.CI_FRONT), backup(BackupKind.CI_BACK), backup(BackupKind.SELFIE)]


def contract(line: str = "71111111", kinds: tuple[BackupKind, ...] = (BackupKind.PREANALYSIS,
                                                                       BackupKind.TERMS_ACCEPTANCE),
             request_type: type[ContractRequest] = ContractRequest, identity: list[Backup] = IDENTITY):
    return request_type(line=line, holder_name="Ana Prueba", holder_ci="1111111", plan="Mega Plan 69",
                        city="La Paz", backups=[*[backup(kind) for kind in kinds], *identity])


def analysis(line: str) -> AnalysisRequest:
    return contract(line, (BackupKind.AR_ERROR, BackupKind.TERMS_ACCEPTANCE), AnalysisRequest)


@pytest.fixture
def robot(browser_host, access, console_policy, load_scenario):
    load_scenario({"name": "robot", "lines": LINES})
    session = PortalSession(browser_host, ContratoPage, access("contrato"))
    yield ContratoRobot(session, console_policy)
    browser_host.run(session.close())


def records(world_state) -> dict:
    return world_state()["records"]["contrato"]


def test_upload_and_print_a_contract_without_analysis(robot, world_state):
    saved = robot.upload_contract(contract())
    assert saved.state == ContractState.SAVED
    assert set(saved.backups) == {BackupKind.PREANALYSIS, BackupKind.TERMS_ACCEPTANCE, *[b.kind for b in IDENTITY]}
    [shot] = saved.evidence
    assert shot.content.startswith(b"\x89PNG") and shot.step == "contract_saved"

    printed = robot.print_contract(PrintRequest(contract_number=saved.contract_number))
    assert printed.file_name == f"{saved.contract_number}.pdf"
    assert printed.sha256 == hashlib.sha256(printed.pdf).hexdigest()
    text = PdfReader(io.BytesIO(printed.pdf)).pages[0].extract_text()
    assert saved.contract_number in text and "71111111" in text and "Selfie con CI" in text
    assert "pdf" not in printed.model_dump() and printed.evidence[0].content_type == "application/pdf"
    [stored] = records(world_state)["contracts"]
    assert stored["state"] == "impreso"
    assert [b["sha256"] for b in stored["backups"]][-1] == hashlib.sha256(IDENTITY[-1].content).hexdigest()


def test_a_contract_without_the_holders_identity_is_refused_once(robot, world_state):
    robot.upload_contract(contract())  # logs in, so the count below is one pass of the step
    before = world_state()["requests"]["contrato"]
    with pytest.raises(RuleRefused, match="faltan respaldos obligatorios: Selfie con CI"):
        robot.upload_contract(contract(identity=IDENTITY[:2]))
    assert world_state()["requests"]["contrato"] - before == 3  # list, form, save: not retried
    assert len(records(world_state)["contracts"]) == 1


def test_approved_analysis_then_print(robot):
    submitted = robot.send_to_analysis(analysis("71111111"))
    assert submitted.task_number.startswith("TA-") and submitted.evidence[0].step == "analysis_submitted"
    answer = robot.task_answer(TaskQuery(task_number=submitted.task_number))
    assert answer.status == TaskStatus.APPROVED and answer.contract_number == submitted.contract_number
    printed = robot.print_contract(PrintRequest(contract_number=submitted.contract_number))
    assert submitted.contract_number in PdfReader(io.BytesIO(printed.pdf)).pages[0].extract_text()


def test_fixable_answered_with_the_missing_backup_then_approved(robot):
    submitted = robot.send_to_analysis(analysis("72222222"))
    answer = robot.task_answer(TaskQuery(task_number=submitted.task_number))
    assert answer.status == TaskStatus.FIXABLE
    assert answer.missing_backup == "Aceptación T&C" and answer.missing_kind == BackupKind.TERMS_ACCEPTANCE
    with pytest.raises(RuleRefused, match="observed"):  # not printable while the analysts have it
        robot.print_contract(PrintRequest(contract_number=submitted.contract_number))

    replied = robot.answer_task(TaskReply(task_number=submitted.task_number,
                                          backup=backup(BackupKind.TERMS_ACCEPTANCE)))
    assert replied.status == TaskStatus.APPROVED and replied.missing_backup is None
    with pytest.raises(RuleRefused, match="only a fixable task"):
        robot.answer_task(TaskReply(task_number=submitted.task_number, backup=backup(BackupKind.SELFIE)))
    assert robot.print_contract(PrintRequest(contract_number=submitted.contract_number)).pdf.startswith(b"%PDF")


def test_unfixable_is_dismissed_with_its_reason(robot, world_state):
    submitted = robot.send_to_analysis(analysis("73333333"))
    answer = robot.task_answer(TaskQuery(task_number=submitted.task_number))
    assert answer.status == TaskStatus.UNFIXABLE and answer.reason == "Registro en Lista Negra por fraude"

    dismissed = robot.dismiss_task(DismissRequest(task_number=submitted.task_number, reason=answer.reason))
    assert dismissed.contract_number == submitted.contract_number and dismissed.reason == answer.reason
    assert dismissed.evidence[0].content.startswith(b"\x89PNG")
    assert robot.task_answer(TaskQuery(task_number=submitted.task_number)).status == TaskStatus.DISMISSED
    again = robot.dismiss_task(DismissRequest(task_number=submitted.task_number, reason=answer.reason))
    assert again.reason == answer.reason  # already dismissed: nothing done twice
    assert [t["history"][-1]["event"] for t in records(world_state)["tasks"]] == [
        "Completada como desestimada: Registro en Lista Negra por fraude"]
    with pytest.raises(RuleRefused, match="dismissed"):
        robot.print_contract(PrintRequest(contract_number=submitted.contract_number))


def test_unknown_contract_and_task_are_not_found(robot):
    with pytest.raises(RecordNotFound):
        robot.print_contract(PrintRequest(contract_number="CD-999999"))
    with pytest.raises(RecordNotFound):
        robot.task_answer(TaskQuery(task_number="TA-999999"))
    with pytest.raises(RecordNotFound):
        robot.dismiss_task(DismissRequest(task_number="TA-999999", reason="x"))


def test_expired_session_is_logged_into_again(robot, faults):
    saved = robot.upload_contract(contract())
    faults("contrato", expire_sessions=True)
    assert robot.print_contract(PrintRequest(contract_number=saved.contract_number)).pdf.startswith(b"%PDF")
    assert robot.session.logins == 2


def test_burst_of_500s_is_retried_to_success_without_duplicates(robot, faults, world_state):
    faults("contrato", fail_next=2)
    saved = robot.upload_contract(contract())
    faults("contrato", fail_next=2)
    assert robot.print_contract(PrintRequest(contract_number=saved.contract_number)).pdf.startswith(b"%PDF")
    assert len(records(world_state)["contracts"]) == 1


def test_modal_and_late_rendering_do_not_stop_the_robot(robot, faults):
    faults("contrato", modal=True, late_render_ms=200)
    submitted = robot.send_to_analysis(analysis("72222222"))
    assert robot.task_answer(TaskQuery(task_number=submitted.task_number)).status == TaskStatus.FIXABLE
    replied = robot.answer_task(TaskReply(task_number=submitted.task_number,
                                          backup=backup(BackupKind.TERMS_ACCEPTANCE)))
    assert replied.status == TaskStatus.APPROVED
    assert robot.print_contract(PrintRequest(contract_number=submitted.contract_number)).pdf.startswith(b"%PDF")


def test_portal_down_for_good_is_a_clear_application_error(robot, faults):
    faults("contrato", fail_next=1000)
    with pytest.raises(PortalUnavailable, match="HTTP 500"):
        robot.upload_contract(contract())


def test_inputs_are_checked_and_personal_files_never_shown():
    with pytest.raises(ValidationError, match="not a mobile line number"):
        contract(line="12345")
    with pytest.raises(ValidationError, match="one file per backup kind"):
        contract(kinds=(BackupKind.SELFIE,))
    with pytest.raises(ValidationError, match="not a contract number"):
        PrintRequest(contract_number="123")
    assert PrintRequest(contract_number=" cd-000101 ").contract_number == "CD-000101"
    selfie = backup(BackupKind.SELFIE)
    assert "content=" not in repr(selfie) and "content" not in selfie.model_dump()
    assert BackupKind.from_label("ACEPTACION t&c") == BackupKind.TERMS_ACCEPTANCE
    assert BackupKind.from_label("Factura de luz") is None


def test_a_save_whose_answer_was_lost_is_not_saved_twice(robot, browser_host, world_state):
    lost: list[str] = []

    async def lose_the_answer(route):
        if route.request.method == "POST" and not lost:
            response = await route.fetch(max_redirects=0)  # the console saves the contract...
            lost.append(response.headers["location"])
            await route.abort()  # ...and its answer never reaches the browser
        else:
            await route.fallback()

    async def install() -> None:
        context = await robot.session._ensure_context()
        await context.route(lambda url: url.endswith("/contratos"), lose_the_answer)

    browser_host.run(install())
    saved = robot.upload_contract(contract())
    assert lost and f"/contratos/{saved.contract_number}?" in lost[0]
    assert [c["number"] for c in records(world_state)["contracts"]] == [saved.contract_number]
