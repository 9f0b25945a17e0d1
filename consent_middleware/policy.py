"""Decisions, framework-free: whose consent a request carries, which Set-Cookie headers
stay, which carried cookies must be expired, and what the app may read.

This is the hot path of every request. A Set-Cookie's fate depends on its name and its
attributes, never on its value (real traffic sends a fresh session id and analytics id on
every response), so a Set-Cookie's verdict is remembered by its shape (the header without
its value), per set of granted categories: one dictionary lookup per Set-Cookie, on the
app's bytes or text as they come. Every cache is bounded by entries and by bytes (see
`cache.py`).
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .cache import ENTRY_OVERHEAD, BoundedCache, ByteBudget
from .config import ALWAYS, ConsentConfig
from .consent import Consent, ConsentCodec
from .cookies import (
    DELETION_MARGIN,
    browsers_store,
    build_set_cookie,
    carried_names,
    cookie_paths,
    cookie_prefix,
    cookie_value,
    default_path,
    deletion_header,
    deletion_time,
    folded_names,
    judged_names,
    parse_cookie_header,
    parse_set_cookie,
    spaced_names,
    stored_name,
)

__all__ = ["ConsentPolicy", "RequestConsent"]

logger = logging.getLogger("consent_middleware")

_MAX_NAMES = 1024  # distinct cookie names remembered per table
_MAX_PLACES_PER_COOKIE = 8
_MAX_TABLES = 64
#: A Set-Cookie shape (name and attributes) longer than this is judged afresh every time.
_MAX_SHAPE = 512
#: A browser holds at most a few hundred cookies per site; a request claiming more must not
#: make every response carry thousands of deletions.
MAX_EXPIRED_PER_RESPONSE = 64
#: The bytes of deletions one response carries at most (nginx's default buffer for a
#: response's headers is 4 KB).
MAX_EXPIRY_BYTES = 3072
#: The bytes of all the headers a page with deletions leaves with, the app's own included:
#: nginx answers 502 when a response's status line and headers pass its 4 KB buffer, and
#: the server adds a few (Date, Server) of its own. Deletions that do not fit go on the
#: next responses (the favicon's, an image's), as those past `MAX_EXPIRY_BYTES` do.
MAX_HEADER_BYTES = 3584
#: What a Set-Cookie header takes on the wire besides its value ("Set-Cookie: " and CRLF).
_LINE_BYTES = 14
_MAX_PLACE_PATH = 256

# What a cookie name's category means for its Set-Cookie headers, under one consent.
_STRIP = 0  # never leaves (the consent cookie; judged names of refused and unknown mixed)
_KEEP = 1  # leaves as it is: a required category, or one that no rule names under "allow"
_KEEP_OPTIONAL = 2  # leaves, and its place (path, domain) is learned for a later expiry
_REFUSED = 3  # leaves only as a deletion that every browser reads as one

#: What a Set-Cookie shape's verdict is: it leaves (True), it does not (False), or it leaves
#: only while its Expires date is this far in the past (epoch seconds; a deletion by date).
Verdict = bool | float


class Located(Protocol):
    """Where a response goes: the request's path as the browser sent it."""

    @property
    def url_path(self) -> str: ...


