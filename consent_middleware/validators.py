"""Revalidation of the pages the middleware rewrites.

A rewritten page differs by consent state (the banner, gated scripts, the visitor's state
in the page), but the app's validators do not. After a choice, a browser revalidating its
cached copy (`If-None-Match: <the app's tag>`, `If-Modified-Since`) would get 304 and show
the page of the old state: the banner back after Accept, a gated script live after Reject.

So a rewritten page's ETag names the state as well (`W/"<app's tag>-cm<state><s|w>"`), its
Last-Modified goes, and a request's If-None-Match reaches the app translated back to the
app's own tags only when it names the current state; a tag of another state is removed
(with If-Modified-Since), so the app sends the page whole. Sans-IO: text in, text out.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["STALE_COPY", "Revalidation", "page_etag", "revalidation"]

_MARK = "-cm"
#: One entity-tag of a list (RFC 9110 8.8.3): weak or not, its opaque part, then a comma.
_TAG_RE = re.compile(r'[ \t]*(W/)?"([^"]*)"[ \t]*(?:,|$)')
_STATE_RE = re.compile(r"(.*)-cm([0-9a-f]{12})([sw])", re.DOTALL)


class Revalidation(NamedTuple):
    """What a request's validators become for the app, when they hold one of our tags."""

    #: The If-None-Match the app sees (None: none at all).
    if_none_match: str | None
    #: A tag of another consent state was sent: If-Modified-Since must not reach the app
    #: either (it would answer 304 by date).
    drop_modified_since: bool
    #: A tag of the current state was sent: a 304 answer gets our tag back.
    matched: bool


#: A navigation's validators that name none of our states: all of them go, the page comes whole.
STALE_COPY = Revalidation(None, True, False)


def page_etag(etag: str, state: str) -> str | None:
    """The ETag of a rewritten page: the app's, weak (the bytes are no longer the app's),
    naming `state`. None when the app's is no entity-tag (then none is sent)."""
    tag = etag.strip(" \t")
    weak = tag.startswith("W/")
    opaque = tag[2:] if weak else tag
    if len(opaque) < 2 or opaque[0] != '"' or opaque[-1] != '"' or '"' in opaque[1:-1]:
        return None
    return f'W/"{opaque[1:-1]}{_MARK}{state}{"w" if weak else "s"}"'


def revalidation(if_none_match: str, state: str) -> Revalidation | None:
    """How to pass on a request's If-None-Match; None when it holds none of our tags (or is
    no list of entity-tags: then it reaches the app as it came)."""
    if _MARK not in if_none_match:
        return None
    kept: list[str] = []
    stale = matched = False
    at = 0
    while at < len(if_none_match):
        found = _TAG_RE.match(if_none_match, at)
        if found is None or found.end() == at:
            return None
        at = found.end()
        weak, opaque = found.group(1), found.group(2)
        ours = _STATE_RE.fullmatch(opaque)
        if ours is None:
            kept.append(f'{weak or ""}"{opaque}"')
        elif ours.group(2) == state:
            matched = True
            kept.append(f'{"W/" if ours.group(3) == "w" else ""}"{ours.group(1)}"')
        else:
            stale = True
    if not (stale or matched):
        return None
    return Revalidation(", ".join(kept) or None, stale, matched)
