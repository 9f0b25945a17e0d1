"""`make bench`: what consent-middleware costs per request, in process and end to end, how soon
its banner is seen, and what it weighs.

    .venv/bin/python -m bench.run [--write docs/benchmarks.md] [--only inprocess,e2e,paint]

Five parts, in one run on one machine: in-process timing against peers (`bench/inprocess.py`),
real servers driven by wrk (`bench/e2e.py`), where the core's time goes on a page
(`bench/breakdown.py`), the banner's paint time in Chromium against vanilla-cookieconsent
(`bench/paint.py`), and the banner's size (`bench/sizes.py`). The report
states every number as measured and marks each target PASS or FAIL; the command exits 0
either way (a missed target is a finding, not a crash).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from . import breakdown, e2e, inprocess, paint, sizes
from .common import Target, busy_warning, load_average, machine_facts, target_table
from .load.report import BENCHMARKS_SECTION, replace_section
from .traffic import make_visitor

PARTS = ("inprocess", "e2e", "breakdown", "paint", "sizes")
PACKAGES = (
    "consent-middleware",
    "starlette",
    "flask",
    "itsdangerous",
    "uvicorn",
    "uvloop",
    "httptools",
    "gunicorn",
    "playwright",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--write", metavar="PATH", help="also write the Markdown report here")
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"comma-separated parts (default {','.join(PARTS)})"
    )
    parser.add_argument("--repeats", type=int, default=7, help="in-process samples (default 7)")
    parser.add_argument("--sample-ms", type=float, default=200.0, help="one sample (200 ms)")
    parser.add_argument("--profile", action="store_true", help="print cProfile of our cases")
    parser.add_argument("--e2e-seconds", type=float, default=5.0, help="one wrk sample (5 s)")
    parser.add_argument("--e2e-rounds", type=int, default=5, help="wrk samples per ASGI stack")
    parser.add_argument("--wsgi-rounds", type=int, default=3, help="wrk samples per WSGI stack")
    parser.add_argument("--paint-runs", type=int, default=15, help="Chromium visits per page")
    parser.add_argument("--no-npm", action="store_true", help="skip vanilla-cookieconsent")
    args = parser.parse_args(argv)
    parts = [p for p in args.only.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")

    started = datetime.now(timezone.utc)
    load_at_start = load_average()
    clock = time.perf_counter()
    visitor = make_visitor()
    targets: list[Target] = []
    sections: list[str] = []
    profile_text = None

    if "inprocess" in parts:
        try:
            result = inprocess.run(visitor, args.repeats, args.sample_ms, profile=args.profile)
        except FileNotFoundError as exc:  # ConsentMiddleware needs static/banner to start
            print(f"bench: cannot build the middlewares: {exc}", file=sys.stderr)
            return 1
        targets += inprocess.targets(result)
        sections += inprocess.render(result)
        profile_text = result.profile
    if "e2e" in parts:
        try:
            results, pinned = e2e.run(
                visitor,
                seconds=args.e2e_seconds,
                rounds=args.e2e_rounds,
                wsgi_rounds=args.wsgi_rounds,
            )
        except RuntimeError as exc:
            print(f"bench: end to end not measured: {exc}", file=sys.stderr)
            targets.append(Target("End to end under uvicorn", f"not measured: {exc}", "", None))
        else:
            targets += e2e.targets(results)
            sections += e2e.render(
                results, pinned, args.e2e_seconds, args.e2e_rounds, args.wsgi_rounds
            )
    if "breakdown" in parts:
        print("bench: the core's steps on the end-to-end page...", file=sys.stderr)
        sections += breakdown.render(breakdown.run(visitor))
    if "paint" in parts:
        painted: paint.Result | None = None
        uncompressed: paint.Result | None = None
        why = ""
        if args.no_npm:
            why = "--no-npm"
        else:
            try:
                painted = paint.run(args.paint_runs)
                uncompressed = paint.run(max(args.paint_runs // 2, 3), gzip=False)
            except Exception as exc:  # no npm, no Chromium: say so in the report
                why = f"{type(exc).__name__}: {exc}".splitlines()[0]
                print(f"bench: paint not measured: {why}", file=sys.stderr)
        targets += paint.targets(painted, why)
        sections += paint.render(painted, why, uncompressed)
    if "sizes" in parts:
        print("bench: banner sizes (npm pack vanilla-cookieconsent)...", file=sys.stderr)
        measured = sizes.run(visitor.config, use_npm=not args.no_npm)
        targets += sizes.targets(measured)
        sections += sizes.render(measured)

    report = render(targets, sections, parts, started, time.perf_counter() - clock, load_at_start)
    print(report)
    if profile_text:
        print(profile_text)
    if args.write:
        path = Path(args.write)
        if path.exists():  # the load section is make load's: keep its latest figures
            previous = path.read_text(encoding="utf-8")
            at = previous.find("\n" + BENCHMARKS_SECTION + "\n")
            if at >= 0:
                report = replace_section(report, previous[at + 1 :])
        path.write_text(report, encoding="utf-8")
        print(f"bench: wrote {args.write}", file=sys.stderr)
    return 0


def render(
    targets: Sequence[Target],
    sections: Sequence[str],
    parts: Sequence[str],
    started: datetime,
    seconds: float,
    load_at_start: float | None,
) -> str:
    partial = "" if list(parts) == list(PARTS) else f" --only {','.join(parts)}"
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`python -m bench.run`{partial}) on"
        f" {started:%Y-%m-%d %H:%M} UTC, in {seconds:.0f} s. Every number below comes from"
        " that one run on this one machine, peers included: run `make bench` to measure your"
        " own. Traffic is real traffic, not the best case: **fresh values** in the app's"
        " Set-Cookie headers on every response, real servers driven by wrk, a real browser.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {key} | {value} |" for key, value in machine_facts(PACKAGES)),
        (
            f"| Load average (1 min) at the start | {load_at_start:.2f} |"
            if load_at_start is not None
            else "| Load average at the start | unknown |"
        ),
        "",
        *busy_warning(load_at_start),
        "## Targets",
        "",
        *target_table(targets),
        "",
        *sections,
        "## How to reproduce",
        "",
        "```sh",
        "make install            # .venv, npm packages, Debian's Chromium",
        "bash scripts/ensure-wrk # Debian's wrk (apt-get install wrk)",
        "make bench              # everything, and writes this file",
        "```",
        "",
        "Each part alone (the report goes to standard output):",
        "",
        "```sh",
        ".venv/bin/python -m bench.run --only inprocess [--profile]  # in process, + cProfile",
        ".venv/bin/python -m bench.e2e [--seconds 5 --rounds 5]      # uvicorn and gunicorn + wrk",
        ".venv/bin/python -m bench.paint [--runs 15] [--no-gzip]     # Chromium, emulated link",
        ".venv/bin/python -m bench.run --only sizes                  # banner size",
        ".venv/bin/python -m bench.breakdown                         # the core's steps",
        "```",
        "",
        "One wrk sample by hand, as the benchmark takes it (server on CPU 0, wrk on CPU 1):",
        "",
        "```sh",
        "taskset -c 0 .venv/bin/uvicorn bench.apps:asgi_consent --workers 1 --no-access-log \\",
        "    --log-level warning --port 8001 &",
        "taskset -c 1 wrk -t2 -c32 -d5s --latency http://127.0.0.1:8001/   # undecided visitor",
        "```",
        "",
        "(`bench.apps:asgi_bare` is the same app without the middleware; add"
        " `-H 'Cookie: consent=...'` for a decided visitor: `make_visitor().cookie_header` in"
        " `bench/traffic.py` prints a valid one.) Numbers on a busy machine are noisy: run on"
        " an otherwise idle one, and compare ratios of the same run rather than absolute"
        " numbers across runs.",
        "",
        BENCHMARKS_SECTION,
        "",
        "The example sites under their real servers with many checking clients, key rotation"
        " and faults: `make load` writes its figures here, and the whole report in"
        " [load.md](load.md).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
