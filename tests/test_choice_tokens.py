"""A banner page's choice token names when the page was rendered, and counts as the same
choice only while fresh (`choice_tokens.py`)."""

from __future__ import annotations

import os
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


def test_tokens_stay_unique_across_batches_of_random_parts() -> None:
    # The random parts are read from the system in batches of 256: several batches.
    tokens = [new_page_token(NOW) for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    assert len({token[8:] for token in tokens}) == len(tokens)


def test_a_forked_worker_never_repeats_its_parents_tokens() -> None:
    # gunicorn forks its workers from one process: a batch read before the fork must not
    # give two workers the same tokens.
    new_page_token(NOW)  # the parent holds a batch now
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.write(writer, ",".join(new_page_token(NOW) for _ in range(50)).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        theirs = set(pipe.read().split(","))
    os.waitpid(child, 0)
    ours = {new_page_token(NOW) for _ in range(50)}
    assert len(theirs) == 50
    assert not ours & theirs


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