class RequestConsent:
    """What the middleware knows about one request before the app runs. Cached by Cookie
    header and shared between requests: never mutate it."""

    __slots__ = (
        "consent",
        "cookie_header",
        "stale_consent_cookie",
        "https",
        "refused",
        "filtered_cookie_header",
        "needs_response_work",
        "names",
        "verdicts",
        "valid_until",
        "_other_scheme",
    )

    def __init__(
        self,
        consent: Consent,
        cookie_header: str,
        stale_consent_cookie: bool,
        https: bool,
        refused: tuple[str, ...] = (),
        filtered_cookie_header: str | None = None,
        names: dict[str, int] | None = None,
        max_age: int = 0,
        verdicts: dict[Any, Verdict] | None = None,
    ) -> None:
        self.consent = consent
        #: The Cookie header as the browser sent it ("" for none).
        self.cookie_header = cookie_header
        #: A consent cookie was present but none is valid (forged, old, expired).
        self.stale_consent_cookie = stale_consent_cookie
        self.https = https
        #: Names of carried cookies that the consent refuses, to expire (at most 64).
        self.refused = refused
        #: The Cookie header without refused cookies, or None when the app may see it whole.
        self.filtered_cookie_header = filtered_cookie_header
        #: The response must get deletions even if the app sets no cookie.
        self.needs_response_work = bool(refused) or stale_consent_cookie
        #: Raw cookie name (text before "=") -> verdict kind, for this consent's categories
        #: (one table shared by every consent granting the same set).
        self.names: dict[str, int] = names if names is not None else {}
        #: Set-Cookie shape (the header without its value, bytes or text) -> verdict, for
        #: this consent's categories (shared like `names`; see `ConsentPolicy.keeps`).
        self.verdicts: dict[Any, Verdict] = verdicts if verdicts is not None else {}
        #: Until when (epoch seconds) this reading holds: a decided consent expires.
        ts = consent.decided_ts
        self.valid_until = math.inf if ts is None else ts + max_age
        self._other_scheme: RequestConsent | None = None

    def for_scheme(self, https: bool, max_age: int) -> RequestConsent:
        """The same reading for a request over the other scheme (Secure on deletions): made
        once, then kept beside this one (a site reached over http and https, or a proxy
        that says which, would otherwise build it on every request of the other)."""
        if https == self.https:
            return self
        other = self._other_scheme
        if other is None:
            other = RequestConsent(
                self.consent,
                self.cookie_header,
                self.stale_consent_cookie,
                https,
                self.refused,
                self.filtered_cookie_header,
                self.names,
                max_age,
                self.verdicts,
            )
            self._other_scheme = other  # no link back: no cycle for the collector
        return other


@dataclass(frozen=True, slots=True)
class _Attributes:
    """What the attributes of a Set-Cookie (the text after the first ";") say."""

    #: See `cookies.deletion_time`: -inf always a deletion, +inf never, else Expires.
    deletes_at: float
    path: str | None
    domain: str | None
    partitioned: bool = False


