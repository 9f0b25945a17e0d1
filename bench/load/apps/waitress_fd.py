"""waitress on a listening socket inherited as a file descriptor, stopping gracefully.

    python -m bench.load.apps.waitress_fd FD module:app

waitress-serve cannot take a file descriptor, and on SIGTERM waitress dies at once, cutting
the requests it is serving. Here SIGTERM stops accepting (what waits in the socket's backlog
stays there for the next server), finishes every request already read, then exits.
"""

from __future__ import annotations

import importlib
import signal
import socket
import sys
import time
from typing import Any

import waitress  # type: ignore[import-untyped]
from waitress.channel import HTTPChannel  # type: ignore[import-untyped]

THREADS = 4
GRACE = 10.0


def busy(channel: HTTPChannel) -> bool:
    return bool(channel.requests or channel.total_outbufs_len or channel.request is not None)


def main(argv: list[str]) -> None:
    fd, target = int(argv[1]), argv[2]
    module, attr = target.split(":")
    app = getattr(importlib.import_module(module), attr)
    sock = socket.socket(fileno=fd)
    server: Any = waitress.create_server(app, sockets=[sock], threads=THREADS)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    print(f"waitress serving {target} on fd {fd}", flush=True)
    loop = server.asyncore.loop
    while not stopping:
        loop(timeout=0.2, map=server._map, use_poll=True, count=1)
    server.accepting = False
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline:
        channels = [c for c in server._map.values() if isinstance(c, HTTPChannel)]
        if not any(busy(c) for c in channels):
            break
        loop(timeout=0.05, map=server._map, use_poll=True, count=1)
    server.task_dispatcher.shutdown(timeout=2)
    for channel in [c for c in server._map.values() if isinstance(c, HTTPChannel)]:
        channel.close()


if __name__ == "__main__":
    main(sys.argv)
