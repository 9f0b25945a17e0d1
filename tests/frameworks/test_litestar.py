"""Litestar under the middleware: the app in process, and on the wire under uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx2 as httpx
import pytest
from litestar import Litestar
from litestar.middleware import DefineMiddleware
from starlette.testclient import TestClient

from consent_middleware import ConsentMiddleware

from ..servers import server_command
from . import litestar_site
from .common import CHECKS, CONFIG, free_port, request, served


@pytest.fixture(scope="module", params=["asgi", pytest.param("uvicorn", marks=pytest.mark.server)])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    if request.param == "asgi":
        with TestClient(litestar_site.app, base_url="http://testserver") as in_process:
            yield in_process
        return
    port = free_port()
    command = server_command("uvicorn", "tests.frameworks.litestar_site:app", port)
    with served(command, port, tmp_path_factory.mktemp("litestar") / "uvicorn.log") as wire:
        yield wire


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__[len("check_") :])
def test_litestar(client: httpx.Client, check: Callable[[httpx.Client], None]) -> None:
    check(client)


def test_litestar_middleware_list_would_miss_the_endpoints() -> None:
    """Why the recipe wraps the app: in Litestar's `middleware=[...]` the middleware runs
    only for routes that matched, so `/consent` is Litestar's 404."""
    inside = Litestar(
        route_handlers=[litestar_site.state_view],
        middleware=[DefineMiddleware(ConsentMiddleware, config=CONFIG)],
    )
    with TestClient(cast(Any, inside), base_url="http://testserver") as client:
        assert request(client, "GET", "/consent").status_code == 404
        assert request(client, "GET", "/state").json()["decided"] is False