class ConsentPolicy:
    """The sans-IO decisions shared by both adapters. One instance per middleware."""

    def __init__(self, config: ConsentConfig, budget: ByteBudget | None = None) -> None:
        self.config = config
        budget = budget or ByteBudget(config.cache_bytes)
        self.codec = ConsentCodec(config, max_bytes=budget.share(0.1))
        self._cookie_name = config.cookie_name
        # Declared https-only (`secure=True`, a `__Host-`/`__Secure-` consent cookie): the
        # browser is on https even where a proxy that ends TLS forwards no scheme.
        self._https_only = config.secure is True or bool(cookie_prefix(config.cookie_name))
        self._cookie_name_eq = config.cookie_name + "="
        self._honor_gpc = config.honor_gpc
        self._honor_dnt = config.honor_dnt
        self._gpc_categories = config.gpc_categories
        self._filter_requests = config.filter_request_cookies
        self._max_age = config.max_age_seconds
        self._optional = frozenset(config.optional_categories)
        size = max(config.cache_size, 0)
        # Cookie header (+ signals) -> request decision.
        self._requests: BoundedCache[str | bytes, RequestConsent] = BoundedCache(
            size, max_bytes=budget.share(0.6), size_of=_request_size
        )
        # Set-Cookie attributes text -> what it says.
        self._attributes: BoundedCache[str, _Attributes] = BoundedCache(
            size, 2048, max_bytes=budget.share(0.1)
        )
        # The bytes that the verdict tables (Set-Cookie shape -> verdict, see `keeps`) hold
        # together; past the limit, they all start over.
        self._verdict_limit = budget.share(0.05) if size else 0
        self._verdict_bytes = 0
        self._verdict_lock = threading.Lock()
        # Counts the times every verdict was forgotten: a verdict judged before the latest
        # time is not remembered (the place it taught may be forgotten already).
        self._verdict_epoch = 0
        # Granted categories -> (name kinds, shape verdicts): see RequestConsent.
        self._tables: dict[frozenset[str], tuple[dict[str, int], dict[Any, Verdict]]] = {}
        self._categories: dict[str, str | None] = {}
        # Where the app set each cookie (path, domain): learned from its own Set-Cookie
        # headers, so that an expiry hits the cookie the browser really holds.
        self._places: dict[str, tuple[tuple[str, str | None, bool], ...]] = {}
        self._turns = itertools.count()
        self._unknown_logged: set[str] = set()

    # -- categories --------------------------------------------------------------------

    def category_of(self, name: str) -> str | None:
        """The category deciding a cookie's fate: a category name, `ALWAYS`, or None when no
        rule names it and unknown cookies are blocked (or it is the consent cookie)."""
        try:
            return self._categories[name]
        except KeyError:
            pass
        if name == self._cookie_name:
            category: str | None = None  # only the middleware sets the consent cookie
        else:
            rule = self.config.rules.match(name) or self.config.unknown_rule
            category = rule.category if rule is not None else None
        if len(self._categories) < _MAX_NAMES:
            self._categories[name] = category
        return category

    def refused_carried(self, cookie_header: str, consent: Consent) -> tuple[str, ...]:
        """The names in a Cookie header whose category `consent` refuses, once each. Cookies
        that match no rule are left alone: the site never said what they are."""
        return self._judge_carried(cookie_header, consent)[0]

    def _judge_carried(
        self, cookie_header: str, consent: Consent
    ) -> tuple[tuple[str, ...], list[tuple[str, str]] | None]:
        """The names of the carried cookies to expire (see `refused_carried`), and the pairs
        of the header that the app may see (None when it may see them all).

        A pair is read under every name an app's parser gives it (`carried_names`, and
        `spaced_names`: `lang=en _fbp=1` is two cookies to `http.cookies`): a cookie that
        any of them refuses is hidden and expired under the name the browser holds it by
        (`lang` too: hidden, the app could not read it anyway).
        """
        if not cookie_header:
            return (), None
        names: dict[str, None] = {}
        kept: list[tuple[str, str]] = []
        categories = consent.categories
        pairs = parse_cookie_header(cookie_header)
        for name, value in pairs:
            if name != self._cookie_name and any(
                self._refuses(read, categories)
                for read in (*carried_names(name, value), *spaced_names(f"{name}={value}"))
            ):
                names[name] = None
            else:
                kept.append((name, value))
        return tuple(names), (kept if len(kept) < len(pairs) else None)

    def _refuses(self, name: str, categories: Mapping[str, bool]) -> bool:
        """Whether a rule names `name` for a category that is refused (never the consent
        cookie's own name, which only the middleware reads)."""
        if name == self._cookie_name:
            return False
        rule = self.config.rules.match(name)
        return rule is not None and rule.category != ALWAYS and not categories[rule.category]

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
        if cached is not None and cached.valid_until > time.time():
            return cached if cached.https == https else cached.for_scheme(https, self._max_age)
        text = (
            cookie_header.decode("latin-1") if isinstance(cookie_header, bytes) else cookie_header
        )
        request = self._read_request(text, https, gpc, dnt)
        self._requests.put(key, request)
        return request

    def _read_request(
        self, cookie_header: str, https: bool, gpc: bool, dnt: bool
    ) -> RequestConsent:
        consent, present = self.consent_of(cookie_header)
        if (gpc and self._honor_gpc) or (dnt and self._honor_dnt):
            consent = consent.with_gpc(self._gpc_categories)
        # A forged or broken consent cookie goes; an authentic one of an older policy stays
        # (it grants nothing, and keeps the visitor's consent id for their next choice).
        stale = present and not consent.decided and consent.consent_id is None
        refused, kept = self._judge_carried(cookie_header, consent)
        filtered = None
        if kept is not None and self._filter_requests:
            # A nameless pair keeps its "=" when its value holds one: `=_fbp=1` written back
            # as `_fbp=1` would be the app's cookie `_fbp`.
            filtered = "; ".join(
                f"{name}={value}" if name or "=" in value else value for name, value in kept
            )
        names, verdicts = self._tables_for(consent)
        return RequestConsent(
            consent,
            cookie_header,
            stale,
            https,
            refused[:MAX_EXPIRED_PER_RESPONSE],
            filtered,
            names,
            self._max_age,
            verdicts,
        )

    def consent_of(self, cookie_header: str) -> tuple[Consent, bool]:
        """The consent of the request's consent cookies, and whether there was any.

        With several valid ones (one tossed in from a sibling subdomain, or planted over
        plain http with a longer Path so that it comes first), the least permissive counts:
        anyone can get a signed "accept all" value by clicking Accept, so a planted cookie
        may take rights away but never add them. A forged one cannot hide the real one."""
        if self._cookie_name_eq not in cookie_header:
            return self.codec.undecided, False
        raw = cookie_value(cookie_header, self._cookie_name)
        if raw is None:
            return self.codec.undecided, False
        if cookie_header.count(self._cookie_name_eq) == 1:
            return self.codec.decode(raw), True
        values = [v for n, v in parse_cookie_header(cookie_header) if n == self._cookie_name]
        decoded = [self.codec.decode(v) for v in values]
        valid = [c for c in decoded if c.decided]
        if not valid:
            authentic = [c for c in decoded if c.consent_id is not None]
            return (authentic[0] if authentic else self.codec.undecided), True
        return least_permissive(valid), True

    def names_for(self, consent: Consent) -> dict[str, int]:
        """The table of name kinds shared by consents granting the same categories."""
        return self._tables_for(consent)[0]

    def _tables_for(self, consent: Consent) -> tuple[dict[str, int], dict[Any, Verdict]]:
        granted = frozenset(name for name, ok in consent.categories.items() if ok)
        tables = self._tables.get(granted)
        if tables is None:
            tables = ({}, {})
            if len(self._tables) < _MAX_TABLES:
                self._tables[granted] = tables
        return tables

    # -- response side -----------------------------------------------------------------

    def keeps(
        self,
        value: str | bytes,
        request: RequestConsent,
        where: Located | None = None,
        headers: Iterable[Any] | None = None,
    ) -> bool:
        """Whether one of the app's Set-Cookie values may leave: the one judgement of a
        Set-Cookie, for both adapters, on the app's bytes (ASGI) or text (WSGI). A deletion
        (the app's own logout or clean-up) of a refused cookie leaves only if every major
        browser reads it as a deletion.

        The verdict depends on the name and the attributes, never on the value: it is
        remembered by the header's shape (the header without its value), so a fresh session
        id costs one lookup. `where` says the request's path as the browser sent it
        (`url_path`): where a cookie set without a valid Path attribute lands. `headers`
        are the app's response headers, searched for a `Date` of its own only for a
        deletion by Expires: Firefox moves an Expires by the response's Date (expiry =
        Expires + its clock - Date), so under the app's Date no such deletion is sure."""
        shape: str | bytes | None = None
        if isinstance(value, bytes):
            if 10 in value or 13 in value:  # LF, CR: a header a lax server splits in two
                return False
            end = value.find(b";")
            stop = end if end >= 0 else len(value)
            eq = value.find(b"=", 0, stop)
            # A comma or whitespace in the value may fold in a cookie of its own
            # (`folded_names`, `spaced_names`), which the shape does not show: such a
            # header is judged every time.
            if eq > 0 and not FOLDS_BYTES.search(value, eq, stop):
                shape = value[:eq] + value[end:] if end >= 0 else value[:eq]
        else:
            if "\n" in value or "\r" in value:
                return False
            end = value.find(";")
            stop = end if end >= 0 else len(value)
            eq = value.find("=", 0, stop)
            if eq > 0 and not FOLDS_TEXT.search(value, eq, stop):
                shape = value[:eq] + value[end:] if end >= 0 else value[:eq]
        verdict = None if shape is None else request.verdicts.get(shape)
        if verdict is None:
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            verdict = self._verdict(text, end, eq, request, shape, where)
        if verdict is True:
            return True
        if verdict is False:
            return False
        if headers is not None and _has_date(headers):
            return False
        return verdict <= time.time() - DELETION_MARGIN

    def _verdict(
        self,
        text: str,
        end: int,
        eq: int,
        request: RequestConsent,
        shape: str | bytes | None,
        where: Located | None,
    ) -> Verdict:
        """Judge a Set-Cookie shape seen for the first time under this consent, learn the
        place it sets its cookie at, and remember the verdict."""
        raw_name = text[:eq] if eq > 0 else ""
        # A name that is nothing but whitespace is no name (to browsers, or once a server
        # strips the value): the cookie is judged by its value too (see `judged_names`), so
        # neither its kind nor its verdict is remembered.
        named = bool(raw_name.strip())
        # A comma, or whitespace in the value, may fold in a cookie of another name
        # (`folded_names`, `spaced_names`): the kind is then the whole header's.
        by_name = (
            named
            and "," not in text
            and not FOLDS_TEXT.search(text, eq, end if end >= 0 else len(text))
        )
        names = request.names
        epoch = self._verdict_epoch
        kind = names.get(raw_name) if by_name else None
        if kind is None:
            kind = self._kind(text, request.consent)
            if by_name and len(names) < _MAX_NAMES:
                names[raw_name] = kind
        verdict: Verdict
        remembered = named and shape is not None
        if kind == _KEEP:
            verdict = True
        elif kind == _STRIP:
            verdict = False
        else:
            attributes = self._attributes_of(text, end)
            place_path = attributes.path
            if place_path is None and (kind == _KEEP_OPTIONAL or attributes.domain is not None):
                # No valid Path: the cookie lands in the request's directory, which differs
                # from page to page: learned on every response, so not remembered.
                place_path = default_path(where.url_path if where is not None else "/")
                remembered = remembered and kind != _KEEP_OPTIONAL
            if named and place_path is not None:
                self._remember_place(
                    raw_name.strip(" \t"), place_path, attributes.domain, attributes.partitioned
                )
            deletes_at = attributes.deletes_at
            if kind == _KEEP_OPTIONAL and place_path is not None and not _expirable(place_path):
                # A place no Path attribute can name (`/a;b`), or too long to remember: once
                # refused, the cookie could not be expired there. Not set at all.
                self._log_unexpirable(raw_name.strip(" \t"), place_path)
                return False
            if kind == _KEEP_OPTIONAL or deletes_at == -math.inf:
                verdict = True
            elif deletes_at == math.inf:
                verdict = False
            elif raw_name.strip().lower() == "max-age":
                # WebKit (curl CookieUtil) reads the cookie-pair as an attribute too: a
                # cookie named Max-Age sets its own Max-Age, and ignores the Expires after.
                verdict = False
            else:
                verdict = deletes_at  # an Expires date: a deletion only once it is past
        if remembered:
            self._remember_verdict(request.verdicts, shape, verdict, epoch)
        return verdict

    def _remember_verdict(
        self, verdicts: dict[Any, Verdict], shape: Any, verdict: Verdict, epoch: int
    ) -> None:
        """Bounded: past the byte limit (or a table's entry limit) every table starts over.
        Not remembered when every verdict was forgotten since `epoch` (when it was judged):
        the place it taught may be forgotten with them, and the shape must teach it again."""
        cost = len(shape) + ENTRY_OVERHEAD
        if len(shape) > _MAX_SHAPE or cost > self._verdict_limit:
            return
        with self._verdict_lock:
            if epoch != self._verdict_epoch:
                return
            if len(verdicts) >= _MAX_NAMES or self._verdict_bytes + cost > self._verdict_limit:
                self._forget_verdicts()
                verdicts.clear()  # also when it is none of the shared tables (past 64 sets)
            verdicts[shape] = verdict
            self._verdict_bytes += cost

    def _forget_verdicts(self) -> None:
        """Every table starts over (with `_verdict_lock` held)."""
        for _, verdicts in self._tables.values():
            verdicts.clear()
        self._verdict_bytes = 0
        self._verdict_epoch += 1

    def deleted_places(
        self, value: str, path: str = "/", https: bool = False
    ) -> list[tuple[str, str | None, str | None]]:
        """(name, path, domain) of the cookie that a Set-Cookie value deletes in every
        major browser now; [] when it is no such deletion, when browsers may store it
        under different names, or when a browser may ignore it whole (`browsers_store`:
        `Secure` on a plain-http page, `Partitioned`, a tab in the value...). Then the
        middleware sends its own deletions too. `https`: the request's scheme."""
        name = stored_name(value)
        if name is None:
            return []
        attributes = self._attributes_of(value, value.find(";"))
        if attributes.deletes_at > time.time() - DELETION_MARGIN:
            return []
        if not browsers_store(value, https or self._https_only):
            return []
        return [(name, attributes.path or default_path(path), attributes.domain)]

    def _kind(self, value: str, consent: Consent) -> int:
        """The verdict kind for every name the cookie may be stored or read back under."""
        kinds = []
        for name in judged_names(value):
            category = self.category_of(name)
            if name == self._cookie_name:
                return _STRIP  # the middleware's own: the app may not even delete it
            kind = self._category_kind(category, consent)
            if category is None:
                self._log_unknown(name)
            kinds.append(kind)
        if _REFUSED in kinds:
            return _REFUSED
        # A cookie folded in after a comma (`folded_names`) or a space in the value
        # (`spaced_names`) that a rule refuses (or the consent cookie itself): a client
        # that splits at commas would store it, `http.cookies` reads it from the Cookie
        # header. One that no rule names is left alone: browsers read it as part of the value.
        for name in (*folded_names(value), *spaced_names(value)):
            rule = self.config.rules.match(name)  # a rule's: not the unknown cookies' one
            if name == self._cookie_name or (
                rule is not None and self._category_kind(rule.category, consent) == _REFUSED
            ):
                return _REFUSED
        return _KEEP_OPTIONAL if _KEEP_OPTIONAL in kinds else _KEEP

    def _category_kind(self, category: str | None, consent: Consent) -> int:
        """_KEEP for a required category, _KEEP_OPTIONAL for one `consent` grants, else
        _REFUSED (None, no category, included)."""
        if category == ALWAYS or category in self.config.required_categories:
            return _KEEP
        if category is not None and consent.categories.get(category, False):
            return _KEEP_OPTIONAL
        return _REFUSED

    def _attributes_of(self, value: str, end: int) -> _Attributes:
        if end < 0:
            return _NO_ATTRIBUTES
        text = value[end + 1 :]
        found = self._attributes.get(text)
        if found is None:
            parsed = parse_set_cookie("x=;" + text)
            found = _Attributes(deletion_time(text), parsed.path, parsed.domain, parsed.partitioned)
            self._attributes.put(text, found)
        return found

    def expirations(
        self,
        request: RequestConsent,
        deleted_by_app: Iterable[tuple[str, str | None, str | None]] = (),
        other_bytes: int = 0,
        page_path: str = "/",
    ) -> list[str]:
        """Set-Cookie values expiring the refused cookies the request carries, and a stale
        consent cookie. A (name, path, domain) in `deleted_by_app` already gets the app's
        own deletion: it is not sent twice. At most `MAX_EXPIRY_BYTES` of them per
        response, and no more than fit beside the `other_bytes` of the response's other
        headers in `MAX_HEADER_BYTES` (proxies refuse large headers): the rest go on later
        responses, each starting with another cookie, while the request still carries them.
        Each is also expired host-only at every path a cookie sent to `page_path` (the
        request's raw path) may be stored at (`cookies.cookie_paths`): where a script on
        this page, or on one of its directories, stored it (without a `Path`, or with one
        such as `path=/shop` from `/shop/cat/item`)."""
        out: list[str] = []
        if request.stale_consent_cookie:
            out.append(self.consent_cookie_deletion(request.https))
        refused = request.refused
        if not refused:
            return out
        first = next(self._turns) % len(refused)
        rotated = refused[first:] + refused[:first]
        other_bytes += sum(len(value) + _LINE_BYTES for value in out)
        here = tuple(p for p in cookie_paths(page_path) if _expirable(p))
        return out + self._within_budget(
            rotated, request.https, set(deleted_by_app), other=other_bytes, here=here
        )

    def deletions_elsewhere(
        self, consent: Consent, carried: Iterable[str], https: bool, spent: Iterable[str] = ()
    ) -> list[str]:
        """For the answer to a choice: deletions of the refused cookies that the browser may
        hold where it does not send them to the consent endpoint (`_fbp` at `Path=/shop`,
        named by its rule or learned from the app), so that a refusal removes them at
        once rather than on the visitor's next page there. Cookies the request carried
        are expired by `expirations`; with `spent`, those deletions, at most
        `MAX_EXPIRY_BYTES` in all."""
        skip = set(carried)
        names = [n for n, rule in self.config.rules.exact.items() if rule.path != "/"]
        names += list(self._places)
        wanted = []
        for name in dict.fromkeys(names):
            if name in skip or name == self._cookie_name:
                continue
            rule = self.config.rules.match(name)
            if (
                rule is not None
                and rule.category != ALWAYS
                and not consent.categories.get(rule.category, True)
            ):
                wanted.append(name)
        spent_bytes = sum(len(value) + _LINE_BYTES for value in spent)
        return self._within_budget(wanted, https, frozenset(), spent_bytes)

    def _within_budget(
        self,
        names: Iterable[str],
        https: bool,
        skip: set[tuple[str, str | None, str | None]] | frozenset[Any],
        spent: int = 0,
        other: int = 0,
        here: tuple[str, ...] = (),
    ) -> list[str]:
        """The deletions of `names` (see `deletions_for`; each path of `here` is a
        host-only place of each too), in order, while all of them and the `spent` bytes of deletions
        before them fit in `MAX_EXPIRY_BYTES`, and beside the `other` bytes of the
        response's other headers in `MAX_HEADER_BYTES`."""
        out: list[str] = []
        size = spent
        limit = min(MAX_EXPIRY_BYTES, MAX_HEADER_BYTES - other)
        for name in names:
            for deletion in self.deletions_for(name, https, skip, here):
                size += len(deletion) + _LINE_BYTES
                if size > limit:
                    return out
                out.append(deletion)
        return out

    def deletions_for(
        self,
        name: str,
        https: bool,
        skip: set[tuple[str, str | None, str | None]] | frozenset[Any] = frozenset(),
        here: tuple[str, ...] = (),
    ) -> list[str]:
        """Deletions of one cookie at its rule's place, at every place the app set it (the
        latest first), and host-only at each path of `here` (the paths a cookie sent to
        the page may be stored at), where a script may have stored it (over https, or on a
        site declared https-only, partitioned there too). A partitioned
        (CHIPS) cookie is a cookie of its own, which only a `Partitioned` deletion (always
        `Secure`) expires. Over https, or on a site declared https-only, the rule's place
        gets one; every place where the app set a partitioned cookie gets one always (the
        browser that stored it is on https, also when a proxy that ends TLS forwards no
        scheme and the app sees http; a browser on a plain-http page ignores a `Secure`
        Set-Cookie)."""
        rule = self.config.rules.match(name)
        fallback = (rule.path, _domain(rule.domain)) if rule is not None else ("/", None)
        prefix = cookie_prefix(name)
        secure = https or bool(prefix)
        places = [(*fallback, False), *reversed(self._places.get(name, ()))]
        if secure or self._https_only:
            places.insert(1, (*fallback, True))
        places += [(path, None, False) for path in here]
        if secure or self._https_only:
            # A script's partitioned cookie there (`document.cookie = "...; partitioned"`,
            # https only): a cookie of its own, which only a `Partitioned` deletion expires.
            places += [(path, None, True) for path in here]
        out = []
        sent: set[tuple[str, str | None, bool]] = set()
        for path, domain, partitioned in places:
            if (path, domain, partitioned) in sent:
                continue
            sent.add((path, domain, partitioned))
            if prefix == "__Host-" and (path != "/" or domain is not None):
                continue
            if not partitioned and (name, path, domain) in skip:
                continue
            try:
                out.append(
                    deletion_header(
                        name,
                        path=path,
                        domain=domain,
                        secure=secure or partitioned,
                        partitioned=partitioned,
                    )
                )
            except ValueError:
                continue
        return out

    def _remember_place(
        self, name: str, path: str, domain: str | None, partitioned: bool = False
    ) -> None:
        """Note where the app sets a cookie that a later choice might refuse: its path and
        domain exactly as the browser stores them (a host-only cookie is not the cookie of
        a Domain), and whether it is partitioned."""
        rule = self.config.rules.match(name)
        if rule is None or not _expirable(path):
            return
        place = (path, domain, partitioned)
        if place in self._places.get(name, ()) or place[:2] == (rule.path, _domain(rule.domain)):
            return
        # Under the lock: two threads learning two places of one cookie at once keep both.
        with self._verdict_lock:
            known = self._places.get(name, ())
            if place in known:
                return
            if len(self._places) >= _MAX_NAMES and name not in self._places:
                return
            if len(known) >= _MAX_PLACES_PER_COOKIE:
                # The oldest place is forgotten: the shapes that set it must teach it again.
                self._forget_verdicts()
            self._places[name] = (known + (place,))[-_MAX_PLACES_PER_COOKIE:]
        if not known:
            logger.warning(
                "consent-middleware: the app sets cookie %r at Path=%s%s, which its rule does"
                " not name. Once refused, it is expired only by a process that saw the app set"
                " it: name the place with CookieRule(%r, path=%r%s) in ConsentConfig.cookies."
                " Logged once per cookie.",
                name,
                place[0],
                f" Domain={place[1]}" if place[1] else "",
                rule.category,
                place[0],
                f", domain={place[1]!r}" if place[1] else "",
            )

    def _log_unexpirable(self, name: str, path: str) -> None:
        if name in self._unknown_logged or len(self._unknown_logged) >= _MAX_NAMES:
            return
        self._unknown_logged.add(name)
        logger.warning(
            "consent-middleware blocked cookie %r set without Path on a page under %r: no"
            " Path attribute can name that directory, so the cookie could not be expired once"
            " refused (set it with Path=/). Logged once per name.",
            name,
            path,
        )

    def _log_unknown(self, name: str) -> None:
        if name in self._unknown_logged or len(self._unknown_logged) >= _MAX_NAMES:
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

    def consent_cookie_elsewhere(self, https: bool) -> list[str]:
        """Deletions that go with every new consent cookie: with `cookie_domain`, the
        host-only consent cookie (from before the site shared its choice across its
        subdomains). The browser would send both, the least permissive would count, and no
        grant made now would hold: a visitor who once refused could never accept again."""
        if self.config.cookie_domain is None:
            return []
        return [deletion_header(self._cookie_name, path="/", secure=self._secure(https))]

    def consent_cookie_deletion(self, https: bool) -> str:
        return deletion_header(
            self._cookie_name,
            path="/",
            domain=self.config.cookie_domain,
            secure=self._secure(https),
        )

    def consent_cookie_secure(self, https: bool) -> bool:
        """Whether the consent cookie is sent `Secure` (always, for a `__Host-` name)."""
        return self._secure(https)

    def _secure(self, https: bool) -> bool:
        if cookie_prefix(self._cookie_name):
            return True  # browsers drop these prefixed cookies without Secure
        if self.config.secure is not None:
            return self.config.secure or self.config.same_site == "none"
        return https or self.config.same_site == "none"


