"""Switches of the fault runs, read from the environment by the faulty site variants.

- `LOAD_BREAK=read,plan,filter`: the middleware's own logic fails on every request, where
  it reads the consent (`read`), judges the response's headers (`plan`) or rewrites a page
  (`filter`). What must hold then: it fails closed and the app's response is served.
- `LOAD_STORE_DELAY=0.05`: every record write waits that long before and after it, so that a
  worker killed during a burst of choices dies in the middle of some of them.
- `LOAD_FAULT_DIR`: where the apps note that a response body's close() was called.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from consent_middleware import ConsentConfig
from consent_middleware.html import HtmlRewriter
from consent_middleware.policy import ConsentPolicy
from consent_middleware.records import Record, RecordStore, open_store


class AppFault(RuntimeError):
    """What the faulty routes raise: the app's own failure, not the middleware's."""


class MiddlewareFault(RuntimeError):
    """What a broken middleware function raises."""


def _broken(kind: str) -> Any:
    def broken(*args: object, **kwargs: object) -> Any:
        raise MiddlewareFault(f"load: the middleware's {kind} step is broken")

    return broken


BREAKS = {
    "read": (ConsentPolicy, "read_request"),
    "plan": (ConsentPolicy, "keeps"),
    "filter": (HtmlRewriter, "feed"),
}


def apply_breaks() -> list[str]:
    kinds = [k.strip() for k in os.environ.get("LOAD_BREAK", "").split(",") if k.strip()]
    for kind in kinds:
        owner, name = BREAKS[kind]
        setattr(owner, name, _broken(kind))
    return kinds


class SlowStore:
    """A record store whose writes take `delay` seconds before and after the real write."""

    def __init__(self, inner: RecordStore, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    def write(self, record: Record, texts: Mapping[str, str] | None = None) -> bool:
        time.sleep(self.delay)
        written = self.inner.write(record, texts)
        time.sleep(self.delay)
        return written

    def put_texts(self, texts_hash: str, language: str, texts: Mapping[str, str]) -> None:
        self.inner.put_texts(texts_hash, language, texts)

    def texts(self, texts_hash: str) -> dict[str, str] | None:
        return self.inner.texts(texts_hash)

    def records_for(self, consent_id: str) -> list[Record]:
        return self.inner.records_for(consent_id)

    def export(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Record]:
        return self.inner.export(since, until)

    def count(self, since: datetime | None = None, until: datetime | None = None) -> int:
        return self.inner.count(since, until)

    def erase(self, consent_id: str) -> int:
        return self.inner.erase(consent_id)

    def purge(self, older_than: datetime) -> int:
        return self.inner.purge(older_than)

    def purge_inactive(self, last_choice_before: datetime) -> int:
        return self.inner.purge_inactive(last_choice_before)

    def close(self) -> None:
        self.inner.close()


def faulty_config(config: ConsentConfig) -> ConsentConfig:
    """The site's config, with the slow store when `LOAD_STORE_DELAY` asks for it."""
    delay = float(os.environ.get("LOAD_STORE_DELAY", "0") or 0)
    if not delay:
        return config
    store = open_store(config.records)
    assert store is not None
    return dataclasses.replace(config, records=SlowStore(store, delay))


def note_closed(tag: str) -> None:
    """Note that the body of request `tag` was closed."""
    folder = os.environ.get("LOAD_FAULT_DIR")
    if folder and tag:
        with (Path(folder) / "closed.txt").open("a") as out:
            out.write(tag + "\n")


TRACKING = (
    ("session", "s3ss10n"),
    ("_ga", "GA1.1.1.1"),
    ("_fbp", "fb.1.1.1"),
)
