"""Real servers in subprocesses, and raw HTTP over a socket: what is really on the wire,
with nothing between the server and the test that could tidy headers up."""

from __future__ import annotations

import contextlib
import importlib
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on: the OS's choice, or one of `CONSENT_TEST_PORTS` ("19000-19999",
    for a sandbox that allows only a range of its own)."""
    span = os.environ.get("CONSENT_TEST_PORTS", "")
    low, _, high = span.partition("-")
    candidates = (
        random.sample(range(int(low), int(high) + 1), int(high) - int(low) + 1) if high else [0]
    )
    for candidate in candidates:
        with socket.socket() as sock:
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            port: int = sock.getsockname()[1]
            return port
    raise RuntimeError(f"no free port in CONSENT_TEST_PORTS={span}")


def server_command(server: str, target: str, port: int, *extra: str) -> list[str]:
    """The command line that runs `target` ("module:attr") under `server` on `port`."""
    py = sys.executable
    bind = f"127.0.0.1:{port}"
    commands = {
        "uvicorn": [py, "-m", "uvicorn", target, "--port", str(port), "--log-level", "warning"],
        "uvicorn-h11": [
            py,
            "-m",
            "uvicorn",
            target,
            "--http",
            "h11",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        "uvicorn-httptools": [
            py,
            "-m",
            "uvicorn",
            target,
            "--http",
            "httptools",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        "hypercorn": [py, "-m", "hypercorn", target, "--bind", bind, "--log-level", "warning"],
        "waitress": [py, "-m", "waitress", f"--listen={bind}", target],
        "gunicorn": [py, "-m", "gunicorn", "-b", bind, "-w", "1", "--log-level", "warning", target],
        "wsgiref": [
            py,
            "-c",
            f"from tests.servers import serve_wsgiref; serve_wsgiref({target!r}, {port})",
        ],
        "werkzeug": [
            py,
            "-c",
            f"from tests.servers import serve_werkzeug; serve_werkzeug({target!r}, {port})",
        ],
    }
    command = commands[server]
    if server in ("waitress", "gunicorn"):  # options before the app, or they are refused
        return [*command[:-1], *extra, command[-1]]
    return [*command, *extra]


def _app_of(target: str) -> Any:
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def serve_wsgiref(target: str, port: int) -> None:  # pragma: no cover - run in a subprocess
    """`python -c` entry for wsgiref, which has no command line of its own."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    make_server("127.0.0.1", port, _app_of(target), handler_class=Quiet).serve_forever()


def serve_werkzeug(target: str, port: int) -> None:  # pragma: no cover - run in a subprocess
    """`python -c` entry for werkzeug's development server."""
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", port, _app_of(target))


@dataclass
class Running:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running(
    command: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[Running]:
    """Start a server, wait until it accepts connections, stop it afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Running(port, process, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early: {' '.join(command)}\n{server.output()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {' '.join(command)}\n{server.output()}")
            time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: The servers that run a fixture module's `asgi` app; any other runs its `wsgi` app.
ASGI_SERVERS = ("uvicorn", "uvicorn-h11", "uvicorn-httptools", "hypercorn")


@contextlib.contextmanager
def serving(module: str, server: str, tmp_path_factory: Any) -> Iterator[Running]:
    """`module`'s `asgi` app (ASGI servers) or `wsgi` app under `server`, on a free port,
    its log in a temporary folder of its own (`tmp_path_factory`: pytest's)."""
    app = "asgi" if server in ASGI_SERVERS else "wsgi"
    port = free_port()
    log = tmp_path_factory.mktemp(module.rpartition(".")[2]) / f"{server}.log"
    with running(server_command(server, f"{module}:{app}", port), port, log) as site:
        yield site


@dataclass
class RawResponse:
    #: 0 when the server closed the connection without answering.
    status: int
    #: Every header line as the server wrote it: (name exactly as sent, value).
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def values(self, name: bytes) -> list[bytes]:
        """Values of the header a browser would read as `name` (names trimmed, any case)."""
        return [v for n, v in self.headers if n.strip(b" \t").lower() == name.lower()]


def raw_get(
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: bytes = b"",
) -> RawResponse:
    """One HTTP/1.1 request with `Connection: close`, read to the end of the stream."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    raw = b"".join(chunks)
    if not raw:
        return RawResponse(0, [], b"")  # the server dropped the connection: nothing sent
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    parsed = []
    for line in header_lines:
        name, _, value = line.partition(b":")
        parsed.append((name, value.strip(b" \t")))
    status = int(status_line.split()[1])
    response = RawResponse(status, parsed, rest)
    if any(v.lower() == b"chunked" for v in response.values(b"transfer-encoding")):
        response.body = _dechunk(rest)
    return response


def _dechunk(data: bytes) -> bytes:
    out = []
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(data[:size])
        data = data[size + 2 :]
    return b"".join(out)
