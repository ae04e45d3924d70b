"""Debian's Chromium driven by Playwright's async API, for the e2e tests.

The browser is the system one (`/usr/bin/chromium`); `playwright install` is never run. Without
it the tests skip, unless AIBOT_REQUIRE_BROWSER=1 (CI), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


def _unavailable(reason: str) -> None:
    if os.environ.get("AIBOT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"a browser is required (AIBOT_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


def find_chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        _unavailable("Chromium not found (apt install chromium; never `playwright install`)")
    return path


@dataclass
class BrowserPage:
    """A page plus what it did that a test must not ignore."""

    page: Any
    errors: list[str] = field(default_factory=list)  # uncaught exceptions, CSP violations
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt, auto-dismissed


OpenPage = Callable[..., Awaitable[BrowserPage]]


class PageOpener:
    """`await opener(viewport=PHONE, color_scheme="dark")` → a fresh context and page whose
    errors and dialogs are recorded; `close_all` closes them and returns every error seen."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.opened: list[BrowserPage] = []

    async def __call__(
        self, *, viewport: dict[str, int] = DESKTOP, color_scheme: str = "light", **options: Any
    ) -> BrowserPage:
        context = await self.browser.new_context(
            viewport=viewport, color_scheme=color_scheme, **options
        )
        page = await context.new_page()
        page.set_default_timeout(10_000)
        probe = BrowserPage(page)

        def on_console(message: Any) -> None:
            if message.type == "error" and "Content Security Policy" in message.text:
                probe.errors.append(f"console: {message.text}")

        async def on_dialog(dialog: Any) -> None:
            probe.dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.dismiss()

        page.on("pageerror", lambda exc: probe.errors.append(f"pageerror: {exc}"))
        page.on("console", on_console)
        page.on("dialog", on_dialog)
        self.opened.append(probe)
        return probe

    async def close_all(self) -> list[str]:
        for probe in self.opened:
            await probe.page.context.close()
        return [error for probe in self.opened for error in probe.errors]
