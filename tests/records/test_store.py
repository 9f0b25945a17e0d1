"""One store suite, run against an SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import dataclasses
import pathlib
from datetime import timedelta
from typing import Any, cast

import pytest

from consent_middleware.records import (
    RecordStore,
    SQLiteRecordStore,
    open_store,
    receipt,
    texts_hash,
)

from .helpers import HASH, HASH_UK, SIGNER, T0, TEXTS, TEXTS_UK, consent_id, make


def test_write_and_read_back(store: RecordStore) -> None:
    record = make(client_ip="2001:db8:9::1")
    assert store.write(record, TEXTS) is True
    [back] = store.records_for(record.consent_id)
    assert back == record
    assert SIGNER.verify(back)
    assert store.texts(HASH) == TEXTS
    assert store.count() == 1


def test_a_retried_write_is_kept_once(store: RecordStore) -> None:
    record = make()
    assert store.write(record, TEXTS) is True
    assert store.write(record, TEXTS) is False
    later = dataclasses.replace(record, time=record.time + timedelta(seconds=3))
    assert store.write(SIGNER.sign(later), TEXTS) is False
    assert store.records_for(record.consent_id) == [record]


def test_refusals_are_records_like_consents(store: RecordStore) -> None:
    visitor = consent_id()
    store.write(make(0, consent_id=visitor, action="accept_all"), TEXTS)
    store.write(
        make(
            1,
            consent_id=visitor,
            action="reject_all",
            granted=("authentication",),
            refused=("settings", "analytics", "marketing"),
        ),
        TEXTS,
    )
    store.write(
        make(2, consent_id=visitor, action="withdraw", granted=("authentication",), gpc=True),
        TEXTS,
    )
    actions = [r.action for r in store.records_for(visitor)]
    assert actions == ["accept_all", "reject_all", "withdraw"]
    assert store.records_for(visitor)[2].gpc is True


def test_texts_are_kept_once_per_hash(store: RecordStore) -> None:
    for n in range(5):
        store.write(make(n), TEXTS)
    store.write(make(9, language="uk", texts_hash=HASH_UK), TEXTS_UK)
    assert store.texts(HASH) == TEXTS
    assert store.texts(HASH_UK) == TEXTS_UK
    assert store.texts("0" * 64) is None
    store.put_texts(HASH, "en", TEXTS)  # again: nothing changes
    assert store.texts(HASH) == TEXTS


def test_texts_that_do_not_match_the_hash_are_refused(store: RecordStore) -> None:
    with pytest.raises(ValueError, match="not the hash"):
        store.write(make(), {**TEXTS, "title": "Something else"})
    with pytest.raises(ValueError, match="not the hash"):
        store.put_texts(HASH, "en", TEXTS_UK)
    assert store.count() == 0


def test_unsigned_and_invalid_records_are_refused(store: RecordStore) -> None:
    with pytest.raises(ValueError, match="not signed"):
        store.write(dataclasses.replace(make(), mac="", key_id=""), TEXTS)
    with pytest.raises(ValueError, match="action"):
        store.write(dataclasses.replace(make(), action="maybe"), TEXTS)  # type: ignore[arg-type]
    assert store.count() == 0


def test_records_for_is_oldest_first(store: RecordStore) -> None:
    visitor = consent_id()
    records = [make(n, consent_id=visitor) for n in (5, 1, 3)]
    same_time = make(3, consent_id=visitor, action="accept_all")
    for record in [*records, same_time]:
        store.write(record, TEXTS)
    store.write(make(2), TEXTS)  # somebody else
    found = store.records_for(visitor)
    assert [r.time for r in found] == [T0 + timedelta(minutes=n) for n in (1, 3, 3, 5)]
    # Equal times keep the order of writing.
    assert [r.action for r in found][1:3] == ["save", "accept_all"]
    assert store.records_for(consent_id()) == []


def test_export_by_time_range(store: RecordStore) -> None:
    for n in range(10):
        store.write(make(n * 60), TEXTS)  # one an hour
    everything = list(store.export())
    assert [r.time for r in everything] == [T0 + timedelta(hours=n) for n in range(10)]
    since, until = T0 + timedelta(hours=2), T0 + timedelta(hours=5)
    window = list(store.export(since=since, until=until))
    assert [r.time for r in window] == [T0 + timedelta(hours=n) for n in (2, 3, 4)]
    assert store.count(since, until) == 3
    assert store.count(since=since) == 8
    assert store.count(until=until) == 5
    assert all(SIGNER.verify(r) for r in everything)


def test_export_streams_and_can_stop_early(store: RecordStore) -> None:
    for n in range(1200):
        store.write(make(n), TEXTS if n == 0 else None)
    stream = store.export()
    first = [next(stream) for _ in range(3)]
    cast(Any, stream).close()  # a generator's: gives its connection back
    assert [r.time for r in first] == [T0 + timedelta(minutes=n) for n in range(3)]
    assert sum(1 for _ in store.export()) == 1200
    store.write(make(5000), None)  # the store still works after an abandoned export
    assert store.count() == 1201


def test_erase_one_visitor(store: RecordStore) -> None:
    visitor, other = consent_id(), consent_id()
    for n in range(3):
        store.write(make(n, consent_id=visitor), TEXTS)
    store.write(make(9, consent_id=other), TEXTS)
    assert store.erase(visitor) == 3
    assert store.records_for(visitor) == []
    assert len(store.records_for(other)) == 1
    assert store.erase(visitor) == 0


def test_purge_old_records_and_texts_no_record_needs(store: RecordStore) -> None:
    old_uk = make(0, language="uk", texts_hash=HASH_UK)
    store.write(old_uk, TEXTS_UK)
    store.write(make(1), TEXTS)
    recent = make(60 * 24 * 400)
    store.write(recent, TEXTS)
    assert store.purge(T0 + timedelta(days=365)) == 2
    assert [r.record_id for r in store.export()] == [recent.record_id]
    assert store.texts(HASH_UK) is None  # only the purged record used it
    assert store.texts(HASH) == TEXTS  # the recent record still does
    assert store.purge(T0) == 0


def test_unicode_and_odd_values_survive(store: RecordStore) -> None:
    texts = {"title": "Файли cookie 🍪", "body": "“quotes”, 'apostrophes', \\ and \n newlines"}
    digest = texts_hash("uk", texts)
    record = make(language="uk", texts_hash=digest, user_agent="", granted=(), refused=())
    store.write(record, texts)
    assert store.texts(digest) == texts
    assert store.records_for(record.consent_id) == [record]


def test_reopening_keeps_everything(store_url: str) -> None:
    first = open_store(store_url)
    assert first is not None
    record = make()
    first.write(record, TEXTS)
    first.close()
    second = open_store(store_url)
    assert second is not None
    try:
        assert second.records_for(record.consent_id) == [record]
        assert second.texts(HASH) == TEXTS
    finally:
        second.close()


def test_receipt_json(store: RecordStore) -> None:
    visitor = consent_id()
    store.write(make(0, consent_id=visitor, action="accept_all"), TEXTS)
    store.write(make(1, consent_id=visitor), TEXTS)
    answer = receipt(store, visitor)
    assert answer["consent_id"] == visitor
    assert [r["action"] for r in answer["records"]] == ["accept_all", "save"]
    first = answer["records"][0]
    for name in (
        "consent_id",
        "time",
        "policy_version",
        "action",
        "granted",
        "refused",
        "method",
        "language",
        "user_agent",
        "gpc",
        "texts_hash",
        "key_id",
        "mac",
    ):
        assert name in first
    assert first["time"].endswith("Z") and first["user_agent"] == "Firefox 128 on Linux"


# -- open_store ------------------------------------------------------------------------


def test_sqlite_urls(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///consent.db")
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")
    from_path = open_store(tmp_path / "path.db")
    assert isinstance(relative, SQLiteRecordStore) and relative.path == str(tmp_path / "consent.db")
    assert isinstance(absolute, SQLiteRecordStore) and absolute.path == str(tmp_path / "abs.db")
    assert isinstance(from_path, SQLiteRecordStore)
    # Cheap: opening a store creates nothing until the first use.
    assert not (tmp_path / "consent.db").exists()
    relative.write(make(), TEXTS)
    assert (tmp_path / "consent.db").is_file()
    for store in (relative, absolute, from_path):
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("sqlite://consent.db", "three slashes", id="two-slashes"),
        pytest.param("sqlite:///", "names no database", id="no-file"),
        pytest.param("sqlite:///:memory:", "outlive", id="memory"),
        pytest.param("sqlite:///x.db?mode=ro", "no query", id="query"),
        pytest.param("mysql://db/x", "not a store URL", id="mysql"),
        pytest.param("consent.db", "not a store URL", id="bare-path"),
        pytest.param("postgresql://u@host:notaport/db", "not a valid PostgreSQL URL", id="port"),
    ],
)
def test_bad_urls_name_themselves(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        open_store(url)
    assert url.split("?")[0][:12] in str(caught.value)


def test_passwords_stay_out_of_errors() -> None:
    with pytest.raises(ValueError) as caught:
        open_store("mysql://admin:hunter2@db.internal/consent")
    assert "hunter2" not in str(caught.value) and "admin:***@db.internal" in str(caught.value)


def test_store_objects_and_none(store: RecordStore) -> None:
    assert open_store(store) is store
    assert open_store(None) is None
    with pytest.raises(ValueError, match="not a store"):
        open_store(object())


def test_a_missing_sqlite_file_is_not_created_on_request(tmp_path: pathlib.Path) -> None:
    from consent_middleware.records import RecordStoreError

    store = open_store(f"sqlite:///{tmp_path}/typo.db", create=False)
    assert store is not None
    with pytest.raises(RecordStoreError, match="no records database"):
        store.count()
    assert not (tmp_path / "typo.db").exists()


def test_a_newer_schema_is_refused(tmp_path: pathlib.Path) -> None:
    import sqlite3

    from consent_middleware.records import RecordStoreError

    path = tmp_path / "future.db"
    store = SQLiteRecordStore(str(path))
    store.write(make(), TEXTS)
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE consent_schema SET version = 99")
    reopened = SQLiteRecordStore(str(path))
    try:
        with pytest.raises(RecordStoreError, match="schema 99"):
            reopened.count()
    finally:
        reopened.close()


def test_passwords_stay_out_of_a_connection_strings_errors() -> None:
    from consent_middleware.records import PostgresRecordStore, RecordStoreError

    from .pgserver import free_port

    dsn = f"host=127.0.0.1 port={free_port()} user=nobody password='S3cret PW' connect_timeout=1"
    store = PostgresRecordStore(dsn)
    try:
        with pytest.raises(RecordStoreError) as caught:
            store.count()
    finally:
        store.close()
    assert "S3cret" not in str(caught.value) + repr(store)
    assert "password=***" in str(caught.value)


def test_a_new_process_opens_a_busy_sqlite_store_without_waiting(tmp_path: pathlib.Path) -> None:
    """A worker that starts (or restarts after a crash) while another one writes: opening a
    database whose schema is already there takes no write lock, so it neither waits for
    the writer nor fails with "database is locked" (a 503 for a choice under load)."""
    import sqlite3

    path = tmp_path / "busy.db"
    record = make(0)
    first = SQLiteRecordStore(str(path))
    first.write(record, TEXTS)
    first.close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    writer.execute("DELETE FROM consent_texts WHERE 0")
    started = SQLiteRecordStore(str(path), timeout=0.2)
    try:
        assert started.count() == 1
        assert started.records_for(record.consent_id) == [record]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        started.close()
