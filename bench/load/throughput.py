"""Throughput and latency under wrk (Debian's package: a load generator that is not ours),
with and without the middleware in the same run.

Both variants of a stack serve at once, each on its own socket (the idle one costs nothing),
and wrk takes turns between them, round after round, for each kind of visitor, so that a
machine that gets busier during the run weighs on both alike. Figures come from
`wrk --latency` as printed; each is the median of the rounds.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .correctness import site_env
from .model import CONSENT_COOKIE, Signer
from .stacks import Server, Stack

WRK = shutil.which("wrk") or "wrk"


@dataclass(frozen=True)
class Visit:
    name: str
    path: str
    headers: tuple[tuple[str, str], ...]


def visits() -> tuple[Visit, ...]:
    value, _ = Signer().signed(["settings"])
    returning = f"{CONSENT_COOKIE}={value}; _ga=GA1.1.5.5; _fbp=fb.1.5.5; theme=dark"
    common = (("Accept-Language", "en"), ("Accept", "text/html"))
    return (
        Visit("first visit (no cookies)", "/", common),
        Visit(
            "returning visitor (settings granted; carries _ga, _fbp)",
            "/",
            (*common, ("Cookie", returning)),
        ),
    )


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    output: str


@dataclass
class Measurement:
    stack: str
    visit: str
    variant: str  # "with" or "without"
    #: One wrk run per round, in the order taken.
    rounds: list[WrkResult]

    @property
    def result(self) -> WrkResult:
        """The median of the rounds, figure by figure; counts summed."""
        rounds = self.rounds
        return WrkResult(
            requests_per_second=statistics.median(r.requests_per_second for r in rounds),
            p50_ms=statistics.median(r.p50_ms for r in rounds),
            p99_ms=statistics.median(r.p99_ms for r in rounds),
            requests=sum(r.requests for r in rounds),
            non_2xx=sum(r.non_2xx for r in rounds),
            socket_errors=sum(r.socket_errors for r in rounds),
            output="\n".join(r.output for r in rounds),
        )

    @property
    def spread(self) -> tuple[float, float]:
        """The lowest and highest requests per second of the rounds."""
        rates = [r.requests_per_second for r in self.rounds]
        return min(rates), max(rates)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    number, unit = float(match.group(1)), match.group(2)
    return number * (60000.0 if unit == "m" else _UNITS[unit])


def parse_wrk(output: str) -> WrkResult:
    """The figures of `wrk --latency`'s report."""

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output)
        if match is None:
            raise ValueError(f"wrk printed no {pattern!r}:\n{output}")
        return match

    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests_per_second=float(find(r"Requests/sec:\s+([0-9.]+)").group(1)),
        p50_ms=_ms(find(r"\n\s+50%\s+(\S+)").group(1)),
        p99_ms=_ms(find(r"\n\s+99%\s+(\S+)").group(1)),
        requests=int(find(r"(\d+) requests in").group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        output=output,
    )


def wrk(url: str, visit: Visit, seconds: float, connections: int, threads: int) -> WrkResult:
    command = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    for name, value in visit.headers:
        command += ["-H", f"{name}: {value}"]
    command.append(url + visit.path)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return parse_wrk(done.stdout)


def measure(
    stack: Stack,
    work: Path,
    *,
    seconds: float,
    rounds: int,
    connections: int,
    threads: int,
    warmup: float = 1.0,
) -> list[Measurement]:
    """For each visit, `rounds` wrk runs per variant, the variants taking turns."""
    work.mkdir(parents=True, exist_ok=True)
    env = site_env(f"sqlite:///{work}/records.db", work)
    servers = {
        "with": Server(stack, "site", env, work / "logs"),
        "without": Server(stack, "bare", env, work / "logs"),
    }
    measurements: list[Measurement] = []
    try:
        for server in servers.values():
            server.start()
        for visit in visits():
            taken = {
                variant: Measurement(stack.name, visit.name, variant, []) for variant in servers
            }
            if warmup:
                for server in servers.values():
                    wrk(server.url, visit, warmup, connections, threads)
            for _ in range(rounds):
                for variant, server in servers.items():
                    result = wrk(server.url, visit, seconds, connections, threads)
                    taken[variant].rounds.append(result)
            measurements.extend(taken.values())
    finally:
        for server in servers.values():
            server.close()
    return measurements
