"""Policy updates (the seed policy's section 14): a material change (`policy_version`) asks
everyone again; a minor one (`policy_updated`) shows a visitor who chose before it a one-time
notice with the date and a link, and keeps their choice. Also `/.well-known/gpc.json`,
`data-nosnippet`, and no cloaking for crawlers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from consent_middleware.consent import ConsentCodec

from .conftest import AppSpec, Site, cookie_names

UPDATED = "2026-10-01"
BEFORE = time.mktime((2026, 9, 1, 12, 0, 0, 0, 0, 0))


def old_choice(site: Site, granted: list[str]) -> str:
    """A consent cookie of a choice made before the update."""
    codec = ConsentCodec(site.config)
    return "consent=" + codec.encode(codec.decide(granted, now=BEFORE))


def notice(page: str) -> str | None:
    match = re.search(r'<section id="consent-notice".*?</section>', page, re.S)
    return match.group(0) if match else None


def test_a_choice_before_the_update_sees_the_notice_once(make_site: Callable[..., Site]) -> None:
    site = make_site(
        AppSpec(set_cookies=["_ga=1; Path=/"]),
        policy_updated=UPDATED,
        privacy_policy_url="/privacy",
    )
    cookie = old_choice(site, ["analytics"])
    page = site.get("/", cookie=cookie)
    shown = notice(page.text)
    assert shown is not None
    assert f"We updated our privacy policy on {UPDATED}" in shown
    assert '<a href="/privacy">Read the policy</a>' in shown
    assert 'name="action" value="dismiss_notice"' in shown
    # The choice stays: analytics still granted, no banner asking again.
    assert cookie_names(page) == ["_ga"]
    assert re.search(r'<section id="consent-banner"[^>]* hidden=""', page.text)
    # Dismissed without JavaScript: a form post, a 303 back, the same choice, seen.
    dismissed = site.request(
        "POST",
        "/consent",
        cookie=cookie,
        content=b"action=dismiss_notice&return_to=/shop",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert dismissed.status_code == 303 and dismissed.headers["location"] == "/shop"
    (new,) = [v.split(";")[0] for v in dismissed.headers.get_list("set-cookie")]
    after = site.get("/", cookie=new)
    assert notice(after.text) is None
    assert cookie_names(after) == ["_ga"]
    state_before = site.get("/consent", cookie=cookie).json()
    state_after = site.get("/consent", cookie=new).json()
    assert state_after["categories"] == state_before["categories"]
    assert state_after["consent_id"] == state_before["consent_id"]
    assert state_after["decided_at"] == state_before["decided_at"]


def test_dismissing_by_script_keeps_the_choice(make_site: Callable[..., Site]) -> None:
    site = make_site(policy_updated=UPDATED)
    cookie = old_choice(site, ["marketing"])
    response = site.request(
        "POST",
        "/consent",
        cookie=cookie,
        content=b'{"action": "dismiss_notice"}',
        headers={"content-type": "application/json", "sec-gpc": "1"},
    )
    assert response.status_code == 200
    (new,) = [v.split(";")[0] for v in response.headers.get_list("set-cookie")]
    # Global Privacy Control refuses marketing on this request, but the stored choice keeps it.
    assert site.get("/consent", cookie=new).json()["categories"]["marketing"] is True
    undecided = site.request(
        "POST",
        "/consent",
        content=b'{"action": "dismiss_notice"}',
        headers={"content-type": "application/json"},
    )
    assert undecided.status_code == 400 and undecided.headers.get_list("set-cookie") == []


def test_no_notice_for_choices_after_the_update_or_without_one(
    make_site: Callable[..., Site],
) -> None:
    updated = make_site(policy_updated=UPDATED)
    fresh = updated.consent_cookie({"action": "accept_all"})  # made now, after the update
    assert notice(updated.get("/", cookie=fresh).text) is None
    assert notice(updated.get("/").text) is None  # undecided: the banner asks anyway
    plain = make_site()
    assert notice(plain.get("/", cookie=old_choice(plain, ["analytics"])).text) is None


def test_the_preferences_page_shows_the_date(make_site: Callable[..., Site]) -> None:
    site = make_site(policy_updated=UPDATED, privacy_policy_url="/privacy")
    page = site.get("/consent/preferences").text
    assert f'Policy last updated: <time datetime="{UPDATED}">{UPDATED}</time>' in page


def test_gpc_json(make_site: Callable[..., Site]) -> None:
    site = make_site(policy_updated=UPDATED)
    response = site.get("/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.json() == {"gpc": True, "lastUpdate": UPDATED}
    assert response.headers["content-type"] == "application/json"
    dated = make_site()  # the policy_version "2024-02-24" is a date too
    assert dated.get("/.well-known/gpc.json").json() == {"gpc": True, "lastUpdate": "2024-02-24"}
    off = make_site(honor_gpc=False)
    off.get("/.well-known/gpc.json")
    assert off.spec.seen[-1]["path"] == "/.well-known/gpc.json"  # the app's own business


def test_the_banner_is_no_search_snippet(make_site: Callable[..., Site]) -> None:
    page = make_site().get("/").text
    assert re.search(r'<section id="consent-banner"[^>]* data-nosnippet=""', page)


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "curl/8.5.0",
    ],
)
def test_crawlers_get_what_visitors_get(make_site: Callable[..., Site], agent: str) -> None:
    site = make_site(AppSpec(set_cookies=["_ga=1", "session=2"]))
    crawler = site.get("/", headers={"user-agent": agent})
    visitor = site.get("/", headers={"user-agent": "Mozilla/5.0 (X11; Linux) Firefox/128.0"})
    assert cookie_names(crawler) == cookie_names(visitor) == ["session"]
    strip = re.compile(r"\?t=[A-Za-z0-9_-]+")
    assert strip.sub("", crawler.text) == strip.sub("", visitor.text)