def _has_date(headers: Iterable[Any]) -> bool:
    """Whether response headers hold a `Date` (any spelling a server sends as one)."""
    for header in headers:
        name = header[0]
        text = name.decode("latin-1") if isinstance(name, (bytes, bytearray)) else str(name)
        if text.strip(" \t").lower() == "date":
            return True
    return False


def _expirable(path: str) -> bool:
    """Whether a deletion can name `path` in its Path attribute, and the middleware can
    remember it (a place longer than `_MAX_PLACE_PATH` is not remembered)."""
    if len(path) > _MAX_PLACE_PATH:
        return False
    try:
        deletion_header("x", path=path)
    except ValueError:
        return False
    return True


def _domain(domain: str | None) -> str | None:
    """A rule's domain as a Set-Cookie's parsed Domain reads: no leading dot, lower case."""
    return (domain.removeprefix(".").lower() or None) if domain else None


def least_permissive(consents: list[Consent]) -> Consent:
    """One consent that grants a category only if every one of `consents` grants it."""
    first = consents[0]
    if len(consents) == 1:
        return first
    categories = {
        name: all(c.categories.get(name, False) for c in consents) for name in first.categories
    }
    oldest = min(c.decided_ts or 0 for c in consents)
    return Consent(
        categories,
        decided=True,
        policy_version=first.policy_version,
        consent_id=first.consent_id,
        decided_ts=oldest,
        explicit=all(c.explicit for c in consents),
        notice_seen_ts=min((c.notice_seen_ts or 0) for c in consents) or None,
    )


def _request_size(key: str | bytes, value: RequestConsent) -> int:
    filtered = value.filtered_cookie_header
    return (
        len(key)
        + (len(value.cookie_header) if isinstance(key, bytes) else 0)
        + (len(filtered) if filtered else 0)
        + sum(len(name) + 56 for name in value.refused)
        + 4 * ENTRY_OVERHEAD
    )


_NO_ATTRIBUTES = _Attributes(math.inf, None, None)
#: A comma or whitespace: in a Set-Cookie's value, it may fold in a cookie of another name.
FOLDS_TEXT = re.compile(r"[,\s]")
FOLDS_BYTES = re.compile(rb"[,\s]")
