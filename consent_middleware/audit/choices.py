"""The banner, as a visitor meets it: what its first layer offers, making a choice with as
few clicks as the site allows (and counting them), and finding the way back to it.

It reads the markup of the contract (docs/banner.md): `#consent-banner`,
`[data-consent-action=accept_all|reject_all|save]`, `[data-consent-customize]`, checkboxes,
`[data-consent-open]`; any banner that uses it can be audited.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal
from urllib.parse import urljoin

from .model import BannerInfo, ChoiceResult

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

__all__ = ["Action", "banner_visible", "choose", "endpoint", "first_layer", "way_back", "withdraw"]

BANNER = "#consent-banner"
CUSTOMIZE = f"{BANNER} [data-consent-customize]"
CHECKBOXES = f"{BANNER} input[type=checkbox]"
OPENER = "[data-consent-open]"
#: A link or button that reads like a way back to the cookie choice.
_WAY_BACK_TEXT = re.compile(
    r"(cookie|consent|privacy)[\s-]*(settings|preferences|choices|options)"
    r"|manage\s+(cookies|consent)|change\s+(your\s+)?(cookie|consent)",
    re.IGNORECASE,
)
#: How long a choice may take to close the banner (a fetch, or a form post and a new page).
CLOSE_TIMEOUT_MS = 5_000
CLICK_TIMEOUT_MS = 5_000
_MAX_CLICKS = 8

Action = Literal["accept_all", "reject_all"]


def _action(action: str) -> str:
    return f'{BANNER} [data-consent-action="{action}"]'


async def _visible(page: Page, selector: str) -> Locator | None:
    locator = page.locator(selector).filter(visible=True)
    try:
        return locator.first if await locator.count() else None
    except Exception:  # noqa: BLE001 - the page navigated meanwhile: nothing to see yet
        return None


async def _click(control: Locator) -> bool:
    """Click like a visitor; False when it cannot be clicked (covered, gone, disabled)."""
    try:
        await control.click(timeout=CLICK_TIMEOUT_MS)
    except Exception:  # noqa: BLE001 - a control a visitor cannot use is no way to choose
        return False
    return True


async def banner_visible(page: Page) -> bool:
    return await _visible(page, BANNER) is not None


async def first_layer(page: Page, screenshot: bool = True) -> BannerInfo:
    """What the banner offers before any click (on the page the visitor arrived on)."""
    if not await banner_visible(page):
        return BannerInfo(found=False, page=page.url)
    pre_ticked = await page.eval_on_selector_all(
        CHECKBOXES,
        "els => els.filter(e => e.checked && !e.disabled).map(e => e.value || e.name || e.id)",
    )
    return BannerInfo(
        found=True,
        page=page.url,
        accept_visible=await _visible(page, _action("accept_all")) is not None,
        reject_visible=await _visible(page, _action("reject_all")) is not None,
        customize_visible=await _visible(page, CUSTOMIZE) is not None,
        pre_ticked=tuple(str(name) for name in pre_ticked),
        endpoint=await endpoint(page),
        screenshot=await page.screenshot(type="png") if screenshot else None,
    )


async def endpoint(page: Page) -> str | None:
    """The consent endpoint: the banner form's action, or the prefix in its state."""
    try:
        found = await page.evaluate(
            """() => {
          const form = document.querySelector('#consent-banner form');
          if (form && form.getAttribute('action')) return form.getAttribute('action');
          try {
            return JSON.parse(document.getElementById('consent-state').textContent).prefix;
          } catch (e) { return null; }
        }"""
        )
    except Exception:  # noqa: BLE001 - the page navigated meanwhile
        return None
    if not found:
        return None
    # The form's action carries the page's choice token (`/consent?t=...`): the endpoint is
    # its path, which `/preferences` and the crawl's skipped prefix are built on.
    return str(found).split("#", 1)[0].split("?", 1)[0] or None


async def _wait_closed(page: Page) -> bool:
    try:
        await page.locator(BANNER).first.wait_for(state="hidden", timeout=CLOSE_TIMEOUT_MS)
    except Exception:  # noqa: BLE001 - still open: the caller looks for the next control
        return False
    return True


