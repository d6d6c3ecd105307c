"""How the flow reads what a customer wrote on WhatsApp: one interpreter per question the robot asks.

Keyword rules were wrong in the field: a polite "no" taken for yes because a word began with "si", a
question beginning with "No" closed as a refusal, a capitalised courtesy word read as the SMS code. A
reply is read as a sentence instead: folded (case, accents, repeated letters, WhatsApp spellings such as
"q", "xq", "porfa", "nose"), cut into clauses at punctuation, and matched as whole words and phrases
("no me interesa" before "no", "como no" before "no"). Each interpreter answers a ``Reading``: the value it
understood, ``UNCLEAR`` (ask again) or ``PERSON`` (the customer asks for a human); ``Reading.understood(v)``
and ``Reading.unclear()`` make one, ``reading.understood`` and ``reading.unclear`` ask it.

These rules are choices, written down because the work instruction leaves them open:

* **A wrong yes, acceptance or token costs more than a question**: in doubt, ``UNCLEAR``. A question (a
  "?" or "¿", an interrogative opening such as "que", "cual", "cuanto", "como", "puedo", "hay", or a
  request for information: "quiero saber", "una consulta", "tengo una duda") is never an answer to a
  yes/no, 3G, plan or T&C question, and neither is a mixed message ("si pero cuanto cuesta", "si me
  conviene lo hago": a "si" followed by a clause is a condition, not a yes) nor a hedge ("no se", "nose",
  "tal vez", "lo pienso", "creo que si", "te aviso").
* The **data** interpreters (``read_data``, ``read_nit``, ``read_token``) read the data a message carries
  even when it also asks something: "4567891 LP, cuanto demora?" carries a CI, "AB3K7Q?" is still the code
  (AR checks it). A message that only asks, greets or laughs carries none.
* **A request for a person** ("asesor", "agente", "humano", "hablar con alguien", "una persona real",
  "llamenme", "no quiero hablar con un robot") is ``PERSON`` for every interpreter, even beside an answer.
  "No necesito un asesor" is not one, and neither is a bill "a nombre de otra persona".
* **Yes** (``read_yes_no``): "si" standing alone or followed by courtesy or another yes, "sip", "claro",
  "dale", "de una", "me interesa", "quiero", "por supuesto", "como no". Weak yeses ("ok", "ya", "bueno",
  "listo", "perfecto", "esta bien") count only when nothing else is said: "ya tengo otro plan" is
  "already", and "ok gracias" often closes a chat. A 👍 alone counts as a weak yes and a 👎 as a no, for
  ``read_yes_no`` only: no other interpreter reads emojis. **No**: "no" standing alone or with courtesy,
  "nop", "tampoco", "ya no", "mejor no", "todavia no", "no me interesa", "no gracias"; a weak yes beside a
  no ("ok, no gracias") is a no, a strong yes beside one ("si no") is unclear, and so is a yes beside a
  "no" that negates something else in the same clause ("me interesa no tengo plata"; but "Perdon, no habia
  visto el mensaje. Sigo interesada" is a yes).
* **Línea 3G** (``read_sim_3g``): recovering the SIM (renovar/cambiar el chip, ir a la oficina, mantener
  el número, "la primera opción"), a new line (línea nueva, otro número, "la segunda opción") or not
  interested ("no", "ninguna", "me quedo así"). A bare "si" or "ok" does not say which: unclear. A choice
  under a negation ("no quiero otra línea", "otra línea no") is not chosen; refusing one option alone is
  unclear, refusing both or refusing beside a "no" of its own ("No, no quiero cambiar mi chip") declines.
* **Plan** (``read_plan``): the offered plan's full name, or what tells it apart from the other offered
  plans: its number ("el de 69", "mega 99", "69 bs", "sesenta y nueve") or a word of its name no other
  plan has. Ordinals ("el segundo") and prices ("el más barato") are not read: the interpreter does not
  know the order or the prices in the plans image. Two plans, an alternative ("el de 69 o el otro"), a
  plan number nobody offered beside an offered one, a plan under a negation only ("ya no quiero el de 69",
  "el de 69 no"), a hedge or a question: unclear. "si el de 69" names a plan; "si me conviene..." is a
  condition.
* **Documents** (``photos_in``): photos are ``image/jpeg`` or ``image/png`` files whose name, if it has an
  extension, is a photo's (.jpg, .jpeg, .png, .jfif); stickers (webp), voice notes and audio (ogg, opus),
  video, PDF and the rest are not.
* **ACEPTO** (``read_acceptance``) is acceptance only when the message is that one word: case does not
  matter and surrounding spaces, a final "." or "!" are ignored, but nothing else is. "no acepto",
  "acepto?", "acepto pero…", "si acepto" and "ACEPTÓ" (a different word, "accepted") are not acceptance:
  T&C acceptance is the regulatory backup and a robot must not guess it. A refusal is a refusal phrase
  ("no acepto", "no quiero", "ya no me interesa", "no estoy de acuerdo", "cancelen", "desisto") or a bare
  "no" with nothing but courtesy; "todavia no", "espera" or "no, esta caro" are not refusals (unclear),
  and neither is a bare "cancelar", which in Bolivia also means "to pay".
* **Token** (``read_token``): exactly ``fmt.length`` characters of ``fmt.alphabet`` once case and the
  spaces or a dash a customer types inside it are ignored ("ab3 k7q", "AB3-K7Q"; a piece of letters only
  joins others when it has no vowel, so "La Paz 3KM" is no code); one distinct candidate in the message,
  else unclear (the same code twice is one). Never a code: a number alone (a phone, a CI, 7371 the
  sender), a word with a character outside the alphabet (no 0/1/I/O: "HOLA", "LISTO", "CODIGO"), a known
  word or plan name ("MEGA69"), a laugh, a word of fewer than three different characters or with three
  equal ones in a row ("PLSSSS"), and a word of letters only with two vowels or more ("BUENAS", "TARDES"):
  AR's codes are random, and such an all-letter code (about one code in thirty) is asked again rather than
  risk reading a word.
* **NIT** (``read_nit``): 6 to 13 digits after the word NIT ("NIT 1020304050", "nit: ...", "el nit de la
  empresa es ...", "NIT/CI ...", "NIT 1020 304 050"), within a few words and not past a CI, a line or a
  "no". A bare number is not a NIT (the first contact's reply also carries the CI and the line), but a
  bare number after the NIT is a rival ("NIT 1020304050 o 1020304051"): unclear.
* **Data** (``read_data``): the first contact's reply carries an answer when it has a number of five
  digits or more (CI, line, NIT), an e-mail, a city, a name ("me llamo…", "soy…", two capitalised words
  that are not greetings) or says who the bill is for ("a mi nombre", "titular", "factura"); a bare "si"
  or "ok" answers only the last question and carries no data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePosixPath
from typing import Any, ClassVar, overload

from pydantic import BaseModel, ConfigDict

# ---------------------------------------------------------------------------------------------
# The readings
# ---------------------------------------------------------------------------------------------


class Verdict(str, Enum):
    UNDERSTOOD = "understood"
    UNCLEAR = "unclear"
    PERSON = "person"  # the customer asks for a human


class _ClassOrInstance:
    """One name, two uses: on the class it makes a reading (``Reading.unclear()``), on a reading it asks
    it (``reading.unclear``)."""

    def __init__(self, make: Callable[..., Reading], ask: Callable[[Reading], bool]) -> None:
        self._make = make
        self._ask = ask

    @overload
    def __get__(self, obj: None, owner: type[Reading]) -> Callable[..., Reading]: ...
    @overload
    def __get__(self, obj: Reading, owner: type[Reading]) -> bool: ...
    def __get__(self, obj: Reading | None, owner: type[Reading]) -> Callable[..., Reading] | bool:
        return self._make if obj is None else self._ask(obj)


class Reading(BaseModel):
    """What an interpreter read: ``Reading.understood(value)``, ``Reading.unclear()``, ``Reading.person()``;
    ask it with ``reading.understood``, ``reading.unclear``, ``reading.wants_person``."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    value: Any = None

    understood: ClassVar[_ClassOrInstance] = _ClassOrInstance(
        lambda value: Reading(verdict=Verdict.UNDERSTOOD, value=value),
        lambda reading: reading.verdict == Verdict.UNDERSTOOD,
    )
    unclear: ClassVar[_ClassOrInstance] = _ClassOrInstance(
        lambda: Reading(verdict=Verdict.UNCLEAR),
        lambda reading: reading.verdict == Verdict.UNCLEAR,
    )

    @property
    def wants_person(self) -> bool:
        return self.verdict == Verdict.PERSON

    @classmethod
    def person(cls) -> Reading:
        return cls(verdict=Verdict.PERSON)


