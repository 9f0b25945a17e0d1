"""The real servers behind Debian's nginx, as newcomers configure it (tests/nginx.py starts
it on loopback; scripts/ensure-nginx installs it): caching, compression, buffering, prefixes.

Found with nginx 1.22 in front of uvicorn and gunicorn, checked in Chromium (probe-A):

- `proxy_cache` with `proxy_cache_valid 200 10m` (the blog recipe) and a page whose own
  `Vary` comes on two lines (`Vary: Origin`, `Vary: Accept-Encoding`, from
  `headers.add`/`headers.append`): the middleware added `Cookie` to the first line, and
  nginx 1.22 keys its cache on the last Vary line only. A visitor who accepted everything
  got the page first; every later visitor, without any cookie, got that copy: no banner,
  the accepting visitor's consent id in the page, and the analytics tag let through, which
  set `_ga` in their browser (Chromium: `_ga` present, the banner hidden, `X-Cache: HIT`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .nginx import nginx
from .servers import Running, free_port, raw_get, running, server_command

pytestmark = pytest.mark.server

CACHING = """
server {{
    listen 127.0.0.1:{{port}};
    gzip on;
    location / {{
        proxy_pass http://127.0.0.1:{upstream};
        proxy_cache cache;
        proxy_cache_valid 200 10m;
        add_header X-Cache $upstream_cache_status;
    }}
}}
"""


@pytest.fixture
def upstream(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    server, app = request.param
    port = free_port()
    command = server_command(server, f"tests.fixtures.deploy_apps:{app}", port)
    with running(command, port, tmp_path / f"{server}.log") as started:
        yield started


def _accept_all(port: int) -> str:
    """The consent cookie of a visitor who accepted everything, through the proxy."""
    answer = raw_get(
        port,
        "/consent",
        {"Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
        body=b"action=accept_all&return_to=/",
    )
    assert answer.status == 303, answer
    (cookie,) = [v for v in answer.values(b"set-cookie") if v.startswith(b"consent=")]
    return cookie.split(b";")[0].decode()


@pytest.mark.parametrize(
    "upstream",
    [("uvicorn", "two_vary"), ("gunicorn", "flask_two_vary"), ("waitress", "flask_two_vary")],
    indirect=True,
    ids=["uvicorn", "gunicorn", "waitress"],
)
def test_nginx_cache_never_gives_a_decided_visitors_page_to_another(upstream: Running) -> None:
    with nginx(CACHING.format(upstream=upstream.port)) as proxy:
        cookie = _accept_all(proxy.port)
        for _ in range(2):  # the second from nginx's cache, if it keeps the page
            decided = raw_get(proxy.port, "/", {"Cookie": cookie})
            assert decided.status == 200
            assert b'"decided":true' in decided.body
        newcomer = raw_get(proxy.port, "/")
        assert newcomer.status == 200
        assert b'"decided":false' in newcomer.body, newcomer.values(b"x-cache")
        assert re.search(
            rb'<script type="text/plain" data-consent-category="analytics">', newcomer.body
        )
        # One Vary line, which names Cookie: what every cache reads alike.
        (vary,) = newcomer.values(b"vary")
        assert b"Cookie" in vary and b"Origin" in vary and b"Accept-Encoding" in vary
