"""What ConsentMiddleware adds per request, timed in process against its peers.

Every application is called directly, without an HTTP server: ASGI apps are awaited in a loop
inside one asyncio event loop, WSGI apps are called and their bodies consumed. Each stack gets
the same request and the same app; the bare app's time is subtracted to give what a middleware
adds. The app builds its header list, and its Set-Cookie values, anew for every response.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.middleware.sessions import SessionMiddleware

from consent_middleware import ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.consent import Consent, ConsentCodec

from .common import Case, Runner, Target, measure, us
from .traffic import (
    BROWSER_HEADERS,
    HTML_BODY,
    JSON_BODY,
    PATH,
    SESSION_DATA,
    SESSION_SECRET,
    SetCookies,
    Visitor,
    fresh_set_cookies,
    make_config,
    no_set_cookies,
    same_set_cookies,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# -- targets (from issue 7) ----------------------------------------------------------------------

#: The CPU time of this thread: on a shared machine, a sample that other processes preempt is
#: not charged for their time (there is no I/O in process, so on an idle machine it equals
#: the wall-clock time).
CLOCK = time.thread_time_ns

MAX_RATIO_TO_SESSION = 0.25
MAX_FAST_PATH_US = 3.0

# -- requests -------------------------------------------------------------------------------------


def make_scope(cookie: str | None) -> dict[str, Any]:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in BROWSER_HEADERS]
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": PATH,
        "raw_path": PATH.encode("ascii"),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("203.0.113.7", 51234),
        "server": ("www.example.com", 443),
        "state": {},
    }


def make_environ(cookie: str | None) -> Environ:
    environ: Environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": "www.example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in BROWSER_HEADERS:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


# -- the apps and the reference middlewares -------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """What the app answers; `set_cookies` is called once per response."""

    content_type: str
    set_cookies: SetCookies
    body: bytes


def asgi_app(response: Response) -> ASGIApp:
    """A raw ASGI app answering `response`, with a new header list and new values per call."""
    content_type = response.content_type.encode("latin-1")
    length = str(len(response.body)).encode("latin-1")
    body, set_cookies = response.body, response.set_cookies

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type)]
        for value in set_cookies():
            headers.append((b"set-cookie", value.encode("latin-1")))
        headers.append((b"content-length", length))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


class PassThroughASGI:
    """A do-nothing pure ASGI middleware: wraps `send` and passes every message on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            await send(message)

        await self.app(scope, receive, send_wrapper)


def wsgi_app(response: Response) -> WSGIApp:
    content_type, length = response.content_type, str(len(response.body))
    body, set_cookies = response.body, response.set_cookies

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        headers = [("Content-Type", content_type)]
        for value in set_cookies():
            headers.append(("Set-Cookie", value))
        headers.append(("Content-Length", length))
        start_response("200 OK", headers)
        return [body]

    return app


