"""End to end: real servers on loopback, driven by wrk, bare app against the same app under the
middleware in the same run.

    .venv/bin/python -m bench.e2e [--seconds 5] [--rounds 5]

The server (one worker) runs on CPU 0 and wrk on CPU 1 (`taskset`), so that the load generator
never takes the server's time. Both servers of a case are up at once; their samples are
interleaved (A B, B A, A B, ...) so that drifts of a shared machine reach both alike, and the
median of each stack's samples is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .apps import JSON_PATH, PAGE, PAGE_PATH, UNIQUE_PATH
from .common import REPO, Target, free_port, machine_facts, serving_process
from .traffic import Visitor, make_visitor

LUA = Path(__file__).resolve().parent / "wrk_report.lua"
MIN_PAGE_RATIO = 0.90
MIN_JSON_RATIO = 0.95
CONNECTIONS = 32
THREADS = 2


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    path: str
    decided: bool
    #: Set-Cookie names the middleware lets out, and whether the banner is in the page.
    kept: tuple[str, ...]
    banner: bool
    #: The target (None: shown for context, no target).
    minimum: float | None


SCENARIOS = (
    Scenario(
        "page-decided",
        "HTML page, 2 fresh Set-Cookie, decided visitor",
        PAGE_PATH,
        True,
        ("session", "_ga"),
        True,
        MIN_PAGE_RATIO,
    ),
    Scenario(
        "page-undecided",
        "HTML page, 2 fresh Set-Cookie, undecided visitor (banner injected, `_ga` removed)",
        PAGE_PATH,
        False,
        ("session",),
        True,
        MIN_PAGE_RATIO,
    ),
    Scenario(
        "unique-decided",
        "HTML page that differs on every response (a fresh CSRF token), 2 fresh Set-Cookie,"
        " decided visitor (for context: no target)",
        UNIQUE_PATH,
        True,
        ("session", "_ga"),
        True,
        None,
    ),
    Scenario(
        "json-decided",
        "JSON, no Set-Cookie, decided visitor (no page work)",
        JSON_PATH,
        True,
        (),
        False,
        MIN_JSON_RATIO,
    ),
)


@dataclass(frozen=True)
class Server:
    """How to start one server with one worker; `{app}` and `{port}` are filled in."""

    name: str
    command: tuple[str, ...]
    bare: str
    consent: str
    #: The same app under a do-nothing middleware, for reference (no target).
    noop: str | None = None


PY = sys.executable
SERVERS = {
    "asgi": Server(
        "uvicorn (Starlette app)",
        (
            PY,
            "-m",
            "uvicorn",
            "{app}",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ),
        "bench.apps:asgi_bare",
        "bench.apps:asgi_consent",
        "bench.apps:asgi_noop",
    ),
    "wsgi": Server(
        "gunicorn, sync worker (Flask app)",
        (
            PY,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--bind",
            "127.0.0.1:{port}",
            "--log-level",
            "warning",
            "{app}",
        ),
        "bench.apps:wsgi_bare",
        "bench.apps:wsgi_consent",
    ),
}


@dataclass
class Sample:
    rps: float
    p50_us: float
    p99_us: float
    errors: int
    #: The server's CPU time (user + system, its worker included) per request served.
    cpu_us: float = math.nan


@dataclass
class Measured:
    samples: list[Sample] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(s.rps for s in self.samples)

    @property
    def p50_ms(self) -> float:
        return statistics.median(s.p50_us for s in self.samples) / 1000

    @property
    def p99_ms(self) -> float:
        return statistics.median(s.p99_us for s in self.samples) / 1000

    @property
    def rps_range(self) -> tuple[float, float]:
        return min(s.rps for s in self.samples), max(s.rps for s in self.samples)

    @property
    def cpu_us(self) -> float:
        return statistics.median(s.cpu_us for s in self.samples)

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.samples)


@dataclass
class Result:
    kind: str  # "asgi" | "wsgi"
    scenario: Scenario
    bare: Measured
    consent: Measured
    noop: Measured | None = None

    @property
    def ratio(self) -> float:
        return self.consent.rps / self.bare.rps

    def ratio_of(self, measured: Measured) -> float:
        return measured.rps / self.bare.rps

    def cpu_ratio_of(self, measured: Measured) -> float:
        return self.bare.cpu_us / measured.cpu_us

    @property
    def cpu_ratio(self) -> float:
        """The requests/s ratio that the server's CPU time per request implies: what a
        saturated single worker reaches, whoever else shares the machine."""
        return self.bare.cpu_us / self.consent.cpu_us


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and of its children (gunicorn's worker)."""
    pids = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids += [int(child) for child in children.read_text().split()]
    ticks = 0
    for each in pids:
        try:
            stat = Path(f"/proc/{each}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def pinning() -> tuple[list[str], list[str], str]:
    """taskset prefixes for the server and for wrk, and a sentence saying what was done."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    taskset = shutil.which("taskset")
    if taskset is None or len(cpus) < 2:
        return [], [], "not pinned (needs `taskset` and 2 CPUs)"
    server, load = str(cpus[0]), str(cpus[1])
    return (
        [taskset, "-c", server],
        [taskset, "-c", load],
        f"server on CPU {server} (`taskset -c {server}`), wrk on CPU {load}",
    )


@contextmanager
def serving(
    command: Sequence[str], app: str, pin: list[str], log: Path
) -> Iterator[tuple[str, int]]:
    """One server process, up until the block ends; yields its base URL and its pid."""
    port = free_port()
    args = [*pin, *(part.format(app=app, port=port) for part in command)]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with serving_process(args, env, log, url + JSON_PATH, app) as process:
        yield url, process.pid


def cookie_header(visitor: Visitor, decided: bool) -> str | None:
    return visitor.cookie_header if decided else None


def probe(url: str, cookie: str | None) -> tuple[list[str], bytes]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.headers.get_all("Set-Cookie") or [], response.read()


def check(scenario: Scenario, url: str, cookie: str | None, consent: bool) -> None:
    """Fail loudly unless the stack does what it is timed doing, with fresh values."""
    (first, body), (second, _) = probe(url, cookie), probe(url, cookie)
    names = tuple(v.split("=", 1)[0] for v in first)
    expected = scenario.kept if consent else ("session", "_ga")
    if scenario.path == JSON_PATH and not consent:
        expected = ()
    problems = []
    if names != expected:
        problems.append(f"Set-Cookie {names}, expected {expected}")
    if first and [v.split(";")[0] for v in first] == [v.split(";")[0] for v in second]:
        problems.append("two responses sent the same cookie values")
    has_banner = b'id="consent-banner"' in body
    if consent and scenario.banner and scenario.decided is False and not has_banner:
        problems.append("no banner in the undecided visitor's page")
    if not consent and has_banner:
        problems.append("a banner in the bare app's page")
    if scenario.path in (PAGE_PATH, UNIQUE_PATH) and len(body) < len(PAGE):
        problems.append(f"a page of {len(body)} bytes")
    if problems:
        which = "consent" if consent else "bare"
        raise RuntimeError(f"bench bug in {scenario.key} ({which}): " + "; ".join(problems))


def wrk(
    url: str, cookie: str | None, seconds: float, pin: list[str], wrk_bin: str, pid: int
) -> Sample:
    args = [
        *pin,
        wrk_bin,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(LUA),
    ]
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    cpu = cpu_seconds(pid)
    proc = subprocess.run(
        [*args, url], capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    cpu = cpu_seconds(pid) - cpu
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH-JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    found = json.loads(line.removeprefix("BENCH-JSON "))
    errors = sum(found[k] for k in ("connect", "read", "write", "status", "timeout"))
    requests = found["requests"]
    return Sample(
        requests / (found["duration_us"] / 1e6),
        found["p50_us"],
        found["p99_us"],
        errors,
        cpu / requests * 1e6 if requests else math.nan,
    )


def run(
    visitor: Visitor,
    *,
    seconds: float = 5.0,
    rounds: int = 5,
    wsgi_rounds: int = 3,
    warmup: float = 2.0,
    kinds: Sequence[str] = ("asgi", "wsgi"),
) -> tuple[list[Result], str]:
    """Every scenario for each kind of server; returns the results and how they were pinned."""
    wrk_bin = os.environ.get("CONSENT_WRK") or shutil.which("wrk")
    if wrk_bin is None:
        raise RuntimeError("wrk is not installed: run scripts/ensure-wrk")
    server_pin, load_pin, pinned = pinning()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        for kind in kinds:
            server = SERVERS[kind]
            n = rounds if kind == "asgi" else wsgi_rounds
            apps = [("bare", server.bare), ("consent", server.consent)]
            if server.noop is not None:
                apps.append(("noop", server.noop))
            with ExitStack() as stack:
                servers = {
                    which: stack.enter_context(
                        serving(server.command, app, server_pin, Path(tmp) / f"{kind}-{which}.log")
                    )
                    for which, app in apps
                }
                for scenario in SCENARIOS:
                    cookie = cookie_header(visitor, scenario.decided)
                    for which, (url, _) in servers.items():
                        check(scenario, url + scenario.path, cookie, which == "consent")
                    print(
                        f"bench: e2e {kind} {scenario.key}:"
                        f" {n} rounds × {len(servers)} × {seconds:g} s...",
                        file=sys.stderr,
                    )
                    measured = {which: Measured() for which in servers}
                    for url, pid in servers.values():
                        wrk(url + scenario.path, cookie, warmup, load_pin, wrk_bin, pid)
                    stacks = list(servers)
                    for round_ in range(n):
                        # Each round in another order (A B C, C B A, B C A, ...): drifts of a
                        # shared machine reach every stack alike.
                        order = stacks[round_ % len(stacks) :] + stacks[: round_ % len(stacks)]
                        if round_ % 2:
                            order.reverse()
                        for which in order:
                            url, pid = servers[which]
                            sample = wrk(
                                url + scenario.path, cookie, seconds, load_pin, wrk_bin, pid
                            )
                            measured[which].samples.append(sample)
                    results.append(
                        Result(
                            kind,
                            scenario,
                            measured["bare"],
                            measured["consent"],
                            measured.get("noop"),
                        )
                    )
    return results, pinned


def targets(results: Sequence[Result]) -> list[Target]:
    return [
        Target(
            f"uvicorn, {r.scenario.title}: requests/s under ConsentMiddleware ÷ bare app",
            f"{r.ratio:.1%}",
            f"≥ {r.scenario.minimum:.0%}",
            r.ratio >= r.scenario.minimum,
        )
        for r in results
        if r.kind == "asgi" and r.scenario.minimum is not None
    ]


def render(
    results: Sequence[Result], pinned: str, seconds: float, rounds: int, wsgi_rounds: int
) -> list[str]:
    wrk_version = "wrk"
    try:
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        wrk_version = (out.stdout or out.stderr).splitlines()[0].split(" Copyright")[0]
    except (OSError, IndexError):
        pass
    lines = [
        "## End to end: real servers driven by wrk",
        "",
        f"Load generator: {wrk_version} (Debian's package), {THREADS} threads, {CONNECTIONS}"
        f" connections, keep-alive where the server allows it; {pinned}. Each sample is"
        f" {seconds:g} s of wrk after a warm-up; the bare app and the app under the middleware"
        " are both up and sampled in turns (A B, B A, ...); medians of the samples are shown,"
        " latency percentiles from wrk's own histogram.",
        "",
        "The apps (`bench/apps.py`): a Starlette app (ASGI) and a Flask app (WSGI), the way"
        f" real apps are written. `GET {PAGE_PATH}` is an HTML page of {len(PAGE)} bytes whose"
        " handler sets `session` and `_ga` with **fresh values** on every response (a new"
        f" session id and a new `_ga` value), its text encoded anew for each response as a"
        " template's would be; the page's bytes are the same every time, as a home page or a"
        " blog post's are, so the middleware finds the banner's place in its memo of pages"
        f" seen before (`page_memo.py`). `GET {UNIQUE_PATH}` is the same page with a form whose"
        " CSRF token is fresh on every response, so no two are alike and every one goes"
        " through the HTML tokenizer: shown for context, it has no target."
        f" `GET {JSON_PATH}` answers JSON and sets no cookie."
        " The bare app does exactly the same work. The decided visitor sends, with `-H"
        " 'Cookie: ...'`, a valid consent cookie (analytics granted, marketing refused) and"
        " three other cookies; the undecided visitor sends no cookie, so the middleware injects"
        " the banner and removes `_ga`. Before timing, two requests through each server check"
        " this (Set-Cookie out, banner, fresh values).",
        "",
        "The targets are on requests/s. The server's CPU time per request (user + system from"
        " `/proc`, its worker included, over each sample) is shown beside them: its ratio,"
        " bare ÷ ConsentMiddleware, is the requests/s ratio that a saturated single worker"
        " reaches, and it holds even when other processes take CPU time from the server"
        " (requests/s then drop for both stacks, unevenly).",
        "",
        "Under uvicorn, the same Starlette app also runs under a do-nothing pure ASGI"
        " middleware (`bench.apps:asgi_noop`: it wraps `send` and passes every message on),"
        " for reference: what any ASGI middleware costs before it does anything. It has no"
        " target; it shows how much of each target's budget is left for the work itself.",
        "",
    ]
    for kind, title, n in (
        ("asgi", "uvicorn, one worker, default loop and HTTP implementation", rounds),
        (
            "wsgi",
            "gunicorn, one sync worker (no keep-alive): for reference, no target",
            wsgi_rounds,
        ),
    ):
        chosen = [r for r in results if r.kind == kind]
        if not chosen:
            continue
        lines += [
            f"### {SERVERS[kind].name}: {title}",
            "",
            f"{n} samples per stack.",
            "",
            "| case | stack | requests/s | min – max | p50 | p99 | errors | ratio to bare"
            " | server CPU per request | CPU ratio |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in chosen:
            stacks = [("bare app", r.bare), ("ConsentMiddleware", r.consent)]
            if r.noop is not None:
                stacks.insert(1, ("do-nothing middleware (reference)", r.noop))
            for which, m in stacks:
                low, high = m.rps_range
                ratio = (
                    "—"
                    if m is r.bare
                    else f"**{r.ratio:.1%}**"
                    if m is r.consent
                    else f"{r.ratio_of(m):.1%}"
                )
                cpu_ratio = "—" if m is r.bare else f"{r.cpu_ratio_of(m):.1%}"
                lines.append(
                    f"| {r.scenario.title} | {which} | {m.rps:,.0f} | {low:,.0f} – {high:,.0f}"
                    f" | {m.p50_ms:.2f} ms | {m.p99_ms:.2f} ms | {m.errors} | {ratio}"
                    f" | {m.cpu_us:.0f} µs | {cpu_ratio} |"
                )
        lines.append("")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="one wrk sample (default 5)")
    parser.add_argument("--rounds", type=int, default=5, help="samples per ASGI stack (default 5)")
    parser.add_argument("--wsgi-rounds", type=int, default=3, help="per WSGI stack (default 3)")
    parser.add_argument("--only", choices=("asgi", "wsgi"), help="one kind of server only")
    args = parser.parse_args(argv)
    kinds = (args.only,) if args.only else ("asgi", "wsgi")
    results, pinned = run(
        make_visitor(),
        seconds=args.seconds,
        rounds=args.rounds,
        wsgi_rounds=args.wsgi_rounds,
        kinds=kinds,
    )
    print("\n".join(render(results, pinned, args.seconds, args.rounds, args.wsgi_rounds)))
    for target in targets(results):
        print(
            f"{target.name}: {target.measured} ({target.limit}) {'PASS' if target.ok else 'FAIL'}"
        )
    print(", ".join(f"{k} {v}" for k, v in machine_facts(("uvicorn", "gunicorn"))[-1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
