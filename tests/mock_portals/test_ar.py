"""The AR mock as a browser-less client sees it: tokens by SMS, migration outcomes and the world they change."""

from __future__ import annotations

import re
import time

import httpx
import pytest

LINES = [
    {"number": "71111111", "holder_name": "Ana", "holder_ci": "1"},
    {"number": "72222222", "holder_name": "Beto", "holder_ci": "2", "ar_outcome": "error",
     "ar_error_message": "Error en Infocenter: servicio no disponible (cod. 17)"},
    {"number": "73333333", "holder_name": "Carla", "holder_ci": "3", "ar_outcome": "historical_debt"},
    {"number": "74444444", "holder_name": "Dina", "holder_ci": "4", "ar_allowed_plans": ["Mega Plan 149"]},
    {"number": "75555555", "holder_name": "Eva", "holder_ci": "5", "recommended_plans": None},
    {"number": "76666666", "holder_name": "Fito", "holder_ci": "6", "other_operator": "Tigo"},
    {"number": "77777777", "holder_name": "Gus", "holder_ci": "7", "plan_type": "Pospago", "plan": "Mega Plan 99"},
]
CONTRACT = {"ciudad": "La Paz", "correo": "ana@example.com", "direccion": "Av. Arce 123"}


@pytest.fixture
def control(mocks):
    return mocks.urls["control"]


@pytest.fixture
def client(mocks, load_scenario):
    load_scenario({"name": "ar", "lines": LINES})
    with httpx.Client(base_url=mocks.urls["ar"], follow_redirects=False) as c:
        assert c.post("/login", data={"usuario": "agente.rpa", "clave": "Clave.2026"}).status_code == 303
        yield c


def inbox(control: str, line: str) -> list[dict]:
    response = httpx.get(f"{control}/_control/sms/{line}")
    response.raise_for_status()
    assert response.json()["line"] == line
    return response.json()["messages"]


def code_in(sms: dict) -> str:
    match = re.search(r"código de verificación para la migración es ([A-Z0-9]{6})\.", sms["text"])
    assert match, sms["text"]
    return match.group(1)


def issue(client: httpx.Client, control: str, line: str) -> str:
    page = client.post("/token", data={"linea": line})
    assert page.status_code == 200 and "Token generado" in page.text, page.text
    return code_in(inbox(control, line)[-1])


def migrate(client: httpx.Client, line: str, token: str, plan: str = "Mega Plan 69") -> str:
    response = client.post("/migracion", data={"linea": line, "token": token, "plan": plan, **CONTRACT})
    assert response.status_code == 200
    return response.text


def line_of(world_state, number: str) -> dict:
    return world_state()["lines"][number]


