"""What every benchmark of `make bench` shares: the timing loop of the in-process cases, the
machine facts, and the way a number and its verdict are written in docs/benchmarks.md.
"""

from __future__ import annotations

import gc
import os
import platform
import socket
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

Runner = Callable[[int], int]  # runs n requests, returns the elapsed nanoseconds
#: How long a server the benchmarks start may take to answer its first request.
STARTUP_TIMEOUT = 30.0


@dataclass
class Case:
    """One stack under one kind of traffic, timed in process."""

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


@dataclass(frozen=True)
class Target:
    """One target of the issue and what this run measured for it."""

    name: str
    measured: str
    limit: str
    ok: bool | None  # None: not measured


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "NOT MEASURED"
    return "**PASS**" if ok else "**FAIL**"


def target_table(targets: Sequence[Target]) -> list[str]:
    rows = ["| target | measured | limit | result |", "| --- | ---: | ---: | :---: |"]
    rows += [f"| {t.name} | {t.measured} | {t.limit} | {verdict(t.ok)} |" for t in targets]
    return rows


def us(value: float) -> str:
    return f"{value:.2f} µs"


def machine_facts(packages: Sequence[str]) -> list[tuple[str, str]]:
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
    for package in packages:
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


def load_average() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def busy_warning(load_at_start: float | None) -> list[str]:
    """A warning when other processes competed for the CPU. Only the load before the run
    tells: during it, the benchmark itself keeps both cores busy (server and wrk)."""
    cores = os.cpu_count() or 1
    if load_at_start is None or load_at_start < cores * 0.5:
        return []
    return [
        f"The machine was busy when this run started (load average {load_at_start:.1f} on"
        f" {cores} cores): expect noise, which the min – max columns show.",
        "",
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving_process(
    args: Sequence[str], env: Mapping[str, str], log: Path, ready_url: str, label: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process (its output in `log`), up until the block ends: yielded once
    `ready_url` answers, so that no sample times a server still starting."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(args), cwd=REPO, env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{label} exited at startup: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(ready_url, timeout=2) as response:
                    response.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{label} did not answer within {STARTUP_TIMEOUT:g} s"
                    ) from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
