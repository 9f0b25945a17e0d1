"""Django under the middleware, as docs/django.md sets it up: the project's WSGI handler
(`get_wsgi_application()`) wrapped by ConsentWSGIMiddleware, and its ASGI handler
(`get_asgi_application()`) wrapped by ConsentMiddleware. Each check runs in process over
both handlers, and on the wire over Django's own `runserver` (WSGI) and uvicorn (ASGI)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from ..servers import server_command
from .common import CHECKS, consent_cookie, free_port, request, served
from .django_project import asgi, wsgi

SETTINGS = "tests.frameworks.django_project.settings"


@pytest.fixture(
    scope="module",
    params=[
        "wsgi",
        "asgi",
        pytest.param("runserver", marks=pytest.mark.server),
        pytest.param("uvicorn", marks=pytest.mark.server),
    ],
)
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    kind = str(request.param)
    if kind == "wsgi":
        transport = httpx.WSGITransport(app=wsgi.application)
        with httpx.Client(transport=transport, base_url="http://testserver") as in_process:
            yield in_process
        return
    if kind == "asgi":
        # Django answers no lifespan scope: the client is not entered, so none is sent.
        yield TestClient(asgi.application, base_url="http://testserver")
        return
    port = free_port()
    if kind == "runserver":
        command = [sys.executable, "-m", "django", "runserver", "--noreload"]
        command += ["--settings", SETTINGS, f"127.0.0.1:{port}"]
    else:
        command = server_command(
            "uvicorn", "tests.frameworks.django_project.asgi:application", port
        )
    log = tmp_path_factory.mktemp("django") / f"{kind}.log"
    with served(command, port, log) as on_the_wire:
        yield on_the_wire


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__[len("check_") :])
def test_django(client: httpx.Client, check: Callable[[httpx.Client], None]) -> None:
    check(client)


def test_a_template_reads_the_consent_from_a_context_processor(client: httpx.Client) -> None:
    assert "analytics off" in request(client, "GET", "/template").text
    accepted = consent_cookie(client, {"action": "accept_all"})
    assert "analytics on" in request(client, "GET", "/template", cookie=accepted).text
