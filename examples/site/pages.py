"""Page data and helpers shared by both apps: fake CRM records, the cookie list, sign-in."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from consent_middleware import Consent, ConsentConfig

from .config import secret_keys

THEMES = ("light", "dark")
NAV = (
    ("/", "Home"),
    ("/contacts", "Contacts"),
    ("/deals", "Deals"),
    ("/settings", "Settings"),
    ("/privacy", "Privacy"),
)

YEAR = 365 * 24 * 3600
#: `set_cookie` of a Starlette or a Flask response: both take the same keyword arguments.
SetCookie = Callable[..., object]


@dataclass(frozen=True)
class Contact:
    name: str
    company: str
    email: str
    phone: str


@dataclass(frozen=True)
class Deal:
    title: str
    company: str
    stage: str
    value_eur: int
    closes: str


@dataclass(frozen=True)
class CookieInfo:
    name: str
    category: str
    purpose: str
    lifetime: str
    set_by: str


CONTACTS = (
    Contact(
        "Olena Kovalenko", "Dnipro Logistics", "olena@dnipro-logistics.example", "+380 44 555 0101"
    ),
    Contact("Marcus Weber", "Weber & Söhne", "m.weber@weber-soehne.example", "+49 30 5550 1234"),
    Contact("Aisha Rahman", "Brightline Energy", "aisha@brightline.example", "+44 20 5550 0199"),
    Contact("Tomás Ruiz", "Ruiz Ceramics", "tomas@ruiz-ceramics.example", "+34 91 555 0142"),
)

DEALS = (
    Deal("Fleet tracking rollout", "Dnipro Logistics", "Proposal", 48_000, "2026-12-15"),
    Deal("Warehouse sensors", "Weber & Söhne", "Negotiation", 125_500, "2027-01-31"),
    Deal("Solar monitoring pilot", "Brightline Energy", "Qualified", 18_900, "2027-02-28"),
    Deal("Kiln controller upgrade", "Ruiz Ceramics", "Won", 9_750, "2026-11-02"),
)

COOKIE_TABLE = (
    CookieInfo("session", "authentication", "Keeps you signed in.", "Until you sign out", "server"),
    CookieInfo("theme", "settings", "Remembers the colour theme you chose.", "1 year", "server"),
    CookieInfo("_ga", "analytics", "Counts visits to each page.", "2 years", "server"),
    CookieInfo("_ga_js", "analytics", "Counts visits in the browser.", "2 years", "script"),
    CookieInfo("_fbp", "marketing", "Measures our advertising.", "90 days", "server"),
)

_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# itsdangerous signs with the last key of a list and verifies with all of them.
_session = URLSafeSerializer(secret_keys()[::-1], salt="integrica.session")


def set_tracking_cookies(set_cookie: SetCookie, cookies: Mapping[str, str]) -> None:
    """What every HTML page does: the analytics and marketing cookies, from the server.

    The middleware strips them unless the visitor granted their category.
    """
    now = int(time.time())
    ga = _reuse(cookies.get("_ga")) or f"GA1.1.{secrets.randbelow(2**31)}.{now}"
    fbp = _reuse(cookies.get("_fbp")) or f"fb.1.{now * 1000}.{secrets.randbelow(2**31)}"
    set_cookie("_ga", ga, max_age=2 * YEAR, path="/", httponly=True, samesite="Lax")
    set_cookie("_fbp", fbp, max_age=90 * 24 * 3600, path="/", httponly=True, samesite="Lax")


def _reuse(value: str | None) -> str | None:
    return value if value and _COOKIE_VALUE.match(value) else None


def sign_in(set_cookie: SetCookie, username: str) -> None:
    set_cookie("session", _session.dumps(username), path="/", httponly=True, samesite="Lax")


def set_theme(set_cookie: SetCookie, theme: str) -> None:
    set_cookie("theme", theme, max_age=YEAR, path="/", httponly=True, samesite="Lax")


def signed_in_user(cookies: Mapping[str, str]) -> str | None:
    try:
        user = _session.loads(cookies.get("session", ""))
    except BadSignature:
        return None
    return user if isinstance(user, str) else None


def page_context(path: str, cookies: Mapping[str, str], consent: Consent) -> dict[str, Any]:
    """What the base template needs on every page."""
    theme = cookies.get("theme")
    return {
        "nav": NAV,
        "path": path,
        "theme": theme if theme in THEMES else None,
        "user": signed_in_user(cookies),
        "consent": consent,
    }


def privacy_context(config: ConsentConfig) -> dict[str, Any]:
    return {"categories": config.category_list, "cookie_table": COOKIE_TABLE}
