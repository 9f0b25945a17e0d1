"""`check-config --probe PATH`: ask the app itself, in-process, which cookies it sets, and
hold them against the config (cookies no rule names; cookies set at a Path or Domain that
their rule does not name, which only a worker that saw them set could expire).

The request goes to the app below the middleware, as a visitor who accepted everything,
so that code which checks consent first sets its cookies too.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .asgi import ConsentMiddleware
from .config import ALWAYS, ConsentConfig
from .context import CONSENT_KEY, CONTEXT_KEY
from .cookies import default_path, judged_names, parse_set_cookie
from .wsgi import ConsentWSGIMiddleware

__all__ = ["probe_findings", "probe_set_cookies"]

_MAX_DEPTH = 32


def _middleware(obj: Any) -> ConsentMiddleware | ConsentWSGIMiddleware | None:
    """The middleware instance inside an app (a Starlette app's stack is built for it)."""
    todo: list[tuple[Any, int]] = [(obj, 0)]
    seen: set[int] = set()
    while todo:
        current, depth = todo.pop(0)
        if current is None or id(current) in seen or depth > _MAX_DEPTH:
            continue
        seen.add(id(current))
        if isinstance(current, (ConsentMiddleware, ConsentWSGIMiddleware)):
            return current
        build = getattr(current, "build_middleware_stack", None)
        if callable(build) and getattr(current, "user_middleware", None) is not None:
            todo.append((build(), depth + 1))
        for name in ("wsgi_app", "middleware_stack", "app", "application"):
            inner = getattr(current, name, None)
            if inner is not None and not isinstance(inner, (str, bytes, int, float)):
                todo.append((inner, depth + 1))
    return None


def probe_set_cookies(app: Any, paths: list[str]) -> dict[str, list[str]]:
    """Path -> the Set-Cookie values the app below the middleware answers with."""
    middleware = _middleware(app)
    if middleware is None:
        raise LookupError("no ConsentMiddleware or ConsentWSGIMiddleware found in the app")
    core = middleware.core
    codec = core.policy.codec
    cookie = f"{core.config.cookie_name}={codec.encode(codec.decide(core.config.category_names))}"
    found: dict[str, list[str]] = {}
    for path in paths:
        ctx = core.begin(cookie, False, path=path)
        if isinstance(middleware, ConsentMiddleware):
            found[path] = asyncio.run(_asgi_probe(middleware.app, path, cookie, ctx))
        else:
            found[path] = _wsgi_probe(middleware.app, path, cookie, ctx)
    return found


async def _asgi_probe(app: Any, path: str, cookie: str, ctx: Any) -> list[str]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"cookie", cookie.encode("latin-1"))],
        "client": ("127.0.0.1", 1),
        "server": ("localhost", 80),
        "state": {},
        CONTEXT_KEY: ctx,
        CONSENT_KEY: ctx.consent,
    }
    out: list[str] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            for name, value in message.get("headers") or ():
                if _text(name).strip().lower() == "set-cookie":
                    out.append(_text(value))

    await app(scope, receive, send)
    return out


def _wsgi_probe(app: Any, path: str, cookie: str, ctx: Any) -> list[str]:
    import io
    import sys

    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "HTTP_COOKIE": cookie,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        CONTEXT_KEY: ctx,
        CONSENT_KEY: ctx.consent,
    }
    out: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        out.extend(v for n, v in headers if n.strip().lower() == "set-cookie")
        return lambda data: None

    body = app(environ, start_response)
    try:
        for _ in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return out


def probe_findings(config: ConsentConfig, set_cookies: dict[str, list[str]]) -> list[str]:
    """What the app's own Set-Cookie headers say about the config."""
    findings: list[str] = []
    reported: set[str] = set()
    for path, values in set_cookies.items():
        for value in values:
            parsed = parse_set_cookie(value)
            for name in judged_names(value):
                if not name or name in reported or name == config.cookie_name:
                    continue
                rule = config.rules.match(name)
                if rule is None:
                    if config.unknown_rule is None:
                        reported.add(name)
                        findings.append(
                            f"GET {path} sets cookie {name!r}, which no rule in cookies= names:"
                            " it is blocked for every visitor (give it its category)"
                        )
                    continue
                if rule.category == ALWAYS or rule.category in config.required_categories:
                    continue
                domain = (rule.domain or "").lstrip(".").lower() or None
                # Without a valid Path, the cookie lands in the request's directory.
                where_path = parsed.path or default_path(path)
                if where_path != rule.path or (parsed.domain or None) != domain:
                    reported.add(name)
                    where = f"Path={where_path}" + (
                        f" Domain={parsed.domain}" if parsed.domain else ""
                    )
                    findings.append(
                        f"GET {path} sets {name!r} at {where}, which its rule does not name:"
                        " when refused, it is expired only by a worker that saw the app set it"
                        " (not after a restart): use CookieRule"
                        f"({rule.category!r}, path={where_path!r}"
                        + (f", domain={parsed.domain!r}" if parsed.domain else "")
                        + ")"
                    )
    return findings


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)
