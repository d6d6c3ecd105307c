"""The interpreters of customers' replies (flows.process.replies), rule by rule.

The labelled corpus (test_reply_corpus.py) measures them on many messages; here each written rule has its
own test, starting with the field failures: a polite "no" read as yes because a word began with "si", a
question beginning with "No" closed as refusal, a capitalised courtesy word read as the SMS code.
"""

from __future__ import annotations

import pytest

from flows.process.replies import (
    CustomerFile,
    DataAnswer,
    Reading,
    Sim3GChoice,
    TokenFormat,
    Verdict,
    asks_for_person,
    email_in,
    is_question,
    photos_in,
    read_acceptance,
    read_data,
    read_nit,
    read_plan,
    read_sim_3g,
    read_token,
    read_yes_no,
)

PLANS = ["Mega Plan 69", "Mega Plan 99"]
CATALOGUE = ["Mega Plan 49", "Mega Plan 69", "Mega Plan 99", "Mega Plan 149"]
FMT = TokenFormat()


def value(reading: Reading):
    """The reading as one comparable thing: its value when understood, else its verdict."""
    return reading.value if reading.verdict == Verdict.UNDERSTOOD else reading.verdict


UNCLEAR = Verdict.UNCLEAR
PERSON = Verdict.PERSON


# -- the reading --------------------------------------------------------------------------------------------
def test_a_reading_is_made_on_the_class_and_asked_on_the_instance():
    yes = Reading.understood(True)
    assert (yes.verdict, yes.value, yes.understood, yes.unclear, yes.wants_person) == (
        Verdict.UNDERSTOOD,
        True,
        True,
        False,
        False,
    )
    unclear = Reading.unclear()
    assert (unclear.verdict, unclear.value, unclear.understood, unclear.unclear) == (Verdict.UNCLEAR, None, False, True)
    person = Reading.person()
    assert person.wants_person and not person.understood and not person.unclear
    assert Reading(verdict=Verdict.UNDERSTOOD, value="x") == Reading.understood("x")


def test_the_public_values_are_the_agreed_ones():
    assert [v.value for v in Verdict] == ["understood", "unclear", "person"]
    assert [c.value for c in Sim3GChoice] == ["recuperar_sim", "linea_nueva", "no"]
    assert (FMT.alphabet, FMT.length) == ("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 6)
    assert CustomerFile(name="a.jpg", content_type="image/jpeg").name == "a.jpg"


# -- yes / no -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["si", "Sí", "siiii", "sip", "sep", "SIII CLAROO", "claro que si", "dale", "de una", "ok", "oki", "ya", "bueno",
     "me interesa", "si porfa", "si x favor", "Si señorita gracias", "como no", "si o si", "sisisi", "Dale jajaja",
     "si, quiero conservar mi numero de tigo", "ok dale"],
)  # fmt: skip
def test_yes(text):
    assert value(read_yes_no(text)) is True


@pytest.mark.parametrize(
    "text",
    ["no", "NO", "nop", "nooo", "nel", "No gracias", "no, gracias señorita", "tampoco", "ya no", "mejor no",
     "todavia no", "no me interesa", "ya no me interesa", "gracias pero no", "no por ahora", "creo que no",
     "ok, no gracias", "no, estoy bien con tigo", "Sinceramente no"],
)  # fmt: skip
def test_no(text):
    assert value(read_yes_no(text)) is False


@pytest.mark.parametrize(
    "text",
    ["sin costo", "sino", "siempre me pasa esto", "Buenas noches", "Simplemente", "sincero"],
)
def test_a_word_that_begins_with_si_or_no_is_neither(text):
    assert value(read_yes_no(text)) is UNCLEAR


@pytest.mark.parametrize("text", ["no se", "nose", "No sé", "nc", "mmm no se", "Sinceramente no se"])
def test_i_dont_know_is_no_no(text):
    assert value(read_yes_no(text)) is UNCLEAR


