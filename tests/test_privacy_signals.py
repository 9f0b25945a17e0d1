"""Global Privacy Control, Do Not Track, and the Cookie header the app gets to read."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import AppSpec, Site, cookie_names, deleted_names

APP_COOKIES = ["session=1; Path=/", "_ga=2; Path=/", "_fbp=3; Path=/"]
GPC = {"sec-gpc": "1"}


def spec() -> AppSpec:
    return AppSpec(set_cookies=list(APP_COOKIES))


def choose(site: Site, choice: dict[str, object], headers: dict[str, str]) -> str:
    response = site.request(
        "POST",
        "/consent",
        json=choice,
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.headers["set-cookie"].split(";", 1)[0]


def test_gpc_undecided_state_says_so(site: Site) -> None:
    state = site.get("/consent", headers=GPC).json()
    assert state["gpc"] is True and state["categories"]["marketing"] is False
    assert site.get("/consent").json()["gpc"] is False


def test_gpc_accept_all_leaves_marketing_off(make_site: Callable[..., Site]) -> None:
    site = make_site(spec())
    response = site.request("POST", "/consent", json={"action": "accept_all"}, headers=GPC)
    state = response.json()
    assert state["gpc"] is True
    assert state["categories"] == {
        "authentication": True,
        "settings": True,
        "analytics": True,
        "marketing": False,
    }
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    assert cookie_names(site.get("/", cookie=cookie, headers=GPC)) == ["session", "_ga"]
    # Without the signal the choice stays as it was made: marketing was never granted.
    assert cookie_names(site.get("/", cookie=cookie)) == ["session", "_ga"]


def test_gpc_in_the_body_counts_like_the_header(site: Site) -> None:
    state = site.choose({"action": "accept_all", "gpc": True}).json()
    assert state["categories"]["marketing"] is False and state["gpc"] is True


def test_gpc_respects_an_explicit_marketing_choice(make_site: Callable[..., Site]) -> None:
    site = make_site(spec())
    cookie = choose(site, {"action": "save", "categories": ["analytics", "marketing"]}, GPC)
    assert cookie_names(site.get("/", cookie=cookie, headers=GPC)) == ["session", "_ga", "_fbp"]


def test_gpc_overrides_an_earlier_accept_all(make_site: Callable[..., Site]) -> None:
    site = make_site(spec())
    cookie = choose(site, {"action": "accept_all"}, {})
    assert "_fbp" in cookie_names(site.get("/", cookie=cookie))
    response = site.get("/", cookie=f"{cookie}; _fbp=old", headers=GPC)
    assert cookie_names(response) == ["session", "_ga"]
    assert deleted_names(response) == ["_fbp"]


def test_gpc_can_be_turned_off(make_site: Callable[..., Site]) -> None:
    site = make_site(spec(), honor_gpc=False)
    state = site.request("POST", "/consent", json={"action": "accept_all"}, headers=GPC).json()
    assert state["categories"]["marketing"] is True and state["gpc"] is False


@pytest.mark.parametrize(("honor_dnt", "marketing"), [(False, True), (True, False)])
def test_dnt_only_when_asked(
    make_site: Callable[..., Site], honor_dnt: bool, marketing: bool
) -> None:
    site = make_site(spec(), honor_dnt=honor_dnt)
    state = site.request(
        "POST", "/consent", json={"action": "accept_all"}, headers={"dnt": "1"}
    ).json()
    assert state["categories"]["marketing"] is marketing


def test_custom_gpc_categories(make_site: Callable[..., Site]) -> None:
    from consent_middleware import Category

    site = make_site(
        spec(),
        categories=[
            Category("authentication", required=True),
            Category("analytics", gpc=True),
            Category("marketing", gpc=True),
        ],
        cookies={"session": "authentication", "_ga*": "analytics", "_fbp": "marketing"},
    )
    state = site.request("POST", "/consent", json={"action": "accept_all"}, headers=GPC).json()
    assert state["categories"] == {"authentication": True, "analytics": False, "marketing": False}


# -- what the app reads ------------------------------------------------------------------

CARRIED = "session=1; _ga=GA1.1.42; _ga_X=7; _fbp=fb; lang=uk; other=keep"


@pytest.mark.parametrize(
    ("choice", "app_sees"),
    [
        (None, "session=1; other=keep"),
        ({"action": "reject_all"}, "session=1; other=keep"),
        (
            {"action": "save", "categories": ["analytics"]},
            "session=1; _ga=GA1.1.42; _ga_X=7; other=keep",
        ),
        ({"action": "accept_all"}, CARRIED),
    ],
)
def test_app_never_reads_refused_cookies(
    make_site: Callable[..., Site], choice: dict[str, object] | None, app_sees: str
) -> None:
    site = make_site(AppSpec())
    consent = site.consent_cookie(choice) if choice else None
    cookie = CARRIED + (f"; {consent}" if consent else "")
    site.get("/", cookie=cookie)
    seen = site.spec.seen[-1]["cookie"]
    expected = app_sees + (f"; {consent}" if consent else "")
    assert seen == expected


def test_request_filtering_can_be_turned_off(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(), filter_request_cookies=False)
    site.get("/", cookie=CARRIED)
    assert site.spec.seen[-1]["cookie"] == CARRIED


def test_script_set_cookie_is_expired_on_the_next_response(make_site: Callable[..., Site]) -> None:
    """A `_ga` that a tag set with document.cookie arrives in a request: it is expired."""
    site = make_site(AppSpec())
    rejected = site.consent_cookie({"action": "reject_all"})
    response = site.get("/", cookie=f"_ga=GA1.1.js; _ga_ABC=1; {rejected}")
    assert sorted(deleted_names(response)) == ["_ga", "_ga_ABC"]


def test_app_never_reads_refused_cookies_however_many(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec())
    many = "; ".join(f"_ga{i}=1" for i in range(300))
    site.get("/", cookie=f"session=1; {many}")
    assert site.spec.seen[-1]["cookie"] == "session=1"
