"""Every store test runs twice: against an SQLite file and against a real PostgreSQL
server that this session starts (and fails, never skips, when it cannot)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

import pytest

from consent_middleware.records import RecordStore, open_store

from .pgserver import PostgresServer, PostgresUnavailable

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer().init()
        server.start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            server.remove()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh, empty database: a new SQLite file, or a new database on the server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/records.db"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"records_{next(_databases)}")


@pytest.fixture
def store(store_url: str) -> Iterator[RecordStore]:
    opened = open_store(store_url)
    assert opened is not None
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of this test's own, so stopping it disturbs no other test."""
    try:
        server = PostgresServer().init()
        server.start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        with contextlib.suppress(PostgresUnavailable):  # already stopped by a failed test
            server.stop()
        server.remove()
