"""Proof of consent (GDPR art. 7(1)): one signed record per choice, in SQLite or PostgreSQL.

Each choice made through `/consent` (accept all, reject all, a custom choice, a
withdrawal, the choice after a policy change) becomes a `Record`: who (the random consent
id, never a name or an IP address), when, under which policy version, what was granted
and what refused, how (js, form or api), and what the visitor was shown (the language and
a hash of the texts, kept once per hash). Refusals are recorded exactly like consents.

The interface:

- `Record`: a frozen dataclass; `to_json()` / `Record.from_json()` in the contract's names.
- `RecordStore`: the store protocol (`write`, `put_texts`, `texts`, `records_for`,
  `export`, `count`, `erase`, `purge`, `purge_inactive`, `close`); `SQLiteRecordStore`,
  `PostgresRecordStore`.
- `open_store(value)`: "sqlite:///consent.db", "postgresql://…", a store object, or None.
- `RecordStoreError`: the store cannot write (or read) now; it recovers by itself.
  `UnreadableRecord`, `UnreadableTexts`: one stored row was damaged (it will not recover).
- `RecordSigner`: the HMAC of each record, keyed from the site's secrets, with a key id.
- `new_record(...)`, `ConsentRecorder`: what the HTTP layer calls (see `recorder.py`).
- `texts_hash(language, texts)`, `shown_texts(config, language)`, `truncate_ip(ip)`,
  `shorten_user_agent(ua)`.

Store methods block; under ASGI call them off the event loop (`ConsentRecorder.arecord`).
"""

from typing import TYPE_CHECKING

from .ip import truncate_ip
from .model import ACTIONS, FIELDS, METHODS, Method, Record, RecordAction
from .recorder import ConsentRecorder, new_record, receipt, record_id_for
from .signing import RecordSigner
from .sqlite import SQLiteRecordStore
from .store import RecordStore, RecordStoreError, UnreadableRecord, UnreadableTexts, open_store
from .texts import shown_texts, texts_hash
from .useragent import shorten_user_agent

__all__ = [
    "ACTIONS",
    "FIELDS",
    "METHODS",
    "ConsentRecorder",
    "Method",
    "PostgresRecordStore",
    "Record",
    "RecordAction",
    "RecordSigner",
    "RecordStore",
    "RecordStoreError",
    "SQLiteRecordStore",
    "UnreadableRecord",
    "UnreadableTexts",
    "new_record",
    "open_store",
    "receipt",
    "record_id_for",
    "shorten_user_agent",
    "shown_texts",
    "texts_hash",
    "truncate_ip",
]


if TYPE_CHECKING:  # for type checkers; at run time it is imported on first use
    from .postgres import PostgresRecordStore


def __getattr__(name: str) -> object:
    # PostgreSQL only on demand: the package works without the [postgres] extra.
    if name == "PostgresRecordStore":
        from .postgres import PostgresRecordStore

        return PostgresRecordStore
    raise AttributeError(name)
