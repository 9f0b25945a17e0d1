"""The real servers of `make load`, each serving on a listening socket that this process holds.

The socket outlives the server: a restart (the key rotation) stops one server and starts the
next on the same socket, and connections made in between wait in its backlog instead of
being refused. Every server gets the socket's file descriptor (uvicorn `--fd`, Hypercorn and
gunicorn `fd://`, waitress through its `sockets` argument), so nothing else binds the port.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0

#: What each site variant is: the example site itself, the same app without the middleware,
#: and the example site with routes and switches for the fault runs.
TARGETS = {
    ("fastapi", "site"): "examples.fastapi_app.app:app",
    ("flask", "site"): "examples.flask_app.app:app",
    ("fastapi", "bare"): "bench.load.apps.bare_fastapi:app",
    ("flask", "bare"): "bench.load.apps.bare_flask:app",
    ("fastapi", "faulty"): "bench.load.apps.faulty_fastapi:app",
    ("flask", "faulty"): "bench.load.apps.faulty_flask:app",
}


@dataclass(frozen=True)
class Stack:
    """One framework under one server, with its worker count."""

    name: str
    framework: str  # "fastapi" or "flask"
    server: str  # "uvicorn", "hypercorn", "gunicorn" or "waitress"
    #: Worker processes (waitress and Hypercorn: one process, with threads or an event loop).
    workers: int

    @property
    def asgi(self) -> bool:
        return self.framework == "fastapi"

    def command(self, variant: str, fd: int) -> list[str]:
        target = TARGETS[(self.framework, variant)]
        py = sys.executable
        if self.server == "uvicorn":
            return [
                *(py, "-m", "uvicorn", target, "--fd", str(fd)),
                *("--workers", str(self.workers), "--log-level", "warning"),
                *("--timeout-graceful-shutdown", "10"),
            ]
        if self.server == "hypercorn":
            return [py, "-m", "hypercorn", target, "--bind", f"fd://{fd}", "--log-level", "warning"]
        if self.server == "gunicorn":
            return [
                *(py, "-m", "gunicorn", "--bind", f"fd://{fd}", "--workers", str(self.workers)),
                *("--log-level", "warning", "--graceful-timeout", "10", target),
            ]
        if self.server == "waitress":
            return [py, "-m", "bench.load.apps.waitress_fd", str(fd), target]
        raise ValueError(f"unknown server {self.server!r}")


STACKS = (
    Stack("FastAPI + uvicorn (2 workers)", "fastapi", "uvicorn", 2),
    Stack("FastAPI + Hypercorn", "fastapi", "hypercorn", 1),
    Stack("Flask + gunicorn (2 workers)", "flask", "gunicorn", 2),
    Stack("Flask + waitress", "flask", "waitress", 1),
)


def stack(server: str) -> Stack:
    return next(s for s in STACKS if s.server == server)


class Server:
    """A server of one stack on a socket of its own; `restart` keeps the socket."""

    def __init__(self, stack: Stack, variant: str, env: dict[str, str], log_dir: Path) -> None:
        self.stack = stack
        self.variant = variant
        self.env = dict(env)
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it (Linux): uvicorn takes an inherited descriptor for
        # a Unix socket and would leave Nagle on, 40 ms stalls with delayed ACKs.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.sock.set_inheritable(True)
        self.port: int = self.sock.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None
        #: How many times a server was started on this socket (the first is 1).
        self.generation = 0
        self.logs: list[Path] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str] | None = None) -> None:
        if env is not None:
            self.env = dict(env)
        self.generation += 1
        log = self.log_dir / f"{self.stack.server}-{self.variant}-{self.generation}.log"
        self.logs.append(log)
        fd = self.sock.fileno()
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                self.stack.command(self.variant, fd),
                cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(fd,),
                start_new_session=True,
            )
        self.wait_ready()

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Until the server answers a request (a connection alone proves nothing: the
        socket accepts into its backlog while no server runs)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.stack.name} exited early:\n{self.output()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/static/site.css")
                conn.getresponse().read()
                conn.close()
                return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.stack.name} did not start:\n{self.output()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM (every server shuts down gracefully on it), then SIGKILL its group."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # Workers that outlived their master (none should): the group is ours alone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def restart(self, env: dict[str, str]) -> None:
        self.stop()
        self.start(env)

    def close(self) -> None:
        self.stop()
        self.sock.close()

    def workers(self) -> list[int]:
        """The pids of the worker processes (the master's children that serve)."""
        assert self.process is not None
        if self.stack.workers == 1:
            return [self.process.pid]
        return [pid for pid, cmd in _children(self.process.pid) if "resource_tracker" not in cmd]

    def output(self) -> str:
        return "".join(log.read_text(errors="replace") for log in self.logs if log.exists())

    def mark(self) -> int:
        """Where the log is now: `output_since(mark)` is what the server wrote after."""
        return len(self.output())

    def output_since(self, mark: int) -> str:
        return self.output()[mark:]


@contextlib.contextmanager
def serving(stack: Stack, variant: str, env: dict[str, str], log_dir: Path) -> Iterator[Server]:
    server = Server(stack, variant, env, log_dir)
    try:
        server.start()
        yield server
    finally:
        server.close()


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # The command may hold spaces and parentheses: the fields start after the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append((int(entry.name), cmdline))
    return sorted(found)
