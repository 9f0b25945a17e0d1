"""A newcomer's round 6.

- `consent-middleware check-config app.py:app` (the file name, as one types it after `ls`)
  said "No module named 'app.py'; 'app' is not a package", and `./app.py:app` a TypeError
  about relative imports raised in importlib: now both say that MODULE is the module's
  dotted name and give the target to write (`app:app`, `src.app:app`, `pkg:create_app()`).
- `ConsentConfig(texts={"de-CH": {...}})`, without `languages`, raised "languages None must
  be language codes": it blamed an option the user never gave. It now names the `texts`
  key and the code it starts with; `languages=()` says it is empty rather than "in lower
  case", and a code with a region says which code to write (`'de-CH'`: `'de'`); a cookie
  rule's misspelt category (`'analytic'`, `'Analytics'`) says which was meant.
- `cookie_name="__Host-consent"` (as docs/faq.md recommends), the site opened over plain
  http on a host that is not loopback (a LAN dev box, a docker-compose service name, a
  staging host without TLS): Chromium stores no Secure cookie from such a page, so each
  choice was lost, the banner came back on every page, and nothing said why
  (tests/browser/test_newcomer_round6.py). The middleware now logs it once, naming the
  page's origin and what makes the cookie Secure.
- `FastAPI(root_path="/app")` behind nginx that strips `/app` (the docs' own snippet): the
  banner and its endpoints had the prefix, but `app.mount("/static", StaticFiles(...))`
  answered 404 (Starlette's doing, not the middleware's). docs/deploying.md now lists
  `FastAPI(root_path=...)` with the proxy it needs; the test holds both readings.
- Flask's `APPLICATION_ROOT="/app"`, which a newcomer takes for the prefix, gives the
  banner none (nor Flask's own links): docs/deploying.md says so, and what to set instead.
- `consent-middleware audit` of a site whose choice never sticks (the banner posts outside
  the app, or the browser drops a `__Host-consent` cookie on plain http) said "accepting
  takes 1 click(s)" and found at most `no_way_back`: a new finding, `choice_not_kept`, names
  the page where the banner came back (tests/browser/test_newcomer_round6.py runs it behind
  nginx).
- `records export --consent-id abc` said "Invalid value for CONSENT_ID", the name of
  `records erase`'s argument, not of the option given: it now names `--consent-id`.
- `python -m consent_middleware check-config ...` (the habit of `python -m pip`, for a
  virtualenv whose scripts are not on PATH) said "'consent_middleware' is a package and
  cannot be directly executed": it now runs the command.
- `records="sqlite:////var/lib/site/consent.db"` in a folder that does not exist: every
  choice got 503 and the log said "unable to open database file"; it now names the
  missing folder.
- The two middlewares mixed up: `app.wsgi_app = ConsentMiddleware(app.wsgi_app, ...)` in
  Flask failed on the first request with "ConsentMiddleware.__call__() missing 1 required
  positional argument: 'send'", and `app.add_middleware(ConsentWSGIMiddleware, ...)` in
  FastAPI with "takes 3 positional arguments but 4 were given". Each now fails where it is
  built, saying which middleware to use and how. And `app.wsgi_app =
  ConsentWSGIMiddleware(app, ...)` (the Flask app, not its `wsgi_app`; Quart's `asgi_app`
  the same), whose app calls the middleware back on every pass, ended in a RecursionError
  after a "found itself installed twice" warning: it now says what to wrap.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from consent_middleware import ConsentConfig, ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.cli import main

_CONFIG = ConsentConfig(secret_key="a-long-enough-secret-for-the-check", cookies={})

APP = """\
from consent_middleware import ConsentConfig

