"""Server-side tracking that asks first: events the app records itself (page views,
sign-ups) are kept only when the visitor granted the category they belong to.

    views = ServerEvents(store.add)            # any callable taking an `Event`
    views.record(request, "page_view", path=request.url.path)

`record` returns whether the event was kept, so the app can tell in tests and logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .context import context_of
from .request import get_consent

__all__ = ["Event", "ServerEvents", "allowed", "is_consent_refresh"]


def allowed(request: Any, category: str = "analytics") -> bool:
    """Whether the visitor of `request` granted `category` (False when undecided)."""
    return get_consent(request).allows(category)


def is_consent_refresh(request: Any) -> bool:
    """Whether this is banner.js asking for the page again after a choice, so that the
    server sets the cookies just allowed. Count it as no page view."""
    return context_of(request).refresh


@dataclass(frozen=True)
class Event:
    """One server-side event. No visitor id: the consent id is not a tracking id."""

    name: str
    time: datetime
    category: str
    properties: Mapping[str, Any] = field(default_factory=dict)


class ServerEvents:
    """Records events through `sink`, but only for visitors who granted `category`."""

    def __init__(self, sink: Callable[[Event], object], *, category: str = "analytics") -> None:
        if not callable(sink):
            raise ValueError(f"sink {sink!r} must be callable")
        self.sink = sink
        self.category = category

    def record(self, request: Any, name: str, **properties: Any) -> bool:
        """Hand the event to the sink if the visitor allows it; say whether it was kept.

        The banner's background refresh after a choice (`X-Consent-Refresh`) is not a visit
        and records nothing."""
        if not allowed(request, self.category) or is_consent_refresh(request):
            return False
        self.sink(Event(name, datetime.now(timezone.utc), self.category, dict(properties)))
        return True
