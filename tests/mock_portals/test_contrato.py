"""The Contrato Digital mock as a browser-less client sees it: contracts, the PDF, the analysts' state machine."""

from __future__ import annotations

import hashlib
import io
import time

import httpx
import pytest
from PIL import Image
from pypdf import PdfReader

SCENARIO = {
    "name": "contrato",
    "lines": [
        {"number": "71234567", "holder_name": "Ana Prueba", "holder_ci": "1234567"},
        {"number": "72345678", "holder_name": "Bruno Prueba", "holder_ci": "2345678", "analyst_answers": [
            {"verdict": "fixable", "missing_backup": "Aceptación T&C"},
            {"verdict": "fixable", "missing_backup": "Preanálisis Planifícate"},
            {"verdict": "unfixable", "reason": "Deuda en Infocenter"},
        ]},
    ],
}
FIELDS = {"linea": "71234567", "titular": "Ana Prueba", "ci": "1234567", "plan": "Mega Plan 69", "ciudad": "La Paz"}


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), color).save(buffer, "PNG")
    return buffer.getvalue()


IDENTITY = {
    "respaldo_ci_anverso": ("ci-anverso.png", png((255, 0, 0)), "image/png"),
    "respaldo_ci_reverso": ("ci-reverso.png", png((0, 255, 0)), "image/png"),
    "respaldo_selfie": ("selfie.png", png((0, 0, 255)), "image/png"),
}


@pytest.fixture
def client(mocks, load_scenario):
    load_scenario(SCENARIO)
    with httpx.Client(base_url=mocks.urls["contrato"], follow_redirects=False) as c:
        yield c


def login(client: httpx.Client) -> None:
    response = client.post("/login", data={"usuario": "agente.rpa", "clave": "Clave.2026", "next": "/"})
    assert response.status_code == 303


def save(client: httpx.Client, line: str = "71234567", **extra_files) -> str:
    response = client.post("/contratos", data={**FIELDS, "linea": line}, files={**IDENTITY, **extra_files})
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/")[-1].split("?")[0]


def contracts(world_state) -> list[dict]:
    return world_state()["records"].get("contrato", {}).get("contracts", [])


def tasks(world_state) -> list[dict]:
    return world_state()["records"].get("contrato", {}).get("tasks", [])