config = ConsentConfig(secret_key="a-long-enough-secret-for-the-check", cookies={})
"""


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("shopapp.py:config", "shopapp:config"),
        ("./shopapp.py:config", "shopapp:config"),
        ("src/shopapp.py:config", "src.shopapp:config"),
        ("src\\shopapp.py:config", "src.shopapp:config"),
        ("src/__init__.py:config", "src:config"),
    ],
)
def test_a_file_name_as_the_target_says_which_module_to_write(
    given: str,
    meant: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "shopapp.py").write_text(APP, encoding="utf-8")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__init__.py").write_text(APP, encoding="utf-8")
    (tmp_path / "src" / "shopapp.py").write_text(APP, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for command in (["check-config", given], ["audit", "http://127.0.0.1:9/", "--config", given]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "not a file name" in err and f"write {meant}" in err, err
        assert "TypeError" not in err and "is not a package" not in err, err
    assert main(["check-config", meant]) in (0, 1)  # what it says to write loads


def test_a_file_name_that_no_module_can_have_is_still_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check-config", "my-shop.py:config"]) == 2  # no dotted name to suggest
    assert "No module named 'my-shop'" in capsys.readouterr().err


def test_a_relative_module_name_is_a_usage_error_without_importlibs_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check-config", ".shopapp:config"]) == 2
    err = capsys.readouterr().err
    assert "cannot import '.shopapp'" in err and "(/" not in err, err


@pytest.mark.parametrize(
    ("options", "said", "not_said"),
    [
        ({"texts": {"de-CH": {"title": "Cookies?"}}}, "texts has language 'de-CH'", "None"),
        ({"texts": {"nb-NO": {"title": "Cookies?"}}}, "(did you mean 'nb'?)", "languages None"),
        ({"languages": ()}, "is empty", "lower case"),
        ({"languages": ("en", "de-CH")}, "'de-CH' is not (did you mean 'de'?)", "None"),
        ({"cookies": {"_ga": "analytic"}}, "did you mean 'analytics'?", "None"),
        ({"cookies": {"_ga": "Analytics"}}, "did you mean 'analytics'?", "None"),
    ],
)
def test_a_wrong_language_code_is_named_where_it_was_given(
    options: dict[str, object], said: str, not_said: str
) -> None:
    with pytest.raises(ValueError) as raised:
        ConsentConfig(secret_key="a-long-enough-secret-for-the-check", **options)  # type: ignore[arg-type]
    assert said in str(raised.value) and not_said not in str(raised.value), raised.value


def _choose_from(
    origin: str, caplog: pytest.LogCaptureFixture, base_url: str = "", **options: Any
) -> list[str]:
    config = ConsentConfig(secret_key="a-long-enough-secret-for-the-check", **options)
    app = ConsentMiddleware(Starlette(), config=config)
    headers = {"Origin": origin, "Sec-Fetch-Site": "same-origin"}
    with TestClient(app, base_url=base_url or origin) as client, caplog.at_level(logging.WARNING):
        for _ in range(2):
            answer = client.post("/consent", json={"action": "accept_all"}, headers=headers)
            assert answer.status_code == 200, answer.text
    return [r.getMessage() for r in caplog.records if "plain-http page" in r.getMessage()]


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"cookie_name": "__Host-consent"}, "its __Host- name"),
        ({"cookie_name": "__Secure-consent"}, "its __Secure- name"),
        ({"cookie_name": "__host-consent"}, "its __Host- name"),  # Chromium: any case
        ({"secure": True}, "secure=True"),
        ({"same_site": "none"}, "same_site='none'"),
    ],
)
def test_a_secure_consent_cookie_for_a_plain_http_page_is_logged_once(
    options: dict[str, Any], why: str, caplog: pytest.LogCaptureFixture
) -> None:
    logged = _choose_from("http://devbox.test:8000", caplog, **options)
    assert len(logged) == 1, logged  # once, not on every choice
    assert "http://devbox.test:8000" in logged[0] and why in logged[0], logged[0]
    assert "banner comes back" in logged[0]


def test_a_page_on_http_that_reached_the_app_as_https_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A proxy that says https (`proxy_set_header X-Forwarded-Proto https` on a plain-http
    listener): the cookie is Secure, the browser's page is not."""
    logged = _choose_from("http://devbox.test", caplog, base_url="https://devbox.test")
    assert len(logged) == 1 and "reached the app as https" in logged[0], logged


