"""A Set-Cookie's verdict is remembered by its shape (the header without its value): the memo
must answer exactly what a first judgement would, on bytes and on text, and never let a
header through that a first judgement would stop."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from consent_middleware.policy import ConsentPolicy

from .conftest import make_config
from .test_policy_fresh_values import fresh, visitor


def test_bytes_and_text_get_the_same_verdicts_fresh_or_not() -> None:
    policy = ConsentPolicy(make_config())
    state = visitor(policy, ["analytics"])
    cases = [
        ("_ga", "Path=/; Max-Age=63072000", True),
        ("_fbp", "Path=/; Max-Age=7776000", False),
        ("_fbp", "Path=/; Max-Age=0", True),
        ("_fbp", "Path=/; Max-Age=0; Max-Age=abc", False),
        ("session", "Path=/; HttpOnly", True),
        ("consent", "Path=/", False),  # the middleware's own cookie
    ]
    for _ in range(3):
        for name, attributes, kept in cases:
            value = fresh(name, attributes)
            assert policy.keeps(value, state) is kept, value
            assert policy.keeps(value.encode("latin-1"), state) is kept, value


def test_a_line_break_in_the_value_is_stopped_though_the_shape_is_known() -> None:
    """The shape of `_ga=1\\r\\nSet-Cookie: _fbp=1; Path=/` is that of a kept `_ga`; the
    header must still go (a lax server would send two headers)."""
    policy = ConsentPolicy(make_config())
    state = visitor(policy, ["analytics"])
    assert policy.keeps("_ga=1; Path=/", state)
    assert policy.keeps(b"_ga=1; Path=/", state)
    for smuggled in ("_ga=1\r\nSet-Cookie: _fbp=1; Path=/", "_ga=1\nSet-Cookie: _fbp=1; Path=/"):
        assert not policy.keeps(smuggled, state)
        assert not policy.keeps(smuggled.encode("latin-1"), state)


def test_a_deletion_by_date_is_compared_with_the_clock_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`Expires` a day from now is a cookie that is set (refused: removed); two days later
    the same header is a deletion (kept). A remembered verdict must not freeze the first."""
    policy = ConsentPolicy(make_config())
    state = visitor(policy, ["analytics"])
    now = time.time()
    header = "_fbp=x; Path=/; Expires=" + formatdate(now + 3600, usegmt=True)
    assert not policy.keeps(header, state)
    assert not policy.keeps(header.encode("latin-1"), state)
    later = now + 3 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert policy.keeps(header, state)
    assert policy.keeps(header.encode("latin-1"), state)


def test_nameless_cookies_are_judged_by_their_value_every_time() -> None:
    """` =lang=en` comes back to a server as `lang=en` and ` =_fbp=1` as `_fbp=1`: with
    settings granted and marketing refused, one shape (` =; Path=/`) has two verdicts."""
    policy = ConsentPolicy(make_config(unknown_cookies="allow"))
    state = visitor(policy, ["settings"])
    for blank in (" ", "\t", ""):
        for _ in range(2):
            assert policy.keeps(f"{blank}=lang=en; Path=/", state)
            assert policy.keeps(f"{blank}=lang=en; Path=/".encode(), state)
            assert not policy.keeps(f"{blank}=_fbp=1; Path=/", state)
            assert not policy.keeps(f"{blank}=_fbp=1; Path=/".encode(), state)


def test_the_memo_is_bounded_by_bytes() -> None:
    """An app that echoes request paths into cookie attributes makes a new shape per
    request: the memo must stay within its share of `cache_bytes`."""
    config = make_config(cache_bytes=200_000)
    policy = ConsentPolicy(config)
    state = visitor(policy, ["analytics"])
    for n in range(5000):
        assert policy.keeps(f"_ga=1; Path=/u/{n:0200d}", state)
        assert policy._verdict_bytes <= policy._verdict_limit
    assert len(state.verdicts) <= policy._verdict_limit // 200


def test_no_cache_means_no_memo() -> None:
    policy = ConsentPolicy(make_config(cache_size=0))
    state = visitor(policy, ["analytics"])
    for _ in range(3):
        assert policy.keeps(fresh("_ga", "Path=/"), state)
        assert not policy.keeps(fresh("_fbp", "Path=/"), state)
    assert not state.verdicts


def test_the_memo_is_bounded_by_entries() -> None:
    policy = ConsentPolicy(make_config(cache_bytes=512 * 1024 * 1024))
    state = visitor(policy, ["analytics"])
    for n in range(3000):
        # At the rule's place: nothing to learn (learning a new one may start tables over).
        assert policy.keeps(f"_ga=1; Max-Age={n + 1000}; Path=/", state)
        assert len(state.verdicts) <= 1024
    assert len(state.verdicts) > 0
