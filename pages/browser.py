"""How Chromium is launched here: Debian's build by executable path, headless, quiet on a closed network.

Both the product and the test fixtures launch through these options, so a test sees the same browser
the robots drive.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

#: Flags for a machine without internet: Chromium must not phone home, update components or sync,
#: and as root it needs --no-sandbox.
CLOSED_NETWORK_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--metrics-recording-only",
)


class BrowserOptions(BaseModel):
    """Where the browser is and how it starts."""

    executable_path: Path = Path("/usr/bin/chromium")
    headless: bool = True
    extra_args: list[str] = Field(default_factory=list)

    def launch_kwargs(self) -> dict:
        """Keyword arguments for ``browser_type.launch``."""
        return {
            "executable_path": str(self.executable_path),
            "headless": self.headless,
            "args": [*CLOSED_NETWORK_FLAGS, *self.extra_args],
            # The product closes the browser itself when it stops, after its running steps finished.
            "handle_sigint": False,
            "handle_sigterm": False,
            "handle_sighup": False,
        }


class Timeouts(BaseModel):
    """How long the consoles get before we call them stuck (milliseconds)."""

    action_ms: int = 10_000
    navigation_ms: int = 20_000
