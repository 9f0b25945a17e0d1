"""Every cookie and storage key the visitors met, each with its category: the one the site's
config gives it (`--config`), else the one the cookie database suggests, else "unknown"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from ..config import ALWAYS, ConsentConfig
from .cookiedb import CookieDatabase, KnownCookie
from .crawl import site_of
from .model import VISITORS, AuditRun, State, Step, Visitor

__all__ = [
    "Classification",
    "Classifier",
    "CookieRecord",
    "StorageRecord",
    "consent_cookie_names",
    "cookie_records",
    "storage_records",
]

CategorySource = Literal["config", "database", "consent"]
#: The consent cookie's own category in the report: strictly necessary to keep the choice.
CONSENT = "consent"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Classification:
    #: The category name, "consent" for the consent cookie, or "unknown".
    category: str
    source: CategorySource | None
    #: True: needs consent; False: strictly necessary (or the consent cookie); None: unknown.
    optional: bool | None
    known: KnownCookie | None


class Classifier:
    def __init__(
        self, config: ConsentConfig | None, database: CookieDatabase, consent_names: set[str]
    ) -> None:
        self.config = config
        self.database = database
        self.consent_names = consent_names
        self.required = config.required_categories if config else frozenset({"authentication"})
        self._cache: dict[str, Classification] = {}

    def classify(self, name: str) -> Classification:
        found = self._cache.get(name)
        if found is None:
            found = self._cache[name] = self._classify(name)
        return found

    def _classify(self, name: str) -> Classification:
        known = self.database.lookup(name)
        if name in self.consent_names:
            return Classification(CONSENT, "consent", False, known)
        suggested = known.suggested if known is not None else None
        if self.config is not None:
            rule = self.config.rules.match(name) or self.config.unknown_rule
            if rule is not None and rule.category != ALWAYS:
                return Classification(
                    rule.category, "config", rule.category not in self.required, known
                )
            # The config does not say; the database may still tell whether it needs consent.
            optional = None if suggested is None else suggested not in self.required
            return Classification(UNKNOWN, None, optional, known)
        if suggested is not None:
            return Classification(suggested, "database", suggested not in self.required, known)
        return Classification(UNKNOWN, None, None, known)


def consent_cookie_names(run: AuditRun, config: ConsentConfig | None) -> set[str]:
    """The consent cookie: the config's `cookie_name`; without a config, what both the
    refusal and the acceptance set (the only cookie that a refusal may set)."""
    if config is not None:
        return {config.cookie_name}
    sets: list[set[str]] = []
    for visitor in ("rejected", "accepted"):
        visit = run.visits.get(visitor)
        if visit is None:
            continue
        for step in visit.steps:
            if step.kind == "choice":
                sets.append({e.name for e in step.events if not e.deletion})
    if len(sets) == 2 and sets[0] & sets[1]:
        return sets[0] & sets[1]
    return {"consent"}  # the middleware's default name


@dataclass
class CookieRecord:
    """A cookie as one visitor first met it."""

    name: str
    domain: str
    path: str
    http_only: bool
    secure: bool
    first_party: bool
    visitor: Visitor
    page: str
    state: State
    set_by: Literal["server", "script"]
    classification: Classification
    #: Never seen in the jar: set and removed again before any page settled.
    transient: bool = True
    #: Seconds it was meant to last from when it was set (None: a session cookie).
    lifetime: float | None = None
    pages: list[str] = field(default_factory=list)


@dataclass
class StorageRecord:
    key: str
    origin: str
    area: Literal["local", "session"]
    first_party: bool
    visitor: Visitor
    page: str
    state: State
    classification: Classification
    transient: bool = True


def step_cookies(step: Step) -> dict[tuple[str, str], bool]:
    """Cookies present or set during the step, by (name, domain): True when in the jar at
    its end, False when set during it and gone again."""
    found = {(c.name, c.domain.lstrip(".")): True for c in step.jar}
    for event in step.events:
        key = (event.name, event.domain.lstrip("."))
        if not event.deletion and key not in found:
            found[key] = False
    return found


def cookie_records(run: AuditRun, classifier: Classifier) -> list[CookieRecord]:
    records: list[CookieRecord] = []
    for visitor in VISITORS:
        visit = run.visits.get(visitor)
        if visit is None:
            continue
        mine: dict[tuple[str, str], CookieRecord] = {}
        for step in visit.steps:
            jar = {(c.name, c.domain.lstrip(".")): c for c in step.jar}
            for key, kept in step_cookies(step).items():
                record = mine.get(key)
                if record is None:
                    record = mine[key] = _new_record(key, step, classifier)
                    records.append(record)
                if step.url not in record.pages:
                    record.pages.append(step.url)
                cookie = jar.get(key)
                if kept and cookie is not None:
                    record.transient = False
                    record.domain = cookie.domain
                    record.path = cookie.path
                    record.http_only = cookie.http_only
                    record.secure = cookie.secure
                    if cookie.expires is not None and record.lifetime is None:
                        record.lifetime = cookie.expires - step.wall_time
    return records


def _new_record(key: tuple[str, str], step: Step, classifier: Classifier) -> CookieRecord:
    name, domain = key
    event = next(
        (e for e in step.events if (e.name, e.domain.lstrip(".")) == key and not e.deletion),
        None,
    )
    page_host = urlsplit(step.url).hostname or ""
    set_by: Literal["server", "script"] = event.set_by if event is not None else "server"
    return CookieRecord(
        name=name,
        domain=domain,
        path="/",
        http_only=event.http_only if event is not None else False,
        secure=event.secure if event is not None else False,
        first_party=site_of(domain) == site_of(page_host),
        visitor=step.visitor,
        page=step.url,
        state=step.state,
        set_by=set_by,
        classification=classifier.classify(name),
        lifetime=event.lifetime if event is not None else None,
    )


def storage_records(run: AuditRun, classifier: Classifier) -> list[StorageRecord]:
    records: list[StorageRecord] = []
    for visitor in VISITORS:
        visit = run.visits.get(visitor)
        if visit is None:
            continue
        mine: dict[tuple[str, str, str], StorageRecord] = {}
        for step in visit.steps:
            page_host = urlsplit(step.url).hostname or ""
            present = {(i.origin, i.area, i.key) for i in step.storage}
            for item in [*step.storage, *step.storage_writes]:
                key = (item.origin, item.area, item.key)
                record = mine.get(key)
                if record is None:
                    host = urlsplit(item.origin).hostname or ""
                    record = mine[key] = StorageRecord(
                        key=item.key,
                        origin=item.origin,
                        area=item.area,
                        first_party=site_of(host) == site_of(page_host),
                        visitor=visitor,
                        page=step.url,
                        state=step.state,
                        classification=classifier.classify(item.key),
                    )
                    records.append(record)
                if key in present:
                    record.transient = False
    return records
