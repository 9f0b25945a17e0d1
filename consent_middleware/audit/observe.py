"""What one visitor's browser does: cookies in its jar, cookies set on the way (by servers and
by scripts, kept or removed again), storage keys, and the requests it makes.

Script writes are caught by an init script that wraps the `document.cookie` setter, the
Cookie Store API and `Storage.prototype.setItem` in every frame, and reports each write to
Python through a binding, as it happens: a cookie that a script sets and removes again
before the page settles is seen all the same. Server cookies are read from the raw
`Set-Cookie` headers of every response (HttpOnly ones, and ones deleted again, included).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from ..cookies import parse_set_cookie
from .crawl import Scope
from .model import CookieEvent, JarCookie, RequestSeen, State, Step, StepKind, StorageItem, Visitor

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page, Request, Response

__all__ = ["BINDING", "INIT_SCRIPT", "Observer"]

BINDING = "__consentAudit"

#: Runs before any script of every document (frames included). Wrapped setters report, then
#: do what the original does; `navigator.webdriver` reads false, as in a browser not driven.
INIT_SCRIPT = """
(() => {
  const report = (kind, data) => {
    try { globalThis.BINDING(kind, data); } catch (e) {}
  };
  const here = () => ({url: location.href, host: location.hostname, origin: location.origin});
  try {
    Object.defineProperty(Navigator.prototype, 'webdriver', {
      get: () => false, configurable: true, enumerable: true,
    });
  } catch (e) {}
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  if (cookie && cookie.set) {
    Object.defineProperty(Document.prototype, 'cookie', {
      configurable: true,
      enumerable: cookie.enumerable,
      get() { return cookie.get.call(this); },
      set(value) {
        report('cookie', Object.assign({value: String(value)}, here()));
        cookie.set.call(this, value);
      },
    });
  }
  if (typeof CookieStore !== 'undefined') {
    const set = CookieStore.prototype.set, remove = CookieStore.prototype.delete;
    const options = (a, b) => (a && typeof a === 'object') ? a : {name: a, value: b};
    CookieStore.prototype.set = function (a, b) {
      const o = options(a, b);
      report('cookieStore', Object.assign({
        name: String(o.name), domain: o.domain || null,
        expires: typeof o.expires === 'number' ? o.expires : null, deletion: false,
      }, here()));
      return set.apply(this, arguments);
    };
    CookieStore.prototype.delete = function (a) {
      const o = options(a);
      report('cookieStore', Object.assign({
        name: String(o.name), domain: o.domain || null, expires: null, deletion: true,
      }, here()));
      return remove.apply(this, arguments);
    };
  }
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (key, value) {
    let area = 'session';
    try { if (this === window.localStorage) area = 'local'; } catch (e) {}
    report('storage', Object.assign({key: String(key), area}, here()));
    return setItem.apply(this, arguments);
  };
})();
""".replace("BINDING", BINDING)

_STORAGE_SCRIPT = """() => {
  const items = [];
  for (const area of ['local', 'session']) {
    try {
      const s = area === 'local' ? window.localStorage : window.sessionStorage;
      for (let i = 0; i < s.length; i++) items.push([area, s.key(i)]);
    } catch (e) {}
  }
  return {origin: location.origin, items};
}"""


class Observer:
    """Collects what happens in one browser context, step by step."""

    def __init__(self, visitor: Visitor, scope: Scope, clock: Callable[[], float]) -> None:
        self.visitor: Visitor = visitor
        self.scope = scope
        self.clock = clock
        self._events: list[CookieEvent] = []
        self._storage_writes: list[StorageItem] = []
        self._requests: list[RequestSeen] = []
        self._responses: list[Response] = []
        self._inflight: set[Request] = set()
        self._last_activity = time.monotonic()

    async def attach(self, context: BrowserContext) -> None:
        await context.expose_binding(BINDING, self._on_binding)
        await context.add_init_script(script=INIT_SCRIPT)
        context.on("request", self._on_request)
        context.on("requestfinished", self._on_request_done)
        context.on("requestfailed", self._on_request_done)
        context.on("response", self._on_response)

    # -- events --------------------------------------------------------------------------

    def _on_binding(self, source: Any, kind: object, data: object) -> None:
        if not isinstance(data, dict):
            return  # not our init script's call: pages can see the binding too
        if kind == "cookie":
            self._script_cookie(str(data.get("value", "")), data)
        elif kind == "cookieStore":
            self._events.append(
                CookieEvent(
                    name=str(data.get("name", "")),
                    domain=str(data.get("domain") or data.get("host") or ""),
                    set_by="script",
                    url=str(data.get("url", "")),
                    deletion=bool(data.get("deletion")),
                    lifetime=_lifetime_from_ms(data.get("expires")),
                )
            )
        elif kind == "storage":
            origin = str(data.get("origin", ""))
            key = str(data.get("key", ""))
            area: Literal["local", "session"] = (
                "local" if data.get("area") == "local" else "session"
            )
            self._storage_writes.append(StorageItem(key, origin, area))

    def _script_cookie(self, value: str, data: dict[str, Any]) -> None:
        parsed = parse_set_cookie(value)
        if parsed.http_only:
            return  # browsers ignore a script's write that asks for HttpOnly
        self._events.append(
            CookieEvent(
                name=parsed.name,
                domain=parsed.domain or str(data.get("host", "")),
                set_by="script",
                url=str(data.get("url", "")),
                deletion=parsed.is_deletion,
                secure=parsed.secure,
                lifetime=_lifetime(parsed.max_age, parsed.expires),
            )
        )

    def _on_request(self, request: Request) -> None:
        self._inflight.add(request)
        self._last_activity = time.monotonic()
        url = request.url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            return
        self._requests.append(
            RequestSeen(
                url=url,
                host=parts.hostname,
                method=request.method,
                resource_type=request.resource_type,
                third_party=not self.scope.first_party(parts.hostname),
            )
        )

    def _on_response(self, response: Response) -> None:
        self._responses.append(response)

    def _on_request_done(self, request: Request) -> None:
        self._inflight.discard(request)
        self._last_activity = time.monotonic()

    # -- steps ---------------------------------------------------------------------------

    async def settle(self, quiet: float = 0.5, limit: float = 5.0) -> bool:
        """Wait until no request has been open for `quiet` seconds; False after `limit`."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not self._inflight and time.monotonic() - self._last_activity >= quiet:
                return True
            await asyncio.sleep(0.05)
        return False

    async def collect(
        self,
        page: Page,
        state: State,
        kind: StepKind,
        *,
        status: int | None = None,
        note: str = "",
    ) -> Step:
        """Close the current step: what was set during it, and what is there now."""
        responses, self._responses = self._responses, []
        for response in responses:
            await self._server_cookies(response)
        jar = [_jar_cookie(c) for c in await page.context.cookies()]
        storage = await _storage(page)
        step = Step(
            visitor=self.visitor,
            state=state,
            kind=kind,
            url=page.url,
            jar=jar,
            events=self._events,
            storage=storage,
            storage_writes=self._storage_writes,
            requests=self._requests,
            status=status,
            note=note,
            time=self.clock(),
            wall_time=time.time(),
        )
        self._events, self._storage_writes, self._requests = [], [], []
        return step

    async def _server_cookies(self, response: Response) -> None:
        try:
            headers = await response.headers_array()
        except Exception:  # noqa: BLE001 - a response that went away: nothing to read
            return
        host = urlsplit(response.url).hostname or ""
        for header in headers:
            if header["name"].lower() != "set-cookie":
                continue
            parsed = parse_set_cookie(header["value"])
            self._events.append(
                CookieEvent(
                    name=parsed.name,
                    domain=parsed.domain or host,
                    set_by="server",
                    url=response.url,
                    deletion=parsed.is_deletion,
                    http_only=parsed.http_only,
                    secure=parsed.secure,
                    lifetime=_lifetime(parsed.max_age, parsed.expires),
                )
            )


