"""One request through the middleware, framework-free. The adapters call `begin` before the
app runs and `plan_response` when it starts its response, and only apply what comes back:
this module is where a cookie's fate, a page's rewriting and every header change are
decided, once, for ASGI and WSGI alike.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Protocol

from .api import GPC_JSON, STORE_PATHS, ApiRequest, ApiResponse, ConsentAPI
from .banner import BannerRenderer
from .cache import ByteBudget
from .charsets import (
    BomSniffer,
    MetaSniffer,
    Recoded,
    Utf16Page,
    charset_reading,
)
from .compression import READERS, decoder_for, shown_raw
from .config import ALWAYS, ConsentConfig
from .consent import Consent
from .consent_mode import consent_mode_default
from .context import RequestContext
from .cookies import judged_names
from .csp import csp_nonce, inline_style_nonce
from .gating import TagGate, new_tag_memo
from .html import HtmlRewriter
from .i18n import choose_language, texts_for
from .mime import SNIFFED_TYPES, HtmlSniffer, extract_mime_type, loose_essences
from .page_memo import PageMemo
from .policy import FOLDS_BYTES, FOLDS_TEXT, ConsentPolicy, RequestConsent
from .records import ConsentRecorder
from .redirects import safe_prefix
from .validators import STALE_COPY, Revalidation, page_etag, revalidation

__all__ = ["BodyFilter", "ConsentCore", "ResponsePlan"]

logger = logging.getLogger("consent_middleware")

# What a response header is to the core. Everything else passes as it is.
(
    _OTHER,
    _SET_COOKIE,
    _CONTENT_TYPE,
    _CONTENT_ENCODING,
    _CSP,
    _CONTENT_LENGTH,
    _CONTENT_RANGE,
    _ETAG,
    _VARY,
    _BANNER_OFF,
    _DISPOSITION,
    _LAST_MODIFIED,
    _CACHE_CONTROL,
    _TARGETED_CACHE,
    _FROM_FILE,
    _LOCATION,
    _DATE,
    _DROP,
) = range(18)
_KINDS = {
    "set-cookie": _SET_COOKIE,
    "content-type": _CONTENT_TYPE,
    "content-encoding": _CONTENT_ENCODING,
    "content-security-policy": _CSP,
    "content-length": _CONTENT_LENGTH,
    "content-range": _CONTENT_RANGE,
    "etag": _ETAG,
    "vary": _VARY,
    "x-consent-banner": _BANNER_OFF,
    "content-disposition": _DISPOSITION,
    "last-modified": _LAST_MODIFIED,
    "cache-control": _CACHE_CONTROL,
    "location": _LOCATION,
    # Caching fields that the caches reading them put before Cache-Control (nginx's
    # proxy_cache, RFC 9213's CDNs, Fastly, Varnish, Akamai): `private` does not hold them.
    "x-accel-expires": _TARGETED_CACHE,
    "cdn-cache-control": _TARGETED_CACHE,
    "cloudflare-cdn-cache-control": _TARGETED_CACHE,
    "surrogate-control": _TARGETED_CACHE,
    # The server sends a file instead of the body (nginx, Apache, lighttpd, LiteSpeed).
    "x-accel-redirect": _FROM_FILE,
    "x-sendfile": _FROM_FILE,
    "x-lighttpd-send-file": _FROM_FILE,
    "x-litespeed-location": _FROM_FILE,
    "date": _DATE,
}
#: The request headers that make a request a fragment's (no banner): a page varies on them.
_FRAGMENT_VARY = ["HX-Request", "HX-Boosted", "Turbo-Frame", "X-Up-Target", "X-Requested-With"]
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")
_MAX_LEARNED = 512
#: Distinct WSGI status lines remembered (a site sends a handful).
_MAX_STATUS_LINES = 256
_XHTML = "application/xhtml+xml"
_PAGE_TYPES = ("text/html", _XHTML)
#: The page type of a response with no type that browsers know: they sniff its body.
_SNIFFED = "sniffed"
#: End tags before the banner in an HTML page (not XHTML, where a stray one is an error),
#: innermost kinds first. Where a page leaves one of these open at its `</body>`, the
#: banner would be part of it: its form dropped as a nested form (its buttons then submit
#: the page's form), or the banner hidden in a `<select>`, a `<datalist>`, a closed
#: `<details>` or `<dialog>`, SVG, or the fallback content of a `<video>`, `<audio>` or
#: `<canvas>` (never shown where they are supported). Where none is open, the parser
#: ignores them. A `<noscript>` and a `<template>` first: the banner never goes inside
#: one, but a page that ends in one, unclosed, gets the banner at its end, in the
#: noscript's text (to a browser with JavaScript) or the template's inert content. The
#: noscript first (its text can hold no template); the template's end tag closes what is
#: open in it, in any insertion mode.
_CLOSE_OPEN = (
    b"</noscript></template></svg></math></select></datalist></video></audio></canvas>"
    b"</button></label></a></object></details></dialog></form>"
)
_TEXT_TYPES = (bytes, str)
#: Whether a Set-Cookie value folds in a cookie of its own (`policy.keeps`'s guard).
_folds_bytes, _folds_text = FOLDS_BYTES.search, FOLDS_TEXT.search
_UNKNOWN: Any = object()
_FAIL_CLOSED = "consent-middleware failed on a response; sending only required cookies"


class BodyFilter(Protocol):
    """Streams a body through: the page rewriter, maybe inside a (de)compressor."""

    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


#: What the adapter sends instead of the app's response start: a new header list (never
#: the app's own) and the filter the body streams through (None: untouched). A plain pair,
#: `headers, body = core.plan_response(...)`: built on every response, and a tuple subclass
#: costs five times as much to make.
ResponsePlan = tuple[list[Any], "BodyFilter | None"]


class ConsentCore:
    """The policy, the banner and the endpoints, built once per middleware."""

    def __init__(self, config: ConsentConfig) -> None:
        if not isinstance(config, ConsentConfig):
            raise ValueError(f"config must be a ConsentConfig, not {type(config).__name__}")
        self.config = config
        budget = ByteBudget(config.cache_bytes)
        self.policy = ConsentPolicy(config, budget)
        self._tag_memo = new_tag_memo(budget.share(0.05), max(config.cache_size, 0))
        self._page_memo = PageMemo(budget.share(0.1), max(config.cache_size, 0))
        self.renderer = BannerRenderer(config)
        recorder = None if config.records is None else ConsentRecorder(config)
        self.api = ConsentAPI(self.policy, self.renderer, recorder)
        self.prefix = config.path_prefix
        self._prefix_slash = config.path_prefix + "/"
        # What every path of ours starts with: most requests are told apart by one call.
        self._ours = (config.path_prefix, GPC_JSON) if config.honor_gpc else config.path_prefix
        #: Whether HTML pages need any body work at all.
        self.rewrites_html = (
            config.inject_banner or config.gate_scripts or (config.google_consent_mode)
        )
        # Response header name, as the app spells it (bytes or str) -> kind.
        self._kinds: dict[Any, int] = {}
        for name, kind in _KINDS.items():
            for spelling in (name, name.title(), name.upper()):
                self._kinds[spelling] = kind
                self._kinds[spelling.encode("latin-1")] = kind
        self._varies_language = config.language is None and len(config.enabled_languages) > 1
        # The privacy signals that can take a grant back (`policy.py`): a page rewritten for
        # one visitor with and without them differs, so a cache keyed on Cookie alone
        # (nginx's proxy_cache) must not hand one to the other.
        signals = config.gpc_categories and [
            *(["Sec-GPC"] if config.honor_gpc else []),
            *(["DNT"] if config.honor_dnt else []),
        ]
        vary_cookie = ["Cookie", *(signals or [])]
        # What a page varies on, by (the banner follows Accept-Language, fragment or page
        # told apart): built once, not per response.
        self._vary: dict[tuple[bool, bool], list[str]] = {
            (language, fragments): [
                *vary_cookie,
                *(["Accept-Language"] if language else []),
                *(_FRAGMENT_VARY if fragments else []),
            ]
            for language in (False, True)
            for fragments in (False, True)
        }
        self._logged: set[str] = set()
        self._failures: set[str] = set()
        # Content-Type value, as the app spells it -> the page type it names (or None).
        self._page_types: dict[Any, str | None] = {}
        # Per consent state (and language): what every page of that state gets the same.
        self._consent_mode_heads: dict[tuple[bool, tuple[tuple[str, bool], ...]], bytes] = {}
        self._tag_gates: dict[tuple[frozenset[str], str], TagGate] = {}
        self._gate_ids = itertools.count()
        self._fingerprint: hashlib.blake2b | None = None  # the site's banner, hashed once
        # Content-Type value, as the app spells it -> ("le" or "be" for a UTF-16 label, the
        # codec of an ISO-2022-JP one).
        self._charsets: dict[Any, tuple[str | None, str | None, bool]] = {}
        #: WSGI status line -> (its code, the line the server gets): see `status_line`.
        self.status_lines: dict[str, tuple[int, str]] = {}

    # -- request side ------------------------------------------------------------------

    def begin(
        self,
        cookie_header: str | bytes,
        https: bool,
        gpc: bool = False,
        dnt: bool = False,
        method: str = "GET",
        root: str = "",
        path: str = "/",
        query: str | bytes = "",
        accept_language: str | bytes | None = None,
        fragment: bool = False,
        refresh: bool = False,
        if_none_match: str | bytes | None = None,
        raw_path: str | bytes | None = None,
        navigation: bool = False,
    ) -> RequestContext:
        """The request's context. Never raises: on a bug, the visitor is undecided.

        `query` and `accept_language` may be raw latin-1 bytes (ASGI): they are decoded only
        if a page needs them. Positional arguments are the fast way (a hot path). An
        `if_none_match` naming a page state of ours is translated for the app
        (`RequestContext.revalidation`, see `validators.py`)."""
        try:
            state = self.policy.read_request(cookie_header, https, gpc, dnt)
        except Exception:
            self._failed("read", "consent-middleware could not read the request; undecided")
            text = (
                cookie_header.decode("latin-1")
                if isinstance(cookie_header, bytes)
                else str(cookie_header)
            )
            state = RequestConsent(self.policy.codec.undecided, text, False, https)
        context = RequestContext(
            self,
            state,
            method,
            safe_prefix(root) if root else "",
            path,
            query,
            accept_language,
            fragment,
            refresh,
            # Most paths are the app's: told apart by one call.
            self.api_subpath(path) if path.startswith(self._ours) else None,
            raw_path,
        )
        if (if_none_match is not None or navigation) and self.rewrites_html:
            context.revalidation = self._revalidation(context, if_none_match or "", navigation)
        return context

    def _revalidation(
        self, ctx: RequestContext, if_none_match: str | bytes, navigation: bool
    ) -> Revalidation | None:
        text = (
            if_none_match.decode("latin-1") if isinstance(if_none_match, bytes) else if_none_match
        )
        try:
            language = choose_language(self.config, ctx.accept_language)
            found = revalidation(text, self._page_state(ctx.state.consent, language, ctx.fragment))
            if found is None and navigation:
                # A page the browser shows, revalidated with none of our tags: its copy was
                # never rewritten (kept from before the middleware was installed: no banner,
                # no gating), or is no page at all. The app sends it whole.
                return STALE_COPY
            return found
        except Exception:
            self._failed("revalidate", "consent-middleware could not read If-None-Match")
            return None

    def _page_state(self, consent: Consent, language: str, fragment: bool) -> str:
        """What a rewritten page depends on, in 12 hex digits: the visitor's state, the
        language, whether it is a fragment (no banner), and this site's banner (texts,
        assets, options), so a deploy changes it. A fragment's tag is not the whole page's:
        Chromium revalidates a copy whose Vary does not match with its ETag alone, and a
        304 would show the bannerless fragment as the page (or the page in a fragment)."""
        if self._fingerprint is None:
            config = self.config
            undecided = self.renderer.snippet(self.policy.codec.undecided, config.default_language)
            options = (config.gate_scripts, config.google_consent_mode, config.inject_banner)
            fingerprint = (undecided + repr(options)).encode("utf-8", "replace")
            # Hashed once: each tag then hashes only its key (a copy of the state after the
            # fingerprint gives the digest of the two together).
            self._fingerprint = hashlib.blake2b(fingerprint, digest_size=6)
        key = (
            consent.decided,
            consent.gpc,
            consent.explicit,
            consent.policy_version,
            consent.consent_id,
            consent.decided_ts,
            consent.notice_seen_ts,
            tuple(sorted(consent.categories.items())),
            language,
            fragment,
        )
        digest = self._fingerprint.copy()
        digest.update(repr(key).encode())
        return digest.hexdigest()

    def api_subpath(self, path: str) -> str | None:
        """The part of `path` below `path_prefix`, or None when the app should answer.
        `/.well-known/gpc.json` is ours too while Global Privacy Control is honoured."""
        if path == self.prefix:
            return ""
        if path == GPC_JSON and self.config.honor_gpc:
            return GPC_JSON
        if path.startswith(self._prefix_slash):
            sub = path[len(self.prefix) :]
            # The GPC resource is at the site's root alone: below the prefix, no endpoint.
            return "/" + sub if sub == GPC_JSON else sub
        return None

    def answer(
        self,
        ctx: RequestContext,
        subpath: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        too_large: bool = False,
        client: str | None = None,
    ) -> ApiResponse:
        """The response of an endpoint under `path_prefix`."""
        request = ApiRequest(
            ctx.method, subpath, ctx.query, headers, body, ctx.state, ctx.root, too_large, client
        )
        return self.api.handle(request)

    def log_nested(self) -> None:
        """A request that passed through another ConsentMiddleware first."""
        self._log_once(
            "found itself installed twice on one request (on an app and on a sub-app it"
            " mounts, say): the inner one steps aside and the outer one decides; remove the"
            " inner one"
        )

    def status_line(self, status: Any) -> tuple[int, str]:
        """A WSGI status line's code, and the line to hand the server, for a line not in
        `status_lines` yet (the adapter looks there first): remembered per line, as a site
        sends a handful. A line break or other control character in it goes (werkzeug and
        wsgiref would write a `Set-Cookie` after it as a header of its own): the code keeps
        its standard phrase. A line that does not start with three ASCII digits is no status
        (PEP 3333; waitress and gunicorn answer 500): werkzeug reads `20_0` as 200 and
        wsgiref writes `²00` as it is, with whatever a line break in it brings, so the
        server gets `500 Internal Server Error`."""
        head = status[:3] if isinstance(status, str) else ""
        if len(head) != 3 or not (head.isascii() and head.isdigit()):
            self._log_once(
                f"replaced a status line that names no status ({_shown(status)}) with"
                " 500 Internal Server Error"
            )
            return 500, "500 Internal Server Error"
        code = int(head)
        line = status
        if type(status) is not str or not status.isprintable():
            try:
                phrase = HTTPStatus(code).phrase
            except ValueError:
                phrase = "Unknown"
            line = f"{code} {phrase}"
            self._log_once(
                "replaced a status line holding a control character (a line break would let"
                " a server write what follows it as headers) with its code's standard phrase"
            )
        if len(self.status_lines) < _MAX_STATUS_LINES and type(status) is str:
            self.status_lines[status] = (code, line)
        return code, line

    def answer_blocks(self, subpath: str) -> bool:
        """Whether answering `subpath` may wait on the record store (ASGI: off the loop)."""
        return self.api.recorder is not None and subpath in STORE_PATHS

    # -- response side -----------------------------------------------------------------

    def keeps(
        self, set_cookie: str | bytes, state: RequestConsent, ctx: RequestContext | None = None
    ) -> bool:
        """Whether one of the app's Set-Cookie values may leave, on the response to `ctx`'s
        request. Fails closed: on a bug, only required categories' cookies stay."""
        text = set_cookie.decode("latin-1") if isinstance(set_cookie, bytes) else set_cookie
        try:
            return self.policy.keeps(text, state, ctx)
        except Exception:
            self._failed("judge", _FAIL_CLOSED)
            return self._required(text)

    def plan_response(
        self, ctx: RequestContext, status: int, headers: Iterable[Any], as_bytes: bool
    ) -> ResponsePlan:
        """The headers to send and the body filter, for the app's response start. `as_bytes`
        says how to spell added headers (ASGI: bytes, WSGI: str); the app's own headers
        leave as the same objects (one of another type than bytes or str: as the plain
        bytes or text it was judged as, `_plain`). Fails closed: on a bug, optional
        cookies are removed and the page is served as the app wrote it."""
        # A list or tuple is only read (never modified); any other iterable is read once.
        app_headers = headers if isinstance(headers, (list, tuple)) else list(headers)
        try:
            try:
                plan = self._plan(ctx, status, app_headers, as_bytes)
            except TypeError:
                # A header name the plan could not read (a bytearray): every header as the
                # plain bytes or text a server writes for it, and planned once more.
                app_headers = [_plain(n, v, as_bytes) for n, v in app_headers]
                plan = self._plan(ctx, status, app_headers, as_bytes)
            if ctx.banner_placed:
                return (self._with_placed_banner(ctx, plan[0], as_bytes), plan[1])
            return plan
        except Exception:
            self._failed("plan", _FAIL_CLOSED)
            return (self._fail_closed_headers(app_headers, as_bytes), None)

    def plan_websocket(
        self, ctx: RequestContext, headers: Iterable[Any], *, as_bytes: bool
    ) -> list[Any]:
        """The headers of a websocket handshake answer (`websocket.accept`): Set-Cookie
        judged like any response's, refused carried cookies expired."""
        return self.plan_response(ctx, 101, headers, as_bytes=as_bytes)[0]

    def plan_trailers(self, ctx: RequestContext, headers: Iterable[Any]) -> list[Any]:
        """The trailer fields to send after a response's body (ASGI `http.response.trailers`).
        Browsers ignore a Set-Cookie there, but a proxy or client that merges trailers into
        the header section would not: it is judged as in the header section. Nothing is
        added (the response start carried the deletions). Fails closed."""
        app_headers = headers if isinstance(headers, (list, tuple)) else list(headers)
        try:
            plain = [_plain(n, v) for n, v in app_headers]
            return [(n, v) for n, v in plain if self._trailer_leaves(ctx, n, v)]
        except Exception:
            self._failed("plan", _FAIL_CLOSED)
            return self._fail_closed_headers(app_headers)

    def _trailer_leaves(self, ctx: RequestContext, name: Any, value: Any) -> bool:
        kind = self._kind_of(name)
        if kind in (_DROP, _BANNER_OFF) or _breaks_lines(_text(value)):
            return False
        return kind != _SET_COOKIE or self.policy.keeps(value, ctx.state, ctx)

    def _plan(
        self, ctx: RequestContext, status: int, app_headers: Sequence[Any], as_bytes: bool
    ) -> ResponsePlan:
        state = ctx.state
        kinds = self._kinds
        page_types = self._page_types
        out: list[Any] = []
        page_type: str | None = None
        content_type: Any = None
        # Headers that matter only to a page (length, encoding, CSP, range, ETag, Vary) are
        # read again only if the response is a page, from the first of them in `out` on.
        first_special = -1
        banner_header: Any = None  # the opt-out (ours: never sent on)
        deleted: list[tuple[str, str | None, str | None]] | None = [] if state.refused else None
        for header in app_headers:
            name, value = header
            vtype = type(value)
            if vtype is str or (vtype is bytes and as_bytes):
                if type(header) is not tuple:
                    # A list: the server gets entries of its own, which the app cannot change.
                    header = (name, value)
            else:
                # A subclass (markupsafe's Markup), a bytearray, any other object, or bytes
                # under WSGI: judged, and handed over, as the plain bytes or text a server
                # writes for it. (A name that is no plain text raises here, if unhashable,
                # and `plan_response` plans again with every header made plain.)
                header = name, value = _plain(name, value, as_bytes)
                vtype = type(value)
            kind = kinds.get(name)
            if kind is None:
                kind = self._learn(name)
            if kind == _SET_COOKIE:
                # A header with attributes: `keeps`'s own memo, looked up here by the same
                # shape (the header without its value), a call less per cookie. A miss, an
                # Expires verdict (it depends on the time), or any other header: `keeps`.
                verdict: Any = None
                if vtype is bytes:
                    if 10 not in value and 13 not in value:  # LF, CR
                        end = value.find(b";")
                        if end > 0:
                            eq = value.find(b"=", 0, end)
                            if eq > 0 and not _folds_bytes(value, eq, end):
                                verdict = state.verdicts.get(value[:eq] + value[end:])
                elif "\n" not in value and "\r" not in value:  # text
                    end = value.find(";")
                    if end > 0:
                        eq = value.find("=", 0, end)
                        if eq > 0 and not _folds_text(value, eq, end):
                            verdict = state.verdicts.get(value[:eq] + value[end:])
                if verdict is False:
                    continue
                if verdict is True or self.policy.keeps(value, state, ctx, app_headers):
                    out.append(header)
                    if deleted is not None:
                        deleted.extend(
                            self.policy.deleted_places(_text(value), ctx.url_path, state.https)
                        )
                continue
            # Any other header: never one that a lax server would split into two.
            if vtype is bytes:
                if 10 in value or 13 in value:  # LF, CR (an int needle: a byte search)
                    self._log_once(f"dropped header {_shown(name)}: a line break in its value")
                    continue
            elif not value.isprintable() and ("\n" in value or "\r" in value):  # text
                self._log_once(f"dropped header {_shown(name)}: a line break in its value")
                continue
            if not kind or kind == _DATE:
                out.append(header)
                continue
            if kind == _DROP:
                self._log_once(f"dropped header {_shown(name)}: a server could send it mangled")
                continue
            if kind == _CONTENT_TYPE:
                if content_type is not None:
                    # Several: read together, as browsers read them (`mime.py`).
                    value = _text(content_type) + ", " + _text(value)
                # Remembered per spelling: one lookup (any other type: judged each time).
                page_type = (
                    page_types.get(value, _UNKNOWN) if type(value) in _TEXT_TYPES else _UNKNOWN
                )
                if page_type is _UNKNOWN:
                    page_type = self._page_type(value)
                content_type = value
                out.append(header)
                continue
            if kind == _BANNER_OFF:
                banner_header = value
                continue
            if first_special < 0:
                first_special = len(out)
            out.append(header)
        if state.needs_response_work:
            spell = _bytes_header if as_bytes else _str_header
            # The app's headers count too: beside them, the deletions must fit a proxy's
            # buffer (`policy.MAX_HEADER_BYTES`).
            other = sum(len(n) + len(v) for n, v in out) + 4 * len(out)
            out.extend(
                spell("set-cookie", v)
                for v in self.policy.expirations(state, deleted or (), other, ctx.url_path)
            )
        if content_type is None:
            page_type = _SNIFFED  # no Content-Type at all: browsers sniff the body
        if page_type is _SNIFFED and not _may_sniff(out):
            page_type = None
        if (
            page_type is None
            or not self.rewrites_html
            or status < 200
            or status in (204, 206, 304)
            or (300 <= status < 400 and self._redirects(out))
        ):
            if status == 304 and ctx.revalidation is not None and ctx.revalidation.matched:
                # The app found the page unchanged for this very state: its tag gets ours.
                self._retag(ctx, out, range(len(out)), as_bytes)
                out = [h for h in out if h is not None]
            return (out, None)
        encoding = csp = None
        lengths: list[int] = []
        validators: list[int] = []  # ETag and Last-Modified
        left_alone = False  # a part of a page (Content-Range), or a download
        banner_off = banner_header is not None and _text(banner_header).strip().lower() == "off"
        vary: list[int] = []
        caching: list[int] = []
        targeted: list[int] = []
        for index in range(first_special, len(out)) if first_special >= 0 else ():
            name, value = out[index]
            kind = kinds.get(name)
            if kind is None:
                kind = self._learn(name)
            if kind in (_OTHER, _SET_COOKIE, _CONTENT_TYPE, _DATE):
                continue
            text = _text(value)
            if kind == _CONTENT_LENGTH:
                lengths.append(index)
            elif kind == _CONTENT_ENCODING:
                encoding = text.strip(" \t").lower()
            elif kind == _CSP:
                csp = text if csp is None else csp + "," + text
            elif kind == _CONTENT_RANGE:
                left_alone = True
            elif kind == _DISPOSITION:
                # A download (an exported report, say) is saved, not shown: left as it is.
                left_alone = (
                    left_alone or text.split(";", 1)[0].strip(" \t").lower() == "attachment"
                )
            elif kind == _VARY:
                vary.append(index)
            elif kind in (_ETAG, _LAST_MODIFIED):
                validators.append(index)
            elif kind == _CACHE_CONTROL:
                caching.append(index)
            elif kind == _TARGETED_CACHE:
                targeted.append(index)
            elif kind == _FROM_FILE:
                self._log_once(
                    f"cannot rewrite a page that the server sends from a file ({_shown(name)}):"
                    " it gets no banner and no gating; serve HTML from the app (see"
                    " docs/deploying.md)"
                )
        if left_alone:
            return (out, None)
        rewriter, added, banner = self._page(ctx, banner_off, csp, page_type != _XHTML)
        body: BodyFilter | None = rewriter
        if body is not None and page_type is _SNIFFED:
            added = None  # rewritten only if its first bytes show HTML: its length is unknown
        spell = _bytes_header if as_bytes else _str_header
        if body is None:
            # Nothing to change for this state, but another state's copy would differ: the
            # validators still name the state, so that no copy is 304'd across a choice.
            removed = bool(validators) and self._retag(ctx, out, validators, as_bytes)
            removed = _add_vary(out, vary, self._vary[(False, ctx.fragment)], spell) or removed
            return ([h for h in out if h is not None] if removed else out, None)
        charset = self._charsets.get(content_type) if type(content_type) in _TEXT_TYPES else None
        if charset is None:
            text = _text(content_type)
            charset = charset_reading(text)
            if type(content_type) in _TEXT_TYPES and len(self._charsets) < _MAX_LEARNED:
                self._charsets[content_type] = charset
        order, codec, labelled = charset
        if order is not None:  # a UTF-16 page: read as UTF-8, and its snippet twice as long
            added = None if added is None else 2 * added
            body = Utf16Page(body, order, added)
        elif codec is not None:  # ISO-2022-JP: read as UTF-8, its length not kept
            body, added = Recoded(body, codec), None
        else:
            plain = BomSniffer(body, added, self._log_once)
            # No charset in the header: a <meta> may name ISO-2022-JP. Read only where the
            # length is not kept anyway (gating): recoding changes it.
            if not labelled and added is None:
                # Still unknown after a long head: gating takes a second look.
                body = MetaSniffer(body, plain, rewriter.look_twice if rewriter else None)
            else:
                body = plain
        if page_type is _SNIFFED:
            # Sniffed as browsers sniff, on the bytes as they came (a byte order mark makes
            # it text): before the charset's scan, which would hold a stream that is no page.
            body = HtmlSniffer(body)
        if encoding not in (None, "", "identity") and not shown_raw(encoding):
            body = decoder_for(encoding, body)
            if body is None:
                library = READERS.get(str(encoding))
                self._log_once(
                    f"left a {encoding}-encoded page without banner or gating: add the"
                    " compression middleware outside ConsentMiddleware (see docs/deploying.md)"
                    + (f", or install {library} so that it can read the page" if library else "")
                )
                return (out, None)
            added = None
        removed = False  # headers set to None in `out`
        if lengths:
            # The app's length (one value, however often it is sent) plus what the filter
            # adds; unknown, the server sends the page chunked.
            value = _text(out[lengths[0]][1]).strip()
            new_length: int | None = None
            if added is not None and (
                len(lengths) == 1 or all(_text(out[i][1]).strip() == value for i in lengths)
            ):
                try:
                    new_length = int(value) + added
                except ValueError:
                    new_length = None  # a broken length would be wrong after the filter too
            if new_length is not None and new_length >= 0:
                out[lengths[0]] = spell(_text(out[lengths[0]][0]), str(new_length))
                lengths = lengths[1:]
            for index in lengths:
                out[index] = None
                removed = True
        if page_type is _SNIFFED:
            # Perhaps no page at all: its length goes (it may grow), nothing else changes.
            out = [h for h in out if h is not None] if removed else out
            return (out, _NO_BODY if ctx.method == "HEAD" else _Guarded(body, None, self._failed))
        if validators:
            removed = self._retag(ctx, out, validators, as_bytes) or removed
        # A fragment gets no banner and no Consent Mode default, a page does: they differ by
        # the fragment headers, and both say so, or a cache would hand the page (its banner
        # twice on screen once swapped in) to a fragment request, or the reverse.
        fragments = ctx.fragment or banner or self.config.google_consent_mode
        wanted = self._vary[(banner and self._varies_language, fragments)]
        removed = _add_vary(out, vary, wanted, spell) or removed
        consent = ctx.state.consent
        if banner and consent.consent_id is None:
            # The banner's forms carry a token of this one page, from which a first
            # choice's consent id derives: no shared cache may hand the page to another.
            removed = _keep_private(out, caching, spell) or removed
            for index in targeted:
                out[index] = None  # it would let that cache keep the page all the same
                removed = True
        if removed:
            out = [h for h in out if h is not None]
        # HEAD: the headers of the GET, and no body at all (some WSGI servers would send one).
        guarded = _Guarded(body, added, self._failed)
        return (out, _NO_BODY if ctx.method == "HEAD" else guarded)

    def _with_placed_banner(self, ctx: RequestContext, out: list[Any], as_bytes: bool) -> list[Any]:
        """The headers of a page whose template placed the banner (`inject_banner=False`),
        made to fit it as a page with the injected banner is: it varies on the Cookie header
        and the signals (and the language, when the banner follows it), and, for a visitor
        without a consent id (its forms carry a token of this one page), no shared cache may
        keep it. `out` is the plan's own list."""
        kinds = self._kinds
        vary: list[int] = []
        caching: list[int] = []
        targeted: list[int] = []
        for index, (name, _) in enumerate(out):
            kind = kinds.get(name)
            if kind is None:
                kind = self._learn(name)
            if kind == _VARY:
                vary.append(index)
            elif kind == _CACHE_CONTROL:
                caching.append(index)
            elif kind == _TARGETED_CACHE:
                targeted.append(index)
        spell = _bytes_header if as_bytes else _str_header
        removed = _add_vary(out, vary, self._vary[(self._varies_language, False)], spell)
        if ctx.state.consent.consent_id is None:
            removed = _keep_private(out, caching, spell) or removed
            for index in targeted:
                out[index] = None
                removed = True
        return [h for h in out if h is not None] if removed else out

    def _retag(
        self, ctx: RequestContext, out: list[Any], indices: Iterable[int], as_bytes: bool
    ) -> bool:
        """The validators at `indices` in `out`, of a page rewritten for this request's
        state (a 304 included): each ETag names the state too (`validators.py`), and
        Last-Modified goes (a date cannot name a state). Says whether any became None
        (removed)."""
        kinds = self._kinds
        state: str | None = None
        removed = False
        for index in indices:
            name, value = out[index]
            kind = kinds.get(name)
            if kind is None:
                kind = self._learn(name)
            if kind == _LAST_MODIFIED:
                out[index] = None
                removed = True
            elif kind == _ETAG:
                if state is None:
                    language = choose_language(self.config, ctx.accept_language)
                    state = self._page_state(ctx.state.consent, language, ctx.fragment)
                tag = page_etag(_text(value), state)
                spell = _bytes_header if as_bytes else _str_header
                out[index] = None if tag is None else spell(_text(name), tag)
                removed = removed or tag is None
        return removed

    def _page(
        self, ctx: RequestContext, banner_off: bool, csp: str | None, html: bool
    ) -> tuple[HtmlRewriter | None, int | None, bool]:
        """The page's rewriter (banner, gating, consent mode), how many bytes it adds (None
        when unknown), and whether the banner is in it; `html`: not XHTML."""
        config = self.config
        consent = ctx.state.consent
        banner = (
            config.inject_banner
            and not ctx.fragment
            and not banner_off
            and not (config.excluded and any(p.match(ctx.path) for p in config.excluded))
        )
        nonce = None if csp is None else csp_nonce(csp)
        language = choose_language(config, ctx.accept_language)
        snippet = b""
        if banner:
            inline, style_nonce = (True, None) if csp is None else inline_style_nonce(csp)
            snippet = self.renderer.snippet(
                consent,
                language,
                nonce=nonce,
                return_to=ctx.return_to,
                root=ctx.root,
                inline_style=inline,
                style_nonce=style_nonce,
            ).encode("ascii")
            if html:
                snippet = _CLOSE_OPEN + snippet
        head = b""
        if config.google_consent_mode and not ctx.fragment:
            head = self._consent_mode_head(consent, nonce)
        tags = None
        # With every category granted too: a tag naming no category (a typo, a category of
        # another site) stays gated, as it did before the choice.
        if config.gate_scripts:
            tags = self._tag_gate(consent, language)
        if not (snippet or head or tags):
            return None, 0, False
        if (len(head) + len(snippet)) % 2:
            # An even count, so that a UTF-16 page left as it was can be padded to the
            # length announced for it (`charsets.BomSniffer`).
            if snippet:
                snippet += b" "
            else:
                head += b" "
        rewriter = HtmlRewriter(
            head_snippet=head, body_snippet=snippet, tags=tags, memo=self._page_memo, xml=not html
        )
        added = rewriter.added_length if rewriter.length_is_predictable else None
        return rewriter, added, banner

    def _consent_mode_head(self, consent: Consent, nonce: str | None) -> bytes:
        """Google Consent Mode's default command; the same few per consent state, so
        remembered (a page's CSP nonce is fresh per response: those are built each time)."""
        if nonce is not None:
            return consent_mode_default(consent, self.config.google_mapping, nonce=nonce)
        key = (consent.decided, tuple(consent.categories.items()))
        head = self._consent_mode_heads.get(key)
        if head is None:
            head = consent_mode_default(consent, self.config.google_mapping, nonce=None)
            if len(self._consent_mode_heads) < _MAX_LEARNED:
                self._consent_mode_heads[key] = head
        return head

    def _tag_gate(self, consent: Consent, language: str) -> TagGate:
        """The tag filter for what `consent` grants, speaking `language`: immutable, so one
        serves every page of that grant and language, with its own share of the tag memo."""
        granted = frozenset(consent.granted)
        key = (granted, language)
        gate = self._tag_gates.get(key)
        if gate is None:
            texts = texts_for(self.config, language)
            kept = len(self._tag_gates) < _MAX_LEARNED
            gate = TagGate(
                granted,
                placeholder_text=texts["placeholder"],
                placeholder_button=texts["placeholder_button"],
                category_labels={
                    cat.name: texts[f"category.{cat.name}.label"]
                    for cat in self.config.category_list
                },
                language=language,
                # A distinct id per gate, even when threads race here (`next` is atomic).
                memo=self._tag_memo if kept else None,
                memo_id=next(self._gate_ids) if kept else 0,
            )
            if kept:
                self._tag_gates[key] = gate
        return gate

    def _redirects(self, out: list[Any]) -> bool:
        """Whether a 3xx response goes elsewhere: without a Location, browsers show its
        page (and run its scripts)."""
        return any(self._kind_of(name) == _LOCATION for name, _ in out)

    def _page_type(self, value: Any) -> str | None:
        """The page type a Content-Type value names (text/html or application/xhtml+xml),
        or None, for a spelling not yet in `_page_types`: remembered there (bytes and text
        only), so that later responses pay one dict lookup in `_plan`."""
        text = _text(value)
        essence = extract_mime_type(text)[0]
        page_type = essence if essence in _PAGE_TYPES else None
        if page_type is None:
            # What Chromium takes for a page is one, also where the Fetch standard says not.
            page_type = next((t for t in loose_essences(text) if t in _PAGE_TYPES), None)
        if page_type is None and (essence is None or essence in SNIFFED_TYPES):
            page_type = _SNIFFED  # no type a browser knows: it sniffs the body
        if type(value) in _TEXT_TYPES and len(self._page_types) < _MAX_LEARNED:
            self._page_types[value] = page_type
        return page_type

    def _kind_of(self, name: Any) -> int:
        """A header name's kind, learned on first sight (`_plan` inlines this: a hot path)."""
        kind = self._kinds.get(name)
        return self._learn(name) if kind is None else kind

    def _learn(self, name: Any) -> int:
        """The kind of a header name seen for the first time in this spelling. Servers trim
        spaces and tabs after names (and Chromium does), so `b"Set-Cookie "` is judged as a
        Set-Cookie; a name that is no HTTP token at all, or that starts with a space or a
        tab, may reach the wire mangled (wsgiref writes it as it is), so such a header is
        dropped."""
        if isinstance(name, (bytes, bytearray)):
            text = bytes(name).decode("latin-1")
        elif isinstance(name, str):
            text = name
        else:
            return _DROP
        trimmed = text.strip(" \t").lower()
        # A name after a space or tab: werkzeug and wsgiref write it as it is, and browsers
        # read such a line as more of the header before it (a deletion's Max-Age=0 would
        # go on with this header's "; Max-Age=31536000").
        folds = text[:1] in (" ", "\t")
        kind = (
            _DROP
            if folds or not trimmed or not _TCHAR.issuperset(trimmed)
            else _KINDS.get(trimmed, 0)
        )
        if len(self._kinds) < _MAX_LEARNED:
            self._kinds[name] = kind
        return kind

    def _required(self, set_cookie: str) -> bool:
        """After a failure: a Set-Cookie stays only if each of its names is required."""
        try:
            categories = {self.policy.category_of(n) for n in judged_names(set_cookie)}
        except Exception:
            return False
        return all(c == ALWAYS or c in self.config.required_categories for c in categories)

    def _fail_closed_headers(self, app_headers: Sequence[Any], as_bytes: bool = True) -> list[Any]:
        out = []
        for header in app_headers:
            try:
                name, value = header
                header = name, value = _plain(name, value, as_bytes)
                kind = self._learn(name)
                text = _text(value)
            except Exception:
                continue
            if kind in (_DROP, _BANNER_OFF) or _breaks_lines(text):
                continue
            if kind != _SET_COOKIE or self._required(text):
                out.append(header)
        return out

    def _failed(self, kind: str, message: str) -> None:
        """The middleware's own failure: logged with its traceback the first time of each
        kind (read, judge, plan, page), then only at debug level, so that a bug on a busy
        site is seen without flooding the log."""
        if kind in self._failures:
            logger.debug(message, exc_info=True)
            return
        self._failures.add(kind)
        logger.exception("%s (logged once; later ones at debug level)", message)

    def _log_once(self, message: str) -> None:
        if message not in self._logged and len(self._logged) < _MAX_LEARNED:
            self._logged.add(message)
            logger.warning("consent-middleware %s (logged once)", message)


