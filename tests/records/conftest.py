"""Every store test runs against a fresh SQLite file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consent_middleware.records import RecordStore, open_store


@pytest.fixture(params=["sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh, empty database."""
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/records.db"


@pytest.fixture
def store(store_url: str) -> Iterator[RecordStore]:
    opened = open_store(store_url)
    assert opened is not None
    try:
        yield opened
    finally:
        opened.close()
