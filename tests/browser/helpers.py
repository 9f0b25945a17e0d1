"""Helpers of the browser tests: real servers, and what a visitor sees and does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page

from ..servers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
AXE_JS = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
IMAGES_DIR = REPO_ROOT / "docs" / "images"
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
PHONE = {"width": 320, "height": 640}
UKRAINIAN: dict[str, Any] = {"locale": "uk-UA", "extra_http_headers": {"Accept-Language": "uk"}}
#: The cookies that only a granted optional category lets through.
OPTIONAL_COOKIES = {"theme", "_ga", "_ga_js", "_fbp"}
SITES = {
    "fastapi": ["-m", "uvicorn", "examples.fastapi_app.app:app", "--log-level", "warning"],
    "flask": ["-m", "waitress", "examples.flask_app.app:app"],
}
STARTUP_TIMEOUT = 30.0


@dataclass
class Server:
    kind: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(kind: str, log_dir: Path, env: Mapping[str, str] | None = None) -> Server:
    """Start one example site in a subprocess and wait until it answers."""
    port = free_port()
    args = list(SITES[kind])
    if kind == "fastapi":
        args += ["--host", "127.0.0.1", "--port", str(port)]
    else:
        args.insert(2, f"--listen=127.0.0.1:{port}")
    log = log_dir / f"{kind}-{port}.log"
    # Each server counts its page views in its own file, so tests can compare its numbers.
    database = str(log_dir / f"{kind}-{port}.db")
    records = f"sqlite:///{log_dir / f'{kind}-{port}-records.db'}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO_ROOT,
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "INTEGRICA_DB": database,
                "INTEGRICA_RECORDS": records,
                **(env or {}),
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(kind, f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} server exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(server.url + "/consent", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{kind} server did not answer in time:\n{log.read_text()}")
        time.sleep(0.1)


# -- what a visitor sees and does --------------------------------------------------------


def banner(page: Page) -> Locator:
    return page.locator("#consent-banner")


def action_button(page: Page, action: str) -> Locator:
    return banner(page).locator(f"[data-consent-action={action}]")


def choose(page: Page, action: str) -> None:
    """Click a banner button and wait until the banner has gone."""
    action_button(page, action).click()
    banner(page).wait_for(state="hidden")


def sign_in(page: Page, site: Server, username: str = "olena") -> None:
    page.goto(site.url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url + "/")


def set_theme(page: Page, site: Server, theme: str) -> None:
    page.goto(site.url + "/settings")
    page.get_by_label(theme.capitalize()).check()
    page.get_by_role("button", name="Save theme").click()
    page.wait_for_url(site.url + "/settings")


def jar(context: BrowserContext) -> dict[str, Any]:
    """The browser's cookies by name (HttpOnly ones too)."""
    return {cookie["name"]: cookie for cookie in context.cookies()}


def cookie_names(context: BrowserContext) -> set[str]:
    return set(jar(context))


def consent_state(context: BrowserContext, site: Server) -> dict[str, Any]:
    """`GET /consent` with the browser's own cookies."""
    response = context.request.get(site.url + "/consent")
    assert response.ok, response.status
    state: dict[str, Any] = response.json()
    return state


#: Makes Chromium report Global Privacy Control to scripts, as browsers with GPC do (the
#: `Sec-GPC: 1` header goes with `extra_http_headers`).
GPC_SCRIPT = (
    "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl',"
    " {get: () => true, configurable: true});"
)
GPC_HEADERS: dict[str, Any] = {"extra_http_headers": {"Sec-GPC": "1"}}


def data_layer(page: Page) -> list[Any]:
    """`window.dataLayer`, with gtag's `arguments` entries as lists."""
    entries: list[Any] = page.evaluate(
        """() => (window.dataLayer || []).map(e =>
            e && typeof e === 'object' && !Array.isArray(e) && 'length' in e ? Array.from(e) : e)"""
    )
    return entries


def banner_has_focus(page: Page) -> bool:
    return bool(
        page.evaluate("document.getElementById('consent-banner').contains(document.activeElement)")
    )


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
    raise AssertionError(f"{limit} presses of Tab never reached {selector}")


def axe_violations(page: Page) -> list[str]:
    """Run axe-core on the page; one readable line per violation."""
    page.add_script_tag(path=str(AXE_JS))
    violations = page.evaluate("async () => (await axe.run()).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + json.dumps([node["target"] for node in v["nodes"]][:5])
        for v in violations
    ]


def self_signed_certificate(where: Path) -> tuple[Path, Path]:
    """A key and a certificate for localhost and 127.0.0.1, made now (valid two days), for
    servers over TLS that Chromium reaches with `ignore_https_errors`."""
    key, cert = where / "key.pem", where / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(key)]
        + ["-out", str(cert), "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return key, cert
