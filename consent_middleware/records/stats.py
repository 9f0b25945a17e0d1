"""Opt-in rates and choices over time, computed in one pass over any store's export."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from ..config import DEFAULT_CATEGORIES
from .model import ACTIONS, Record, format_time

__all__ = ["Bucket", "Stats", "compute_stats", "period_of"]

Period = Literal["day", "week", "month"]


@dataclass
class Bucket:
    """The choices of one day (or week, or month: see `Stats.by`)."""

    start: date
    choices: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    granted: Counter[str] = field(default_factory=Counter)
    offered: Counter[str] = field(default_factory=Counter)

    def add(self, record: Record) -> None:
        self.choices += 1
        self.actions[record.action] += 1
        self.granted.update(record.granted)
        self.offered.update(record.granted)
        self.offered.update(record.refused)

    def rate(self, category: str) -> float | None:
        offered = self.offered[category]
        return self.granted[category] / offered if offered else None


@dataclass
class Stats:
    """Every category's opt-in rate: of the choices that offered it, the share that granted
    it. Withdrawals count as choices that grant nothing."""

    total: Bucket
    days: list[Bucket]
    first: datetime | None = None
    last: datetime | None = None
    methods: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    policy_versions: Counter[str] = field(default_factory=Counter)

    @property
    def categories(self) -> list[str]:
        """The default categories in their usual order, then any others by name."""
        known = {cat.name: index for index, cat in enumerate(DEFAULT_CATEGORIES)}
        return sorted(self.total.offered, key=lambda name: (known.get(name, len(known)), name))

    def regrouped(self, by: Period) -> list[Bucket]:
        """The days summed into weeks (from Monday) or months, for charts of long spans."""
        if by == "day":
            return self.days
        buckets: dict[date, Bucket] = {}
        for day in self.days:
            start = period_of(day.start, by)
            bucket = buckets.setdefault(start, Bucket(start))
            bucket.choices += day.choices
            bucket.actions.update(day.actions)
            bucket.granted.update(day.granted)
            bucket.offered.update(day.offered)
        return list(buckets.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "choices": self.total.choices,
            "first": _iso(self.first),
            "last": _iso(self.last),
            "actions": {action: self.total.actions[action] for action in ACTIONS},
            "methods": dict(self.methods),
            "languages": dict(self.languages),
            "policy_versions": dict(self.policy_versions),
            "categories": {
                name: {
                    "granted": self.total.granted[name],
                    "offered": self.total.offered[name],
                    "opt_in_rate": self.total.rate(name),
                }
                for name in self.categories
            },
            "days": [
                {
                    "date": day.start.isoformat(),
                    "choices": day.choices,
                    "actions": {action: day.actions[action] for action in ACTIONS},
                    "opt_in_rates": {name: day.rate(name) for name in self.categories},
                }
                for day in self.days
            ],
        }


def period_of(day: date, by: Period) -> date:
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    return day


def compute_stats(records: Iterable[Record]) -> Stats:
    """One pass, memory bounded by the number of days (not of records)."""
    total = Bucket(date.min)
    days: dict[date, Bucket] = {}
    stats = Stats(total, [])
    for record in records:
        total.add(record)
        day = record.time.date()
        bucket = days.get(day)
        if bucket is None:
            bucket = days[day] = Bucket(day)
        bucket.add(record)
        stats.methods[record.method] += 1
        stats.languages[record.language] += 1
        stats.policy_versions[record.policy_version] += 1
        if stats.first is None or record.time < stats.first:
            stats.first = record.time
        if stats.last is None or record.time > stats.last:
            stats.last = record.time
    stats.days = [days[key] for key in sorted(days)]
    return stats


def _iso(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)