class Sim3GChoice(str, Enum):
    RECOVER = "recuperar_sim"
    NEW_LINE = "linea_nueva"
    DECLINE = "no"


class TokenFormat(BaseModel):
    """AR's one-time code; the defaults are the mock AR's format."""

    model_config = ConfigDict(frozen=True)

    alphabet: str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    length: int = 6

    def holds(self, value: str) -> bool:
        """Whether ``value`` has the code's shape: its length, of its alphabet (case ignored)."""
        upper = value.upper()
        return len(upper) == self.length and all(c in self.alphabet.upper() for c in upper)


class CustomerFile(BaseModel):
    """A file the customer sent on WhatsApp, as the ticket lists it."""

    model_config = ConfigDict(frozen=True)

    name: str
    content_type: str


class DataAnswer(BaseModel):
    """What ``read_data`` found beyond "an answer": the NIT and the e-mail the customer wrote, if any."""

    model_config = ConfigDict(frozen=True)

    nit: str | None = None
    email: str | None = None


# ---------------------------------------------------------------------------------------------
# Words: folding, WhatsApp spellings, phrases
# ---------------------------------------------------------------------------------------------


def _spellings(table: str) -> dict[str, str]:
    spellings: dict[str, str] = {}
    for line in table.strip().splitlines():
        meaning, typed = line.split(":")
        spellings.update((word, meaning.strip()) for word in typed.split())
    return spellings


#: WhatsApp spellings and common typos, after repeated letters are squeezed ("siii" -> "si"): one line per
#: meaning, "what it stands for: how it is typed".
_SPELLINGS: dict[str, str] = _spellings(
    """
    que: q k ke qe
    porque: xq pq porq porke xk pk xque
    por: x
    por favor: xfa xfavor porfa porfis porfi porfavor plis pls please
    tambien: tmb tb tbm
    bien: bn
    gracias: grax grs grasias gracia gracis grcs grx thx thanks
    donde: dnd
    cuando: cdo
    no se: nose nc
    tal vez: talvez
    a ver: aver
    de acuerdo: deacuerdo dacuerdo
    quiero: kiero qiero quero
    interesa: intereza
    interesado: interezado
    interesada: interezada
    ok: okey okay oka oki okis okas oks okidoki
    si: sip sep sipi sipo simon yes yep
    si si: sisi
    no: nop nope nel nones nah nou nopi
    no no: nono
    ya ya: yaya
    ok ok: okok
    por supuesto: porsupuesto xsupuesto
    senorita: sr sra srta srita
    despues: dsp dps
    entonces: tons entons
    para: pa
    de: d
    linea: linia
    celular: celu cel
    whatsapp: wsp wpp
    informacion: info
    hola: ola
    buenas: wenas bnas
    esta: ta
    nada: nd
    manana: tmr
    mensaje: msj
    """
)

_LAUGH = re.compile(r"(?:j[aei]){2,}j?|(?:h[ae]){2,}h?|(?:js){2,}j?|(?:xd)+|k{3,}|a?ja(?:ja)+j?")
_TOKEN_RE = re.compile(r"[A-Za-z]+|\d+|[?¿]|[.,;:!¡\n…]|\S")
_CLAUSE_BREAKS = frozenset(".,;:!¡\n…")
_THUMBS_UP = "\U0001f44d"
_THUMBS_DOWN = "\U0001f44e"


def _is_emoji(char: str) -> bool:
    """A pictograph; not a skin tone, a joiner or a variation selector, which only dress one."""
    kind = unicodedata.category(char)
    return (kind in ("So", "Cs", "Co") or ord(char) >= 0x2190) and kind != "Sk" and char not in "\u200d\ufe0f"


def _strip_marks(text: str) -> str:
    """Accents off, case kept (NFD, not NFKD: "nº" must not become "no")."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _squeeze(word: str) -> str:
    return re.sub(r"([a-z])\1+", r"\1", word)


def _norm_word(word: str) -> list[str]:
    """One typed word as the words it stands for: folded, squeezed, WhatsApp spellings spelled out."""
    lower = word.lower()
    if _LAUGH.fullmatch(lower):
        return ["<risa>"]
    if lower.isdigit():
        return [lower]
    squeezed = _squeeze(lower)
    repeated = re.fullmatch(r"(si|no|ya|ok)(?:\1)+", squeezed)  # "sisisi", "nonono"
    if repeated:
        return [repeated.group(1)] * 2
    return _SPELLINGS.get(squeezed, squeezed).split()


def _words(phrase: str) -> tuple[str, ...]:
    """A lexicon phrase in the same folded form as a message's words."""
    out: list[str] = []
    for token in _TOKEN_RE.findall(_strip_marks(phrase)):
        if token[0].isalnum():
            out.extend(_norm_word(token))
    return tuple(out)


