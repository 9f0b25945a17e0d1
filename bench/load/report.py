"""The summary of `make load`: on the console, and as docs/load.md."""

from __future__ import annotations

import os
import platform
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata

from .correctness import ROTATE_AT, RunReport
from .faults import KNOWN_BUGS, FaultResult
from .throughput import Measurement

SPLIT = "retries split by the key rotation (known bug)"


@dataclass
class SelfCheck:
    requests: int
    leaks: int
    failures: int

    @property
    def ok(self) -> bool:
        return self.leaks > 0


@dataclass
class Summary:
    journeys: int
    wrk_seconds: float
    wrk_rounds: int
    command: str
    runs: list[RunReport] = field(default_factory=list)
    throughput: list[Measurement] = field(default_factory=list)
    faults: list[FaultResult] = field(default_factory=list)
    self_check: SelfCheck | None = None
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_at_start: float = 0.0

    def total(self, what: str) -> int:
        return sum(int(getattr(run.results, what)) for run in self.runs)

    def checks(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for run in self.runs:
            found.update(run.results.checks)
        return found

    def reasons(self) -> list[str]:
        out = []
        if self.total("leaks"):
            out.append(f"{self.total('leaks')} leaks")
        if self.total("server_errors"):
            out.append(f"{self.total('server_errors')} responses >= 500")
        lost = sum(len(run.records.missing) for run in self.runs)
        extra = sum(len(run.records.extra) for run in self.runs)
        if lost:
            out.append(f"{lost} choices answered but not stored")
        if extra:
            out.append(f"{extra} records stored twice or never answered")
        for run in self.runs:
            if not run.ok:
                out.append(f"the load run {run.stack} on {run.store} failed checks")
        if self.self_check is not None and not self.self_check.ok:
            out.append("the checks found no leak on the site without the middleware")
        for result in self.faults:
            if not result.ok:
                out.append(f"fault check failed: {result.where}: {result.fault}")
        for m in self.throughput:
            if m.result.non_2xx:
                out.append(f"wrk: {m.result.non_2xx} non-2xx answers from {m.stack} ({m.variant})")
        if self.skipped:
            out.append(f"time cap reached, skipped: {', '.join(self.skipped)}")
        return out

    @property
    def passed(self) -> bool:
        return not self.reasons()

    def known_bugs(self) -> dict[str, list[str]]:
        seen: dict[str, list[str]] = {}
        for result in self.faults:
            if result.known_bug:
                seen.setdefault(result.known_bug, []).append(f"{result.where}: {result.fault}")
        split = self.checks()[SPLIT]
        if split:
            seen.setdefault("rotation-retry", []).append(
                f"{split} retried choices in the load runs got a second record across the"
                " rotation (both answers seen by the client, so both expected)"
            )
        strays = sum(run.records.strays for run in self.runs)
        if strays:
            seen.setdefault("rotation-retry", []).append(
                f"{strays} first choices in the load runs, sent again after the restart"
                " closed their connection, left a record under the old key's id besides"
                " the one answered (recognised by that id, so not counted as duplicated)"
            )
        return seen

    def gone_bugs(self) -> set[str]:
        gone = {r.bug_gone for r in self.faults if r.bug_gone}
        return {bug for bug in gone if bug not in self.known_bugs()}


def run_line(run: RunReport) -> str:
    r = run.results
    failed = sum(n for k, n in r.checks.items() if k.startswith("failed"))
    return (
        f"{'ok  ' if run.ok else 'FAIL'} {r.total_requests} requests, {r.leaks} leaks,"
        f" {r.server_errors} 5xx, {failed} failed checks; records {run.records.expected}"
        f" answered / {run.records.found} stored,"
        f" verify {'ok' if run.records.verify_ok else 'FAIL'}"
        + (f"; {run.records.strays} stray (known bug)" if run.records.strays else "")
        + ("" if run.ok else f"; {_why(run)}")
    )


def _why(run: RunReport) -> str:
    records = run.records
    found = run.results.failures + run.results.crashed + run.log_problems
    if records.missing:
        found.append(f"answered, not stored: {records.missing[:3]}")
    if records.extra:
        found.append(f"stored, not answered (or twice): {records.extra[:3]}")
    if not records.verify_ok:
        found.append(records.verify_output)
    return "; ".join(str(item) for item in found[:4])


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _store_totals(summary: Summary) -> list[tuple[str, int, int]]:
    out = []
    for store in ("SQLite", "PostgreSQL"):
        runs = [run for run in summary.runs if run.store == store]
        if runs:
            expected = sum(run.records.expected for run in runs)
            out.append((store, expected, sum(run.records.found for run in runs)))
    return out


def _throughput_rows(summary: Summary) -> list[tuple[str, str, Measurement, Measurement]]:
    rows = []
    keyed = {(m.stack, m.visit, m.variant): m for m in summary.throughput}
    for m in summary.throughput:
        if m.variant == "with":
            without = keyed.get((m.stack, m.visit, "without"))
            if without is not None:
                rows.append((m.stack, m.visit, m, without))
    return rows


def _busy(summary: Summary) -> str:
    cores = os.cpu_count() or 1
    load = summary.load_at_start
    note = (
        f"load average {load:.1f} on {cores} cores at the start"
        f" and {summary.load_average[0]:.1f} at the end"
    )
    if load > cores * 0.5:
        note += ": the machine was busy, so these figures are preliminary and noisy"
    return note


def console(summary: Summary) -> str:
    lines = ["", "== make load: summary ==", ""]
    if summary.runs:
        lines.append(
            f"Part 1, checked load: {summary.journeys} visitor journeys per run, 16 clients,"
            f" keys rotated after {ROTATE_AT:.0%} of the journeys"
        )
        width = max(len(run.stack) for run in summary.runs) + 2
        for run in summary.runs:
            lines.append(f"  {run.stack:{width}} {run.store:11} {run_line(run)}")
        lines.append(
            f"  requests checked {_n(summary.total('total_requests'))}, leaks"
            f" {summary.total('leaks')}, 5xx {summary.total('server_errors')}, sent again"
            f" after a closed connection {summary.total('reconnects')}"
        )
        lost = sum(len(run.records.missing) for run in summary.runs)
        extra = sum(len(run.records.extra) for run in summary.runs)
        stores = ", ".join(f"{s} {_n(e)}/{_n(f)}" for s, e, f in _store_totals(summary))
        lines.append(
            f"  records answered/stored: {stores}; lost {lost}, duplicated {extra},"
            f" verify {'ok' if all(r.records.verify_ok for r in summary.runs) else 'FAIL'}"
        )
        checks = summary.checks()
        lines.append(
            f"  retried choices {checks['retried choices']} (one record each);"
            f" after the rotation: {checks['old-key cookies honoured after the rotation']}"
            " page views with old-key cookies honoured,"
            f" {checks['choices signed by the new key after the rotation']} choices signed by"
            " the new key"
        )
    if summary.self_check is not None:
        check = summary.self_check
        lines.append(
            f"  the same checks against the site without the middleware: {check.leaks} leaks"
            f" in {check.requests} requests ({'they can fail: ok' if check.ok else 'FAIL'})"
        )
    if summary.throughput:
        lines += [
            "",
            f"Part 1, throughput: wrk -t2 -c32 -d{summary.wrk_seconds:g}s --latency, median of"
            f" {summary.wrk_rounds} rounds ({_busy(summary)})",
            f"  {'stack':30} {'visitor':18} {'with the middleware':>28}   {'without':>28}"
            "   with/without",
        ]
        for stack, visit, with_, without in _throughput_rows(summary):
            lines.append(
                f"  {stack:30} {visit.split(' (')[0]:18} {_wrk(with_)}   {_wrk(without)}"
                f"   {_ratio(with_, without)}"
            )
    if summary.faults:
        lines += ["", "Part 2, faults:"]
        for result in summary.faults:
            lines.append(f"  [{result.status}] {result.where}: {result.fault}")
            lines.append(f"      {result.observed}")
            lines += [f"      problem: {p}" for p in result.problems[:5]]
    known = summary.known_bugs()
    if known:
        lines += ["", "Known bugs (reproduced here; the fix belongs to the module named):"]
        for bug, where in known.items():
            lines.append(f"  {bug}: {KNOWN_BUGS[bug]}")
            lines += [f"      seen in {w}" for w in where[:8]]
    for bug in sorted(summary.gone_bugs()):
        lines.append(f"  {bug} no longer reproduces: remove it from KNOWN_BUGS")
    reasons = summary.reasons()
    lines += [
        "",
        f"Result: {'PASS' if not reasons else 'FAIL'}"
        f" ({summary.seconds:.0f} s; {summary.total('leaks')} leaks,"
        f" {summary.total('server_errors')} 5xx,"
        f" {sum(len(r.records.missing) + len(r.records.extra) for r in summary.runs)}"
        " lost or duplicated records)",
    ]
    lines += [f"  - {reason}" for reason in reasons]
    return "\n".join(lines)


def _ratio(with_: Measurement, without: Measurement) -> str:
    base = without.result.requests_per_second
    return f"{with_.result.requests_per_second / base:.2f}" if base else "-"


def _wrk(m: Measurement) -> str:
    r = m.result
    return f"{r.requests_per_second:7.0f} rps {r.p50_ms:6.1f} ms {r.p99_ms:7.1f} ms"


def _rate(m: Measurement) -> str:
    low, high = m.spread
    spread = f" ({low:,.0f}–{high:,.0f})" if len(m.rounds) > 1 else ""
    return f"{m.result.requests_per_second:,.0f}{spread}"


def _versions() -> str:
    names = (
        *("consent-middleware", "starlette", "fastapi", "flask", "uvicorn", "hypercorn"),
        *("gunicorn", "waitress", "psycopg"),
    )
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def markdown(summary: Summary) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Load and faults",
        "",
        f"Generated by `make load` (`{summary.command}`) on {now}, in {summary.seconds:.0f} s."
        f" Python {platform.python_version()}, {os.cpu_count()} cores, {_busy(summary)}."
        f" Packages: {_versions()}.",
        "",
        "`make load` runs each example site under its real servers (FastAPI under uvicorn with"
        " 2 workers and under Hypercorn, Flask under gunicorn with 2 workers and under"
        " waitress), on loopback only, with a fixed number of requests and a time cap. It"
        " exits non-zero on any leak, any response >= 500, any choice answered but not"
        " stored (or stored twice), and any failed fault check.",
        "",
        "Run it with `make load` (it installs Debian's wrk and PostgreSQL's binaries when"
        " they are missing and it can), or `.venv/bin/python -m bench.load [--quick]"
        " [--parts correctness,throughput,faults] [--journeys N] [--wrk-seconds S]"
        " [--wrk-rounds N] [--keep] [--write docs/load.md]`. The code is in `bench/load/`:"
        " `stacks.py` (the servers), `traffic.py` (the checking clients), `model.py` (what a"
        " response is judged by), `throughput.py` (wrk), `faults.py` (part 2).",
        "",
        "## Part 1: every response checked",
        "",
        f"Per run: {summary.journeys} visitor journeys from 16 clients (4 processes x 4"
        " threads, `http.client`), each visitor with its own cookie jar: first visits, page"
        " views of decided visitors, accept / reject / custom choices (JSON with an"
        " Idempotency-Key, or the banner's form), a quarter of them sent twice, withdrawals,"
        " theme changes and sign-ins; visitors with a valid cookie of the old key, with an"
        " expired one, with a forged one (signed by a stranger's key, tampered, truncated,"
        " unsigned, guessed), or with a second valid consent cookie tossed in. After"
        f" {ROTATE_AT:.0%} of the journeys the server is restarted with `CONSENT_SECRETS`"
        " = new key, old key, on the same listening socket (requests sent meanwhile wait in"
        " its backlog). Each response is judged against the consent its request carried:"
        " no Set-Cookie of a refused category (deletions that every browser reads as such"
        " are fine), status as expected and never >= 500, granted cookies kept, refused"
        " carried cookies expired, a choice's state and new cookie as chosen, its consent id"
        " kept, a retry answered with the same id, choices after the rotation signed by the"
        " new key. At the end the store must hold every answered choice exactly once (by"
        " consent id, action and grants), and `consent-middleware records verify` must pass.",
        "",
        "The rotation here replaces one server by the next. Where several servers are"
        " rotated one by one, the old ones do not know the new key yet: a visitor whose"
        " cookie a new server signed is undecided on an old one, which expires the cookie."
        " Rotate in two steps then: first the new key after the old one everywhere"
        " (`CONSENT_SECRETS=old,new`: it verifies, the old key still signs), then first"
        " (`new,old`).",
        "",
    ]
    if summary.runs:
        out += [
            "| stack | store | requests | leaks | 5xx | failed checks | choices answered"
            " / stored | verify | seconds |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: |",
        ]
        for run in summary.runs:
            r = run.results
            failed = sum(n for k, n in r.checks.items() if k.startswith("failed"))
            out.append(
                f"| {run.stack} | {run.store} | {_n(r.total_requests)} | {r.leaks} |"
                f" {r.server_errors} | {failed} | {run.records.expected} / {run.records.found}"
                f" | {'ok' if run.records.verify_ok else 'FAIL'} | {run.seconds:.0f} |"
            )
        out += ["", _in_all(summary)]
    if summary.self_check is not None:
        check = summary.self_check
        out += [
            "",
            "The checks can fail: the same clients against the site without the middleware"
            f" found {check.leaks} leaks in {check.requests} requests.",
        ]
    if summary.throughput:
        out += [
            "",
            "## Part 1: throughput and latency (wrk)",
            "",
            f"Debian's `wrk -t2 -c32 -d{summary.wrk_seconds:g}s --latency`, {summary.wrk_rounds}"
            " rounds after a 1 s warm-up, `GET /` of the example site (its home page, 2.8 kB"
            " of HTML that the middleware rewrites: the banner, the gated tags, Google consent"
            " mode); with and without the middleware in the same run, both servers up and wrk"
            " taking turns between them round after round. Each figure is the median of the"
            " rounds (the spread of req/s in brackets). Without the middleware the"
            " same app runs with a stand-in that only answers its `get_consent()` calls"
            " (an undecided visitor; `bench/load/apps/bare_*.py`), so the app does the same"
            f" work for these visitors. {_busy(summary).capitalize()}; wrk, the server and"
            " its workers share the cores.",
            "",
            *_throughput_table(summary),
        ]
    if summary.faults:
        out += [
            "",
            "## Part 2: faults",
            "",
            "| where | fault | result | what was seen |",
            "| --- | --- | :---: | --- |",
        ]
        for result in summary.faults:
            seen = result.observed.replace("|", "\\|")
            if result.problems:
                seen += "; problems: " + "; ".join(result.problems[:3]).replace("|", "\\|")
            out.append(f"| {result.where} | {result.fault} | {result.status} | {seen} |")
    known = summary.known_bugs()
    if known:
        out += ["", "## Known bugs", ""]
        for bug, where in known.items():
            out.append(f"- **{bug}**: {KNOWN_BUGS[bug]}. Seen in: {'; '.join(where[:6])}.")
    reasons = summary.reasons()
    out += [
        "",
        "## Result",
        "",
        ("**PASS**" if not reasons else "**FAIL**: " + "; ".join(reasons)),
        "",
    ]
    return "\n".join(out)


