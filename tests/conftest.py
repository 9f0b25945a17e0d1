"""One behaviour suite over both adapters: every test that takes `site` runs once over
ASGI and once over WSGI, with the same app behaviour behind each."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from consent_middleware import ConsentConfig, ConsentMiddleware, ConsentWSGIMiddleware

SECRET = "test-secret-key-0123456789"

RULES = {
    "session": "authentication",
    "lang": "settings",
    "_ga*": "analytics",
    "_fbp": "marketing",
    "ads_id": "marketing",
}


def make_config(**overrides: Any) -> ConsentConfig:
    options: dict[str, Any] = {
        "secret_key": SECRET,
        "cookies": RULES,
        "policy_version": "2024-02-24",
    }
    options.update(overrides)
    return ConsentConfig(**options)


@dataclass
class AppSpec:
    """What the test app answers: the same for the ASGI and the WSGI version."""

    set_cookies: list[str] = field(default_factory=list)
    body: bytes = b"<html><body><p>hello</p></body></html>"
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    #: What the app saw: the Cookie header and the consent, per request.
    seen: list[dict[str, Any]] = field(default_factory=list)


def raw_asgi_app(spec: AppSpec) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        cookie = b"; ".join(v for k, v in scope["headers"] if k == b"cookie").decode("latin-1")
        consent = scope.get("consent_middleware.consent")
        spec.seen.append({"cookie": cookie, "consent": consent, "path": scope["path"]})
        headers = [(b"content-type", spec.content_type.encode())]
        headers += [(k.encode(), v.encode("latin-1")) for k, v in spec.extra_headers]
        headers += [(b"set-cookie", value.encode("latin-1")) for value in spec.set_cookies]
        headers.append((b"content-length", str(len(spec.body)).encode()))
        await send({"type": "http.response.start", "status": spec.status, "headers": headers})
        await send({"type": "http.response.body", "body": spec.body})

    return app


def raw_wsgi_app(spec: AppSpec) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        consent = environ.get("consent_middleware.consent")
        spec.seen.append(
            {
                "cookie": environ.get("HTTP_COOKIE", ""),
                "consent": consent,
                "path": environ["PATH_INFO"],
            }
        )
        headers = [("Content-Type", spec.content_type)]
        headers += list(spec.extra_headers)
        headers += [("Set-Cookie", value) for value in spec.set_cookies]
        headers.append(("Content-Length", str(len(spec.body))))
        start_response(f"{spec.status} Whatever", headers)
        return [spec.body]

    return app


class Site:
    """A client for the app under one adapter; cookies are sent explicitly, never kept."""

    def __init__(self, kind: str, spec: AppSpec, config: ConsentConfig) -> None:
        self.kind = kind
        self.spec = spec
        self.config = config
        if kind == "asgi":
            self.middleware: Any = ConsentMiddleware(raw_asgi_app(spec), config=config)
            self.client: httpx.Client = TestClient(self.middleware, base_url="http://testserver")
        else:
            self.middleware = ConsentWSGIMiddleware(raw_wsgi_app(spec), config=config)
            self.client = httpx.Client(
                transport=httpx.WSGITransport(app=self.middleware), base_url="http://testserver"
            )

    def request(
        self, method: str, path: str = "/", *, cookie: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        self.client.cookies.clear()
        headers = dict(kwargs.pop("headers", {}) or {})
        if cookie is not None:
            headers["cookie"] = cookie.encode("latin-1")
        return self.client.request(method, path, headers=headers, follow_redirects=False, **kwargs)

    def get(self, path: str = "/", **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def choose(self, choice: dict[str, Any], cookie: str | None = None) -> httpx.Response:
        return self.request(
            "POST",
            "/consent",
            cookie=cookie,
            content=json.dumps(choice).encode(),
            headers={"content-type": "application/json"},
        )

    def consent_cookie(self, choice: dict[str, Any]) -> str:
        """`consent=<value>` for a choice made through the real endpoint."""
        response = self.choose(choice)
        assert response.status_code == 200, response.text
        for value in response.headers.get_list("set-cookie"):
            if value.startswith(self.config.cookie_name + "="):
                return value.split(";", 1)[0]
        raise AssertionError("no consent cookie set")


def cookie_names(response: httpx.Response) -> list[str]:
    """Names of the cookies a response sets (not deletions)."""
    return [
        v.split("=", 1)[0].strip()
        for v in response.headers.get_list("set-cookie")
        if "max-age=0" not in v.lower()
    ]


def deleted_names(response: httpx.Response) -> list[str]:
    return [
        v.split("=", 1)[0].strip()
        for v in response.headers.get_list("set-cookie")
        if "max-age=0" in v.lower()
    ]


def form(data: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode(data, doseq=True)


@pytest.fixture(params=["asgi", "wsgi"])
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_site(adapter: str) -> Iterator[Callable[..., Site]]:
    sites: list[Site] = []

    def build(spec: AppSpec | None = None, **config: Any) -> Site:
        site = Site(adapter, spec or AppSpec(), make_config(**config))
        sites.append(site)
        return site

    yield build
    for site in sites:
        site.client.close()


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


__all__ = ["AppSpec", "Site", "cookie_names", "deleted_names", "form", "make_config", "parse_qs"]
