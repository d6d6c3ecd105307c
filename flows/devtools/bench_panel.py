"""``make bench``, panel section: what a robot step asked from the agent panel costs beyond the console's own time.

An agent who clicks "Ejecutar" waits for the console and for whatever the product adds: a process start,
a browser launch, a login. The panel runs steps in ``rpa serve``, warm (one Chromium, sessions logged in),
so what it adds should be little. Measured at the given console latency on the preanalysis (Planifícate
and the evidence note in Zendesk):

* the panel: from the POST that asks for the step to the moment the panel reports it finished (its
  evidence note posted), best of ``repeats`` after one warm-up;
* the console's own time: the requests that step made (the mocks' request log), sent again one after
  another with httpx, no browser (the same floor as the flow section);
* ``rpa step preanalysis`` in a shell: a new process, a browser launch and a login each time.

Target: the panel's time minus the console's own time under 0.5 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from flows.devtools.bench import bench_scenario, bench_settings, replay
from flows.devtools.harness import MockPortals, WebhookServer
from flows.engine.settings import CONSOLES

PANEL_OVERHEAD_TARGET_SECONDS = 0.5
TICKET = 7001
TOKEN = "bench-panel-token"


def _log(mocks: MockPortals) -> list[dict[str, Any]]:
    """What the mocks logged since the log was (re)started."""
    answer = httpx.get(mocks.urls["control"] + "/_control/request_log", timeout=30)
    answer.raise_for_status()
    return list(answer.json()["requests"])


def _panel_read(request: dict[str, Any]) -> bool:
    return request["method"] == "GET" and request["path"].split("?")[0].endswith(f"/tickets/{TICKET}.json")


def _panel_step(api: httpx.Client) -> float:
    """Ask for the preanalysis and wait until the panel reports it finished; seconds."""
    began = time.perf_counter()
    asked = api.post(f"/panel/api/tickets/{TICKET}/steps/preanalysis", json={"agent": {"id": 1, "name": "Bench"}})
    asked.raise_for_status()
    run_id = asked.json()["id"]
    deadline = began + 120
    while time.perf_counter() < deadline:
        view = api.get(f"/panel/api/tickets/{TICKET}").json()
        done = [r for r in view["finished_steps"] if r["id"] == run_id]
        if done:
            if done[0]["error"]:
                raise RuntimeError(f"the panel's step failed: {done[0]['error']}")
            return time.perf_counter() - began
        time.sleep(0.02)
    raise TimeoutError("the panel's step did not finish in 120 s")


def _shell_step(mocks: MockPortals, work: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env.update({f"RPA_{name.upper()}__BASE_URL": mocks.urls[name] for name in (*CONSOLES, "zendesk")})
    env.update(RPA_RUN_DIR=str(work / "shell-runs"), RPA_EVIDENCE_DIR=str(work / "shell-evidence"))
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "flows.interfaces.cli", "step", "preanalysis", "--ticket", str(TICKET)],
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    return time.perf_counter() - began


def measure_panel_step(latency_ms: int, repeats: int = 3) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="rpa-bench-panel-"))
    with MockPortals(latency_ms=latency_ms) as mocks:
        mocks.reset(bench_scenario([TICKET], latency_ms))
        settings = bench_settings(mocks, work).model_copy(update={"panel_token": SecretStr(TOKEN)})
        server = WebhookServer(settings)
        try:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as api:
                _panel_step(api)  # warm: the browser launched and Planifícate logged in, as in a running service
                runs, floors = [], []
                for _ in range(repeats):
                    httpx.post(mocks.urls["control"] + "/_control/request_log", timeout=30).raise_for_status()
                    runs.append(_panel_step(api))
                    # The step's own requests; the panel page's reads of the ticket (while it waits) are not.
                    made = [r for r in _log(mocks) if not _panel_read(r)]
                    floors.append(replay(made, settings)["floor_s"])
        finally:
            server.close()
        shell = _shell_step(mocks, work)
    best = min(range(len(runs)), key=lambda i: runs[i] - floors[i])
    return {
        "latency_ms": latency_ms,
        "panel_s": runs[best],
        "console_floor_s": floors[best],
        "overhead_s": runs[best] - floors[best],
        "panel_runs_s": runs,
        "floors_s": floors,
        "shell_s": shell,
    }


def panel_rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "measure": f"Panel step over the console's own time, {figures['latency_ms']} ms",
            "value": f"+{figures['overhead_s']:.2f} s",
            "detail": f"preanalysis from the panel {figures['panel_s']:.2f} s (warm rpa serve) against its requests "
            f"replayed without a browser {figures['console_floor_s']:.2f} s; `rpa step preanalysis` in a shell "
            f"{figures['shell_s']:.2f} s",
            "target": f"< {PANEL_OVERHEAD_TARGET_SECONDS} s",
            "pass": figures["overhead_s"] < PANEL_OVERHEAD_TARGET_SECONDS,
        }
    ]
