"""What real servers put on the wire (uvicorn with h11 and httptools, Hypercorn, waitress,
gunicorn, wsgiref, the werkzeug dev server) for odd apps, read over a raw socket: no refused
cookie gets out, however the app spells its headers or whenever it adds them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from consent_middleware.cookies import cookie_paths

from .fixtures.lookalikes import DELETIONS, LOOKALIKES
from .servers import Running, free_port, raw_get, running, server_command

pytestmark = pytest.mark.server

ASGI_SERVERS = ["uvicorn-h11", "uvicorn-httptools", "hypercorn"]
WSGI_SERVERS = ["waitress", "gunicorn", "wsgiref", "werkzeug"]


def start(server: str, app: str, tmp: Path) -> Iterator[Running]:
    port = free_port()
    command = server_command(server, f"tests.fixtures.wire_apps:{app}", port)
    with running(command, port, tmp / f"{server}-{app}.log") as process:
        yield process


@pytest.fixture(scope="module", params=ASGI_SERVERS + WSGI_SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    name = str(request.param)
    app = "asgi" if name in ASGI_SERVERS else "wsgi"
    yield from start(name, app, tmp_path_factory.mktemp(name))


@pytest.fixture(scope="module", params=["wsgiref", "werkzeug", "uvicorn-h11"])
def bare(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """Without the middleware: the controls that show what the server sends as it is."""
    name = str(request.param)
    app = "bare_asgi" if name.startswith("uvicorn") else "bare_wsgi"
    yield from start(name, app, tmp_path_factory.mktemp("bare-" + name))


def refused_on_wire(response_values: list[bytes]) -> list[bytes]:
    return [v for v in response_values if v.split(b"=", 1)[0].strip(b" \t") == b"_fbp"]


def test_every_spelling_of_set_cookie_is_judged(server: Running) -> None:
    for query in (
        ("", "?kind=str")
        if "uvicorn" in server.log.name or "hypercorn" in server.log.name
        else ("",)
    ):
        response = raw_get(server.port, "/names" + query)
        assert refused_on_wire(response.values(b"set-cookie")) == [], server.output()
        if response.status == 200:
            assert any(v.startswith(b"session=") for v in response.values(b"set-cookie"))


@pytest.mark.parametrize("index", range(len(LOOKALIKES)), ids=[x.id for x in LOOKALIKES])
def test_lookalike_deletions_do_not_reach_the_wire(server: Running, index: int) -> None:
    response = raw_get(server.port, f"/lookalike/{index}")
    assert response.status == 200
    assert refused_on_wire(response.values(b"set-cookie")) == []


@pytest.mark.parametrize("index", range(len(DELETIONS)))
def test_real_deletions_reach_the_wire(server: Running, index: int) -> None:
    response = raw_get(server.port, f"/deletion/{index}", {"Cookie": "_fbp=old"})
    values = response.values(b"set-cookie")
    assert values[0] == DELETIONS[index].encode("latin-1")
    # A deletion at the root path covers the carried cookie; any other gets ours too. So
    # does every other path a cookie sent to the page may be at (where a script may have
    # put it: /deletion, /deletion/<n>, /deletion/), unless the app's own is there.
    epoch = b"_fbp=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path="
    covered = "/" if b"path=/" in values[0].lower() else "/deletion"
    wanted = [p for p in ("/", *cookie_paths(f"/deletion/{index}")) if p != covered]
    assert values[1:] == [epoch + p.encode() for p in dict.fromkeys(wanted)]


def test_headers_added_after_start_response_stay_home(server: Running) -> None:
    response = raw_get(server.port, "/late")
    assert b"_fbp=late; Path=/" not in response.values(b"set-cookie")


def test_a_reused_response_keeps_its_length(server: Running) -> None:
    for _ in range(4):
        response = raw_get(server.port, "/page")
        assert response.status == 200
        assert b'id="consent-banner"' in response.body
        lengths = response.values(b"content-length")
        if lengths:
            assert int(lengths[0]) == len(response.body)


def test_controls_without_the_middleware(bare: Running) -> None:
    """The servers really do send these, so the tests above are not vacuous."""
    plain = raw_get(bare.port, "/lookalike/0")
    assert refused_on_wire(plain.values(b"set-cookie")) == [b"_fbp=x; Max-Age=0; Max-Age=abc"]
    if "uvicorn" not in bare.log.name:
        late = raw_get(bare.port, "/late")
        assert b"_fbp=late; Path=/" in late.values(b"set-cookie")
        names = raw_get(bare.port, "/names")
        assert len(refused_on_wire(names.values(b"set-cookie"))) == 5
