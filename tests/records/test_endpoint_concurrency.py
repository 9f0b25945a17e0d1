"""8 processes × 500 choices through the real endpoints of the example sites under real
servers with several workers (uvicorn for FastAPI, gunicorn for Flask), on SQLite and on
PostgreSQL: no record lost, none duplicated, retries included."""

from __future__ import annotations

import http.client
import json
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_middleware.records import open_store

from ..servers import free_port, running, server_command
from .pgserver import PostgresServer

pytestmark = pytest.mark.server

PROCESSES = 8
CHOICES = 500
RETRY_EVERY = 10  # every tenth choice is sent twice with the same Idempotency-Key
ACTIONS = [
    '{"action": "accept_all"}',
    '{"action": "reject_all"}',
    '{"action": "save", "categories": ["analytics"]}',
]


def client(port: int, worker: int) -> list[str]:
    """Send this worker's choices; return the consent ids the server answered."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ids: list[str] = []
    for n in range(CHOICES):
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"load-{worker:02d}-{n:05d}",
            "Sec-Fetch-Site": "same-origin",
        }
        body = ACTIONS[n % len(ACTIONS)]
        for _ in range(2 if n % RETRY_EVERY == 0 else 1):
            connection.request("POST", "/consent", body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                raise AssertionError(f"{response.status}: {data[:200]!r}")
        ids.append(json.loads(data)["consent_id"])
    connection.close()
    return ids


@pytest.fixture(params=["fastapi-uvicorn", "flask-gunicorn"])
def site_server(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["sqlite", "postgres"])
def records_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/records.db"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        yield server.create_database(f"load_{free_port()}")


def test_eight_processes_lose_and_duplicate_no_record(
    site_server: str, records_url: str, tmp_path: Path
) -> None:
    port = free_port()
    if site_server == "fastapi-uvicorn":
        command = server_command("uvicorn", "examples.fastapi_app.app:app", port, "--workers", "2")
    else:
        command = server_command("gunicorn", "examples.flask_app.app:app", port)
        command[command.index("-w") + 1] = "2"
    env = {"INTEGRICA_RECORDS": records_url, "INTEGRICA_DB": str(tmp_path / "views.db")}
    with running(command, port, tmp_path / "server.log", env) as server:
        context = multiprocessing.get_context("spawn")
        with context.Pool(PROCESSES) as pool:
            results: list[Any] = pool.starmap(client, [(port, w) for w in range(PROCESSES)])
        assert "Traceback" not in server.output()
    ids = [consent_id for worker in results for consent_id in worker]
    assert len(ids) == len(set(ids)) == PROCESSES * CHOICES
    store = open_store(records_url)
    assert store is not None
    try:
        records = list(store.export())
    finally:
        store.close()
    assert len(records) == PROCESSES * CHOICES  # retries kept once, nothing lost
    assert {r.consent_id for r in records} == set(ids)
