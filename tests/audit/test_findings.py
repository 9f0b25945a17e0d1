"""The findings, from observations built by hand: every check, including the ones that the
real sites in the browser tests never trip (https, lifetimes, pre-ticked boxes, ...)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from consent_middleware import ConsentConfig
from consent_middleware.audit import analyse
from consent_middleware.audit.model import (
    AuditRun,
    BannerInfo,
    ChoiceResult,
    CookieEvent,
    JarCookie,
    RequestSeen,
    Step,
    StorageItem,
    Visit,
    Visitor,
)

URL = "https://shop.example.com/"
NOW = time.time()
DAY = 86400.0
CONFIG = ConsentConfig(
    secret_key="k8Hq2VxZ0rT5mN7pL1sW4yB6cF9gJ3dA",
    cookies={"session": "authentication", "_ga*": "analytics", "_fbp": "marketing"},
)


def cookie(name: str, *, days: float | None = 30, secure: bool = True, **kw: Any) -> JarCookie:
    expires = None if days is None else NOW + days * DAY
    options: dict[str, Any] = {"path": "/", "http_only": False, "same_site": "Lax"}
    options.update(kw)
    return JarCookie(name, "shop.example.com", secure=secure, expires=expires, **options)


def step(visitor: Visitor, state: Any, kind: Any = "page", **kw: Any) -> Step:
    options: dict[str, Any] = {"url": URL, "wall_time": NOW}
    if state != "undecided" and kind == "page":
        options["way_back"] = "[data-consent-open]"
    options.update(kw)
    return Step(visitor, state, kind, **options)


def consent_jar(**kw: Any) -> list[JarCookie]:
    return [cookie("consent", days=180, **kw)]


def clean_visits() -> dict[Visitor, Visit]:
    """What a compliant https site shows its four visitors."""
    chose = ChoiceResult("reject_all", 1, True, "first layer", "reject_all")
    took = ChoiceResult("accept_all", 1, True, "first layer", "accept_all")
    back = ChoiceResult("withdraw", 2, True, "[data-consent-open]", "reject_all")
    accepted_jar = consent_jar() + [cookie("_ga"), cookie("_fbp")]
    return {
        "undecided": Visit("undecided", [step("undecided", "undecided")]),
        "rejected": Visit(
            "rejected",
            [
                step("rejected", "undecided"),
                step("rejected", "rejected", "choice", jar=consent_jar()),
                step("rejected", "rejected", jar=consent_jar()),
            ],
            choice=chose,
        ),
        "accepted": Visit(
            "accepted",
            [
                step("accepted", "undecided"),
                step("accepted", "accepted", "choice", jar=accepted_jar),
                step("accepted", "accepted", jar=accepted_jar),
            ],
            choice=took,
        ),
        "withdrawn": Visit(
            "withdrawn",
            [
                step("withdrawn", "undecided"),
                step("withdrawn", "accepted", "choice", jar=accepted_jar),
                # Right after withdrawing, HttpOnly cookies wait for the next answer.
                step("withdrawn", "withdrawn", "withdrawal", jar=accepted_jar),
                step("withdrawn", "withdrawn", jar=consent_jar()),
            ],
            choice=took,
            withdrawal=back,
        ),
    }


def audit_run(visits: dict[Visitor, Visit] | None = None, **banner: Any) -> AuditRun:
    options: dict[str, Any] = {
        "found": True,
        "page": URL,
        "accept_visible": True,
        "reject_visible": True,
        "customize_visible": True,
        "endpoint": "/consent",
    }
    options.update(banner)
    return AuditRun(
        start_urls=[URL],
        pages=[URL],
        visits=visits or clean_visits(),
        banner=BannerInfo(**options),
        automation={"navigator_webdriver": False},
        browser="Chromium test",
        started_at="2026-12-01T00:00:00Z",
    )


def kinds(run: AuditRun, config: ConsentConfig | None = CONFIG) -> set[tuple[str, str | None]]:
    return {(f.kind, f.cookie) for f in analyse(run, config).findings}


def test_a_compliant_site_has_no_findings() -> None:
    assert kinds(audit_run()) == set()
    assert kinds(audit_run(), None) == set()  # the database knows _ga and _fbp too


def test_consent_cookie_without_secure_on_https() -> None:
    visits = clean_visits()
    visits["rejected"].steps[2].jar = consent_jar(secure=False)
    assert kinds(audit_run(visits)) == {("consent_cookie_not_secure", "consent")}


def test_consent_lasting_more_than_13_months() -> None:
    visits = clean_visits()
    visits["accepted"].steps[2].jar = [cookie("consent", days=400)]
    run = audit_run(visits)
    (finding,) = analyse(run, CONFIG).findings
    assert (finding.kind, finding.visitor) == ("consent_too_long", "accepted")
    assert "400 days" in finding.detail and "CNIL" in finding.rule
    visits["accepted"].steps[2].jar = [cookie("consent", days=395)]
    assert kinds(audit_run(visits)) == set()


def test_pre_ticked_categories() -> None:
    run = audit_run(pre_ticked=("analytics", "marketing"))
    assert kinds(run) == {("pre_ticked_category", None)}
    details = [f.detail for f in analyse(run, CONFIG).findings]
    assert any("'analytics'" in d for d in details) and any("'marketing'" in d for d in details)
    assert "Planet49" in analyse(run, CONFIG).findings[0].rule


def test_reject_taking_more_clicks_than_accept() -> None:
    visits = clean_visits()
    visits["rejected"].choice = ChoiceResult("reject_all", 2, True, "second layer", "a > b")
    (finding,) = analyse(audit_run(visits), CONFIG).findings
    assert finding.kind == "reject_more_clicks"
    assert "2 clicks" in finding.detail and "accepting all 1" in finding.detail


def test_no_reject_on_the_first_layer_and_none_further() -> None:
    visits = clean_visits()
    visits["rejected"].choice = ChoiceResult("reject_all", 1, False, "first layer", "customize")
    run = audit_run(visits, reject_visible=False)
    (finding,) = analyse(run, CONFIG).findings
    assert finding.kind == "no_reject_first_layer"
    assert "no way to reject all was found" in finding.detail


def test_no_way_back_on_a_page() -> None:
    visits = clean_visits()
    visits["accepted"].steps[2].way_back = None
    (finding,) = analyse(audit_run(visits), CONFIG).findings
    assert (finding.kind, finding.visitor, finding.page) == ("no_way_back", "accepted", URL)


def test_withdrawal_that_does_not_work() -> None:
    visits = clean_visits()
    visits["withdrawn"].withdrawal = ChoiceResult("withdraw", 0, False, "DELETE /consent", "403")
    assert ("withdrawal_failed", None) in kinds(audit_run(visits))


def test_no_banner() -> None:
    visits = clean_visits()
    for visitor in ("rejected", "accepted", "withdrawn"):
        visits[visitor] = Visit(visitor, [step(visitor, "undecided")])
    assert kinds(audit_run(visits, found=False)) == {("no_banner", None)}


def test_cookies_that_stay_after_a_withdrawal_but_not_the_ones_expired_at_once() -> None:
    visits = clean_visits()
    # The withdrawal step's own jar does not count (HttpOnly cookies go with the next
    # answer); the next page's does.
    assert kinds(audit_run(visits)) == set()
    visits["withdrawn"].steps[3].jar = consent_jar() + [cookie("_ga")]
    assert kinds(audit_run(visits)) == {("cookie_after_withdrawal", "_ga")}


def test_a_cookie_set_while_refusing_counts_at_once() -> None:
    visits = clean_visits()
    event = CookieEvent("_fbp", "shop.example.com", "server", URL, deletion=False)
    visits["rejected"].steps[1].events = [event]
    assert kinds(audit_run(visits)) == {("cookie_after_refusal", "_fbp")}


def test_storage_keys_and_third_parties_before_a_choice() -> None:
    visits = clean_visits()
    origin = "https://shop.example.com"
    visits["undecided"].steps[0].storage = [StorageItem("_ga_session", origin, "local")]
    visits["undecided"].steps[0].storage_writes = [StorageItem("_fbp_probe", origin, "session")]
    visits["undecided"].steps[0].requests = [
        RequestSeen("https://www.googletagmanager.com/gtm.js", "www.googletagmanager.com",
                    "GET", "script", third_party=True),
        RequestSeen("https://cdn.example.com/site.css", "cdn.example.com", "GET",
                    "stylesheet", third_party=False),
    ]  # fmt: skip
    assert kinds(audit_run(visits)) == {
        ("storage_before_consent", "_ga_session"),
        ("unknown_category", "_fbp_probe"),  # no rule names it, and the database does not
        ("third_party_before_consent", None),
    }


@pytest.mark.parametrize(
    ("config", "category", "source"),
    [
        pytest.param(CONFIG, "unknown", None, id="config-silent"),
        pytest.param(None, "analytics", "database", id="database"),
    ],
)
def test_a_cookie_the_config_does_not_name(
    config: ConsentConfig | None, category: str, source: str | None
) -> None:
    """With a config, a cookie it does not name is "unknown" (a finding), but the database
    still tells that it needs consent; without one, the database names it."""
    visits = clean_visits()
    event = CookieEvent("_hjid", "shop.example.com", "script", URL, deletion=False)
    visits["undecided"].steps[0].events = [event]
    result = analyse(audit_run(visits), config)
    (record,) = [c for c in result.cookies if c.name == "_hjid"]
    assert (record.classification.category, record.classification.source) == (category, source)
    assert record.transient is True and record.set_by == "script"
    expected = {("cookie_before_consent", "_hjid")}
    if config is not None:
        expected.add(("unknown_category", "_hjid"))
    assert {(f.kind, f.cookie) for f in result.findings} == expected


def test_every_kind_of_finding_is_documented_with_its_rule() -> None:
    from pathlib import Path

    from consent_middleware.audit.findings import RULES

    docs = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text()
    for kind in RULES:
        assert f"`{kind}`" in docs, kind
