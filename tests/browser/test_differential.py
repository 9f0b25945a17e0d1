"""A differential test of the Set-Cookie judgement against real Chromium's cookie jar.

Every case of `tests.fixtures.differential.CASES` runs in Chromium through uvicorn, once
without the middleware (what Chromium does) and three times through it: for a visitor who
granted settings only, the same with a `_fbp` cookie already in the browser, and an
undecided visitor. Then no cookie that a refused rule names may be anywhere: in the jar
(`context.cookies()`, HttpOnly ones too), in `document.cookie`, or in the Cookie header
that Chromium sends next, or that the app gets, as `http.cookies`, Starlette, werkzeug
and Django read them. Granted cookies that Chromium keeps must be kept.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from http.cookies import CookieError, SimpleCookie
from typing import Any

import pytest
from django.http.cookie import parse_cookie as django_parse_cookie
from playwright.sync_api import Browser
from starlette.requests import cookie_parser
from werkzeug.http import parse_cookie

from consent_middleware.policy import ConsentPolicy

from ..fixtures.differential import CASES, MODES, config
from ..servers import Running, free_port, running, server_command

pytestmark = pytest.mark.browser

_codec = ConsentPolicy(config).codec
GRANTED = _codec.decide(["settings"])
CONSENT = _codec.encode(GRANTED)


def refused(name: str, mode: str) -> bool:
    """Whether the visitor of `mode` refused the category of a cookie named `name`."""
    rule = config.rules.match(name)
    if rule is None or rule.category in config.required_categories:
        return False
    return mode == "mwu" or not GRANTED.categories[rule.category]


def parsed_names(header: str) -> dict[str, list[str]]:
    """The cookie names that Python's readers find in a Cookie header."""
    jar = SimpleCookie()
    with contextlib.suppress(CookieError):
        jar.load(header)
    try:
        werkzeug = list(parse_cookie(header))
    except UnicodeDecodeError:  # werkzeug reads latin-1 as UTF-8: the app fails, no leak
        werkzeug = []
    as_utf8 = header.encode("latin-1", "replace").decode(errors="replace")
    return {
        "http.cookies": list(jar),
        "starlette": list(cookie_parser(header)),
        "werkzeug": werkzeug,
        # Django's WSGI request decodes the header as UTF-8 first (`get_str_from_wsgi`).
        "django (WSGI)": list(django_parse_cookie(as_utf8)),
    }


def jar_names(cookie: dict[str, Any]) -> list[str]:
    """A stored cookie's name, and for the nameless one its value as read back."""
    name = str(cookie["name"])
    if name:
        return [name]
    value = str(cookie["value"])
    return ["", value.split("=", 1)[0].strip()]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    port = free_port()
    log = tmp_path_factory.mktemp("differential") / "uvicorn.log"
    command = server_command("uvicorn", "tests.fixtures.differential:app", port)
    with running(command, port, log) as started:
        yield started


def run_mode(browser: Browser, port: int, mode: str) -> dict[int, dict[str, Any]]:
    """Every case in one context (one host each): what the jar, the page and the next
    request say."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    seed = []
    for index in range(len(CASES)):
        url = f"http://c{index}.{mode}.test:{port}/"
        if mode in ("mwr", "mwc"):
            seed.append({"name": config.cookie_name, "value": CONSENT, "url": url})
        if mode in ("bare", "mwc"):
            seed.append({"name": "_fbp", "value": "old", "url": url})
    if seed:
        context.add_cookies(seed)  # type: ignore[arg-type]
    page = context.new_page()
    out: dict[int, dict[str, Any]] = {}
    try:
        for index, case in enumerate(CASES):
            base = f"http://c{index}.{mode}.test:{port}"
            if case.plant or case.script:
                page.goto(base + "/plant")
                for assignment in case.script:
                    page.evaluate("s => { document.cookie = s; }", assignment)
            page.goto(base + "/")
            doc, echo = page.evaluate(
                "async () => [document.cookie, await (await fetch('/echo')).text()]"
            )
            out[index] = {"doc": doc, **json.loads(echo), "jar": []}
        for cookie in context.cookies():
            host = str(cookie["domain"]).lstrip(".")
            label = host.split(".", 1)[0]
            if label.startswith("c") and label[1:].isdigit() and cookie["name"] != "consent":
                out[int(label[1:])]["jar"].append(cookie)
    finally:
        context.close()
    return out


def leaks(result: dict[str, Any], mode: str) -> list[str]:
    found = []
    for cookie in result["jar"]:
        if any(refused(name, mode) for name in jar_names(cookie)):
            found.append(f"jar: {cookie['name']!r}={str(cookie['value'])[:30]!r}")
    for part in result["doc"].split(";"):
        name = part.split("=", 1)[0] if "=" in part else part
        if refused(name.strip(), mode):
            found.append(f"document.cookie: {part.strip()[:40]!r}")
    for where in ("raw", "seen"):
        for header in result[where]:
            for reader, names in parsed_names(header).items():
                found += [f"{where} ({reader}): {n!r}" for n in names if refused(n, mode)]
    return found


def test_no_refused_cookie_reaches_chromium_or_the_app(
    mapped_browser: Browser, server: Running
) -> None:
    results = {mode: run_mode(mapped_browser, server.port, mode) for mode in MODES}
    # The harness sees what it should: without the middleware, Chromium keeps `_fbp`.
    plain = CASES.index(next(c for c in CASES if c.id == "plain"))
    assert [c["value"] for c in results["bare"][plain]["jar"] if c["name"] == "_fbp"] == ["1"]
    failures = []
    for index, case in enumerate(CASES):
        for mode in MODES[1:]:
            found = leaks(results[mode][index], mode)
            if found:
                bare = [(c["name"], str(c["value"])[:20]) for c in results["bare"][index]["jar"]]
                failures.append(f"{case.id} [{mode}]: {found}; Chromium alone kept {bare}")
        names = {c["name"] for c in results["mwr"][index]["jar"]}
        failures += [f"{case.id} [mwr]: granted {n!r} removed" for n in case.kept if n not in names]
    assert not failures, "\n".join(failures)