def test_screens_need_a_session(client):
    for path in ("/contratos", "/contratos/nuevo", "/tareas"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    assert client.post("/contratos/CD-000101/imprimir").status_code == 303


def test_saving_keeps_the_contract_and_its_files(client, world_state):
    login(client)
    empty_input = {"respaldo_error_ar": ("", b"", "application/octet-stream")}  # a file input left empty
    number = save(client, **empty_input)
    assert number == "CD-000101"
    [contract] = contracts(world_state)
    assert contract["state"] == "guardado" and contract["line"] == "71234567"
    assert [b["kind"] for b in contract["backups"]] == ["CI anverso", "CI reverso", "Selfie con CI"]
    assert contract["backups"][2]["sha256"] == hashlib.sha256(IDENTITY["respaldo_selfie"][1]).hexdigest()
    page = client.get(f"/contratos/{number}").text
    assert "Imprimir contrato" in page and "Enviar a análisis de activaciones" in page
    backup = client.get(f"/respaldos/{contract['backups'][0]['blob_id']}")
    assert backup.content == IDENTITY["respaldo_ci_anverso"][1]


@pytest.mark.parametrize("data, files, message", [
    (FIELDS, {k: v for k, v in IDENTITY.items() if k != "respaldo_selfie"},
     "faltan respaldos obligatorios: Selfie con CI"),
    ({**FIELDS, "linea": "79999999"}, IDENTITY, "La línea 79999999 no está registrada"),
    ({**FIELDS, "linea": "12345"}, IDENTITY, "Ingrese un número de línea válido"),
    ({**FIELDS, "plan": ""}, IDENTITY, "El campo Plan es obligatorio"),
])
def test_the_console_refuses_an_incomplete_contract(client, world_state, data, files, message):
    login(client)
    response = client.post("/contratos", data=data, files=files)
    assert response.status_code == 200
    assert 'role="alert"' in response.text and message in response.text
    assert contracts(world_state) == []


def test_print_answers_a_real_pdf_download(client, world_state):
    login(client)
    number = save(client, respaldo_aceptacion=("acepto.png", png((9, 9, 9)), "image/png"))
    response = client.post(f"/contratos/{number}/imprimir")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="{number}.pdf"'
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    for expected in (number, "71234567", "Ana Prueba", "Mega Plan 69", "Aceptación T&C: acepto.png",
                     "Selfie con CI: selfie.png"):
        assert expected in text
    assert contracts(world_state)[0]["state"] == "impreso"
    assert client.post(f"/contratos/{number}/imprimir").status_code == 200  # a printed contract prints again


def test_analysts_answer_in_order_and_the_state_machine_holds(client, world_state):
    login(client)
    number = save(client, line="72345678", respaldo_error_ar=("error-ar.png", png((1, 2, 3)), "image/png"))
    assert client.post(f"/contratos/{number}/enviar").status_code == 303
    [task] = tasks(world_state)
    assert (task["status"], task["missing_backup"]) == ("observada", "Aceptación T&C")
    assert contracts(world_state)[0]["state"] == "observado"
    assert "Observada (subsanable)" in client.get("/tareas").text

    # Not printable, not sendable twice, not dismissable without a reason while observed.
    assert "no puede imprimirse" in client.post(f"/contratos/{number}/imprimir").text
    assert "ya no puede enviarse" in client.post(f"/contratos/{number}/enviar").text
    assert "Indique el motivo" in client.post(f"/tareas/{task['number']}/desestimar", data={"motivo": ""}).text
    assert "Adjunte el documento" in client.post(f"/tareas/{task['number']}/responder",
                                                 data={"tipo": "Aceptación T&C"}).text

    reply = {"documento": ("acepto.png", png((4, 5, 6)), "image/png")}
    for expected in (("observada", "Preanálisis Planifícate", None), ("rechazada", None, "Deuda en Infocenter")):
        response = client.post(f"/tareas/{task['number']}/responder", data={"tipo": "Aceptación T&C"}, files=reply)
        assert response.status_code == 303
        [task] = tasks(world_state)
        assert (task["status"], task["missing_backup"], task["reason"]) == expected
    assert task["submissions"] == 3
    assert "no admite respuesta" in client.post(f"/tareas/{task['number']}/responder",
                                                data={"tipo": "Aceptación T&C"}, files=reply).text

    response = client.post(f"/tareas/{task['number']}/desestimar", data={"motivo": "Deuda en Infocenter"})
    assert response.status_code == 303
    [task] = tasks(world_state)
    assert (task["status"], task["dismiss_reason"]) == ("desestimada", "Deuda en Infocenter")
    assert contracts(world_state)[0]["state"] == "desestimado"
    assert world_state()["records"]["contrato"]["answers_used"] == {"72345678": 3}


def test_without_scripted_answers_the_analysts_approve_and_the_contract_prints(client, world_state):
    login(client)
    number = save(client)
    client.post(f"/contratos/{number}/enviar")
    [task] = tasks(world_state)
    assert task["status"] == "aprobada" and contracts(world_state)[0]["state"] == "aprobado"
    assert "no puede desestimarse" in client.post(f"/tareas/{task['number']}/desestimar",
                                                  data={"motivo": "x"}).text
    assert client.post(f"/contratos/{number}/imprimir").headers["content-type"] == "application/pdf"


def test_unknown_contract_and_task(client):
    login(client)
    assert "El contrato CD-999999 no existe" in client.get("/contratos/CD-999999").text
    assert "La tarea TA-999999 no existe" in client.get("/tareas/TA-999999").text


def test_session_expires_when_idle(client, load_scenario):
    load_scenario({**SCENARIO, "session_idle_seconds": 1.5})
    login(client)
    assert client.get("/contratos").status_code == 200
    time.sleep(2)
    assert client.get("/contratos").status_code == 303


def test_expired_sessions_and_faults(client, faults):
    faults("contrato", expire_sessions=True)
    assert client.get("/contratos").status_code == 303
    login(client)
    faults("contrato", fail_next=2)
    assert [client.get("/tareas").status_code for _ in range(3)] == [500, 500, 200]
    faults("contrato", maintenance_seconds=30)
    response = client.get("/tareas")
    assert response.status_code == 503 and "mantenimiento" in response.text
