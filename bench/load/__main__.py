"""`make load`: python -m bench.load [--write docs/load.md] [--benchmarks docs/benchmarks.md]
[--quick] [--parts ...]

Part 1: each example site under its real servers (FastAPI under uvicorn with 2 workers and
under Hypercorn, Flask under gunicorn with 2 workers and under waitress), on SQLite and on
PostgreSQL, with mixed traffic from 16 checking clients and the keys rotated mid-run; then
throughput and latency from wrk, with and without the middleware. Part 2: faults.

Bounded: a fixed number of visitor journeys per run and a time cap for everything; loopback
only. Exits 1 on any leak, 5xx, lost or duplicated record, failed check or missed cap.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.records.pgserver import PostgresServer, PostgresUnavailable

from . import correctness, faults, report, throughput
from .stacks import REPO, STACKS, Server, Stack, stack
from .traffic import Load, Plan

T = TypeVar("T")
DESCRIPTION = "make load: the example sites under real servers, every response checked."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--write", type=Path, help="write the report here (docs/load.md)")
    parser.add_argument(
        "--benchmarks",
        type=Path,
        help="also put this run's figures in that file's load section (docs/benchmarks.md)",
    )
    parser.add_argument("--quick", action="store_true", help="a small run, to try the harness")
    parser.add_argument(
        "--parts",
        default="correctness,throughput,faults",
        help="which parts, comma-separated (default: all)",
    )
    parser.add_argument("--journeys", type=int, help="visitor journeys per load run (250)")
    parser.add_argument("--wrk-seconds", type=float, help="one wrk measurement (3 s)")
    parser.add_argument("--wrk-rounds", type=int, help="wrk measurements per figure (3)")
    parser.add_argument("--wrk-connections", type=int, default=32)
    parser.add_argument("--time-cap", type=float, default=570.0, help="seconds for everything")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (server logs)")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    journeys = args.journeys or (60 if args.quick else 300)
    wrk_seconds = args.wrk_seconds or (2.0 if args.quick else 3.0)
    wrk_rounds = args.wrk_rounds or (1 if args.quick else 3)
    if "throughput" in parts and not shutil.which("wrk"):
        print("wrk is missing: run scripts/ensure-wrk (Debian's wrk)", file=sys.stderr)
        return 2

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="consent-load-"))
    summary = report.Summary(
        journeys=journeys, wrk_seconds=wrk_seconds, wrk_rounds=wrk_rounds, command=_command(argv)
    )
    # Only the load before the run tells whether others compete: during it, the run itself
    # keeps both cores busy.
    summary.load_at_start = os.getloadavg()[0]
    steps = Steps(summary, started + args.time_cap)
    pg: PostgresServer | None = None
    try:
        try:
            pg = PostgresServer().init()
            pg.start()
        except PostgresUnavailable as exc:
            print(f"PostgreSQL: {exc}", file=sys.stderr)
            return 2
        stores = Stores(pg, work)
        if "correctness" in parts:
            part_one(summary, steps, stores, work, journeys, args.seed)
        if "throughput" in parts:
            print("Part 1: throughput under wrk, with and without the middleware", flush=True)
            for st in STACKS:
                measured = steps.run(
                    f"wrk on {st.name}",
                    throughput.measure,
                    st,
                    work / f"wrk-{st.server}",
                    seconds=wrk_seconds,
                    rounds=wrk_rounds,
                    connections=args.wrk_connections,
                    threads=2,
                )
                summary.throughput.extend(measured or [])
        if "faults" in parts:
            print("Part 2: faults", flush=True)
            part_two(summary, steps, stores, work, quick=args.quick, seed=args.seed)
    finally:
        if pg is not None:
            with contextlib.suppress(PostgresUnavailable):
                pg.stop()
            pg.remove()
    summary.seconds = time.monotonic() - started
    summary.load_average = os.getloadavg()
    print(report.console(summary))
    if args.write:
        path = args.write if args.write.is_absolute() else REPO / args.write
        path.write_text(report.markdown(summary))
        print(f"wrote {args.write}")
    if args.benchmarks:
        path = args.benchmarks if args.benchmarks.is_absolute() else REPO / args.benchmarks
        document = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
        path.write_text(report.replace_section(document, report.benchmarks_section(summary)))
        print(f"wrote the load section of {args.benchmarks}")
    if args.keep:
        print(f"work folder (server logs): {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if summary.passed else 1


class Steps:
    """Runs each step unless the time cap has passed (then it is noted as skipped)."""

    def __init__(self, summary: report.Summary, deadline: float) -> None:
        self.summary = summary
        self.deadline = deadline

    @property
    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, what: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        if self.remaining <= 0:
            self.summary.skipped.append(what)
            print(f"  skipped (time cap): {what}", flush=True)
            return None
        started = time.monotonic()
        value = call(*args, **kwargs)
        print(f"  {what}: {time.monotonic() - started:.1f} s", flush=True)
        return value

    def faults(self, what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        found = self.run(what, call, *args, **kwargs)
        if isinstance(found, tuple):
            found = found[0]
        results = [found] if isinstance(found, faults.FaultResult) else list(found or [])
        self.summary.faults.extend(results)
        for result in results:
            print(f"    [{result.status}] {result.where}: {result.fault}", flush=True)


class Stores:
    """A fresh record store per run: an SQLite file in the run's folder, or a database on
    the one PostgreSQL server of the whole load."""

    def __init__(self, pg: PostgresServer, work: Path) -> None:
        self.pg = pg
        self.work = work
        self._databases = 0

    def url(self, store: str, folder: Path) -> str:
        if store == "SQLite":
            (folder / "records").mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{folder}/records/records.db"
        self._databases += 1
        return self.pg.create_database(f"load_{self._databases}")


def part_one(
    summary: report.Summary, steps: Steps, stores: Stores, work: Path, journeys: int, seed: int
) -> None:
    print("Part 1: checked load under real servers", flush=True)
    summary.self_check = steps.run(
        "the checks against the site without the middleware", self_check, work / "self", seed
    )
    for n, st in enumerate(STACKS):
        for store in ("SQLite", "PostgreSQL"):
            folder = work / f"load-{st.server}-{store.lower()}"
            run = steps.run(
                f"{st.name} on {store}",
                correctness.run,
                st,
                store,
                stores.url(store, folder),
                folder,
                journeys=journeys,
                processes=4,
                threads=4,
                seed=seed + n,
                time_cap=min(120.0, max(steps.remaining - 30, 30)),
            )
            if run is not None:
                summary.runs.append(run)
                print("    " + report.run_line(run), flush=True)


def part_two(
    summary: report.Summary, steps: Steps, stores: Stores, work: Path, *, quick: bool, seed: int
) -> None:
    for st in STACKS:
        steps.faults(
            f"app faults under {st.name}", faults.app_faults, st, work / f"app-{st.server}"
        )
    for st in (stack("uvicorn"), stack("gunicorn")):
        for kind in ("read", "plan", "filter"):
            folder = work / f"break-{st.server}-{kind}"
            steps.faults(
                f"broken {kind} under {st.name}", faults.broken_logic, st, kind, folder, requests=30
            )
    kills: list[tuple[Stack, str]] = [
        (stack("uvicorn"), "SQLite"),
        (stack("gunicorn"), "PostgreSQL"),
    ]
    if not quick:
        kills += [(stack("uvicorn"), "PostgreSQL"), (stack("gunicorn"), "SQLite")]
    for n, (st, store) in enumerate(kills):
        folder = work / f"kill-{st.server}-{store.lower()}"
        steps.faults(
            f"workers killed under {st.name} on {store}",
            faults.worker_kills,
            st,
            store,
            stores.url(store, folder),
            folder,
            journeys=60 if quick else 150,
            kills=3,
            seed=seed + n,
        )
    for st in (stack("uvicorn"), stack("waitress")):
        folder = work / f"outage-{st.server}"
        url = stores.url("SQLite", folder)
        away, back = faults.sqlite_outage(folder / "records")
        steps.faults(
            f"SQLite away and back under {st.name}",
            faults.store_outage,
            st,
            "SQLite",
            url,
            folder,
            take_away=away,
            bring_back=back,
            choices=6,
        )
    for st in (stack("hypercorn"), stack("gunicorn")):
        folder = work / f"outage-pg-{st.server}"
        steps.faults(
            f"PostgreSQL stopped and started under {st.name}",
            faults.store_outage,
            st,
            "PostgreSQL",
            stores.url("PostgreSQL", folder),
            folder,
            take_away=stores.pg.stop,
            bring_back=stores.pg.start,
            choices=4,
        )
    folder = work / "rotation"
    steps.faults(
        "keys rotated under uvicorn",
        faults.rotation,
        stack("uvicorn"),
        stores.url("SQLite", folder),
        folder,
    )


def self_check(work: Path, seed: int) -> report.SelfCheck:
    """The same clients against the site without the middleware must find leaks: proof
    that the checks can fail."""
    env = correctness.site_env(f"sqlite:///{work}/records.db", work)
    server = Server(stack("waitress"), "bare", env, work)
    try:
        server.start()
        load = Load(Plan(server.port, 30, 2, 2, seed, time.time() + 60))
        load.start()
        results = load.finish(timeout=90)
    finally:
        server.close()
    return report.SelfCheck(results.total_requests, results.leaks, len(results.failures))


def _command(argv: list[str] | None) -> str:
    shown = sys.argv[1:] if argv is None else argv
    return " ".join(["python -m bench.load", *shown])


if __name__ == "__main__":
    sys.exit(main())