class _Guarded:
    """A body filter that cannot break the page: should the filter fail mid-stream, the rest
    passes as the app wrote it (logged once), padded at the end so that a Content-Length
    announced with the snippet still holds."""

    __slots__ = ("_inner", "_added", "_in", "_out", "_failed", "_report")

    def __init__(
        self, inner: BodyFilter, added: int | None, report: Callable[[str, str], None]
    ) -> None:
        self._inner = inner
        self._added = added
        self._report = report
        self._in = self._out = 0
        self._failed = False

    def feed(self, chunk: bytes) -> bytes:
        if not self._failed:
            try:
                out = self._inner.feed(chunk)
            except Exception:
                self._fail()
                out = chunk
        else:
            out = chunk
        self._in += len(chunk)
        self._out += len(out)
        return out

    def finish(self) -> bytes:
        out = b""
        if not self._failed:
            try:
                out = self._inner.finish()
            except Exception:
                self._fail()
        self._out += len(out)
        if self._failed and self._added is not None:
            out += b" " * max(self._in + self._added - self._out, 0)
        return out

    def _fail(self) -> None:
        self._failed = True
        self._report("page", "consent-middleware could not rewrite a page; the rest passes as is")


class _NoBody:
    """Drops a body: the answer to a HEAD request has none."""

    __slots__ = ()

    def feed(self, chunk: bytes) -> bytes:
        return b""

    def finish(self) -> bytes:
        return b""


