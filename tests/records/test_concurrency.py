"""Many processes and many threads writing at once lose no record and duplicate none."""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
from typing import Any

import pytest

from consent_middleware.records import RecordStore

from .helpers import SIGNER, TEXTS, make
from .workers import record_ids, write_many

PROCESSES = 8
WRITES = 500


def test_processes_writing_at_once(store_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    workers = [
        context.Process(target=write_many, args=(store_url, w, WRITES, start, results))
        for w in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    start.set()
    reported = dict(results.get(timeout=300) for _ in workers)
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    expected = {rid for w in range(PROCESSES) for rid in record_ids(w, WRITES)}
    assert PROCESSES * WRITES > len(expected) > PROCESSES * (WRITES - 100)

    from consent_middleware.records import open_store

    store = open_store(store_url)
    assert store is not None
    try:
        stored = [record.record_id for record in store.export()]
        assert store.count() == len(expected)
    finally:
        store.close()
    assert len(stored) == len(set(stored)), "a record was stored twice"
    assert set(stored) == expected, "a record was lost"
    # Each record was new to exactly one write call, in whichever process won.
    assert sum(reported.values()) == len(expected)


def test_threads_sharing_one_store(store: RecordStore) -> None:
    threads, writes = 16, 100
    template = make()
    store.write(template, TEXTS)
    errors: list[BaseException] = []
    new = [0] * threads

    def work(index: int) -> None:
        try:
            for n in range(writes):
                # Every thread writes ids 0..49 too: duplicates racing each other.
                shared = n < 50
                number = n if shared else index * 1000 + n
                record_id = f"{'f' if shared else 'a'}{number:031x}"
                record = SIGNER.sign(dataclasses.replace(template, record_id=record_id))
                if store.write(record):
                    new[index] += 1
                if n % 25 == 0:
                    store.records_for(template.consent_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    assert not errors, errors
    expected = 1 + 50 + threads * (writes - 50)
    assert store.count() == expected
    assert sum(new) == expected - 1


def _connection_identity(store: Any) -> int:
    """Which connection the store hands out: the PostgreSQL backend's pid, or the Python
    object of an SQLite connection (a forked child has a copy of the parent's objects)."""
    with store._connection("look") as conn:
        return int(conn.info.backend_pid) if hasattr(conn, "info") else id(conn)


def _write_in_child(store: RecordStore, record_id: str, results: Any) -> None:
    record = SIGNER.sign(dataclasses.replace(make(), record_id=record_id))
    assert store.write(record, TEXTS)
    results.put(_connection_identity(store))


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_store_used_across_a_fork(store: RecordStore) -> None:
    """A server that forks its workers after the app (and its store) was built: the
    child opens connections of its own, and the parent's still work afterwards."""
    store.write(make(), TEXTS)
    parent = _connection_identity(store)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_write_in_child, args=(store, "c" * 32, results))
    child.start()
    in_child = results.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    assert in_child != parent, "the child used the parent's connection"
    assert store.write(make(1), TEXTS)
    assert store.count() == 3
