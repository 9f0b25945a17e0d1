"""The example site's keys: `CONSENT_SECRETS` rotates them (the new one signs, the old ones
still verify), `CONSENT_SECRET` stays the one-key setting."""

from __future__ import annotations

import pytest

from consent_middleware.consent import ConsentCodec
from examples.site import config as site_config

OLD = "old-integrica-key-0123456789abcdef"
NEW = "new-integrica-key-fedcba9876543210"


def test_one_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENT_SECRETS", raising=False)
    monkeypatch.setenv("CONSENT_SECRET", OLD)
    assert site_config.secret_keys() == [OLD]
    assert site_config.make_config().secret_keys == (OLD,)


def test_no_secret_is_the_development_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENT_SECRETS", raising=False)
    monkeypatch.delenv("CONSENT_SECRET", raising=False)
    assert site_config.secret_keys() == [site_config.DEV_SECRET]


@pytest.mark.parametrize("listed", [f"{NEW},{OLD}", f" {NEW} , {OLD} ,", f"{NEW},,{OLD}"])
def test_rotated_secrets_new_first(monkeypatch: pytest.MonkeyPatch, listed: str) -> None:
    monkeypatch.setenv("CONSENT_SECRET", "ignored-while-secrets-are-listed")
    monkeypatch.setenv("CONSENT_SECRETS", listed)
    assert site_config.secret_keys() == [NEW, OLD]
    assert site_config.secret_key() == NEW


def test_blank_secrets_fall_back_to_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_SECRET", OLD)
    monkeypatch.setenv("CONSENT_SECRETS", " , ")
    assert site_config.secret_keys() == [OLD]


def test_old_cookies_verify_and_new_ones_are_signed_by_the_new_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CONSENT_SECRETS", raising=False)
    monkeypatch.setenv("CONSENT_SECRET", OLD)
    before = ConsentCodec(site_config.make_config())
    old_cookie = before.encode(before.decide(["analytics"]))

    monkeypatch.setenv("CONSENT_SECRETS", f"{NEW},{OLD}")
    after = ConsentCodec(site_config.make_config())
    assert after.decode(old_cookie).allows("analytics")
    new_cookie = after.encode(after.decide(["settings"]))

    monkeypatch.setenv("CONSENT_SECRETS", NEW)
    only_new = ConsentCodec(site_config.make_config())
    assert only_new.decode(new_cookie).allows("settings")
    assert not before.decode(new_cookie).decided