_NO_BODY = _NoBody()


def _may_sniff(out: list[Any]) -> bool:
    """Whether a browser may sniff this response's body as HTML: not under
    `X-Content-Type-Options: nosniff`, and not when it is empty (`Content-Length: 0`)."""
    for name, value in out:
        key = _text(name).strip(" \t").lower()
        if key == "x-content-type-options" and "nosniff" in _text(value).lower():
            return False
        if key == "content-length" and _text(value).strip(" \t") == "0":
            return False
    return True


def _breaks_lines(value: object) -> bool:
    if type(value) is bytes:
        return 10 in value or 13 in value  # LF, CR
    return isinstance(value, str) and ("\n" in value or "\r" in value)


def _plain(name: Any, value: Any, as_bytes: bool = True) -> tuple[Any, Any]:
    """A header as the server writes it, of plain `bytes` or `str`. A value of another type
    (a `str` subclass such as markupsafe's `Markup`, a `bytearray`, an int, any object) is
    its bytes or its `str()`: what werkzeug's server and wsgiref (under `python -O`) write
    with `"%s"`, so that the line break a `__str__` holds is seen and the header dropped.
    Under WSGI (not `as_bytes`), where a value is text (PEP 3333), bytes too are their
    `str()`: werkzeug writes `Set-Cookie: b'session=1'`, a cookie named `b'session`.
    A name that is neither bytes nor text stays as it is (and is dropped)."""
    if not as_bytes and type(value) is not str:
        value = str(value)
    elif type(value) not in _TEXT_TYPES:
        value = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else str(value)
    if type(name) not in _TEXT_TYPES:
        if isinstance(name, (bytes, bytearray, memoryview)):
            name = bytes(name)
        elif isinstance(name, str):
            name = str(name)
    return (name, value)


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)


