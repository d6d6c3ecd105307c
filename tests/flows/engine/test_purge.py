"""`rpa purge`: a ticket's documents go once its flows ended longer ago than the retention; live and recent
flows keep theirs, and a dry run only lists."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from flows.engine.files import FlowFiles, stored_files
from flows.engine.purge import purge_documents
from flows.engine.run_store import RunState, RunStore, flow_runs
from flows.engine.settings import Settings
from robots.evidence import utc_now

OLD, RECENT, LIVE = 3001, 3002, 3003


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(run_dir=tmp_path / "runs", evidence_dir=tmp_path / "evidence", documents_retention_days=30)


def _flow(store: RunStore, files: FlowFiles, settings: Settings, ticket: int, state: RunState, days_ago: float) -> None:
    flow_id = f"migration-{ticket}"
    store.flow_started(flow_id, ticket, "migration")
    with store.engine.begin() as db:
        db.execute(
            update(flow_runs)
            .where(flow_runs.c.flow_id == flow_id)
            .values(state=state.value, updated_at=utc_now() - timedelta(days=days_ago))
        )
    folder = settings.evidence_dir / f"ticket-{ticket}"
    written = [
        folder / "cliente" / "1001-ci-anverso.jpg",
        folder / "cliente" / "1001-selfie.jpg",
        folder / "preanalysis-20260101T000000-abcd1234.png",
        settings.run_dir / "failures" / flow_id / "0007-migrate.png",
    ]
    for path in written:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{ticket} {path.name}".encode())
        files.keep(path)


def _left(settings: Settings, files: FlowFiles, ticket: int) -> tuple[int, int]:
    local = [
        f
        for root in (settings.evidence_dir / f"ticket-{ticket}", settings.run_dir / "failures" / f"migration-{ticket}")
        if root.is_dir()
        for f in root.rglob("*")
        if f.is_file()
    ]
    with files.engine.connect() as db:
        keys = [k for k in db.execute(select(stored_files.c.key)).scalars() if f"-{ticket}/" in k]
    return len(local), len(keys)


@pytest.fixture
def three_flows(settings: Settings):
    store, files = RunStore(settings.store_url()), FlowFiles(settings)
    _flow(store, files, settings, OLD, RunState.ENDED, days_ago=45)
    _flow(store, files, settings, RECENT, RunState.ENDED, days_ago=5)
    # Waiting for a customer for longer than the retention: still live, so never purged.
    _flow(store, files, settings, LIVE, RunState.WAITING, days_ago=60)
    yield files
    files.dispose()
    store.dispose()


def test_only_the_flow_ended_before_the_retention_loses_its_files(settings, three_flows):
    report = purge_documents(settings)

    assert [t.ticket_id for t in report.tickets] == [OLD]
    assert (report.local_files, report.stored_files) == (4, 4)
    assert _left(settings, three_flows, OLD) == (0, 0)
    assert _left(settings, three_flows, RECENT) == (4, 4)
    assert _left(settings, three_flows, LIVE) == (4, 4)
    assert purge_documents(settings).tickets == []  # nothing left to purge


def test_a_dry_run_lists_and_removes_nothing(settings, three_flows):
    report = purge_documents(settings, dry_run=True)

    assert [t.ticket_id for t in report.tickets] == [OLD]
    assert any(key.endswith("cliente/1001-selfie.jpg") for key in report.tickets[0].stored_keys)
    assert _left(settings, three_flows, OLD) == (4, 4)


def test_rpa_purge_prints_what_it_removed(settings, three_flows, tmp_path):
    env = {**os.environ, "RPA_RUN_DIR": str(settings.run_dir), "RPA_EVIDENCE_DIR": str(settings.evidence_dir)}

    def rpa(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "flows.interfaces.cli", "purge", *args],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )

    listed = rpa("--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert "1 ticket(s)" in listed.stdout and "4 local and 4 stored file(s) would be removed" in listed.stdout
    assert _left(settings, three_flows, OLD) == (4, 4)

    done = rpa()
    assert done.returncode == 0, done.stderr
    assert "4 local and 4 stored file(s) removed" in done.stdout
    assert _left(settings, three_flows, OLD) == (0, 0)
    assert _left(settings, three_flows, RECENT) == (4, 4)

    refused = subprocess.run(
        [sys.executable, "-m", "flows.interfaces.cli", "purge"],
        env={**env, "RPA_DOCUMENTS_RETENTION_DAYS": "0"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert refused.returncode == 2