# Categories of what a phrase says.
FILLER = "filler"  # greetings, courtesy, interjections, laughs, emojis
THANKS = "thanks"
LEAD = "lead"  # "y", "entonces": skipped at the start of a clause
YES = "yes"  # a yes that stands beside other words
YES_WEAK = "yes_weak"  # a yes only when nothing else is said
SI = "si"  # "si": a yes, or the "if" of a condition (see _Message.si_is_yes)
NO = "no"  # a refusal phrase
NO_BARE = "no_bare"  # "no": a refusal when it stands alone or with courtesy
NO_LATER = "no_later"  # "todavia no": no for now
NEG = "neg"  # negates what follows ("ni", "sin", "tampoco")
UNSURE = "unsure"  # hedges: "no se", "tal vez", "creo que si"
INFO = "info"  # asks for information: "quiero saber", "una consulta"
ASK = "ask"  # an interrogative opening
CONTRAST = "contrast"  # "pero", "aunque", "sino"
LATER = "later"  # "despues", "mas tarde", "espera"
RECOVER = "recover"  # Línea 3G: recover the SIM
NEW_LINE = "new_line"  # Línea 3G: a new line
THUMB_UP = "thumb_up"
THUMB_DOWN = "thumb_down"
NUMBER = "number"
CONTENT = "content"  # anything else

#: Phrases by what they say, comma-separated; a message is matched longest phrase first.
_LEXICON: dict[str, str] = {
    FILLER: (
        "hola, buenas, buenos, buen, dia, dias, tardes, noches, buenas tardes, buenos dias, buenas noches, "
        "senorita, senor, joven, amigo, amiga, hermano, hermana, lic, licenciada, licenciado, por favor, saludos, "
        "bendiciones, disculpe, disculpa, disculpen, perdon, oiga, oye, ah, eh, oh, uh, ay, pues, pue, po, nomas, "
        "<risa>, <emoji>, atentamente, estimado, estimada, de nada, nada mas, que bueno, que bien, que genial, "
        "que buena, que lindo, que chevere, que sea, que excelente, que rapido, que amable, como te dije, como le "
        "dije, como dije, como les dije, como te comente, como le comente, ya veo, entiendo, ah ya, ah ok"
    ),
    THANKS: (
        "gracias, muchas gracias, mil gracias, gracias igual, igual gracias, te agradezco, le agradezco, muy "
        "amable, gracias de todas formas, gracias de todos modos, gracias por la informacion, gracias por su "
        "atencion, gracias por su tiempo, gracias por la ayuda"
    ),
    LEAD: ("y, e, entonces, osea, o sea, ademas, tambien"),
    YES: (
        "si si, si o si, lo hago, me animo, sin duda, sin dudas, agendame, agendeme, agendenme, claro, claro que si, por supuesto, por supuesto que si, obvio, obvio que si, como no, de "
        "una, de ley, dale, me interesa, si me interesa, me interesaria, estoy interesado, estoy interesada, "
        "interesado, interesada, quiero, si quiero, lo quiero, deseo, si deseo, me gustaria, quisiera, de "
        "acuerdo, acepto, adelante, hagamoslo, hagale, procede, proceda, procedan, procedamos, sigamos, "
        "continuemos, vamos, afirmativo, correcto, exacto, seguro, seguro que si, con gusto, cuenten conmigo, me "
        "anoto, me parece perfecto, esta perfecto"
    ),
    YES_WEAK: (
        "ok, ok ok, ya, ya ya, ya pues, bueno, listo, vale, va, sale, perfecto, excelente, genial, esta bien, "
        "bien, me parece bien, muy bien, no hay problema, no hay drama, sin problema, ningun problema, no pasa "
        "nada, normal"
    ),
    SI: ("si"),
    NO: (
        "no gracias, no me interesa, ya no me interesa, no estoy interesado, no estoy interesada, no quiero, ya "
        "no quiero, no deseo, no necesito, no lo necesito, no es necesario, no hace falta, no me conviene, "
        "tampoco, ya no, mejor no, creo que no, claro que no, por supuesto que no, obvio que no, para nada, ni ahi, "
        "de ninguna manera, ni loco, ni loca, negativo, nunca, jamas, olvidalo, olvidelo, olvidenlo, dejalo, "
        "dejelo, dejenlo, dejalo asi, dejenlo asi, asi nomas, asi esta bien, estoy bien asi, me quedo asi, me "
        "quedo con prepago, me quedo en prepago, sigo con prepago, sigo en prepago, seguir en prepago, seguir con "
        "prepago, prefiero seguir en prepago, me quedo con mi prepago, no acepto, rechazo, "
        "desisto, me arrepenti, me retracto, no estoy de acuerdo, cancelen, cancelenlo, cancelalo, cancelar todo, "
        "cancelen todo, cancela la solicitud, cancelen la solicitud, cancelar la solicitud, cancelar el tramite, "
        "cancelen el tramite, cancelar mi solicitud, cancelen mi solicitud, anulen, anulenlo, anulen todo, anular "
        "la solicitud, ninguno, ninguna, ni uno ni otro, ni una ni otra, ninguna de las dos, ninguna opcion, no "
        "no, no nada, nada gracias, no por favor, no lo quiero, no me gusta, ya no deseo, no voy a aceptar, no lo "
        "acepto, no los acepto"
    ),
    NO_LATER: (
        "todavia no, aun no, ahora no, por ahora no, no por ahora, no todavia, no aun, por el momento no, no por "
        "el momento, de momento no, no en este momento, en este momento no, hoy no, no de momento"
    ),
    NO_BARE: ("no"),
    NEG: ("ni, sin"),
    UNSURE: (
        "no se, no se si, no sabria, no sabria decir, ni idea, no lo se, no estoy seguro, no estoy segura, no "
        "entiendo, no entendi, no comprendo, no me queda claro, no me quedo claro, no queda claro, no esta claro, "
        "tal vez, quizas, quiza, capaz, puede ser, a lo mejor, lo pienso, lo voy a pensar, voy a pensarlo, lo "
        "pensare, dejame pensar, dejeme pensar, dejame pensarlo, dejeme pensarlo, tengo que pensar, tengo que "
        "pensarlo, pensarlo, pensar, depende, a ver, creo que si, creo, supongo, probablemente, posiblemente, "
        "consulto, lo consulto, tengo que consultar, consultar, te aviso, le aviso, les aviso, te confirmo, le "
        "confirmo, despues te digo, luego te digo, m, hm, no estoy convencido, no estoy convencida, mas o menos, "
        "todavia no se, aun no se, no se todavia, quien sabe, no sabia, no se que, no estoy muy seguro, no estoy "
        "muy segura, lo tengo que ver, tengo que ver, veremos, ya veremos, lo veo, te digo luego"
    ),
    INFO: (
        "saber, saber mas, quiero saber, quisiera saber, me gustaria saber, necesito saber, quiero informacion, mas informacion, "
        "informacion, quiero mas informacion, detalles, mas detalles, explicame, expliqueme, explicarme, me "
        "explica, me explicas, me explican, una consulta, consulta, una pregunta, pregunta, tengo una duda, duda, "
        "dudas, me pueden informar, informeme, me informa, me informan, averiguar"
    ),
    ASK: (
        "que, cual, cuales, cuanto, cuanta, cuantos, cuantas, como, cuando, donde, adonde, quien, quienes, "
        "porque, por que, puedo, puede, pueden, podria, podrian, podemos, se puede, hay, tienen, tiene, sera, "
        "acaso, me pueden, me puede, me podria, me podrian, me dice, me dices, me dicen, me indica, me indican, "
        "sabe, sabes, saben, y si, incluye, es posible, es necesario, tengo que, hay que, para que, en que, de "
        "que, a que, con que, por cuanto, a cuanto, de cuanto, en cuanto, hasta cuando, desde cuando, a donde, en "
        "donde, de donde"
    ),
    CONTRAST: ("pero, aunque, sino, solo que, sin embargo, mas bien"),
    LATER: (
        "despues, luego, mas tarde, mas adelante, otro dia, manana, la proxima semana, en un rato, espera, "
        "espere, esperame, espereme, un momento, un rato, ahorita no, todavia, aun, cuando pueda"
    ),
    RECOVER: (
        "recuperar, recupero, lo recupero, lo cambio, recuperen, recuperacion, recupera, recuperar el chip, recuperar mi chip, recuperar "
        "la sim, renovar, renuevo, renueva, renovacion, renovar el chip, renovar mi chip, renovare, lo renuevo, "
        "renuevo el chip, renuevo mi chip, cambiar el chip, cambiar mi chip, cambio de chip, cambio el chip, "
        "cambio mi chip, cambiar de chip, cambiar la sim, cambiar el sim, chip nuevo, nuevo chip, chip lte, chip "
        "4g, lte, 4g, 4 g, voy a la oficina, ire a la oficina, voy a ir a la oficina, paso por la oficina, paso "
        "por una oficina, me acerco, me acerco a la oficina, me apersono, me voy a acercar, voy a acercarme, ir a "
        "la oficina, voy a la agencia, oficina, oficinas, agencia, sucursal, mismo numero, mi mismo numero, el "
        "mismo numero, mantener mi numero, mantener el numero, mantener mi linea, conservar mi numero, conservar "
        "el numero, conservar mi linea, quedarme con mi numero, no perder mi numero, no quiero perder mi numero, "
        "sin perder mi numero, sin cambiar mi numero, sin cambiar de numero, la primera, la primera opcion, "
        "primera opcion, opcion 1, opcion uno, mi linea actual, esta misma linea, la misma linea, misma linea, a "
        "lte, actualizar el chip, actualizar mi chip"
    ),
    NEW_LINE: (
        "linea nueva, nueva linea, otra linea, numero nuevo, nuevo numero, otro numero, linea adicional, una "
        "linea mas, sacar una linea, sacar otra linea, activar en otra, en una nueva, una nueva, la segunda, la "
        "segunda opcion, segunda opcion, opcion 2, opcion dos, numero distinto, otra linea nueva, chip nuevo con "
        "otro numero, chip nuevo con numero nuevo, nuevo chip con otro numero, chip con otro numero, otro chip "
        "con otro numero, una linea aparte, linea aparte"
    ),
}


