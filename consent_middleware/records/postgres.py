"""Records in PostgreSQL (the `[postgres]` extra: psycopg 3 and psycopg_pool).

For sites that outgrow one machine: every app server writes to the same database through
a small connection pool per process. Connections are checked before use, so after the
server restarts the pool replaces them by itself; while the server is away each call
fails within `timeout` seconds with `RecordStoreError`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from .model import Method, Record, RecordAction
from .store import (
    OnUnreadable,
    RecordStoreError,
    UnreadableRecord,
    parse_texts,
    prepare_write,
    readable,
    redact_url,
)
from .texts import canonical_texts
from .texts import texts_hash as hash_texts

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresRecordStore"]

SCHEMA_VERSION = 1
_INSTALL_HINT = "pip install 'consent-middleware[postgres]'"
# pg_advisory_xact_lock key: many processes creating the schema at once take turns.
_SCHEMA_LOCK = 0x636F6E73656E74  # "consent"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS consent_schema (version integer NOT NULL)",
    """CREATE TABLE IF NOT EXISTS consent_records (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        record_id text NOT NULL UNIQUE CHECK (length(record_id) = 32),
        consent_id text NOT NULL CHECK (length(consent_id) = 32),
        time timestamptz NOT NULL,
        policy_version text NOT NULL,
        action text NOT NULL CHECK (action IN ('accept_all', 'reject_all', 'save', 'withdraw')),
        granted text[] NOT NULL,
        refused text[] NOT NULL,
        method text NOT NULL CHECK (method IN ('js', 'form', 'api')),
        language text NOT NULL,
        texts_hash text NOT NULL,
        user_agent text NOT NULL,
        gpc boolean NOT NULL,
        ip text,
        key_id text NOT NULL,
        mac text NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS consent_records_consent_id ON consent_records (consent_id)",
    "CREATE INDEX IF NOT EXISTS consent_records_time ON consent_records (time)",
    "CREATE INDEX IF NOT EXISTS consent_records_texts_hash ON consent_records (texts_hash)",
    """CREATE TABLE IF NOT EXISTS consent_texts (
        texts_hash text PRIMARY KEY,
        language text NOT NULL,
        texts text NOT NULL
    )""",
)

_COLUMNS = (
    "record_id, consent_id, time, policy_version, action, granted, refused, method,"
    " language, texts_hash, user_agent, gpc, ip, key_id, mac"
)
_INSERT_RECORD = (
    f"INSERT INTO consent_records ({_COLUMNS}) VALUES"
    " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (record_id) DO NOTHING"
)
_INSERT_TEXTS = (
    "INSERT INTO consent_texts (texts_hash, language, texts) VALUES (%s, %s, %s)"
    " ON CONFLICT (texts_hash) DO NOTHING"
)
# A time Python cannot hold (infinity, after 9999, BC: only an edit makes one) is read as
# NULL, so that one record is unreadable instead of the fetch of its whole batch failing.
_READ_TIME = "CASE WHEN time >= '0001-01-01Z' AND time < '10000-01-01Z' THEN time END"
_SELECT = (
    "SELECT record_id, consent_id, " + _READ_TIME + ", policy_version, action, granted, refused,"
    " method, language, texts_hash, user_agent, gpc, ip, key_id, mac FROM consent_records"
)
_DELETE_INACTIVE = (
    "DELETE FROM consent_records WHERE consent_id IN (SELECT consent_id FROM consent_records"
    " GROUP BY consent_id HAVING max(time) < %s)"
)
_ORDER = " ORDER BY time, seq"
# The `records` command's reads and purges of a whole table may take long, and may: they
# still give up on a lock after lock_timeout. Only in their own transaction.
_UNBOUNDED = "SET LOCAL statement_timeout = 0"


def _import() -> tuple[Any, Any]:
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:
        raise ImportError(
            f"records='postgresql://…' needs psycopg 3 and psycopg_pool: {_INSTALL_HINT}"
        ) from exc
    return psycopg, psycopg_pool


