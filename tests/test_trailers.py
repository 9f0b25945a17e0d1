"""Set-Cookie in a response's trailers (ASGI `http.response.trailers`, which Hypercorn sends
over HTTP/2 when the client asks with `te: trailers`). Browsers ignore it there,
but a proxy or client that merges trailers into the header section would not: it is judged
as in the header section, and the app's own trailer list stays as it was."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import h2.config
import h2.connection
import h2.events
import pytest

from consent_middleware import ConsentMiddleware

from .fixtures import wire_apps
from .raw import http_scope, run_asgi
from .servers import Running, free_port, running, server_command


def trailers_of(app: object, cookie: str | None = None) -> list[tuple[bytes, bytes]]:
    sent = run_asgi(app, http_scope("/trailers", cookie))
    [trailers] = [m for m in sent if m["type"] == "http.response.trailers"]
    return list(trailers["headers"])


def test_a_refused_cookie_in_the_trailers_is_dropped() -> None:
    before = list(wire_apps.TRAILERS)
    out = trailers_of(wire_apps.asgi)
    assert (b"set-cookie", b"session=trailer; Path=/") in out  # authentication: kept
    assert (b"server-timing", b"app;dur=1") in out  # anything else: as it was
    assert not [v for n, v in out if v.startswith(b"_fbp=")]
    assert before == wire_apps.TRAILERS  # the app's list, reused for every request


def test_a_granted_cookie_in_the_trailers_stays() -> None:
    core = wire_apps.asgi.core
    codec = core.policy.codec
    cookie = "consent=" + codec.encode(codec.decide(["analytics", "marketing"]))
    out = trailers_of(wire_apps.asgi, cookie)
    assert (b"set-cookie", b"_fbp=trailer; Path=/; Max-Age=31536000") in out


def test_trailers_fail_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    app = ConsentMiddleware(wire_apps.bare_asgi, config=wire_apps.config)

    def broken(*args: object) -> bool:
        raise RuntimeError("bug")

    monkeypatch.setattr(app.core.policy, "keeps", broken)
    out = trailers_of(app)
    assert not [v for n, v in out if v.startswith(b"_fbp=")]
    assert (b"set-cookie", b"session=trailer; Path=/") in out


def _trailers_over_h2(port: int) -> list[tuple[bytes, bytes]]:
    """GET /trailers over cleartext HTTP/2 (prior knowledge, as Hypercorn takes it) with
    `te: trailers`, read with the h2 library: the trailer fields as they arrive."""
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    connection.send_headers(
        1,
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", f"127.0.0.1:{port}"),
            (":path", "/trailers"),
            ("te", "trailers"),
        ],
        end_stream=True,
    )
    trailers: list[tuple[bytes, bytes]] = []
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.sendall(connection.data_to_send())
        ended = False
        while not ended:
            data = sock.recv(65536)
            assert data, "the server closed the connection before the stream ended"
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.TrailersReceived):
                    trailers += [(bytes(n), bytes(v)) for n, v in event.headers]
                elif isinstance(event, h2.events.DataReceived):
                    connection.acknowledge_received_data(event.flow_controlled_length, 1)
                ended = ended or isinstance(event, h2.events.StreamEnded)
            sock.sendall(connection.data_to_send())
    return trailers


@pytest.fixture(scope="module")
def hypercorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Running]]:
    tmp = tmp_path_factory.mktemp("trailers")
    servers: dict[str, Running] = {}
    with_port, bare_port = free_port(), free_port()
    with (
        running(
            server_command("hypercorn", "tests.fixtures.wire_apps:asgi", with_port),
            with_port,
            tmp / "with.log",
        ) as with_middleware,
        running(
            server_command("hypercorn", "tests.fixtures.wire_apps:bare_asgi", bare_port),
            bare_port,
            tmp / "bare.log",
        ) as bare,
    ):
        servers["with"], servers["bare"] = with_middleware, bare
        yield servers


@pytest.mark.server
def test_hypercorn_sends_no_refused_cookie_in_the_trailers(hypercorn: dict[str, Running]) -> None:
    bare = _trailers_over_h2(hypercorn["bare"].port)
    # The control: Hypercorn really puts the app's trailers on the wire.
    assert (b"set-cookie", b"_fbp=trailer; Path=/; Max-Age=31536000") in bare, bare
    out = _trailers_over_h2(hypercorn["with"].port)
    assert not [v for n, v in out if n == b"set-cookie" and v.startswith(b"_fbp=")], out
    assert (b"set-cookie", b"session=trailer; Path=/") in out
    assert (b"server-timing", b"app;dur=1") in out
