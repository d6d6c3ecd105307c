"""Logs: readable lines on the console and one JSON-lines file per run, with personal numbers masked.

Every record passes through ``mask_text`` before any sink sees it, so a CI number or a phone number that
slipped into a message keeps only its last digits. Secrets are ``SecretStr`` and never formatted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

from pages.masking import mask_text


def _mask(record: Record) -> None:
    record["message"] = mask_text(record["message"])
    if record["extra"]:
        record["extra"] = {k: mask_text(v) if isinstance(v, str) else v for k, v in record["extra"].items()}


def configure_logging(level: str = "INFO", json_file: Path | None = None, *, console: bool = True) -> Path | None:
    """Send logs to stderr (unless ``console`` is off) and, when given, to a JSON-lines file."""
    logger.remove()
    logger.configure(patcher=_mask)
    if console:
        logger.add(
            sys.stderr, level=level, format="<green>{time:HH:mm:ss}</green> <level>{level: <7}</level> {message}"
        )
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        logger.add(json_file, level="DEBUG", serialize=True, enqueue=False)
    return json_file
