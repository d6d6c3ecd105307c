"""Screenshots as evidence: what was captured, where, when, and a fingerprint that proves it unchanged.

A robot returns ``Evidence`` in memory; ``EvidenceStore`` keeps it on disk beside a JSON sidecar, and
``note_marker`` gives the internal note a tag that lets a repeated step recognise a note it already posted.
Whoever runs the robots may give the store a ``mirror``: it is handed every file the store writes, so
evidence can be shared beyond this disk without the robots knowing where it goes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class Evidence(BaseModel):
    """One screenshot (or document) proving what a console showed at a step."""

    portal: str
    step: str
    description: str
    taken_at: datetime = Field(default_factory=utc_now)
    content_type: str = "image/png"
    filename: str = ""
    sha256: str = ""
    content: bytes = Field(default=b"", exclude=True, repr=False)

    @classmethod
    def capture(
        cls,
        *,
        portal: str,
        step: str,
        description: str,
        content: bytes,
        content_type: str = "image/png",
        extension: str = "png",
    ) -> Evidence:
        digest = hashlib.sha256(content).hexdigest()
        stamp = utc_now()
        name = f"{step}-{stamp:%Y%m%dT%H%M%S}-{digest[:8]}.{extension}"
        return cls(
            portal=portal,
            step=step,
            description=description,
            taken_at=stamp,
            content_type=content_type,
            filename=name,
            sha256=digest,
            content=content,
        )


class StoredEvidence(BaseModel):
    """Evidence as kept on disk."""

    evidence: Evidence
    path: Path


class EvidenceStore:
    """A folder of evidence files, one sub-folder per ticket, each file with a ``.json`` sidecar.

    ``mirror`` is called with each file once it is written (the evidence, then its sidecar).
    """

    def __init__(self, root: Path, mirror: Callable[[Path], object] | None = None) -> None:
        self.root = Path(root)
        self.mirror = mirror

    def folder_for(self, ticket_id: int | str) -> Path:
        return self.root / f"ticket-{ticket_id}"

    def save(self, evidence: Evidence, ticket_id: int | str) -> StoredEvidence:
        folder = self.folder_for(ticket_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / evidence.filename
        path.write_bytes(evidence.content)
        sidecar = path.with_suffix(path.suffix + ".json")
        sidecar.write_text(evidence.model_dump_json(indent=2), encoding="utf-8")
        if self.mirror is not None:
            self.mirror(path)
            self.mirror(sidecar)
        return StoredEvidence(evidence=evidence, path=path)

    def load(self, path: Path) -> Evidence:
        meta = json.loads(Path(str(path) + ".json").read_text(encoding="utf-8"))
        return Evidence(**meta, content=Path(path).read_bytes())


_MARKER = re.compile(r"\[rpa:([0-9a-f]{16})\]")


def note_key(*parts: object) -> str:
    """A short stable key for an evidence note, from whatever identifies it (ticket, step, visit)."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


def note_marker(key: str) -> str:
    """The tag written at the end of an evidence note."""
    return f"[rpa:{key}]"


def markers_in(text: str) -> set[str]:
    """Keys of every marker found in a note body."""
    return set(_MARKER.findall(text or ""))
