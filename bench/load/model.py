"""What the checking clients know about the example site: its cookie rules, its keys, how to
sign the consent cookies a visitor may carry, and how to judge a response's Set-Cookie
headers against the consent that its request carried.

The judgement uses the package's own reading of a Set-Cookie (`judged_names`, the names a
browser may store it under, and `deletion_time`, whether every browser reads it as a
deletion), so that a header the middleware would call a deletion is not called a leak here,
and nothing the middleware would strip slips through as a deletion either.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from consent_middleware import ConsentConfig
from consent_middleware.consent import Consent, ConsentCodec
from consent_middleware.cookies import (
    DELETION_MARGIN,
    deletion_time,
    judged_names,
    parse_set_cookie,
)
from examples.site.config import COOKIES, POLICY_VERSION

CATEGORIES = ("authentication", "settings", "analytics", "marketing")
OPTIONAL = CATEGORIES[1:]
CONSENT_COOKIE = "consent"
#: What the example site sets on every HTML page, by category (see examples/site/pages.py).
PAGE_COOKIES = {"analytics": "_ga", "marketing": "_fbp"}

#: The keys of a load run: the site starts with OLD_KEY; the rotation puts NEW_KEY first.
OLD_KEY = "load-old-key-0123456789abcdef0123456789"
NEW_KEY = "load-new-key-fedcba9876543210fedcba9876"
#: A key the site never had: what it signs is forged.
STRANGER_KEY = "load-stranger-key-not-the-sites-0000000"


def site_config(keys: Sequence[str]) -> ConsentConfig:
    """The parts of the example site's config that decide cookies and their signatures."""
    return ConsentConfig(secret_key=list(keys), cookies=COOKIES, policy_version=POLICY_VERSION)


CONFIG = site_config([OLD_KEY])
_MAX_AGE = CONFIG.max_age_seconds


def category_of(name: str) -> str | None:
    """The category of a cookie name under the site's rules; None when no rule names it."""
    rule = CONFIG.rules.match(name)
    return None if rule is None else rule.category


class Signer:
    """Consent cookie values as the site would sign them (and as it must not accept)."""

    def __init__(self) -> None:
        self.old = ConsentCodec(site_config([OLD_KEY]))
        self.new_only = ConsentCodec(site_config([NEW_KEY]))
        self.both = ConsentCodec(site_config([NEW_KEY, OLD_KEY]))
        self.stranger = ConsentCodec(site_config([STRANGER_KEY]))

    def signed(
        self, granted: Iterable[str], *, consent_id: str | None = None, age: float = 60.0
    ) -> tuple[str, str]:
        """A valid cookie (old key) granting `granted`, decided `age` seconds ago; its id."""
        consent = self.old.decide(granted, consent_id=consent_id, now=time.time() - age)
        assert consent.consent_id is not None
        return self.old.encode(consent), consent.consent_id

    def expired(self, granted: Iterable[str]) -> tuple[str, str]:
        """Authentic, but decided longer ago than the consent's max age: undecided now."""
        return self.signed(granted, age=_MAX_AGE + 3600)

    def forged(self, kind: str, granted: Iterable[str] = OPTIONAL) -> str:
        """A consent cookie the site must read as undecided."""
        if kind == "stranger":  # signed, but with a key the site never had
            return self.stranger.encode(self.stranger.decide(granted))
        value, _ = self.signed(())
        payload, _, signature = value.rpartition(".")
        if kind == "tampered":  # the grants rewritten under the old signature
            fields = payload.split("~")
            fields[3] = "+".join(granted)
            return "~".join(fields) + "." + signature
        if kind == "truncated":
            return value[:-6]
        if kind == "unsigned":
            return payload
        return "accept_all"  # a plain guess

    def decode(self, value: str) -> Consent:
        return self.both.decode(value)

    def signed_by_new_key(self, value: str) -> bool:
        return self.new_only.decode(value).decided

    def signed_by_old_key(self, value: str) -> bool:
        return self.old.decode(value).decided


FORGERIES = ("stranger", "tampered", "truncated", "unsigned", "guess")


@dataclass(frozen=True)
class SetCookieReading:
    value: str
    names: tuple[str, ...]
    deletes: bool
    stored_name: str


def read_set_cookie(value: str, now: float) -> SetCookieReading:
    end = value.find(";")
    attributes = value[end + 1 :] if end >= 0 else ""
    deletes = deletion_time(attributes) <= now - DELETION_MARGIN
    return SetCookieReading(value, judged_names(value), deletes, parse_set_cookie(value).name)


def leaks(
    set_cookies: Sequence[str],
    allowed: frozenset[str],
    *,
    consent_cookie_may_be_set: bool = False,
    now: float | None = None,
) -> list[str]:
    """Each Set-Cookie that must not have left: a cookie (not a deletion) of a category the
    request's consent does not grant, of no category at all, or the consent cookie itself
    set by anything but a choice."""
    now = time.time() if now is None else now
    found = []
    for value in set_cookies:
        if "\n" in value or "\r" in value:
            found.append(f"a Set-Cookie with a line break: {value[:80]!r}")
            continue
        reading = read_set_cookie(value, now)
        for name in reading.names:
            if name == CONSENT_COOKIE:
                if not reading.deletes and not consent_cookie_may_be_set:
                    found.append(f"the consent cookie set outside a choice: {value[:80]!r}")
                continue
            category = category_of(name)
            if category == "authentication" or reading.deletes:
                continue
            if category is None:
                found.append(f"{name!r} matches no rule, yet it was set: {value[:80]!r}")
            elif category not in allowed:
                found.append(f"{name!r} ({category}) set while {category} is refused")
    return found


def cookies_set(set_cookies: Sequence[str], now: float | None = None) -> set[str]:
    """Names that the headers set (deletions left out)."""
    now = time.time() if now is None else now
    readings = (read_set_cookie(v, now) for v in set_cookies)
    return {r.stored_name for r in readings if not r.deletes}


def cookies_deleted(set_cookies: Sequence[str], now: float | None = None) -> set[str]:
    now = time.time() if now is None else now
    readings = (read_set_cookie(v, now) for v in set_cookies)
    return {r.stored_name for r in readings if r.deletes}


class Jar:
    """The cookies a browser would send back (every cookie here lives at Path=/)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def apply(self, set_cookies: Sequence[str]) -> None:
        for value in set_cookies:
            cookie = parse_set_cookie(value)
            if cookie.is_deletion:
                self.cookies.pop(cookie.name, None)
            else:
                self.cookies[cookie.name] = cookie.value

    def header(self, extra: Sequence[tuple[str, str]] = ()) -> str:
        pairs = [*self.cookies.items(), *extra]
        return "; ".join(f"{name}={value}" for name, value in pairs)

    def copy(self) -> Jar:
        jar = Jar()
        jar.cookies = dict(self.cookies)
        return jar


def state_categories(granted: Iterable[str]) -> dict[str, bool]:
    """The `categories` of the JSON state for a choice granting `granted`."""
    wanted = set(granted)
    return {name: name == "authentication" or name in wanted for name in CATEGORIES}


def granted_of(categories: dict[str, bool]) -> frozenset[str]:
    return frozenset(name for name in OPTIONAL if categories.get(name))
