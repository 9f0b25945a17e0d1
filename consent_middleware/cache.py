"""Bounded maps for the hot path's caches: plain dicts that forget their oldest entries.

Every cache is bounded twice: by entries, and by an estimate of the bytes it holds, drawn
from one budget per middleware (`ConsentConfig.cache_bytes`). Hostile requests can send
8 KB Cookie headers by the thousand; an entry count alone would then pin hundreds of MB.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Generic, TypeVar

__all__ = ["ByteBudget", "BoundedCache", "ENTRY_OVERHEAD"]

K = TypeVar("K", bound=str | bytes | tuple[object, ...])
V = TypeVar("V")

#: What a dict slot, a key object and a small value cost beyond the key's characters.
ENTRY_OVERHEAD = 200


class ByteBudget:
    """The bytes that a group of caches may hold together; each cache takes a share."""

    __slots__ = ("total",)

    def __init__(self, total: int) -> None:
        self.total = max(int(total), 0)

    def share(self, fraction: float) -> int:
        return int(self.total * fraction)


class BoundedCache(dict[K, V], Generic[K, V]):
    """At most `limit` entries and about `max_bytes` bytes (as `size_of` estimates them),
    each key at most `max_key` long. Safe to share between threads: a lost race only
    costs a recomputation, and the byte count is kept under a lock."""

    __slots__ = ("limit", "max_key", "max_bytes", "size", "_size_of", "_sizes", "_lock")

    def __init__(
        self,
        limit: int,
        max_key: int = 8192,
        *,
        max_bytes: int | None = None,
        size_of: Callable[[K, V], int] | None = None,
    ) -> None:
        super().__init__()
        self.limit = limit
        self.max_key = max_key
        self.max_bytes = max_bytes if max_bytes is not None else limit * (max_key + ENTRY_OVERHEAD)
        #: Estimated bytes held now.
        self.size = 0
        self._size_of = size_of or _key_size
        self._sizes: dict[K, int] = {}
        self._lock = threading.Lock()

    def put(self, key: K, value: V) -> None:
        if self.limit <= 0 or len(key) > self.max_key:
            return
        cost = self._size_of(key, value)
        if cost > self.max_bytes:
            return
        with self._lock:
            old = self._sizes.pop(key, None)
            if old is not None:
                self.size -= old
            while self._sizes and (
                len(self._sizes) >= self.limit or self.size + cost > self.max_bytes
            ):
                # Dicts keep insertion order: the first key is the oldest.
                oldest = next(iter(self._sizes))
                self.size -= self._sizes.pop(oldest)
                with suppress(KeyError):
                    del self[oldest]
            self._sizes[key] = cost
            self.size += cost
            self[key] = value

    def clear(self) -> None:
        with self._lock:
            super().clear()
            self._sizes.clear()
            self.size = 0


def _key_size(key: object, value: object) -> int:
    return (len(key) if isinstance(key, (str, bytes)) else 64) + ENTRY_OVERHEAD
