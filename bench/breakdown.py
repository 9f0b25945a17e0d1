"""Where ConsentMiddleware's time goes: the core's steps timed one by one, on the end-to-end
benchmark's own page and headers, for the decided visitor of `bench/traffic.py`.

    .venv/bin/python -m bench.breakdown     # the table, on standard output

The targets on pages are missed: this part of `make bench` says by how much each step
costs, so that the reason is a measurement, not a claim. Each step runs alone in a tight
loop, which is the best case (in a real server, the app and the server run between the
steps and take the CPU caches), so the steps add up to less than the end-to-end cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response

from consent_middleware.context import RequestContext
from consent_middleware.core import ConsentCore
from consent_middleware.html import HtmlRewriter
from consent_middleware.page_memo import PageMemo

from .apps import PAGE, PAGE_TEXT, YEAR
from .common import Case, measure, us
from .traffic import Visitor, fresh_pair, make_visitor

__all__ = ["Breakdown", "render", "run"]


@dataclass
class Breakdown:
    page_bytes: int
    snippet_bytes: int
    cases: list[Case]


def _page_headers() -> list[tuple[bytes, bytes]]:
    """What the benchmark's Starlette page sends: a new list with fresh values each time."""
    session, ga = fresh_pair()
    response = Response(PAGE, media_type="text/html")
    response.set_cookie("session", session, path="/", httponly=True, samesite="lax")
    response.set_cookie("_ga", ga, max_age=2 * YEAR, path="/", samesite="lax")
    return list(response.raw_headers)


def _timed(step: Callable[[], object]) -> Callable[[int], int]:
    def run(n: int) -> int:
        start = time.perf_counter_ns()
        for _ in range(n):
            step()
        return time.perf_counter_ns() - start

    return run


def run(visitor: Visitor | None = None, repeats: int = 5, sample_ms: float = 100.0) -> Breakdown:
    visitor = visitor or make_visitor()
    core = ConsentCore(visitor.config)
    cookie = visitor.cookie_header.encode("latin-1")
    json_headers = [(b"content-length", b"62"), (b"content-type", b"application/json")]

    def begin() -> RequestContext:
        return core.begin(cookie, False, False, False, "GET", "", "/", b"", None, False, False)

    ctx = core.begin(cookie, False)
    sent, page_filter = core.plan_response(ctx, 200, _page_headers(), True)
    if page_filter is None:
        raise RuntimeError("bench bug: the page gets no body filter")
    out = page_filter.feed(PAGE) + page_filter.finish()
    snippet_bytes = len(out) - len(PAGE)
    # PAGE ends with "</body>\n</html>\n", and the snippet went right before its "</body>".
    body_snippet = out[PAGE.rindex(b"</body>") : -len(b"</body>\n</html>\n")]
    headers = [_page_headers() for _ in range(64)]
    turn = iter(range(1 << 62))

    def plan_json() -> object:
        return core.plan_response(ctx, 200, json_headers, True)

    def plan_page() -> object:
        return core.plan_response(ctx, 200, headers[next(turn) % 64], True)

    def rewrite() -> object:
        rewriter = HtmlRewriter(body_snippet=body_snippet)
        return rewriter.feed(PAGE) + rewriter.finish()

    memo = PageMemo(1 << 20, 64)
    for _ in range(2):  # noted the first time, learned the second
        HtmlRewriter(body_snippet=body_snippet, memo=memo).feed(PAGE)
    if memo.get(False, True, PAGE) is None:
        raise RuntimeError("bench bug: the memo of pages did not learn the page")

    def recall() -> object:
        # A new bytes object each time, as a rendered page is: its hash is not cached.
        rewriter = HtmlRewriter(body_snippet=body_snippet, memo=memo)
        return rewriter.feed(PAGE_TEXT.encode()) + rewriter.finish()

    def naive() -> object:
        at = PAGE.find(b"</body")
        return PAGE[:at] + body_snippet + PAGE[at:]

    def whole() -> object:
        _, page_filter = core.plan_response(begin(), 200, headers[next(turn) % 64], True)
        assert page_filter is not None
        return page_filter.feed(PAGE_TEXT.encode()) + page_filter.finish()

    steps = [
        ("`begin`: read the request (Cookie header, cached consent)", begin),
        ("`plan_response`, JSON response, no Set-Cookie", plan_json),
        ("`plan_response`, the page with 2 fresh Set-Cookie (banner snippet rendered)", plan_page),
        (
            "a page not seen before through the HTML tokenizer, snippet inserted at the real"
            " `</body>`",
            rewrite,
        ),
        (
            "the same page seen before: its snippet's place from the memo of pages (the page"
            " encoded anew included)",
            recall,
        ),
        ("for comparison: a byte search for `</body` (wrong inside scripts and comments)", naive),
        (
            "all of the page's core work in one go: `begin`, `plan_response`, the page (seen"
            " before)",
            whole,
        ),
    ]
    cases = [Case("breakdown", label, _timed(step)) for label, step in steps]
    measure(cases, repeats, sample_ms)
    return Breakdown(len(PAGE), snippet_bytes, cases)


def render(result: Breakdown) -> list[str]:
    lines = [
        "## Where the time goes",
        "",
        f"The core's steps on the end-to-end page ({result.page_bytes} bytes, two fresh"
        " Set-Cookie headers from Starlette, the decided visitor), each alone in a tight loop"
        " (`bench/breakdown.py`). Alone, each runs with warm CPU caches: in a server, the app"
        " and the server run in between, and the same work costs more (compare the server's"
        " CPU time per request above). The page targets ask for at most about a tenth of the"
        " bare app's CPU time per page; the tokenizer alone costs more than that in pure"
        " Python on a page it has not seen. It is what puts the banner at the document's real"
        " `</body>` and never inside a script, a comment or an attribute (issue 7); a byte"
        " search would be faster, and wrong. A page served again byte for byte skips it: the"
        " memo of pages (`page_memo.py`) holds where the tokenizer put the snippets.",
        "",
        "| step | median | min – max |",
        "| --- | ---: | ---: |",
    ]
    for case in result.cases:
        low, high = case.spread_us
        lines.append(f"| {case.label} | {us(case.median_us)} | {us(low)} – {us(high)} |")
    lines += [
        "",
        f"The decided visitor's snippet (the settings link, banner.js and its state) adds"
        f" {result.snippet_bytes} bytes to the page.",
        "",
    ]
    return lines


if __name__ == "__main__":
    print("\n".join(render(run())))
