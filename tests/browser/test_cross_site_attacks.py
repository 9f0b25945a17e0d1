"""A page on another port of the same host (another origin of the same site, so the browser
sends the visitor's SameSite=Lax cookies along) tries to change the visitor's choice on the
example sites: by auto-submitted forms of every encoding, by fetch() with and without CORS,
by DELETE, and by navigating to or posting at DELETE-like paths. After each attempt the
visitor's consent, read from the site's own origin and from the cookie jar, is unchanged.

tests/browser/test_cross_site.py covers a page on another site (another IP address).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Response

from .helpers import Server, choose, jar

pytestmark = pytest.mark.browser

OPPOSITE = {"reject_all": "accept_all", "accept_all": "reject_all"}


def form_page(target: str, action: str, *, enctype: str, path: str = "/consent") -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Win</title></head>
<body><form method="post" action="{target}{path}" enctype="{enctype}">
<input type="hidden" name="action" value="{action}">
<input type="hidden" name="category" value="analytics">
<input type="hidden" name="return_to" value="/">
</form><script>document.forms[0].submit();</script></body></html>"""


def fetch_page(target: str, action: str) -> str:
    """Every fetch() a page may send; the results go to `window.__results`."""
    body = json.dumps({"action": action})
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Win</title></head>
<body><script>
const target = {json.dumps(target + "/consent")};
const attempts = [
  ["no-cors text/plain JSON", {{method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "text/plain"}}, body: {json.dumps(body)}}}],
  ["no-cors text/plain form", {{method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "text/plain"}}, body: "action={action}"}}],
  ["no-cors form", {{method: "POST", mode: "no-cors", credentials: "include",
    headers: {{"Content-Type": "application/x-www-form-urlencoded"}}, body: "action={action}"}}],
  ["cors JSON", {{method: "POST", mode: "cors", credentials: "include",
    headers: {{"Content-Type": "application/json"}}, body: {json.dumps(body)}}}],
  ["cors DELETE", {{method: "DELETE", mode: "cors", credentials: "include"}}],
  ["no-cors DELETE", {{method: "DELETE", mode: "no-cors", credentials: "include"}}],
];
(async () => {{
  const results = [];
  for (const [name, options] of attempts) {{
    try {{
      const answer = await fetch(target, options);
      results.push([name, answer.type, answer.status]);
    }} catch (error) {{
      results.push([name, "error", String(error.name)]);
    }}
  }}
  window.__results = results;
}})();
</script></body></html>"""


def navigation_page(target: str) -> str:
    """Top-level GETs and a beacon at DELETE-like URLs, one after the other."""
    urls = [
        "/consent?action=withdraw",
        "/consent?_method=DELETE",
        "/consent/delete",
        "/consent/withdraw?action=accept_all",
    ]
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Win</title></head>
<body>{"".join(f'<img src="{target}{url}">' for url in urls)}
<script>
navigator.sendBeacon({json.dumps(target + "/consent")}, "action=accept_all");
setTimeout(() => {{ location = {json.dumps(target + urls[0])}; }}, 300);
</script></body></html>"""


