"""Integrica on Flask with routes that fail, for the fault runs (see `faults.py`)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import request
from werkzeug.wrappers import Response

import examples.flask_app.app as site
from consent_middleware import ConsentWSGIMiddleware

from .faults import TRACKING, AppFault, apply_breaks, faulty_config, note_closed

app = site.app
_enforcing = app.wsgi_app
assert isinstance(_enforcing, ConsentWSGIMiddleware)
app.wsgi_app = ConsentWSGIMiddleware(  # type: ignore[method-assign]
    _enforcing.app, config=faulty_config(site.config)
)
BROKEN = apply_breaks()


class ClosingBody:
    """A body iterable that notes its close(), and may raise or dawdle while iterated."""

    def __init__(self, tag: str, chunks: int, *, raise_at: int | None, pause: float) -> None:
        self.tag = tag
        self.chunks = chunks
        self.raise_at = raise_at
        self.pause = pause

    def __iter__(self) -> Iterator[bytes]:
        yield b"<html><head><title>body</title></head><body>"
        for n in range(self.chunks):
            if n == self.raise_at:
                raise AppFault("load: the body iterator fails")
            if self.pause:
                time.sleep(self.pause)
            yield f"<p>part {n}</p>".encode() * 40
        yield b"</body></html>"

    def close(self) -> None:
        note_closed(self.tag)


def _with_cookies(response: Response) -> Response:
    for name, value in TRACKING:
        response.set_cookie(name, value, path="/", httponly=True)
    return response


@app.get("/_fault/raise-before")
def raise_before() -> Response:
    raise AppFault("load: the app fails before it starts its response")


@app.get("/_fault/raise-after")
def raise_after() -> Response:
    def body() -> Iterator[bytes]:
        yield b"<html><body><p>the first part of the page</p>"
        raise AppFault("load: the app fails after it started its response")

    return _with_cookies(Response(body(), mimetype="text/html"))


@app.get("/_fault/body")
def body() -> Response:
    """?tag=…&raise_at=N&pause=S&chunks=N&type=html|text: the body is our iterable itself."""
    raise_at = request.args.get("raise_at")
    iterable = ClosingBody(
        request.args.get("tag", ""),
        int(request.args.get("chunks", "10")),
        raise_at=None if raise_at is None else int(raise_at),
        pause=float(request.args.get("pause", "0")),
    )
    mimetype = "text/plain" if request.args.get("type") == "text" else "text/html"
    response = Response(iterable, mimetype=mimetype, direct_passthrough=True)
    return _with_cookies(response)
