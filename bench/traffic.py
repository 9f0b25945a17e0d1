"""The traffic the benchmarks send: a returning visitor's request, and responses whose
Set-Cookie values are fresh on every response (a new session id, a new `_ga` and `_fbp`
value), the way real traffic looks, or the same on every response (the best case of any
cache keyed by whole values).

The values are built inside the app, per response, so that every stack pays the same.
"""

from __future__ import annotations

import itertools
import json
import os
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass

import itsdangerous

from consent_middleware import ConsentConfig
from consent_middleware.consent import ConsentCodec

SECRET = "bench-secret-key-0123456789abcdef"
SESSION_SECRET = "bench-session-secret-0123456789"
POLICY_VERSION = "2024-02-24"
RULES = {"session": "authentication", "lang": "settings", "_ga*": "analytics", "_fbp": "marketing"}
#: The visitor's choice: settings and analytics yes, marketing no (authentication is required).
GRANTED = ("settings", "analytics")
SESSION_DATA = {"user_id": 4217, "csrf": "b1d6f0c2a9e8"}

_ATTRIBUTES = {
    "session": "Path=/; HttpOnly; Secure; SameSite=Lax",
    "lang": "Path=/; Max-Age=31536000; SameSite=Lax",
    "_ga": "Path=/; Max-Age=63072000; SameSite=Lax",
    "_fbp": "Path=/; Max-Age=7776000; SameSite=Lax",
}
#: The four cookies, with the same values on every response.
SAME_SET_COOKIES = (
    f"session=eyJ1c2VyX2lkIjo0MjE3fQ.Zx3Kqw.d41d8cd98f00b204; {_ATTRIBUTES['session']}",
    f"lang=en; {_ATTRIBUTES['lang']}",
    f"_ga=GA1.1.1234567890.1700000000; {_ATTRIBUTES['_ga']}",
    f"_fbp=fb.1.1700000000000.1234567890; {_ATTRIBUTES['_fbp']}",
)
_serial = itertools.count(1_700_000_000)


def fresh_set_cookies() -> tuple[str, ...]:
    """The four cookies with a new session id, `_ga` and `_fbp` value (`lang` keeps its value,
    as it does on a real site)."""
    n = next(_serial)
    token = os.urandom(12).hex()
    return (
        f"session={token}.{n:x}; {_ATTRIBUTES['session']}",
        f"lang=en; {_ATTRIBUTES['lang']}",
        f"_ga=GA1.1.{token[:10]}.{n}; {_ATTRIBUTES['_ga']}",
        f"_fbp=fb.1.{n}000.{token[10:20]}; {_ATTRIBUTES['_fbp']}",
    )


def same_set_cookies() -> tuple[str, ...]:
    return SAME_SET_COOKIES


def no_set_cookies() -> tuple[str, ...]:
    return ()


def fresh_pair() -> tuple[str, str]:
    """Two fresh values for the end-to-end pages: `session` and `_ga`."""
    n = next(_serial)
    token = os.urandom(12).hex()
    return f"{token}.{n:x}", f"GA1.1.{token[:10]}.{n}"


SetCookies = Callable[[], tuple[str, ...]]

JSON_BODY = b'{"user":{"id":4217,"name":"Olena"},"items":[1,2,3],"ok":true}'
HTML_BODY = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Integrica</title></head>"
    b"<body><main>" + b"<p>Integrica makes integration simple.</p>" * 40 + b"</main></body></html>"
)
PATH = "/account"
BROWSER_HEADERS: tuple[tuple[str, str], ...] = (
    ("host", "www.example.com"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/126.0.0.0 Safari/537.36",
    ),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "en-US,en;q=0.9,uk;q=0.8"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("referer", "https://www.example.com/"),
    ("sec-fetch-site", "same-origin"),
)


def make_config(**options: object) -> ConsentConfig:
    return ConsentConfig(
        secret_key=SECRET,
        cookies=RULES,
        policy_version=POLICY_VERSION,
        **options,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Visitor:
    """A returning visitor's cookies: a valid consent cookie and three others."""

    config: ConsentConfig
    consent_value: str
    #: With a valid signed Starlette session (what SessionMiddleware verifies).
    cookie_header: str
    #: The same with a valid Flask session instead (what Flask verifies).
    flask_cookie_header: str


def consent_value(config: ConsentConfig) -> str:
    codec = ConsentCodec(config)
    return codec.encode(codec.decide(GRANTED))


def flask_session_cookie() -> str:
    """A Flask session cookie holding SESSION_DATA, signed the way Flask signs it."""
    from flask import Flask

    app = Flask("bench")
    app.secret_key = SESSION_SECRET
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    value: str = serializer.dumps(dict(SESSION_DATA))
    return value


def make_visitor(config: ConsentConfig | None = None) -> Visitor:
    config = config or make_config()
    value = consent_value(config)
    session = itsdangerous.TimestampSigner(SESSION_SECRET).sign(
        b64encode(json.dumps(SESSION_DATA).encode("utf-8"))
    )

    def header(session_value: str) -> str:
        return "; ".join(
            (
                f"session={session_value}",
                "lang=en",
                "_ga=GA1.1.1234567890.1700000000",
                f"{config.cookie_name}={value}",
            )
        )

    return Visitor(config, value, header(session.decode("ascii")), header(flask_session_cookie()))
