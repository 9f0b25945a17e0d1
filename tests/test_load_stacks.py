"""The servers of `make load` (bench/load/stacks.py) on a socket the harness holds: a
restart loses no request, and waitress stops gracefully (what it serves, it finishes)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from bench.load.faults import RawReply, raw_request
from bench.load.stacks import Server, stack


def test_connections_accepted_on_the_held_socket_have_nagle_off(tmp_path: Path) -> None:
    """uvicorn reads an inherited descriptor as a Unix socket and leaves Nagle on: with
    delayed ACKs every response would stall 40 ms. The held socket's TCP_NODELAY is what
    each accepted connection starts with."""
    server = Server(stack("uvicorn"), "site", {}, tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", server.port)):
            accepted, _ = server.sock.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        server.close()


@pytest.mark.server
def test_waitress_finishes_a_response_while_it_stops_and_the_next_server_answers(
    tmp_path: Path,
) -> None:
    env = {
        "INTEGRICA_RECORDS": f"sqlite:///{tmp_path}/records.db",
        "INTEGRICA_DB": str(tmp_path / "views.db"),
        "LOAD_FAULT_DIR": str(tmp_path),
    }
    server = Server(stack("waitress"), "faulty", env, tmp_path / "logs")
    replies: dict[str, RawReply] = {}

    def fetch(name: str, path: str) -> None:
        replies[name] = raw_request(server.port, path)

    try:
        server.start()
        slow = threading.Thread(
            target=fetch, args=("slow", "/_fault/body?tag=slow&pause=0.15&chunks=20")
        )
        slow.start()
        threading.Event().wait(0.4)  # the response is under way
        server.stop()
        slow.join(10)
        # Nothing serves now; a request waits in the socket's backlog for the next server.
        waiting = threading.Thread(target=fetch, args=("waiting", "/"))
        waiting.start()
        server.start()
        waiting.join(30)
    finally:
        server.close()
    assert replies["slow"].status == 200 and replies["slow"].complete
    assert replies["slow"].body.endswith(b"</html>")
    assert (tmp_path / "closed.txt").read_text().split() == ["slow"]
    assert replies["waiting"].status == 200 and replies["waiting"].complete
    assert server.generation == 2