@pytest.mark.parametrize(
    ("origin", "options"),
    [
        ("http://localhost:8000", {"cookie_name": "__Host-consent"}),
        ("http://app.localhost:8000", {"cookie_name": "__Host-consent"}),
        ("http://127.0.0.1:8000", {"cookie_name": "__Host-consent"}),
        ("http://[::1]:8000", {"cookie_name": "__Host-consent"}),
        ("https://www.example.com", {"cookie_name": "__Host-consent"}),
        ("http://devbox.test:8000", {}),  # not Secure on plain http: stored
        ("http://[devbox", {"cookie_name": "__Host-consent"}),  # no origin a browser sends
    ],
)
def test_where_browsers_store_the_consent_cookie_nothing_is_logged(
    origin: str, options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    base_url = "http://devbox.test" if "[devbox" in origin else ""
    assert _choose_from(origin, caplog, base_url=base_url, **options) == []


def test_behind_a_proxy_ending_tls_nothing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """The app sees http (no forwarded scheme), the browser's page is https: it stores the
    cookie, and the log must not cry wolf."""
    origin, seen = "https://www.example.com", "http://www.example.com"
    assert _choose_from(origin, caplog, base_url=seen, cookie_name="__Host-consent") == []


@pytest.mark.parametrize("proxy", ["keeps", "strips"])
def test_fastapi_root_path_as_docs_deploying_says(proxy: str) -> None:
    from .fixtures.newcomer6_apps import fastapi_root_path_app

    prefix = "/app" if proxy == "keeps" else ""
    with TestClient(fastapi_root_path_app(), base_url="https://testserver") as client:
        page = client.get(f"{prefix}/page")
        assert page.status_code == 200 and 'action="/app/consent?' in page.text
        assert client.get(f"{prefix}/consent").status_code == 200
        static = client.get(f"{prefix}/static/index.html").status_code
    assert static == (200 if proxy == "keeps" else 404)  # the limit docs/deploying.md names


def test_the_asgi_middleware_around_a_wsgi_app_says_to_use_the_wsgi_one() -> None:
    from flask import Flask

    flask = Flask(__name__)
    wsgi_apps: list[Any] = [flask.wsgi_app, flask, lambda environ, start_response: []]
    for wsgi_app in wsgi_apps:  # what mypy refuses too, for a typed app
        with pytest.raises(TypeError) as raised:
            ConsentMiddleware(wsgi_app, config=_CONFIG)
        said = str(raised.value)
        assert "is a WSGI app" in said and "ConsentWSGIMiddleware(app.wsgi_app" in said, said


def test_the_wsgi_middleware_around_an_asgi_app_says_to_use_the_asgi_one() -> None:
    from fastapi import FastAPI

    fastapi = FastAPI()
    fastapi.add_middleware(ConsentWSGIMiddleware, config=_CONFIG)  # type: ignore[arg-type]

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        pass

    with pytest.raises(TypeError) as raised:
        TestClient(fastapi).get("/")  # Starlette builds its middleware at the first request
    assert "is an ASGI app" in str(raised.value)
    assert "add_middleware(ConsentMiddleware, config=config)" in str(raised.value)
    asgi_apps: list[Any] = [asgi_app, FastAPI(), functools.partial(asgi_app)]
    for app in asgi_apps:
        with pytest.raises(TypeError, match="is an ASGI app: use ConsentMiddleware"):
            ConsentWSGIMiddleware(app, config=_CONFIG)


def test_apps_that_may_speak_either_are_taken_as_given() -> None:
    class Untyped:
        def __call__(self, *args: Any) -> Any:
            return None

    def asgi2(scope: Any) -> Any:  # ASGI 2: an application instance per scope
        return None

    def sync_asgi(scope: Any, receive: Any, send: Any) -> Any:  # returns an awaitable
        return None

    either: list[Any] = [Untyped(), asgi2, sync_asgi, dict]  # dict: without a signature
    for app in either:
        ConsentMiddleware(app, config=_CONFIG)
    wsgi_apps: list[Any] = [Untyped(), lambda environ, start_response: [], print]
    for app in wsgi_apps:
        ConsentWSGIMiddleware(app, config=_CONFIG)


@pytest.mark.parametrize("script_name", ["", "/app"])
def test_flask_application_root_is_no_prefix_as_docs_deploying_says(script_name: str) -> None:
    import werkzeug.test
    from flask import Flask, url_for

    flask = Flask(__name__)
    flask.config["APPLICATION_ROOT"] = "/app"

    @flask.get("/page")
    def page() -> str:
        return f'<!doctype html><html><body><a href="{url_for("page")}">x</a></body></html>'

    flask.wsgi_app = ConsentWSGIMiddleware(flask.wsgi_app, config=_CONFIG)  # type: ignore[method-assign]
    # Werkzeug's own client: Flask's test client would make APPLICATION_ROOT the SCRIPT_NAME,
    # which no server does.
    client = werkzeug.test.Client(flask)
    html = client.get("/page", base_url=f"http://localhost{script_name}").text
    assert f'action="{script_name}/consent?' in html and f'href="{script_name}/page"' in html


def test_the_audit_says_when_a_choice_was_not_kept() -> None:
    from consent_middleware.audit.model import ChoiceResult, Visit

    from .audit.test_findings import audit_run, clean_visits, kinds, step

    assert ("choice_not_kept", None) not in kinds(audit_run())
    visits = clean_visits()
    took = ChoiceResult("accept_all", 1, True, "first layer", "accept_all")
    visits["accepted"] = Visit(
        "accepted",
        [
            step("accepted", "undecided", banner_visible=True),
            step("accepted", "accepted", "choice"),
            step(
                "accepted",
                "accepted",
                url="https://shop.example.com/404",
                status=404,
                banner_visible=True,
            ),  # an error page: not counted
            step("accepted", "accepted", url="https://shop.example.com/a", banner_visible=True),
            step("accepted", "accepted", url="https://shop.example.com/b", banner_visible=True),
        ],
        choice=took,
    )
    # The withdrawn visitor's banner asks again after the withdrawal: that is no finding.
    visits["withdrawn"].steps.append(step("withdrawn", "withdrawn", banner_visible=True))
    from consent_middleware.audit import analyse

    from .audit.test_findings import CONFIG

    found = [f for f in analyse(audit_run(visits), CONFIG).findings if f.kind == "choice_not_kept"]
    assert [(f.visitor, f.page) for f in found] == [("accepted", "https://shop.example.com/a")]
    assert "not kept" in found[0].detail


def test_a_bad_consent_id_option_is_named_as_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/records.db"
    config = ConsentConfig(secret_key="a-long-enough-secret-for-the-check", records=store)
    with TestClient(ConsentMiddleware(Starlette(), config=config)) as client:
        client.post(
            "/consent", json={"action": "reject_all"}, headers={"Sec-Fetch-Site": "same-origin"}
        )
    assert main(["records", "export", "--store", store, "--consent-id", "abc"]) == 2
    assert "Invalid value for '--consent-id': 'abc' is not a consent id" in capsys.readouterr().err
    assert main(["records", "erase", "--store", store, "abc"]) == 2
    assert "Invalid value for CONSENT_ID: 'abc'" in capsys.readouterr().err


def test_python_dash_m_runs_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import runpy
    import subprocess
    import sys

    monkeypatch.setattr(sys, "argv", ["consent_middleware", "--version"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("consent_middleware", run_name="__main__")
    assert exited.value.code == 0 and "version" in capsys.readouterr().out
    typo = [sys.executable, "-m", "consent_middleware", "check-confg", "app:app"]
    done = subprocess.run(typo, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Did you mean 'check-config'?" in done.stderr, done.stderr


def test_a_records_database_in_a_missing_folder_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "not-made"
    config = ConsentConfig(
        secret_key="a-long-enough-secret-for-the-check", records=f"sqlite:///{folder}/c.db"
    )
    app = ConsentMiddleware(Starlette(), config=config)
    with TestClient(app) as client, caplog.at_level(logging.ERROR):
        answer = client.post(
            "/consent", json={"action": "accept_all"}, headers={"Sec-Fetch-Site": "same-origin"}
        )
    assert answer.status_code == 503
    assert f"(there is no folder {folder})" in caplog.text, caplog.text


def test_a_middleware_that_wraps_the_app_whose_hook_it_is_says_what_to_wrap() -> None:
    import asyncio

    from flask import Flask
    from quart import Quart

    flask = Flask(__name__)
    flask.get("/")(lambda: "<html><body>x</body></html>")
    flask.wsgi_app = ConsentWSGIMiddleware(flask, config=_CONFIG)  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match=r"Wrap app\.wsgi_app instead"):
        flask.test_client().get("/")

    quart = Quart(__name__)
    quart.asgi_app = ConsentMiddleware(quart, config=_CONFIG)  # type: ignore[method-assign]

    async def visit() -> None:
        await quart.test_client().get("/")

    with pytest.raises(RuntimeError, match=r"Wrap app\.asgi_app instead"):
        asyncio.run(visit())
