"""One middleware shared by many threads, as under waitress or a threaded gunicorn: what it
learns from the app's responses is not lost when threads learn at the same moment."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from consent_middleware import ConsentWSGIMiddleware

from .conftest import make_config
from .raw import wsgi_request

THREADS = 8
ROUNDS = 40
JSON_POST = [(b"content-type", b"application/json"), (b"sec-fetch-site", b"same-origin")]


@pytest.fixture
def tight_switching() -> Iterator[None]:
    """Threads switch as often as they can, so that races show in a few rounds."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _app_setting_ga_under_its_section(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    section = environ["PATH_INFO"].split("/")[1]
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", f"_ga=GA1.1; Path=/{section}")]
    )
    return [b"ok"]


def _consent_cookie(app: Any, action: str) -> str:
    answer = wsgi_request(
        app, "POST", "/consent", headers=JSON_POST, body=f'{{"action": "{action}"}}'.encode()
    )
    return next(c for c in answer.set_cookies() if c.startswith("consent")).split(";")[0]


@pytest.mark.usefixtures("tight_switching")
def test_a_refusal_expires_a_cookie_at_every_place_the_app_set_it_from_many_threads() -> None:
    sections = [f"/s{k}" for k in range(THREADS)]
    for round_ in range(ROUNDS):
        app = ConsentWSGIMiddleware(_app_setting_ga_under_its_section, config=make_config())
        accepted = _consent_cookie(app, "accept_all")
        barrier = threading.Barrier(THREADS)

        def visit(
            section: str,
            app: Any = app,
            accepted: str = accepted,
            barrier: threading.Barrier = barrier,
        ) -> None:
            barrier.wait()
            wsgi_request(app, "GET", f"{section}/page", headers=[(b"cookie", accepted.encode())])

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(visit, sections))
        # Later visits to every section, one at a time: the app keeps setting _ga there.
        for section in sections:
            wsgi_request(app, "GET", f"{section}/page", headers=[(b"cookie", accepted.encode())])
        # The visitor now refuses analytics: _ga goes wherever the app put it.
        answer = wsgi_request(
            app,
            "POST",
            "/consent",
            headers=[*JSON_POST, (b"cookie", f"{accepted}; _ga=GA1.1".encode())],
            body=b'{"action": "reject_all"}',
        )
        expired = {
            match.group(1)
            for value in answer.set_cookies()
            if value.startswith("_ga=;")
            for match in [re.search(r"Path=([^;]*)", value)]
            if match
        }
        missing = sorted(set(sections) - expired)
        assert not missing, f"round {round_}: _ga is never expired at {missing}"
