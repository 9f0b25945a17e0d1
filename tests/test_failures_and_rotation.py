"""What `make load` found: the middleware's own failures are logged once per kind, not once
per request; and a first choice retried across a key rotation stays one choice."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_middleware import ConsentMiddleware
from consent_middleware.policy import ConsentPolicy
from consent_middleware.records import open_store

from .conftest import AppSpec, make_config, raw_asgi_app


def broken(*args: object, **kwargs: object) -> Any:
    raise RuntimeError("a bug in the middleware")


@pytest.mark.parametrize("method", ["keeps", "read_request"])
def test_each_kind_of_own_failure_is_logged_once(
    make_site: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    site = make_site(AppSpec(set_cookies=["_ga=1; Path=/"]))
    monkeypatch.setattr(ConsentPolicy, method, broken)
    with caplog.at_level(logging.ERROR, logger="consent_middleware"):
        for _ in range(5):
            assert site.get("/").status_code == 200
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


def test_a_first_choice_retried_across_a_key_rotation_is_one_record(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/records.db"
    body = b'{"action": "accept_all"}'
    headers = {
        "Content-Type": "application/json",
        "Sec-Fetch-Site": "same-origin",
        "Idempotency-Key": "retried-choice-0001",
    }

    def site(keys: list[str]) -> TestClient:
        app = ConsentMiddleware(
            raw_asgi_app(AppSpec()), config=make_config(secret_key=keys, records=url)
        )
        return TestClient(app)

    before = site(["old-key-0123456789abcdef"]).post("/consent", content=body, headers=headers)
    after = site(["new-key-fedcba9876543210", "old-key-0123456789abcdef"]).post(
        "/consent", content=body, headers=headers
    )
    store = open_store(url)
    assert store is not None
    assert after.json()["consent_id"] == before.json()["consent_id"]
    assert store.count() == 1
