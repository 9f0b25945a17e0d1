"""Configuration errors are raised at construction, naming the bad value."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from consent_middleware import Category, ConsentConfig, ConsentMiddleware, CookieRule

from .conftest import make_config


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
        ({"language": "xx"}, "'xx'"),
        ({"texts": {"xx": {"title": "x"}}}, "'xx'"),
        ({"languages": ("en",), "texts": {"uk": {"title": "x"}}}, "'uk'"),
        ({"languages": ("en", "xx")}, "'xx'"),
        ({"languages": ("en", "en")}, "twice"),
        ({"languages": "en"}, "'en'"),
        ({"default_language": "xx"}, "'xx'"),
        ({"languages": ("uk",)}, "default_language 'en'"),
        ({"texts": {"en": {"titel": "Cookies?"}}}, "'titel'"),
        ({"texts": {"en": {"title": 3}}}, "'title'"),
        ({"inject_banner": "no"}, "inject_banner 'no'"),
        ({"gate_scripts": 1}, "gate_scripts 1"),
        ({"secure": "yes"}, "secure 'yes'"),
        ({"cookies": ["_ga"]}, "cookies must be a mapping"),
        ({"secret_key": b"bytes-secret"}, "not bytes"),
        ({"secret_key": ["ok", b"k"]}, "secret_key[1] must be a str"),
        ({"privacy_policy_url": "java\tscript:alert(1)"}, "control characters"),
        ({"privacy_policy_url": "\x01javascript:alert(1)"}, "control characters"),
        ({"privacy_policy_url": " JavaScript:alert(1)"}, "'JavaScript'"),
        ({"privacy_policy_url": "vbscript:x"}, "'vbscript'"),
        ({"privacy_policy_url": "data:text/html,x"}, "'data'"),
        ({"policy_updated": "10/05/2024"}, "policy_updated '10/05/2024'"),
        ({"policy_updated": "2024-02-30"}, "policy_updated '2024-02-30'"),
        ({"exclude_paths": "/api/*"}, "exclude_paths"),
        ({"exclude_paths": ["api/*"]}, "'api/*'"),
        ({"trusted_origins": ["https://example.com/path"]}, "'https://example.com/path'"),
        ({"trusted_origins": "https://example.com"}, "trusted_origins"),
        ({"cookie_name": "__Host-consent", "cookie_domain": ".example.com"}, "__Host-"),
        ({"cookie_name": "__Secure-consent", "secure": False}, "__Secure-"),
        ({"cache_bytes": -1}, "cache_bytes"),
        ({"privacy_policy_url": "javascript:alert(1)"}, "javascript"),
        ({"cookie_domain": "exa mple.com"}, "exa mple.com"),
        ({"max_body_size": -1}, "max_body_size"),
        ({"max_body_size": 0}, "at least 1024 bytes"),
        ({"max_body_size": 1023}, "max_body_size 1023"),
        ({"google_consent_mapping": {"analytics": ["analytics_cookies"]}}, "analytics_cookies"),
        ({"google_consent_mapping": {"nope": ["ad_storage"]}}, "'nope'"),
        ({"google_consent_mapping": ["analytics_storage"]}, "google_consent_mapping"),
        ({"google_consent_mapping": {"analytics": "analytics_storage"}}, "'analytics_storage'"),
        ({"google_consent_mapping": {"analytics": [5]}}, "5"),
    ],
)
def test_bad_config_names_the_value(options: dict[str, Any], named: str) -> None:
    base: dict[str, Any] = {"secret_key": "s"}
    base.update(options)
    with pytest.raises(ValueError) as info:
        ConsentConfig(**base)
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"path": "relative"}, "'relative'"),
        ({"path": "/a;b"}, "'/a;b'"),
        ({"domain": "exa mple.com"}, "'exa mple.com'"),
        ({"domain": "example.com; Secure"}, "'example.com; Secure'"),
        ({"domain": ""}, "''"),
        ({"domain": "http://example.com"}, "'http://example.com'"),
    ],
)
def test_bad_cookie_rule_names_the_value(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError) as info:
        CookieRule("analytics", **options)
    assert named in str(info.value)


def test_secret_never_in_the_error() -> None:
    with pytest.raises(ValueError) as info:
        ConsentConfig(secret_key=b"very-secret-bytes-value")  # type: ignore[arg-type]
    assert "very-secret" not in str(info.value)


def test_same_site_in_any_case() -> None:
    assert ConsentConfig(secret_key="s", same_site="Lax").same_site == "lax"  # type: ignore[arg-type]
    assert ConsentConfig(secret_key="s", same_site="STRICT").same_site == "strict"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "hint", "meant"),
    [
        ({"language": "DE"}, "language 'DE' is not one of languages", "de"),
        ({"language": "de-DE"}, "language 'de-DE' is not one of languages", "de"),
        ({"default_language": "De"}, "default_language 'De' is not one of languages", "de"),
        ({"default_language": "fr_FR"}, "default_language 'fr_FR' is not one of languages", "fr"),
    ],
)
def test_a_language_in_another_spelling_gets_a_suggestion(
    options: dict[str, Any], hint: str, meant: str
) -> None:
    """Codes are lower case and without a region: the error says which one was meant."""
    with pytest.raises(ValueError) as info:
        ConsentConfig(secret_key="s", **options)
    assert hint in str(info.value) and f"(did you mean {meant!r}?)" in str(info.value)


def test_a_language_that_is_not_enabled_gets_no_suggestion() -> None:
    with pytest.raises(ValueError) as info:
        ConsentConfig(secret_key="s", language="xx")
    assert "did you mean" not in str(info.value)


def test_typo_in_texts_gets_a_suggestion() -> None:
    with pytest.raises(ValueError, match="did you mean 'title'"):
        ConsentConfig(secret_key="s", texts={"en": {"titel": "Cookies?"}})


def test_language_with_all_texts_is_accepted() -> None:
    from consent_middleware.i18n import TEXTS

    texts = {key: f"[xx] {value}" for key, value in TEXTS["en"].items()}
    config = ConsentConfig(secret_key="s", languages=("en", "xx"), texts={"xx": texts})
    assert config.languages == ("en", "xx")


def test_custom_category_texts_are_known_keys() -> None:
    config = ConsentConfig(
        secret_key="s",
        categories=[Category("necessary", required=True), Category("video")],
        texts={"en": {"category.video.label": "Video"}},
    )
    assert config.texts["en"]["category.video.label"] == "Video"
    with pytest.raises(ValueError, match="category.vidoe.label"):
        ConsentConfig(
            secret_key="s",
            categories=[Category("necessary", required=True), Category("video")],
            texts={"en": {"category.vidoe.label": "Video"}},
        )


def test_allows_a_typo_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    from consent_middleware.consent import ConsentCodec

    consent = ConsentCodec(ConsentConfig(secret_key="s")).decide(["analytics"])
    with caplog.at_level("WARNING", logger="consent_middleware"):
        assert consent.allows("analytic") is False
        assert consent.allows("analytic") is False
    warnings = [r for r in caplog.records if "'analytic'" in r.getMessage()]
    assert len(warnings) == 1
    assert "analytics" in warnings[0].getMessage()  # names what is known
    assert consent.allows("analytics") is True


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


@pytest.mark.parametrize(
    ("records", "named"),
    [
        ("mysql://db/consent", "'mysql://db/consent'"),
        ("sqlite://consent.db", "three slashes"),
        ("sqlite:///:memory:", "outlive the process"),
        ("postgresql://u:pw@db:notaport/x", "not a valid PostgreSQL URL"),
        (42, "int object is not a store"),
    ],
)
def test_bad_records_value_fails_when_the_config_is_built(records: object, named: str) -> None:
    """`records=` is checked with the rest (docs/configuration.md: "a typo fails at start-up"),
    so `check-config module:config` reports it instead of "No findings." for a config the
    middleware then refuses; nothing is opened or created."""
    with pytest.raises(ValueError) as info:
        ConsentConfig(secret_key="s", records=records)
    assert named in str(info.value)
    assert "pw" not in str(info.value)


def test_good_records_values_are_accepted_without_opening(tmp_path: Any) -> None:
    for records in (f"sqlite:///{tmp_path}/r.db", "postgresql://app@db.internal/site", None):
        ConsentConfig(secret_key="s", records=records)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["__host-consent", "__HOST-consent", "__secure-consent"])
def test_cookie_prefixes_count_in_any_case(name: str) -> None:
    """Chromium applies `__Host-`/`__Secure-` in any case: the same checks hold."""
    with pytest.raises(ValueError, match="secure cannot be False"):
        make_config(cookie_name=name, secure=False)
    if name.lower().startswith("__host-"):
        with pytest.raises(ValueError, match="cookie_domain must be None"):
            make_config(cookie_name=name, cookie_domain=".example.com")
