"""``rpa regress`` as a team runs it in CI: its own scenario folder, JUnit XML, jobs side by side, the listing.

The runs here use a folder of two of the catalogue's quickest scenarios (FR/RO and not the holder: both end
before any token or contract), one of them made to fail on purpose, with ``--no-catalogue`` so they stay
cheap; they run ``rpa`` as a child process, as a CI job does (each run starts its own mocks and DBOS, which is
process-global), with its kept run folder in the test's own temporary folder. The one serial run is shared by
the tests that read it. Refusals are checked in this process: they must come before anything starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flows.devtools.regress import SCENARIO_DIR, load_catalogue
from flows.interfaces.cli import app as rpa

#: The failure the altered copy of ``not_holder`` must report.
WRONG_OUTCOME = "outcome 'no_titular', expected 'migrated'"


@pytest.fixture(scope="module")
def team_folder(tmp_path_factory) -> Path:
    """Two scenario files copied from the catalogue; not_holder's expected outcome changed so it fails."""
    folder = tmp_path_factory.mktemp("team") / "escenarios"
    folder.mkdir()
    (folder / "fr_ro.yaml").write_text((SCENARIO_DIR / "fr_ro.yaml").read_text("utf-8"), "utf-8")
    not_holder = yaml.safe_load((SCENARIO_DIR / "not_holder.yaml").read_text("utf-8"))
    not_holder["expectations"]["outcome"] = "migrated"
    (folder / "not_holder.yaml").write_text(yaml.safe_dump(not_holder, allow_unicode=True), "utf-8")
    return folder


def regress(*args: str | Path, tmp: Path, timeout: float = 300) -> tuple[subprocess.CompletedProcess, float]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "flows.interfaces.cli", "regress", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TMPDIR": str(tmp)},  # the run folder a failure keeps
    )
    return done, time.monotonic() - began


def verdicts(junit: Path) -> dict[tuple[str, str], str | None]:
    """(classname, name) -> the failure's message, None when the scenario passed."""
    root = ET.parse(junit).getroot()
    return {
        (case.get("classname", ""), case.get("name", "")): (
            failure.get("message") if (failure := case.find("failure")) is not None else None
        )
        for case in root.iter("testcase")
    }


@pytest.fixture(scope="module")
def serial_run(team_folder, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    tmp = tmp_path_factory.mktemp("serial")
    junit = tmp / "serial.xml"
    done, seconds = regress("--dir", team_folder, "--no-catalogue", "--junit", junit, "--jobs", "1", tmp=tmp)
    print(f"rpa regress --jobs 1: {seconds:.1f} s")
    return done, junit


def test_list_shows_every_scenario_with_its_branch_and_description():
    result = CliRunner().invoke(rpa, ["regress", "--list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name, scenario in load_catalogue().items():
        line = next((line for line in lines if line.split()[:1] == [name]), None)
        assert line is not None, f"{name} is not listed"
        assert " ".join(scenario["description"].split()) in line
        assert scenario["expectations"]["outcome"] in line


def test_list_adds_a_team_folder(team_folder):
    result = CliRunner().invoke(rpa, ["regress", "--list", "--dir", str(team_folder), "--no-catalogue"])
    assert result.exit_code == 0, result.output
    assert f"{team_folder}: 2 scenario(s)" in result.output
    assert "not_holder" in result.output and "The requester is not the line's holder in Qvantel." in result.output
    assert "government_syshelp" not in result.output  # the catalogue is left out


def test_a_team_folder_writes_junit_with_one_testcase_per_scenario(serial_run, team_folder):
    done, junit = serial_run
    assert done.returncode == 1, done.stdout + done.stderr  # one scenario fails on purpose
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "1"
    cases = list(root.iter("testcase"))
    assert [case.get("name") for case in cases] == ["fr_ro", "not_holder"]
    assert all(float(case.get("time", "-1")) > 0 for case in cases)
    assert verdicts(junit) == {
        (str(team_folder), "fr_ro"): None,
        (str(team_folder), "not_holder"): WRONG_OUTCOME,
    }
    failure = cases[1].find("failure")
    assert failure is not None and WRONG_OUTCOME in (failure.text or "")
    assert f"run folder kept: {junit.parent}" in " ".join(done.stdout.split())


def test_jobs_side_by_side_give_the_serial_verdicts(serial_run, team_folder, tmp_path):
    serial, serial_junit = serial_run
    junit = tmp_path / "two-jobs.xml"
    # Chromium keeps a socket in TMPDIR, and a Unix socket's path has a length limit a deep pytest folder
    # can pass (Chromium then aborts at launch): the jobs' temporary files go to a short folder.
    short = Path(tempfile.mkdtemp(prefix="rpa-rj-"))
    done, seconds = regress("--dir", team_folder, "--no-catalogue", "--junit", junit, "--jobs", "2", tmp=short)
    shutil.rmtree(short, ignore_errors=True)
    print(f"rpa regress --jobs 2: {seconds:.1f} s")
    assert done.returncode == serial.returncode, done.stdout + done.stderr
    assert verdicts(junit) == verdicts(serial_junit)
    # Printed in the folder's order, whichever job ended first.
    table = done.stdout.rsplit("Regression run", 1)[1]
    assert table.index("fr_ro") < table.index("not_holder")


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, "utf-8")


def _with(change) -> str:
    scenario = yaml.safe_load((SCENARIO_DIR / "not_holder.yaml").read_text("utf-8"))
    change(scenario)
    return yaml.safe_dump(scenario, allow_unicode=True)


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda d: None, "no such folder"),
        (lambda d: _write(d, "notes.txt", "not a scenario"), "no scenario files"),
        (lambda d: _write(d, "broken.yaml", "lines: [\n"), "broken.yaml: not valid YAML"),
        (lambda d: _write(d, "world.yaml", "name: world\nlines: []\n"), "world.yaml: has no expectations"),
        (
            lambda d: _write(d, "bad.yaml", _with(lambda s: s["expectations"]["macros"].append("saludo"))),
            "bad.yaml: expectations are not valid: macros: Value error, unknown macro 'saludo'",
        ),
        (
            lambda d: _write(d, "bad.yaml", _with(lambda s: s["expectations"].update(ticket=9999))),
            "bad.yaml: expectations.ticket 9999 is not among the scenario's tickets",
        ),
    ],
)
def test_a_bad_folder_is_refused_naming_the_problem_before_anything_runs(tmp_path, make, problem):
    folder = tmp_path / "escenarios"
    make(folder)
    result = CliRunner().invoke(rpa, ["regress", "--dir", str(folder), "--no-catalogue"])
    assert result.exit_code == 2, result.output
    assert problem in " ".join(result.output.split()), result.output
    assert "Regression run" not in result.output


def test_a_team_scenario_clashing_with_the_catalogue_is_refused(tmp_path):
    folder = tmp_path / "escenarios"
    _write(folder, "no_titular_copia.yaml", (SCENARIO_DIR / "not_holder.yaml").read_text("utf-8"))
    result = CliRunner().invoke(rpa, ["regress", "--dir", str(folder)])
    assert result.exit_code == 2, result.output
    assert "no_titular_copia.yaml: ticket 3010 is also used by" in " ".join(result.output.split())
    assert "not_holder.yaml" in result.output
