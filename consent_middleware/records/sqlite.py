"""Records in an SQLite file: nothing to install, one machine.

WAL journal, so readers never wait for the writer; `synchronous=FULL`, so a record that
was written survives a power cut; a busy timeout, so many threads and processes can write
at once (SQLite lets them take turns). Connections are pooled, one per concurrent use.
Before each use the store checks that the file at its path is still the file its
connection holds: a database that was moved, deleted or replaced is reopened instead of
being written into a file nobody will ever read. Safe across processes on one machine
(not on a network filesystem, where SQLite's locks do not hold).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote

from .model import Method, Record, RecordAction, format_time, parse_time
from .store import (
    OnUnreadable,
    RecordStoreError,
    UnreadableRecord,
    parse_texts,
    prepare_write,
    readable,
)
from .texts import canonical_texts
from .texts import texts_hash as hash_texts

__all__ = ["SQLiteRecordStore"]

SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS consent_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS consent_records (
        seq INTEGER PRIMARY KEY,
        record_id TEXT NOT NULL UNIQUE CHECK (length(record_id) = 32),
        consent_id TEXT NOT NULL CHECK (length(consent_id) = 32),
        time TEXT NOT NULL CHECK (time GLOB
            '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'),
        policy_version TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('accept_all', 'reject_all', 'save', 'withdraw')),
        granted TEXT NOT NULL CHECK (json_valid(granted) AND json_type(granted) = 'array'),
        refused TEXT NOT NULL CHECK (json_valid(refused) AND json_type(refused) = 'array'),
        method TEXT NOT NULL CHECK (method IN ('js', 'form', 'api')),
        language TEXT NOT NULL,
        texts_hash TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        gpc INTEGER NOT NULL CHECK (gpc IN (0, 1)),
        ip TEXT,
        key_id TEXT NOT NULL,
        mac TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS consent_records_consent_id ON consent_records (consent_id)",
    "CREATE INDEX IF NOT EXISTS consent_records_time ON consent_records (time)",
    "CREATE INDEX IF NOT EXISTS consent_records_texts_hash ON consent_records (texts_hash)",
    """CREATE TABLE IF NOT EXISTS consent_texts (
        texts_hash TEXT PRIMARY KEY,
        language TEXT NOT NULL,
        texts TEXT NOT NULL
    )""",
)

_COLUMNS = (
    "record_id, consent_id, time, policy_version, action, granted, refused, method,"
    " language, texts_hash, user_agent, gpc, ip, key_id, mac"
)
# ON CONFLICT on the one column: a retry is ignored, a broken row still fails loudly
# (INSERT OR IGNORE would also swallow CHECK and NOT NULL failures).
_INSERT_RECORD = (
    f"INSERT INTO consent_records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (record_id) DO NOTHING"
)
_INSERT_TEXTS = (
    "INSERT INTO consent_texts (texts_hash, language, texts) VALUES (?, ?, ?)"
    " ON CONFLICT (texts_hash) DO NOTHING"
)
_SELECT = f"SELECT {_COLUMNS} FROM consent_records"
_DELETE_INACTIVE = (
    "DELETE FROM consent_records WHERE consent_id IN (SELECT consent_id FROM consent_records"
    " GROUP BY consent_id HAVING max(time) < ?)"
)
_ORDER = " ORDER BY time, seq"

_Identity = tuple[int, int]
#: `_schema_version` of a database without the consent_schema table.
_NO_SCHEMA = -1


class _Connection:
    __slots__ = ("conn", "identity")

    def __init__(self, conn: sqlite3.Connection, identity: _Identity | None) -> None:
        self.conn = conn
        self.identity = identity


class SQLiteRecordStore:
    """A `RecordStore` in one SQLite file. Thread-safe; share one object per process.

    `create=False` creates neither a missing file nor the tables in an empty one (the
    `records` command uses it, so a mistyped path is an error rather than a new, empty
    database).
    """

    def __init__(
        self, path: str, *, create: bool = True, timeout: float = 5.0, max_idle: int = 4
    ) -> None:
        self.path = os.path.abspath(path)
        self.timeout = timeout
        self._create = create
        self._max_idle = max_idle
        self._lock = threading.Lock()
        self._idle: list[_Connection] = []
        self._pid = os.getpid()
        self._schema_ready: _Identity | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteRecordStore({self.path!r})"

    # -- connections -------------------------------------------------------------------

    def _identity(self) -> _Identity | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino)

    def _take(self) -> _Connection:
        if self._closed:
            raise RecordStoreError(f"the records store {self.path} is closed")
        identity = self._identity()
        stale: list[_Connection] = []
        found = None
        with self._lock:
            if self._pid != os.getpid():
                # Connections must not cross a fork: the child starts afresh.
                self._idle, self._pid, self._schema_ready = [], os.getpid(), None
            while self._idle:
                candidate = self._idle.pop()
                if identity is not None and candidate.identity == identity:
                    found = candidate
                    break
                stale.append(candidate)
        for old in stale:
            _close_quietly(old.conn)
        return found if found is not None else self._open()

    def _give_back(self, entry: _Connection) -> None:
        if entry.conn.in_transaction:
            _close_quietly(entry.conn)
            return
        with self._lock:
            if not self._closed and self._pid == os.getpid() and len(self._idle) < self._max_idle:
                self._idle.append(entry)
                return
        _close_quietly(entry.conn)

    def _open(self) -> _Connection:
        if not self._create and not os.path.isfile(self.path):
            raise RecordStoreError(f"no records database at {self.path}")
        mode = "rwc" if self._create else "rw"
        try:
            conn = sqlite3.connect(
                f"file:{quote(self.path)}?mode={mode}",
                uri=True,
                timeout=self.timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            folder = os.path.dirname(self.path) or "."
            missing = "" if os.path.isdir(folder) else f" (there is no folder {folder})"
            raise RecordStoreError(
                f"cannot open the records database {self.path}: {exc}{missing}"
            ) from exc
        try:
            self._use_wal(conn)
            conn.execute("PRAGMA synchronous=FULL")
            identity = self._identity()
            if self._schema_ready is None or self._schema_ready != identity:
                if self._create:
                    self._ensure_schema(conn)
                else:
                    self._check_schema(conn)
                self._schema_ready = identity
        except sqlite3.Error as exc:
            _close_quietly(conn)
            raise RecordStoreError(f"cannot open the records database {self.path}: {exc}") from exc
        except BaseException:
            _close_quietly(conn)
            raise
        return _Connection(conn, identity)

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """WAL mode, waiting up to `timeout` for it: on a new file that another worker is
        writing, SQLite refuses the switch at once ("database is locked"), without the
        busy timeout that every other statement waits for."""
        deadline = time.monotonic() + self.timeout
        pause = 0.005
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        # Read first: a worker that starts while others write (or restarts after a crash)
        # must not wait for the write lock, nor fail with "database is locked", only to
        # find the tables there.
        if self._schema_version(conn) == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            row = conn.execute("SELECT max(version) FROM consent_schema").fetchone()
            if row[0] is None:
                conn.execute("INSERT INTO consent_schema (version) VALUES (?)", (SCHEMA_VERSION,))
            self._check_version(row[0])
            conn.execute("COMMIT")
        except BaseException:
            _rollback_quietly(conn)
            raise

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        """`create=False`: a database without the tables is the wrong one, left as it is."""
        version = self._schema_version(conn)
        if version is _NO_SCHEMA:
            raise RecordStoreError(
                f"{self.path} holds no consent records (it has no consent_schema table):"
                " is it the right database?"
            )
        self._check_version(version)

    def _schema_version(self, conn: sqlite3.Connection) -> int | None:
        """The schema's version, None when it has none yet, `_NO_SCHEMA` without its table
        (reads only: no lock that a writer holds stops it, in WAL mode)."""
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'consent_schema'"
        ).fetchone()
        if found is None:
            return _NO_SCHEMA
        version = conn.execute("SELECT max(version) FROM consent_schema").fetchone()[0]
        self._check_version(version)
        return cast("int | None", version)

    def _check_version(self, version: int | None) -> None:
        if version is not None and version > SCHEMA_VERSION:
            raise RecordStoreError(
                f"{self.path} has records schema {version}; this consent-middleware knows"
                f" {SCHEMA_VERSION}: upgrade consent-middleware"
            )

    @contextlib.contextmanager
    def _connection(self, doing: str) -> Iterator[sqlite3.Connection]:
        entry = self._take()
        try:
            yield entry.conn
        except sqlite3.Error as exc:
            _close_quietly(entry.conn)
            raise RecordStoreError(f"cannot {doing} in {self.path}: {exc}") from exc
        except BaseException:
            self._give_back(entry)
            raise
        else:
            self._give_back(entry)

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._connection(doing) as conn:
            # IMMEDIATE takes the write lock up front: no deadlock between two upgraders.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                _rollback_quietly(conn)
                raise
            conn.execute("COMMIT")

    # -- the store interface -------------------------------------------------------------

    def write(self, record: Record, texts: Mapping[str, str] | None = None) -> bool:
        canonical = prepare_write(record, texts)
        with self._transaction("write a record") as conn:
            if canonical is not None:
                conn.execute(_INSERT_TEXTS, (record.texts_hash, record.language, canonical))
            cursor = conn.execute(_INSERT_RECORD, _to_row(record))
            return cursor.rowcount == 1

    def put_texts(self, texts_hash: str, language: str, texts: Mapping[str, str]) -> None:
        if hash_texts(language, texts) != texts_hash:
            raise ValueError(f"texts_hash {texts_hash} is not the hash of these texts")
        with self._transaction("keep texts") as conn:
            conn.execute(_INSERT_TEXTS, (texts_hash, language, canonical_texts(texts)))

    def texts(self, texts_hash: str) -> dict[str, str] | None:
        with self._connection("read texts") as conn:
            row = conn.execute(
                "SELECT texts FROM consent_texts WHERE texts_hash = ?", (texts_hash,)
            ).fetchone()
        return None if row is None else parse_texts(texts_hash, row[0])

    def records_for(
        self, consent_id: str, *, on_unreadable: OnUnreadable | None = None
    ) -> list[Record]:
        with self._connection("read records") as conn:
            rows = conn.execute(f"{_SELECT} WHERE consent_id = ?{_ORDER}", (consent_id,))
            return list(readable(rows, _from_row, on_unreadable))

    def export(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        on_unreadable: OnUnreadable | None = None,
    ) -> Iterator[Record]:
        where, params = _bounds(since, until)
        with self._connection("export records") as conn:
            cursor = conn.execute(f"{_SELECT}{where}{_ORDER}", params)
            try:
                while True:
                    rows = cursor.fetchmany(500)
                    if not rows:
                        break
                    yield from readable(rows, _from_row, on_unreadable)
            finally:
                cursor.close()

    def count(self, since: datetime | None = None, until: datetime | None = None) -> int:
        where, params = _bounds(since, until)
        with self._connection("count records") as conn:
            row = conn.execute(f"SELECT count(*) FROM consent_records{where}", params).fetchone()
        return int(row[0])

    def erase(self, consent_id: str) -> int:
        with self._transaction("erase records") as conn:
            cursor = conn.execute("DELETE FROM consent_records WHERE consent_id = ?", (consent_id,))
            return cursor.rowcount

    def purge(self, older_than: datetime) -> int:
        return self._purge("DELETE FROM consent_records WHERE time < ?", older_than)

    def purge_inactive(self, last_choice_before: datetime) -> int:
        return self._purge(_DELETE_INACTIVE, last_choice_before)

    def _purge(self, delete: str, moment: datetime) -> int:
        with self._transaction("purge records") as conn:
            cursor = conn.execute(delete, (format_time(moment),))
            conn.execute(
                "DELETE FROM consent_texts WHERE NOT EXISTS (SELECT 1 FROM consent_records r"
                " WHERE r.texts_hash = consent_texts.texts_hash)"
            )
            return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for entry in idle:
            _close_quietly(entry.conn)


def _bounds(since: datetime | None, until: datetime | None) -> tuple[str, tuple[str, ...]]:
    clauses, params = [], []
    if since is not None:
        clauses.append("time >= ?")
        params.append(format_time(since))
    if until is not None:
        clauses.append("time < ?")
        params.append(format_time(until))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


def _to_row(record: Record) -> tuple[Any, ...]:
    return (
        record.record_id,
        record.consent_id,
        format_time(record.time),
        record.policy_version,
        record.action,
        json.dumps(list(record.granted)),
        json.dumps(list(record.refused)),
        record.method,
        record.language,
        record.texts_hash,
        record.user_agent,
        int(record.gpc),
        record.ip,
        record.key_id,
        record.mac,
    )


def _from_row(row: tuple[Any, ...]) -> Record:
    try:
        return Record(
            record_id=row[0],
            consent_id=row[1],
            time=parse_time(row[2]),
            policy_version=row[3],
            action=cast(RecordAction, row[4]),
            granted=tuple(str(name) for name in json.loads(row[5])),
            refused=tuple(str(name) for name in json.loads(row[6])),
            method=cast(Method, row[7]),
            language=row[8],
            texts_hash=row[9],
            user_agent=row[10],
            gpc=bool(row[11]),
            ip=row[12],
            key_id=row[13],
            mac=row[14],
        )
    except (ValueError, TypeError) as exc:
        raise UnreadableRecord(str(row[0]), str(exc)) from exc


def _close_quietly(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.close()


def _rollback_quietly(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        if conn.in_transaction:
            conn.execute("ROLLBACK")
