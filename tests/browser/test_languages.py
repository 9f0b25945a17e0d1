"""Every bundled language on a phone: the banner and the preferences page speak it, axe-core
finds nothing to fix, and no word is too long for a 320-pixel screen.

The whole matrix runs against the FastAPI site under uvicorn; a few languages with long
words or another script run against the Flask site under waitress too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from consent_middleware.i18n import BUNDLED_LANGUAGES, TEXTS

from .helpers import PHONE, Server, action_button, axe_violations, banner, start_server

pytestmark = pytest.mark.browser

FLASK_LANGUAGES = ("de", "fi", "hu", "uk", "el")
CASES = [pytest.param("fastapi", lang, id=f"fastapi-{lang}") for lang in BUNDLED_LANGUAGES] + [
    pytest.param("flask", lang, id=f"flask-{lang}") for lang in FLASK_LANGUAGES
]
WIDTH = PHONE["width"]

#: Where everything the visitor sees sits, measured in the page.
LAYOUT_JS = """() => {
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, width: r.width, height: r.height,
            scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
            scrollHeight: el.scrollHeight, clientHeight: el.clientHeight};
  };
  const root = document.getElementById('consent-banner');
  const shown = (el) => el.getClientRects().length > 0;
  return {
    page: document.documentElement.scrollWidth,
    banner: box(root),
    buttons: [...root.querySelectorAll('button')].filter(shown).map(
      (el) => ({text: el.textContent.trim(), ...box(el)})),
  };
}"""


#: Elements of the preferences page whose content is wider than their box.
OVERFLOWING_JS = """() => [...document.querySelectorAll('main, main *')]
  .filter((el) => el.clientWidth > 0 && el.scrollWidth > el.clientWidth)
  .map((el) => `${el.tagName} ${el.scrollWidth}/${el.clientWidth}: `
    + el.textContent.trim().slice(0, 40))"""


@pytest.fixture
def language_site(
    request: pytest.FixtureRequest, servers: dict[str, Server], server_logs: Path
) -> Server:
    """The example site named by the parameter; one server per site, shared with the suite."""
    kind: str = request.param
    if kind not in servers:
        servers[kind] = start_server(kind, server_logs)
    return servers[kind]


def phone_page(new_context: Callable[..., BrowserContext], lang: str) -> Page:
    # bypass_csp: the preferences page's strict CSP would refuse the injected axe script.
    context = new_context(
        viewport=PHONE, bypass_csp=True, extra_http_headers={"Accept-Language": lang}
    )
    return context.new_page()


def check_layout(page: Page, buttons: int) -> None:
    """Nothing overflows the 320-pixel viewport or is clipped inside its box."""
    layout: dict[str, Any] = page.evaluate(LAYOUT_JS)
    assert layout["page"] <= WIDTH, f"the page scrolls sideways: {layout['page']}px"
    box = layout["banner"]
    assert box["left"] >= 0 and box["right"] <= WIDTH, box
    assert box["scrollWidth"] <= box["clientWidth"], f"the banner scrolls sideways: {box}"
    assert len(layout["buttons"]) == buttons, [b["text"] for b in layout["buttons"]]
    for button in layout["buttons"]:
        where = f"{button['text']!r}: {button}"
        assert button["left"] >= 0 and button["right"] <= WIDTH, where
        assert button["scrollWidth"] <= button["clientWidth"], where
        assert button["scrollHeight"] <= button["clientHeight"] + 1, where


@pytest.mark.parametrize(("language_site", "lang"), CASES, indirect=["language_site"])
def test_banner_on_a_phone(
    language_site: Server, new_context: Callable[..., BrowserContext], lang: str
) -> None:
    texts = TEXTS[lang]
    page = phone_page(new_context, lang)
    page.goto(language_site.url + "/")
    expect(banner(page)).to_be_visible()
    expect(banner(page)).to_have_attribute("lang", lang)
    expect(page.locator("#consent-banner-title")).to_have_text(texts["title"])
    accept, reject = action_button(page, "accept_all"), action_button(page, "reject_all")
    expect(accept).to_have_text(texts["accept_all"])
    expect(reject).to_have_text(texts["reject_all"])
    check_layout(page, buttons=3)  # accept, reject, customize
    # Equally prominent on a phone too: the same box for both.
    accept_box, reject_box = accept.bounding_box(), reject.bounding_box()
    assert accept_box and reject_box
    assert (accept_box["width"], accept_box["height"]) == (
        reject_box["width"],
        reject_box["height"],
    )
    assert axe_violations(page) == []

    banner(page).locator("[data-consent-customize]").click()
    expect(page.locator("#consent-cat-analytics")).to_be_visible()
    expect(banner(page).locator("legend")).to_have_text(texts["categories_legend"])
    expect(page.locator("label[for=consent-cat-marketing]")).to_have_text(
        texts["category.marketing.label"]
    )
    expect(action_button(page, "save")).to_have_text(texts["save"])
    check_layout(page, buttons=4)  # and save
    assert axe_violations(page) == []


@pytest.mark.parametrize(("language_site", "lang"), CASES, indirect=["language_site"])
def test_preferences_page_on_a_phone(
    language_site: Server, new_context: Callable[..., BrowserContext], lang: str
) -> None:
    texts = TEXTS[lang]
    page = phone_page(new_context, lang)
    page.goto(language_site.url + "/consent/preferences")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page).to_have_title(texts["preferences_title"])
    expect(page.locator("h1")).to_have_text(texts["preferences_title"])
    expect(banner(page)).to_have_attribute("lang", lang)
    expect(action_button(page, "save")).to_have_text(texts["save"])
    check_page_fits(page)
    assert axe_violations(page) == []


def check_page_fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"the preferences page scrolls sideways: {width}px"
    assert page.evaluate(OVERFLOWING_JS) == []


def test_a_decided_visitors_preferences_page_on_a_phone(
    fastapi_site: Server, new_context: Callable[..., BrowserContext]
) -> None:
    # The consent ID, 32 characters without a space, is wider than a phone's text column.
    page = phone_page(new_context, "en")
    page.goto(fastapi_site.url + "/")
    action_button(page, "reject_all").click()
    expect(banner(page)).to_be_hidden()
    page.goto(fastapi_site.url + "/consent/preferences")
    expect(page.locator(".consent-id code")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    check_page_fits(page)


STYLE_JS = "([s, p]) => getComputedStyle(document.querySelector(s))[p]"


def test_our_own_pages_get_their_look_under_their_own_csp(fastapi_site: Server, page: Page) -> None:
    """The preferences and message pages' own style is inline (banner.css, which every page
    of a site loads, does not carry it), allowed by its hash: applied, and nothing refused."""
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None)
    page.goto(fastapi_site.url + "/consent/preferences")
    assert page.evaluate(STYLE_JS, [".consent-main", "maxWidth"]) == "640px"  # 40rem
    assert page.evaluate(STYLE_JS, ["body", "marginTop"]) == "0px"
    assert page.evaluate(STYLE_JS, ["#consent-banner", "position"]) == "static"  # inline
    # A form post the server cannot take answers with the message page.
    page.evaluate(
        """() => {
          const f = Object.assign(document.createElement('form'),
            {method: 'post', action: '/consent'});
          f.append(Object.assign(document.createElement('input'),
            {name: 'action', value: 'bogus'}));
          document.body.append(f);
          f.submit();
        }"""
    )
    expect(page.locator("body.consent-page h1")).to_be_visible()
    assert page.evaluate(STYLE_JS, [".consent-main", "maxWidth"]) == "640px"
    assert refused == []