def _build_phrases() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    seen: dict[tuple[str, ...], str] = {}
    for category, phrases in _LEXICON.items():
        for phrase in (p.strip() for p in phrases.split(",")):
            words = _words(phrase) if not phrase.startswith("<") else (phrase,)
            if seen.get(words, category) != category:
                raise ValueError(f"phrase {phrase!r} is both {seen[words]} and {category}")
            seen[words] = category
            by_first.setdefault(words[0], []).append((words, category))
    for options in by_first.values():
        options.sort(key=lambda option: -len(option[0]))
    return by_first


_PHRASES = _build_phrases()


@dataclass(frozen=True)
class _Word:
    text: str  # folded
    typed: str  # as the customer typed it, accents off
    clause: int


@dataclass(frozen=True)
class _Item:
    category: str
    words: tuple[str, ...]
    clause: int


_OPENERS = frozenset({FILLER, THANKS, THUMB_UP, THUMB_DOWN})
_ANSWER_WORDS = frozenset({YES, YES_WEAK, SI, NO_BARE})
#: "que" is also a conjunction ("quiero que me llamen"): it asks only at the very start of a clause.
_WEAK_ASKS = frozenset(
    _words(p) for p in ("que", "tengo que", "hay que", "para que", "de que", "a que", "con que", "en que")
)
_AFTER_BARE_NO = frozenset({FILLER, THANKS, NO, NO_LATER, NO_BARE, LATER, THUMB_DOWN})
_AFTER_YES_SI = frozenset({YES, YES_WEAK, SI, FILLER, THANKS, THUMB_UP})
_FUNCTION_WORDS = frozenset(_words("un una el la los las lo de del a al en con mi por para"))
_CORRECTING = frozenset(_words("prefiero") + _words("mejor"))


