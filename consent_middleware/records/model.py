"""The `Record`: one choice a visitor made, as the proof of consent keeps it.

A record is immutable and carries everything a regulator asks about (GDPR art. 7(1)):
who (the consent id), when, under which policy version, what was granted and refused,
how the choice was made, and what the visitor was shown (language and texts hash).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, cast

__all__ = [
    "ACTIONS",
    "FIELDS",
    "METHODS",
    "Method",
    "Record",
    "RecordAction",
    "format_time",
    "parse_time",
]

RecordAction = Literal["accept_all", "reject_all", "save", "withdraw"]
Method = Literal["js", "form", "api"]
ACTIONS: tuple[RecordAction, ...] = ("accept_all", "reject_all", "save", "withdraw")
METHODS: tuple[Method, ...] = ("js", "form", "api")

#: The fields of a record in their export order (CSV columns, JSON keys).
FIELDS: tuple[str, ...] = (
    "record_id",
    "consent_id",
    "time",
    "policy_version",
    "action",
    "granted",
    "refused",
    "method",
    "language",
    "texts_hash",
    "user_agent",
    "gpc",
    "ip",
    "key_id",
    "mac",
)

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KEY_ID = re.compile(r"^[0-9a-f]{8}$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$")
_MAX_USER_AGENT = 200
_MAX_POLICY_VERSION = 200


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and "Z": fixed width, so text order is time order."""
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """The inverse of `format_time`; also reads "+00:00" offsets and whole seconds."""
    match = _TIME.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"time {text!r} is not an ISO 8601 time such as 2026-11-25T10:00:00Z")
    base, fraction, zone = match.groups()
    parsed = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    if fraction:
        parsed = parsed.replace(microsecond=int(fraction.ljust(6, "0")))
    return _utc_ms(parsed)


def _utc_ms(value: datetime) -> datetime:
    """UTC, cut to milliseconds: what every store keeps exactly, so the MAC still matches."""
    utc = value.astimezone(timezone.utc)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Record:
    """One choice. `key_id` and `mac` are empty until `RecordSigner.sign` fills them.

    `time` is kept in UTC to the millisecond (every store keeps that exactly). `ip` is
    None unless the site turned on `record_ip`, and then only a truncated network such
    as "203.0.113.0/24". `user_agent` is the shortened form of `shorten_user_agent`.
    """

    record_id: str
    consent_id: str
    time: datetime
    policy_version: str
    action: RecordAction
    granted: tuple[str, ...]
    refused: tuple[str, ...]
    method: Method
    language: str
    texts_hash: str
    user_agent: str = ""
    gpc: bool = False
    ip: str | None = None
    key_id: str = ""
    mac: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.time, datetime) or self.time.tzinfo is None:
            raise ValueError(f"record time {self.time!r} must be an aware datetime (UTC)")
        set_(self, "time", _utc_ms(self.time))
        set_(self, "granted", tuple(self.granted))
        set_(self, "refused", tuple(self.refused))

    @property
    def signed(self) -> bool:
        return bool(self.key_id and self.mac)

    def validate(self) -> Record:
        """Raise ValueError naming the first bad field; stores call this before they write.

        Reading does not validate: a record changed behind the store's back must still
        come out, so that `records verify` can name it.
        """
        if not _HEX32.match(self.record_id):
            raise ValueError(f"record_id {self.record_id!r} must be 32 lowercase hex characters")
        if not _HEX32.match(self.consent_id):
            raise ValueError(f"consent_id {self.consent_id!r} must be 32 lowercase hex characters")
        if (
            not isinstance(self.policy_version, str)
            or not self.policy_version
            or len(self.policy_version) > _MAX_POLICY_VERSION
            or not _PRINTABLE.match(self.policy_version)
        ):
            raise ValueError(f"policy_version {self.policy_version!r} must be printable ASCII")
        if self.action not in ACTIONS:
            raise ValueError(f"action {self.action!r} must be one of {', '.join(ACTIONS)}")
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r} must be one of {', '.join(METHODS)}")
        for name in (*self.granted, *self.refused):
            if not isinstance(name, str) or not _CATEGORY.match(name):
                raise ValueError(f"category {name!r} in a record is not a category name")
        both = set(self.granted) & set(self.refused)
        if both:
            raise ValueError(f"categories {sorted(both)} are both granted and refused")
        if len(set(self.granted)) != len(self.granted) or len(set(self.refused)) != len(
            self.refused
        ):
            raise ValueError("a record names a category twice")
        if not isinstance(self.language, str) or not _LANGUAGE.match(self.language):
            raise ValueError(f"language {self.language!r} must be a language code such as 'en'")
        if not _HEX64.match(self.texts_hash):
            raise ValueError(f"texts_hash {self.texts_hash!r} must be 64 hex characters (sha256)")
        if (
            not isinstance(self.user_agent, str)
            or len(self.user_agent) > _MAX_USER_AGENT
            or not _PRINTABLE.match(self.user_agent)
        ):
            raise ValueError("user_agent must be printable ASCII of at most 200 characters")
        if not isinstance(self.gpc, bool):
            raise ValueError(f"gpc {self.gpc!r} must be True or False")
        if self.ip is not None and (
            not isinstance(self.ip, str) or len(self.ip) > 64 or not _PRINTABLE.match(self.ip)
        ):
            raise ValueError(f"ip {self.ip!r} must be None or a truncated network")
        if self.key_id and not _KEY_ID.match(self.key_id):
            raise ValueError(f"key_id {self.key_id!r} must be 8 hex characters")
        if self.mac and not _HEX64.match(self.mac):
            raise ValueError(f"mac {self.mac!r} must be 64 hex characters")
        return self

    def to_json(self) -> dict[str, Any]:
        """The record as the receipt and `records export` show it (the contract's names)."""
        return {
            "record_id": self.record_id,
            "consent_id": self.consent_id,
            "time": format_time(self.time),
            "policy_version": self.policy_version,
            "action": self.action,
            "granted": list(self.granted),
            "refused": list(self.refused),
            "method": self.method,
            "language": self.language,
            "texts_hash": self.texts_hash,
            "user_agent": self.user_agent,
            "gpc": self.gpc,
            "ip": self.ip,
            "key_id": self.key_id,
            "mac": self.mac,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        """Read what `to_json` wrote (an export line, a receipt entry)."""
        try:
            return cls(
                record_id=str(data["record_id"]),
                consent_id=str(data["consent_id"]),
                time=parse_time(str(data["time"])),
                policy_version=str(data["policy_version"]),
                action=cast(RecordAction, data["action"]),
                granted=_names(data["granted"]),
                refused=_names(data["refused"]),
                method=cast(Method, data["method"]),
                language=str(data["language"]),
                texts_hash=str(data["texts_hash"]),
                user_agent=str(data.get("user_agent") or ""),
                gpc=bool(data.get("gpc", False)),
                ip=None if data.get("ip") is None else str(data["ip"]),
                key_id=str(data.get("key_id") or ""),
                mac=str(data.get("mac") or ""),
            )
        except KeyError as exc:
            raise ValueError(f"a record lacks the field {exc.args[0]!r}") from exc

    def signing_fields(self) -> dict[str, Any]:
        """Every field but `mac`, in JSON types: what the HMAC covers."""
        data = self.to_json()
        del data["mac"]
        return data


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, Iterable):
        return tuple(str(item) for item in value)
    raise ValueError(f"{value!r} is not a list of category names")


def new_record_id() -> str:
    """A random record id: 128 bits as 32 lowercase hex characters."""
    return secrets.token_hex(16)
