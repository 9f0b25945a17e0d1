"""A banner page's choice token names when the page was rendered, and counts as the same
choice only while fresh (`choice_tokens.py`)."""

from __future__ import annotations

import re

import pytest

from consent_middleware.choice_tokens import FRESH_FOR, is_fresh, new_page_token

NOW = 1_780_000_000


def test_a_new_token_is_url_safe_random_and_fresh() -> None:
    tokens = {new_page_token(NOW) for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert re.fullmatch(r"[0-9a-f]{8}[A-Za-z0-9_-]{16}", token)
        assert int(token[:8], 16) == NOW
        assert is_fresh(token, NOW)


@pytest.mark.parametrize(
    ("age", "fresh"),
    [
        (0, True),
        (FRESH_FOR - 1, True),
        (FRESH_FOR, False),
        (86400, False),
        (-60, True),
        (-61, False),
    ],
)
def test_freshness(age: int, fresh: bool) -> None:
    assert is_fresh(new_page_token(NOW - age), NOW) is fresh


@pytest.mark.parametrize(
    "token",
    [
        "nP8gttmoY1sp2hvt",  # a token of the older, random-only kind
        "zzzzzzzz" + "a" * 16,  # no time in front
        new_page_token(NOW) + "x",  # too long
        "",
    ],
)
def test_tokens_of_another_shape_are_not_fresh(token: str) -> None:
    assert not is_fresh(token, NOW)