def _shown(name: Any) -> str:
    return repr(_text(name))[:60]


def _bytes_header(name: str, value: str) -> tuple[bytes, bytes]:
    return (name.encode("latin-1"), value.encode("latin-1"))


def _str_header(name: str, value: str) -> tuple[str, str]:
    return (name.title(), value)


def _add_vary(out: list[Any], at: list[int], wanted: list[str], spell: Any) -> bool:
    """Make the response vary on `wanted` too, merged into the app's Vary headers: into one
    line, since nginx up to 1.22 keys its cache on the last Vary line alone (a page whose
    `Vary: Cookie` was on another line went to every visitor). Says whether any line became
    None (removed)."""
    if not at:
        # The app sent none: `wanted` as it is (it names each field once).
        out.append(spell("vary", ", ".join(wanted)))
        return False
    values = [v for i in at for v in [_text(out[i][1]).strip()] if v]
    tokens = {t.strip().lower() for v in values for t in v.split(",")}
    missing = [] if "*" in tokens else [w for w in wanted if w.lower() not in tokens]
    if len(at) == 1 and not missing:
        return False
    merged = "*" if "*" in tokens else ", ".join([*values, *missing])
    out[at[0]] = spell(_text(out[at[0]][0]), merged)
    for index in at[1:]:
        out[index] = None
    return len(at) > 1


def _keep_private(out: list[Any], at: list[int], spell: Any) -> bool:
    """Make the response `private` (a shared cache may not store it), merged into the app's
    Cache-Control headers; says whether any became None (removed)."""
    directives = [d.strip() for i in at for d in _text(out[i][1]).split(",") if d.strip()]
    names = [d.split("=", 1)[0].strip().lower() for d in directives]
    if "private" in names or "no-store" in names:
        return False
    kept = [d for d, n in zip(directives, names, strict=True) if n not in ("public", "s-maxage")]
    value = ", ".join(["private", *kept])
    if not at:
        out.append(spell("cache-control", value))
        return False
    out[at[0]] = spell(_text(out[at[0]][0]), value)
    for index in at[1:]:
        out[index] = None
    return len(at) > 1
