"""Real deployments under the real servers they name (issue 8): path prefixes (uvicorn and
Hypercorn --root-path, a mounted FastAPI sub-application, waitress --url-prefix),
compression in both orders and Flask-Compress, range requests, HEAD, proxies, and the
malformed input that used to give a 500 under a given server."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import brotli
import pytest

from .fixtures.deploy_apps import STATIC
from .servers import RawResponse, Running, free_port, raw_get, running, server_command

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deploy-logs")


@pytest.fixture(scope="module")
def serve(logs: Path) -> Iterator[Any]:
    """Start `app` under `server` once per module (with extra options)."""
    started: dict[tuple[str, str, tuple[str, ...]], Running] = {}
    stack: list[Any] = []

    def start(server: str, app: str, *extra: str, env: dict[str, str] | None = None) -> Running:
        key = (server, app, extra)
        if key not in started:
            port = free_port()
            target = app if ":" in app else f"tests.fixtures.deploy_apps:{app}"
            command = server_command(server, target, port, *extra)
            manager = running(command, port, logs / f"{server}-{app}-{port}.log", env)
            started[key] = manager.__enter__()
            stack.append(manager)
        return started[key]

    yield start
    for manager in reversed(stack):
        manager.__exit__(None, None, None)


def banner_urls(body: bytes) -> dict[str, str]:
    text = body.decode()
    return {
        "form": re.search(r'<form method="post" action="([^"]*)"', text)[1],  # type: ignore[index]
        "js": re.search(r'<script src="([^"]*banner\.js[^"]*)"', text)[1],  # type: ignore[index]
        "prefs": re.search(r'class="consent-more"><a href="([^"]*)"', text)[1],  # type: ignore[index]
        "prefix": json.loads(re.search(r'id="consent-state">(.*?)</script>', text)[1])["prefix"],  # type: ignore[index]
    }


def form_post(port: int, path: str, body: str, **headers: str) -> RawResponse:
    return raw_get(
        port,
        path,
        {"Content-Type": "application/x-www-form-urlencoded", **headers},
        method="POST",
        body=body.encode(),
    )


# -- 1. path prefixes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "app", "extra", "prefix", "visit"),
    [
        # uvicorn serves what a proxy forwards without the prefix; Hypercorn what keeps it.
        ("uvicorn", "root_app", ("--root-path", "/app"), "/app", "/page"),
        ("hypercorn", "root_app", ("--root-path", "/app"), "/app", "/app/page"),
        ("uvicorn", "mounted", (), "/blog", "/blog/page"),
        ("waitress", "flask_app", ("--url-prefix=/app",), "/app", "/app/page"),
    ],
    ids=["uvicorn-root-path", "hypercorn-root-path", "mounted-sub-app", "waitress-url-prefix"],
)
def test_everything_answers_under_the_prefix(
    serve: Any, server: str, app: str, extra: tuple[str, ...], prefix: str, visit: str
) -> None:
    site = serve(server, app, *extra)
    page = raw_get(site.port, visit)
    assert page.status == 200, site.output()
    urls = banner_urls(page.body)
    assert urls["form"].startswith(f"{prefix}/consent?t=")
    assert urls["js"].startswith(f"{prefix}/consent/banner.js?v=")
    assert urls["prefs"] == f"{prefix}/consent/preferences?return_to={prefix}/page"
    assert urls["prefix"] == f"{prefix}/consent"
    # The endpoints answer where the banner points (as the proxy forwards the request).
    stripped = server == "uvicorn" and app == "root_app"  # the proxy took the prefix off

    def forwarded(url: str) -> str:
        return url.removeprefix(prefix) if stripped else url

    assert raw_get(site.port, forwarded(urls["js"])).status == 200
    state = raw_get(site.port, forwarded(f"{prefix}/consent"))
    assert state.status == 200 and json.loads(state.body)["decided"] is False
    prefs = raw_get(site.port, forwarded(urls["prefs"]))
    assert prefs.status == 200
    assert f'action="{prefix}/consent?t=' in prefs.body.decode()
    css = re.search(r'<link rel="stylesheet" href="([^"]*)"', prefs.body.decode())
    assert css is not None and css[1].startswith(f"{prefix}/consent/banner.css?v=")
    assert raw_get(site.port, forwarded(css[1])).status == 200
    # A form post redirects to the prefixed page; Customize to the prefixed preferences.
    chosen = form_post(
        site.port, forwarded(urls["form"]), f"action=accept_all&return_to={prefix}/page"
    )
    assert chosen.status == 303
    assert chosen.values(b"location") == [f"{prefix}/page".encode()]
    assert any(v.startswith(b"consent=") for v in chosen.values(b"set-cookie"))
    customize = form_post(site.port, forwarded(urls["form"]), "action=customize")
    assert customize.values(b"location")[0].startswith(f"{prefix}/consent/preferences?".encode())
    # Without return_to and Referer, "back" is the prefix's own root.
    back = form_post(site.port, forwarded(urls["form"]), "action=reject_all")
    assert back.values(b"location") == [f"{prefix}/".encode()]


def test_the_parent_of_a_mounted_app_is_left_alone(serve: Any) -> None:
    site = serve("uvicorn", "mounted")
    parent = raw_get(site.port, "/")
    assert parent.body == b"the parent app"
    assert raw_get(site.port, "/consent").status == 404


# -- 2. compression -------------------------------------------------------------------------


def decoded(response: RawResponse) -> bytes:
    encoding = b",".join(response.values(b"content-encoding")).lower()
    if encoding == b"gzip":
        return gzip.decompress(response.body)
    if encoding == b"deflate":
        return zlib.decompress(response.body)
    if encoding == b"br":
        return bytes(brotli.decompress(response.body))
    if encoding == b"zstd":
        try:
            from compression import zstd  # type: ignore[import-not-found,unused-ignore]
        except ImportError:  # before Python 3.14
            from backports import zstd  # type: ignore[no-redef,unused-ignore]
        return bytes(zstd.decompress(response.body))
    assert not encoding, encoding
    return response.body


#: What Chromium offers over https (Flask-Compress then answers zstd, its first choice).
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"


@pytest.mark.parametrize(
    ("server", "app", "offered", "used"),
    [
        ("uvicorn", "gzip_inside", "gzip", b"gzip"),
        ("uvicorn", "gzip_outside", "gzip", b"gzip"),
        ("waitress", "flask_compressed", "gzip", b"gzip"),
        ("waitress", "flask_compressed", BROWSER_ENCODINGS, b"zstd"),
        ("waitress", "flask_compressed", "br", b"br"),
        ("waitress", "flask_compressed", "deflate", b"deflate"),
    ],
)
def test_compressed_pages_get_banner_and_gating(
    serve: Any, server: str, app: str, offered: str, used: bytes
) -> None:
    site = serve(server, app)
    response = raw_get(site.port, "/page", {"Accept-Encoding": offered})
    assert response.status == 200
    assert response.values(b"content-encoding") == [used], response.headers
    page = decoded(response)
    assert page.count(b'id="consent-banner"') == 1
    assert b'<script type="text/plain" data-consent-category="analytics">' in page
    assert page.endswith(b"</body></html>")
    lengths = response.values(b"content-length")
    assert not lengths or int(lengths[0]) == len(response.body)
    # A client without gzip still gets the same page, uncompressed.
    plain = raw_get(site.port, "/page")
    assert decoded(plain).count(b'id="consent-banner"') == 1


# -- 3. ranges and HEAD --------------------------------------------------------------------


def test_a_range_request_is_left_alone(serve: Any) -> None:
    site = serve("uvicorn", "static")
    file = (STATIC / "index.html").read_bytes()
    part = raw_get(site.port, "/index.html", {"Range": "bytes=0-99"})
    assert part.status == 206
    assert part.body == file[:100]
    assert part.values(b"content-range") == [f"bytes 0-99/{len(file)}".encode()]
    whole = raw_get(site.port, "/index.html")
    assert whole.status == 200 and b'id="consent-banner"' in whole.body


@pytest.mark.parametrize(("server", "app"), [("uvicorn", "root_app"), ("waitress", "flask_app")])
def test_head_and_get_agree(serve: Any, server: str, app: str) -> None:
    site = serve(server, app)
    get = raw_get(site.port, "/page")
    head = raw_get(site.port, "/page", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.values(b"content-length") == get.values(b"content-length")
    for length in get.values(b"content-length"):  # none when gating streams the page
        assert int(length) == len(get.body)
    plain = raw_get(site.port, "/me")  # and a response without page work keeps its own
    assert plain.status == 200


# -- 5. proxies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "app", "extra"),
    [
        ("uvicorn", "proxied", ("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")),
        # waitress drops X-Forwarded-* unless it trusts the proxy; it then sets the scheme.
        (
            "waitress",
            "flask_app",
            (
                "--trusted-proxy=127.0.0.1",
                "--trusted-proxy-headers=x-forwarded-proto x-forwarded-host",
            ),
        ),
        # gunicorn passes them on: Werkzeug's ProxyFix, outside the middleware, reads them.
        ("gunicorn", "flask_proxied", ()),
    ],
    ids=["uvicorn-proxy-headers", "waitress-trusted-proxy", "gunicorn-proxyfix"],
)
def test_behind_a_tls_proxy_the_consent_cookie_is_secure(
    serve: Any, server: str, app: str, extra: tuple[str, ...]
) -> None:
    site = serve(server, app, *extra)
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "www.example.com"}
    # The proxy rewrote Host; the browser's Sec-Fetch-Site is what counts.
    response = form_post(
        site.port,
        "/consent",
        "action=reject_all",
        Origin="https://www.example.com",
        **{"Sec-Fetch-Site": "same-origin"},
        **proxy,
    )
    assert response.status == 303, response.body
    consent = next(v for v in response.values(b"set-cookie") if v.startswith(b"consent="))
    assert b"; Secure" in consent
    plain = form_post(
        site.port, "/consent", "action=reject_all", **{"Sec-Fetch-Site": "same-origin"}
    )
    consent = next(v for v in plain.values(b"set-cookie") if v.startswith(b"consent="))
    assert b"Secure" not in consent


# -- 6. FastAPI's Depends(get_consent) -------------------------------------------------------


def test_get_consent_as_a_fastapi_dependency(serve: Any) -> None:
    site = serve("uvicorn", "root_app", "--root-path", "/app")
    response = raw_get(site.port, "/me")
    assert response.status == 200, response.body
    assert json.loads(response.body) == {"analytics": False, "decided": False}


# -- 9. malformed input never gives a 500 ----------------------------------------------------


@pytest.mark.parametrize("server", ["wsgiref", "werkzeug", "waitress", "gunicorn"])
@pytest.mark.parametrize("length", ["²", "9" * 5000, "-1", "1e3", "0x10"])
def test_odd_content_lengths(serve: Any, server: str, length: str) -> None:
    site = serve(server, "tests.fixtures.wire_apps:wsgi")
    response = raw_get(
        site.port,
        "/consent",
        {"Content-Type": "application/json", "Content-Length": length},
        method="POST",
    )
    # Some servers refuse such a request themselves (400/411/413); none may answer 500.
    assert response.status == 0 or response.status < 500, (response.status, site.output())


@pytest.mark.parametrize("server", ["uvicorn-h11", "uvicorn-httptools", "hypercorn"])
@pytest.mark.parametrize(
    "origin", ["http://[::1", "http://[::1]:99999", "http://a:b:c", "null", "http://\u00e9.example"]
)
def test_odd_origins_and_referers(serve: Any, server: str, origin: str) -> None:
    site = serve(server, "tests.fixtures.wire_apps:asgi")
    response = raw_get(
        site.port,
        "/consent",
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": origin, "Referer": origin},
        method="POST",
        body=b"action=accept_all",
    )
    assert response.status in (400, 403), (response.status, response.body)


@pytest.mark.parametrize("server", ["uvicorn-h11", "uvicorn-httptools", "hypercorn"])
def test_a_chunked_body_over_the_limit_is_refused(serve: Any, server: str) -> None:
    import socket

    site = serve(server, "tests.fixtures.wire_apps:asgi")
    chunk = b'{"action": "accept_all", "pad": "' + b"x" * 1000 + b'"}'
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8)) + b"0\r\n\r\n"
    request = (
        b"POST /consent HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body
    )
    with socket.create_connection(("127.0.0.1", site.port), 10) as sock:
        sock.sendall(request)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"set-cookie" not in answer.lower()


def test_if_none_match_star_on_the_banner_files(serve: Any) -> None:
    site = serve("uvicorn", "root_app", "--root-path", "/app")
    response = raw_get(site.port, "/consent/banner.js", {"If-None-Match": "*"})
    assert response.status == 304 and response.body == b""
