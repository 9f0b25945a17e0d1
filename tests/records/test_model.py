"""The pure parts of proof of consent: records, their MAC, texts hashes, IPs, user agents."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from consent_middleware.records import (
    FIELDS,
    Record,
    RecordSigner,
    new_record,
    record_id_for,
    shorten_user_agent,
    texts_hash,
    truncate_ip,
)
from consent_middleware.records.model import format_time, parse_time

from .helpers import HASH, SECRET, SIGNER, T0, TEXTS, make

# -- records ---------------------------------------------------------------------------


def test_record_json_round_trip() -> None:
    record = make(client_ip="203.0.113.9")
    data = record.to_json()
    assert list(data) == list(FIELDS)
    assert data["time"] == "2026-03-01T12:00:00.000Z"
    assert data["granted"] == ["authentication", "analytics"]
    assert data["ip"] == "203.0.113.0/24"
    assert Record.from_json(data) == record
    assert SIGNER.verify(Record.from_json(data))


def test_time_is_utc_to_the_millisecond() -> None:
    kyiv = timezone(timedelta(hours=2))
    record = make(time=datetime(2026, 3, 1, 14, 0, 0, 123987, tzinfo=kyiv))
    assert record.time == datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)
    assert format_time(record.time) == "2026-03-01T12:00:00.123Z"
    assert parse_time("2026-03-01T12:00:00.123Z") == record.time
    assert parse_time("2026-03-01T14:00:00+02:00") == T0


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        make(time=datetime(2026, 3, 1, 12, 0))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("consent_id", "ABC", "consent_id", id="consent-id"),
        pytest.param("consent_id", "A" * 32, "consent_id", id="consent-id-upper"),
        pytest.param("action", "maybe", "action", id="action"),
        pytest.param("method", "carrier-pigeon", "method", id="method"),
        pytest.param("granted", ("Analytics!",), "category", id="category-name"),
        pytest.param("granted", ("analytics", "analytics"), "twice", id="granted-twice"),
        pytest.param("refused", ("analytics",), "both granted and refused", id="overlap"),
        pytest.param("language", "english please", "language", id="language"),
        pytest.param("texts_hash", "abc", "texts_hash", id="texts-hash"),
        pytest.param("policy_version", "", "policy_version", id="policy-version"),
    ],
)
def test_bad_fields_are_refused(field: str, value: Any, message: str) -> None:
    overrides = {field: value}
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_record_id_is_stable_for_a_retried_choice() -> None:
    consent = "ab" * 16
    first = record_id_for(consent, "token-1")
    assert first == record_id_for(consent, "token-1")
    assert first == hashlib.sha256(f"{consent}:token-1".encode()).hexdigest()[:32]
    assert first != record_id_for(consent, "token-2")
    assert first != record_id_for("cd" * 16, "token-1")
    assert record_id_for(consent, None) != record_id_for(consent, None)
    # An absurd token is no token: a random id.
    assert record_id_for(consent, "x" * 5000) != record_id_for(consent, "x" * 5000)


def test_new_record_shortens_and_truncates() -> None:
    record = new_record(
        consent_id="ab" * 16,
        action="accept_all",
        granted=("authentication", "settings"),
        refused=(),
        policy_version="1",
        method="form",
        language="en",
        texts_hash=HASH,
        user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like"
        " Gecko) Chrome/126.0.0.0 Safari/537.36",
        client_ip="198.51.100.77",
    )
    assert record.user_agent == "Chrome 126 on Windows"
    assert record.ip == "198.51.100.0/24"
    assert record.time.tzinfo is timezone.utc
    assert not record.signed


# -- signing ---------------------------------------------------------------------------


def test_the_key_is_derived_never_the_raw_secret() -> None:
    derived = hmac.new(SECRET.encode(), b"consent_middleware.records", hashlib.sha256).digest()
    record = make()
    assert record.key_id == hashlib.sha256(derived).hexdigest()[:8]
    raw = hmac.new(SECRET.encode(), b"", hashlib.sha256).hexdigest()
    assert SECRET not in repr(record) and record.mac != raw
    assert record.key_id != hashlib.sha256(SECRET.encode()).hexdigest()[:8]


_CHANGES: dict[str, Any] = {
    "record_id": "f" * 32,
    "consent_id": "e" * 32,
    "time": T0 + timedelta(milliseconds=1),
    "policy_version": "2026-02-25",
    "action": "accept_all",
    "granted": ("authentication", "analytics", "marketing"),
    "refused": ("settings",),
    "method": "form",
    "language": "uk",
    "texts_hash": "0" * 64,
    "user_agent": "Chrome 126 on Windows",
    "gpc": True,
    "ip": "203.0.113.0/24",
    "key_id": "00000000",
    "mac": "0" * 64,
}


@pytest.mark.parametrize("field", [name for name in FIELDS])
def test_every_field_is_covered_by_the_mac(field: str) -> None:
    record = make()
    assert SIGNER.check(record) == "ok"
    changed = dataclasses.replace(record, **{field: _CHANGES[field]})
    expected = "unknown_key" if field == "key_id" else "altered"
    assert SIGNER.check(changed) == expected


def test_order_of_categories_is_covered() -> None:
    record = make()
    swapped = dataclasses.replace(record, granted=tuple(reversed(record.granted)))
    assert not SIGNER.verify(swapped)


def test_rotated_secrets_still_verify() -> None:
    old = make()
    rotated = RecordSigner(["a-brand-new-secret-987654321", SECRET])
    assert rotated.key_id != old.key_id
    assert rotated.check(old) == "ok"
    new = rotated.sign(dataclasses.replace(old, key_id="", mac=""))
    assert new.key_id == rotated.key_id and rotated.verify(new)
    assert SIGNER.check(new) == "unknown_key"


def test_a_garbled_mac_fails_without_crashing() -> None:
    assert SIGNER.check(dataclasses.replace(make(), mac="ü" * 64)) == "altered"


def test_signer_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        RecordSigner([])


# -- texts -----------------------------------------------------------------------------


def test_texts_hash_is_canonical_and_sensitive() -> None:
    reordered = dict(reversed(list(TEXTS.items())))
    assert texts_hash("en", reordered) == texts_hash("en", TEXTS) == HASH
    assert len(HASH) == 64
    assert texts_hash("de", TEXTS) != HASH
    changed = {**TEXTS, "title": "We use cookies."}
    assert texts_hash("en", changed) != HASH


def test_shown_texts_follow_the_site_config() -> None:
    from consent_middleware import Category, ConsentConfig
    from consent_middleware.records import shown_texts

    config = ConsentConfig(
        secret_key=SECRET,
        categories=[Category("authentication", required=True), Category("stats", "Stats")],
        texts={"en": {"title": "Cookies, honestly"}},
    )
    digest, texts = shown_texts(config, "en")
    assert texts["title"] == "Cookies, honestly"
    assert texts["category.stats.label"] == "Stats"
    assert "category.marketing.label" not in texts
    assert digest == texts_hash("en", texts)
    uk_digest, uk_texts = shown_texts(config, "uk")
    assert uk_digest != digest and uk_texts["accept_all"] != texts["accept_all"]


# -- IP addresses and user agents ------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        pytest.param("203.0.113.77", "203.0.113.0/24", id="ipv4"),
        pytest.param(" 203.0.113.77 ", "203.0.113.0/24", id="ipv4-spaces"),
        pytest.param("2001:db8:1234:5678::1", "2001:db8:1234::/48", id="ipv6"),
        pytest.param("[2001:db8:1234:5678::1]", "2001:db8:1234::/48", id="ipv6-brackets"),
        pytest.param("fe80::1%eth0", "fe80::/48", id="ipv6-zone"),
        pytest.param("::ffff:198.51.100.9", "198.51.100.0/24", id="ipv4-mapped"),
        pytest.param("not an ip", None, id="garbage"),
        pytest.param("203.0.113.300", None, id="out-of-range"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_truncate_ip(given: str | None, kept: str | None) -> None:
    assert truncate_ip(given) == kept


@pytest.mark.parametrize(
    ("agent", "short"),
    [
        pytest.param(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87",
            "Edge 126 on Windows",
            id="edge",
        ),
        pytest.param(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like"
            " Gecko) Version/17.5 Safari/605.1.15",
            "Safari 17 on macOS",
            id="safari",
        ),
        pytest.param(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
            " like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari 17 on iOS",
            id="safari-ios",
        ),
        pytest.param(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/126.0.6478.122 Mobile Safari/537.36",
            "Chrome 126 on Android",
            id="chrome-android",
        ),
        pytest.param(
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox 128 on Linux",
            id="firefox",
        ),
        pytest.param("curl/8.5.0", "curl 8", id="curl"),
        pytest.param("SomeBot/" + "x" * 300, "SomeBot/" + "x" * 112, id="unknown-cut"),
        pytest.param("bad\x00\x1fbytes\u00e9", "bad bytes", id="unprintable"),
        pytest.param(None, "", id="none"),
    ],
)
def test_shorten_user_agent(agent: str | None, short: str) -> None:
    assert shorten_user_agent(agent) == short
    assert len(shorten_user_agent(agent)) <= 120
