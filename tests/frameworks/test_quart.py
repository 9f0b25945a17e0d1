"""Quart under the middleware: the app in process, and on the wire under Hypercorn (the
server Quart itself runs on)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from ..servers import server_command
from . import quart_site
from .common import CHECKS, free_port, served


@pytest.fixture(
    scope="module", params=["asgi", pytest.param("hypercorn", marks=pytest.mark.server)]
)
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    if request.param == "asgi":
        with TestClient(cast(Any, quart_site.app), base_url="http://testserver") as in_process:
            yield in_process
        return
    port = free_port()
    command = server_command("hypercorn", "tests.frameworks.quart_site:app", port)
    with served(command, port, tmp_path_factory.mktemp("quart") / "hypercorn.log") as wire:
        yield wire


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__[len("check_") :])
def test_quart(client: httpx.Client, check: Callable[[httpx.Client], None]) -> None:
    check(client)
