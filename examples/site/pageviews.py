"""Integrica's own page-view counter: server-side, and only for visitors who granted analytics.

`consent_middleware.tracking.ServerEvents` hands an event to the store only when the visitor
allows its category (`analytics`); the store keeps nothing about the visitor, not even an id:
one row per day and path with a count. The file is SQLite, at `INTEGRICA_DB`, or
`integrica.db` in the system's temporary folder.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from consent_middleware.tracking import Event, ServerEvents

__all__ = ["Bar", "PageViews", "admin_context", "database_path", "page_views"]

#: The longest path kept; longer ones are cut (a page view is not a place to store data).
MAX_PATH = 200
#: How many days the admin page's chart shows, today included.
CHART_DAYS = 14


def database_path() -> Path:
    configured = os.environ.get("INTEGRICA_DB")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "integrica.db"


@dataclass(frozen=True)
class Bar:
    """One day of the chart: its numbers and where its bar goes (SVG user units)."""

    day: date
    views: int
    x: float
    y: float
    width: float
    height: float


class PageViews:
    """Counts page views by day and path in a small SQLite file; safe across threads."""

    #: The chart's drawing area, in SVG user units.
    WIDTH, HEIGHT, TOP, BOTTOM = 640.0, 220.0, 24.0, 36.0

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS page_views ("
                " day TEXT NOT NULL, path TEXT NOT NULL, views INTEGER NOT NULL,"
                " PRIMARY KEY (day, path))"
            )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # A connection per use: the apps serve from several threads, and this is a demo.
        with self._lock, closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            yield db

    def add(self, event: Event) -> None:
        """The `ServerEvents` sink: count one view of `event.properties["path"]` that day."""
        path = str(event.properties.get("path", "/"))[:MAX_PATH]
        with self._db() as db:
            db.execute(
                "INSERT INTO page_views (day, path, views) VALUES (?, ?, 1)"
                " ON CONFLICT (day, path) DO UPDATE SET views = views + 1",
                (event.time.date().isoformat(), path),
            )

    def total(self) -> int:
        with self._db() as db:
            (total,) = db.execute("SELECT COALESCE(SUM(views), 0) FROM page_views").fetchone()
        return int(total)

    def by_path(self) -> list[tuple[str, int]]:
        with self._db() as db:
            rows = db.execute(
                "SELECT path, SUM(views) FROM page_views GROUP BY path ORDER BY 2 DESC, 1"
            ).fetchall()
        return [(str(path), int(views)) for path, views in rows]

    def by_day(self, days: int = CHART_DAYS, today: date | None = None) -> list[tuple[date, int]]:
        """The last `days` days (UTC, as events are), oldest first, days without views as 0."""
        last = today or datetime.now(timezone.utc).date()
        first = last - timedelta(days=days - 1)
        with self._db() as db:
            rows = db.execute(
                "SELECT day, SUM(views) FROM page_views WHERE day >= ? AND day <= ? GROUP BY day",
                (first.isoformat(), last.isoformat()),
            ).fetchall()
        counts = {str(day): int(views) for day, views in rows}
        return [
            (day, counts.get(day.isoformat(), 0))
            for day in (first + timedelta(days=n) for n in range(days))
        ]

    def chart(self, days: list[tuple[date, int]]) -> dict[str, Any]:
        """Bars for a server-rendered SVG chart of `days` (no JavaScript, no library)."""
        top = max((views for _, views in days), default=0) or 1
        slot = self.WIDTH / max(len(days), 1)
        area = self.HEIGHT - self.TOP - self.BOTTOM
        bars = []
        for index, (day, views) in enumerate(days):
            height = area * views / top
            bars.append(
                Bar(
                    day=day,
                    views=views,
                    x=round(index * slot + slot * 0.15, 1),
                    y=round(self.TOP + area - height, 1),
                    width=round(slot * 0.7, 1),
                    height=round(height, 1),
                )
            )
        return {
            "bars": bars,
            "width": self.WIDTH,
            "height": self.HEIGHT,
            "baseline": self.HEIGHT - self.BOTTOM,
            "max": top,
        }


def page_views(store: PageViews | None = None) -> tuple[PageViews, ServerEvents]:
    """The store, and the `ServerEvents` that feeds it only with analytics consent."""
    store = store or PageViews(database_path())
    return store, ServerEvents(store.add, category="analytics")


def admin_context(store: PageViews, today: date | None = None) -> dict[str, Any]:
    """What the admin page (`/admin/views`) shows."""
    days = store.by_day(today=today)
    return {
        "total": store.total(),
        "recent": sum(views for _, views in days),
        "days": days,
        "chart": store.chart(days),
        "paths": store.by_path(),
    }
