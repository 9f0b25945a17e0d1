"""The database goes away mid-run: writes fail with RecordStoreError (so the endpoint can
answer 503), and resume on the same store object once it is back."""

from __future__ import annotations

import asyncio
import os
import pathlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from consent_middleware.records import PostgresRecordStore, RecordStoreError, SQLiteRecordStore

from .helpers import TEXTS, make
from .pgserver import PostgresServer


def test_sqlite_database_directory_goes_away(tmp_path: pathlib.Path) -> None:
    """chmod does not stop root, and an SQLite connection that is already open keeps
    writing to a file made read-only after it opened (losing nothing). What stops every
    writer, root included, is the database's directory going away (an unmounted volume):
    here it is moved aside and a plain file put in its place."""
    folder = tmp_path / "data"
    folder.mkdir()
    store = SQLiteRecordStore(str(folder / "records.db"))
    before = make(0)
    assert store.write(before, TEXTS)

    aside = tmp_path / "data-away"
    folder.rename(aside)
    folder.write_text("not a directory")
    try:
        for n in range(3):  # every attempt fails, none is written anywhere
            with pytest.raises(RecordStoreError, match="records.db"):
                store.write(make(1 + n), TEXTS)
        with pytest.raises(RecordStoreError):
            store.count()
    finally:
        folder.unlink()
        aside.rename(folder)

    after = make(10)
    assert store.write(after, TEXTS)
    assert [r.record_id for r in store.export()] == [before.record_id, after.record_id]
    store.close()


def test_sqlite_database_file_replaced(tmp_path: pathlib.Path) -> None:
    """A database file deleted or swapped under the store is noticed at the next write:
    records never go into a file that is no longer at the store's path."""
    path = tmp_path / "records.db"
    store = SQLiteRecordStore(str(path))
    store.write(make(0), TEXTS)
    for suffix in ("", "-wal", "-shm"):
        moved = pathlib.Path(f"{path}{suffix}")
        if moved.exists():
            moved.rename(tmp_path / f"old{suffix}")
    os.mkdir(path)  # a directory where the database was
    with pytest.raises(RecordStoreError):
        store.write(make(1), TEXTS)
    os.rmdir(path)
    record = make(2)
    assert store.write(record, TEXTS)  # a new file at the path, schema and all
    assert [r.record_id for r in store.export()] == [record.record_id]
    store.close()


def test_postgres_server_stops_and_returns(own_server: PostgresServer) -> None:
    url = own_server.create_database("outage")
    store = PostgresRecordStore(url, timeout=2.0, reconnect_timeout=2.0)
    before = make(0)
    assert store.write(before, TEXTS)

    own_server.stop()
    started = time.monotonic()
    for n in range(3):
        with pytest.raises(RecordStoreError, match="127.0.0.1"):
            store.write(make(1 + n), TEXTS)
    assert time.monotonic() - started < 3 * 2.0 + 5, "a failing write must not hang"

    own_server.start()
    after = make(10)
    assert store.write(after, TEXTS)  # the first write after the restart
    assert [r.record_id for r in store.export()] == [before.record_id, after.record_id]
    store.close()


def test_postgres_store_started_while_the_server_is_down(own_server: PostgresServer) -> None:
    url = own_server.create_database("late")
    own_server.stop()
    store = PostgresRecordStore(url, timeout=1.0, reconnect_timeout=1.0)
    with pytest.raises(RecordStoreError):
        store.write(make(0), TEXTS)
    own_server.start()
    assert store.write(make(1), TEXTS)
    assert store.count() == 1
    store.close()


@pytest.fixture
def locked_table(postgres_server: PostgresServer) -> Iterator[tuple[str, Callable[[], None]]]:
    """A store's database, and a function that takes `LOCK TABLE consent_records` in
    another session (a migration, VACUUM FULL, an admin's open transaction) and holds it
    until the test ends."""
    import psycopg

    url = postgres_server.create_database(f"locked_{os.getpid()}_{time.monotonic_ns()}")
    holders: list[psycopg.Connection[Any]] = []

    def lock() -> None:
        holder = psycopg.connect(url)
        holder.execute("LOCK TABLE consent_records IN ACCESS EXCLUSIVE MODE")
        holders.append(holder)

    yield url, lock
    for holder in holders:
        holder.close()


def test_a_postgres_write_behind_a_held_lock_fails_in_seconds(
    locked_table: tuple[str, Callable[[], None]],
) -> None:
    url, lock = locked_table
    store = PostgresRecordStore(url)  # the defaults: 5 s, like SQLite's busy timeout
    try:
        assert store.write(make(0), TEXTS)
        lock()
        started = time.monotonic()
        with pytest.raises(RecordStoreError, match="timeout"):
            store.write(make(1), TEXTS)
        assert 4 < time.monotonic() - started < 8
    finally:
        store.close()


def test_the_postgres_lock_timeout_can_be_set(
    locked_table: tuple[str, Callable[[], None]],
) -> None:
    url, lock = locked_table
    store = PostgresRecordStore(url, lock_timeout=1.0)
    try:
        assert store.write(make(0), TEXTS)
        lock()
        for doing in (lambda: store.write(make(1), TEXTS), lambda: store.records_for("0" * 32)):
            started = time.monotonic()
            with pytest.raises(RecordStoreError, match="timeout"):
                doing()
            assert time.monotonic() - started < 3
    finally:
        store.close()


def test_the_endpoint_answers_503_while_the_table_is_locked(
    locked_table: tuple[str, Callable[[], None]],
) -> None:
    import httpx

    from consent_middleware import ConsentMiddleware

    from ..conftest import make_config

    url, lock = locked_table

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = ConsentMiddleware(app, config=make_config(records=url))
    headers = {"content-type": "application/json", "sec-fetch-site": "same-origin"}

    async def choose() -> httpx.Response:
        transport = httpx.ASGITransport(app=middleware)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/consent", json={"action": "reject_all"}, headers=headers)

    assert asyncio.run(choose()).status_code == 200
    lock()
    started = time.monotonic()
    failed = asyncio.run(choose())
    assert failed.status_code == 503 and failed.json()["error"] == "records_unavailable"
    assert failed.headers.get_list("set-cookie") == []
    assert time.monotonic() - started < 8
