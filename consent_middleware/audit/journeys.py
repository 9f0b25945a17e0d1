"""The four visitors, each in its own browser context (its own cookie jar):

- undecided: visits every page and never touches the banner; it also finds the pages
  (the start URLs, then same-origin links, up to `--pages`) and reads the first layer;
- rejected: rejects all on the first page with as few clicks as the site allows, then
  visits every page;
- accepted: the same, accepting all;
- withdrawn: accepts, loads a page, withdraws through the site's own way back (reopening the
  banner, or the preferences page), then visits every page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .choices import Action, banner_visible, choose, endpoint, first_layer, way_back, withdraw
from .crawl import Scope
from .model import BannerInfo, State, Step, StepKind, Visit, Visitor
from .observe import Observer

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

__all__ = ["Journey", "PageFailed"]

Progress = Callable[[str], None]

_LINKS_SCRIPT = """els => els
  .filter(e => !e.closest('#consent-banner'))
  .map(e => e.href)
  .filter(h => typeof h === 'string')"""


class PageFailed(Exception):
    """A start page could not be loaded at all."""


@dataclass
class Journey:
    visitor: Visitor
    context: BrowserContext
    page: Page
    observer: Observer
    scope: Scope
    timeout_ms: float
    progress: Progress
    visit: Visit = field(init=False)
    #: The consent endpoint, once the banner told it (the banner form's action).
    endpoint: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.visit = Visit(self.visitor)

    async def load(self, url: str, state: State, *, required: bool = False) -> Step:
        """Go to `url`, let it settle, and note what is there."""
        self.progress(f"[{self.visitor}] {url}")
        status: int | None = None
        note = ""
        try:
            response = await self.page.goto(url, wait_until="load", timeout=self.timeout_ms)
            status = response.status if response is not None else None
        except Exception as exc:
            if required:
                raise PageFailed(f"could not load {url}: {_first_line(exc)}") from exc
            note = f"did not load: {_first_line(exc)}"
        if not await self.observer.settle(limit=min(self.timeout_ms / 1000, 5.0)):
            note = note or "still busy on the network when read"
        step = await self.observer.collect(self.page, state, "page", status=status, note=note)
        step.banner_visible = await banner_visible(self.page)
        if state != "undecided":
            step.way_back = await way_back(self.page, self.endpoint)
        self.visit.steps.append(step)
        return step

    async def act(self, state: State, kind: StepKind, note: str) -> Step:
        await self.observer.settle(limit=min(self.timeout_ms / 1000, 5.0))
        step = await self.observer.collect(self.page, state, kind, note=note)
        step.banner_visible = await banner_visible(self.page)
        self.visit.steps.append(step)
        return step

    async def links(self) -> list[str]:
        try:
            hrefs = await self.page.eval_on_selector_all("a[href]", _LINKS_SCRIPT)
        except Exception:  # noqa: BLE001 - the page navigated away meanwhile
            return []
        return [str(h) for h in hrefs]

    # -- the visitors ----------------------------------------------------------------------

    async def crawl(self, start_urls: list[str], max_pages: int) -> tuple[list[str], BannerInfo]:
        """The undecided visitor: every page, no choice. Returns the pages and the first layer."""
        queue = list(start_urls)
        seen: set[str] = set()
        pages: list[str] = []
        banner: BannerInfo | None = None
        limit = max(max_pages, len(start_urls))
        while queue and len(pages) < limit:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            step = await self.load(url, "undecided", required=not pages)
            pages.append(url)
            if banner is None:
                banner = await first_layer(self.page)
                self.endpoint = banner.endpoint
                if banner.endpoint:
                    self.scope.skip_prefixes += (banner.endpoint.rstrip("/"),)
            if step.status is None and step.note:
                continue
            for href in await self.links():
                found = self.scope.page_url(href)
                if found is not None and found not in seen and found not in queue:
                    queue.append(found)
        assert banner is not None  # the first page loaded, or PageFailed was raised
        return pages, banner

    async def decide(self, first_url: str, pages: Awaitable[list[str]]) -> None:
        """The rejected, accepted and withdrawn visitors: they choose on the first page while
        the undecided visitor is still finding the others."""
        await self.load(first_url, "undecided", required=True)
        if not await banner_visible(self.page):
            self.visit.note = "no consent banner: no choice could be made"
            await pages
            return
        self.endpoint = await endpoint(self.page)
        action: Action = "reject_all" if self.visitor == "rejected" else "accept_all"
        self.progress(f"[{self.visitor}] {action.replace('_', ' ')} on {self.page.url}")
        choice = await choose(self.page, action)
        self.visit.choice = choice
        state: State = "undecided"
        if choice.done:
            state = "rejected" if action == "reject_all" else "accepted"
        await self.act(state, "choice", f"{action}: {choice.clicks} click(s), {choice.detail}")
        every = await pages
        if self.visitor == "withdrawn" and state == "accepted":
            await self.load(every[1] if len(every) > 1 else every[0], "accepted")
            self.progress(f"[{self.visitor}] withdraw on {self.page.url}")
            withdrawal = await withdraw(self.page, self.endpoint, self.timeout_ms)
            self.visit.withdrawal = withdrawal
            if withdrawal.done:
                state = "withdrawn"
            await self.act(state, "withdrawal", f"withdraw via {withdrawal.method}")
        for url in every:
            await self.load(url, state)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
