"""``make demo`` as a new user runs it, again and again: each run works the ticket anew and ends clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dbos import DBOSClient

RUNS = 5


def test_the_demo_runs_five_times_with_a_successful_flow_and_nothing_on_stderr(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    for run in range(1, RUNS + 1):
        result = subprocess.run([sys.executable, "-m", "flows.interfaces.cli", "demo"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"run {run}: {result.stdout}\n{result.stderr}"
        assert result.stderr == "", f"run {run} wrote to stderr:\n{result.stderr}"
        assert "Outcome: migrated (flow SUCCESS)" in result.stdout, result.stdout
        # The flow really ran this time: every activity of the path was printed as it happened.
        assert "✓ 10 Migración exitosa" in result.stdout, result.stdout
        client = DBOSClient(system_database_url=f"sqlite:///{tmp_path / 'runs' / 'demo' / 'flows.sqlite'}")
        try:
            [flow] = client.list_workflows(workflow_ids=["migration-1001"], load_input=False, load_output=False)
            assert flow.status == "SUCCESS", f"run {run}: the demo's flow is {flow.status} in DBOS"
        finally:
            client.destroy()
        log = tmp_path / "runs" / "demo" / "logs" / "demo.jsonl"
        assert log.is_file(), "the demo keeps its log"
