"""One audit: the browser, the four visitors, and what they saw (an `AuditRun`).

The four visitors run at the same time, each in its own context; the undecided one finds
the pages, which the others visit once they have made their choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .browser import default_browser, launch
from .crawl import Scope
from .journeys import Journey
from .model import AuditRun, BannerInfo, Visit, Visitor
from .observe import Observer

__all__ = ["AuditFailed", "AuditOptions", "run_audit"]


class AuditFailed(Exception):
    """The browser failed in a way no visitor would meet (it crashed, a page hung it)."""


@dataclass
class AuditOptions:
    urls: list[str]
    pages: int = 5
    browser: str = field(default_factory=default_browser)
    #: Seconds one page may take to load.
    timeout: float = 15.0
    #: Path prefixes never crawled (the consent endpoints).
    skip_prefixes: tuple[str, ...] = ()
    progress: Callable[[str], None] = lambda message: None


def _quiet_when_interrupted(loop: asyncio.AbstractEventLoop) -> None:
    """Ctrl-C reaches the browser and Playwright's driver too (one process group): they
    die first, and futures inside Playwright keep the driver's "connection closed" that
    nobody is left to read. asyncio would log each with a traceback after "Aborted."."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if _interrupted.is_set() and "never retrieved" in str(context.get("message", "")):
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


_interrupted = threading.Event()


def run_audit(options: AuditOptions) -> AuditRun:
    """Run the audit to its end: `asyncio.run`, or the same in a thread of its own when this
    thread already runs an event loop (inside Playwright's sync API, or an async app)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        try:
            return asyncio.run(_audit(options))
        except KeyboardInterrupt:
            _interrupted.set()
            raise
    result: list[AuditRun] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(_audit(options)))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="consent-middleware-audit")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


async def _audit(options: AuditOptions) -> AuditRun:
    _quiet_when_interrupted(asyncio.get_running_loop())
    started = time.monotonic()
    started_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def clock() -> float:
        return round(time.monotonic() - started, 3)

    scope = Scope(options.urls, options.skip_prefixes)
    timeout_ms = options.timeout * 1000
    async with launch(options.browser) as launched:

        async def journey(visitor: Visitor) -> Journey:
            context = await launched.browser.new_context(**launched.context_options)
            context.set_default_timeout(timeout_ms)
            observer = Observer(visitor, scope, clock)
            await observer.attach(context)
            page = await context.new_page()
            return Journey(visitor, context, page, observer, scope, timeout_ms, options.progress)

        undecided = await journey("undecided")
        others = [await journey(v) for v in ("rejected", "accepted", "withdrawn")]
        found: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()

        async def crawl() -> BannerInfo:
            try:
                pages, banner = await undecided.crawl(options.urls, options.pages)
            except asyncio.CancelledError:
                found.cancel()
                raise
            except Exception as exc:
                found.set_exception(exc)  # the other visitors wait for the pages: they stop too
                raise
            found.set_result(pages)
            launched.automation["navigator_webdriver"] = await undecided.page.evaluate(
                "navigator.webdriver"
            )
            return banner

        crawling = asyncio.ensure_future(crawl())
        deciding = [asyncio.ensure_future(j.decide(options.urls[0], found)) for j in others]
        from playwright.async_api import Error as PlaywrightError

        try:
            await asyncio.gather(crawling, *deciding)
        except PlaywrightError as exc:
            raise AuditFailed(f"the browser failed: {exc}") from exc
        finally:
            for task in (crawling, *deciding):
                task.cancel()
            await asyncio.gather(crawling, *deciding, return_exceptions=True)
            if found.done() and not found.cancelled():
                # The crawl's error, raised from the crawl already; the visitors that
                # were to wait for it may have stopped first (asyncio would log it).
                found.exception()
            for each in (undecided, *others):
                with contextlib.suppress(Exception):  # a browser that crashed is closed already
                    await each.context.close()
        banner = crawling.result()
        pages = found.result()
        visits: dict[Visitor, Visit] = {undecided.visitor: undecided.visit}
        visits.update({j.visitor: j.visit for j in others})
        return AuditRun(
            start_urls=list(options.urls),
            pages=pages,
            visits=visits,
            banner=banner,
            automation=launched.automation,
            browser=launched.version,
            started_at=started_at,
            duration=clock(),
        )