class PostgresRecordStore:
    """A `RecordStore` in PostgreSQL. Thread-safe; share one object per process.

    `url` is a libpq URL or connection string ("postgresql://user:pw@db.internal/app");
    its parameters (sslmode, connect_timeout, …) pass through to libpq. `timeout` bounds
    the wait for a connection and, unless `lock_timeout` / `statement_timeout` say
    otherwise (seconds, 0 for none), a statement's wait for a lock and its run (an export,
    a count and a purge are not bounded, only their lock waits). Creating the
    object connects to nothing; the pool opens at the first call. The tables are made
    on first use (`consent_records`, `consent_texts`, `consent_schema`), unless
    `create=False` (the `records` command): then a database without them is an error.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 4,
        timeout: float = 5.0,
        reconnect_timeout: float = 5.0,
        create: bool = True,
        lock_timeout: float | None = None,
        statement_timeout: float | None = None,
    ) -> None:
        self._psycopg, self._pool_module = _import()
        self.url = url
        self._create = create
        self.shown_url = redact_url(url)
        self.timeout = timeout
        self._min_size = min_size
        self._max_size = max_size
        self._reconnect_timeout = reconnect_timeout
        try:
            params = self._psycopg.conninfo.conninfo_to_dict(url)
        except self._psycopg.ProgrammingError as exc:
            raise ValueError(f"records {self.shown_url!r} is not a PostgreSQL URL: {exc}") from exc
        self._kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in params:
            self._kwargs["connect_timeout"] = max(1, round(timeout))
        if "tcp_user_timeout" not in params:
            # A server that vanished from the network (no refusal, no answer) fails a call
            # after `timeout` too, instead of after the kernel's many minutes of retries.
            self._kwargs["tcp_user_timeout"] = max(1000, round(timeout * 1000))
        if "application_name" not in params:
            self._kwargs["application_name"] = "consent-middleware"
        # A table locked by someone else (a migration, VACUUM FULL, a forgotten admin
        # session) must not hang a choice past every server's worker timeout: the write
        # fails in `timeout` seconds like SQLite's busy wait, and the endpoint answers 503.
        # Set per connection (not as libpq `options`, which PgBouncer refuses); a setting
        # in the URL's own `options` or in PGOPTIONS is left to win.
        given = f"{params.get('options', '')} {os.environ.get('PGOPTIONS', '')}"
        self._settings = {
            name: f"{round(1000 * (timeout if value is None else value))}ms"
            for name, value in (
                ("lock_timeout", lock_timeout),
                ("statement_timeout", statement_timeout),
            )
            if name not in given
        }
        self._lock = threading.Lock()
        self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] | None = None
        self._pid = os.getpid()
        self._schema_ready = False
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresRecordStore({self.shown_url!r})"

    # -- connections -------------------------------------------------------------------

    def _get_pool(self) -> ConnectionPool[psycopg.Connection[tuple[Any, ...]]]:
        with self._lock:
            if self._closed:
                raise RecordStoreError(f"the records store {self.shown_url} is closed")
            if self._pid != os.getpid():
                # A pool's threads and sockets do not survive a fork: start afresh.
                self._pool, self._pid, self._schema_ready = None, os.getpid(), False
            if self._pool is None:
                pool_class = self._pool_module.ConnectionPool
                pool = pool_class(
                    self.url,
                    kwargs=self._kwargs,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    open=False,
                    timeout=self.timeout,
                    reconnect_timeout=self._reconnect_timeout,
                    check=pool_class.check_connection,
                    configure=self._configure,
                    name="consent_middleware.records",
                )
                pool.open(wait=False)
                self._pool = pool
            return self._pool

    def _configure(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        for name, value in self._settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))

    @contextlib.contextmanager
    def _connection(self, doing: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        pool = self._get_pool()
        try:
            with pool.connection() as conn:
                if not self._schema_ready:
                    self._ensure_schema(conn)
                    self._schema_ready = True
                yield conn
        except self._psycopg.Error as exc:
            # Maybe the tables went with the database: check them again next time.
            self._schema_ready = False
            raise RecordStoreError(f"cannot {doing} in {self.shown_url}: {exc}") from exc

    def _ensure_schema(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        if not self._create:
            self._check_schema(conn)
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in _SCHEMA:
                conn.execute(statement)
            row = conn.execute("SELECT max(version) FROM consent_schema").fetchone()
            version = None if row is None else row[0]
            if version is None:
                conn.execute("INSERT INTO consent_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
            self._check_version(version)

    def _check_schema(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        """`create=False`: a database without the tables is the wrong one, left as it is."""
        row = conn.execute("SELECT to_regclass('consent_schema') IS NOT NULL").fetchone()
        if row is None or not row[0]:
            raise RecordStoreError(
                f"{self.shown_url} holds no consent records (it has no consent_schema table):"
                " is it the right database?"
            )
        row = conn.execute("SELECT max(version) FROM consent_schema").fetchone()
        self._check_version(None if row is None else row[0])

    def _check_version(self, version: int | None) -> None:
        if version is not None and version > SCHEMA_VERSION:
            raise RecordStoreError(
                f"{self.shown_url} has records schema {version}; this consent-middleware"
                f" knows {SCHEMA_VERSION}: upgrade consent-middleware"
            )

    # -- the store interface -------------------------------------------------------------

    def write(self, record: Record, texts: Mapping[str, str] | None = None) -> bool:
        canonical = prepare_write(record, texts)
        with self._connection("write a record") as conn, conn.transaction():
            if canonical is not None:
                conn.execute(_INSERT_TEXTS, (record.texts_hash, record.language, canonical))
            cursor = conn.execute(_INSERT_RECORD, _to_row(record))
            return cursor.rowcount == 1

    def put_texts(self, texts_hash: str, language: str, texts: Mapping[str, str]) -> None:
        if hash_texts(language, texts) != texts_hash:
            raise ValueError(f"texts_hash {texts_hash} is not the hash of these texts")
        with self._connection("keep texts") as conn:
            conn.execute(_INSERT_TEXTS, (texts_hash, language, canonical_texts(texts)))

    def texts(self, texts_hash: str) -> dict[str, str] | None:
        with self._connection("read texts") as conn:
            row = conn.execute(
                "SELECT texts FROM consent_texts WHERE texts_hash = %s", (texts_hash,)
            ).fetchone()
        return None if row is None else parse_texts(texts_hash, row[0])

    def records_for(
        self, consent_id: str, *, on_unreadable: OnUnreadable | None = None
    ) -> list[Record]:
        with self._connection("read records") as conn:
            rows = conn.execute(f"{_SELECT} WHERE consent_id = %s{_ORDER}", (consent_id,))
            return list(readable(rows, _from_row, on_unreadable))

    def export(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        on_unreadable: OnUnreadable | None = None,
    ) -> Iterator[Record]:
        where, params = _bounds(since, until)
        # A server-side cursor (in a transaction): millions of records stream in batches.
        with (
            self._connection("export records") as conn,
            conn.transaction(),
            conn.cursor(name="consent_records_export") as cursor,
        ):
            conn.execute(_UNBOUNDED)
            cursor.itersize = 1000
            cursor.execute(f"{_SELECT}{where}{_ORDER}", params)
            yield from readable(cursor, _from_row, on_unreadable)

    def count(self, since: datetime | None = None, until: datetime | None = None) -> int:
        where, params = _bounds(since, until)
        with self._connection("count records") as conn, conn.transaction():
            conn.execute(_UNBOUNDED)
            row = conn.execute(f"SELECT count(*) FROM consent_records{where}", params).fetchone()
        return 0 if row is None else int(row[0])

    def erase(self, consent_id: str) -> int:
        with self._connection("erase records") as conn:
            cursor = conn.execute(
                "DELETE FROM consent_records WHERE consent_id = %s", (consent_id,)
            )
            return cursor.rowcount

    def purge(self, older_than: datetime) -> int:
        return self._purge("DELETE FROM consent_records WHERE time < %s", older_than)

    def purge_inactive(self, last_choice_before: datetime) -> int:
        return self._purge(_DELETE_INACTIVE, last_choice_before)

    def _purge(self, delete: str, moment: datetime) -> int:
        with self._connection("purge records") as conn, conn.transaction():
            conn.execute(_UNBOUNDED)
            cursor = conn.execute(delete, (moment,))
            # Writers add texts and their record in one transaction, holding a ROW EXCLUSIVE
            # lock on consent_texts until they commit. This lock waits for them and keeps
            # new ones out, so no texts are deleted that a record being written refers to.
            conn.execute("LOCK TABLE consent_texts IN SHARE ROW EXCLUSIVE MODE")
            conn.execute(
                "DELETE FROM consent_texts t WHERE NOT EXISTS"
                " (SELECT 1 FROM consent_records r WHERE r.texts_hash = t.texts_hash)"
            )
            return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()


def _bounds(since: datetime | None, until: datetime | None) -> tuple[str, tuple[datetime, ...]]:
    clauses, params = [], []
    if since is not None:
        clauses.append("time >= %s")
        params.append(since)
    if until is not None:
        clauses.append("time < %s")
        params.append(until)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


def _to_row(record: Record) -> tuple[Any, ...]:
    return (
        record.record_id,
        record.consent_id,
        record.time,
        record.policy_version,
        record.action,
        list(record.granted),
        list(record.refused),
        record.method,
        record.language,
        record.texts_hash,
        record.user_agent,
        record.gpc,
        record.ip,
        record.key_id,
        record.mac,
    )


def _time(value: datetime | None) -> datetime:
    if value is None:
        raise ValueError("its time is not one between the years 1 and 9999")
    return value.astimezone(timezone.utc)


def _from_row(row: tuple[Any, ...]) -> Record:
    try:
        return Record(
            record_id=row[0],
            consent_id=row[1],
            time=_time(row[2]),
            policy_version=row[3],
            action=cast(RecordAction, row[4]),
            granted=tuple(row[5]),
            refused=tuple(row[6]),
            method=cast(Method, row[7]),
            language=row[8],
            texts_hash=row[9],
            user_agent=row[10],
            gpc=bool(row[11]),
            ip=row[12],
            key_id=row[13],
            mac=row[14],
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise UnreadableRecord(str(row[0]), str(exc)) from exc
