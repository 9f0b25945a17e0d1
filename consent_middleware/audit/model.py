"""What the audit observed: plain values, no browser objects, so that the findings and the
reports can be computed (and tested) without a browser."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "VISITORS",
    "AuditRun",
    "BannerInfo",
    "ChoiceResult",
    "CookieEvent",
    "JarCookie",
    "RequestSeen",
    "State",
    "Step",
    "StepKind",
    "StorageItem",
    "Visit",
    "Visitor",
]

Visitor = Literal["undecided", "rejected", "accepted", "withdrawn"]
#: The four visitors, in the order they are reported.
VISITORS: tuple[Visitor, ...] = ("undecided", "rejected", "accepted", "withdrawn")
#: Where a visitor stands at a step: nothing chosen yet, or what it chose last.
State = Literal["undecided", "rejected", "accepted", "withdrawn"]
StepKind = Literal["page", "choice", "withdrawal"]


@dataclass(frozen=True)
class JarCookie:
    """A cookie in the browser's own jar (HttpOnly ones included)."""

    name: str
    domain: str
    path: str
    http_only: bool
    secure: bool
    #: Unix time, or None for a session cookie.
    expires: float | None
    same_site: str | None = None


@dataclass(frozen=True)
class CookieEvent:
    """A cookie being set or deleted: a Set-Cookie on a response, or a script's write."""

    name: str
    domain: str
    set_by: Literal["server", "script"]
    #: The response's URL, or the URL of the frame whose script wrote it.
    url: str
    deletion: bool
    http_only: bool = False
    secure: bool = False
    #: Seconds from the time it was set, when the header says (Max-Age or Expires).
    lifetime: float | None = None


@dataclass(frozen=True)
class StorageItem:
    key: str
    origin: str
    area: Literal["local", "session"]


@dataclass(frozen=True)
class RequestSeen:
    url: str
    host: str
    method: str
    resource_type: str
    third_party: bool


@dataclass
class Step:
    """One page load, or one choice made on a page, and what was there once it settled."""

    visitor: Visitor
    state: State
    kind: StepKind
    url: str
    jar: list[JarCookie] = field(default_factory=list)
    events: list[CookieEvent] = field(default_factory=list)
    storage: list[StorageItem] = field(default_factory=list)
    #: Storage keys that a script wrote during the step (some are removed again).
    storage_writes: list[StorageItem] = field(default_factory=list)
    requests: list[RequestSeen] = field(default_factory=list)
    #: How a visitor gets back to the choice from this page (None: no way found).
    way_back: str | None = None
    banner_visible: bool = False
    #: HTTP status of the page's own response (page steps), when there was one.
    status: int | None = None
    note: str = ""
    #: Seconds since the audit started, when the step ended.
    time: float = 0.0
    #: Unix time when the step ended (to tell how long the jar's cookies will last).
    wall_time: float = 0.0

    @property
    def jar_names(self) -> set[tuple[str, str]]:
        return {(c.name, c.domain.lstrip(".")) for c in self.jar}


@dataclass(frozen=True)
class BannerInfo:
    """The first layer, as the undecided visitor found it on the first page."""

    found: bool
    page: str
    accept_visible: bool = False
    reject_visible: bool = False
    customize_visible: bool = False
    #: Optional categories whose boxes were ticked before the visitor touched them.
    pre_ticked: tuple[str, ...] = ()
    #: The consent endpoint (the banner form's action), e.g. "/consent".
    endpoint: str | None = None
    screenshot: bytes | None = None


@dataclass(frozen=True)
class ChoiceResult:
    """A choice made with the site's own controls (or, failing those, its endpoint)."""

    action: str
    clicks: int
    done: bool
    #: Which way was used: "first layer", "second layer", "data-consent-open", ...
    method: str
    detail: str = ""


@dataclass
class Visit:
    visitor: Visitor
    steps: list[Step] = field(default_factory=list)
    choice: ChoiceResult | None = None
    withdrawal: ChoiceResult | None = None
    note: str = ""


@dataclass
class AuditRun:
    """Everything one audit saw, in the order it saw it."""

    start_urls: list[str]
    pages: list[str]
    visits: dict[Visitor, Visit]
    banner: BannerInfo
    automation: dict[str, object]
    browser: str
    started_at: str
    duration: float = 0.0