@dataclass
class _Message:
    """A message cut into clauses of folded words, and the phrases they make."""

    text: str
    words: list[_Word] = field(default_factory=list)
    asked: set[int] = field(default_factory=set)  # clauses marked with "?" or "¿"
    items: list[_Item] = field(default_factory=list)
    clauses: int = 0

    def __post_init__(self) -> None:
        clause = 0
        open_clause = False
        for token in _TOKEN_RE.findall(_strip_marks(self.text or "")):
            if token[0].isalnum():
                for word in _norm_word(token):
                    self.words.append(_Word(word, token, clause))
                    open_clause = True
            elif token in "?¿":
                if token == "?":
                    self.asked.add(clause)
                    clause, open_clause = clause + 1, False
                else:
                    if open_clause:
                        clause, open_clause = clause + 1, False
                    self.asked.add(clause)
            elif token in _CLAUSE_BREAKS:
                if open_clause:
                    clause, open_clause = clause + 1, False
            elif token == _THUMBS_UP:
                self.words.append(_Word("<thumb_up>", token, clause))
            elif token == _THUMBS_DOWN:
                self.words.append(_Word("<thumb_down>", token, clause))
            elif _is_emoji(token):
                self.words.append(_Word("<emoji>", token, clause))
        self.clauses = clause + 1
        self.items = self._phrases()

    def _phrases(self) -> list[_Item]:
        items: list[_Item] = []
        i = 0
        words = self.words
        while i < len(words):
            word = words[i]
            if word.text == "<thumb_up>":
                items.append(_Item(THUMB_UP, (word.text,), word.clause))
                i += 1
                continue
            if word.text == "<thumb_down>":
                items.append(_Item(THUMB_DOWN, (word.text,), word.clause))
                i += 1
                continue
            for phrase, category in _PHRASES.get(word.text, []):
                end = i + len(phrase)
                span = words[i:end]
                if len(span) == len(phrase) and all(
                    w.text == p and w.clause == word.clause for w, p in zip(span, phrase, strict=True)
                ):
                    items.append(_Item(category, phrase, word.clause))
                    i = end
                    break
            else:
                category = NUMBER if word.text.isdigit() else CONTENT
                items.append(_Item(category, (word.text,), word.clause))
                i += 1
        return items

    # -- what the message holds ------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return not self.items

    def has(self, *categories: str) -> bool:
        return any(item.category in categories for item in self.items)

    def count(self, *categories: str) -> int:
        return sum(1 for item in self.items if item.category in categories)

    def _next(self, index: int) -> _Item | None:
        after = index + 1
        if after < len(self.items) and self.items[after].clause == self.items[index].clause:
            return self.items[after]
        return None

    def si_is_yes(self, index: int) -> bool:
        """ "si" is a yes when its clause ends there or goes on with courtesy or another yes; "si me conviene
        lo hago" is a condition."""
        following = self._next(index)
        return following is None or following.category in _AFTER_YES_SI

    def no_is_refusal(self, index: int) -> bool:
        """A bare "no" refuses when its clause ends there or goes on with courtesy, another no, "prefiero"
        or "mejor"; "no tengo saldo" says something else."""
        following = self._next(index)
        if following is None or following.category in _AFTER_BARE_NO:
            return True
        return following.words[0] in _CORRECTING

    def question_clause(self, clause: int) -> bool:
        if clause in self.asked:
            return True
        items = [item for item in self.items if item.clause == clause]
        if any(item.category == INFO for item in items):
            return True
        pure = True  # nothing but greetings and courtesy since the clause (or a "pero", a "y") began
        plain = True  # nothing but those and yes/no words ("si cuanto cuesta"; but "quiero que..." is no question)
        for item in items:
            if item.category == ASK and (pure or (plain and item.words not in _WEAK_ASKS)):
                return True
            if item.category in (CONTRAST, LEAD):
                pure = plain = True
            elif item.category not in _OPENERS:
                pure = False
                plain = plain and item.category in _ANSWER_WORDS
        return False

    @property
    def is_question(self) -> bool:
        return any(self.question_clause(clause) for clause in range(self.clauses))

    @property
    def yes_signals(self) -> tuple[int, int, int]:
        """(strong yeses, weak yeses, conditional "si"s)."""
        strong = weak = conditional = 0
        for index, item in enumerate(self.items):
            if item.category == YES:
                strong += 1
            elif item.category == YES_WEAK:
                weak += 1
            elif item.category == SI:
                if self.si_is_yes(index):
                    strong += 1
                else:
                    conditional += 1
        return strong, weak, conditional

    @property
    def no_signals(self) -> tuple[int, int, int]:
        """(refusal phrases, bare "no"s that refuse, "no"s that negate something else)."""
        refusals = self.refusals()
        phrases = sum(1 for i in refusals if self.items[i].category == NO)
        other = sum(1 for i, item in enumerate(self.items) if item.category == NO_BARE and i not in refusals)
        return phrases, len(refusals) - phrases, other

    def refusals(self) -> list[int]:
        """The items that refuse: refusal phrases and bare "no"s that refuse."""
        return [
            index
            for index, item in enumerate(self.items)
            if item.category == NO or (item.category == NO_BARE and self.no_is_refusal(index))
        ]

    def clauses_of(self, indexes: list[int]) -> set[int]:
        return {self.items[index].clause for index in indexes}

    def strong_yeses(self) -> list[int]:
        return [
            index
            for index, item in enumerate(self.items)
            if item.category == YES or (item.category == SI and self.si_is_yes(index))
        ]

    def mixed(self, also_fine: frozenset[str] = frozenset()) -> bool:
        """Something said after a "pero"/"aunque" beyond courtesy or a no ("gracias pero no" is a no)."""
        fine = {FILLER, THANKS, NO, NO_BARE, NO_LATER, THUMB_DOWN, CONTRAST} | also_fine
        seen_contrast = False
        for item in self.items:
            if item.category == CONTRAST:
                seen_contrast = True
            elif seen_contrast and item.category not in fine and item.words[0] not in _FUNCTION_WORDS:
                return True
        return False

    def negated(self, index: int) -> bool:
        """Whether a negation governs the item at ``index``: a no earlier in its clause (after any "pero"),
        or right after it ("otra linea no")."""
        item = self.items[index]
        for after in self.items[index + 1 :]:
            if after.clause != item.clause or after.category not in (FILLER, THANKS):
                if after.clause == item.clause and after.category in (NO, NO_BARE):
                    return True
                break
        for back in range(index - 1, -1, -1):
            earlier = self.items[back]
            if earlier.clause != item.clause or earlier.category == CONTRAST:
                return False
            if earlier.category in (NO, NEG, NO_LATER):
                return True
            if earlier.category == NO_BARE:
                following = self.items[back + 1]
                return following.words[0] not in _CORRECTING
        return False

    def content(self) -> bool:
        return self.has(CONTENT, NUMBER, RECOVER, NEW_LINE, LATER, NEG)


# ---------------------------------------------------------------------------------------------
# A person, a question
# ---------------------------------------------------------------------------------------------
def _plain_words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _set(*phrases: str) -> frozenset[str]:
    return frozenset(word for phrase in phrases for word in _words(phrase))


_PERSON_NOUNS = _set(
    "asesor asesora asesores asesoras agente agentes humano humana humanos ejecutivo ejecutiva supervisor supervisora"
)
_PERSON_TARGETS = _set("persona personas alguien operador operadora encargado encargada responsable gente")
_PERSON_VERBS = _set(
    "hablar hablarle comunicarme comunicar comunicarse comuniqueme comuniquenme contactarme contactar contacten "
    "contacteme pasame paseme pasenme pasen pasar pasarme derivame derivenme derivar derivarme transferir "
    "transfiereme transfieranme atienda atiendan atender atiende atenderme charlar conversar necesito quiero "
    "quisiera prefiero busco ayude ayuden ayudeme mandenme manden deme dame den hable"
)
_PERSON_JOINERS = _set(
    "con un una el la alguna algun a al que me real de verdad por favor mejor directamente otra otro mas "
    "hablar comunicarme alguien ayuda atencion"
)
_REAL = _set("real reales verdad vivo viva carne")
_CALLS = _set("llamenme llameme llamame llamarme llamen llamada llamenos llamarnos")
_CALL_AFTER_ME = _set("llamar llaman llamas llame llamaran")
_BOTS = _set("robot robots bot bots maquina contestadora chatbot automatico automatica automaticas ia")
_NEGATORS = _set("no ni sin nunca")
_NEGATED_NEED = _set("necesito quiero deseo hace falta un una el la hablar con ningun ninguna a al de")
_ANNOYED = _set("dejen basta harto harta cansado cansada")
_SOMEONE_DOES = _set(
    "atienda atiendan ayude ayuden explique expliquen conteste contesten responda respondan llame llamen "
    "puede pueda pueden"
)


