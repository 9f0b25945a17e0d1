"""The visitor's `Consent`, and its signed encoding in the consent cookie.

The cookie holds everything (no server-side session), so any number of processes agree.
A forged, truncated, expired or old-policy cookie reads as undecided: it never grants.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Literal

from itsdangerous import BadSignature, Signer

from .cache import BoundedCache
from .config import ConsentConfig

__all__ = ["Action", "Consent", "ConsentCodec", "new_consent_id"]

Action = Literal["accept_all", "reject_all", "save", "withdraw"]
ACTIONS: tuple[Action, ...] = ("accept_all", "reject_all", "save", "withdraw")

_SALT = "consent_middleware.consent"
#: A real consent cookie is about 130 characters; anything much longer is not one (a site
#: with many long category names raises the bound to its own longest value).
_MAX_COOKIE = 512
#: Format 2 adds when the policy-update notice was dismissed; format 1 still verifies.
_FORMAT = "2"
_FORMATS = ("1", "2")


logger = logging.getLogger("consent_middleware")
_WARNED: set[str] = set()
_MAX_WARNED = 256


def _warn_unknown_category(name: object, known: tuple[str, ...]) -> None:
    key = repr(name)[:80]
    if key in _WARNED or len(_WARNED) >= _MAX_WARNED:
        return
    _WARNED.add(key)
    logger.warning(
        "consent.allows(%s): no such category (known: %s); answering False. Logged once.",
        key,
        ", ".join(known),
    )


def new_consent_id() -> str:
    """A random 128-bit id, 32 lowercase hex characters."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Consent:
    """What one visitor agreed to. Immutable; `categories` names every configured category."""

    categories: Mapping[str, bool]
    decided: bool = False
    policy_version: str = ""
    consent_id: str | None = None
    #: When the visitor decided, seconds since the epoch (UTC).
    decided_ts: int | None = None
    #: Global Privacy Control was present and honoured on this request.
    gpc: bool = False
    #: The choice came from an explicit per-category "save" (Customize), which GPC respects.
    explicit: bool = False
    #: When the visitor last dismissed the policy-update notice (epoch seconds), if ever.
    notice_seen_ts: int | None = None

    def predates(self, timestamp: float) -> bool:
        """Whether the visitor chose, and has not seen the notice, since `timestamp`."""
        seen = max(self.decided_ts or 0, self.notice_seen_ts or 0)
        return self.decided and seen < timestamp

    def allows(self, category: str) -> bool:
        """True when cookies of `category` may be set. A name that is no category is
        refused, with one logged warning per name (a typo must not pass silently)."""
        try:
            return self.categories[category]
        except (KeyError, TypeError):
            _warn_unknown_category(category, tuple(self.categories))
            return False

    @property
    def decided_at(self) -> datetime | None:
        if self.decided_ts is None:
            return None
        return datetime.fromtimestamp(self.decided_ts, tz=timezone.utc)

    @property
    def granted(self) -> tuple[str, ...]:
        return tuple(name for name, ok in self.categories.items() if ok)

    @property
    def refused(self) -> tuple[str, ...]:
        return tuple(name for name, ok in self.categories.items() if not ok)

    def to_state(self) -> dict[str, Any]:
        """The JSON state of `GET /consent`."""
        decided_at = self.decided_at
        return {
            "decided": self.decided,
            "categories": dict(self.categories),
            "policy_version": self.policy_version,
            "consent_id": self.consent_id,
            "decided_at": decided_at.strftime("%Y-%m-%dT%H:%M:%SZ") if decided_at else None,
            "gpc": self.gpc,
        }

    def with_gpc(self, gpc_categories: Iterable[str]) -> Consent:
        """This consent with Global Privacy Control honoured: sale/sharing categories refused,
        unless the visitor switched them on one by one."""
        cats = dict(self.categories)
        if not self.explicit:
            for name in gpc_categories:
                if name in cats:
                    cats[name] = False
        return replace(self, categories=cats, gpc=True)


