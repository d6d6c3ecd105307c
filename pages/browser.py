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


#: Debian's package ``chromium-headless-shell``: the same Chromium version built without a window system,
#: the kind of build Playwright itself uses for headless runs. It draws the same pages and screenshots at
#: about half the CPU of the full browser in headless mode and starts four times faster, so it is what the
#: robots use by default (``make`` installs both packages; ``make bench`` measures both).
HEADLESS_SHELL = Path("/usr/lib/chromium/chromium-headless-shell")
#: Debian's package ``chromium``: the full browser, needed to watch the robots work (``headless=False``).
FULL_CHROMIUM = Path("/usr/bin/chromium")


class BrowserOptions(BaseModel):
    """Where the browser is and how it starts.

    ``executable_path`` unset means: the headless shell when headless and installed, the full Chromium
    otherwise (a headed run, or a machine with only ``chromium``). Set it to pin one build.
    """

    executable_path: Path | None = None
    headless: bool = True
    #: One renderer process per console instead of one per page: the pages of one console (one per flow
    #: working on it at that moment) share it. Measured with eight flows at once (``make bench``): about
    #: 60 MB per extra flow instead of about 115 MB, at the price of the flows on one console sharing its
    #: renderer's thread (eight at once 2.1x one flow instead of 2.0x).
    process_per_site: bool = True
    extra_args: list[str] = Field(default_factory=list)

    def executable(self) -> Path:
        """The browser binary this launch uses."""
        if self.executable_path is not None:
            return self.executable_path
        if self.headless and HEADLESS_SHELL.is_file():
            return HEADLESS_SHELL
        return FULL_CHROMIUM

    def launch_kwargs(self) -> dict:
        """Keyword arguments for ``browser_type.launch``."""
        return {
            "executable_path": str(self.executable()),
            "headless": self.headless,
            "args": [
                *CLOSED_NETWORK_FLAGS,
                *(["--process-per-site"] if self.process_per_site else []),
                *self.extra_args,
            ],
            # The product closes the browser itself when it stops, after its running steps finished.
            "handle_sigint": False,
            "handle_sigterm": False,
            "handle_sighup": False,
        }


class Timeouts(BaseModel):
    """How long the consoles get before we call them stuck (milliseconds)."""

    action_ms: int = 10_000
    navigation_ms: int = 20_000
