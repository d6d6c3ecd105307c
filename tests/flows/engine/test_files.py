"""A flow's files through the deployment's database: kept by one machine, read by another whose folders are
empty, on a real SQLite file and a real PostgreSQL; and the run report built on that other machine."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from flows.engine.files import FlowFiles, stored_files
from flows.engine.run_store import EvidenceRecord, RunState, RunStore
from flows.engine.settings import Settings
from flows.reporting import page as report
from robots.evidence import Evidence, EvidenceStore


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        # One file both "machines" open (a one-machine deployment keeps it in its run folder).
        return f"sqlite:///{tmp_path / 'shared.sqlite'}"
    return request.getfixturevalue("postgres").create_database(f"rpa_files_{request.node.name[-20:-1].lower()}")


def machine(tmp_path: Path, name: str, database_url: str, **changes) -> Settings:
    """A worker machine's settings: its own evidence and run folders, the deployment's database."""
    return Settings(evidence_dir=tmp_path / name / "evidence", run_dir=tmp_path / name / "runs",
                    database_url=database_url, **changes)


def png(colour: str, size: tuple[int, int] = (320, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_keys(files: FlowFiles) -> list[str]:
    with files.engine.connect() as db:
        return list(db.execute(select(stored_files.c.key).order_by(stored_files.c.key)).scalars())


def test_evidence_kept_by_one_machine_is_read_from_the_store_by_another(tmp_path, database_url):
    a, b = machine(tmp_path, "a", database_url), machine(tmp_path, "b", database_url)
    files_a, files_b = FlowFiles(a), FlowFiles(b)
    content = png("navy")
    # As the toolkit wires it: the robots' evidence store hands every file it writes to the file store.
    kept = EvidenceStore(a.evidence_dir, mirror=files_a.keep).save(
        Evidence.capture(portal="qvantel", step="line_status", description="Estado", content=content), 2001
    )
    assert stored_keys(files_a) == [f"evidence/ticket-2001/{kept.path.name}", f"evidence/ticket-2001/{kept.path.name}.json"]

    shutil.rmtree(tmp_path / "a")  # machine A is gone: only the database has its files
    local = files_b.local(str(kept.path))
    assert local == b.evidence_dir / "ticket-2001" / kept.path.name
    assert local.read_bytes() == content and sha256(local.read_bytes()) == kept.evidence.sha256
    # Its sidecar is kept the same way, so B's evidence store loads the evidence whole.
    files_b.local(str(kept.path) + ".json")
    assert EvidenceStore(b.evidence_dir).load(local).sha256 == kept.evidence.sha256
    files_a.dispose()
    files_b.dispose()


def test_putting_a_file_again_is_idempotent_and_a_changed_file_replaces_it(tmp_path, database_url):
    a = machine(tmp_path, "a", database_url)
    files = FlowFiles(a)
    shot = a.run_dir / "failures" / "migration-2001" / "0007-migrate_once.png"
    shot.parent.mkdir(parents=True)
    shot.write_bytes(png("red"))
    assert files.keep(shot) == "runs/failures/migration-2001/0007-migrate_once.png"
    assert files.keep(shot) == "runs/failures/migration-2001/0007-migrate_once.png"
    with files.engine.connect() as db:
        assert db.execute(select(func.count()).select_from(stored_files)).scalar() == 1
    shot.write_bytes(png("green"))  # the step failed again and its screenshot was taken again
    files.keep(shot)
    with files.engine.connect() as db:
        row = db.execute(select(stored_files.c.sha256, stored_files.c.size)).one()
    assert row.sha256 == sha256(shot.read_bytes()) and row.size == shot.stat().st_size
    files.dispose()


def test_the_customer_documents_of_a_ticket_are_fetched_as_a_folder(tmp_path, database_url):
    a, b = machine(tmp_path, "a", database_url), machine(tmp_path, "b", database_url)
    files_a, files_b = FlowFiles(a), FlowFiles(b)
    folder = a.evidence_dir / "ticket-2001" / "cliente"
    folder.mkdir(parents=True)
    photos = {"11-ci_anverso.jpg": b"front", "11-ci_reverso.jpg": b"back", "12-selfie.jpg": b"selfie"}
    for name, content in photos.items():
        (folder / name).write_bytes(content)
        files_a.keep(folder / name)
    # Another ticket's folder with a similar name is not this ticket's.
    (a.evidence_dir / "ticket-20011" / "cliente").mkdir(parents=True)
    (a.evidence_dir / "ticket-20011" / "cliente" / "13-selfie.jpg").write_bytes(b"other")
    files_a.keep(a.evidence_dir / "ticket-20011" / "cliente" / "13-selfie.jpg")

    found = files_b.folder(b.evidence_dir / "ticket-2001" / "cliente")
    assert {f.name: f.read_bytes() for f in found} == photos
    assert all(f.parent == b.evidence_dir / "ticket-2001" / "cliente" for f in found)
    files_a.dispose()
    files_b.dispose()


def test_a_file_above_the_size_cap_stays_on_its_machine(tmp_path, database_url):
    a = machine(tmp_path, "a", database_url, shared_file_max_mb=0.001)
    files = FlowFiles(a)
    trace = a.run_dir / "failures" / "migration-2001" / "0007-migrate_once.trace.zip"
    trace.parent.mkdir(parents=True)
    trace.write_bytes(b"x" * 2048)
    assert files.keep(trace) is None
    assert stored_keys(files) == []
    files.dispose()


def test_a_report_built_on_a_machine_with_empty_folders_shows_every_thumbnail(tmp_path, database_url):
    a, b = machine(tmp_path, "a", database_url), machine(tmp_path, "b", database_url)
    files_a = FlowFiles(a)
    evidence = EvidenceStore(a.evidence_dir, mirror=files_a.keep)
    shots = [evidence.save(Evidence.capture(portal=portal, step=step, description=step, content=png(colour)), 2001)
             for portal, step, colour in (("planificate", "preanalysis", "navy"), ("qvantel", "line_status", "teal"))]
    documents = a.evidence_dir / "ticket-2001" / "cliente"
    documents.mkdir(parents=True)
    (documents / "11-ci_anverso.jpg").write_bytes(b"front")
    files_a.keep(documents / "11-ci_anverso.jpg")
    failure = a.run_dir / "failures" / "migration-2001" / "0004-confirm_line.png"
    failure.parent.mkdir(parents=True)
    failure.write_bytes(png("red"))
    files_a.keep(failure)

    store = RunStore(a.store_url())
    store.flow_started("migration-2001", 2001, "migration")
    for seq, shot in enumerate(shots, start=1):
        key = f"{seq:04d}-{shot.evidence.step}"
        store.step_started("migration-2001", key, seq, shot.evidence.step, "Preanálisis")
        store.step_ended("migration-2001", key, attempts=1, outcome="done", evidence=[EvidenceRecord(
            file=str(shot.path), sha256=shot.evidence.sha256, portal=shot.evidence.portal,
            description=shot.evidence.description, note_id=100 + seq)])
    store.step_started("migration-2001", "0004-confirm_line", 4, "confirm_line", "Confirmar la línea")
    store.step_ended("migration-2001", "0004-confirm_line", attempts=3, outcome="failed", error="ConsoleDown: x",
                     screenshot=str(failure))
    store.update_flow("migration-2001", state=RunState.FAILED, error="ConsoleDown: x")
    store.dispose()
    files_a.dispose()
    shutil.rmtree(tmp_path / "a")  # the report is built where none of these files were taken

    html = report.write_report(b, "migration-2001").read_text(encoding="utf-8")
    for shot in shots:
        card = re.search(rf'<article class="ev" data-sha256="{shot.evidence.sha256}"[^>]*>(.*?)</article>', html,
                         re.DOTALL)
        assert card, shot.path.name
        assert '<img src="data:image/jpeg;base64,' in card.group(1)
        assert "coincide con el archivo en disco" in card.group(1)
    assert html.count('<img src="data:image/jpeg;base64,') == len(shots) + 1  # and the failed step's screenshot
    section = html.split('id="customer-documents"', 1)[1]
    assert "11-ci_anverso.jpg" in section and sha256(b"front") in section
