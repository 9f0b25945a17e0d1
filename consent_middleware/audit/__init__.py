"""The real-browser audit: `consent-middleware audit URL` and `suggest-config URL`.

Four visitors (undecided, rejected, accepted, withdrawn) in Chromium, driven by Playwright
(the `[browser]` extra); what they meet is classified by the site's config and the bundled
Open Cookie Database, and checked against the rules in `findings.RULES`.

    run = run_audit(AuditOptions(urls=["http://127.0.0.1:8000/"]))
    result = analyse(run, config)
    print(result.report.text())
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConsentConfig
from .cookiedb import default_database
from .findings import Finding, find
from .inventory import (
    Classifier,
    CookieRecord,
    consent_cookie_names,
    cookie_records,
    storage_records,
)
from .model import AuditRun
from .report import Report, build_report
from .runner import AuditOptions, run_audit

__all__ = ["Analysis", "AuditOptions", "AuditRun", "analyse", "run_audit"]


@dataclass
class Analysis:
    classifier: Classifier
    cookies: list[CookieRecord]
    findings: list[Finding]
    report: Report


def analyse(
    run: AuditRun, config: ConsentConfig | None, config_target: str | None = None
) -> Analysis:
    """Classify what `run` saw, find what breaks the rules, and build the report."""
    classifier = Classifier(config, default_database(), consent_cookie_names(run, config))
    cookies = cookie_records(run, classifier)
    storage = storage_records(run, classifier)
    findings = find(run, classifier)
    report = build_report(run, classifier, cookies, storage, findings, config_target)
    return Analysis(classifier, cookies, findings, report)
