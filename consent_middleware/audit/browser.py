"""Launch Chromium through Playwright, with the signs of automation hidden.

Playwright is imported here, lazily: without the `[browser]` extra the rest of the package
works, and the audit says what to install. It never downloads a browser: it drives the
Chromium given (`--browser`, `CONSENT_CHROMIUM`, or Debian's `/usr/bin/chromium`).

Some banners hide from bots, so the browser looks like one a person uses:
`navigator.webdriver` is false (Chromium's `AutomationControlled` feature is off, Playwright's
`--enable-automation` is not passed, and the init script makes it read false), and the user
agent says `Chrome`, not `HeadlessChrome`. The report says so (`automation_hidden`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import Browser

__all__ = [
    "CHROMIUM_ARGS",
    "BrowserUnavailable",
    "Launched",
    "default_browser",
    "launch",
    "require_playwright",
]

INSTALL_HINT = "pip install 'consent-middleware[browser]'"
#: Needed on machines without a GPU or a user namespace sandbox (containers, CI).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-blink-features=AutomationControlled",
)
VIEWPORT = {"width": 1280, "height": 800}


class BrowserUnavailable(Exception):
    """Playwright or the browser is missing: a usage error, with the fix in its message."""


def require_playwright() -> None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError as exc:
        raise BrowserUnavailable(
            "the audit drives a real browser with Playwright, which is not installed:"
            f" {INSTALL_HINT}"
        ) from exc


def default_browser() -> str:
    return os.environ.get("CONSENT_CHROMIUM") or "/usr/bin/chromium"


def _executable(path: str) -> str:
    found = shutil.which(path)
    if found is None:
        raise BrowserUnavailable(
            f"no browser at {path!r}: install Chromium (e.g. apt-get install chromium) or"
            " give one with --browser PATH (or CONSENT_CHROMIUM)"
        )
    return found


@dataclass
class Launched:
    browser: Browser
    version: str
    #: The options each visitor's context is made with (viewport, user agent).
    context_options: dict[str, Any]
    automation: dict[str, object]


@asynccontextmanager
async def launch(path: str) -> AsyncIterator[Launched]:
    """Chromium, headless, as a visitor's browser; closed on exit."""
    require_playwright()
    executable = _executable(path)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=executable,
                headless=True,
                args=list(CHROMIUM_ARGS),
                ignore_default_args=["--enable-automation"],
            )
        except Exception as exc:
            raise BrowserUnavailable(f"could not start {executable}: {exc}") from exc
        try:
            probe = await browser.new_page()
            agent = str(await probe.evaluate("navigator.userAgent"))
            await probe.close()
            user_agent = agent.replace("HeadlessChrome/", "Chrome/")
            yield Launched(
                browser=browser,
                version=f"Chromium {browser.version}",
                context_options={"viewport": VIEWPORT, "user_agent": user_agent},
                automation={
                    "navigator_webdriver": None,  # measured in the first page
                    "user_agent": user_agent,
                    "how": [
                        "Chromium's AutomationControlled feature off",
                        "no --enable-automation",
                        "navigator.webdriver reads false",
                        "HeadlessChrome replaced by Chrome in the user agent",
                    ],
                },
            )
        finally:
            await browser.close()
