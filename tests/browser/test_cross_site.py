"""Another site cannot make the visitor accept all, neither with a form nor with fetch()."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import BrowserContext, Page, Response, expect

from .helpers import Server, banner, consent_state, cookie_names

pytestmark = pytest.mark.browser

# 127.0.0.2 is another site than 127.0.0.1 (each IP address is a site of its own).
ATTACKER_HOST = "127.0.0.2"
ATTACK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>You won!</title></head>
<body>
<form id="attack" method="post" action="{target}/consent">
  <input type="hidden" name="action" value="accept_all">
</form>
<script>
  fetch("{target}/consent", {{
    method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "application/x-www-form-urlencoded"}},
    body: "action=accept_all",
  }}).catch(() => null).finally(() => document.getElementById("attack").submit());
</script>
</body></html>
"""


@pytest.fixture
def attacker(site: Server) -> Iterator[str]:
    """A page on another site that tries to accept all on the visitor's behalf."""
    body = ATTACK_PAGE.format(target=site.url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((ATTACKER_HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{ATTACKER_HOST}:{server.server_address[1]}/"
    server.shutdown()
    thread.join()
    server.server_close()


def test_a_cross_site_page_cannot_accept_all(
    site: Server, attacker: str, context: BrowserContext, page: Page
) -> None:
    page.goto(site.url + "/")
    expect(banner(page)).to_be_visible()

    attempts: list[Response] = []

    def record(response: Response) -> None:
        if response.request.method == "POST":
            attempts.append(response)

    page.on("response", record)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.request.resource_type == "document"
    ) as form_post:
        page.goto(attacker)
    assert form_post.value.url == site.url + "/consent"
    assert form_post.value.status == 403
    page.wait_for_url(site.url + "/consent")
    # Both the fetch() and the form were refused.
    refused = sorted((r.request.resource_type, r.status) for r in attempts)
    assert refused == [("document", 403), ("fetch", 403)]

    assert consent_state(context, site)["decided"] is False
    page.goto(site.url + "/contacts")
    expect(banner(page)).to_be_visible()
    assert cookie_names(context) == set()
