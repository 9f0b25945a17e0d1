"""Integrica on FastAPI with routes that fail, for the fault runs (see `faults.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi.responses import Response, StreamingResponse
from starlette.middleware import Middleware

import examples.fastapi_app.app as site
from consent_middleware import ConsentMiddleware

from .faults import TRACKING, AppFault, apply_breaks, faulty_config

app = site.app
_config = faulty_config(site.config)
app.user_middleware = [
    Middleware(ConsentMiddleware, config=_config)
    if getattr(m, "cls", None) is ConsentMiddleware
    else m
    for m in app.user_middleware
]
BROKEN = apply_breaks()


def _with_cookies(response: Response) -> Response:
    for name, value in TRACKING:
        response.set_cookie(name, value, path="/", httponly=True)
    return response


@app.get("/_fault/raise-before")
def raise_before() -> Response:
    raise AppFault("load: the app fails before it starts its response")


@app.get("/_fault/raise-after")
def raise_after() -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"<html><body><p>the first part of the page</p>"
        await asyncio.sleep(0.01)
        raise AppFault("load: the app fails after it started its response")

    return _with_cookies(StreamingResponse(body(), media_type="text/html"))


@app.get("/_fault/slow-stream")
def slow_stream(chunks: int = 40) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"<html><head><title>slow</title></head><body>"
        for n in range(chunks):
            await asyncio.sleep(0.05)
            yield f"<p>part {n}</p>".encode() * 40
        yield b"</body></html>"

    return _with_cookies(StreamingResponse(body(), media_type="text/html"))
