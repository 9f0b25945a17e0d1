"""Where the endpoints may send a visitor back to: a path on this site, never another one."""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = ["form_room", "safe_prefix", "safe_return_to", "within"]

_UNSAFE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Kept as they are: what a URL path and query may hold, and "%" so escapes stay single.
_PATH_SAFE = "/?#[]@!$&'()*+,;=:%~-._"
_PREFIX_RE = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*")


def safe_return_to(value: str | None, fallback: str = "/") -> str:
    """`value` if it is a path on this site, percent-encoded to ASCII; else `fallback`.

    Refuses "//host" and "/\\host" (browsers read both as another site), absolute URLs,
    control characters (browsers drop tabs and newlines, which could make "//").
    """
    if (
        not isinstance(value, str)
        or len(value) > 2000
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or _UNSAFE_RE.search(value)
    ):
        return fallback
    return quote(value, safe=_PATH_SAFE)


def safe_prefix(value: str | None) -> str:
    """A mount prefix (ASGI `root_path`, WSGI `SCRIPT_NAME`) fit to put in front of our URLs:
    "" or "/a/b" of plain path characters. A proxy header can set it, so anything else
    (a trailing slash aside) counts as no prefix rather than as markup or another host."""
    if not value or not isinstance(value, str):
        return ""
    value = value.rstrip("/")
    if len(value) > 512 or not _PREFIX_RE.fullmatch(value) or value.startswith("//"):
        return ""
    return value


def form_room(max_body_size: int, categories: int) -> int:
    """The longest `return_to` that a form can post within `max_body_size`: form encoding
    may triple each character, and the action, token and categories take the rest."""
    return max((max_body_size - 256 - 64 * categories) // 3, 1)


def within(return_to: str, room: int) -> str:
    """`return_to` (already safe), or its path without the query, or "/": the longest that
    fits in `room`. A page whose own URL is too long to post still leads back near it,
    and the visitor's choice is never refused as too large (413)."""
    if len(return_to) <= room:
        return return_to
    path = return_to.split("?", 1)[0]
    return path if len(path) <= room else "/"
