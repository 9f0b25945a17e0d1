"""What a cookie (or storage key) is, by its name: the bundled Open Cookie Database, with a
small overlay of framework cookies that wins over it.

The database (data/open-cookie-database.json, derived by scripts/build-cookiedb; Apache 2.0,
see data/NOTICE) has traps for a site's own cookies: `sessionid` is Instagram there, though
Django names its session cookie so, and Flask's `session`, Django's `csrftoken` and PostHog's
`ph_*` are missing. Matching order: the overlay (exact, then longest prefix), then the
database's exact names, then its longest prefix. Prefixes shorter than three characters
(`_s`, `SR`) match only the name itself: as prefixes they would claim half of all names.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

__all__ = [
    "CATEGORY_ORDER",
    "CookieDatabase",
    "KnownCookie",
    "default_database",
    "suggested_category",
]

Source = Literal["open-cookie-database", "overlay"]

#: The database's categories, as the middleware's default categories.
_SUGGESTED = {
    "Necessary": "authentication",
    "Security": "authentication",
    "Functional": "settings",
    "Personalization": "settings",
    "Analytics": "analytics",
    "Marketing": "marketing",
}
#: From the most to the least restrictive: when entries disagree, the stricter one counts.
CATEGORY_ORDER = ("marketing", "analytics", "settings", "authentication")
_MIN_PREFIX = 3


def suggested_category(database_category: str) -> str | None:
    """The middleware's default category for a database category, or None."""
    return _SUGGESTED.get(database_category)


@dataclass(frozen=True)
class KnownCookie:
    """One entry: a name (or a prefix of names) with its platform and category."""

    name: str
    prefix: bool
    platform: str
    category: str
    domain: str = ""
    retention: str = ""
    description: str = ""
    source: Source = "open-cookie-database"
    #: Other entries of the same name (the database lists some names for several platforms).
    alternatives: tuple[KnownCookie, ...] = field(default=(), compare=False)

    @property
    def pattern(self) -> str:
        """The name as a config rule would write it: `_ga_*` for a prefix."""
        return self.name + "*" if self.prefix else self.name

    @property
    def suggested(self) -> str | None:
        """The middleware's default category: the strictest of this entry's alternatives."""
        names = {suggested_category(e.category) for e in (self, *self.alternatives)}
        for category in CATEGORY_ORDER:
            if category in names:
                return category
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "category": self.category,
            "suggested_category": self.suggested,
            "match": "prefix" if self.prefix else "exact",
            "pattern": self.pattern,
            "domain": self.domain or None,
            "retention": self.retention or None,
            "description": self.description or None,
            "source": self.source,
            "alternatives": [
                {"platform": e.platform, "category": e.category} for e in self.alternatives
            ],
        }


def _overlay_entry(
    name: str, platform: str, category: str, description: str, *, prefix: bool = False
) -> KnownCookie:
    return KnownCookie(name, prefix, platform, category, "", "", description, "overlay")


#: Framework and library cookies that the database lacks or gives to someone else.
OVERLAY: tuple[KnownCookie, ...] = (
    _overlay_entry("session", "Flask", "Necessary", "Flask's signed session cookie."),
    _overlay_entry("sessionid", "Django", "Necessary", "Django's session id."),
    _overlay_entry("csrftoken", "Django", "Security", "Django's CSRF protection token."),
    _overlay_entry("csrf_token", "Web frameworks", "Security", "A CSRF protection token."),
    _overlay_entry("_csrf", "Express (csurf)", "Security", "A CSRF protection secret."),
    _overlay_entry(
        "remember_token", "Flask-Login", "Necessary", "Keeps a user signed in across sessions."
    ),
    _overlay_entry("XSRF-TOKEN", "Laravel / Angular", "Security", "A CSRF protection token."),
    _overlay_entry("laravel_session", "Laravel", "Necessary", "Laravel's session id."),
    _overlay_entry("PHPSESSID", "PHP", "Necessary", "PHP's session id."),
    _overlay_entry("JSESSIONID", "Java servlets", "Necessary", "A Java servlet session id."),
    _overlay_entry("ASP.NET_SessionId", "ASP.NET", "Necessary", "ASP.NET's session id."),
    _overlay_entry(
        ".AspNetCore.",
        "ASP.NET Core",
        "Necessary",
        "ASP.NET Core session, sign-in and antiforgery cookies.",
        prefix=True,
    ),
    _overlay_entry("connect.sid", "Express (express-session)", "Necessary", "A session id."),
    _overlay_entry("rack.session", "Rack", "Necessary", "Rack's session cookie."),
    _overlay_entry(
        "next-auth.", "NextAuth.js", "Necessary", "Session and CSRF cookies.", prefix=True
    ),
    _overlay_entry(
        "__Secure-next-auth.", "NextAuth.js", "Necessary", "Session and CSRF cookies.", prefix=True
    ),
    _overlay_entry("__Host-next-auth.", "NextAuth.js", "Necessary", "CSRF cookie.", prefix=True),
    _overlay_entry(
        "ph_",
        "PostHog",
        "Analytics",
        "PostHog's visitor id and session (ph_<key>_posthog).",
        prefix=True,
    ),
    _overlay_entry("consent", "consent-middleware", "Necessary", "Remembers the consent choice."),
)


