"""Decisions, framework-free: whose consent a request carries, which Set-Cookie headers
stay, which carried cookies must be expired, and what the app may read.

The adapters hand in strings and get strings back; nothing here knows ASGI or WSGI.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .config import ALWAYS, ConsentConfig, CookieRule
from .consent import Consent, ConsentCodec
from .cookies import (
    build_set_cookie,
    cookie_value,
    deletion_header,
    is_deletion,
    parse_cookie_header,
    parse_set_cookie,
    set_cookie_name,
)

__all__ = ["ConsentPolicy", "RequestConsent"]

logger = logging.getLogger("consent_middleware")

_MAX_REMEMBERED = 2048
_MAX_PLACES_PER_COOKIE = 8


@dataclass(frozen=True)
class RequestConsent:
    """What the middleware knows about one request, before the app runs."""

    consent: Consent
    #: The Cookie header as the browser sent it ("" for none).
    cookie_header: str
    #: The consent cookie value was present but is no longer valid (forged, old, expired).
    stale_consent_cookie: bool
    https: bool


class ConsentPolicy:
    """The sans-IO core shared by both adapters. One instance per middleware."""

    def __init__(self, config: ConsentConfig) -> None:
        self.config = config
        self.codec = ConsentCodec(config)
        self._cookie_name = config.cookie_name
        self._cookie_name_eq = config.cookie_name + "="
        self._honor_gpc = config.honor_gpc
        self._honor_dnt = config.honor_dnt
        self._gpc_categories = config.gpc_categories
        # Where the app set each cookie (path, domain): learned from its own Set-Cookie headers,
        # so that an expiry hits the cookie the browser really holds.
        self._places: dict[str, tuple[tuple[str, str | None], ...]] = {}
        self._unknown_logged: set[str] = set()
        # Attribute strings repeat across visitors ("; Path=/; HttpOnly"): parse each once.
        self._attribute_places: dict[str, tuple[str | None, str | None]] = {}

    # -- request side ------------------------------------------------------------------

    def read_request(
        self, cookie_header: str, *, https: bool, gpc: bool = False, dnt: bool = False
    ) -> RequestConsent:
        """The consent a request carries; bad cookies are simply undecided."""
        raw = (
            cookie_value(cookie_header, self._cookie_name)
            if self._cookie_name_eq in cookie_header
            else None
        )
        consent = self.codec.decode(raw)
        if (gpc and self._honor_gpc) or (dnt and self._honor_dnt):
            consent = consent.with_gpc(self._gpc_categories)
        stale = raw is not None and not consent.decided
        return RequestConsent(consent, cookie_header, stale, https)

    def allowed(self, name: str, consent: Consent) -> bool:
        """May a cookie of this name be set (or kept) under `consent`?"""
        if name == self._cookie_name:
            return False
        rule = self.config.rules.match(name)
        if rule is None:
            rule = self.config.unknown_rule
            if rule is None:
                return False
        return rule.category == ALWAYS or consent.categories.get(rule.category, False)

    def filter_request_cookies(self, request: RequestConsent) -> str | None:
        """The Cookie header without refused categories' cookies, or None when unchanged.

        The consent cookie, required categories and cookies that match no rule always pass.
        """
        header = request.cookie_header
        if not header or not self.config.filter_request_cookies:
            return None
        consent = request.consent
        pairs = parse_cookie_header(header)
        kept = [pair for pair in pairs if not self._refused_carried(pair[0], consent)]
        if len(kept) == len(pairs):
            return None
        return "; ".join(f"{name}={value}" if name else value for name, value in kept)

    def _refused_carried(self, name: str, consent: Consent) -> bool:
        """A cookie the request carries that the visitor's choice refuses."""
        if not name or name == self._cookie_name:
            return False
        rule = self.config.rules.match(name)
        if rule is None or rule.category == ALWAYS:
            return False
        return not consent.categories.get(rule.category, False)

    # -- response side -----------------------------------------------------------------

    def filter_set_cookies(self, values: Sequence[str], consent: Consent) -> list[bool]:
        """Which of the app's Set-Cookie values may leave (True) and which are removed.

        A deletion (the app's own logout or clean-up) always leaves.
        """
        keep: list[bool] = []
        for value in values:
            name = set_cookie_name(value)
            self._remember_place(name, value)
            if self.allowed(name, consent):
                keep.append(True)
                continue
            if is_deletion(value) and name != self._cookie_name:
                keep.append(True)
                continue
            if (
                name not in self._unknown_logged
                and self.config.rules.match(name) is None
                and self.config.unknown_rule is None
            ):
                self._log_unknown(name)
            keep.append(False)
        return keep

    def expirations(
        self,
        request: RequestConsent,
        consent: Consent,
        app_set_cookies: Iterable[str] = (),
    ) -> list[str]:
        """Set-Cookie values expiring the refused cookies the request carries.

        `app_set_cookies` are the values that leave anyway: a deletion the app already sent
        for a name is not sent twice.
        """
        header = request.cookie_header
        out: list[str] = []
        if request.stale_consent_cookie:
            out.append(self.consent_cookie_deletion(request.https))
        if not header:
            return out
        refused = {
            name for name, _ in parse_cookie_header(header) if self._refused_carried(name, consent)
        }
        if not refused:
            return out
        for value in app_set_cookies:
            name = set_cookie_name(value)
            if name in refused and is_deletion(value):
                refused.discard(name)
        for name in sorted(refused):
            out.extend(self._deletions_for(name, request.https))
        return out

    def _deletions_for(self, name: str, https: bool) -> list[str]:
        rule = self.config.rules.match(name)
        places: list[tuple[str, str | None]] = list(self._places.get(name, ()))
        fallback = (rule.path, rule.domain) if rule is not None else ("/", None)
        if fallback not in places:
            places.append(fallback)
        secure = https or name.startswith(("__Secure-", "__Host-"))
        out = []
        for path, domain in places:
            if name.startswith("__Host-") and (path != "/" or domain is not None):
                continue
            try:
                out.append(deletion_header(name, path=path, domain=domain, secure=secure))
            except ValueError:
                continue
        return out

    def _remember_place(self, name: str, value: str) -> None:
        """Note where the app sets a cookie that a later choice might refuse."""
        rule = self.config.rules.match(name)
        if rule is None or rule.category in self.config.required_categories:
            return
        semi = value.find(";")
        if semi < 0:
            # No attributes: the browser uses the request's default path, unknown here;
            # the rule's place is the best guess and is always tried anyway.
            return
        attributes = value[semi:]
        found = self._attribute_places.get(attributes)
        if found is None:
            parsed = parse_set_cookie("x=" + attributes)
            found = (parsed.path, parsed.domain)
            if len(self._attribute_places) < _MAX_REMEMBERED:
                self._attribute_places[attributes] = found
        place = (found[0] or rule.path, found[1] or rule.domain)
        known = self._places.get(name, ())
        if place in known or _is_rule_place(place, rule):
            return
        if len(self._places) >= _MAX_REMEMBERED and name not in self._places:
            return
        self._places[name] = (known + (place,))[-_MAX_PLACES_PER_COOKIE:]

    def _log_unknown(self, name: str) -> None:
        if len(self._unknown_logged) >= _MAX_REMEMBERED:
            return
        self._unknown_logged.add(name)
        logger.warning(
            "consent-middleware blocked cookie %r: no rule in ConsentConfig.cookies names it "
            "(add it with its category, or set unknown_cookies). Logged once per name.",
            name,
        )

    # -- the consent cookie itself -----------------------------------------------------

    def consent_cookie(self, consent: Consent, https: bool) -> str:
        """The Set-Cookie value that stores a decided consent."""
        return build_set_cookie(
            self._cookie_name,
            self.codec.encode(consent),
            max_age=self.config.max_age_seconds,
            path="/",
            domain=self.config.cookie_domain,
            secure=self._secure(https),
            same_site=self.config.same_site.capitalize(),
        )

    def consent_cookie_deletion(self, https: bool) -> str:
        return deletion_header(
            self._cookie_name,
            path="/",
            domain=self.config.cookie_domain,
            secure=self._secure(https),
        )

    def _secure(self, https: bool) -> bool:
        if self.config.secure is not None:
            return self.config.secure or self.config.same_site == "none"
        return https or self.config.same_site == "none"


def _is_rule_place(place: tuple[str, str | None], rule: CookieRule) -> bool:
    return place == (rule.path, rule.domain)