class ConsentCodec:
    """Signs and verifies consent cookie values, with a bounded cache of verified values.

    The cache maps a cookie value to its decoded payload; expiry is still checked against
    the clock on every hit, so a cached consent never outlives `max_age`.
    """

    def __init__(self, config: ConsentConfig, *, max_bytes: int | None = None) -> None:
        self.config = config
        # itsdangerous signs with the *last* key of a list; the contract says the first signs.
        self._signer = Signer(
            list(reversed(config.secret_keys)),
            salt=_SALT,
            sep=".",
            key_derivation="hmac",
            digest_method=hashlib.sha256,
        )
        self._version_tag = hashlib.sha256(config.policy_version.encode()).hexdigest()[:10]
        # The longest value this config signs: every optional category granted, a notice
        # seen, timestamps far off. A longer one is not ours.
        longest = self.decide(config.optional_categories, now=2**40, notice_seen_ts=2**40)
        self._max_length = max(_MAX_COOKIE, len(self.encode(longest)) + 16)
        self._cache: BoundedCache[str, Consent | None] = BoundedCache(
            config.cache_size,
            self._max_length,
            max_bytes=config.cache_bytes // 10 if max_bytes is None else max_bytes,
            size_of=_entry_size,
        )
        self.undecided = self.make_undecided()

    def make_undecided(self, gpc: bool = False) -> Consent:
        cats = {c.name: c.required for c in self.config.category_list}
        return Consent(cats, decided=False, policy_version=self.config.policy_version, gpc=gpc)

    def decide(
        self,
        granted: Iterable[str],
        *,
        consent_id: str | None = None,
        explicit: bool = False,
        gpc: bool = False,
        now: float | None = None,
        notice_seen_ts: int | None = None,
    ) -> Consent:
        """A new decided consent granting `granted` (required categories always granted)."""
        wanted = set(granted)
        cats = {c.name: c.required or c.name in wanted for c in self.config.category_list}
        return Consent(
            cats,
            decided=True,
            policy_version=self.config.policy_version,
            consent_id=consent_id or new_consent_id(),
            decided_ts=int(time.time() if now is None else now),
            gpc=gpc,
            explicit=explicit,
            notice_seen_ts=notice_seen_ts,
        )

    def encode(self, consent: Consent) -> str:
        """The signed cookie value for a decided consent."""
        granted = "+".join(
            name for name in consent.granted if name not in self.config.required_categories
        )
        payload = "~".join(
            (
                _FORMAT,
                consent.consent_id or new_consent_id(),
                format(consent.decided_ts or int(time.time()), "x"),
                granted or "-",
                "e" if consent.explicit else "-",
                self._version_tag,
                "-" if consent.notice_seen_ts is None else format(consent.notice_seen_ts, "x"),
            )
        )
        return self._signer.sign(payload).decode("ascii")

    def decode(self, value: str | None, now: float | None = None) -> Consent:
        """The consent a cookie value stands for; undecided for anything not valid now."""
        if not value:
            return self.undecided
        cached = self._cache.get(value, _MISSING)
        if cached is _MISSING:
            cached = self._verify(value)
            self._cache.put(value, cached)
        if cached is None:
            return self.undecided
        assert isinstance(cached, Consent)
        if not cached.decided:
            return cached  # authentic, but of an older policy: undecided, same consent id
        assert cached.decided_ts is not None
        current = time.time() if now is None else now
        if current - cached.decided_ts >= self.config.max_age_seconds:
            return self._undecided_with(cached.consent_id)
        return cached

    def _undecided_with(self, consent_id: str | None) -> Consent:
        return replace(self.undecided, consent_id=consent_id)

    def _verify(self, value: str) -> Consent | None:
        """The consent of a signed value; an undecided one (that keeps its consent id, so
        the visitor's history goes on) for an authentic cookie of an older policy; None
        for anything forged or malformed."""
        if len(value) > self._max_length:
            return None
        try:
            payload = self._signer.unsign(value.encode("latin-1", "replace")).decode("ascii")
        except (BadSignature, UnicodeError):
            return None
        parts = payload.split("~")
        if not parts or parts[0] not in _FORMATS or len(parts) != (6 if parts[0] == "1" else 7):
            return None
        consent_id, ts_hex, granted, explicit, tag = parts[1:6]
        seen_hex = parts[6] if len(parts) == 7 else "-"
        try:
            decided_ts = int(ts_hex, 16)
            seen = None if seen_hex == "-" else int(seen_hex, 16)
        except ValueError:
            return None
        if len(consent_id) != 32 or any(ch not in "0123456789abcdef" for ch in consent_id):
            return None
        if tag != self._version_tag:
            return self._undecided_with(consent_id)
        names = set() if granted == "-" else set(granted.split("+"))
        return self.decide(
            names,
            consent_id=consent_id,
            explicit=explicit == "e",
            now=decided_ts,
            notice_seen_ts=seen,
        )


_MISSING: Any = object()


def _entry_size(key: str, value: Consent | None) -> int:
    # The key, and a Consent with its categories dict (shared shape, small).
    return len(key) + 800
