"""A bounded map for the hot path's caches: a plain dict that forgets its oldest entry."""

from __future__ import annotations

from contextlib import suppress
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K", bound=str | bytes)
V = TypeVar("V")


class BoundedCache(dict[K, V], Generic[K, V]):
    """At most `limit` entries, each key at most `max_key` long: a 100 KB Cookie header
    would otherwise turn a bounded count into unbounded memory. Safe to share between
    threads: a lost race only costs a recomputation."""

    __slots__ = ("limit", "max_key")

    def __init__(self, limit: int, max_key: int = 8192) -> None:
        super().__init__()
        self.limit = limit
        self.max_key = max_key

    def put(self, key: K, value: V) -> None:
        if self.limit <= 0 or len(key) > self.max_key:
            return
        if len(self) >= self.limit:
            # Dicts keep insertion order: the first key is the oldest.
            with suppress(RuntimeError, StopIteration, KeyError):
                self.pop(next(iter(self)))
        self[key] = value
