"""Tamper evidence: an HMAC over each record, keyed from the site's secret.

The records key is derived per secret, HMAC-SHA256(secret, "consent_middleware.records"),
so the raw secret (which also signs consent cookies) is never used for records and never
stored. A record names its key by `key_id` (the first 8 hex of sha256 of the derived key),
so records signed before a key rotation still verify as long as the old secret is given.
The key lives in the app's configuration, never beside the records: whoever can edit the
database cannot forge a MAC.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from .model import Record

__all__ = ["Check", "RecordSigner", "derive_key", "key_id"]

_PURPOSE = b"consent_middleware.records"
_DOMAIN = b"consent_middleware.records.v1\n"

#: What `RecordSigner.check` found: intact, changed, or signed with a key we were not given.
Check = Literal["ok", "altered", "unknown_key"]


def derive_key(secret: str) -> bytes:
    """The records key of one secret (never the secret itself)."""
    return hmac.new(secret.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()


def key_id(key: bytes) -> str:
    """A short public name of a derived key: safe to store, tells nothing about the key."""
    return hashlib.sha256(key).hexdigest()[:8]


def _payload(record: Record) -> bytes:
    fields = json.dumps(
        record.signing_fields(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return _DOMAIN + fields.encode("utf-8")


class RecordSigner:
    """Signs with the first secret; verifies with any of them, chosen by key id.

    `secrets` is what `ConsentConfig.secret_keys` holds: a str or a list, newest first.
    """

    def __init__(self, secrets: str | Sequence[str]) -> None:
        keys = [secrets] if isinstance(secrets, str) else list(secrets)
        if not keys or not all(isinstance(key, str) and key for key in keys):
            raise ValueError("RecordSigner needs at least one non-empty secret")
        derived = [derive_key(key) for key in keys]
        self._keys: dict[str, bytes] = {}
        for key in derived:
            self._keys.setdefault(key_id(key), key)
        self.key_id = key_id(derived[0])

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def sign(self, record: Record) -> Record:
        """The record with `key_id` and `mac` of the signing key."""
        unsigned = replace(record, key_id=self.key_id)
        mac = hmac.new(self._keys[self.key_id], _payload(unsigned), hashlib.sha256).hexdigest()
        return replace(unsigned, mac=mac)

    def check(self, record: Record) -> Check:
        key = self._keys.get(record.key_id)
        if key is None:
            return "unknown_key"
        expected = hmac.new(key, _payload(record), hashlib.sha256).digest()
        given = record.mac.encode("utf-8", "replace")
        return "ok" if hmac.compare_digest(expected.hex().encode(), given) else "altered"

    def verify(self, record: Record) -> bool:
        """True only when the record is exactly as it was signed."""
        return self.check(record) == "ok"
