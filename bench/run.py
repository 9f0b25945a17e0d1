"""`make bench`: what consent-middleware costs per request, and what its banner weighs.

    .venv/bin/python -m bench.run [--write docs/benchmarks.md] [--profile]

Every application is called directly, without an HTTP server: ASGI apps are awaited in a loop
inside one asyncio event loop, WSGI apps are called and their bodies consumed. Each stack gets
the same request and the same app; the bare app's time is subtracted to give what a middleware
adds. The report states every number as measured and marks each target PASS or FAIL; the
command exits 0 either way (a missed target is a finding, not a crash).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import gzip
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from base64 import b64encode
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import itsdangerous
from starlette.middleware.sessions import SessionMiddleware

from consent_middleware import ConsentConfig, ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.consent import Consent, ConsentCodec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Runner = Callable[[int], int]  # runs n requests, returns the elapsed nanoseconds

REPO = Path(__file__).resolve().parent.parent

# -- targets (from the issue) ------------------------------------------------------------------

MAX_RATIO_TO_SESSION = 0.25
MAX_FAST_PATH_US = 3.0
MAX_BANNER_GZIP = 3072

# -- the request and the responses -----------------------------------------------------------

SECRET = "bench-secret-key-0123456789abcdef"
SESSION_SECRET = "bench-session-secret-0123456789"
POLICY_VERSION = "2024-02-24"
RULES = {"session": "authentication", "lang": "settings", "_ga*": "analytics", "_fbp": "marketing"}
#: The visitor's choice: settings and analytics yes, marketing no (authentication is required).
GRANTED = ("settings", "analytics")
SESSION_DATA = {"user_id": 4217, "csrf": "b1d6f0c2a9e8"}

APP_SET_COOKIES = (
    "session=eyJ1c2VyX2lkIjo0MjE3fQ.Zx3Kqw.d41d8cd98f00b204; Path=/; HttpOnly; Secure;"
    " SameSite=Lax",
    "lang=en; Path=/; Max-Age=31536000; SameSite=Lax",
    "_ga=GA1.1.1234567890.1700000000; Path=/; Max-Age=63072000; SameSite=Lax",
    "_fbp=fb.1.1700000000000.1234567890; Path=/; Max-Age=7776000; SameSite=Lax",
)
JSON_BODY = b'{"user":{"id":4217,"name":"Olena"},"items":[1,2,3],"ok":true}'
HTML_BODY = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Integrica</title></head>"
    b"<body><main>" + b"<p>Integrica makes integration simple.</p>" * 40 + b"</main></body></html>"
)
PATH = "/account"
BROWSER_HEADERS: tuple[tuple[str, str], ...] = (
    ("host", "www.example.com"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/126.0.0.0 Safari/537.36",
    ),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "en-US,en;q=0.9,uk;q=0.8"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("referer", "https://www.example.com/"),
    ("sec-fetch-site", "same-origin"),
)


@dataclass(frozen=True)
class Fixture:
    config: ConsentConfig
    consent_value: str
    #: The consent cookie and three others (a valid Starlette session, lang, _ga).
    cookie_header: str


def make_fixture() -> Fixture:
    config = ConsentConfig(secret_key=SECRET, cookies=RULES, policy_version=POLICY_VERSION)
    codec = ConsentCodec(config)
    consent_value = codec.encode(codec.decide(GRANTED))
    session = itsdangerous.TimestampSigner(SESSION_SECRET).sign(
        b64encode(json.dumps(SESSION_DATA).encode("utf-8"))
    )
    cookie = "; ".join(
        (
            f"session={session.decode('ascii')}",
            "lang=en",
            "_ga=GA1.1.1234567890.1700000000",
            f"{config.cookie_name}={consent_value}",
        )
    )
    return Fixture(config, consent_value, cookie)


@dataclass(frozen=True)
class Response:
    content_type: str
    set_cookies: tuple[str, ...]
    body: bytes

    def asgi_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return (
            (b"content-type", self.content_type.encode("latin-1")),
            *((b"set-cookie", value.encode("latin-1")) for value in self.set_cookies),
            (b"content-length", str(len(self.body)).encode("latin-1")),
        )

    def wsgi_headers(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Content-Type", self.content_type),
            *(("Set-Cookie", value) for value in self.set_cookies),
            ("Content-Length", str(len(self.body))),
        )


MAIN_RESPONSE = Response("application/json", APP_SET_COOKIES, JSON_BODY)
FAST_RESPONSE = Response("application/json", (), JSON_BODY)
PAGE_RESPONSE = Response("text/html; charset=utf-8", APP_SET_COOKIES, HTML_BODY)


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
        "wsgi.input": None,
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


# -- the apps and the reference middlewares --------------------------------------------------


def asgi_app(response: Response) -> ASGIApp:
    """A raw ASGI app answering `response`; a fresh header list per call (middlewares edit it)."""
    headers = response.asgi_headers()
    body = response.body

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
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
    headers = response.wsgi_headers()
    body = response.body

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", list(headers))
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
        receive, send, copy, clock = _receive, _send, dict, time.perf_counter_ns
        start = clock()
        for _ in range(n):
            await app(copy(scope), receive, send)
        return clock() - start

    def run(n: int) -> int:
        return loop.run_until_complete(drive(n))

    return run


def wsgi_runner(app: WSGIApp, environ: Environ) -> Runner:
    def run(n: int) -> int:
        start_response, clock = _start_response, time.perf_counter_ns
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


# -- probes: check each stack really does what it is measured doing ---------------------------


def probe_asgi(
    loop: asyncio.AbstractEventLoop,
    wrap: Callable[[ASGIApp], ASGIApp],
    response: Response,
    scope: dict[str, Any],
) -> tuple[dict[str, Any], list[bytes], bytes]:
    """One request through `wrap(app)`: the scope the app saw, Set-Cookie headers out, body."""
    seen: dict[str, Any] = {}
    inner = asgi_app(response)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope)
        await inner(scope, receive, send)

    messages: list[Message] = []

    async def send(message: Message) -> None:
        messages.append(message)

    loop.run_until_complete(wrap(app)(dict(scope), _receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    set_cookies = [value for name, value in start["headers"] if name.lower() == b"set-cookie"]
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return seen, set_cookies, body


def probe_wsgi(
    wrap: Callable[[WSGIApp], WSGIApp], response: Response, environ: Environ
) -> tuple[Environ, list[str]]:
    seen: Environ = {}
    inner = wsgi_app(response)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.update(environ)
        return inner(environ, start_response)

    out: list[tuple[str, str]] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        out.extend(headers)
        return _write

    body = wrap(app)(environ.copy(), start_response)
    b"".join(body)
    return seen, [value for name, value in out if name.lower() == "set-cookie"]


def cookie_names(values: Sequence[str | bytes]) -> str:
    names = []
    for value in values:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        names.append(text.split("=", 1)[0])
    return ", ".join(names) if names else "none"


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Case:
    group: str
    label: str
    run: Runner
    #: What left: the Set-Cookie names of the response (a check that the stack did its job).
    cookies_out: str = ""
    iterations: int = 0
    samples: list[float] = field(default_factory=list)  # ns per request, one per repeat

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples) / 1000

    @property
    def spread_us(self) -> tuple[float, float]:
        return min(self.samples) / 1000, max(self.samples) / 1000


def calibrate(case: Case, sample_ns: int) -> None:
    """Pick the iterations for a sample of about `sample_ns`; the runs also warm up."""
    n = 1
    elapsed = case.run(n)
    while elapsed < sample_ns // 20:
        n *= 10
        elapsed = case.run(n)
    case.iterations = max(1, round(n * sample_ns / max(elapsed, 1)))
    case.run(case.iterations)  # warm-up at full size


def measure(cases: Sequence[Case], repeats: int, sample_ms: float) -> None:
    """`repeats` rounds; each round takes one sample of every case, starting from a different one
    so slow drifts of the machine spread over all cases alike."""
    sample_ns = int(sample_ms * 1e6)
    for case in cases:
        calibrate(case, sample_ns)
    for round_ in range(repeats):
        start = round_ % len(cases)
        for case in [*cases[start:], *cases[:start]]:
            gc.collect()
            case.samples.append(case.run(case.iterations) / case.iterations)


def build_cases(fixture: Fixture, loop: asyncio.AbstractEventLoop) -> dict[str, Case]:
    config = fixture.config
    decided_scope = make_scope(fixture.cookie_header)
    decided_environ = make_environ(fixture.cookie_header)
    first_scope = make_scope(None)

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
    groups: list[tuple[str, Response, dict[str, Any], Environ | None, Sequence[str]]] = [
        (
            "main",
            MAIN_RESPONSE,
            decided_scope,
            decided_environ,
            ("bare", "noop", "session", "consent"),
        ),
        ("fast", FAST_RESPONSE, decided_scope, decided_environ, ("bare", "noop", "consent")),
        ("page", PAGE_RESPONSE, first_scope, None, ("bare", "noop", "consent")),
    ]
    cases: dict[str, Case] = {}
    for group, response, scope, environ, names in groups:
        for name in names:
            label, wrap = asgi_stacks[name]
            seen, out, body = probe_asgi(loop, wrap, response, scope)
            check_asgi(group, name, seen, out, body, response)
            runner = asgi_runner(loop, wrap(asgi_app(response)), scope)
            cases[f"asgi.{group}.{name}"] = Case(f"asgi.{group}", label, runner, cookie_names(out))
        if environ is None:
            continue
        for name in ("bare", "noop", "consent"):
            label, wsgi_wrap = wsgi_stacks[name]
            wseen, wout = probe_wsgi(wsgi_wrap, response, environ)
            check_wsgi(group, name, wseen, wout, response)
            runner = wsgi_runner(wsgi_wrap(wsgi_app(response)), environ)
            cases[f"wsgi.{group}.{name}"] = Case(f"wsgi.{group}", label, runner, cookie_names(wout))

    cached = ConsentCodec(config)
    uncached = ConsentCodec(
        ConsentConfig(secret_key=SECRET, cookies=RULES, policy_version=POLICY_VERSION, cache_size=0)
    )
    value = fixture.consent_value
    for codec in (cached, uncached):
        consent = codec.decode(value)
        if not consent.decided:
            raise RuntimeError("bench bug: the consent cookie does not verify")
    cases["codec.cached"] = Case(
        "codec", "decode, cached (default cache_size)", codec_runner(cached, value)
    )
    cases["codec.uncached"] = Case(
        "codec", "decode, uncached (cache_size=0)", codec_runner(uncached, value)
    )
    return cases


def codec_runner(codec: ConsentCodec, value: str) -> Runner:
    def run(n: int) -> int:
        decode, clock = codec.decode, time.perf_counter_ns
        start = clock()
        for _ in range(n):
            decode(value)
        return clock() - start

    return run


def check_asgi(
    group: str, name: str, seen: dict[str, Any], out: list[bytes], body: bytes, response: Response
) -> None:
    """Fail loudly when a stack is not doing the work it is measured for."""
    problems = []
    if name == "session" and seen.get("session") != SESSION_DATA:
        problems.append(
            f"SessionMiddleware did not accept the session cookie: {seen.get('session')}"
        )
    if name == "consent":
        consent = seen.get("consent_middleware.consent")
        expected = {"main": 3, "fast": 0, "page": 1}[group]
        if not isinstance(consent, Consent):
            problems.append("ConsentMiddleware did not put a Consent in the scope")
        elif group != "page" and not (consent.decided and consent.allows("analytics")):
            problems.append(f"the consent cookie did not read as decided: {consent}")
        if len(out) != expected:
            problems.append(f"expected {expected} Set-Cookie out, got {cookie_names(out)}")
        if group == "page" and len(body) <= len(response.body):
            problems.append("the banner was not injected into the first-visit page")
    elif len(out) != len(response.set_cookies):
        problems.append(f"{name} changed the Set-Cookie headers: {cookie_names(out)}")
    if problems:
        raise RuntimeError(f"bench bug in asgi.{group}.{name}: " + "; ".join(problems))


def check_wsgi(group: str, name: str, seen: Environ, out: list[str], response: Response) -> None:
    expected = len(response.set_cookies)
    if name == "consent":
        consent = seen.get("consent_middleware.consent")
        if not (isinstance(consent, Consent) and consent.decided):
            raise RuntimeError(f"bench bug in wsgi.{group}: the consent did not read as decided")
        expected = {"main": 3, "fast": 0}[group]
    if len(out) != expected:
        raise RuntimeError(f"bench bug in wsgi.{group}.{name}: Set-Cookie out {cookie_names(out)}")


# -- banner size -------------------------------------------------------------------------------


def gzip9(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


@dataclass
class Bundle:
    """A set of files (name -> bytes), or why it could not be measured."""

    name: str
    files: dict[str, bytes] | None
    source: str

    @property
    def gzip_total(self) -> int | None:
        if self.files is None:
            return None
        return sum(gzip9(data) for data in self.files.values())


def our_banner() -> Bundle:
    name = "consent-middleware (banner.js + banner.css)"
    try:
        from consent_middleware.assets import load_assets
    except ImportError:
        pass
    else:
        try:
            assets = load_assets()
            return Bundle(
                name,
                {key: assets[key].body for key in ("banner.js", "banner.css")},
                "`consent_middleware.assets.load_assets()`",
            )
        except (OSError, KeyError) as exc:
            reason = f"load_assets() failed: {exc}"
            return Bundle(name, None, f"not measured: {reason}")
    folder = REPO / "static" / "banner"
    files: dict[str, bytes] = {}
    for key in ("banner.js", "banner.css"):
        path = folder / key
        if not path.is_file():
            return Bundle(name, None, f"not measured: {path.relative_to(REPO)} does not exist yet")
        files[key] = path.read_bytes()
    return Bundle(name, files, "`static/banner/`")


def vanilla_cookieconsent(use_npm: bool) -> Bundle:
    """vanilla-cookieconsent's dist files, fetched with `npm pack` into a temporary directory."""
    name = "vanilla-cookieconsent (cookieconsent.umd.js + cookieconsent.css)"
    if not use_npm:
        return Bundle(name, None, "not measured: --no-npm")
    npm = shutil.which("npm")
    if npm is None:
        return Bundle(name, None, "not measured: npm is not installed")
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    with tempfile.TemporaryDirectory(prefix="bench-vcc-") as tmp:
        try:
            proc = subprocess.run(
                [
                    npm,
                    "pack",
                    "vanilla-cookieconsent",
                    "--pack-destination",
                    tmp,
                    "--loglevel=error",
                ],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=90,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Bundle(name, None, f"not measured: npm pack failed ({exc})")
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            lines = [
                line.removeprefix("npm error").strip()
                for line in (proc.stderr or proc.stdout).splitlines()
                if line.strip() and "complete log" not in line
            ]
            why = "; ".join(lines[:2]) if lines else f"exit status {proc.returncode}"
            return Bundle(name, None, f"not measured: npm pack failed ({why})")
        try:
            with tarfile.open(tarballs[0]) as tar:

                def read(member: str) -> bytes:
                    handle = tar.extractfile(f"package/{member}")
                    if handle is None:
                        raise KeyError(member)
                    return handle.read()

                version = json.loads(read("package.json")).get("version", "?")
                files = {
                    "cookieconsent.umd.js": read("dist/cookieconsent.umd.js"),
                    "cookieconsent.css": read("dist/cookieconsent.css"),
                }
        except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
            return Bundle(name, None, f"not measured: unexpected package contents ({exc})")
    return Bundle(name, files, f"`npm pack vanilla-cookieconsent` (version {version})")


def banner_snippet_size(config: ConsentConfig) -> tuple[int, int] | None:
    """The HTML injected into an undecided visitor's page (raw, gzip -9), for context."""
    try:
        core = ConsentMiddleware(asgi_app(FAST_RESPONSE), config=config).core
        snippet = core.renderer.snippet(core.policy.codec.undecided, "en").encode("utf-8")
    except Exception:
        return None
    return len(snippet), gzip9(snippet)


# -- profile -----------------------------------------------------------------------------------


def profile(cases: dict[str, Case], keys: Sequence[str], top: int) -> str:
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


# -- the report --------------------------------------------------------------------------------


def machine_facts() -> list[tuple[str, str]]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = str(os.cpu_count() or "unknown")
    if hasattr(os, "sched_getaffinity"):
        usable = len(os.sched_getaffinity(0))
        if str(usable) != cores:
            cores += f" ({usable} usable by this process)"
    versions = []
    for package in ("starlette", "itsdangerous", "consent-middleware"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    facts = [
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("CPU", cpu),
        ("Cores", cores),
        ("OS", platform.platform()),
        ("Packages", ", ".join(versions)),
    ]
    if hasattr(os, "getloadavg"):
        one, five, _ = os.getloadavg()
        facts.append(("Load average (1, 5 min) at the end", f"{one:.2f}, {five:.2f}"))
    return facts


def busy_warning() -> list[str]:
    """A warning when other processes competed for the CPU during the run."""
    if not hasattr(os, "getloadavg"):
        return []
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    if load < cores * 0.75:
        return []
    return [
        f"The machine was busy during this run (load average {load:.1f} on {cores} cores):"
        " expect noise, which the min – max columns show.",
        "",
    ]


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "NOT MEASURED"
    return "**PASS**" if ok else "**FAIL**"


def us(value: float) -> str:
    return f"{value:.2f} µs"


def time_table(cases: dict[str, Case], group: str) -> list[str]:
    bare = cases[f"{group}.bare"].median_us
    rows = [
        "| stack | per request (median) | min – max of samples | adds over bare app |"
        " Set-Cookie out |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for case in cases.values():
        if case.group != group:
            continue
        low, high = case.spread_us
        adds = "—" if case is cases[f"{group}.bare"] else f"+{case.median_us - bare:.2f} µs"
        rows.append(
            f"| {case.label} | {us(case.median_us)} | {low:.2f} – {high:.2f} µs | {adds}"
            f" | {case.cookies_out} |"
        )
    return rows


def render(
    cases: dict[str, Case],
    ours: Bundle,
    theirs: Bundle,
    snippet: tuple[int, int] | None,
    repeats: int,
    sample_ms: float,
    started: datetime,
    seconds: float,
) -> str:
    def adds(key: str) -> float:
        group = key.rsplit(".", 1)[0]
        return cases[key].median_us - cases[f"{group}.bare"].median_us

    consent_adds = adds("asgi.main.consent")
    session_adds = adds("asgi.main.session")
    ratio = consent_adds / session_adds if session_adds > 0 else None
    ratio_ok = None if ratio is None else ratio <= MAX_RATIO_TO_SESSION
    fast_gap = cases["asgi.fast.consent"].median_us - cases["asgi.fast.noop"].median_us
    wsgi_fast_gap = cases["wsgi.fast.consent"].median_us - cases["wsgi.fast.noop"].median_us
    our_gzip = ours.gzip_total
    cached = cases["codec.cached"].median_us
    uncached = cases["codec.uncached"].median_us

    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`python -m bench.run`) on"
        f" {started:%Y-%m-%d %H:%M} UTC, in {seconds:.0f} s. Every number below comes from"
        " that one run on this one machine: run `make bench` to measure your own.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {key} | {value} |" for key, value in machine_facts()),
        "",
        *busy_warning(),
        "## Targets",
        "",
        "| target | measured | limit | result |",
        "| --- | ---: | ---: | :---: |",
        "| ConsentMiddleware's added time ÷ SessionMiddleware's added time (same request, ASGI)"
        f" | {'n/a' if ratio is None else f'{ratio:.2f}'}"
        f" (+{consent_adds:.2f} µs ÷ +{session_adds:.2f} µs)"
        f" | ≤ {MAX_RATIO_TO_SESSION} | {verdict(ratio_ok)} |",
        "| Fast path (no Set-Cookie, decided visitor, JSON): ConsentMiddleware − do-nothing"
        f" middleware (ASGI) | {fast_gap:+.2f} µs | ≤ {MAX_FAST_PATH_US:g} µs"
        f" | {verdict(fast_gap <= MAX_FAST_PATH_US)} |",
        f"| Banner JS + CSS, gzip -9 | {'not measured' if our_gzip is None else f'{our_gzip} B'}"
        f" | ≤ {MAX_BANNER_GZIP} B"
        f" | {verdict(None if our_gzip is None else our_gzip <= MAX_BANNER_GZIP)} |",
        "",
        f"For reference, the same fast-path gap under WSGI: {wsgi_fast_gap:+.2f} µs.",
        "",
        "## Time per request",
        "",
        "Every stack gets the same request: `GET /account` over https with seven usual browser"
        " headers and a Cookie header holding a valid consent cookie (settings and analytics"
        " granted, marketing refused) and three other cookies: a valid signed Starlette session"
        " (`session`, so SessionMiddleware verifies an itsdangerous signature on every request),"
        " `lang` and `_ga`. ConsentMiddleware's verified-cookie cache is warm, as it is on a"
        " live site after a visitor's first request.",
        "",
        "### The app sets 4 cookies: session, lang, _ga, _fbp (JSON response)",
        "",
        "The visitor refused marketing, so the consent middlewares remove `_fbp`.",
        "",
        "ASGI:",
        "",
        *time_table(cases, "asgi.main"),
        "",
        "WSGI:",
        "",
        *time_table(cases, "wsgi.main"),
        "",
        "### Fast path: no Set-Cookie, decided visitor, JSON response (no banner)",
        "",
        "ASGI:",
        "",
        *time_table(cases, "asgi.fast"),
        "",
        "WSGI:",
        "",
        *time_table(cases, "wsgi.fast"),
        "",
        f"### First visit: no Cookie header, an HTML page ({len(HTML_BODY)} bytes) that sets"
        " the 4 cookies",
        "",
        "Undecided, so ConsentMiddleware keeps only `session` (authentication) and streams the"
        " banner into the page. For context only; no target.",
        "",
        *time_table(cases, "asgi.page"),
        "",
        "## Consent cookie verification",
        "",
        "`ConsentCodec.decode` of the same valid cookie value. The middleware keeps a bounded"
        " cache from cookie value to `Consent` (expiry still checked on every hit) so that a"
        " returning visitor costs a dict lookup instead of an HMAC-SHA256 and a parse.",
        "",
        "| | per decode (median) | min – max of samples |",
        "| --- | ---: | ---: |",
    ]
    for key in ("codec.cached", "codec.uncached"):
        case = cases[key]
        low, high = case.spread_us
        lines.append(f"| {case.label} | {us(case.median_us)} | {low:.2f} – {high:.2f} µs |")
    lines += [
        "",
        f"Uncached verification costs {uncached / cached:.0f}× a cache hit"
        f" (+{uncached - cached:.2f} µs per request).",
        "",
        "## Banner size",
        "",
        "Each file compressed on its own with gzip level 9, as a server sends them.",
        "",
        "| bundle | file | bytes | gzip -9 bytes |",
        "| --- | --- | ---: | ---: |",
    ]
    for bundle in (ours, theirs):
        if bundle.files is None:
            lines.append(f"| {bundle.name} | — | — | {bundle.source} |")
            continue
        for file, data in bundle.files.items():
            lines.append(f"| {bundle.name} | {file} | {len(data)} | {gzip9(data)} |")
        raw = sum(len(data) for data in bundle.files.values())
        lines.append(f"| {bundle.name} | **total** | {raw} | **{bundle.gzip_total}** |")
    lines += ["", f"Sources: ours from {ours.source}; vanilla-cookieconsent from {theirs.source}."]
    if our_gzip is not None and theirs.gzip_total:
        lines += [
            "",
            f"Ours is {our_gzip / theirs.gzip_total:.0%} of vanilla-cookieconsent's gzipped size.",
        ]
    if snippet is not None:
        lines += [
            "",
            f"Not counted above: the banner's HTML, which the middleware writes into the pages"
            f" of undecided visitors (vanilla-cookieconsent builds its DOM in JavaScript"
            f" instead): {snippet[0]} bytes, {snippet[1]} gzipped on its own (in a real page"
            " it compresses together with the rest of the HTML).",
        ]
    lines += [
        "",
        "## How it is measured",
        "",
        "- No HTTP server: ASGI stacks are awaited directly in a loop inside one asyncio event"
        " loop, with a prebuilt scope copied per request (`dict(scope)`; the copy costs the same"
        " for every stack), a receive that returns an empty body and a send that does nothing."
        " WSGI stacks are called with a copied environ and their bodies consumed and closed.",
        "- The app is the same function under every stack; it builds a fresh header list per"
        " response, since middlewares may edit it in place.",
        f"- Per case: calibrated so one sample is about {sample_ms:g} ms, warmed up at full"
        f" size, then {repeats} samples taken in rounds (every round visits every case,"
        ' starting from a different one). The median sample is reported; "adds" is the'
        " median minus the bare app's median in the same table. The garbage collector stays on"
        " and is run before each sample.",
        "- Before timing, one probe request through each stack checks that it does the work it"
        " is timed for (session accepted, consent decided, `_fbp` removed, banner injected).",
        "- Timer: `time.perf_counter_ns`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--write", metavar="PATH", help="also write the Markdown report here")
    parser.add_argument("--repeats", type=int, default=7, help="samples per case (default 7)")
    parser.add_argument(
        "--sample-ms", type=float, default=200.0, help="length of one sample (default 200 ms)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print cProfile of ConsentMiddleware's cases"
    )
    parser.add_argument("--no-npm", action="store_true", help="skip vanilla-cookieconsent")
    args = parser.parse_args(argv)

    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    fixture = make_fixture()
    loop = asyncio.new_event_loop()
    profile_text = None
    try:
        try:
            cases = build_cases(fixture, loop)
        except FileNotFoundError as exc:  # ConsentMiddleware needs static/banner to start
            print(f"bench: cannot build the middlewares: {exc}", file=sys.stderr)
            return 1
        print(
            f"bench: {len(cases)} cases × {args.repeats} samples of ~{args.sample_ms:g} ms...",
            file=sys.stderr,
        )
        measure(list(cases.values()), args.repeats, args.sample_ms)
        if args.profile:
            keys = ("asgi.main.consent", "asgi.fast.consent", "wsgi.main.consent")
            profile_text = profile(cases, keys, top=25)
    finally:
        loop.close()
    print("bench: banner sizes (npm pack vanilla-cookieconsent)...", file=sys.stderr)
    ours = our_banner()
    theirs = vanilla_cookieconsent(use_npm=not args.no_npm)
    snippet = banner_snippet_size(fixture.config)
    report = render(
        cases,
        ours,
        theirs,
        snippet,
        args.repeats,
        args.sample_ms,
        started,
        time.perf_counter() - clock,
    )
    print(report)
    if profile_text:
        print(profile_text)
    if args.write:
        Path(args.write).write_text(report, encoding="utf-8")
        print(f"bench: wrote {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