@pytest.fixture
def other_origin(site: Server) -> Iterator[tuple[str, dict[str, str]]]:
    """A server on another port of 127.0.0.1 whose pages are set per test (path -> HTML)."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    thread.join()
    server.server_close()


def own_state(page: Page, site: Server) -> dict[str, Any]:
    """GET /consent from the site's own origin, with the browser's cookies."""
    page.goto(site.url + "/consent")
    state: dict[str, Any] = json.loads(page.locator("body").inner_text())
    return state


def decided(page: Page, context: BrowserContext, site: Server, action: str) -> tuple[Any, Any]:
    page.goto(site.url + "/")
    choose(page, action)
    before = own_state(page, site)
    assert before["decided"] is True
    return before, jar(context)["consent"]["value"]


def assert_unchanged(
    page: Page, context: BrowserContext, site: Server, before: dict[str, Any], cookie: str
) -> None:
    assert jar(context)["consent"]["value"] == cookie
    assert own_state(page, site) == before


def writes_to(site: Server, responses: list[Response]) -> list[tuple[str, int]]:
    return sorted(
        (r.request.method, r.status)
        for r in responses
        if r.url.startswith(site.url + "/consent") and r.request.method in ("POST", "DELETE")
    )


@pytest.mark.parametrize("start", ["reject_all", "accept_all"])
@pytest.mark.parametrize(
    "enctype", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]
)
def test_an_auto_submitted_form_from_another_origin_is_refused(
    site: Server,
    other_origin: tuple[str, dict[str, str]],
    context: BrowserContext,
    page: Page,
    start: str,
    enctype: str,
) -> None:
    origin, pages = other_origin
    before, cookie = decided(page, context, site, start)
    pages["/attack"] = form_page(site.url, OPPOSITE[start], enctype=enctype)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.goto(origin + "/attack")
    assert posted.value.url == site.url + "/consent"
    assert posted.value.status == 403
    sent = posted.value.request.all_headers()
    assert sent.get("sec-fetch-site") == "same-site"
    assert sent.get("cookie", "").count("consent=") == 1  # the visitor's cookie went along
    page.wait_for_load_state()
    assert "Your choice was not saved" in page.content()
    assert_unchanged(page, context, site, before, cookie)


@pytest.mark.parametrize("start", ["reject_all", "accept_all"])
def test_fetch_from_another_origin_is_refused(
    site: Server,
    other_origin: tuple[str, dict[str, str]],
    context: BrowserContext,
    page: Page,
    start: str,
) -> None:
    origin, pages = other_origin
    before, cookie = decided(page, context, site, start)
    pages["/attack"] = fetch_page(site.url, OPPOSITE[start])
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    page.goto(origin + "/attack")
    page.wait_for_function("window.__results !== undefined")
    results = {name: (kind, status) for name, kind, status in page.evaluate("window.__results")}
    # no-cors: the request went (opaque to the page); CORS: the preflight failed, so the
    # POST or DELETE itself never left the browser; no-cors DELETE is not even allowed.
    assert results["no-cors text/plain JSON"] == ("opaque", 0)
    assert results["no-cors form"] == ("opaque", 0)
    assert results["cors JSON"] == ("error", "TypeError")
    assert results["cors DELETE"] == ("error", "TypeError")
    assert results["no-cors DELETE"] == ("error", "TypeError")
    # What reached the site was refused.
    assert writes_to(site, responses) == [("POST", 403)] * 3
    preflights = [r for r in responses if r.request.method == "OPTIONS"]
    assert {r.status for r in preflights} <= {405}
    assert_unchanged(page, context, site, before, cookie)


@pytest.mark.parametrize("start", ["reject_all", "accept_all"])
def test_delete_like_paths_from_another_origin_change_nothing(
    site: Server,
    other_origin: tuple[str, dict[str, str]],
    context: BrowserContext,
    page: Page,
    start: str,
) -> None:
    origin, pages = other_origin
    before, cookie = decided(page, context, site, start)
    pages["/navigate"] = navigation_page(site.url)
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    with (
        page.expect_response(lambda r: r.request.method == "POST") as beacon,
        page.expect_navigation(url=site.url + "/consent?action=withdraw"),
    ):
        page.goto(origin + "/navigate")
    # GETs only read (the state, or a 404); the beacon's POST was refused.
    assert beacon.value.status == 403
    assert writes_to(site, responses) == [("POST", 403)]
    assert json.loads(page.locator("body").inner_text()) == before
    for path in ("/consent/withdraw", "/consent?_method=DELETE"):
        pages["/post"] = form_page(
            site.url, "withdraw", enctype="application/x-www-form-urlencoded", path=path
        )
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.goto(origin + "/post")
        assert posted.value.status in (403, 404, 405), path
    assert_unchanged(page, context, site, before, cookie)