async def choose(page: Page, action: Action) -> ChoiceResult:
    """Accept or reject all with the banner's own controls, counting every click: the
    button on the first layer; else Customize, then the button (or every box set the
    right way and Save)."""
    clicks = 0
    customized = False
    steps: list[str] = []
    while clicks < _MAX_CLICKS and await banner_visible(page):
        button = await _visible(page, _action(action))
        if button is not None:
            if not await _click(button):
                break
            clicks += 1
            steps.append(action)
            await _wait_closed(page)
            continue
        save = await _visible(page, _action("save"))
        if save is not None:
            want = action == "accept_all"
            for box in await page.locator(CHECKBOXES).filter(visible=True).all():
                if await box.is_enabled() and await box.is_checked() != want and await _click(box):
                    clicks += 1
                    steps.append("tick" if want else "untick")
            if not await _click(save):
                break
            clicks += 1
            steps.append("save")
            await _wait_closed(page)
            continue
        customize = await _visible(page, CUSTOMIZE)
        if customize is not None and not customized:
            if not await _click(customize):
                break
            clicks += 1
            customized = True
            steps.append("customize")
            continue
        break
    done = not await banner_visible(page) and clicks > 0
    method = "first layer" if clicks == 1 else "second layer"
    return ChoiceResult(action, clicks, done, method, " > ".join(steps))


async def way_back(page: Page, endpoint: str | None) -> str | None:
    """How this page lets a visitor back to the choice: a `[data-consent-open]` control, a
    link to the preferences page, or a link that says so; None when there is none."""
    if await _visible(page, OPENER) is not None:
        return "[data-consent-open]"
    if endpoint and await _visible(page, f'a[href*="{endpoint}/preferences"]') is not None:
        return f"a link to {endpoint}/preferences"
    for role in ("link", "button"):
        named = page.get_by_role(role, name=_WAY_BACK_TEXT).filter(visible=True)
        try:
            if await named.count():
                return f'the {role} "{(await named.first.inner_text()).strip()}"'
        except Exception:  # noqa: BLE001 - the page navigated meanwhile
            return None
    return None


async def withdraw(page: Page, endpoint: str | None, timeout_ms: float) -> ChoiceResult:
    """Withdraw consent the way the site offers: reopen the banner and reject all, or the
    preferences page; the DELETE endpoint only when the page has neither."""
    opener = await _visible(page, OPENER)
    if opener is not None and await _click(opener) and await _wait_open(page):
        result = await choose(page, "reject_all")
        return ChoiceResult(
            "withdraw", result.clicks + 1, result.done, "[data-consent-open]", result.detail
        )
    link = await _visible(page, f'a[href*="{endpoint}/preferences"]') if endpoint else None
    if link is not None and await _click(link):
        await page.wait_for_load_state()
        if await _wait_open(page):
            result = await choose(page, "reject_all")
            return ChoiceResult(
                "withdraw", result.clicks + 1, result.done, "preferences link", result.detail
            )
    if endpoint:
        preferences = urljoin(page.url, endpoint + "/preferences")
        try:
            response = await page.goto(preferences, timeout=timeout_ms)
        except Exception:  # noqa: BLE001 - no preferences page: the endpoint is left
            response = None
        if response is not None and response.ok and await _wait_open(page):
            result = await choose(page, "reject_all")
            return ChoiceResult(
                "withdraw", result.clicks, result.done, "preferences page", result.detail
            )
        status = await page.evaluate(
            "async u => { try { return (await fetch(u, {method: 'DELETE',"
            " credentials: 'same-origin'})).status } catch (e) { return 0 } }",
            endpoint,
        )
        done = 200 <= int(status) < 300
        return ChoiceResult("withdraw", 0, done, f"DELETE {endpoint}", f"status {status}")
    return ChoiceResult("withdraw", 0, False, "none", "no way back to the choice was found")


async def _wait_open(page: Page) -> bool:
    try:
        await (
            page.locator(BANNER)
            .filter(visible=True)
            .first.wait_for(state="visible", timeout=CLOSE_TIMEOUT_MS)
        )
    except Exception:  # noqa: BLE001 - it did not open
        return False
    return True
