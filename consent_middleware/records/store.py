"""The store interface, its error, and `open_store`, which turns `ConsentConfig.records`
into a store.

Every store method blocks (it talks to a database): under ASGI call it from a worker
thread (`ConsentRecorder.arecord` does). A store is safe to share between threads, and
many processes may write to the same database at once. Every method that cannot reach
or change its database raises `RecordStoreError`; the store recovers by itself, without
a restart, once the database is back.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Protocol, TypeVar, runtime_checkable
from urllib.parse import unquote, urlsplit, urlunsplit

from .model import Record
from .texts import canonical_texts, texts_hash

__all__ = [
    "OnUnreadable",
    "RecordStore",
    "RecordStoreError",
    "UnreadableRecord",
    "UnreadableTexts",
    "open_store",
    "parse_texts",
    "prepare_write",
    "redact_url",
]


class RecordStoreError(Exception):
    """The store cannot read or write just now: the database is away, read-only, full or
    locked for too long. No consent without its proof: a choice that cannot be recorded
    must not be taken (the endpoint answers 503)."""


class UnreadableRecord(RecordStoreError):
    """One stored record cannot be read back: its row was edited or damaged behind the
    store's back. The others still can; `records verify` and `export` name this one."""

    def __init__(self, record_id: str, reason: str) -> None:
        super().__init__(f"record {record_id} cannot be read: {reason}")
        self.record_id = record_id
        self.reason = reason


class UnreadableTexts(RecordStoreError):
    """The texts kept under a hash are no longer a JSON object of strings."""

    def __init__(self, texts_hash: str, reason: str) -> None:
        super().__init__(f"the texts with hash {texts_hash} cannot be read: {reason}")
        self.texts_hash = texts_hash
        self.reason = reason


#: Told of each record that cannot be read, so a read goes on past it (see `export`).
OnUnreadable = Callable[[UnreadableRecord], None]

_Row = TypeVar("_Row")


def readable(
    rows: Iterable[_Row], from_row: Callable[[_Row], Record], on_unreadable: OnUnreadable | None
) -> Iterator[Record]:
    """The records of `rows`; one that cannot be read is told to `on_unreadable` (and
    skipped), or raised when there is none to tell."""
    for row in rows:
        try:
            yield from_row(row)
        except UnreadableRecord as exc:
            if on_unreadable is None:
                raise
            on_unreadable(exc)


@runtime_checkable
class RecordStore(Protocol):
    """What the middleware and the `records` command need from a store.

    Implement these methods to keep records anywhere else; `open_store` accepts any
    object that has them. Times are aware datetimes; `since` is inclusive, `until`
    exclusive; "oldest first" orders by time, then by the order of writing.
    """

    def write(self, record: Record, texts: Mapping[str, str] | None = None) -> bool:
        """Keep a signed record, and with it the texts it was shown (once per hash), in
        one transaction. A record_id that is already there is ignored (a retried request):
        returns False then, True when the record is new."""
        ...

    def put_texts(self, texts_hash: str, language: str, texts: Mapping[str, str]) -> None:
        """Keep texts under their hash; a hash already kept is left as it is."""
        ...

    def texts(self, texts_hash: str) -> dict[str, str] | None:
        """The texts kept under a hash, or None; `UnreadableTexts` when the row is damaged."""
        ...

    def records_for(self, consent_id: str) -> list[Record]:
        """Every record of one consent id, oldest first (the visitor's receipt)."""
        ...

    def export(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Record]:
        """Records with since <= time < until, oldest first, streamed.

        A row that cannot be read raises `UnreadableRecord`. The built-in stores (here and
        in `records_for`) also take `on_unreadable=`, a function told of each such record
        instead, and go on past it; the `records` command passes one to any store whose
        `export` and `records_for` take it."""
        ...

    def count(self, since: datetime | None = None, until: datetime | None = None) -> int:
        """How many records `export` with the same bounds would give."""
        ...

    def erase(self, consent_id: str) -> int:
        """Delete every record of one consent id (a visitor's erasure request); how many."""
        ...

    def purge(self, older_than: datetime) -> int:
        """Delete records whose time is before `older_than`, and the texts that no record
        refers to any more; returns how many records went."""
        ...

    def purge_inactive(self, last_choice_before: datetime) -> int:
        """Delete every record of the consent ids whose latest choice is before that time
        (visitors inactive since), and the texts no record refers to any more."""
        ...

    def close(self) -> None:
        """Release connections. The store must not be used afterwards."""
        ...


def parse_texts(texts_hash: str, stored: str) -> dict[str, str]:
    """Texts as kept (`canonical_texts`) back into a dict; UnreadableTexts when they are not."""
    try:
        texts = json.loads(stored)
    except ValueError as exc:
        raise UnreadableTexts(texts_hash, f"not JSON ({exc})") from None
    if not isinstance(texts, dict) or not all(isinstance(v, str) for v in texts.values()):
        raise UnreadableTexts(texts_hash, "not a JSON object of strings")
    return texts