@pytest.mark.parametrize(
    "text",
    ["No, cual es la diferencia?", "No entiendo que es la portacion", "si pero cuanto cuesta?", "cuanto cuesta",
     "que es portabilidad", "puedo hacerlo por aqui", "ok y eso cuanto cuesta", "si claro, como hago?", "Sin costo?",
     "si me interesaría saber más", "tengo una duda"],
)  # fmt: skip
def test_a_question_is_never_an_answer(text):
    assert value(read_yes_no(text)) is UNCLEAR


@pytest.mark.parametrize(
    "text",
    ["si me conviene lo hago", "si no es muy caro", "si tengo tiempo", "sii pero no tengo tiempo de ir",
     "👍 pero cuanto sale", "tal vez", "lo voy a pensar", "creo que si", "te aviso"],
)  # fmt: skip
def test_conditions_hedges_and_mixed_messages_are_unclear(text):
    assert value(read_yes_no(text)) is UNCLEAR


@pytest.mark.parametrize("text", ["ya tengo otro plan", "ok gracias", "listo gracias", "gracias", "jajaja", ""])
def test_a_weak_yes_counts_only_alone(text):
    assert value(read_yes_no(text)) is UNCLEAR


def test_a_thumbs_up_is_a_yes_for_the_yes_no_question_only():
    assert value(read_yes_no("👍")) is True
    assert value(read_yes_no("👍🏻")) is True
    assert value(read_yes_no("👎")) is False
    assert value(read_yes_no("👍 gracias")) is UNCLEAR
    assert value(read_acceptance("👍")) is UNCLEAR
    assert value(read_sim_3g("👍")) is UNCLEAR
    assert value(read_plan("👍", PLANS)) is UNCLEAR
    assert value(read_data("👍")) is UNCLEAR


# -- a person -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["quiero hablar con un asesor", "asesor porfa", "un agente", "quiero hablar con alguien", "pasame con una persona",
     "una persona real porfa", "un humano por favor", "quiero comunicarme con un operador", "mejor llamenme",
     "me pueden llamar?", "no quiero hablar con un robot", "alguien que me atienda", "una persona que me explique",
     "necesito ayuda de una persona"],
)  # fmt: skip
def test_a_request_for_a_person(text):
    assert asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    ["me llamo Juan", "la factura a nombre de otra persona", "no necesito un asesor", "mi linea es de otro operador",
     "eres un robot?", "si", "te llamo luego", "la titular es otra persona"],
)  # fmt: skip
def test_not_a_request_for_a_person(text):
    assert not asks_for_person(text)


@pytest.mark.parametrize(
    "read",
    [
        read_yes_no,
        read_sim_3g,
        lambda text: read_plan(text, PLANS),
        read_acceptance,
        lambda text: read_token(text, FMT),
        read_nit,
        read_data,
    ],
)
def test_a_request_for_a_person_is_person_for_every_interpreter(read):
    assert read("quiero hablar con un asesor").wants_person
    assert read("AB3K7Q el de 69 NIT 1020304050 pero pasame con una persona").wants_person


# -- questions ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["cuanto cuesta", "hola?", "¿y el de 99", "que incluye", "q incluye", "como hago", "puedo ir mañana",
     "hay promocion", "si cuanto cuesta", "buenas, cual me conviene", "quiero saber el precio", "una consulta"],
)  # fmt: skip
def test_questions(text):
    assert is_question(text)


@pytest.mark.parametrize(
    "text",
    ["que bueno", "que sea el de 69", "como te dije, el de 69", "quiero que me llamen", "como no", "si", "no",
     "cuando pueda voy"],
)  # fmt: skip
def test_not_questions(text):
    assert not is_question(text)


