"""Real servers, real Chromium: the example sites driven the way a visitor uses them.

Each site runs in its own process (uvicorn for FastAPI, waitress for Flask) on a free port of
127.0.0.1; Playwright drives Debian's Chromium (`CONSENT_CHROMIUM` to use another binary).
Cookies are read from the browser's own jar, HttpOnly ones included.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from .helpers import CHROMIUM_ARGS, DESKTOP, SITES, Server, start_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last. Playwright's sync API keeps an event loop running in the
    main thread for as long as the session's browser lives, and `asyncio.run()` in the unit
    tests after it would then fail ("cannot be called from a running event loop")."""
    here = Path(__file__).resolve().parent
    items.sort(key=lambda item: here in Path(str(item.path)).resolve().parents)


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def servers(server_logs: Path) -> Iterator[dict[str, Server]]:
    """One server per site for the whole session, started when a test first needs it."""
    running: dict[str, Server] = {}
    yield running
    for server in running.values():
        server.stop()


def running_site(servers: dict[str, Server], kind: str, log_dir: Path) -> Server:
    if kind not in servers:
        servers[kind] = start_server(kind, log_dir)
    return servers[kind]


@pytest.fixture(params=list(SITES))
def site(request: pytest.FixtureRequest, servers: dict[str, Server], server_logs: Path) -> Server:
    """Each test runs once against every example site."""
    return running_site(servers, request.param, server_logs)


@pytest.fixture
def fastapi_site(servers: dict[str, Server], server_logs: Path) -> Server:
    return running_site(servers, "fastapi", server_logs)


@pytest.fixture
def extra_server(server_logs: Path) -> Iterator[Callable[..., Server]]:
    """Start more site instances for one test (another policy version, say)."""
    started: list[Server] = []

    def start(kind: str, **env: str) -> Server:
        server = start_server(kind, server_logs, env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


def _chromium(playwright: Playwright, *args: str) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=os.environ.get("CONSENT_CHROMIUM", "/usr/bin/chromium"),
        headless=True,
        args=[*CHROMIUM_ARGS, *args],
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    yield from _chromium(playwright)


@pytest.fixture(scope="session")
def mapped_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium that finds every host under `.test` on 127.0.0.1: plain-http hosts that are
    not localhost (Secure means what it means on a real site), and a page at www.shop.test
    can set a cookie for the registrable domain shop.test (cookies are per host, not per
    port)."""
    yield from _chromium(playwright, "--host-resolver-rules=MAP *.test 127.0.0.1")


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """A fresh browser context (its own cookie jar); closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
