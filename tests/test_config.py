"""Configuration errors are raised at construction, naming the bad value."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from consent_middleware import Category, ConsentConfig, ConsentMiddleware, CookieRule


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"secret_key": ""}, "secret_key"),
        ({"secret_key": []}, "secret_key"),
        ({"secret_key": ["ok", " "]}, "secret_key"),
        ({"cookies": {"_ga": "tracking"}}, "'tracking'"),
        ({"cookies": {"a b": "analytics"}}, "'a b'"),
        ({"cookies": {"a;b": "analytics"}}, "'a;b'"),
        ({"cookies": {"a[b": "analytics"}}, "'a[b'"),
        ({"cookies": {"consent": "analytics"}}, "'consent'"),
        ({"cookies": {"x": CookieRule("analytics", path="relative")}}, "'relative'"),
        ({"cookies": {"x": 3}}, "cookies['x']"),
        ({"categories": [Category("a"), Category("a")]}, "'a'"),
        ({"categories": []}, "categories"),
        ({"unknown_cookies": "maybe"}, "'maybe'"),
        ({"policy_version": ""}, "policy_version"),
        ({"max_age": 0}, "max_age"),
        ({"max_age": timedelta(seconds=-5)}, "max_age"),
        ({"same_site": "sometimes"}, "'sometimes'"),
        ({"same_site": "none", "secure": False}, "same_site"),
        ({"cookie_name": "bad name"}, "'bad name'"),
        ({"path_prefix": "consent"}, "'consent'"),
        ({"path_prefix": "/consent/"}, "'/consent/'"),
        ({"languages": ["english"]}, "english"),
        ({"languages": []}, "languages"),
        ({"language": "de"}, "'de'"),
        ({"texts": {"de": {"title": "x"}}}, "'de'"),
        ({"privacy_policy_url": "javascript:alert(1)"}, "javascript"),
        ({"cookie_domain": "exa mple.com"}, "exa mple.com"),
        ({"max_body_size": -1}, "max_body_size"),
        ({"google_consent_mapping": {"analytics": ["analytics_cookies"]}}, "analytics_cookies"),
        ({"google_consent_mapping": {"nope": ["ad_storage"]}}, "'nope'"),
    ],
)
def test_bad_config_names_the_value(options: dict[str, Any], named: str) -> None:
    base: dict[str, Any] = {"secret_key": "s"}
    base.update(options)
    with pytest.raises(ValueError) as info:
        ConsentConfig(**base)
    assert named in str(info.value)


def test_bad_category_name() -> None:
    with pytest.raises(ValueError, match="'Bad Name'"):
        Category("Bad Name")


def test_middleware_refuses_something_else_than_a_config() -> None:
    with pytest.raises(ValueError, match="ConsentConfig"):
        ConsentMiddleware(lambda *a: None, config={"secret_key": "x"})  # type: ignore[arg-type]


def test_defaults() -> None:
    config = ConsentConfig(secret_key="s")
    assert config.category_names == ("authentication", "settings", "analytics", "marketing")
    assert config.optional_categories == ("settings", "analytics", "marketing")
    assert config.max_age_seconds == 180 * 86400
    assert config.cookie_name == "consent" and config.path_prefix == "/consent"
    assert config.gpc_categories == frozenset({"marketing"})


def test_rules_exact_prefix_and_glob() -> None:
    config = ConsentConfig(
        secret_key="s",
        cookies={
            "_ga": "analytics",
            "_gat_*": "analytics",
            "ad?": "marketing",
            "x[0-9]": "settings",
        },
    )
    assert config.rule_for("_ga") == CookieRule("analytics")
    assert config.rule_for("_ga_x") is None
    assert config.rule_for("_gat_UA1") == CookieRule("analytics")
    assert config.rule_for("ads") == CookieRule("marketing")
    assert config.rule_for("x7") == CookieRule("settings")
    assert config.rule_for("xa") is None


def test_custom_categories() -> None:
    config = ConsentConfig(
        secret_key="s",
        categories=[Category("necessary", required=True), Category("video", "Embedded video")],
        cookies={"yt*": "video"},
    )
    assert config.optional_categories == ("video",)
    assert config.category("video").label == "Embedded video"