def _in_all(summary: Summary) -> str:
    checks = summary.checks()
    lost = sum(len(run.records.missing) for run in summary.runs)
    extra = sum(len(run.records.extra) for run in summary.runs)
    return (
        f"In all: {_n(summary.total('total_requests'))} requests checked,"
        f" {summary.total('leaks')} leaks, {summary.total('server_errors')} responses"
        f" >= 500, {lost} choices lost, {extra} recorded twice;"
        f" {checks['retried choices']} choices were sent twice and recorded once;"
        f" {summary.total('reconnects')} requests were sent again after the server"
        " closed the connection (the restarts). After the rotation,"
        f" {checks['old-key cookies honoured after the rotation']} page views carrying"
        " old-key cookies were honoured and"
        f" {checks['choices signed by the new key after the rotation']} choices were"
        " signed by the new key."
    )


def _throughput_table(summary: Summary) -> list[str]:
    rows = [
        "| stack | visitor | with: req/s | p50 | p99 | without: req/s | p50 | p99 |"
        " with ÷ without |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for stack, visit, with_, without in _throughput_rows(summary):
        a, b = with_.result, without.result
        rows.append(
            f"| {stack} | {visit} | {_rate(with_)} | {a.p50_ms:.1f} ms | {a.p99_ms:.1f} ms"
            f" | {_rate(without)} | {b.p50_ms:.1f} ms | {b.p99_ms:.1f} ms |"
            f" {_ratio(with_, without)} |"
        )
    return rows


#: The heading of the section of docs/benchmarks.md that `make load` keeps up to date.
BENCHMARKS_SECTION = "## Load and faults"


def benchmarks_section(summary: Summary) -> str:
    """The figures of this run for docs/benchmarks.md (the whole report is docs/load.md)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    reasons = summary.reasons()
    out = [
        BENCHMARKS_SECTION,
        "",
        f"Written by `make load` on {now} ({summary.seconds:.0f} s, {_busy(summary)}): the"
        " example sites under their real servers with many checking clients, key rotation"
        " and faults. The whole report, with what is checked and how: [load.md](load.md).",
        "",
        "Result: " + ("**PASS**" if not reasons else "**FAIL**: " + "; ".join(reasons)),
    ]
    if summary.runs:
        out += ["", _in_all(summary)]
    if summary.faults:
        failed = sum(1 for result in summary.faults if result.problems)
        out += ["", f"Faults: {len(summary.faults) - failed} of {len(summary.faults)} checks ok."]
    if summary.throughput:
        out += ["", "Throughput, the example home page (wrk):", "", *_throughput_table(summary)]
    return "\n".join([*out, ""])


def replace_section(document: str, section: str) -> str:
    """`document` with its load section (from its heading to the end) replaced by `section`,
    or `section` appended when it has none."""
    at = document.find("\n" + BENCHMARKS_SECTION + "\n")
    kept = document if at < 0 else document[: at + 1]
    return kept.rstrip("\n") + "\n\n" + section
