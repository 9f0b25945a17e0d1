"""Records for the tests: real ones, signed with a real key."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

from consent_middleware.records import Record, RecordSigner, new_record, texts_hash

SECRET = "records-test-secret-0123456789"
SIGNER = RecordSigner(SECRET)
TEXTS = {"title": "We use cookies", "accept_all": "Accept all", "reject_all": "Reject all"}
TEXTS_UK = {"title": "Ми використовуємо файли cookie", "accept_all": "Прийняти всі"}
HASH = texts_hash("en", TEXTS)
HASH_UK = texts_hash("uk", TEXTS_UK)
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)

_ids = itertools.count(1)


def consent_id(n: int | None = None) -> str:
    return f"{n if n is not None else next(_ids):032x}"


def make(n: int = 0, **overrides: Any) -> Record:
    """A signed record `n` minutes after T0; any field can be overridden."""
    options: dict[str, Any] = {
        "consent_id": consent_id(),
        "action": "save",
        "granted": ("authentication", "analytics"),
        "refused": ("settings", "marketing"),
        "policy_version": "2026-02-24",
        "method": "js",
        "language": "en",
        "texts_hash": HASH,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "time": T0 + timedelta(minutes=n),
    }
    options.update(overrides)
    return SIGNER.sign(new_record(**options))