def test_screens_need_a_session(mocks, load_scenario):
    load_scenario({"name": "ar", "lines": LINES})
    for path in ("/", "/token", "/migracion?linea=71111111", "/estado?linea=71111111"):
        response = httpx.get(mocks.urls["ar"] + path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    assert httpx.post(mocks.urls["ar"] + "/migracion", data={"linea": "71111111"}).status_code == 303


def test_token_is_sent_by_sms_from_7371_and_never_shown(client, control, world_state):
    assert inbox(control, "71111111") == []
    page = client.post("/token", data={"linea": "71111111"}).text
    [sms] = inbox(control, "71111111")
    code = code_in(sms)
    assert sms["sender"] == "7371" and "Vence en 10 minutos" in sms["text"]
    assert code not in page
    assert "Vigencia (segundos)</th><td>600" in page
    record = world_state()["records"]["ar"]["71111111"]
    assert record["code"] == code and record["used"] is False


def test_a_new_token_voids_the_previous_one(client, control, world_state):
    first = issue(client, control, "71111111")
    second = issue(client, control, "71111111")
    assert len(inbox(control, "71111111")) == 2
    if first != second:  # two random codes may, rarely, coincide
        assert "Token incorrecto" in migrate(client, "71111111", first)
    assert "Migración exitosa" in migrate(client, "71111111", second.lower())
    assert line_of(world_state, "71111111")["migrations"] == 1


@pytest.mark.parametrize("line, alert", [
    ("79999999", "no existe"),
    ("76666666", "otro operador (Tigo)"),
    ("77777777", "ya tiene un plan Pospago"),
    ("123", "8 dígitos"),
])
def test_token_refused_for_lines_ar_cannot_migrate(client, control, line, alert):
    page = client.post("/token", data={"linea": line}).text
    assert 'role="alert"' in page and alert in page
    assert inbox(control, line) == []


def test_form_offers_scorings_plans(client):
    def plans(line: str) -> list[str]:
        return re.findall(r"<option[^>]*>([^<]+)</option>", client.get(f"/migracion?linea={line}").text)

    assert plans("71111111") == ["Mega Plan 69", "Mega Plan 99"]           # Planifícate's recommendation
    assert plans("74444444") == ["Mega Plan 149"]                          # Scoring's own list
    assert plans("75555555") == ["Mega Plan 49", "Mega Plan 69", "Mega Plan 99", "Mega Plan 149"]
    assert "ya tiene un plan Pospago" in client.get("/migracion?linea=77777777").text


def test_successful_migration_changes_the_line_once(client, control, world_state):
    code = issue(client, control, "71111111")
    page = migrate(client, "71111111", code, plan="Mega Plan 99")
    assert "Migración exitosa" in page and "Lista Negra" in page and "Sin registros" in page
    line = line_of(world_state, "71111111")
    assert (line["plan_type"], line["plan"], line["migrations"]) == ("Pospago", "Mega Plan 99", 1)
    assert line["migrated_at"]
    record = world_state()["records"]["ar"]["71111111"]
    assert record["used"] and record["migration"]["email"] == "ana@example.com"
    # The same request again, and a second token: both refused, the counter stays at 1.
    assert "ya tiene un plan Pospago" in migrate(client, "71111111", code, plan="Mega Plan 99")
    assert "ya tiene un plan Pospago" in client.post("/token", data={"linea": "71111111"}).text
    assert line_of(world_state, "71111111")["migrations"] == 1


def test_wrong_token(client, control, world_state):
    code = issue(client, control, "71111111")
    wrong = ("A" if code[0] != "A" else "B") + code[1:]
    page = migrate(client, "71111111", wrong)
    assert 'role="alert"' in page and "Token incorrecto" in page
    assert "Migrar" in page  # the form comes back to try again
    assert line_of(world_state, "71111111")["migrations"] == 0
    assert "Migración exitosa" in migrate(client, "71111111", code)


def test_no_token_issued_is_a_wrong_token(client):
    assert "Token incorrecto" in migrate(client, "71111111", "ABC234")


def test_expired_token(mocks, load_scenario, control, world_state):
    load_scenario({"name": "ar", "lines": LINES, "token_ttl_seconds": 1})
    with httpx.Client(base_url=mocks.urls["ar"]) as c:
        c.post("/login", data={"usuario": "agente.rpa", "clave": "Clave.2026"})
        code = issue(c, control, "71111111")
        assert "Vence en 1 segundo." in inbox(control, "71111111")[-1]["text"]
        time.sleep(1.2)
        assert "Token vencido" in migrate(c, "71111111", code)
    assert line_of(world_state, "71111111")["migrations"] == 0


def test_ar_error_shows_its_message_and_spends_the_token(client, control, world_state):
    code = issue(client, control, "72222222")
    page = migrate(client, "72222222", code)
    assert re.search(r'role="alert">Error en Infocenter: servicio no disponible \(cod. 17\)<', page)
    assert "Preanálisis del activador" in page
    assert "Token ya utilizado" in migrate(client, "72222222", code)
    assert line_of(world_state, "72222222")["plan_type"] == "Prepago"


def test_historical_debt_is_refused_by_lista_negra(client, control, world_state):
    page = migrate(client, "73333333", issue(client, control, "73333333"))
    assert 'role="alert">Lista Negra: el cliente registra deuda histórica' in page
    assert line_of(world_state, "73333333")["migrations"] == 0


def test_plan_scoring_does_not_offer_is_refused(client, control, world_state):
    page = migrate(client, "74444444", issue(client, control, "74444444"), plan="Mega Plan 69")
    assert "no está habilitado por Scoring" in page
    assert line_of(world_state, "74444444")["migrations"] == 0


def test_contract_fields_are_required(client, control):
    code = issue(client, control, "71111111")
    page = client.post("/migracion", data={"linea": "71111111", "token": code, "plan": "Mega Plan 69"}).text
    assert "Complete los campos obligatorios: Ciudad, Dirección de facturación." in page
    migrate_without_email = client.post("/migracion", data={
        "linea": "71111111", "token": code, "plan": "Mega Plan 69", "ciudad": "Tarija", "direccion": "Calle 15"}).text
    assert "Migración exitosa" in migrate_without_email


def test_migration_state_before_and_after(client, control):
    before = client.get("/estado?linea=71111111").text
    assert "<th scope=\"row\">Migrada</th><td>No</td>" in before
    assert "<th scope=\"row\">Fecha de migración</th><td>-</td>" in before
    migrate(client, "71111111", issue(client, control, "71111111"), plan="Mega Plan 99")
    after = client.get("/estado?linea=71111111").text
    assert "<th scope=\"row\">Migrada</th><td>Sí</td>" in after
    assert "<th scope=\"row\">Tipo de plan</th><td>Pospago</td>" in after
    assert re.search(r"Fecha de migración</th><td>\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2} -0400<", after)
    assert "no existe" in client.get("/estado?linea=79999999").text


def test_a_500_before_the_handler_issues_no_token(client, control, faults):
    faults("ar", fail_next=1)
    assert client.post("/token", data={"linea": "71111111"}).status_code == 500
    assert inbox(control, "71111111") == []
    faults("ar", expire_sessions=True)
    assert client.get("/token").status_code == 303
