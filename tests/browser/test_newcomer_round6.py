"""In Chromium (the server-side tests are tests/test_newcomer_round6.py): the consent cookie
named `__Host-consent`, as docs/faq.md recommends, on a site opened over plain http on a
host that is not loopback (a LAN dev box, a docker-compose service name, a staging host
without TLS; here `devbox.test`, resolved to 127.0.0.1). Chromium stores no Secure cookie
from such a page: the banner closes on a click, comes back on the next page, and the choice
is lost. The middleware cannot make the browser keep it; it says so, once, in the log. On
`localhost` the same site works (docs/faq.md).

And `consent-middleware audit` of a site under a prefix whose way back to the choice is its
own footer link to the preferences page (`settings_link=False`): the audit took the banner
form's action, which carries the page's choice token (`/app/consent?t=...`), for the
endpoint, so it found no link to `/app/consent?t=.../preferences` (a false `no_way_back` on
every decided page) and crawled `/app/consent/preferences` as one of the site's pages.

And the audit of a site whose choice never sticks: nginx strips `/app` and the server is
not told (docs/deploying.md: the banner then posts to `/consent`, outside the app). The
audit said "accepting takes 1 click(s)"; it now reports `choice_not_kept`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, expect

from ..nginx import nginx
from ..servers import Running, free_port, running, server_command
from .helpers import CHROMIUM_ARGS, banner, choose, cookie_names

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    at = free_port()
    log: Path = tmp_path_factory.mktemp("newcomer6") / f"uvicorn-{at}.log"
    command = server_command("uvicorn", "tests.fixtures.newcomer6_apps:app", at)
    with running(command, at, log) as server:
        yield server


@pytest.fixture(scope="module")
def devbox_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium that resolves devbox.test to 127.0.0.1: a host that is not loopback to it."""
    browser = playwright.chromium.launch(
        executable_path="/usr/bin/chromium",
        headless=True,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP devbox.test 127.0.0.1"],
    )
    yield browser
    browser.close()


@pytest.mark.parametrize("host", ["devbox.test", "localhost"])
def test_a_host_consent_cookie_on_plain_http(
    site: Running, devbox_browser: Browser, host: str
) -> None:
    context = devbox_browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"http://{host}:{site.port}/")
        choose(page, "accept_all")
        page.goto(f"http://{host}:{site.port}/")
        if host == "localhost":  # where Chromium keeps Secure cookies from http
            expect(banner(page)).to_be_hidden()
            assert {"__Host-consent", "_ga"} <= cookie_names(context)
            assert "plain-http page of http://localhost" not in site.output()
            return
        expect(banner(page)).to_be_visible()  # the choice was lost
        assert cookie_names(context) == set()
        logged = [line for line in site.output().splitlines() if "plain-http page" in line]
        assert len(logged) == 1 and f"http://devbox.test:{site.port}" in logged[0], logged
    finally:
        context.close()


@pytest.fixture(scope="module")
def footer_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    at = free_port()
    log: Path = tmp_path_factory.mktemp("newcomer6") / f"hypercorn-{at}.log"
    app = "tests.fixtures.newcomer6_apps:footer_link_app"
    with running(server_command("hypercorn", app, at, "--root-path", "/app"), at, log) as s:
        yield s


def test_the_audit_finds_the_footer_link_under_a_prefix(
    footer_site: Running, tmp_path: Path
) -> None:
    report = tmp_path / "audit.json"
    command = [sys.executable, "-m", "consent_middleware.cli", "audit", f"{footer_site.url}/app/"]
    command += ["--format", "json", "-o", str(report)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["banner"]["endpoint"] == "/app/consent", doc["banner"]
    assert doc["audit"]["pages"] == [f"{footer_site.url}/app/"], doc["audit"]["pages"]
    assert doc["findings"] == [], doc["findings"]
    assert done.returncode == 0, done.stderr[-2000:]


def _audit(url: str, report: Path) -> tuple[int, dict[str, Any]]:
    command = [sys.executable, "-m", "consent_middleware.cli", "audit", url]
    command += ["--format", "json", "-o", str(report), "--pages", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    return done.returncode, json.loads(report.read_text(encoding="utf-8"))


def test_the_audit_reports_a_choice_that_is_not_kept(site: Running, tmp_path: Path) -> None:
    strip = (
        "server { listen 127.0.0.1:{port}; location /app/ {"
        f" proxy_pass http://127.0.0.1:{site.port}/; proxy_set_header Host $http_host; }} }}"
    )
    with nginx(strip) as proxy:
        status, doc = _audit(f"{proxy.url}/app/", tmp_path / "audit.json")
    lost = {f["visitor"] for f in doc["findings"] if f["kind"] == "choice_not_kept"}
    assert lost == {"rejected", "accepted", "withdrawn"}, doc["findings"]  # each chose once
    assert status == 1
