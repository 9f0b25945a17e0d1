"""The few request headers the middleware reads, from raw ASGI header pairs (bytes, in any
spelling): one pass, no dict of all headers, names learned once per spelling. What makes a
request a fragment or a navigation is decided here for both adapters (`is_fragment`,
`is_navigation`); the WSGI adapter reads the same headers from its environ."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

__all__ = ["RequestHeaders", "RequestSignals", "is_fragment", "is_navigation"]

(
    _OTHER,
    _COOKIE,
    _GPC,
    _DNT,
    _LANGUAGE,
    _FRAGMENT,
    _XHR,
    _REFRESH,
    _HTMX,
    _BOOSTED,
    _IF_NONE_MATCH,
    _IF_MODIFIED_SINCE,
    _DEST,
) = range(13)
_KINDS = {
    "cookie": _COOKIE,
    "sec-gpc": _GPC,
    "dnt": _DNT,
    "accept-language": _LANGUAGE,
    "hx-request": _HTMX,
    # hx-boost swaps in the whole body of a page it fetches: that page needs its banner.
    "hx-boosted": _BOOSTED,
    "turbo-frame": _FRAGMENT,
    "x-up-target": _FRAGMENT,
    "x-requested-with": _XHR,
    "x-consent-refresh": _REFRESH,
    "if-none-match": _IF_NONE_MATCH,
    "if-modified-since": _IF_MODIFIED_SINCE,
    "sec-fetch-dest": _DEST,
}
#: The destinations of a navigation: what a browser shows as a page.
_NAVIGATIONS = frozenset({"document", "iframe", "frame"})
_MAX_LEARNED = 256


def _token(value: str | bytes) -> str:
    """A header value compared as a token: trimmed, in lower case (ASGI: latin-1 bytes)."""
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return text.strip().lower()


def is_fragment(
    hx_request: bool,
    hx_boosted: str | bytes | None,
    frame: bool,
    requested_with: str | bytes | None,
) -> bool:
    """A fragment, not a page (no banner): htmx (`HX-Request`, unless hx-boost fetched a
    whole page, whose body it swaps in), a Turbo Frame or Unpoly (`frame`: `Turbo-Frame`,
    `X-Up-Target`), an XMLHttpRequest (`X-Requested-With`)."""
    return (
        (hx_request and (hx_boosted is None or _token(hx_boosted) != "true"))
        or frame
        or (requested_with is not None and _token(requested_with) == "xmlhttprequest")
    )


def is_navigation(dest: str | bytes) -> bool:
    """Whether a `Sec-Fetch-Dest` names a navigation: what a browser shows as a page. One
    that revalidates a copy (If-None-Match or If-Modified-Since) with no tag of ours has a
    copy that is no page we rewrote (`core.begin`'s `navigation`)."""
    return _token(dest) in _NAVIGATIONS


class RequestSignals(NamedTuple):
    cookie: bytes
    gpc: bool
    dnt: bool
    accept_language: bytes | None
    #: htmx, a Turbo Frame, Unpoly or an XMLHttpRequest: a fragment, not a page.
    fragment: bool
    #: banner.js asking for the page again after a choice.
    refresh: bool
    #: The validators of a browser's cached copy (see `validators.py`).
    if_none_match: bytes | None
    #: A navigation (`Sec-Fetch-Dest`) that revalidates a copy (If-None-Match or
    #: If-Modified-Since): with no tag of ours, its copy is no page we rewrote.
    navigation: bool


class RequestHeaders:
    """Reads `RequestSignals` from header pairs; shared by all requests of one middleware."""

    def __init__(self) -> None:
        self._kinds: dict[Any, int] = {k.encode(): v for k, v in _KINDS.items()}
        # Spellings known to be none of ours: most of a request's headers, skipped with one
        # set lookup each.
        self._others: set[Any] = set()

    def is_cookie(self, name: Any) -> bool:
        return self._kind(name) == _COOKIE

    def is_validator(self, name: Any, modified_since: bool) -> bool:
        """If-None-Match, and If-Modified-Since too when `modified_since`."""
        kind = self._kind(name)
        return kind == _IF_NONE_MATCH or (modified_since and kind == _IF_MODIFIED_SINCE)

    def read(self, headers: Iterable[tuple[Any, Any]]) -> RequestSignals:
        # Several are joined once at the end: HTTP/2 sends every cookie as a header of its
        # own, and a server may take tens of thousands (joining them one by one was
        # quadratic). One, the usual case, costs no list.
        cookie = b""
        cookies: list[Any] | None = None
        tags: list[Any] | None = None
        gpc = dnt = frame = refresh = htmx = modified = False
        language: bytes | None = None
        if_none_match: bytes | None = None
        boosted = requested_with = dest = None
        kinds = self._kinds
        others = self._others
        for name, value in headers:
            if name in others:
                continue
            kind = kinds.get(name)
            if kind is None:
                kind = self._kind(name)
            if not kind:
                continue
            if kind == _COOKIE:
                if not cookie:  # the first (an empty one first adds nothing)
                    cookie = value
                elif cookies is None:
                    cookies = [cookie, value]
                else:
                    cookies.append(value)
            elif kind == _GPC:
                gpc = value.strip() == b"1"
            elif kind == _DNT:
                dnt = value.strip() == b"1"
            elif kind == _LANGUAGE:
                language = value
            elif kind == _FRAGMENT:
                frame = True
            elif kind == _XHR:
                requested_with = value
            elif kind == _HTMX:
                htmx = True
            elif kind == _BOOSTED:
                boosted = value
            elif kind == _IF_NONE_MATCH:
                if if_none_match is None:
                    if_none_match = value
                elif tags is None:
                    tags = [if_none_match, value]
                else:
                    tags.append(value)
            elif kind == _REFRESH:
                refresh = True
            elif kind == _IF_MODIFIED_SINCE:
                modified = True
            elif kind == _DEST:
                dest = value
        if cookies is not None:
            cookie = b"; ".join(cookies)
        if tags is not None:
            if_none_match = b", ".join(tags)
        # Most requests carry none of these: no call then.
        fragment = (htmx or frame or requested_with is not None) and is_fragment(
            htmx, boosted, frame, requested_with
        )
        revalidates = modified or if_none_match is not None
        navigation = revalidates and dest is not None and is_navigation(dest)
        # A plain tuple in the fields' order: a NamedTuple's own constructor costs more.
        return (cookie, gpc, dnt, language, fragment, refresh, if_none_match, navigation)  # type: ignore[return-value]

    def _kind(self, name: Any) -> int:
        kind = self._kinds.get(name)
        if kind is None:
            text = name.decode("latin-1") if isinstance(name, bytes) else str(name)
            kind = _KINDS.get(text.strip(" \t").lower(), _OTHER)
            if len(self._kinds) < _MAX_LEARNED:
                self._kinds[name] = kind
                if kind == _OTHER:
                    self._others.add(name)
        return kind
