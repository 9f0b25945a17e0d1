"""One request through the middleware, framework-free: the adapters call `begin` before the
app runs and `plan_response` when it starts its response, and only translate the results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .api import ConsentAPI
from .banner import BannerRenderer, csp_nonce
from .config import ConsentConfig
from .cookies import set_cookie_name
from .i18n import choose_language
from .policy import ConsentPolicy, RequestConsent

__all__ = ["ConsentCore", "ResponsePlan", "CONSENT_KEY"]

logger = logging.getLogger("consent_middleware")

#: Where the adapters store the request's `Consent` (ASGI scope key, WSGI environ key).
CONSENT_KEY = "consent_middleware.consent"
#: Where they store the `ConsentCore`, for helpers such as the banner template function.
CORE_KEY = "consent_middleware.core"


@dataclass(frozen=True)
class ResponsePlan:
    """What to do to one response: keep or drop each Set-Cookie, add some, inject a snippet."""

    keep: list[bool]
    extra_cookies: list[str]
    snippet: bytes | None = None
    vary_cookie: bool = False


class ConsentCore:
    """The policy, the banner and the endpoints, built once per middleware."""

    def __init__(self, config: ConsentConfig) -> None:
        if not isinstance(config, ConsentConfig):
            raise ValueError(f"config must be a ConsentConfig, not {type(config).__name__}")
        self.config = config
        self.policy = ConsentPolicy(config)
        self.renderer = BannerRenderer(config)
        self.api = ConsentAPI(self.policy, self.renderer)
        self.prefix = config.path_prefix
        self._prefix_slash = config.path_prefix + "/"

    def api_subpath(self, path: str) -> str | None:
        """The part of `path` below `path_prefix`, or None when the app should answer."""
        if path == self.prefix:
            return ""
        if path.startswith(self._prefix_slash):
            return path[len(self.prefix) :]
        return None

    def begin(
        self, cookie_header: str, *, https: bool, gpc: bool = False, dnt: bool = False
    ) -> RequestConsent:
        try:
            return self.policy.read_request(cookie_header, https=https, gpc=gpc, dnt=dnt)
        except Exception:
            logger.exception("consent-middleware could not read the request; treating as undecided")
            return RequestConsent(self.policy.codec.undecided, cookie_header, False, https)

    def request_cookie_header(self, request: RequestConsent) -> str | None:
        """The Cookie header the app should see, or None to leave it as it is."""
        try:
            return self.policy.filter_request_cookies(request)
        except Exception:
            logger.exception("consent-middleware could not filter the Cookie header")
            return None

    def plan_response(
        self,
        request: RequestConsent,
        set_cookies: list[str],
        *,
        html: bool = False,
        accept_language: str | None = None,
        csp: str | None = None,
        return_to: str = "/",
    ) -> ResponsePlan:
        """Decide the fate of a response's cookies, and the banner snippet if it is a page.

        `html` says the adapter found an injectable HTML body (see `injectable`). Fails
        closed: if anything goes wrong, only required categories' cookies stay, and the
        response still goes out.
        """
        try:
            consent = request.consent
            keep = self.policy.filter_set_cookies(set_cookies, consent) if set_cookies else []
            kept = [value for value, ok in zip(set_cookies, keep) if ok]
            extra = self.policy.expirations(request, consent, kept)
            snippet = None
            if html and self.config.inject_banner:
                language = choose_language(self.config, accept_language)
                snippet = self.renderer.snippet(
                    consent, language, nonce=csp_nonce(csp), return_to=return_to
                ).encode("utf-8")
            return ResponsePlan(keep, extra, snippet, vary_cookie=html)
        except Exception:
            logger.exception(
                "consent-middleware failed on a response; dropping its optional cookies"
            )
            return ResponsePlan([self._required(value) for value in set_cookies], [])

    def _required(self, set_cookie: str) -> bool:
        """Fail-closed fallback: keep only cookies of required categories."""
        try:
            rule = self.config.rules.match(set_cookie_name(set_cookie))
        except Exception:
            return False
        return rule is not None and rule.category in self.config.required_categories


def injectable(
    method: str, status: int, content_type: str | None, content_encoding: str | None, htmx: bool
) -> bool:
    """Whether a response is an HTML page whose body the banner may be streamed into."""
    if method == "HEAD" or htmx or status < 200 or status in (204, 304) or 300 <= status < 400:
        return False
    if content_encoding and content_encoding.strip().lower() != "identity":
        return False
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in ("text/html", "application/xhtml+xml")