class PassThroughWSGI:
    """A do-nothing WSGI middleware: wraps `start_response` and passes everything on."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def wrapped(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            return start_response(status, headers, exc_info)

        return self.app(environ, wrapped)


def flask_app(response: Response, *, sessions: bool) -> WSGIApp:
    """The same answer from a Flask view that reads the session. With `sessions`, Flask has a
    secret key and verifies the signed session cookie on every request (its own session
    handling: the WSGI peer of Starlette's SessionMiddleware); without, its session is the
    null one and costs nothing."""
    from flask import Flask, session

    app = Flask("bench")
    if sessions:
        app.secret_key = SESSION_SECRET
    set_cookies = response.set_cookies
    app.config["BENCH_USER"] = None

    @app.get(PATH)
    def account() -> Any:
        app.config["BENCH_USER"] = session.get("user_id")
        out = app.response_class(response.body, content_type=response.content_type)
        for value in set_cookies():
            out.headers.add("Set-Cookie", value)
        return out

    return app.wsgi_app


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


def _write(data: bytes) -> None:
    return None


def _start_response(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None
) -> Callable[[bytes], object]:
    return _write


def asgi_runner(loop: asyncio.AbstractEventLoop, app: ASGIApp, scope: dict[str, Any]) -> Runner:
    async def drive(n: int) -> int:
        receive, send, copy, clock = _receive, _send, dict, CLOCK
        start = clock()
        for _ in range(n):
            await app(copy(scope), receive, send)
        return clock() - start

    def run(n: int) -> int:
        return loop.run_until_complete(drive(n))

    return run


def wsgi_runner(app: WSGIApp, environ: Environ) -> Runner:
    def run(n: int) -> int:
        start_response, clock = _start_response, CLOCK
        start = clock()
        for _ in range(n):
            body = app(environ.copy(), start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return clock() - start

    return run


# -- probes: check each stack really does what it is measured doing --------------------------------


@dataclass
class Seen:
    """One probe request: what the app saw, the Set-Cookie values that left, the body."""

    request: Any
    set_cookies: list[str]
    body: bytes


def probe_asgi(
    loop: asyncio.AbstractEventLoop, wrap: Callable[[ASGIApp], ASGIApp], app: ASGIApp, scope: Scope
) -> list[Seen]:
    """Two requests through `wrap(app)`, with a spy between the middleware and the app."""
    seen: dict[str, Any] = {}

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        seen.clear()
        seen.update(scope)
        await app(scope, receive, send)

    stack = wrap(spy)
    out = []
    for _ in range(2):
        messages: list[Message] = []

        async def send(message: Message) -> None:
            messages.append(message)  # noqa: B023 (awaited within this iteration)

        loop.run_until_complete(stack(dict(scope), _receive, send))
        start = next(m for m in messages if m["type"] == "http.response.start")
        values = [v.decode("latin-1") for n, v in start["headers"] if n.lower() == b"set-cookie"]
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        out.append(Seen(dict(seen), values, body))
    return out


def probe_wsgi(wrap: Callable[[WSGIApp], WSGIApp], app: WSGIApp, environ: Environ) -> list[Seen]:
    seen: Environ = {}

    def spy(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.clear()
        seen.update(environ)
        return app(environ, start_response)

    stack = wrap(spy)
    result = []
    for _ in range(2):
        out: list[tuple[str, str]] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            out.extend(headers)  # noqa: B023 (called within this iteration)
            return _write

        body = b"".join(stack(environ.copy(), start_response))
        values = [v for n, v in out if n.lower() == "set-cookie"]
        result.append(Seen(dict(seen), values, body))
    return result


def cookie_names(values: Sequence[str]) -> str:
    names = [value.split("=", 1)[0] for value in values]
    return ", ".join(names) if names else "none"


def _values(values: Sequence[str]) -> list[str]:
    return [v.split(";", 1)[0] for v in values]


# -- the cases ------------------------------------------------------------------------------------

#: (group, traffic, the Set-Cookie names a consent stack lets out, first visit?)
GROUPS: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("fresh", "fresh", ("session", "lang", "_ga"), False),
    ("same", "same", ("session", "lang", "_ga"), False),
    ("fast", "none", (), False),
    ("page", "fresh", ("session",), True),
)
_TRAFFIC: dict[str, SetCookies] = {
    "fresh": fresh_set_cookies,
    "same": same_set_cookies,
    "none": no_set_cookies,
}


def build_cases(visitor: Visitor, loop: asyncio.AbstractEventLoop) -> dict[str, Case]:
    """Every case, each checked by a probe request (twice: values fresh or the same)."""
    config = visitor.config
    asgi_stacks: dict[str, tuple[str, Callable[[ASGIApp], ASGIApp]]] = {
        "bare": ("bare raw ASGI app", lambda app: app),
        "noop": ("do-nothing pure ASGI middleware", PassThroughASGI),
        "session": (
            "Starlette SessionMiddleware",
            lambda app: SessionMiddleware(app, secret_key=SESSION_SECRET),
        ),
        "consent": ("ConsentMiddleware", lambda app: ConsentMiddleware(app, config=config)),
    }
    wsgi_stacks: dict[str, tuple[str, Callable[[WSGIApp], WSGIApp]]] = {
        "bare": ("bare WSGI app", lambda app: app),
        "noop": ("do-nothing WSGI middleware", PassThroughWSGI),
        "consent": (
            "ConsentWSGIMiddleware",
            lambda app: ConsentWSGIMiddleware(app, config=config),
        ),
    }
    cases: dict[str, Case] = {}
    for group, traffic, kept, first_visit in GROUPS:
        is_page = group == "page"
        response = Response(
            "text/html; charset=utf-8" if is_page else "application/json",
            _TRAFFIC[traffic],
            HTML_BODY if is_page else JSON_BODY,
        )
        scope = make_scope(None if first_visit else visitor.cookie_header)
        environ = make_environ(None if first_visit else visitor.flask_cookie_header)
        for name, (label, wrap) in asgi_stacks.items():
            if name == "session" and group in ("fast", "page"):
                continue
            probes = probe_asgi(loop, wrap, asgi_app(response), scope)
            check(f"asgi.{group}.{name}", name, traffic, kept, first_visit, probes, response)
            cases[f"asgi.{group}.{name}"] = Case(
                f"asgi.{group}",
                label,
                asgi_runner(loop, wrap(asgi_app(response)), scope),
                cookie_names(probes[0].set_cookies),
            )
        for name, (label, wsgi_wrap) in wsgi_stacks.items():
            probes = probe_wsgi(wsgi_wrap, wsgi_app(response), environ)
            check(f"wsgi.{group}.{name}", name, traffic, kept, first_visit, probes, response)
            cases[f"wsgi.{group}.{name}"] = Case(
                f"wsgi.{group}",
                label,
                wsgi_runner(wsgi_wrap(wsgi_app(response)), environ),
                cookie_names(probes[0].set_cookies),
            )
        if group in ("fresh", "same"):
            for sessions, key, label in (
                (False, "bare", "Flask app, no secret key (null session)"),
                (True, "session", "the same Flask app with its signed cookie session"),
            ):
                flask = flask_app(response, sessions=sessions)
                probes = probe_wsgi(lambda app: app, flask, environ)
                check(f"flask.{group}.{key}", key, traffic, kept, False, probes, response)
                user = flask_user(flask)
                if user != (SESSION_DATA["user_id"] if sessions else None):
                    raise RuntimeError(f"bench bug in flask.{group}.{key}: session user {user}")
                cases[f"flask.{group}.{key}"] = Case(
                    f"flask.{group}",
                    label,
                    wsgi_runner(flask, environ),
                    cookie_names(probes[0].set_cookies),
                )

    cached = ConsentCodec(config)
    uncached = ConsentCodec(make_config(cache_size=0))
    for codec in (cached, uncached):
        if not codec.decode(visitor.consent_value).decided:
            raise RuntimeError("bench bug: the consent cookie does not verify")
    cases["codec.cached"] = Case(
        "codec", "decode, cached (default cache_size)", codec_runner(cached, visitor.consent_value)
    )
    cases["codec.uncached"] = Case(
        "codec", "decode, uncached (cache_size=0)", codec_runner(uncached, visitor.consent_value)
    )
    return cases


def flask_user(wsgi: WSGIApp) -> Any:
    return wsgi.__self__.config["BENCH_USER"]  # type: ignore[attr-defined]


def codec_runner(codec: ConsentCodec, value: str) -> Runner:
    def run(n: int) -> int:
        decode, clock = codec.decode, CLOCK
        start = clock()
        for _ in range(n):
            decode(value)
        return clock() - start

    return run


def check(
    key: str,
    stack: str,
    traffic: str,
    kept: tuple[str, ...],
    first_visit: bool,
    probes: list[Seen],
    response: Response,
) -> None:
    """Fail loudly when a stack is not doing the work it is measured for, or when the
    traffic is not what the case says (fresh values must differ between two responses)."""
    problems = []
    first, second = probes
    sent = [v.split("=", 1)[0] for v in response.set_cookies()]
    if stack == "consent":
        consent = first.request.get("consent_middleware.consent")
        if not isinstance(consent, Consent):
            problems.append("ConsentMiddleware did not put a Consent in the scope")
        elif not first_visit and not (consent.decided and consent.allows("analytics")):
            problems.append(f"the consent cookie did not read as decided: {consent}")
        if cookie_names(first.set_cookies) != cookie_names(kept):
            problems.append(f"expected Set-Cookie {kept}, got {cookie_names(first.set_cookies)}")
        if first_visit and b'id="consent-banner"' not in first.body:
            problems.append("the banner was not injected into the first-visit page")
    elif [v.split("=", 1)[0] for v in first.set_cookies] != sent:
        problems.append(f"{stack} changed the Set-Cookie headers: {first.set_cookies}")
    if (
        stack == "session"
        and key.startswith("asgi")
        and first.request.get("session") != (SESSION_DATA)
    ):
        problems.append("SessionMiddleware did not accept the session cookie")
    if first.set_cookies:
        fresh = _values(first.set_cookies) != _values(second.set_cookies)
        if fresh != (traffic == "fresh"):
            problems.append(f"traffic {traffic!r}, but two responses sent {second.set_cookies}")
    if problems:
        raise RuntimeError(f"bench bug in {key}: " + "; ".join(problems))


# -- running and reporting ------------------------------------------------------------------------


@dataclass
class Result:
    cases: dict[str, Case]
    repeats: int
    sample_ms: float
    profile: str | None = None

    def median(self, key: str) -> float:
        return self.cases[key].median_us

    def adds(self, key: str) -> float:
        return self.median(key) - self.median(key.rsplit(".", 1)[0] + ".bare")


def run(visitor: Visitor, repeats: int, sample_ms: float, *, profile: bool = False) -> Result:
    loop = asyncio.new_event_loop()
    try:
        cases = build_cases(visitor, loop)
        print(
            f"bench: in process, {len(cases)} cases × {repeats} samples of ~{sample_ms:g} ms...",
            file=sys.stderr,
        )
        measure(list(cases.values()), repeats, sample_ms)
        text = None
        if profile:
            keys = ("asgi.fresh.consent", "asgi.fast.consent", "wsgi.fresh.consent")
            text = profile_cases(cases, keys, top=25)
        return Result(cases, repeats, sample_ms, text)
    finally:
        loop.close()


def profile_cases(cases: dict[str, Case], keys: Sequence[str], top: int) -> str:
    out = []
    for key in keys:
        case = cases[key]
        n = case.iterations or 20000
        profiler = cProfile.Profile()
        profiler.runcall(case.run, n)
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.strip_dirs().sort_stats("tottime").print_stats(top)
        out.append(f"== cProfile of {key} ({case.label}), {n} requests, by own time ==")
        out.append(text.getvalue().strip())
    return "\n\n".join(out)


def targets(result: Result) -> list[Target]:
    out = []
    for group, values in (("fresh", "fresh values"), ("same", "the same values")):
        for adapter, peer, peer_name in (
            ("asgi", f"asgi.{group}.session", "SessionMiddleware"),
            ("wsgi", f"flask.{group}.session", "Flask's session"),
        ):
            ours, theirs = result.adds(f"{adapter}.{group}.consent"), result.adds(peer)
            ratio = ours / theirs if theirs > 0 else None
            out.append(
                Target(
                    f"{adapter.upper()}, 4 Set-Cookie with {values}: ConsentMiddleware's added"
                    f" time ÷ {peer_name}'s",
                    "n/a" if ratio is None else f"{ratio:.2f} (+{ours:.2f} µs ÷ +{theirs:.2f} µs)",
                    f"≤ {MAX_RATIO_TO_SESSION}",
                    None if ratio is None else ratio <= MAX_RATIO_TO_SESSION,
                )
            )
    for adapter in ("asgi", "wsgi"):
        gap = result.median(f"{adapter}.fast.consent") - result.median(f"{adapter}.fast.noop")
        out.append(
            Target(
                f"{adapter.upper()} fast path (decided visitor, no Set-Cookie):"
                " ConsentMiddleware − do-nothing middleware",
                f"{gap:+.2f} µs",
                f"≤ {MAX_FAST_PATH_US:g} µs",
                gap <= MAX_FAST_PATH_US,
            )
        )
    return out


def time_table(result: Result, group: str) -> list[str]:
    cases = result.cases
    bare = cases[f"{group}.bare"]
    rows = [
        "| stack | per request (median) | min – max of samples | adds over bare app |"
        " Set-Cookie out |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for case in cases.values():
        if case.group != group:
            continue
        low, high = case.spread_us
        adds = "—" if case is bare else f"+{case.median_us - bare.median_us:.2f} µs"
        rows.append(
            f"| {case.label} | {us(case.median_us)} | {low:.2f} – {high:.2f} µs | {adds}"
            f" | {case.cookies_out} |"
        )
    return rows


def render(result: Result) -> list[str]:
    """The in-process section of docs/benchmarks.md."""
    cached, uncached = result.median("codec.cached"), result.median("codec.uncached")
    lines = [
        "## Time per request, in process",
        "",
        "Every stack gets the same request: `GET /account` over https with seven usual browser"
        " headers and a Cookie header holding a valid consent cookie (settings and analytics"
        " granted, marketing refused) and three other cookies: a valid signed session"
        " (`session`: Starlette's for ASGI, Flask's for WSGI, so the session peers verify a"
        " signature on every request), `lang` and `_ga`. ConsentMiddleware's verified-cookie"
        " cache is warm, as it is on a live site after a visitor's first request.",
        "",
        "The app sets 4 cookies of mixed categories: `session` (authentication), `lang`"
        " (settings), `_ga` (analytics) and `_fbp` (marketing, refused: the consent stacks"
        " remove it). With **fresh values**, every response carries a new session id and new"
        " `_ga` and `_fbp` values (`lang` stays `en`), built by the app per response so that"
        " every stack pays the same; this is what real traffic looks like, and a cache keyed"
        " by whole Set-Cookie values would miss every time. With the same values, every"
        " response sends identical Set-Cookie headers: the best case.",
        "",
        "**The WSGI peer.** WSGI has no SessionMiddleware: Flask (the WSGI framework this"
        " project serves) verifies its signed cookie session itself, inside the app. Its added"
        " cost is the same Flask app (a view that reads the session and sets the 4 cookies)"
        " with a secret key, minus it without one (Flask's null session), on the same request."
        " Like SessionMiddleware here, Flask reads and verifies the session on every request"
        " and writes no session cookie back (the session is not modified). A tiny hand-written"
        " session middleware would be no peer, and Beaker is lazy (it costs nothing until the"
        " app touches the session) and little used today.",
        "",
    ]
    flask_adds, session_adds = result.adds("flask.fresh.session"), result.adds("asgi.fresh.session")
    wsgi_adds = result.adds("wsgi.fresh.consent")
    lines += [
        f"Flask's session handling costs {flask_adds / session_adds:.1f}× what"
        " SessionMiddleware does (it parses the Cookie header, derives its signing key and"
        " verifies an HMAC per request, and decodes tagged JSON), so the WSGI ratio is the"
        " easier one. Against SessionMiddleware's added time, ConsentWSGIMiddleware's (fresh"
        f" values) would be {wsgi_adds / session_adds:.2f}.",
        "",
    ]
    for group, title in (
        ("fresh", "4 Set-Cookie with fresh values on every response (JSON)"),
        ("same", "4 Set-Cookie with the same values on every response (JSON)"),
    ):
        lines += [
            f"### {title}",
            "",
            "ASGI:",
            "",
            *time_table(result, f"asgi.{group}"),
            "",
            "WSGI:",
            "",
            *time_table(result, f"wsgi.{group}"),
            "",
            "The WSGI peer (Flask's own session handling):",
            "",
            *time_table(result, f"flask.{group}"),
            "",
        ]
    lines += [
        "### Fast path: decided visitor, no Set-Cookie, JSON response (no page work)",
        "",
        "ASGI:",
        "",
        *time_table(result, "asgi.fast"),
        "",
        "WSGI:",
        "",
        *time_table(result, "wsgi.fast"),
        "",
        f"### First visit: no Cookie header, an HTML page ({len(HTML_BODY)} bytes) that sets"
        " the 4 cookies with fresh values",
        "",
        "Undecided, so ConsentMiddleware keeps only `session` (authentication) and streams the"
        " banner into the page. The page's bytes are the same on every response, so from its"
        " second one on the banner's place comes from the memo of pages (`page_memo.py`)"
        " instead of the HTML tokenizer; the end-to-end benchmark below also times a page"
        " that differs on every response. For context only; no target.",
        "",
        "ASGI:",
        "",
        *time_table(result, "asgi.page"),
        "",
        "WSGI:",
        "",
        *time_table(result, "wsgi.page"),
        "",
        "### Consent cookie verification",
        "",
        "`ConsentCodec.decode` of the same valid cookie value. The middleware keeps a bounded"
        " cache from cookie value to `Consent` (expiry still checked on every hit) so that a"
        " returning visitor costs a dict lookup instead of an HMAC-SHA256 and a parse.",
        "",
        "| | per decode (median) | min – max of samples |",
        "| --- | ---: | ---: |",
    ]
    for key in ("codec.cached", "codec.uncached"):
        case = result.cases[key]
        low, high = case.spread_us
        lines.append(f"| {case.label} | {us(case.median_us)} | {low:.2f} – {high:.2f} µs |")
    lines += [
        "",
        f"Uncached verification costs {uncached / cached:.0f}× a cache hit"
        f" (+{uncached - cached:.2f} µs per request).",
        "",
        "### How the in-process numbers are measured",
        "",
        "- No HTTP server: ASGI stacks are awaited directly in a loop inside one asyncio event"
        " loop, with a prebuilt scope copied per request (`dict(scope)`; the copy costs the same"
        " for every stack), a receive that returns an empty body and a send that does nothing."
        " WSGI stacks are called with a copied environ and their bodies consumed and closed.",
        "- The app is the same function under every stack; it builds a new header list and"
        " its Set-Cookie values per response (a middleware must not edit the app's list in"
        " place: ours hands on a new one).",
        f"- Per case: calibrated so one sample is about {result.sample_ms:g} ms, warmed up at"
        f" full size, then {result.repeats} samples taken in rounds (every round visits every"
        ' case, starting from a different one). The median sample is reported; "adds" is the'
        " median minus the bare app's median in the same table. The garbage collector stays on"
        " and is run before each sample.",
        "- Before timing, two probe requests through each stack check that it does the work it"
        " is timed for (session accepted, consent decided, `_fbp` removed, banner injected)"
        " and that fresh values really differ from one response to the next.",
        "- Timer: `time.thread_time_ns`, the CPU time of the benchmark's thread: a sample that"
        " other processes preempt is not charged for their time. Nothing in process waits"
        " for I/O, so on an idle machine this equals the wall-clock time.",
        "",
    ]
    return lines