# -- Línea 3G -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("renuevo el chip", Sim3GChoice.RECOVER),
        ("mañana paso por la oficina", Sim3GChoice.RECOVER),
        ("no quiero perder mi numero", Sim3GChoice.RECOVER),
        ("la primera opcion", Sim3GChoice.RECOVER),
        ("si, renuevo el chip", Sim3GChoice.RECOVER),
        ("linea nueva", Sim3GChoice.NEW_LINE),
        ("no, prefiero linea nueva", Sim3GChoice.NEW_LINE),
        ("no quiero ir a la oficina, mejor linea nueva", Sim3GChoice.NEW_LINE),
        ("no quiero renovar sino una linea nueva", Sim3GChoice.NEW_LINE),
        ("prefiero otro chip con otro numero", Sim3GChoice.NEW_LINE),
        ("no", Sim3GChoice.DECLINE),
        ("ninguna de las dos", Sim3GChoice.DECLINE),
        ("me quedo asi nomas", Sim3GChoice.DECLINE),
        ("no quiero ni cambiar el chip ni otra linea", Sim3GChoice.DECLINE),
    ],
)
def test_sim_3g_choices(text, choice):
    assert value(read_sim_3g(text)) == choice


@pytest.mark.parametrize(
    "text",
    ["si", "ok", "dale", "no quiero otra linea", "otra linea no", "todavia no", "si pero no puedo ir a la oficina",
     "voy a la oficina y tambien quiero otra linea", "cuanto cuesta el chip?", "no se"],
)  # fmt: skip
def test_sim_3g_unclear(text):
    assert value(read_sim_3g(text)) is UNCLEAR


# -- plan ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "plan"),
    [
        ("el de 69", "Mega Plan 69"),
        ("Mega Plan 99", "Mega Plan 99"),
        ("MEGA PLAN 99!!", "Mega Plan 99"),
        ("mega 99", "Mega Plan 99"),
        ("plan 69", "Mega Plan 69"),
        ("MEGAPLAN69", "Mega Plan 69"),
        ("69bs", "Mega Plan 69"),
        ("el d 69", "Mega Plan 69"),
        ("el de sesenta y nueve", "Mega Plan 69"),
        ("Quiero el Mega Plan 69", "Mega Plan 69"),
        ("mega plan 69.00", "Mega Plan 69"),
        ("el de 69, no el de 99", "Mega Plan 69"),
        ("si el de 69", "Mega Plan 69"),
        ("tengo 2 lineas, quiero el de 69", "Mega Plan 69"),
    ],
)
def test_a_plan_named_by_what_tells_it_apart(text, plan):
    assert value(read_plan(text, PLANS)) == plan


def test_a_number_names_only_the_plan_that_has_exactly_it():
    assert value(read_plan("el de 49", CATALOGUE)) == "Mega Plan 49"
    assert value(read_plan("Plan 149", CATALOGUE)) == "Mega Plan 149"
    assert value(read_plan("ciento cuarenta y nueve", CATALOGUE)) == "Mega Plan 149"
    assert value(read_plan("el ilimitado", ["Mega Plan 69", "Plan Ilimitado 149"])) == "Plan Ilimitado 149"


@pytest.mark.parametrize(
    "text",
    ["cual es el de 69?", "el de 69?", "el de 69 incluye llamadas?", "el de 69 y el de 99", "el de 69 o el otro",
     "el de 69 o el de 49", "el segundo", "el mas barato", "el de 50", "ninguno", "ya no quiero el de 69",
     "el de 69 no", "creo que el de 69", "el de 69 pero con mas megas", "si me conviene el de 99 lo tomo", "mega plan",
     "ok", ""],
)  # fmt: skip
def test_no_plan_two_plans_or_a_question_is_unclear(text):
    assert value(read_plan(text, PLANS)) is UNCLEAR