async def _storage(page: Page) -> list[StorageItem]:
    found: dict[tuple[str, str, str], StorageItem] = {}
    for frame in page.frames:
        try:
            result = await frame.evaluate(_STORAGE_SCRIPT)
        except Exception:  # noqa: BLE001 - a frame that navigated or is gone
            continue
        origin = str(result.get("origin", ""))
        for area, key in result.get("items", []):
            item = StorageItem(str(key), origin, "local" if area == "local" else "session")
            found[(item.origin, item.area, item.key)] = item
    return list(found.values())


def _jar_cookie(cookie: Any) -> JarCookie:
    expires = cookie.get("expires")
    return JarCookie(
        name=str(cookie.get("name", "")),
        domain=str(cookie.get("domain", "")),
        path=str(cookie.get("path", "/")),
        http_only=bool(cookie.get("httpOnly")),
        secure=bool(cookie.get("secure")),
        expires=float(expires) if isinstance(expires, (int, float)) and expires > 0 else None,
        same_site=cookie.get("sameSite"),
    )


def _lifetime(max_age: int | None, expires: datetime | None) -> float | None:
    if max_age is not None:
        return float(max_age)
    if expires is not None:
        return (expires - datetime.now(timezone.utc)).total_seconds()
    return None


def _lifetime_from_ms(expires: object) -> float | None:
    if isinstance(expires, (int, float)) and not isinstance(expires, bool):
        return expires / 1000 - time.time()
    return None
