"""The audit's report: one JSON document (the contract's shape, with extras), and the text
and single-file HTML views of it."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from .. import __version__
from .cookiedb import source_info
from .findings import Finding
from .inventory import Classifier, CookieRecord, StorageRecord, step_cookies
from .model import VISITORS, AuditRun, Step

__all__ = ["Report", "build_report"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"


class Report:
    """The report as data (`document`), and its views."""

    def __init__(self, document: dict[str, Any], screenshot: bytes | None) -> None:
        self.document = document
        self.screenshot = screenshot

    @property
    def findings(self) -> list[dict[str, Any]]:
        findings: list[dict[str, Any]] = self.document["findings"]
        return findings

    @property
    def exit_status(self) -> int:
        return 1 if self.findings else 0

    def json(self) -> dict[str, Any]:
        return self.document

    def text(self) -> str:
        return render_text(self.document)

    def html(self) -> str:
        return render_html(self.document, self.screenshot)


def build_report(
    run: AuditRun,
    classifier: Classifier,
    cookies: list[CookieRecord],
    storage: list[StorageRecord],
    findings: list[Finding],
    config_target: str | None,
) -> Report:
    withdrawn = run.visits.get("withdrawn")
    withdrawal = withdrawn.withdrawal if withdrawn is not None else None
    choices = {
        visitor: (visit.choice.clicks if visit.choice and visit.choice.done else None)
        for visitor, visit in run.visits.items()
    }
    document: dict[str, Any] = {
        "cookies": [_cookie_json(c) for c in cookies],
        "findings": [f.as_json() for f in findings],
        "storage": [_storage_json(s) for s in storage],
        "third_party_requests": _third_parties(run),
        "audit": {
            "tool": f"consent-middleware {__version__}",
            "start_urls": run.start_urls,
            "pages": run.pages,
            "visitors": list(VISITORS),
            "config": config_target,
            "consent_cookie": sorted(classifier.consent_names),
            "browser": run.browser,
            "started_at": run.started_at,
            "duration_seconds": run.duration,
            "cookie_database": source_info(),
        },
        "automation_hidden": run.automation,
        "banner": {
            "found": run.banner.found,
            "page": run.banner.page,
            "endpoint": run.banner.endpoint,
            "first_layer": {
                "accept_all": run.banner.accept_visible,
                "reject_all": run.banner.reject_visible,
                "customize": run.banner.customize_visible,
            },
            "pre_ticked": list(run.banner.pre_ticked),
            "accept_clicks": choices.get("accepted"),
            "reject_clicks": choices.get("rejected"),
            "withdrawal": None
            if withdrawal is None
            else {
                "method": withdrawal.method,
                "clicks": withdrawal.clicks,
                "done": withdrawal.done,
            },
        },
        "timeline": {
            visitor: [_step_json(step, classifier) for step in visit.steps]
            for visitor, visit in run.visits.items()
        },
        "notes": {visitor: visit.note for visitor, visit in run.visits.items() if visit.note},
    }
    return Report(document, run.banner.screenshot)


def _cookie_json(record: CookieRecord) -> dict[str, Any]:
    found = record.classification
    return {
        "name": record.name,
        "domain": record.domain,
        "http_only": record.http_only,
        "category": found.category,
        "visitor": record.visitor,
        "page": record.page,
        "set_by": record.set_by,
        "known_as": found.known.as_json() if found.known is not None else None,
        "first_party": record.first_party,
        "path": record.path,
        "secure": record.secure,
        "category_source": found.source,
        "state": record.state,
        "transient": record.transient,
        "lifetime_days": None if record.lifetime is None else round(record.lifetime / 86400, 1),
        "pages": record.pages,
    }


def _storage_json(record: StorageRecord) -> dict[str, Any]:
    found = record.classification
    return {
        "key": record.key,
        "origin": record.origin,
        "area": record.area,
        "category": found.category,
        "visitor": record.visitor,
        "page": record.page,
        "known_as": found.known.as_json() if found.known is not None else None,
        "first_party": record.first_party,
        "category_source": found.source,
        "state": record.state,
        "transient": record.transient,
    }


def _third_parties(run: AuditRun) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    out: list[dict[str, Any]] = []
    for visitor, visit in run.visits.items():
        for step in visit.steps:
            for request in step.requests:
                if request.third_party and (visitor, request.host) not in seen:
                    seen.add((visitor, request.host))
                    out.append(
                        {
                            "host": request.host,
                            "url": request.url,
                            "resource_type": request.resource_type,
                            "visitor": visitor,
                            "page": step.url,
                            "state": step.state,
                        }
                    )
    return out


def _step_json(step: Step, classifier: Classifier) -> dict[str, Any]:
    cookies = step_cookies(step)
    return {
        "kind": step.kind,
        "url": step.url,
        "state": step.state,
        "status": step.status,
        "time": step.time,
        "note": step.note,
        "banner_visible": step.banner_visible,
        "way_back": step.way_back,
        "cookies": [
            {"name": name, "category": classifier.classify(name).category}
            for (name, _), kept in cookies.items()
            if kept
        ],
        "set": sorted(
            {f"{e.name} ({e.set_by})" for e in step.events if not e.deletion},
        ),
        "deleted": sorted({e.name for e in step.events if e.deletion}),
        "transient": sorted(name for (name, _), kept in cookies.items() if not kept),
        "storage": sorted({f"{i.area}:{i.key}" for i in step.storage}),
        "third_party": sorted({r.host for r in step.requests if r.third_party}),
    }


# -- text ------------------------------------------------------------------------------------


def render_text(doc: dict[str, Any]) -> str:
    audit, banner = doc["audit"], doc["banner"]
    lines = [f"consent-middleware audit of {', '.join(audit['start_urls'])}"]
    lines.append(f"Pages ({len(audit['pages'])}): " + " ".join(_path(p) for p in audit["pages"]))
    hidden = doc["automation_hidden"]
    lines.append(
        f"Visitors: {', '.join(audit['visitors'])}, in {audit['browser']} with the signs of"
        f" automation hidden (navigator.webdriver = {_js(hidden.get('navigator_webdriver'))})"
    )
    config = audit["config"] or "none (categories from the cookie database)"
    lines.append(f"Config: {config}; consent cookie: {', '.join(audit['consent_cookie'])}")
    lines.append("Banner: " + _banner_text(banner))
    lines.append("")
    cookies = _by_cookie(doc["cookies"])
    lines.append(f"Cookies ({len(cookies)}):")
    if cookies:
        rows = [
            [
                c["name"],
                c["domain"],
                c["category"],
                _known_text(c["known_as"]),
                c["set_by"],
                "HttpOnly" if c["http_only"] else "-",
                ", ".join(c["seen"]),
            ]
            for c in cookies
        ]
        header = ["name", "domain", "category", "known as", "set by", "http", "visitors"]
        lines.extend("  " + line for line in _table([header, *rows]))
    storage = doc["storage"]
    lines.append(f"Storage keys ({len({(s['origin'], s['area'], s['key']) for s in storage})}):")
    for item in _unique(storage, ("origin", "area", "key")):
        lines.append(f"  {item['area']}:{item['key']} ({item['origin']}, {item['category']})")
    hosts = sorted({r["host"] for r in doc["third_party_requests"]})
    lines.append("Third-party hosts: " + (", ".join(hosts) if hosts else "none"))
    lines.append("")
    findings = doc["findings"]
    if not findings:
        lines.append("No findings.")
    else:
        lines.append(f"Findings ({len(findings)}):")
        for f in findings:
            about = f" {f['cookie']}" if f["cookie"] else ""
            lines.append(f"- {f['kind']}{about} [{f['visitor']}, {_path(f['page'])}]")
            lines.append(f"    {f['detail']}")
            lines.append(f"    rule: {f['rule']}")
    return "\n".join(lines) + "\n"


def _banner_text(banner: dict[str, Any]) -> str:
    if not banner["found"]:
        return "none found"
    offers = [name.replace("_", " ") for name, on in banner["first_layer"].items() if on]
    parts = [f"first layer offers {', '.join(offers) or 'nothing we can read'}"]
    if banner["accept_clicks"] is not None:
        parts.append(f"accepting takes {banner['accept_clicks']} click(s)")
    reject = banner["reject_clicks"]
    parts.append(f"rejecting {reject} click(s)" if reject is not None else "rejecting: no way")
    withdrawal = banner["withdrawal"]
    if withdrawal is not None:
        parts.append(
            f"withdrawal via {withdrawal['method']}"
            + ("" if withdrawal["done"] else " (did not work)")
        )
    return "; ".join(parts)


def _by_cookie(cookies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per cookie (name and domain), with the visitors who met it."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for cookie in cookies:
        key = (cookie["name"], cookie["domain"].lstrip("."))
        row = rows.get(key)
        if row is None:
            row = rows[key] = {**cookie, "seen": []}
        row["seen"].append(f"{cookie['visitor']} {_path(cookie['page'])}")
        row["http_only"] = row["http_only"] or cookie["http_only"]
    return sorted(rows.values(), key=lambda r: (r["name"], r["domain"]))


def _unique(items: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for item in items:
        key = tuple(item[k] for k in keys)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _known_text(known: dict[str, Any] | None) -> str:
    if known is None:
        return "-"
    return f"{known['platform']} ({known['category']})"


def _table(rows: Iterable[list[str]]) -> list[str]:
    rows = list(rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _js(value: object) -> str:
    if value is None:
        return "undefined"
    return str(value).lower() if isinstance(value, bool) else str(value)


# -- html ------------------------------------------------------------------------------------


def render_html(doc: dict[str, Any], screenshot: bytes | None) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["path"] = _path
    env.filters["known"] = _known_text
    image = (
        "data:image/png;base64," + base64.b64encode(screenshot).decode("ascii")
        if screenshot
        else None
    )
    return env.get_template("report.html").render(
        doc=doc,
        cookies=_by_cookie(doc["cookies"]),
        storage=_unique(doc["storage"], ("origin", "area", "key")),
        banner_text=_banner_text(doc["banner"]),
        screenshot=image,
        webdriver=_js(doc["automation_hidden"].get("navigator_webdriver")),
    )
