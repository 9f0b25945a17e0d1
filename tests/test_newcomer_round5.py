"""A newcomer's round 5: a Content-Security-Policy added outside the middleware (nginx's
`add_header`, or an `@app.middleware("http")` function declared after
`add_middleware(ConsentMiddleware)`) is never seen by it, so an undecided visitor's banner
gets its CSS inline, which such a policy refuses under `default-src 'self'` or
`style-src 'self'`: in Chromium the banner was unstyled, at the foot of a long page, out of
sight (tests/browser/test_newcomer_round5.py). docs/faq.md said only that such a policy's
nonce is not seen, and advised `style-src 'self'` without saying it must be in the policy
the app sends; docs/banner.md said the page's policy decides. Both now say where the policy
must come from, and what to do when a proxy must add it. Run under uvicorn
(tests.fixtures.outer_csp_apps)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Response

from consent_middleware import ConsentWSGIMiddleware
from consent_middleware.cli import main

from .fixtures.outer_csp_apps import POLICY, config
from .servers import Running, free_port, raw_get, running, server_command

DOCS = Path(__file__).resolve().parents[1] / "docs"
INLINE_STYLE = re.compile(rb"<style(?![^>]*\bnonce=)[^>]*>#consent-banner")
STYLESHEET = re.compile(rb'<link rel="stylesheet" href="/consent/banner\.css\?v=')


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    at = free_port()
    log = tmp_path_factory.mktemp("outer-csp") / f"uvicorn-{at}.log"
    with running(server_command("uvicorn", "tests.fixtures.outer_csp_apps:app", at), at, log) as s:
        yield s


def test_a_policy_added_outside_the_middleware_meets_the_inline_css(site: Running) -> None:
    """What docs/banner.md now says: the outer policy is on the wire, the middleware did not
    see it, and the banner's CSS is inline, which that policy refuses."""
    response = raw_get(site.port, "/outer")
    assert response.status == 200
    assert response.values(b"content-security-policy") == [POLICY.encode()]
    assert INLINE_STYLE.search(response.body)
    assert not STYLESHEET.search(response.body)


@pytest.mark.parametrize("path", ["/inner", "/both"])
def test_the_documented_remedies_give_the_stylesheet(site: Running, path: str) -> None:
    """A policy set inside the middleware, or sent by the app as well as by the proxy: the
    banner falls back to its `<link>`, which `default-src 'self'` allows."""
    response = raw_get(site.port, path)
    assert response.status == 200
    assert POLICY.encode() in response.values(b"content-security-policy")
    assert not INLINE_STYLE.search(response.body)
    assert STYLESHEET.search(response.body)


def test_a_flask_after_request_policy_is_inside_the_middleware() -> None:
    """docs/banner.md's Flask case: an `after_request` hook (Flask-Talisman's way) runs inside
    `app.wsgi_app`, so the middleware reads its policy."""
    app = Flask(__name__)

    @app.get("/")
    def home() -> Response:
        return Response("<!doctype html><html><body><p>Hi</p></body></html>")

    @app.after_request
    def csp(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = POLICY
        return response

    app.wsgi_app = ConsentWSGIMiddleware(app.wsgi_app, config=config)  # type: ignore[method-assign]
    body = app.test_client().get("/").data
    assert STYLESHEET.search(body)
    assert not INLINE_STYLE.search(body)


def _squeezed(name: str) -> str:
    return " ".join((DOCS / name).read_text(encoding="utf-8").split())


@pytest.mark.parametrize("name", ["banner.md", "faq.md"])
def test_the_docs_say_a_policy_added_outside_leaves_the_banner_unstyled(name: str) -> None:
    text = _squeezed(name)
    assert "add_header" in text and '@app.middleware("http")' in text
    assert re.search(r"banner (of an undecided visitor )?shows unstyled", text)
    assert re.search(r"have the app send the same", text)


@pytest.mark.parametrize(
    ("target", "suggested"),
    [
        ("app", "mounted_carriers:blog --root-path /blog --probe /"),
        ("site", "mounted_carriers:legacy --root-path /legacy --probe /"),
    ],
)
def test_check_config_on_an_app_that_mounts_the_carrier_names_it(
    target: str, suggested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check-config main:app` on the app a newcomer serves, which mounts the app that
    carries the middleware (docs/deploying.md's `app.mount("/blog", sub_app)`, or a Flask app
    behind a WSGI bridge): still a usage error, but one that names the mounted app and the
    command that checks it as mounted; that command then works."""
    assert main(["check-config", f"tests.fixtures.mounted_carriers:{target}"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"check-config tests.fixtures.{suggested}" in err, err
    assert main(["check-config", *f"tests.fixtures.{suggested}".split()]) == 1
    out = capsys.readouterr().out
    assert "could not be probed" not in out and "answers" not in out
    assert "_ga* -> analytics" in out


def test_check_config_reads_through_a_wsgi_bridge(capsys: pytest.CaptureFixture[str]) -> None:
    """A Flask app served by uvicorn through asgiref's `WsgiToAsgi`: the bridge keeps it as
    `.wsgi_application`, where check-config finds its middleware (it said none was found)."""
    assert main(["check-config", "tests.fixtures.mounted_carriers:bridged", "--probe", "/"]) == 1
    out = capsys.readouterr().out
    assert "_ga* -> analytics" in out
    assert "could not be probed" not in out


def test_a_mounted_app_without_a_name_is_named_by_its_prefix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check-config", "tests.fixtures.mounted_carriers:inline"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "mounts at /news carries one" in err, err
    assert "check-config MODULE:ATTR of that app --root-path /news --probe /" in err


def test_configuration_md_says_what_to_check_for_a_mounted_app() -> None:
    text = _squeezed("configuration.md")
    assert "mounts the app that carries the middleware" in text
    assert "check-config main:blog --root-path /blog --probe /" in text
