"""The files around a run report: thumbnails, checksums, copies of failure captures, atomic writes.

A report is one self-contained HTML file that must still work when its folder is opened from disk or
moved: images go inside it as small JPEG thumbnails, a failed step's screenshot and Playwright trace
are copied next to it, links to evidence are relative where they can be, and a report or index is
replaced in one move, so a reader never opens a half-written page.

The customer's own documents (CI photos, selfie) are personal data: they are recognised here by the
folder they are kept in, and only ever named, measured and hashed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import threading
from pathlib import Path

from loguru import logger
from PIL import Image

THUMB_WIDTH = 240
#: The folder (under the ticket's evidence folder) where the customer's own documents are kept.
CUSTOMER_FOLDER = "cliente"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One temporary name per writer: flows ending together may write the same index at once.
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def copy_into(file: Path, folder: Path) -> Path:
    """Copy a file into the folder, unless a copy of the same size is already there."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file.name
    if not target.exists() or target.stat().st_size != file.stat().st_size:
        shutil.copy2(file, target)
    return target


def thumbnail(file: Path) -> str | None:
    """A small copy of an image as a data: URI (the report carries its thumbnails inside)."""
    try:
        with Image.open(file) as opened:
            image = opened.convert("RGB")
            if image.width > THUMB_WIDTH:
                image = image.resize(
                    (THUMB_WIDTH, max(1, round(image.height * THUMB_WIDTH / image.width))), Image.Resampling.LANCZOS
                )
            # Full-page screenshots are very tall; the top of the page is what identifies them.
            image = image.crop((0, 0, image.width, min(image.height, THUMB_WIDTH * 2)))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=82, optimize=True)
    except Exception as exc:
        logger.debug("no thumbnail for {}: {}", file, exc)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def link(file: Path, base: Path) -> str:
    """A link from the report to a file: relative when they share a root, so the folder can move."""
    try:
        return Path(os.path.relpath(file.resolve(), base.resolve())).as_posix()
    except ValueError:
        # Another drive (Windows): no relative path exists.
        return file.resolve().as_uri()


def size(size: int) -> str:
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def is_personal(file: Path) -> bool:
    return CUSTOMER_FOLDER in file.parts[:-1]


def kind(file: Path) -> str:
    """How the report shows a piece of evidence: "personal", "pdf", "image" or "file"."""
    if is_personal(file):
        return "personal"
    suffix = file.suffix.lower()
    return "pdf" if suffix == ".pdf" else "image" if suffix in IMAGE_SUFFIXES else "file"


def failure_captures(
    screenshot: str | None, trace: str | None, folder: Path, base: Path
) -> tuple[dict | None, dict | None]:
    """Copy a failed step's screenshot and trace into ``folder``, so the report's links work from disk.

    Captures that are gone from disk are left out. ``base`` is the report's folder, for the links.
    """
    shot_info = trace_info = None
    if screenshot and Path(screenshot).is_file():
        copy = copy_into(Path(screenshot), folder)
        shot_info = {"href": link(copy, base), "thumb": thumbnail(copy), "path": str(copy.resolve())}
    if trace and Path(trace).is_file():
        copy = copy_into(Path(trace), folder)
        trace_info = {
            "href": link(copy, base),
            "path": str(copy.resolve()),
            "original": trace,
            "command": f"playwright show-trace {_shell_quote(str(copy.resolve()))}",
            "size": size(copy.stat().st_size),
        }
    return shot_info, trace_info


def customer_documents(evidence_dir: Path, ticket_id: int) -> list[dict]:
    """The customer's documents kept for the ticket, by name, size and sha256 only."""
    folder = evidence_dir / f"ticket-{ticket_id}" / CUSTOMER_FOLDER
    if not folder.is_dir():
        return []
    # Each document has a .json sidecar describing it: that is not a document of the customer's.
    return [
        {"name": f.name, "sha256": sha256(f), "size": size(f.stat().st_size)}
        for f in sorted(folder.iterdir())
        if f.is_file() and not f.name.endswith(".json")
    ]


def _shell_quote(text: str) -> str:
    return text if re.fullmatch(r"[\w./@:+-]+", text) else "'" + text.replace("'", "'\\''") + "'"
