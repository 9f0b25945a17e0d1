"""Where the snippets went in pages seen before, so that a page served again byte for byte
costs a dict lookup instead of a pass of the HTML tokenizer.

Most pages repeat: a site's home page, a blog post, a product page rendered from the same
template and data send the same bytes to every visitor, while the cookies beside them are
fresh each time. Where the banner goes in a page (its real `</body>`) depends on the page's
bytes alone, and on which snippets wait for a place, never on the snippets' text: the memo
is keyed by exactly that, so a hit is the tokenizer's own answer, not an estimate. A page
that differs in one byte (a CSRF token, a user's name) is a miss and is tokenized.

A page is remembered only once it is served a second time: the first time, only its hash
is noted. So a page that no one is sent twice (one with a CSRF token or a visitor's name in
it) is never kept in memory, and costs no more than the tokenizer. Only pages without script
gating are remembered (a gate's rewriting depends on the visitor's grant), and only those
whose first body chunk holds every snippet's place.
"""

from __future__ import annotations

import threading

from .cache import ENTRY_OVERHEAD, BoundedCache

__all__ = ["MAX_PAGE", "PageMemo", "Places"]

#: The largest page remembered; a longer one is tokenized each time.
MAX_PAGE = 512 * 1024
#: Where the snippets go in a page: (offset, the head snippet goes there, the body one does).
Places = tuple[tuple[int, bool, bool], ...]


class PageMemo:
    """Page bytes -> `Places`, per set of snippets waiting; bounded by entries and bytes."""

    __slots__ = ("_tables", "_seen", "_limit", "_lock")

    def __init__(self, max_bytes: int, limit: int) -> None:
        # The hashes of pages seen once (per set of snippets), oldest first.
        self._seen: dict[tuple[bool, bool, int], None] = {}
        self._limit = limit
        self._lock = threading.Lock()
        # One table per (head snippet waiting, body snippet waiting).
        self._tables = {
            (head, body): BoundedCache[bytes, Places](
                limit,
                MAX_PAGE,
                max_bytes=max_bytes // 3,
                size_of=lambda key, places: len(key) + ENTRY_OVERHEAD + 32 * len(places),
            )
            for head, body in ((True, False), (False, True), (True, True))
        }

    def get(self, head: bool, body: bool, page: bytes) -> Places | None:
        return self._tables[head, body].get(page)

    def seen_before(self, head: bool, body: bool, page: bytes) -> bool:
        """Whether `page` was seen before (by its hash): worth learning now. Notes it if not."""
        if self._limit <= 0:
            return False
        key = (head, body, hash(page))
        if key in self._seen:
            return True
        with self._lock:
            while len(self._seen) >= self._limit:
                del self._seen[next(iter(self._seen))]
            self._seen[key] = None
        return False

    def put(self, head: bool, body: bool, page: bytes, places: Places) -> None:
        self._tables[head, body].put(page, places)
