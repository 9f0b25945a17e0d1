"""Code that runs in other processes (spawned, so it must be importable)."""

from __future__ import annotations

from typing import Any

from consent_middleware.records import open_store

from .helpers import TEXTS, make

SHARED = 40  # ids every process writes: cross-process duplicates
RETRY_EVERY = 10  # every 10th write repeats this process's previous one: a retry


def record_ids(worker: int, writes: int) -> list[str]:
    """The record_id of each write call of one worker, duplicates included."""
    ids: list[str] = []
    for n in range(writes):
        if n % RETRY_EVERY == RETRY_EVERY - 1:
            ids.append(ids[-1])
        elif n < SHARED:
            ids.append(f"{0xFFFF:04x}{n:028x}")
        else:
            ids.append(f"{worker:04x}{n:028x}")
    return ids


def write_many(url: str, worker: int, writes: int, start: Any, results: Any) -> None:
    """Write `writes` records once `start` is set; report how many were new."""
    import dataclasses

    from .helpers import SIGNER

    store = open_store(url)
    assert store is not None
    template = make(worker)
    start.wait(60)
    new = 0
    try:
        for n, record_id in enumerate(record_ids(worker, writes)):
            record = SIGNER.sign(dataclasses.replace(template, record_id=record_id))
            if store.write(record, TEXTS if n % 50 == 0 else None):
                new += 1
    finally:
        store.close()
    results.put((worker, new))