def asks_for_person(text: str) -> bool:
    """The customer asks for a human: "asesor", "agente", "hablar con alguien", "una persona real",
    "llamenme", "no quiero hablar con un robot"; not "no necesito asesor" nor "a nombre de otra persona"."""
    message = _Message(text)
    for clause in range(message.clauses):
        words = [w.text for w in message.words if w.clause == clause]
        for i, word in enumerate(words):
            if word in _BOTS:
                if any(w in _NEGATORS or w in _ANNOYED for w in words[:i]):
                    return True
                continue
            hit = word in _PERSON_NOUNS or word in _CALLS
            if word in _CALL_AFTER_ME and "me" in words[max(0, i - 3) : i]:
                hit = True
            if word in _PERSON_TARGETS:
                after = words[i + 1 : i + 4]
                real = any(w in _REAL for w in after[:2])
                # "alguien que me atienda", "una persona que me explique", "alguien puede ayudarme"
                doer = after[:1] if word == "alguien" else []
                doer += [w for k, w in enumerate(after[1:], 1) if after[k - 1] in ("que", "me")]
                if real or any(w in _SOMEONE_DOES for w in doer):
                    hit = True
                else:
                    for back in range(i - 1, max(-1, i - 6), -1):
                        if words[back] in _PERSON_VERBS:
                            hit = True
                            break
                        if words[back] not in _PERSON_JOINERS:
                            break
            if hit and not _negated_request(words, i):
                return True
    return False


def _negated_request(words: list[str], index: int) -> bool:
    for back in range(index - 1, max(-1, index - 5), -1):
        if words[back] in _NEGATORS:
            return True
        if words[back] not in _NEGATED_NEED:
            return False
    return False


def is_question(text: str) -> bool:
    """A "?" or "¿", an interrogative opening of a clause ("que", "cual", "cuanto", "como", "puedo", "hay"…)
    or a request for information ("quiero saber", "una consulta", "tengo una duda")."""
    return _Message(text).is_question


# ---------------------------------------------------------------------------------------------
# Yes / no
# ---------------------------------------------------------------------------------------------
def read_yes_no(text: str) -> Reading:
    """Interest, yes or no (e.g. in the portability): value True or False. A 👍 alone is a yes, a 👎 a no."""
    if asks_for_person(text):
        return Reading.person()
    message = _Message(text)
    if message.empty or message.is_question or message.has(UNSURE):
        return Reading.unclear()
    strong, weak, conditional = message.yes_signals
    phrases, bare, other_no = message.no_signals
    weak += message.count(THUMB_UP)
    no = phrases + bare + message.count(NO_LATER, THUMB_DOWN)
    if conditional:
        return Reading.unclear()
    if strong:
        # A "no" that negates something else blocks a yes in its own clause only: "Perdon, no habia visto el
        # mensaje. Sigo interesada" is a yes, "me interesa no tengo plata" is not.
        negating = [i for i, item in enumerate(message.items) if item.category == NO_BARE]
        beside = message.clauses_of(negating) & message.clauses_of(message.strong_yeses())
        if no or beside or message.mixed(also_fine=frozenset({LATER})):
            return Reading.unclear()
        return Reading.understood(True)
    if no:
        return Reading.unclear() if message.mixed() else Reading.understood(False)
    if weak and not (message.content() or other_no or message.has(THANKS, CONTRAST)):
        return Reading.understood(True)
    return Reading.unclear()


# ---------------------------------------------------------------------------------------------
# Línea 3G
# ---------------------------------------------------------------------------------------------
def read_sim_3g(text: str) -> Reading:
    """The answer to *Línea 3G*: recover the SIM to LTE, the plan on a new line instead, or neither."""
    if asks_for_person(text):
        return Reading.person()
    message = _Message(text)
    if message.empty or message.is_question or message.has(UNSURE, NO_LATER):
        return Reading.unclear()
    _, _, conditional = message.yes_signals
    if conditional or message.mixed(also_fine=frozenset({RECOVER, NEW_LINE, YES, YES_WEAK, LEAD})):
        return Reading.unclear()
    choices = {RECOVER: Sim3GChoice.RECOVER, NEW_LINE: Sim3GChoice.NEW_LINE}
    chosen: set[Sim3GChoice] = set()
    refused: set[Sim3GChoice] = set()
    for index, item in enumerate(message.items):
        if item.category in choices:
            (refused if message.negated(index) else chosen).add(choices[item.category])
    if len(chosen) == 1 and not (refused & chosen):
        return Reading.understood(chosen.pop())
    if chosen:
        return Reading.unclear()
    refusals = message.refusals()
    if refused:
        # Refusing one option is declining only beside a refusal of its own: "No, no quiero cambiar mi chip"
        # declines; "no quiero otra linea" may still mean the chip.
        choice_clauses = {item.clause for item in message.items if item.category in choices}
        alone = message.clauses_of(refusals) - choice_clauses
        both = refused == {Sim3GChoice.RECOVER, Sim3GChoice.NEW_LINE}
        return Reading.understood(Sim3GChoice.DECLINE) if both or alone else Reading.unclear()
    if refusals:
        return Reading.understood(Sim3GChoice.DECLINE)
    return Reading.unclear()


