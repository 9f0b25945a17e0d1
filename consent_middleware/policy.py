"""Decisions, framework-free: whose consent a request carries, which Set-Cookie headers
stay, which carried cookies must be expired, and what the app may read.

The adapters hand in strings and get strings back; nothing here knows ASGI or WSGI.
This is the hot path of every request, so each decision that depends only on a string
(a Cookie header, a cookie name, a Set-Cookie's attributes) is cached in a bounded map.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from time import time as _now

from .cache import BoundedCache
from .config import ALWAYS, ConsentConfig
from .consent import Consent, ConsentCodec
from .cookies import (
    build_set_cookie,
    cookie_value,
    deletion_header,
    parse_cookie_header,
    parse_set_cookie,
    set_cookie_name,
)

__all__ = ["ConsentPolicy", "RequestConsent"]

logger = logging.getLogger("consent_middleware")

_MAX_REMEMBERED = 2048
_MAX_PLACES_PER_COOKIE = 8
_MAX_VERDICT_TABLES = 64
_MAX_EXPIRED_PER_RESPONSE = 64
_UNKNOWN = "\x00unknown"  # the category of a name that no rule matches, under "block"


class RequestConsent:
    """What the middleware knows about one request, before the app runs. Shared between
    requests with the same Cookie header (it is cached): never mutate it."""

    __slots__ = (
        "consent",
        "cookie_header",
        "stale_consent_cookie",
        "https",
        "refused",
        "filtered_cookie_header",
        "needs_response_work",
        "verdicts",
        "valid_until",
    )

    def __init__(
        self,
        consent: Consent,
        cookie_header: str,
        stale_consent_cookie: bool,
        https: bool,
        refused: tuple[str, ...] = (),
        filtered_cookie_header: str | None = None,
        verdicts: BoundedCache[str | bytes, bool] | None = None,
        max_age: int = 0,
    ) -> None:
        self.consent = consent
        #: The Cookie header as the browser sent it ("" for none).
        self.cookie_header = cookie_header
        #: The consent cookie was present but is no longer valid (forged, old, expired).
        self.stale_consent_cookie = stale_consent_cookie
        self.https = https
        #: Names of the carried cookies that the consent refuses (to expire, and to hide).
        self.refused = refused
        #: The Cookie header without refused cookies, or None when the app may see it whole.
        self.filtered_cookie_header = filtered_cookie_header
        #: The response must get deletions even if the app sets no cookie.
        self.needs_response_work = bool(refused) or stale_consent_cookie
        #: Until when (epoch seconds) this reading holds: a decided consent expires.
        ts = consent.decided_ts
        self.valid_until = math.inf if ts is None else ts + max_age
        #: Set-Cookie value -> may it leave, under this consent's categories (shared by all
        #: requests whose consent grants the same categories). Empty when not shared.
        self.verdicts: BoundedCache[str | bytes, bool] = (
            verdicts if verdicts is not None else BoundedCache(0)
        )


@dataclass(slots=True)
class _SetCookieInfo:
    """What the policy needs of one Set-Cookie value, worked out once per distinct value."""

    name: str
    category: str | None
    #: None for the consent cookie, which the app may not set nor delete.
    attributes: _Attributes | None

    @property
    def expires_matters(self) -> bool:
        """Whether the passing of time can make this value a deletion."""
        attributes = self.attributes
        return (
            attributes is not None
            and attributes.max_age is None
            and (attributes.expires_ts is not None)
        )


@dataclass(slots=True)
class _Attributes:
    """What the attributes part of a Set-Cookie says, parsed once per distinct string."""

    path: str | None
    domain: str | None
    max_age: int | None
    expires_ts: float | None

    def deletes(self, now: float) -> bool:
        # As browsers judge it: a valid Max-Age decides alone, else a past Expires.
        if self.max_age is not None:
            return self.max_age <= 0
        return self.expires_ts is not None and self.expires_ts <= now


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
        self._filter_requests = config.filter_request_cookies
        self._max_age = config.max_age_seconds
        self._optional = frozenset(config.optional_categories)
        size = self._cache_size = max(config.cache_size, 0)
        # Cookie header (+ signals) -> request decision; cookie name -> category.
        self._requests: BoundedCache[str | bytes, RequestConsent] = BoundedCache(size)
        self._categories: dict[str, str | None] = {}
        # Set-Cookie attributes string -> parsed attributes; whole value -> judgement.
        self._attributes: BoundedCache[str, _Attributes] = BoundedCache(size)
        self._set_cookies: BoundedCache[str | bytes, _SetCookieInfo] = BoundedCache(size)
        # Granted categories -> Set-Cookie verdicts (see RequestConsent.verdicts).
        self._verdict_tables: dict[frozenset[str], BoundedCache[str | bytes, bool]] = {}
        # Where the app set each cookie (path, domain): learned from its own Set-Cookie
        # headers, so that an expiry hits the cookie the browser really holds.
        self._places: dict[str, tuple[tuple[str, str | None], ...]] = {}
        self._unknown_logged: set[str] = set()

    # -- categories --------------------------------------------------------------------

    def category_of(self, name: str) -> str | None:
        """The category deciding a cookie's fate: a category name, `ALWAYS`, or None when no
        rule names it and unknown cookies are blocked."""
        try:
            return self._categories[name]
        except KeyError:
            pass
        if name == self._cookie_name:
            category: str | None = None  # only the middleware sets the consent cookie
        else:
            rule = self.config.rules.match(name) or self.config.unknown_rule
            category = rule.category if rule is not None else None
        if len(self._categories) < _MAX_REMEMBERED:
            self._categories[name] = category
        return category

    def _refused_carried(self, name: str, consent: Consent) -> bool:
        """A cookie the request carries that the visitor's choice refuses. Cookies that
        match no rule are left alone: the site never said what they are."""
        if not name or name == self._cookie_name:
            return False
        rule = self.config.rules.match(name)
        if rule is None or rule.category == ALWAYS:
            return False
        return not consent.categories.get(rule.category, False)

    def refused_carried(self, cookie_header: str, consent: Consent) -> tuple[str, ...]:
        """The names in a Cookie header whose category `consent` refuses, once each."""
        if not cookie_header:
            return ()
        names = dict.fromkeys(
            name
            for name, _ in parse_cookie_header(cookie_header)
            if self._refused_carried(name, consent)
        )
        return tuple(names)

    # -- request side ------------------------------------------------------------------

    def read_request(
        self, cookie_header: str | bytes, https: bool, gpc: bool = False, dnt: bool = False
    ) -> RequestConsent:
        """The consent a request carries; bad cookies are simply undecided.

        `cookie_header` may be the raw latin-1 bytes of an ASGI header.
        """
        key = cookie_header
        if gpc or dnt:
            # NUL never occurs in a real Cookie header: the signals cannot collide with one.
            flags = f"\x00{gpc:d}{dnt:d}"
            key = flags.encode() + key if isinstance(key, bytes) else flags + key
        cached = self._requests.get(key)
        if cached is not None and cached.valid_until > _now():
            if cached.https == https:
                return cached
            return RequestConsent(
                cached.consent,
                cached.cookie_header,
                cached.stale_consent_cookie,
                https,
                cached.refused,
                cached.filtered_cookie_header,
                cached.verdicts,
                self._max_age,
            )
        text = (
            cookie_header.decode("latin-1") if isinstance(cookie_header, bytes) else cookie_header
        )
        request = self._read_request(text, https, gpc, dnt)
        self._requests.put(key, request)
        return request

    def _read_request(
        self, cookie_header: str, https: bool, gpc: bool, dnt: bool
    ) -> RequestConsent:
        raw = (
            cookie_value(cookie_header, self._cookie_name)
            if self._cookie_name_eq in cookie_header
            else None
        )
        consent = self.codec.decode(raw)
        if raw is not None and not consent.decided:
            # Several consent cookies (one tossed in from a sibling subdomain, say): the
            # first one that verifies counts; a forged one must not hide the real choice.
            for name, value in parse_cookie_header(cookie_header):
                if name == self._cookie_name and value != raw:
                    candidate = self.codec.decode(value)
                    if candidate.decided:
                        consent = candidate
                        break
        if (gpc and self._honor_gpc) or (dnt and self._honor_dnt):
            consent = consent.with_gpc(self._gpc_categories)
        stale = raw is not None and not consent.decided
        refused = self.refused_carried(cookie_header, consent)
        filtered = None
        if refused and self._filter_requests:
            hidden = set(refused)
            filtered = "; ".join(
                f"{name}={value}" if name else value
                for name, value in parse_cookie_header(cookie_header)
                if name not in hidden
            )
        verdicts = self.verdicts_for(consent)
        return RequestConsent(
            consent, cookie_header, stale, https, refused, filtered, verdicts, self._max_age
        )

    def verdicts_for(self, consent: Consent) -> BoundedCache[str | bytes, bool]:
        """The table of Set-Cookie verdicts for consents granting these categories."""
        granted = frozenset(name for name, ok in consent.categories.items() if ok)
        table = self._verdict_tables.get(granted)
        if table is None:
            table = BoundedCache(self._cache_size, 1024)
            if len(self._verdict_tables) < _MAX_VERDICT_TABLES:
                self._verdict_tables[granted] = table
        return table

    # -- response side -----------------------------------------------------------------

    def judge_set_cookie(self, value: str | bytes, request: RequestConsent) -> bool:
        """Whether one Set-Cookie value may leave; remembered in `request.verdicts` when the
        answer cannot change with time (an Expires date can turn a cookie into a deletion)."""
        keep = self.keeps_set_cookie(value, request.consent.categories)
        info = self._set_cookies.get(value)
        if info is not None and (keep or not info.expires_matters):
            request.verdicts.put(value, keep)
        return keep

    def keeps_set_cookie(self, value: str | bytes, categories: Mapping[str, bool]) -> bool:
        """Whether one Set-Cookie value may leave, given the consent's `categories`.

        Values may be `str` or the raw latin-1 `bytes` of ASGI headers. A deletion (the
        app's own logout or clean-up) always leaves.
        """
        info = self._set_cookies.get(value)
        if info is None:
            info = self._judge_new(value)
        category = info.category
        if category is None:
            if info.attributes is not None and info.attributes.deletes(time.time()):
                return True
            self._log_unknown(info.name)
            return False
        if category == ALWAYS or categories.get(category, False):
            return True
        return info.attributes is not None and info.attributes.deletes(time.time())

    def _judge_new(self, value: str | bytes) -> _SetCookieInfo:
        """Name, category and attributes of a Set-Cookie value seen for the first time."""
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        name = set_cookie_name(text)
        category = self.category_of(name)
        if category is not None and category in self._optional:
            self._remember_place(name, text)
        # The consent cookie is the middleware's own: the app cannot even delete it.
        attributes = None if name == self._cookie_name else self._attributes_of(text)
        info = _SetCookieInfo(name, category, attributes)
        self._set_cookies.put(value, info)
        return info

    def is_deletion(self, value: str | bytes) -> bool:
        """Whether a Set-Cookie value makes the browser drop the cookie now."""
        info = self._set_cookies.get(value) or self._judge_new(value)
        return info.attributes is not None and info.attributes.deletes(time.time())

    def _attributes_of(self, value: str) -> _Attributes:
        semi = value.find(";")
        if semi < 0:
            return _NO_ATTRIBUTES
        attributes = value[semi:]
        found: _Attributes | None = self._attributes.get(attributes)
        if found is None:
            parsed = parse_set_cookie("x=" + attributes)
            found = _Attributes(
                parsed.path,
                parsed.domain,
                parsed.max_age,
                parsed.expires.timestamp() if parsed.expires is not None else None,
            )
            self._attributes.put(attributes, found)
        return found

    def expirations(
        self,
        request: RequestConsent,
        refused: Iterable[str] | None = None,
        app_set_cookies: Iterable[str | bytes] = (),
    ) -> list[str]:
        """Set-Cookie values expiring the refused cookies the request carries (`refused`,
        by default those the request's own consent refuses) and a stale consent cookie.

        `app_set_cookies` are the values that leave anyway: a deletion the app already sent
        for a name is not sent twice.
        """
        out: list[str] = []
        if request.stale_consent_cookie:
            out.append(self.consent_cookie_deletion(request.https))
        names = request.refused if refused is None else tuple(refused)
        # A browser holds at most a few hundred cookies per site; a request claiming more
        # must not make every response carry thousands of deletions.
        names = names[:_MAX_EXPIRED_PER_RESPONSE]
        if not names:
            return out
        already = {
            (self._set_cookies.get(value) or self._judge_new(value)).name
            for value in app_set_cookies
            if self.is_deletion(value)
        }
        for name in names:
            if name not in already:
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
        if ";" not in value:
            # No attributes: the browser uses the request's default path, unknown here;
            # the rule's place is tried anyway.
            return
        rule = self.config.rules.match(name)
        if rule is None:
            return
        attributes = self._attributes_of(value)
        place = (attributes.path or rule.path, attributes.domain or rule.domain)
        known = self._places.get(name, ())
        if place in known or place == (rule.path, rule.domain):
            return
        if len(self._places) >= _MAX_REMEMBERED and name not in self._places:
            return
        self._places[name] = (known + (place,))[-_MAX_PLACES_PER_COOKIE:]

    def _log_unknown(self, name: str) -> None:
        if name in self._unknown_logged or len(self._unknown_logged) >= _MAX_REMEMBERED:
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


_NO_ATTRIBUTES = _Attributes(None, None, None, None)
