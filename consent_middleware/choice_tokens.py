"""The token of a rendered banner's forms (`/consent?t=<token>`): it makes a retried post
the same choice (one record, and a first choice's consent id derived from it).

A token names when its page was rendered (8 hex digits of Unix time, then 16 random
characters), so that it counts as the same choice only for `FRESH_FOR` seconds: a token
read in an access log, or a page that a cache served to many visitors for hours, cannot
tie a later first choice to another visitor's consent id. Not signed: changing the time
changes the token, and so the id it would derive.
"""

from __future__ import annotations

import binascii
import os
import time

__all__ = ["FRESH_FOR", "is_fresh", "new_page_token"]

_URL_SAFE = bytes.maketrans(b"+/", b"-_")
#: How long after rendering a page its token still makes a retry the same choice.
FRESH_FOR = 600
#: Random parts read from the system at once.
_BATCH = 256
#: Random parts not handed out yet: each is popped by one caller only (`list.pop` is atomic,
#: so no two threads get the same one), and a forked child starts with none.
_unused: list[str] = []
os.register_at_fork(after_in_child=_unused.clear)


def new_page_token(now: float | None = None) -> str:
    """A token for one rendered page."""
    issued = int(time.time() if now is None else now)
    try:
        chars = _unused.pop()
    except IndexError:
        chars = _refill()
    return f"{issued & 0xFFFFFFFF:08x}" + chars


def _refill() -> str:
    """One random part, and `_BATCH - 1` more kept for later pages. Each is 12 random bytes
    as 16 URL-safe base64 characters, no padding (what `secrets.token_urlsafe(12)` gives).
    Read in batches: a page token is made on every page with a banner, and one read of the
    system's random source per page cost a system call each time, more than all the rest
    of the token in a busy server."""
    # 12 bytes are 16 characters: the batch's encoding, cut every 16, is each part's own.
    text = binascii.b2a_base64(os.urandom(12 * _BATCH), newline=False).translate(_URL_SAFE)
    parts = text.decode("ascii")
    _unused.extend(parts[i : i + 16] for i in range(16, len(parts), 16))
    return parts[:16]


def is_fresh(token: str, now: float | None = None) -> bool:
    """Whether `token` is a page token rendered less than `FRESH_FOR` seconds ago (and not
    in the future, beyond a minute of clock skew between servers)."""
    stamp = token[:8]
    if len(token) != 24 or not all(c in "0123456789abcdef" for c in stamp):
        return False
    age = int(time.time() if now is None else now) - int(stamp, 16)
    return -60 <= age < FRESH_FOR
