"""Masking of personal numbers before they reach a log line: CI numbers and phone numbers keep their last digits."""

from __future__ import annotations

import re

_LONG_NUMBER = re.compile(r"(?<![\w.])(\d{3,})(\d{3})(?:-?[0-9A-Z]{1,2})?(?![\w.])")


def mask_number(value: str | int | None, keep: int = 3) -> str:
    """``7123 4567`` -> ``*****567``; anything falsy becomes ``-``."""
    if value in (None, ""):
        return "-"
    digits = re.sub(r"\s", "", str(value))
    return "*" * max(len(digits) - keep, 0) + digits[-keep:]


def mask_text(text: str) -> str:
    """Mask every run of six or more digits in free text (a last line of defence for log messages)."""
    return _LONG_NUMBER.sub(lambda m: "*" * len(m.group(1)) + m.group(2), text)
