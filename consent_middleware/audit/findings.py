"""What the visitors' observations break: each finding is checkable (a cookie, a visitor, a
page) and names the rule it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .inventory import Classification, Classifier, step_cookies
from .model import AuditRun, Step, Visit, Visitor

__all__ = ["RULES", "Finding", "find"]

#: Thirteen months, as CNIL counts them for trackers (13 x 30.44 days, rounded up).
THIRTEEN_MONTHS = 396 * 24 * 3600

_PLANET49 = "CJEU C-673/17 Planet49 (1 October 2019)"
_EPRIVACY = "ePrivacy Directive 2002/58/EC art. 5(3)"
_TASKFORCE = "EDPB Cookie Banner Taskforce report (17 January 2023)"
_CNIL_GUIDELINES = "CNIL guidelines on cookies and other trackers (deliberation 2020-091)"
_CNIL_RECOMMENDATION = "CNIL recommendation on cookies (deliberation 2020-092)"

#: The rule each kind of finding comes from.
RULES: dict[str, str] = {
    "cookie_before_consent": f"{_EPRIVACY}; {_PLANET49}: no storage that needs consent before"
    " an active choice",
    "storage_before_consent": f"{_EPRIVACY} covers any storage on the device (EDPB Guidelines"
    f" 2/2023 on its technical scope); {_PLANET49}",
    "cookie_after_refusal": f"{_EPRIVACY}; {_CNIL_GUIDELINES}: after a refusal no tracker that"
    " needs consent is stored or read",
    "storage_after_refusal": f"{_EPRIVACY}; {_CNIL_GUIDELINES}: after a refusal no tracker"
    " that needs consent is stored or read",
    "cookie_after_withdrawal": "GDPR art. 7(3): withdrawal ends the consent, and with it the"
    f" storage it allowed; {_TASKFORCE}",
    "storage_after_withdrawal": "GDPR art. 7(3): withdrawal ends the consent, and with it the"
    f" storage it allowed; {_TASKFORCE}",
    "third_party_before_consent": "EDPB Guidelines 2/2023 on the technical scope of art. 5(3)"
    " ePrivacy (tracking pixels, URL-based tracking); LG München I, 3 O 17493/20 (20 January"
    " 2022): a third-party request discloses the visitor's IP address",
    "unknown_category": f"{_TASKFORCE}, 'inaccurately classified essential cookies': the site"
    " must know the purpose of every cookie it sets, and tell the visitor (GDPR art. 13)",
    "consent_cookie_not_secure": "GDPR art. 5(1)(f) and 32: the record of a choice made over"
    " https must not be sent over plain http",
    "consent_too_long": f"{_CNIL_RECOMMENDATION}: keep a choice for about 6 months;"
    f" {_CNIL_GUIDELINES}: 13 months at most for a tracker's lifetime",
    "no_banner": f"{_EPRIVACY}; GDPR art. 4(11): without a way to consent, nothing that needs"
    " consent may be stored",
    "no_reject_first_layer": f"{_TASKFORCE}, 'no reject button on the first layer';"
    f" {_CNIL_RECOMMENDATION}: refusing as easy as accepting",
    "reject_more_clicks": f"{_TASKFORCE}; {_CNIL_RECOMMENDATION}: refusing must be as easy"
    " as accepting, with as many clicks",
    "pre_ticked_category": f"{_PLANET49}: a pre-ticked box is no consent; {_TASKFORCE},"
    " 'pre-ticked boxes'",
    "no_way_back": f"GDPR art. 7(3); {_TASKFORCE}, 'no withdraw icon': the choice must be"
    " easy to reach again on every page",
    "withdrawal_failed": "GDPR art. 7(3): withdrawing consent must be possible at any time,"
    " and as easy as giving it",
    "choice_not_kept": f"GDPR art. 4(11) and 7(3); {_CNIL_RECOMMENDATION}: a choice,"
    " refusal included, is kept, and the visitor is not asked again on every page",
}


@dataclass(frozen=True)
class Finding:
    kind: str
    #: The cookie or storage key concerned (None for findings about the banner or a page).
    cookie: str | None
    visitor: Visitor
    page: str
    detail: str

    @property
    def rule(self) -> str:
        return RULES[self.kind]

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "cookie": self.cookie,
            "visitor": self.visitor,
            "page": self.page,
            "detail": self.detail,
            "rule": self.rule,
        }


class _Findings:
    def __init__(self) -> None:
        self.items: list[Finding] = []
        self._seen: set[tuple[object, ...]] = set()

    def add(self, key: tuple[object, ...], finding: Finding) -> None:
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(finding)


#: (state at the step, the finding's word) for the checks of optional cookies and storage.
_WHEN = {
    "undecided": "before_consent",
    "rejected": "after_refusal",
    "withdrawn": "after_withdrawal",
}
_WHEN_TEXT = {
    "undecided": "before any choice",
    "rejected": "after the visitor rejected all",
    "withdrawn": "after the visitor withdrew consent",
}


def find(run: AuditRun, classifier: Classifier) -> list[Finding]:
    """Every finding, each once: the first visitor and page it was seen on."""
    out = _Findings()
    _banner(run, out)
    for visitor in ("undecided", "rejected", "accepted", "withdrawn"):
        visit = run.visits.get(visitor)
        if visit is None:
            continue
        for step in visit.steps:
            _optional(step, classifier, out)
            _unknown(step, classifier, out)
            _consent_cookie(step, classifier, out)
            if step.state == "undecided":
                _third_parties(step, out)
            decided = step.state in ("rejected", "accepted", "withdrawn")
            if step.kind == "page" and decided and step.way_back is None:
                out.add(
                    ("no_way_back", _path(step.url)),
                    Finding(
                        "no_way_back",
                        None,
                        step.visitor,
                        step.url,
                        "no [data-consent-open] control or link back to the cookie choice"
                        " is visible on this page",
                    ),
                )
        _kept(visit, out)
    withdrawn = run.visits.get("withdrawn")
    withdrawal = withdrawn.withdrawal if withdrawn is not None else None
    if withdrawn is not None and withdrawal is not None and not withdrawal.done:
        page = withdrawn.steps[-1].url if withdrawn.steps else run.pages[0]
        out.add(
            ("withdrawal_failed",),
            Finding(
                "withdrawal_failed",
                None,
                "withdrawn",
                page,
                f"withdrawing did not work ({withdrawal.method}:"
                f" {withdrawal.detail or 'no effect'})",
            ),
        )
    return out.items


def _kept(visit: Visit, out: _Findings) -> None:
    """The banner back on a page after the visitor chose and it closed: the choice was not
    kept (the consent cookie not stored or not read back). The first such page counts."""
    chosen = False
    for step in visit.steps:
        if step.kind == "choice":
            chosen = step.state in ("rejected", "accepted")
        elif chosen and step.kind == "page" and step.banner_visible:
            if step.status is not None and step.status >= 400:
                continue  # an error page may carry a banner of its own making
            out.add(
                ("choice_not_kept", visit.visitor),
                Finding(
                    "choice_not_kept",
                    None,
                    visit.visitor,
                    step.url,
                    f"the banner is back on this page after the visitor chose ({step.state}):"
                    " the choice was not kept. The consent cookie was not stored (a Secure or"
                    " __Host- consent cookie on a plain-http page) or never set (the banner"
                    " posts outside the app: a path prefix the server was not told)",
                ),
            )
            return
        elif step.kind == "withdrawal":
            return  # after a withdrawal the banner may well ask again


def _banner(run: AuditRun, out: _Findings) -> None:
    banner = run.banner
    if not banner.found:
        out.add(
            ("no_banner",),
            Finding(
                "no_banner",
                None,
                "undecided",
                banner.page,
                "no consent banner (#consent-banner) was shown to a new visitor; cookies are"
                " listed all the same",
            ),
        )
        return
    rejected = run.visits.get("rejected")
    accepted = run.visits.get("accepted")
    reject = rejected.choice if rejected is not None else None
    accept = accepted.choice if accepted is not None else None
    accept_clicks = accept.clicks if accept is not None and accept.done else None
    if not banner.reject_visible:
        if reject is not None and reject.done:
            how = f"rejecting takes {reject.clicks} clicks ({reject.detail})"
        else:
            how = "no way to reject all was found"
        if accept_clicks is not None:
            how += f", accepting {accept_clicks}"
        out.add(
            ("no_reject_first_layer",),
            Finding(
                "no_reject_first_layer",
                None,
                "rejected",
                banner.page,
                f"the first layer has no [data-consent-action=reject_all]: {how}",
            ),
        )
    elif (
        reject is not None
        and accept_clicks is not None
        and (not reject.done or reject.clicks > accept_clicks)
    ):
        clicks = f"{reject.clicks} clicks" if reject.done else "no way that works"
        out.add(
            ("reject_more_clicks",),
            Finding(
                "reject_more_clicks",
                None,
                "rejected",
                banner.page,
                f"rejecting all takes {clicks} ({reject.detail}), accepting all {accept_clicks}",
            ),
        )
    for category in banner.pre_ticked:
        out.add(
            ("pre_ticked_category", category),
            Finding(
                "pre_ticked_category",
                None,
                "undecided",
                banner.page,
                f"the box of the category {category!r} is ticked before the visitor chose",
            ),
        )


def _optional(step: Step, classifier: Classifier, out: _Findings) -> None:
    when = _WHEN.get(step.state)
    if when is None:
        return
    # Right after a refusal or a withdrawal the jar may still hold cookies that the next
    # answer expires (HttpOnly ones cannot go sooner); what is *set* then counts at once.
    settled = step.kind == "page" or step.state == "undecided"
    cookies = step_cookies(step)
    set_now = {(e.name, e.domain.lstrip(".")) for e in step.events if not e.deletion}
    for (name, domain), kept in cookies.items():
        if not settled and (name, domain) not in set_now:
            continue
        found = classifier.classify(name)
        if found.optional is not True:
            continue
        kind = f"cookie_{when}"
        transient = "; set and removed again before the page settled" if not kept else ""
        by = _set_by(step, name, domain)
        out.add(
            (kind, name, domain),
            Finding(
                kind,
                name,
                step.visitor,
                step.url,
                f"{name} ({found.category}{_known(found)}, on {domain}, {by}) was there"
                f" {_WHEN_TEXT[step.state]}{transient}",
            ),
        )
    present = {(i.origin, i.area, i.key) for i in step.storage}
    items = [*step.storage, *step.storage_writes] if settled else step.storage_writes
    for item in items:
        found = classifier.classify(item.key)
        if found.optional is not True:
            continue
        kind = f"storage_{when}"
        gone = "" if (item.origin, item.area, item.key) in present else "; written and removed"
        out.add(
            (kind, item.key, item.origin, item.area),
            Finding(
                kind,
                item.key,
                step.visitor,
                step.url,
                f"{item.area} storage key {item.key} ({found.category}{_known(found)}) of"
                f" {item.origin} was there {_WHEN_TEXT[step.state]}{gone}",
            ),
        )


def _unknown(step: Step, classifier: Classifier, out: _Findings) -> None:
    for name, domain in step_cookies(step):
        found = classifier.classify(name)
        if found.category != "unknown":
            continue
        out.add(
            ("unknown_category", name),
            Finding(
                "unknown_category",
                name,
                step.visitor,
                step.url,
                f"{name} (on {domain}, {_set_by(step, name, domain)}) has no category"
                f" {_unknown_why(classifier)}{_known(found, ': the database knows it as ')}",
            ),
        )
    for item in [*step.storage, *step.storage_writes]:
        found = classifier.classify(item.key)
        if found.category != "unknown":
            continue
        out.add(
            ("unknown_category", item.key, "storage"),
            Finding(
                "unknown_category",
                item.key,
                step.visitor,
                step.url,
                f"{item.area} storage key {item.key} of {item.origin} has no category"
                f" {_unknown_why(classifier)}{_known(found, ': the database knows it as ')}",
            ),
        )


def _consent_cookie(step: Step, classifier: Classifier, out: _Findings) -> None:
    https = urlsplit(step.url).scheme == "https"
    for cookie in step.jar:
        if cookie.name not in classifier.consent_names:
            continue
        if https and not cookie.secure:
            out.add(
                ("consent_cookie_not_secure", cookie.name),
                Finding(
                    "consent_cookie_not_secure",
                    cookie.name,
                    step.visitor,
                    step.url,
                    f"the consent cookie {cookie.name} is set without Secure on an https site",
                ),
            )
        if cookie.expires is not None and cookie.expires - step.wall_time > THIRTEEN_MONTHS:
            days = round((cookie.expires - step.wall_time) / 86400)
            out.add(
                ("consent_too_long", cookie.name),
                Finding(
                    "consent_too_long",
                    cookie.name,
                    step.visitor,
                    step.url,
                    f"the consent cookie {cookie.name} lasts {days} days, more than 13 months",
                ),
            )


def _third_parties(step: Step, out: _Findings) -> None:
    for request in step.requests:
        if not request.third_party:
            continue
        out.add(
            ("third_party_before_consent", request.host),
            Finding(
                "third_party_before_consent",
                None,
                step.visitor,
                step.url,
                f"a request ({request.resource_type}) to the third party {request.host}"
                f" ({request.method} {_short(request.url)}) before any choice",
            ),
        )


def _set_by(step: Step, name: str, domain: str) -> str:
    for event in step.events:
        if event.name == name and event.domain.lstrip(".") == domain and not event.deletion:
            return f"set by {'the server' if event.set_by == 'server' else 'a script'}"
    return "in the jar"


def _known(found: Classification, lead: str = ", ") -> str:
    known = found.known
    if known is None:
        return ""
    return f"{lead}{known.platform} {known.category}"


def _unknown_why(classifier: Classifier) -> str:
    return "in the site's config" if classifier.config is not None else "in the cookie database"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path or "/"


def _short(url: str, limit: int = 100) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"