# ---------------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------------
_ARTICLES = frozenset(_words("el la los las"))
_GENERIC_PLAN_WORDS = _set("plan planes mega de del el la los las bs pospago postpago linea")
_PLAN_NUMBER_BEFORE = _set("de del el plan mega bs")
_PLAN_NUMBER_AFTER = _set("bs bolivianos pesos")
_UNITS = {
    "uno": 1, "un": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "nueve": 9,
}  # fmt: skip
_TENS = {
    "diez": 10, "veinte": 20, "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60,
    "setenta": 70, "ochenta": 80, "noventa": 90,
}  # fmt: skip
_TEENS = {"once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15}


def _spelled_number(words: list[str], start: int) -> tuple[int, int] | None:
    """A number written in words from ``start`` ("ciento cuarenta y nueve"): (value, words used)."""
    value, i = 0, start
    if i < len(words) and words[i] in ("cien", "ciento"):
        value, i = 100, i + 1
    if i < len(words) and words[i] in _TENS:
        value, i = value + _TENS[words[i]], i + 1
        if i + 1 < len(words) and words[i] == "y" and words[i + 1] in _UNITS:
            value, i = value + _UNITS[words[i + 1]], i + 2
    elif i < len(words) and words[i] in _TEENS:
        value, i = value + _TEENS[words[i]], i + 1
    elif value and i < len(words) and words[i] in _UNITS:
        value, i = value + _UNITS[words[i]], i + 1
    return (value, i - start) if i > start else None


def read_plan(text: str, offered: list[str]) -> Reading:
    """The offered plan the customer chose: value its exact name (see the module docstring)."""
    if asks_for_person(text):
        return Reading.person()
    message = _Message(text)
    if message.empty or message.is_question or message.has(UNSURE) or message.mixed():
        return Reading.unclear()
    if any(item.words == ("o",) for item in message.items):  # "el de 69 o el otro"
        return Reading.unclear()
    for index, item in enumerate(message.items):
        # "si me conviene el de 99" is a condition; "si el de 69" names a plan.
        following = message.items[index + 1] if index + 1 < len(message.items) else None
        names_a_plan = following is not None and (following.category == NUMBER or following.words[0] in _ARTICLES)
        if item.category == SI and not message.si_is_yes(index) and not names_a_plan:
            return Reading.unclear()
    names = {plan: _words(plan) for plan in offered}
    numbers = {plan: {w for w in words if w.isdigit()} for plan, words in names.items()}
    plain = {
        plan: {w for w in words if not w.isdigit() and w not in _GENERIC_PLAN_WORDS} for plan, words in names.items()
    }
    tells: dict[str, str] = {}  # a number or a word -> the one offered plan it names
    for plan in offered:
        others = [p for p in offered if p != plan]
        for features in (numbers, plain):
            for feature in features[plan] - set().union(*(features[p] for p in others)):
                tells[feature] = plan
    plan_numbers = set().union(*numbers.values()) if numbers else set()

    flat = [(word, index) for index, item in enumerate(message.items) for word in item.words]
    flat_words = [word for word, _ in flat]
    chosen: set[str] = set()
    refused: set[str] = set()
    stray = False  # a plan number that names no single offered plan

    def mention(plan: str, index: int) -> None:
        (refused if message.negated(index) else chosen).add(plan)

    k = 0
    while k < len(flat):
        word, index = flat[k]
        named = next(
            (plan for plan, words in names.items() if words and tuple(flat_words[k : k + len(words)]) == words), None
        )
        if named is not None:
            mention(named, index)
            k += len(names[named])
            continue
        step = 1
        spelled = _spelled_number(flat_words, k)
        if spelled is not None and spelled[0] >= 10:
            word, step = str(spelled[0]), spelled[1]
        told = tells.get(word)
        if told is not None:
            mention(told, index)
        elif word.isdigit() and 2 <= len(word) <= 3 and not message.negated(index):
            before = flat_words[k - 1] if k else ""
            after = flat_words[k + step] if k + step < len(flat_words) else ""
            if word in plan_numbers or before in _PLAN_NUMBER_BEFORE or after in _PLAN_NUMBER_AFTER:
                stray = True
        k += step
    if len(chosen) == 1 and not stray:
        return Reading.understood(chosen.pop())
    return Reading.unclear()


# ---------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------
_PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
_PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".jfif"})


def photos_in(files: list[CustomerFile]) -> list[CustomerFile]:
    """The files that can be documents: JPEG or PNG photos (not stickers, voice notes, video, PDF…)."""
    photos = []
    for file in files:
        kind = file.content_type.split(";")[0].strip().lower()
        suffix = PurePosixPath(file.name.strip().lower()).suffix
        if kind in _PHOTO_TYPES and (not suffix or suffix in _PHOTO_EXTENSIONS):
            photos.append(file)
    return photos


# ---------------------------------------------------------------------------------------------
# Terms and conditions
# ---------------------------------------------------------------------------------------------
_ACCEPT = re.compile(r"^\s*acepto\s*[.!]*\s*$", re.IGNORECASE)


def read_acceptance(text: str) -> Reading:
    """True only for the word ACEPTO as the whole message; False for a clear refusal; else unclear."""
    if _ACCEPT.match(text or ""):
        return Reading.understood(True)
    if asks_for_person(text):
        return Reading.person()
    message = _Message(text)
    if message.empty or message.is_question or message.has(UNSURE, NO_LATER, LATER, YES, YES_WEAK, SI):
        return Reading.unclear()
    phrases, bare, other = message.no_signals
    if message.mixed() or other:
        return Reading.unclear()
    if phrases:
        return Reading.understood(False)
    if bare and not message.content():
        return Reading.understood(False)
    return Reading.unclear()


# ---------------------------------------------------------------------------------------------
# Token
# ---------------------------------------------------------------------------------------------
_CHUNK = re.compile(r"[^\W_]+")
#: Words that can look like a code once upper-cased; a code never is one of them.
_NOT_CODES = _plain_words(
    "es el la las los mi tu su ya te se me le lo un una de del al y o a e en con para pa x q k que ahi aca "
    "aqui va esta ese este esa eso sms bs lp cb sc ch pt tj or bn pd ci nit plan mega megas gb mb ok dale "
    "sale listo hola buenas tardes dias noches senorita porfa xfa grax gracias thanks thnx jaja jeje "
    "jsjs xd llego llega mande mando paso pase clave pin token tocken codigo mensaje numero nro num "
    "whatsapp wsp entel tigo viva lte chip sim cel celu tel fono ahora hay hace haber manda mandame "
    "nuevo nueva el de 7371"
)
_VOWELS = frozenset("AEIOU")


def _plausible_code(value: str, fmt: TokenFormat, alphabet: frozenset[str]) -> bool:
    if len(value) != fmt.length or any(c not in alphabet for c in value):
        return False
    if value.isdigit() or len(set(value)) < 3 or re.search(r"(.)\1\1", value):
        return False
    if value.lower() in _NOT_CODES:
        return False
    letters = "".join(c for c in value if c.isalpha())
    if letters == value:
        return sum(c in _VOWELS for c in value) <= 1
    split = re.fullmatch(r"([A-Z]+)(\d+)|(\d+)([A-Z]+)", value)
    if split:
        word = (split.group(1) or split.group(4)).lower()
        # A single letter stuck to the digits is part of the code ("65583K"): AR's codes end or start
        # with one letter as often as any other, and WhatsApp's "k", "q" or "x" stand alone.
        if len(word) > 1 and (word in _NOT_CODES or _squeeze(word) in _NOT_CODES):
            return False
    return True


def _chunk_can_join(chunk: str, fmt: TokenFormat, alphabet: frozenset[str]) -> bool:
    """A piece of a code typed with spaces or dashes ("ab3 k7q"): short, of the alphabet, not a word (a
    piece of letters only has no vowel: "LA PAZ 3KM" is no code)."""
    value = chunk.upper()
    if not 2 <= len(value) < fmt.length or any(c not in alphabet for c in value):
        return False
    if chunk.lower() in _NOT_CODES:
        return False
    return any(c.isdigit() for c in value) or not any(c in _VOWELS for c in value)


