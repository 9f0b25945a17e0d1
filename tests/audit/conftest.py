"""Real servers for the audit's tests: the two example sites (uvicorn, waitress), and the
deliberately broken site (uvicorn), each on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.browser.helpers import REPO_ROOT, STARTUP_TIMEOUT, Server, start_server
from tests.servers import free_port


@pytest.fixture(scope="session")
def audit_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit-servers")


@pytest.fixture(scope="session")
def example_sites(audit_logs: Path) -> Iterator[dict[str, Server]]:
    """Both example sites, started on first use and kept for the session."""
    running: dict[str, Server] = {}
    yield running
    for server in running.values():
        server.stop()


@pytest.fixture
def example_site(
    request: pytest.FixtureRequest, example_sites: dict[str, Server], audit_logs: Path
) -> Server:
    kind = str(request.param)
    if kind not in example_sites:
        example_sites[kind] = start_server(kind, audit_logs)
    return example_sites[kind]


def start_broken_site(log_dir: Path, faults: str | None = None) -> Server:
    """tests/audit/broken_site.py under uvicorn; `faults` as BROKEN_FAULTS (None: all)."""
    port = free_port()
    log = log_dir / f"broken-{port}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("BROKEN_FAULTS", None)
    if faults is not None:
        env["BROKEN_FAULTS"] = faults
    args = ["-m", "uvicorn", "tests.audit.broken_site:app", "--log-level", "warning"]
    args += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server("broken", f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"broken site exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(server.url + "/consent", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"broken site did not answer in time:\n{log.read_text()}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def broken_site(audit_logs: Path) -> Iterator[Server]:
    server = start_broken_site(audit_logs)
    yield server
    server.stop()


@pytest.fixture
def site_with_faults(audit_logs: Path) -> Iterator[Callable[[str], Server]]:
    started: list[Server] = []

    def start(faults: str) -> Server:
        server = start_broken_site(audit_logs, faults)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
