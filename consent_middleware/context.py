"""One request as the middleware saw it: what the adapters store in the ASGI scope or the
WSGI environ, and what the helpers the app calls (`get_consent`, `consent_banner`,
`is_consent_refresh`) read, so none of them has to sniff scopes or environs again.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .consent import Consent

if TYPE_CHECKING:
    from .core import ConsentCore
    from .policy import RequestConsent
    from .validators import Revalidation

__all__ = ["ACTIVE", "CONSENT_KEY", "CONTEXT_KEY", "RequestContext", "context_of"]

_QUERY_SAFE = "/?#[]@!$&'()*+,;=:%~-._"
_PATH_SAFE = "/!$&'()*+,;=:@~-._"
#: Where the adapters store the request's `Consent` (ASGI scope key, WSGI environ key).
CONSENT_KEY = "consent_middleware.consent"
#: Where they store the `RequestContext`.
CONTEXT_KEY = "consent_middleware.context"

#: The request an ASGI middleware is handling, for the code it awaits. A WSGI app mounted
#: in an ASGI one (Starlette's `WSGIMiddleware`, asgiref's `WsgiToAsgi`, a2wsgi) gets an
#: environ with none of the scope's keys, but runs where the context is copied: a
#: ConsentWSGIMiddleware there learns from it that it is the inner one.
ACTIVE: ContextVar[RequestContext | None] = ContextVar("consent_middleware.active", default=None)


class RequestContext:
    """The request's consent and the few request facts that the core and the helpers need.
    Built once per request by an adapter; read-only afterwards, but for `banner_placed`."""

    __slots__ = (
        "core",
        "state",
        "method",
        "root",
        "path",
        "_query",
        "_language",
        "fragment",
        "refresh",
        "subpath",
        "revalidation",
        "raw_path",
        "banner_placed",
    )

    def __init__(
        self,
        core: ConsentCore,
        state: RequestConsent,
        method: str,
        root: str,
        path: str,
        query: str | bytes,
        accept_language: str | bytes | None,
        fragment: bool,
        refresh: bool,
        subpath: str | None = None,
        raw_path: str | bytes | None = None,
    ) -> None:
        self.core = core
        #: The consent the request carries (cached and shared: never mutated).
        self.state = state
        self.method = method
        #: The mount prefix every URL we emit starts with ("" or "/app"), already checked.
        self.root = root
        #: The path below `root`, as the app's routes see it.
        self.path = path
        # As the adapter got them (ASGI: latin-1 bytes): decoded only when a page needs them.
        self._query = query
        self._language = accept_language
        #: A fragment request (htmx, Turbo Frame, Unpoly, XMLHttpRequest): no banner.
        self.fragment = fragment
        #: banner.js asking for the page again after a choice (`X-Consent-Refresh`).
        self.refresh = refresh
        #: The path below `path_prefix` when one of the middleware's endpoints answers the
        #: request (`ConsentCore.api_subpath`), or None when the app does.
        self.subpath = subpath
        #: How the request's If-None-Match reaches the app, when it names a page state of
        #: ours (`validators.Revalidation`); None when it reaches the app as it came.
        self.revalidation: Revalidation | None = None
        # The path as the server got it, still percent-encoded (ASGI `raw_path`, WSGI
        # `REQUEST_URI` or `RAW_URI`), when the server says: see `url_path`.
        self.raw_path = raw_path
        #: The app's template placed the banner (`templating.consent_banner`): the response
        #: depends on the visitor, as a page the middleware rewrote does.
        self.banner_placed = False

    @property
    def consent(self) -> Consent:
        return self.state.consent

    @property
    def url_path(self) -> str:
        """The path as the browser sent it: percent-encoded, the mount prefix included.
        Where a cookie set without a valid Path lands."""
        raw = self.raw_path
        if not raw:
            return quote(self.root + self.path, safe=_PATH_SAFE)
        text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
        text = text.split("?", 1)[0]
        if not text.startswith("/"):
            # An absolute request-target (through a forward proxy): its path part.
            text = "/" + text.partition("://")[2].partition("/")[2]
        # Behind a proxy that strips the mount prefix, the server never saw it.
        root = self.root
        if root and not (text == root or text.startswith(root + "/")):
            text = root + text
        return text

    @property
    def query(self) -> str:
        query = self._query
        return query.decode("latin-1") if isinstance(query, bytes) else query

    @property
    def accept_language(self) -> str | None:
        language = self._language
        return language.decode("latin-1") if isinstance(language, bytes) else language

    @property
    def return_to(self) -> str:
        """The page's own URL on this site (prefix, path, query): where choices lead back."""
        url = self.root + self.path
        query = self.query
        if not query:
            return url
        if not query.isascii():
            # Raw bytes in a query (as latin-1): percent-encode them, once, as the browser
            # would have.
            query = quote(query.encode("latin-1", "replace"), safe=_QUERY_SAFE)
        return url + "?" + query


def context_of(request: Any) -> RequestContext:
    """The context of a Starlette/FastAPI `Request` or `WebSocket`, an ASGI scope, a
    Flask/Werkzeug request or a WSGI environ.

    Raises `LookupError` when the request did not pass through the middleware: reading
    "no consent" there would silently hide a missing middleware.
    """
    carrier: Any
    if isinstance(request, Mapping):
        carrier = request
    elif isinstance(getattr(request, "scope", None), Mapping):
        carrier = request.scope
    elif isinstance(getattr(request, "environ", None), Mapping):
        carrier = request.environ
    else:
        raise TypeError(
            "expected a request, an ASGI scope or a WSGI environ, not " + type(request).__name__
        )
    context = carrier.get(CONTEXT_KEY)
    if not isinstance(context, RequestContext):
        raise LookupError(
            "this request did not pass through ConsentMiddleware or ConsentWSGIMiddleware"
        )
    return context