def read_token(text: str, fmt: TokenFormat) -> Reading:
    """The SMS code, in upper case, when the message holds exactly one thing that can be AR's code."""
    if asks_for_person(text):
        return Reading.person()
    alphabet = frozenset(fmt.alphabet.upper())
    raw = text or ""
    chunks = [(m.group(0), m.start(), m.end()) for m in _CHUNK.finditer(raw)]
    candidates: set[str] = set()
    for chunk, _, _ in chunks:
        if _plausible_code(chunk.upper(), fmt, alphabet):
            candidates.add(chunk.upper())
    # Codes typed in pieces: neighbouring chunks joined by spaces or a dash only.
    for first in range(len(chunks)):
        pieces: list[str] = []
        for k in range(first, len(chunks)):
            chunk, start, _ = chunks[k]
            if k > first and not re.fullmatch(r"[ \t]*-?[ \t]*", raw[chunks[k - 1][2] : start]):
                break
            if not _chunk_can_join(chunk, fmt, alphabet):
                break
            pieces.append(chunk)
            if sum(map(len, pieces)) >= fmt.length:
                break
        joined = "".join(pieces).upper()
        typed_as_code = any(c.isdigit() for c in joined) or all(p.isupper() for p in pieces)
        if len(pieces) > 1 and typed_as_code and _plausible_code(joined, fmt, alphabet):
            candidates.add(joined)
    if len(candidates) == 1:
        return Reading.understood(candidates.pop())
    return Reading.unclear()


# ---------------------------------------------------------------------------------------------
# NIT, e-mail, the first contact's data
# ---------------------------------------------------------------------------------------------
_NIT_WORD = re.compile(
    r"(?<![a-z])(?:c\.?\s?i\.?\s*(?:/|-|o)\s*)?n\.?\s?i\.?\s?t\.?(?:\s*(?:/|-|o)\s*c\.?\s?i\.?(?![a-z]))?(?![a-z])"
)
_NIT_STOP = frozenset(_set("ci carnet cedula linea celular telefono tel whatsapp no ni numero de celular") - {"de"})
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


#: A number as typed: digits, or groups of up to four digits split by a space, a dot or a dash ("1020 304 050").
_TYPED_NUMBER = re.compile(r"\d{1,4}(?:[ .-]\d{1,4})+(?!\d)|\d+")


def _nits(text: str) -> set[str]:
    """The NITs the message gives: numbers after the word NIT, and any bare number after one of them (an
    alternative or a correction: "NIT 1020304050 o 1020304051"), which makes the reading ambiguous."""
    folded = _strip_marks(text or "").lower()
    found: set[str] = set()
    for keyword in _NIT_WORD.finditer(folded):
        position = keyword.end()
        words_between = 0
        while position < len(folded):
            number = _TYPED_NUMBER.match(folded, position)
            if number:
                digits = re.sub(r"\D", "", number.group(0))
                if 6 <= len(digits) <= 13:
                    found.add(digits)
                    found |= _rivals(folded[number.end() :])
                break
            word = re.compile(r"[a-z]+").match(folded, position)
            if word:
                if set(_norm_word(word.group(0))) & _NIT_STOP or words_between >= 6:
                    break
                words_between += 1
                position = word.end()
            elif folded[position] in "\n?":
                break
            else:
                position += 1
    return found


def _rivals(rest: str) -> set[str]:
    """Bare 6-13 digit numbers in ``rest`` not introduced by a CI, line or phone word."""
    rivals = set()
    for number in _TYPED_NUMBER.finditer(rest):
        digits = re.sub(r"\D", "", number.group(0))
        before = re.findall(r"[a-z]+", rest[: number.start()])[-3:]
        if 6 <= len(digits) <= 13 and not any(set(_norm_word(w)) & _NIT_STOP for w in before):
            rivals.add(digits)
    return rivals


def read_nit(text: str) -> Reading:
    """A NIT the customer wrote ("NIT 1020304050", "nit: 1020304050", "el nit es 1020304050"): its digits."""
    if asks_for_person(text):
        return Reading.person()
    found = _nits(text)
    return Reading.understood(found.pop()) if len(found) == 1 else Reading.unclear()


def email_in(message: str) -> str | None:
    match = _EMAIL.search(message or "")
    return match.group(0) if match else None


_CITIES = tuple(
    _words(city)
    for city in (
        "la paz", "el alto", "cochabamba", "cbba", "santa cruz", "scz", "sta cruz", "oruro", "potosi", "sucre",
        "tarija", "beni", "trinidad", "pando", "cobija", "chuquisaca", "montero", "quillacollo", "sacaba",
        "yacuiba", "riberalta", "warnes", "viacha", "tiquipaya", "camiri", "villazon", "tupiza", "uyuni",
        "llallagua", "cotoca", "colcapirhua", "guayaramerin", "vinto", "punata", "caranavi", "achacachi",
        "bermejo", "puerto suarez", "san ignacio", "robore", "villamontes", "coroico", "copacabana", "lpz",
    )
)  # fmt: skip
_HOLDER_WORDS = tuple(
    _words(phrase)
    for phrase in (
        "a mi nombre", "a nombre de", "a nombre del titular", "factura", "facturar", "facturacion", "titular",
        "razon social", "mi nombre es", "me llamo", "nombre", "mi carnet es", "mi ci es", "mi numero es",
        "mi linea es", "la linea es", "el numero es", "vivo en",
    )
)  # fmt: skip
_NOT_NAMES = _set(
    "hola buenas buenos tardes dias noches gracias senorita senor quiero necesito migrar pasar linea plan pospago "
    "prepago mi mis el la los las de del con para por que como cuando donde buen dia favor si no ok ya bueno "
    "muchas saludos informacion ayuda whatsapp entel tigo viva mega quisiera deseo tengo mega cambiar cuanto "
    "cuesta precio estimados estimado disculpe un una atentamente bendiciones feliz soy es"
)
_LONG_NUMBER = re.compile(r"\d(?:[ .-]?\d){4,}")


def _has_phrase(words: list[str], phrase: tuple[str, ...]) -> bool:
    return any(tuple(words[i : i + len(phrase)]) == phrase for i in range(len(words) - len(phrase) + 1))


def read_data(text: str) -> Reading:
    """The answer to *Primer contacto* (name, CI, city, line, billing): value a ``DataAnswer`` when the
    message carries an answer, not only a greeting, an emoji, a sticker or a question."""
    if asks_for_person(text):
        return Reading.person()
    nits = _nits(text)
    answer = DataAnswer(nit=nits.pop() if len(nits) == 1 else None, email=email_in(text))
    if answer.nit or answer.email or _LONG_NUMBER.search(text or ""):
        return Reading.understood(answer)
    message = _Message(text)
    for clause in range(message.clauses):
        if message.question_clause(clause):
            continue
        words = [w for w in message.words if w.clause == clause]
        folded = [w.text for w in words]
        if any(_has_phrase(folded, city) for city in _CITIES + _HOLDER_WORDS):
            return Reading.understood(answer)
        if "soy" in folded[:-1]:
            after = words[folded.index("soy") + 1]
            if after.typed[:1].isupper() and after.text not in _NOT_NAMES:
                return Reading.understood(answer)
        run = 0
        for word in words:
            capitalised = word.typed[:1].isupper() and word.typed.isalpha() and len(word.typed) > 1
            run = run + 1 if capitalised and word.text not in _NOT_NAMES and word.text not in _PHRASES else 0
            if run >= 2:
                return Reading.understood(answer)
    return Reading.unclear()
