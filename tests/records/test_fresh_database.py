"""A fresh SQLite database that several workers open at once: each waits its turn (the
store's busy timeout), none answers its visitor's first choice with a 503."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from consent_middleware import ConsentWSGIMiddleware
from consent_middleware.records import SQLiteRecordStore, open_store

from ..conftest import AppSpec, make_config, raw_wsgi_app
from ..raw import wsgi_request

#: Another worker (another process) in the middle of a write on the new file, for a moment.
_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("CREATE TABLE IF NOT EXISTS warm_up (x)")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def test_a_choice_waits_for_another_worker_writing_a_fresh_database(tmp_path: Path) -> None:
    path = tmp_path / "records.db"
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), "0.5"], stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        config = make_config(records=SQLiteRecordStore(str(path), timeout=5.0))
        app = ConsentWSGIMiddleware(raw_wsgi_app(AppSpec()), config=config)
        started = time.monotonic()
        answer = wsgi_request(
            app,
            "POST",
            "/consent",
            headers=[(b"content-type", b"application/json"), (b"sec-fetch-site", b"same-origin")],
            body=b'{"action": "accept_all"}',
        )
        waited = time.monotonic() - started
        assert holder.wait(10) == 0
    assert answer.status == 200, f"{answer.status} after {waited:.2f} s: {answer.body[:200]!r}"
    store = open_store(f"sqlite:///{path}")
    assert store is not None
    try:
        assert store.count() == 1
    finally:
        store.close()
