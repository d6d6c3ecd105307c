"""Contrato Digital's page object against the real mock: forms with file inputs, the PDF download, the inbox."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader

from pages.contrato import ContratoPage
from pages.errors import PortalUnavailable, SessionExpired

SCENARIO = {"name": "contrato-page", "lines": [
    {"number": "71234567", "holder_name": "Ana Prueba", "holder_ci": "1234567"},
    {"number": "72345678", "holder_name": "Bruno Prueba", "holder_ci": "2345678", "analyst_answers": [
        {"verdict": "fixable", "missing_backup": "Aceptación T&C"},
        {"verdict": "unfixable", "reason": "Scoring insuficiente"},
    ]},
]}


def png(text: str) -> bytes:
    """A small synthetic image standing in for a photo (never a real person)."""
    image = Image.new("RGB", (80, 40), (210, 225, 245))
    ImageDraw.Draw(image).text((4, 14), text, fill=(20, 20, 20))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def payload(name: str) -> dict:
    return {"name": name, "mimeType": "image/png", "buffer": png(name)}


async def _with_page(host, url: str, work):
    context = await host.new_context()
    try:
        console = ContratoPage(await context.new_page(), url)
        await console.dismiss_notices_automatically()
        await console.login("agente.rpa", "Clave.2026")
        return await work(console)
    finally:
        await context.close()


async def _saved_contract(console: ContratoPage, line: str, *, with_ar_error: bool = False) -> dict[str, str]:
    await console.create_contract(line, "Ana Prueba", "1234567", "Mega Plan 69", "La Paz")
    for kind in ("CI anverso", "CI reverso", "Selfie con CI") + (("Error AR",) if with_ar_error else ()):
        await console.attach_backup(kind, payload(kind.replace(" ", "_") + ".png"))
    await console.save()
    return await console.read_contract()


@pytest.fixture
def contrato_url(mocks, load_scenario):
    load_scenario(SCENARIO)
    return mocks.urls["contrato"]


def test_create_save_and_print_a_real_pdf(browser_host, contrato_url, tmp_path, world_state):
    selfie = tmp_path / "selfie.png"
    selfie.write_bytes(png("selfie"))

    async def work(console: ContratoPage):
        await console.create_contract("71234567", "Ana Prueba", "1234567", "Mega Plan 69", "La Paz")
        await console.attach_backup("CI anverso", payload("ci-anverso.png"))
        await console.attach_backup("CI reverso", payload("ci-reverso.png"))
        await console.attach_backup("Selfie con CI", selfie)  # a path works as well as bytes
        await console.attach_backup("Aceptación T&C", payload("acepto.png"))
        await console.save()
        refused = await console.alert_text()
        fields = await console.read_contract()
        return refused, fields, await console.print_pdf()

    refused, fields, pdf = browser_host.run(_with_page(browser_host, contrato_url, work))
    assert refused == ""
    number = fields["Número de contrato"]
    assert fields["Estado"] == "Guardado" and fields["Línea"] == "71234567"
    assert fields["Respaldos adjuntos"] == "Aceptación T&C, CI anverso, CI reverso, Selfie con CI"
    assert pdf.file_name == f"{number}.pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert number in text and "Mega Plan 69" in text and "selfie.png" in text
    [contract] = world_state()["records"]["contrato"]["contracts"]
    assert contract["state"] == "impreso" and contract["prints"] == 1


def test_save_without_the_holders_identity_is_refused(browser_host, contrato_url, world_state):
    async def work(console: ContratoPage):
        await console.create_contract("71234567", "Ana Prueba", "1234567", "Mega Plan 69", "La Paz")
        await console.attach_backup("CI anverso", payload("ci.png"))
        await console.save()
        return await console.alert_text()

    refused = browser_host.run(_with_page(browser_host, contrato_url, work))
    assert "faltan respaldos obligatorios: CI reverso, Selfie con CI" in refused
    assert world_state()["records"].get("contrato", {}).get("contracts", []) == []


def test_tasks_inbox_reply_and_dismiss(browser_host, contrato_url):
    async def work(console: ContratoPage):
        fields = await _saved_contract(console, "72345678", with_ar_error=True)
        await console.send_to_analysis()
        sent = await console.read_contract()
        await console.open_tasks()
        observed = await console.read_tasks()
        task = sent["Tarea de análisis"]
        await console.answer_task(task, "Aceptación T&C", payload("acepto.png"))
        rejected = (await console.read_task_or_alert())[0]
        await console.complete_as_dismissed(task, "Scoring insuficiente para el plan")
        dismissed = (await console.read_task_or_alert())[0]
        await console.open_contract(fields["Número de contrato"])
        return fields, sent, observed, rejected, dismissed, await console.read_contract()

    fields, sent, observed, rejected, dismissed, contract = browser_host.run(
        _with_page(browser_host, contrato_url, work))
    assert sent["Estado"] == "Observado"
    [row] = observed
    assert row["Número"] == sent["Tarea de análisis"] and row["Contrato"] == fields["Número de contrato"]
    assert row["Estado"] == "Observada (subsanable)" and row["Respaldo faltante"] == "Aceptación T&C"
    assert rejected["Estado"] == "Rechazada (no subsanable)" and rejected["Motivo"] == "Scoring insuficiente"
    assert rejected["Envíos a análisis"] == "2"
    assert dismissed["Estado"] == "Desestimada"
    assert dismissed["Motivo de desestimación"] == "Scoring insuficiente para el plan"
    assert contract["Estado"] == "Desestimado"
    assert "Error AR" in contract["Respaldos adjuntos"] and "Aceptación T&C" in contract["Respaldos adjuntos"]


def test_print_hit_by_a_500_fails_at_once_as_unavailable(browser_host, contrato_url, faults):
    async def work(console: ContratoPage):
        await _saved_contract(console, "71234567")
        faults("contrato", fail_next=1)
        started = time.monotonic()
        try:
            await console.print_pdf()
        finally:
            work.elapsed = time.monotonic() - started

    with pytest.raises(PortalUnavailable, match="HTTP 500"):
        browser_host.run(_with_page(browser_host, contrato_url, work))
    assert work.elapsed < 8  # classified from the answer, not by waiting out the download


def test_print_after_the_session_expired_is_reported(browser_host, contrato_url, faults):
    async def work(console: ContratoPage):
        await _saved_contract(console, "71234567")
        faults("contrato", expire_sessions=True)
        await console.print_pdf()

    with pytest.raises(SessionExpired):
        browser_host.run(_with_page(browser_host, contrato_url, work))