# -- documents ----------------------------------------------------------------------------------------------
def test_photos_are_jpeg_and_png_only():
    photo = CustomerFile(name="IMG-20240611-WA0001.jpg", content_type="image/jpeg")
    png = CustomerFile(name="ci_anverso.png", content_type="image/png")
    upper = CustomerFile(name="CARNET.JPG", content_type="IMAGE/JPEG; charset=binary")
    not_photos = [
        CustomerFile(name="STK-20240611-WA0003.webp", content_type="image/webp"),  # a sticker
        CustomerFile(name="PTT-20240611-WA0004.opus", content_type="audio/ogg; codecs=opus"),  # a voice note
        CustomerFile(name="AUD-20240611-WA0005.ogg", content_type="audio/ogg"),
        CustomerFile(name="VID-20240611-WA0006.mp4", content_type="video/mp4"),
        CustomerFile(name="DOC-20240611-WA0007.pdf", content_type="application/pdf"),
        CustomerFile(name="animacion.gif", content_type="image/gif"),
        CustomerFile(name="sticker.webp", content_type="image/jpeg"),  # the name says sticker
        CustomerFile(name="audio.opus", content_type="image/png"),
        CustomerFile(name="ci.jpg", content_type="application/octet-stream"),
    ]
    assert photos_in([photo, *not_photos, png, upper]) == [photo, png, upper]
    assert photos_in(not_photos) == []
    assert photos_in([]) == []


# -- T&C ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["ACEPTO", "acepto", " Acepto. ", "Acepto!", "ACEPTO!!", "\nACEPTO\n", "aCePtO"])
def test_acepto_alone_is_acceptance(text):
    assert value(read_acceptance(text)) is True


@pytest.mark.parametrize(
    "text",
    ["acepto?", "ACEPTÓ", "acepto pero…", "Acepto pero quiero otro plan", "si acepto", "ACEPTO ACEPTO", "acepto,",
     "acepto 👍", "Yo acepto", "acepto los terminos", "acpto", "sí", "ok", "dale", "", "A C E P T O"],
)  # fmt: skip
def test_anything_else_is_not_acceptance(text):
    assert value(read_acceptance(text)) is not True


@pytest.mark.parametrize(
    "text",
    ["no acepto", "NO ACEPTO", "No, no acepto", "no acepto, es muy caro", "no quiero", "ya no me interesa", "cancelen",
     "cancelen la solicitud", "no", "nop", "no gracias", "desisto", "no estoy de acuerdo", "olvidenlo", "ya no"],
)  # fmt: skip
def test_a_clear_refusal_of_the_terms(text):
    assert value(read_acceptance(text)) is False


@pytest.mark.parametrize(
    "text",
    ["no acepto?", "todavia no", "no, esperame un rato", "no me llego el mensaje", "no entiendo", "cancelar",
     "como cancelo?", "no, mi esposo tiene que verlo primero", "no, es muy caro", "espera", "No sé si aceptar"],
)  # fmt: skip
def test_not_yet_a_question_or_cancelar_alone_is_not_a_refusal(text):
    assert value(read_acceptance(text)) is UNCLEAR


# -- token --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("K7QM3X", "K7QM3X"),
        ("ab3k7q", "AB3K7Q"),
        ("ab3 k7q", "AB3K7Q"),
        ("AB3-K7Q", "AB3K7Q"),
        ("Y2 PQ 8L", "Y2PQ8L"),
        ("Mi codigo es ZX8W2M", "ZX8W2M"),
        ("HN6JQ2 gracias", "HN6JQ2"),
        ("Su código de verificación para la migración es R2D7KF. Vence en 10 minutos.", "R2D7KF"),
        ("KXTRPB", "KXTRPB"),
        ("J3NH6T\nJ3NH6T", "J3NH6T"),
        ("U3RC7W?", "U3RC7W"),
        ("Hola! el 7371 me mando el codigo HN6JQ3", "HN6JQ3"),
    ],
)
def test_a_token_in_upper_case(text, code):
    assert value(read_token(text, FMT)) == code