class CookieDatabase:
    """Exact names in a dict, prefixes longest first: a lookup is one dict probe and a scan
    of a few hundred prefixes."""

    def __init__(self, entries: Iterable[KnownCookie], overlay: Iterable[KnownCookie] = ()):
        self._overlay = _Index(overlay)
        self._database = _Index(entries)

    def lookup(self, name: str) -> KnownCookie | None:
        """The entry that names `name`, or None when neither the overlay nor the database does."""
        return self._overlay.lookup(name) or self._database.lookup(name)

    def __len__(self) -> int:
        return len(self._database)


class _Index:
    def __init__(self, entries: Iterable[KnownCookie]) -> None:
        exact: dict[str, list[KnownCookie]] = {}
        prefixes: dict[str, list[KnownCookie]] = {}
        count = 0
        for entry in entries:
            count += 1
            if entry.prefix:
                prefixes.setdefault(entry.name, []).append(entry)
            # A prefix also matches the bare name; a short one matches nothing else.
            exact.setdefault(entry.name, []).append(entry)
        self._count = count
        self._exact = {name: _merge(found) for name, found in exact.items()}
        self._prefixes = tuple(
            (name, _merge(found))
            for name, found in sorted(prefixes.items(), key=lambda item: -len(item[0]))
            if len(name) >= _MIN_PREFIX
        )

    def lookup(self, name: str) -> KnownCookie | None:
        found = self._exact.get(name)
        if found is not None:
            return found
        for prefix, entry in self._prefixes:
            if name.startswith(prefix):
                return entry
        return None

    def __len__(self) -> int:
        return self._count


def _merge(entries: list[KnownCookie]) -> KnownCookie:
    # An exact entry describes the name itself better than a prefix of the same spelling.
    ordered = sorted(entries, key=lambda e: e.prefix)
    first, rest = ordered[0], tuple(ordered[1:])
    if not rest:
        return first
    return KnownCookie(
        first.name,
        first.prefix,
        first.platform,
        first.category,
        first.domain,
        first.retention,
        first.description,
        first.source,
        rest,
    )


def parse_database(document: Mapping[str, Any]) -> list[KnownCookie]:
    """Entries of the file that scripts/build-cookiedb writes."""
    fields = list(document["fields"])
    index = {name: fields.index(name) for name in fields}
    return [
        KnownCookie(
            name=str(row[index["name"]]),
            prefix=bool(row[index["prefix"]]),
            platform=str(row[index["platform"]]),
            category=str(row[index["category"]]),
            domain=str(row[index["domain"]]),
            retention=str(row[index["retention"]]),
            description=str(row[index["description"]]),
        )
        for row in document["cookies"]
    ]


@functools.lru_cache(maxsize=1)
def default_database() -> CookieDatabase:
    """The bundled database with the overlay, read once."""
    return CookieDatabase(parse_database(_document()), OVERLAY)


def source_info() -> dict[str, str]:
    """Where the bundled database comes from (name, url, commit, date, license)."""
    return {str(k): str(v) for k, v in _document()["source"].items()}


@functools.lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    data = resources.files(__package__) / "data" / "open-cookie-database.json"
    document: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))
    return document