def prepare_write(record: Record, texts: Mapping[str, str] | None) -> str | None:
    """Checks every store makes before a write; returns the canonical texts to keep."""
    record.validate()
    if not record.signed:
        raise ValueError(
            f"record {record.record_id} is not signed: pass it through RecordSigner.sign first"
        )
    if texts is None:
        return None
    if texts_hash(record.language, texts) != record.texts_hash:
        raise ValueError(
            f"record {record.record_id}: texts_hash {record.texts_hash} is not the hash of"
            f" the {record.language!r} texts given with it"
        )
    return canonical_texts(texts)


def redact_url(url: str) -> str:
    """The URL without its password, fit for an error message or a log.

    libpq takes a password in three places, all masked: `user:pw@host`, the query
    (`?password=pw`), and a `key=value` connection string (`host=db password=pw`).
    """
    if "://" not in url:
        return _PASSWORD_SETTING.sub(r"\1***", url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unreadable URL>"
    masked = parts._replace(query=_PASSWORD_PARAM.sub(r"\1***", parts.query))
    if parts.password is not None:
        netloc = parts.netloc.rsplit("@", 1)[1]
        masked = masked._replace(netloc=f"{parts.username or ''}:***@{netloc}")
    # Rebuilt only when a password went: urlunsplit drops the empty host of sqlite:///x.
    return url if masked == parts else urlunsplit(masked)


# libpq's `password=pw` or `password = 'a \'quoted\' one'` (backslash escapes).
_PASSWORD_SETTING = re.compile(r"(\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|[^\s']*)")
_PASSWORD_PARAM = re.compile(r"((?:^|&)password=)[^&]*")


def open_store(value: object, *, create: bool = True) -> RecordStore | None:
    """The store that `ConsentConfig.records` names.

    - None: no records.
    - "sqlite:///consent.db" (relative to the working directory), "sqlite:////var/lib/x.db"
      (absolute), or a `pathlib.Path`: an SQLite file, created on first use when `create`.
    - "postgresql://user@host/db" or "postgres://…": PostgreSQL (the `[postgres]` extra).

    Both make their tables on first use when `create`; without it, a database that has
    none is an error (`RecordStoreError`) and is left as it is.
    - any object with the `RecordStore` methods: used as it is.

    Cheap: nothing connects until the first read or write. Anything else raises
    ValueError naming the value (with any password hidden).
    """
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        from .sqlite import SQLiteRecordStore

        return SQLiteRecordStore(os.fspath(value), create=create)
    if isinstance(value, str):
        return _open_url(value, create=create)
    if isinstance(value, RecordStore):
        return value
    raise ValueError(
        f"records {type(value).__name__} object is not a store: give a URL such as"
        " 'sqlite:///consent.db' or 'postgresql://…', None, or an object with the store"
        " methods (write, put_texts, texts, records_for, export, count, erase, purge,"
        " purge_inactive, close)"
    )


def check_records(value: object) -> None:
    """Raise the ValueError that `open_store(value)` would, without opening anything: what
    `ConsentConfig` checks when it is built."""
    if value is None or isinstance(value, os.PathLike):
        return
    if isinstance(value, str):
        _check_url(value)
        return
    if not isinstance(value, RecordStore):
        open_store(value)  # raises the error that names what a store must have


def _check_url(url: str) -> str:
    """The SQLite path, or "" for a PostgreSQL URL; a ValueError for anything else."""
    shown = redact_url(url)
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        if not url.lower().startswith("sqlite:///"):
            raise ValueError(
                f"records {shown!r}: an SQLite URL has three slashes before a relative path"
                " ('sqlite:///consent.db') and four before an absolute one"
                " ('sqlite:////var/lib/consent.db')"
            )
        path = unquote(url[len("sqlite:///") :])
        if "?" in path or "#" in path:
            raise ValueError(f"records {shown!r}: an SQLite URL takes no query or fragment")
        if not path or path.endswith("/"):
            raise ValueError(f"records {shown!r} names no database file")
        if path == ":memory:":
            raise ValueError(
                f"records {shown!r}: records must outlive the process; name a file instead"
            )
        return path
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urlsplit(url)
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"records {shown!r} is not a valid PostgreSQL URL: {exc}") from exc
        return ""
    raise ValueError(
        f"records {shown!r} is not a store URL: use 'sqlite:///consent.db',"
        " 'sqlite:////absolute/path.db' or 'postgresql://user@host/dbname'"
    )


def _open_url(url: str, *, create: bool) -> RecordStore:
    path = _check_url(url)
    if path:
        from .sqlite import SQLiteRecordStore

        return SQLiteRecordStore(path, create=create)
    from .postgres import PostgresRecordStore

    return PostgresRecordStore(url, create=create)
