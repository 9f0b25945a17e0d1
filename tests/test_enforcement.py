"""Which Set-Cookie headers leave, and which deletions are added, for every consent state,
over both adapters."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from consent_middleware.consent import ConsentCodec

from .conftest import SECRET, AppSpec, Site, cookie_names, deleted_names, make_config

APP_COOKIES = [
    "session=s1; Path=/; HttpOnly; SameSite=Lax",
    "lang=uk; Path=/",
    "_ga=GA1.1.123; Path=/; Max-Age=63072000; HttpOnly",
    "_fbp=fb.1.2; Path=/; HttpOnly",
    "mystery=1; Path=/",
]
CARRIED = "session=s1; lang=en; _ga=GA1.1.9; _ga_XYZ=1; _fbp=fb.1; other=keep"


def spec() -> AppSpec:
    return AppSpec(set_cookies=list(APP_COOKIES))


def signed(config_kwargs: dict[str, object], granted: list[str], *, age: float = 0) -> str:
    codec = ConsentCodec(make_config(**config_kwargs))
    consent = codec.decide(granted, now=time.time() - age)
    return "consent=" + codec.encode(consent)


STATES = [
    pytest.param(None, ["session"], id="undecided"),
    pytest.param({"action": "accept_all"}, ["session", "lang", "_ga", "_fbp"], id="accepted"),
    pytest.param({"action": "reject_all"}, ["session"], id="rejected"),
    pytest.param({"action": "save", "categories": ["analytics"]}, ["session", "_ga"], id="custom"),
    pytest.param(
        {"action": "save", "categories": ["settings", "marketing"]},
        ["session", "lang", "_fbp"],
        id="custom-settings-marketing",
    ),
    pytest.param({"action": "withdraw"}, ["session"], id="withdrawn"),
]


@pytest.mark.parametrize(("choice", "passes"), STATES)
def test_set_cookies_that_leave(
    make_site: Callable[..., Site], choice: dict[str, object] | None, passes: list[str]
) -> None:
    site = make_site(spec())
    cookie = site.consent_cookie(choice) if choice else None
    response = site.get("/", cookie=cookie)
    assert response.status_code == 200
    assert cookie_names(response) == passes
    # Allowed headers leave byte for byte as the app wrote them.
    sent = response.headers.get_list("set-cookie")
    for value in APP_COOKIES:
        if value.split("=", 1)[0] in passes:
            assert value in sent


EXPIRED_ON_CARRY = [
    pytest.param(None, ["_fbp", "_ga", "_ga_XYZ", "lang"], id="undecided"),
    pytest.param({"action": "accept_all"}, [], id="accepted"),
    pytest.param({"action": "reject_all"}, ["_fbp", "_ga", "_ga_XYZ", "lang"], id="rejected"),
    pytest.param({"action": "save", "categories": ["analytics"]}, ["_fbp", "lang"], id="custom"),
    pytest.param({"action": "withdraw"}, ["_fbp", "_ga", "_ga_XYZ", "lang"], id="withdrawn"),
]


@pytest.mark.parametrize(("choice", "expired"), EXPIRED_ON_CARRY)
def test_carried_refused_cookies_are_expired(
    make_site: Callable[..., Site], choice: dict[str, object] | None, expired: list[str]
) -> None:
    site = make_site(AppSpec())
    consent = site.consent_cookie(choice) if choice else None
    cookie = CARRIED + (f"; {consent}" if consent else "")
    response = site.get("/", cookie=cookie)
    assert sorted(deleted_names(response)) == expired
    for value in response.headers.get_list("set-cookie"):
        lowered = value.lower()
        assert "max-age=0" in lowered and "path=/" in lowered
    # Carried cookies that match no rule, and authentication ones, are left alone.
    assert "other" not in deleted_names(response)
    assert "session" not in deleted_names(response)


@pytest.mark.parametrize(
    ("cookie", "authentic"),
    [
        pytest.param(signed({}, ["analytics", "marketing"], age=181 * 86400), True, id="expired"),
        pytest.param(
            signed({"policy_version": "2023-01-01"}, ["analytics", "marketing"]),
            True,
            id="old-policy-version",
        ),
        pytest.param(
            signed({"secret_key": "someone-else"}, ["analytics", "marketing"]),
            False,
            id="forged",
        ),
        pytest.param("consent=1~abc~0~analytics~-~x.sig", False, id="garbage"),
        pytest.param(signed({}, ["analytics", "marketing"])[:-3], False, id="truncated"),
    ],
)
def test_invalid_consent_cookie_means_undecided(
    make_site: Callable[..., Site], cookie: str, authentic: bool
) -> None:
    site = make_site(spec())
    response = site.get("/", cookie=cookie)
    assert response.status_code == 200
    assert cookie_names(response) == ["session"]
    # A forged or broken one is expired; an authentic old one stays (it grants nothing) so
    # that the visitor's next choice continues the same consent id.
    assert ("consent" in deleted_names(response)) is not authentic
    state = site.get("/consent", cookie=cookie).json()
    assert state["decided"] is False
    assert state["categories"]["analytics"] is False
    assert (state["consent_id"] is not None) is authentic
    if authentic:
        choice = site.request(
            "POST",
            "/consent",
            cookie=cookie,
            content=b'{"action": "reject_all"}',
            headers={"content-type": "application/json"},
        ).json()
        assert choice["consent_id"] == state["consent_id"] and choice["decided"] is True


def test_consent_within_max_age_is_kept(make_site: Callable[..., Site]) -> None:
    site = make_site(spec())
    cookie = signed({}, ["analytics"], age=179 * 86400)
    assert cookie_names(site.get("/", cookie=cookie)) == ["session", "_ga"]


def test_rotated_key_still_verifies(make_site: Callable[..., Site]) -> None:
    old = signed({"secret_key": "old-key"}, ["analytics"])
    site = make_site(spec(), secret_key=["new-key", "old-key"])
    response = site.get("/", cookie=old)
    assert cookie_names(response) == ["session", "_ga"]
    # A new choice is signed with the first (new) key: a config with only it accepts it.
    fresh = site.consent_cookie({"action": "accept_all"})
    only_new = make_site(spec(), secret_key="new-key")
    assert "_fbp" in cookie_names(only_new.get("/", cookie=fresh))
    only_old = make_site(spec(), secret_key="old-key")
    assert cookie_names(only_old.get("/", cookie=fresh)) == ["session"]


def test_policy_version_change_asks_again(make_site: Callable[..., Site]) -> None:
    first = make_site(spec(), policy_version="v1")
    cookie = first.consent_cookie({"action": "accept_all"})
    assert "_ga" in cookie_names(first.get("/", cookie=cookie))
    second = make_site(spec(), policy_version="v2")
    assert cookie_names(second.get("/", cookie=cookie)) == ["session"]
    assert second.get("/consent", cookie=cookie).json()["decided"] is False


def test_deletions_by_the_app_are_never_stripped(make_site: Callable[..., Site]) -> None:
    deletions = [
        "_ga=; Max-Age=0; Path=/",
        "_fbp=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
        "mystery=; Max-Age=-1",
    ]
    site = make_site(AppSpec(set_cookies=deletions))
    response = site.get("/", cookie="_ga=1; _fbp=2")
    sent = response.headers.get_list("set-cookie")
    for value in deletions:
        assert value in sent
    # ... and the middleware does not send a second deletion for the same cookies.
    assert len(sent) == len(deletions)


@pytest.mark.parametrize(
    "value",
    [
        "_ga=1; Max-Age=0; Max-Age=3600",
        "_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=3600",
        "_ga=1; Max-Age=abc",
        "_ga=1; Max-Age=0x0",
        "_ga=1; Expires=not a date",
    ],
)
def test_live_cookies_dressed_as_deletions_are_stripped(
    make_site: Callable[..., Site], value: str
) -> None:
    site = make_site(AppSpec(set_cookies=[value]))
    assert site.get("/").headers.get_list("set-cookie") == []


@pytest.mark.parametrize(
    ("value", "readings"),
    [
        # Chromium stores "" for `=_ga=...` (or refuses it); others store it and send back
        # `Cookie: _ga=...`, which a server reads as `_ga`: judged under both.
        ("=_ga=tracking; Path=/", ("", "_ga")),
        (" \t_ga\t =1", ("_ga",)),
        ("_fbp", ("", "_fbp")),
        ("=_fbp", ("", "_fbp")),
        ('"_ga"=1', ('"_ga"',)),
        ("SESSION=1", ("SESSION",)),
        ("\x0b_fbp=1", ("\x0b_fbp", "_fbp", "")),
        ("_fbp\x00x=1", ("_fbp\x00x", "_fbp")),
    ],
)
def test_names_are_judged_as_browsers_and_servers_read_them(
    make_site: Callable[..., Site], value: str, readings: tuple[str, ...]
) -> None:
    """A Set-Cookie leaves only if every name it may be stored or read back under is
    allowed; so a nameless or odd header cannot smuggle a refused cookie in."""
    from consent_middleware.cookies import judged_names

    assert judged_names(value) == readings
    site = make_site(AppSpec(set_cookies=[value]), unknown_cookies="allow")
    undecided = site.get("/").headers.get_list("set-cookie")
    optional = {"_ga", "_fbp", "lang"}
    assert (value in undecided) == optional.isdisjoint(readings)
    accepted = site.consent_cookie({"action": "accept_all"})
    assert value in site.get("/", cookie=accepted).headers.get_list("set-cookie")
    analytics_only = site.consent_cookie({"action": "save", "categories": ["analytics"]})
    kept = site.get("/", cookie=analytics_only).headers.get_list("set-cookie")
    assert (value in kept) == ({"_fbp", "lang"}.isdisjoint(readings))
    # Blocking unknown names (the default), the empty or odd reading blocks them all.
    strict = make_site(AppSpec(set_cookies=[value]))
    accepted = strict.consent_cookie({"action": "accept_all"})
    kept = strict.get("/", cookie=accepted).headers.get_list("set-cookie")
    assert (value in kept) == (readings == ("_ga",))


def test_expiry_uses_the_path_and_domain_the_app_used(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(set_cookies=["_ga=1; Path=/app; Domain=example.com"]))
    accepted = site.consent_cookie({"action": "accept_all"})
    site.get("/", cookie=accepted)  # the middleware sees where the app puts _ga
    rejected = site.consent_cookie({"action": "reject_all"})
    site.spec.set_cookies = []
    response = site.get("/", cookie=f"_ga=1; {rejected}")
    deletions = [v for v in response.headers.get_list("set-cookie") if v.startswith("_ga=")]
    lowered = [v.lower() for v in deletions]
    assert any("path=/app" in v and "domain=example.com" in v for v in lowered)
    assert any("path=/;" in v + ";" and "domain" not in v for v in lowered)


def test_expiry_uses_the_rule_place(make_site: Callable[..., Site]) -> None:
    from consent_middleware import CookieRule

    site = make_site(
        AppSpec(),
        cookies={"tracker": CookieRule("marketing", path="/shop", domain="example.org")},
    )
    response = site.get("/", cookie="tracker=1")
    deletion, *others = response.headers.get_list("set-cookie")
    assert deletion.startswith("tracker=;")  # the rule's place first
    assert "Path=/shop" in deletion and "Domain=example.org" in deletion
    # Carried to `/`, it may be a script's, host-only at Path=/ (the only path sent to `/`).
    assert [v for v in others if "Domain" not in v and "Path=/;" in v + ";"] == others != []


def test_unknown_cookies_policy(make_site: Callable[..., Site]) -> None:
    blocked = make_site(AppSpec(set_cookies=["mystery=1"]))
    assert blocked.get("/").headers.get_list("set-cookie") == []
    allowed = make_site(AppSpec(set_cookies=["mystery=1"]), unknown_cookies="allow")
    assert allowed.get("/").headers.get_list("set-cookie") == ["mystery=1"]
    as_analytics = make_site(AppSpec(set_cookies=["mystery=1"]), unknown_cookies="analytics")
    assert as_analytics.get("/").headers.get_list("set-cookie") == []
    granted = as_analytics.consent_cookie({"action": "save", "categories": ["analytics"]})
    assert as_analytics.get("/", cookie=granted).headers.get_list("set-cookie") == ["mystery=1"]


def test_unknown_cookie_is_logged_once(
    make_site: Callable[..., Site], caplog: pytest.LogCaptureFixture
) -> None:
    site = make_site(AppSpec(set_cookies=["mystery=1", "mystery=2"]))
    with caplog.at_level("WARNING", logger="consent_middleware"):
        for _ in range(3):
            site.get("/")
    messages = [r.getMessage() for r in caplog.records if "mystery" in r.getMessage()]
    assert len(messages) == 1


def test_app_cannot_set_the_consent_cookie(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(set_cookies=["consent=forged; Path=/"]))
    assert site.get("/").headers.get_list("set-cookie") == []


@pytest.mark.parametrize("status", [200, 302, 404, 500])
def test_every_status_is_filtered(make_site: Callable[..., Site], status: int) -> None:
    site = make_site(AppSpec(set_cookies=list(APP_COOKIES), status=status))
    assert cookie_names(site.get("/")) == ["session"]


def test_get_consent_in_the_app(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec())
    cookie = site.consent_cookie({"action": "save", "categories": ["analytics"]})
    site.get("/", cookie=cookie)
    consent = site.spec.seen[-1]["consent"]
    assert consent.decided and consent.allows("analytics") and not consent.allows("marketing")
    assert consent.allows("authentication")


def test_signed_cookie_uses_own_salt() -> None:
    from itsdangerous import Signer

    codec = ConsentCodec(make_config())
    value = codec.encode(codec.decide(["analytics"]))
    # A signature with the same key but itsdangerous' default salt does not verify.
    plain = Signer(SECRET).sign(value.rsplit(".", 1)[0]).decode()
    assert codec.decode(plain).decided is False
    assert codec.decode(value).decided is True


def test_fails_closed(
    make_site: Callable[..., Site],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = make_site(spec())
    accepted = site.consent_cookie({"action": "accept_all"})

    def broken(*args: object) -> None:
        raise RuntimeError("bug in the policy")

    monkeypatch.setattr(site.middleware.core.policy, "keeps", broken)
    with caplog.at_level("ERROR", logger="consent_middleware"):
        response = site.get("/", cookie=accepted)
    assert response.status_code == 200
    assert "hello" in response.text
    assert cookie_names(response) == ["session"]
    assert any("bug in the policy" in (r.exc_text or "") for r in caplog.records)


def test_deletions_per_response_are_bounded(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec())
    many = "; ".join(f"_ga{i}=1" for i in range(500))
    response = site.get("/", cookie=many)
    assert 0 < len(deleted_names(response)) <= 64


def test_a_forged_consent_cookie_cannot_hide_the_real_one(make_site: Callable[..., Site]) -> None:
    site = make_site(spec())
    real = site.consent_cookie({"action": "save", "categories": ["analytics"]})
    forged = signed({"secret_key": "attacker"}, ["analytics", "marketing"])
    response = site.get("/", cookie=f"{forged}; {real}")
    assert cookie_names(response) == ["session", "_ga"]
    assert "consent" not in deleted_names(response)
