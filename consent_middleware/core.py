"""One request through the middleware, framework-free: the adapters call `begin` before the
app runs and `plan_response` when it starts its response, and only translate the results.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from .api import ConsentAPI
from .banner import BannerRenderer, HtmlInjector, csp_nonce
from .config import ALWAYS, ConsentConfig
from .cookies import set_cookie_name
from .gating import HtmlRewriter, consent_mode_default
from .i18n import choose_language, texts_for
from .policy import ConsentPolicy, RequestConsent

__all__ = ["CONSENT_KEY", "CORE_KEY", "BodyFilter", "ConsentCore", "injectable"]

logger = logging.getLogger("consent_middleware")

#: Where the adapters store the request's `Consent` (ASGI scope key, WSGI environ key).
CONSENT_KEY = "consent_middleware.consent"
#: Where they store the `ConsentCore`, for helpers such as the banner template function.
CORE_KEY = "consent_middleware.core"


class BodyFilter(Protocol):
    """Streams an HTML body through: the banner injector or the gating rewriter."""

    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


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
        #: Whether HTML pages need any body work at all.
        self.rewrites_html = (
            config.inject_banner or config.gate_scripts or (config.google_consent_mode)
        )

    def api_subpath(self, path: str) -> str | None:
        """The part of `path` below `path_prefix`, or None when the app should answer."""
        if path == self.prefix:
            return ""
        if path.startswith(self._prefix_slash):
            return path[len(self.prefix) :]
        return None

    def begin(
        self, cookie_header: str | bytes, https: bool, gpc: bool = False, dnt: bool = False
    ) -> RequestConsent:
        """The request's consent. Never raises: on a bug, the visitor is undecided."""
        try:
            return self.policy.read_request(cookie_header, https, gpc, dnt)
        except Exception:
            logger.exception("consent-middleware could not read the request; treating as undecided")
            if isinstance(cookie_header, bytes):
                cookie_header = cookie_header.decode("latin-1")
            return RequestConsent(self.policy.codec.undecided, cookie_header, False, https)

    def keeps(self, set_cookie: str | bytes, request: RequestConsent) -> bool:
        """Whether one of the app's Set-Cookie values may leave. Fails closed: on a bug,
        only required categories' cookies stay."""
        kept = request.verdicts.get(set_cookie)
        if kept is None:
            try:
                kept = self.policy.judge_set_cookie(set_cookie, request)
            except Exception:
                kept = self.fail_closed(set_cookie)
        return kept

    def expirations(self, request: RequestConsent, kept: Sequence[str | bytes]) -> list[str]:
        """Deletions of the refused cookies the request carries; none if that fails."""
        try:
            return self.policy.expirations(request, app_set_cookies=kept)
        except Exception:
            logger.exception("consent-middleware could not expire refused cookies")
            return []

    def page_filter(
        self,
        request: RequestConsent,
        *,
        accept_language: str | None = None,
        csp: str | None = None,
        return_to: str = "/",
        partial: bool = False,
    ) -> tuple[BodyFilter | None, int | None]:
        """The filter an HTML page streams through (banner, gating, consent mode), and how
        many bytes it adds (None when unknown). On failure the page goes out untouched.

        A `partial` (an HTMX swap, `HX-Request`) gets no banner and no consent-mode default,
        but its scripts and iframes are gated all the same: htmx runs swapped-in scripts."""
        try:
            return self._body_filter(request, accept_language, csp, return_to, partial)
        except Exception:
            logger.exception("consent-middleware could not prepare the page; leaving it as is")
            return None, 0

    def _body_filter(
        self,
        request: RequestConsent,
        accept_language: str | None,
        csp: str | None,
        return_to: str,
        partial: bool,
    ) -> tuple[BodyFilter | None, int | None]:
        config = self.config
        consent = request.consent
        nonce = csp_nonce(csp)
        language = choose_language(config, accept_language)
        snippet = b""
        if config.inject_banner and not partial:
            snippet = self.renderer.snippet(
                consent, language, nonce=nonce, return_to=return_to
            ).encode("utf-8")
        # With every category granted there is nothing to gate, and the length stays known.
        gate = config.gate_scripts and not all(consent.categories.values())
        if not gate and not config.google_consent_mode:
            return (HtmlInjector(snippet), len(snippet)) if snippet else (None, 0)
        head = b""
        if config.google_consent_mode and not partial:
            head = consent_mode_default(consent, config.google_mapping, nonce=nonce)
        texts = texts_for(config, language)
        labels = {
            cat.name: texts.get(f"category.{cat.name}.label", cat.label)
            for cat in config.category_list
        }
        rewriter = HtmlRewriter(
            granted=frozenset(consent.granted),
            gate=gate,
            head_snippet=head,
            body_snippet=snippet,
            placeholder_text=texts["placeholder"],
            placeholder_button=texts["placeholder_button"],
            category_labels=labels,
            language=language,
        )
        return rewriter, rewriter.added_length if rewriter.length_is_predictable else None

    def fail_closed(self, set_cookie: str | bytes) -> bool:
        """After a failure judging a Set-Cookie: keep it only if a required category's."""
        logger.exception("consent-middleware failed on a Set-Cookie; keeping only required ones")
        try:
            if isinstance(set_cookie, bytes):
                set_cookie = set_cookie.decode("latin-1")
            category = self.policy.category_of(set_cookie_name(set_cookie))
        except Exception:
            return False
        return category == ALWAYS or category in self.config.required_categories


def injectable(
    method: str, status: int, content_type: str | None, content_encoding: str | None
) -> bool:
    """Whether a response is an HTML page whose body may be streamed through a filter."""
    if method == "HEAD" or status < 200 or status in (204, 304) or 300 <= status < 400:
        return False
    if content_encoding and content_encoding.strip().lower() != "identity":
        return False
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in ("text/html", "application/xhtml+xml")