@pytest.mark.parametrize(
    "text",
    ["Gracias", "HOLA", "LISTO", "CODIGO", "BUENAS", "TARDES", "ESPERA", "Buenas tardes", "jajaja", "jsjsjs", "PLSSSS",
     "7371", "71234567", "4567891", "mi numero es 7123 4567", "AB1K0Q", "K7QM", "K7QM3XP", "quiero el MEGA69",
     "La Paz 3KM", "AB3K7Q o AB3K7D", "no me llego nada", ""],
)  # fmt: skip
def test_only_what_can_be_ars_code_is_a_code(text):
    assert value(read_token(text, FMT)) is UNCLEAR


def test_the_token_format_is_the_one_given():
    four = TokenFormat(alphabet="ABCD234", length=4)
    assert value(read_token("a2b3", four)) == "A2B3"
    assert value(read_token("A2B3C4", four)) is UNCLEAR
    assert value(read_token("A2B3", FMT)) is UNCLEAR


# -- NIT, e-mail, data --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "nit"),
    [
        ("NIT 1020304050", "1020304050"),
        ("nit: 1020304050", "1020304050"),
        ("el nit es 1020304050", "1020304050"),
        ("N.I.T. 1020304050", "1020304050"),
        ("NIT de la empresa 1029384756", "1029384756"),
        ("NIT/CI 4567891", "4567891"),
        ("NIT 1020 304 050", "1020304050"),
        ("Juan Perez CI 4567891 LP, factura con NIT 1020304050", "1020304050"),
        ("NIT 1020304050 y mi cel 71234567", "1020304050"),
    ],
)
def test_a_nit(text, nit):
    assert value(read_nit(text)) == nit


@pytest.mark.parametrize(
    "text",
    ["1020304050", "no tengo nit", "ci 4567891", "nit 12345", "NIT 12345678901234", "nit no tengo, ci 4567891",
     "NIT 1020304050 o 1020304051", "nit?"],
)  # fmt: skip
def test_no_nit_or_two(text):
    assert value(read_nit(text)) is UNCLEAR


def test_email_in():
    assert email_in("mi correo es jperez@gmail.com gracias") == "jperez@gmail.com"
    assert email_in("sin correo") is None


@pytest.mark.parametrize(
    "text",
    ["Juan Carlos Mamani, CI 4567891 LP, linea 71234567, La Paz", "71234567", "Pedro Gutierrez Vaca", "santa cruz",
     "a mi nombre nomas", "ci 4567891, cuanto tarda el tramite?", "soy Carla", "me llamo Jhonny"],
)  # fmt: skip
def test_data_that_answers(text):
    assert read_data(text).understood


def test_data_reads_the_nit_and_the_email():
    reading = read_data("Factura a nombre de Illimani SRL nit 3012345018, correo compras@illimani.com.bo")
    assert reading.value == DataAnswer(nit="3012345018", email="compras@illimani.com.bo")
    assert read_data("CI 4567891").value == DataAnswer()


@pytest.mark.parametrize(
    "text",
    ["hola", "Hola Buenas Tardes", "👍", "", "ok", "si", "cuanto cuesta el plan?", "quiero pasarme a pospago",
     "la factura tiene que ser a nombre del titular?", "Quiero Migrar Mi Linea", "jajaja"],
)  # fmt: skip
def test_greetings_questions_and_bare_yeses_carry_no_data(text):
    assert value(read_data(text)) is UNCLEAR


# -- the cases the old keyword rules got wrong, through the interpreters ------------------------------------
def test_the_keyword_rules_field_failures_read_right():
    tokens = TokenFormat()
    assert read_acceptance("ACEPTO").value is True and read_acceptance("si acepto").value is not True
    assert read_acceptance("no acepto").value is False
    assert read_acceptance("No, cual es la diferencia?").value is not False
    assert read_token("ab3 k7q", tokens).value == "AB3K7Q" and not read_token("Gracias", tokens).understood
    assert read_plan("el de 69", PLANS).value == "Mega Plan 69" and not read_plan("ok", PLANS).understood
    assert read_yes_no("si").value is True and read_yes_no("sinceramente no").value is not True
    assert read_nit("NIT 1020304050").value == "1020304050" and not read_nit("hola").understood
