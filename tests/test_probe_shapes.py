"""`check-config --probe` on the app shapes of the quick starts: a streamed response, Quart,
Django ASGI, Litestar's Stream. Each probe ends, with its usual report, within a bound; an
app that fails or never answers is a one-line finding, not a traceback or a hang."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any, TypeVar

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from consent_middleware import ConsentConfig, ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.cli import main
from consent_middleware.probe import TIMEOUT, probe_findings, probe_set_cookies

from .fixtures.lifespan import answer_lifespan

T = TypeVar("T")

#: Far above what a probe takes (well under a second): reaching it means a hang.
BOUND = 15.0


def _config() -> ConsentConfig:
    return ConsentConfig(
        secret_key="Vq8kQ2pXr7LmN4sT9wYz1aBcDeFgHiJk",
        cookies={"_ga": "analytics", "_fbp": "marketing"},
        policy_version="1",
    )


def _within_bound(call: Callable[[], T]) -> T:
    """`call()`, failed (not waited for) when it hangs, as the probe did on these shapes."""
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND)
    assert not thread.is_alive(), f"the probe hung (still running after {BOUND:g} s)"
    if error:
        raise error[0]
    return result[0]


def _probe(app: Any, path: str, timeout: float | None = None) -> list[str]:
    """The findings `check-config --probe PATH` prints for `app`."""
    config = _config()
    bound = TIMEOUT if timeout is None else timeout
    return _within_bound(
        lambda: probe_findings(config, probe_set_cookies(app, [path], timeout=bound))
    )


def _misplaced(path: str, name: str, where: str) -> str:
    return f"GET {path} sets {name!r} at Path={where}, which its rule does not name"


# Module-level apps: targets for the command line itself.


async def _streamed(request: Request) -> Response:
    async def page() -> AsyncIterator[bytes]:
        yield b"<html><body>hi</body></html>"

    response = StreamingResponse(page(), media_type="text/html")
    response.set_cookie("_ga", "1", path="/s")
    return response


async def _broken(request: Request) -> Response:
    raise RuntimeError("database is down\n  (a second line of detail)")


starlette_streaming = Starlette(routes=[Route("/s", _streamed), Route("/broken", _broken)])
starlette_streaming.add_middleware(ConsentMiddleware, config=_config())


def test_starlette_streaming_response_through_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = "tests.test_probe_shapes:starlette_streaming"
    assert _within_bound(lambda: main(["check-config", target, "--probe", "/s"])) == 1
    out = capsys.readouterr().out
    assert "policy_version: 1" in out
    assert _misplaced("/s", "_ga", "/s") in out


def test_app_exception_is_a_one_line_finding(capsys: pytest.CaptureFixture[str]) -> None:
    target = "tests.test_probe_shapes:starlette_streaming"
    status = _within_bound(
        lambda: main(["check-config", target, "--probe", "/broken", "--probe", "/s"])
    )
    captured = capsys.readouterr()
    assert status == 1
    findings = captured.out.split("Findings:\n")[1].splitlines()
    assert (
        "- GET /broken could not be probed: the app raised RuntimeError: database is down"
        in findings
    )
    assert any(_misplaced("/s", "_ga", "/s") in line for line in findings)  # probed on
    assert "Traceback" not in captured.out + captured.err
    assert "second line" not in captured.out + captured.err


def test_quart_app_with_wrapped_asgi_app() -> None:
    from quart import Quart, make_response

    app = Quart(__name__)

    @app.get("/")
    async def home() -> Any:
        response = await make_response("<html><body>hi</body></html>")
        response.set_cookie("_fbp", "fb.1", path="/shop")
        return response

    app.asgi_app = ConsentMiddleware(app.asgi_app, config=_config())  # type: ignore[method-assign]
    expected = _misplaced("/", "_fbp", "/shop")
    assert any(expected in f for f in _probe(app, "/"))  # the Quart app: its asgi_app is found
    assert any(expected in f for f in _probe(app.asgi_app, "/"))  # app:app.asgi_app


def test_django_asgi_application() -> None:
    import django
    from django.conf import settings
    from django.core.asgi import get_asgi_application
    from django.http import HttpRequest, HttpResponse
    from django.test.utils import override_settings
    from django.urls import path

    def home(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("<html><body>hi</body></html>")
        response.set_cookie("_fbp", "x", path="/shop/")
        return response

    urls = ModuleType("probe_urls")  # the URLconf: a module object will do
    urls.urlpatterns = [path("", home)]  # type: ignore[attr-defined]
    # Django's settings are one per process: the test project's (tests/frameworks), with
    # this URLconf only while the test runs, so that the Django tests run before or after.
    if not settings.configured:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.frameworks.django_project.settings")
    django.setup()
    with override_settings(ROOT_URLCONF=urls, MIDDLEWARE=[]):
        application = ConsentMiddleware(get_asgi_application(), config=_config())
        assert any(_misplaced("/", "_fbp", "/shop/") in f for f in _probe(application, "/"))


def test_litestar_stream() -> None:
    from litestar import Litestar, MediaType, get
    from litestar.datastructures import Cookie
    from litestar.response import Stream

    @get("/s")
    async def streamed() -> Stream:
        async def page() -> AsyncIterator[str]:
            yield "<html><body>hi</body></html>"

        return Stream(
            page(), media_type=MediaType.HTML, cookies=[Cookie(key="_ga", value="1", path="/s")]
        )

    site = Litestar(route_handlers=[streamed], signature_namespace={"Stream": Stream})
    app = ConsentMiddleware(site, config=_config())
    assert any(_misplaced("/s", "_ga", "/s") in f for f in _probe(app, "/s"))


async def _never_answers(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    await asyncio.Event().wait()


async def _blocks_its_thread(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    time.sleep(10)  # a sync call inside an async app: no cancellation reaches it


async def _streams_forever(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"set-cookie", b"_ga=1; Path=/live")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    while True:
        await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    "inner", [pytest.param(_never_answers, id="async"), pytest.param(_blocks_its_thread, id="sync")]
)
def test_app_that_never_answers_is_reported(inner: Any) -> None:
    app = ConsentMiddleware(inner, config=_config())
    started = time.monotonic()
    findings = _probe(app, "/slow", timeout=0.5)
    assert time.monotonic() - started < 8  # given up on, not waited for
    assert findings == ["GET /slow could not be probed: the app did not answer within 0.5 s"]


def test_endless_stream_is_judged_by_its_headers() -> None:
    app = ConsentMiddleware(_streams_forever, config=_config())
    assert _probe(app, "/live", timeout=0.5) == [
        _misplaced("/live", "_ga", "/live") + ": when refused, it is expired only by a worker"
        " that saw the app set it (not after a restart): use CookieRule('analytics',"
        " path='/live')"
    ]


async def _error_page(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"set-cookie", b"_ga=1; Path=/")]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": b"Internal Server Error"})


def test_error_page_is_reported() -> None:
    """Frameworks turn an exception into a 500: its cookies are not the page's."""
    app = ConsentMiddleware(_error_page, config=_config())
    assert _probe(app, "/") == [
        "GET / answered 500: the app failed, and only its error page's cookies were seen"
    ]


