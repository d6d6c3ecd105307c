"""How the flow reads what a customer wrote on WhatsApp: acceptance, tokens, plan choices, yes or no.

These rules are choices, written down because the work instruction leaves them open:

* **ACEPTO** is acceptance only when the message is that one word: case does not matter and surrounding
  spaces, a final "." or "!" are ignored, but nothing else is. "no acepto", "acepto?", "acepto pero…" and
  "ACEPTÓ" (a different word, "accepted") are not acceptance: T&C acceptance is the regulatory backup
  and a robot must not guess it.
* A **token** is a word of 4 to 10 capital letters and digits, as the SMS shows it (one holding a digit
  is preferred); a message that is a single word of letters and digits, one a digit, is taken in capitals.
* A **plan** is chosen when the message names one of the offered plans, ignoring case and accents, or
  gives the number that tells it apart (e.g. "el de 69").
* **Yes/no** answers look at the first words: "sí", "si", "claro", "me interesa", "ok" are yes; "no" is no.
"""

from __future__ import annotations

import re
import unicodedata

_ACCEPT = re.compile(r"^\s*acepto\s*[.!]*\s*$", re.IGNORECASE)
_TOKEN_WORD = re.compile(r"\b[A-Z0-9]{4,10}\b")
_YES = ("si", "claro", "me interesa", "ok", "por supuesto", "de acuerdo", "acepto")


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower().strip()


def is_acceptance(message: str) -> bool:
    """True only for the word ACEPTO as the whole message (see the module docstring)."""
    return bool(_ACCEPT.match(message or ""))


def is_refusal(message: str) -> bool:
    """An explicit no: the message starts with "no"."""
    return bool(re.match(r"^\s*no\b", _plain(message)))


def token_in(message: str) -> str | None:
    words = _TOKEN_WORD.findall(message or "")
    with_digit = [w for w in words if any(c.isdigit() for c in w) and not w.isdigit()]
    if with_digit or words:
        return (with_digit or words)[0]
    whole = (message or "").strip()
    typed_code = whole.isalnum() and 4 <= len(whole) <= 10 and any(c.isdigit() for c in whole)
    return whole.upper() if typed_code else None


def chosen_plan(message: str, offered: list[str]) -> str | None:
    text = _plain(message)
    for plan in offered:
        if _plain(plan) in text:
            return plan
    for plan in offered:
        numbers = re.findall(r"\d+", plan)
        if numbers and re.search(rf"\b{numbers[-1]}\b", text):
            return plan
    return None


def is_yes(message: str) -> bool:
    text = _plain(message)
    return not is_refusal(message) and any(text.startswith(word) or f" {word}" in f" {text}" for word in _YES)


_NIT = re.compile(r"\bNIT\D{0,5}(\d{6,13})\b", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def nit_in(message: str) -> str | None:
    """A NIT the customer wrote ("NIT 1020304050", "nit: 1020304050")."""
    match = _NIT.search(message or "")
    return match.group(1) if match else None


def email_in(message: str) -> str | None:
    match = _EMAIL.search(message or "")
    return match.group(0) if match else None