# Lifespan: the probe runs it around its requests, as a server does.

shut_down: list[str] = []


@contextlib.asynccontextmanager
async def _opens_a_pool(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    app.state.greeting = "hello"  # the old style: on app.state
    yield {"pool": ["connection"]}  # the new style: lifespan state, copied per request
    shut_down.append("closed the pool")


async def _needs_the_pool(request: Request) -> Response:
    connection = request.state.pool[0]  # AttributeError without lifespan startup
    response = Response(f"{request.app.state.greeting} {connection}", media_type="text/html")
    response.set_cookie("_ga", "1", path="/reports")
    return response


with_lifespan = Starlette(routes=[Route("/reports", _needs_the_pool)], lifespan=_opens_a_pool)
with_lifespan.add_middleware(ConsentMiddleware, config=_config())


def test_lifespan_startup_runs_before_the_probe_and_shutdown_after() -> None:
    shut_down.clear()
    findings = _probe(with_lifespan, "/reports")
    assert [f for f in findings if "could not be probed" in f] == []
    assert any(_misplaced("/reports", "_ga", "/reports") in f for f in findings)
    assert shut_down == ["closed the pool"]


@contextlib.asynccontextmanager
async def _cannot_connect(app: Starlette) -> AsyncIterator[None]:
    raise ConnectionRefusedError("no database at 127.0.0.1:5432")
    yield


def test_a_failed_lifespan_startup_is_a_finding_for_every_path() -> None:
    app = Starlette(routes=[Route("/reports", _needs_the_pool)], lifespan=_cannot_connect)
    app.add_middleware(ConsentMiddleware, config=_config())
    config = _config()
    result = _within_bound(lambda: probe_set_cookies(app, ["/a", "/reports"]))
    expected = (
        "could not be probed: the app's lifespan startup failed:"
        " ConnectionRefusedError: no database at 127.0.0.1:5432"
    )
    assert probe_findings(config, result) == [f"GET /a {expected}", f"GET /reports {expected}"]


async def _lifespan_never_ends(scope: Any, receive: Any, send: Any) -> None:
    await asyncio.Event().wait()  # every scope, lifespan too


def test_a_lifespan_startup_that_never_ends_is_reported() -> None:
    app = ConsentMiddleware(_lifespan_never_ends, config=_config())
    started = time.monotonic()
    findings = _probe(app, "/", timeout=0.5)
    assert time.monotonic() - started < 8
    assert findings == [
        "GET / could not be probed: the app's lifespan startup did not end within 0.5 s"
    ]


async def _blocks_for_a_while(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    if scope["path"] == "/slow":
        time.sleep(3)  # holds the event loop that every probed path shares
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_a_path_that_holds_the_event_loop_is_named_for_the_paths_after_it() -> None:
    app = ConsentMiddleware(_blocks_for_a_while, config=_config())
    config = _config()
    result = _within_bound(lambda: probe_set_cookies(app, ["/slow", "/fast"], timeout=0.5))
    assert probe_findings(config, result) == [
        "GET /slow could not be probed: the app did not answer within 0.5 s",
        "GET /fast could not be probed: the app was still answering GET /slow",
    ]


def _query_apps() -> list[Any]:
    """The same page twice: Starlette and Flask, each setting `tracker` (which no rule names)
    on `/shop/`, and `qtracker` only when the query asks `?x=1`."""
    from flask import Flask
    from flask import Response as FlaskResponse
    from flask import request as flask_request

    def page(request: Request) -> Response:
        response = Response("<html><body>x</body></html>", media_type="text/html")
        response.set_cookie("tracker", "1")
        if request.query_params.get("x"):
            response.set_cookie("qtracker", "1")
        return response

    asgi = ConsentMiddleware(Starlette(routes=[Route("/shop/", page)]), config=_config())
    flask = Flask(__name__)

    @flask.get("/shop/")
    def shop() -> FlaskResponse:
        response = FlaskResponse("<html><body>x</body></html>", mimetype="text/html")
        response.set_cookie("tracker", "1")
        if flask_request.args.get("x"):
            response.set_cookie("qtracker", "1")
        return response

    flask.wsgi_app = ConsentWSGIMiddleware(flask.wsgi_app, config=_config())  # type: ignore[method-assign]
    return [asgi, flask]


@pytest.mark.parametrize("kind", [0, 1], ids=["asgi", "wsgi"])
def test_probe_path_with_a_query_string(kind: int) -> None:
    """`--probe "/shop/?x=1"` GETs /shop/ with the query x=1, as a browser would: the
    query is not part of the path (which made the route answer 404: no findings)."""
    app = _query_apps()[kind]
    found = probe_set_cookies(app, ["/shop/?x=1"])
    names = sorted(value.split("=")[0] for value in found["/shop/?x=1"])
    assert names == ["qtracker", "tracker"]
    findings = probe_findings(_config(), found)
    assert len(findings) == 2
    assert any("'qtracker'" in finding for finding in findings)


@pytest.mark.parametrize("kind", [0, 1], ids=["asgi", "wsgi"])
def test_probe_path_without_a_slash_is_a_usage_error(
    kind: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--probe shop/` is no path a browser asks for: a usage error (exit 2) that names it,
    not a probe that finds nothing under ASGI and probes something else under WSGI."""
    module = ModuleType("probe_query_apps")
    module.app = _query_apps()[kind]  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "probe_query_apps", module)
    assert main(["check-config", "probe_query_apps:app", "--probe", "shop/"]) == 2
    assert "'shop/'" in capsys.readouterr().err


def test_root_path_error_says_what_it_must_be(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "tests.fixtures.configs:app", "--root-path", "app"]) == 2
    assert "--root-path must start with '/'" in capsys.readouterr().err
