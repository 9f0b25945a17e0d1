"""`consent-middleware audit` against real servers in real Chromium: the example sites are
clean, and the broken site's faults are each found, and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from consent_middleware.cli import main
from tests.browser.helpers import REPO_ROOT, Server

pytestmark = pytest.mark.browser

OPTIONAL = {"_ga", "_ga_js", "_fbp"}
CATEGORIES = {"_ga": "analytics", "_ga_js": "analytics", "_fbp": "marketing", "consent": "consent"}


def audit_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str
) -> tuple[int, dict[str, Any], str]:
    report = tmp_path / "report.json"
    status = main(["audit", *args, "--format", "json", "--output", str(report)])
    err = capsys.readouterr().err
    return status, json.loads(report.read_text(encoding="utf-8")), err


def by_visitor(doc: dict[str, Any]) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for cookie in doc["cookies"]:
        seen.setdefault(cookie["visitor"], set()).add(cookie["name"])
    return seen


@pytest.mark.parametrize("example_site", ["fastapi"], indirect=True)
def test_example_site_is_clean(
    example_site: Server, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = "examples.fastapi_app.app:app"
    status, doc, err = audit_json(capsys, tmp_path, example_site.url + "/", "--config", target)
    assert doc["findings"] == [], doc["findings"]
    assert status == 0
    # Progress went to standard error, one line per page of each visitor.
    assert f"audit: [undecided] {example_site.url}/" in err
    assert "audit: [withdrawn] withdraw on" in err

    audit = doc["audit"]
    assert len(audit["pages"]) == 5  # the start page and four same-site links
    assert not any("/consent" in page for page in audit["pages"])
    assert audit["consent_cookie"] == ["consent"]
    assert doc["automation_hidden"]["navigator_webdriver"] is False
    assert "HeadlessChrome" not in doc["automation_hidden"]["user_agent"]

    # Who met which cookie: optional ones only after accepting; the consent cookie after
    # any choice; nothing at all before one.
    assert by_visitor(doc) == {
        "rejected": {"consent"},
        "accepted": OPTIONAL | {"consent"},
        "withdrawn": OPTIONAL | {"consent"},
    }
    cookies = {(c["name"], c["visitor"]): c for c in doc["cookies"]}
    for (name, _), cookie in cookies.items():
        assert cookie["category"] == CATEGORIES[name]
        assert cookie["category_source"] == ("consent" if name == "consent" else "config")
        assert cookie["first_party"] is True
        assert cookie["domain"] == "127.0.0.1"
    ga, ga_js, fbp = (cookies[(n, "accepted")] for n in ("_ga", "_ga_js", "_fbp"))
    assert (ga["set_by"], ga["http_only"]) == ("server", True)
    assert (ga_js["set_by"], ga_js["http_only"]) == ("script", False)
    assert (fbp["set_by"], fbp["http_only"]) == ("server", True)
    assert ga["known_as"]["platform"] == "Google Analytics"
    assert ga_js["known_as"]["pattern"] == "_ga_*"
    assert fbp["known_as"]["category"] == "Marketing"

    banner = doc["banner"]
    assert banner["first_layer"] == {"accept_all": True, "reject_all": True, "customize": True}
    assert (banner["accept_clicks"], banner["reject_clicks"]) == (1, 1)
    assert banner["withdrawal"] == {"method": "[data-consent-open]", "clicks": 2, "done": True}
    assert banner["pre_ticked"] == []

    # The withdrawn visitor had the optional cookies, and lost them at the withdrawal.
    timeline = doc["timeline"]["withdrawn"]
    kinds = [step["kind"] for step in timeline]
    assert kinds == ["page", "choice", "page", "withdrawal", *["page"] * 5]
    jar = [{c["name"] for c in step["cookies"]} for step in timeline]
    assert jar[2] == OPTIONAL | {"consent"}
    assert all(names == {"consent"} for names in jar[4:])
    assert all(step["way_back"] == "[data-consent-open]" for step in timeline[4:])


@pytest.mark.parametrize("example_site", ["flask"], indirect=True)
def test_installed_command_writes_an_html_report(example_site: Server, tmp_path: Path) -> None:
    """The installed script, against Flask under waitress: exit 0 and a single-file report."""
    report = tmp_path / "audit.html"
    command = Path(sys.executable).parent / "consent-middleware"
    result = subprocess.run(
        [
            str(command),
            "audit",
            example_site.url + "/",
            "--config",
            "examples.flask_app.app:app",
            "--format",
            "html",
            "--output",
            str(report),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "audit: no findings" in result.stderr
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert "No findings" in html
    assert '<img src="data:image/png;base64,' in html  # the first layer, embedded
    for name in ("_ga", "_ga_js", "_fbp", "consent"):
        assert f"<code>{name}</code>" in html
    for visitor in ("undecided", "rejected", "accepted", "withdrawn"):
        assert f"<h3>{visitor}</h3>" in html
    assert "navigator.webdriver</code> read false" in html
    assert "<script" not in html  # a report, not a program: nothing in it runs


#: Each fault of the broken site, as the audit reports it: (kind, cookie, visitor).
EXPECTED = {
    ("cookie_before_consent", "_fbp", "undecided"),  # marketing, set by the server
    ("cookie_before_consent", "_gcl_au", "undecided"),  # set and removed by a script
    ("cookie_after_refusal", "_hjid", "rejected"),  # a script's cookie survives refusal...
    ("cookie_after_withdrawal", "_hjid", "withdrawn"),  # ...and withdrawal
    ("unknown_category", "zq_visit", "undecided"),
    ("no_reject_first_layer", None, "rejected"),
    ("third_party_before_consent", None, "undecided"),
}


def test_broken_site_each_fault_and_nothing_else(
    broken_site: Server, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = "tests.audit.broken_site:config"
    status, doc, _ = audit_json(capsys, tmp_path, broken_site.url + "/", "--config", target)
    found = {(f["kind"], f["cookie"], f["visitor"]) for f in doc["findings"]}
    assert found == EXPECTED
    assert len(doc["findings"]) == len(EXPECTED)
    assert status == 1
    findings = {(f["kind"], f["cookie"]): f for f in doc["findings"]}
    for finding in doc["findings"]:
        assert finding["rule"] and finding["detail"] and finding["page"].startswith("http")
    assert "set by the server" in findings[("cookie_before_consent", "_fbp")]["detail"]
    transient = findings[("cookie_before_consent", "_gcl_au")]["detail"]
    assert "set by a script" in transient and "removed again" in transient
    assert "Planet49" in findings[("cookie_before_consent", "_fbp")]["rule"]
    assert "2 clicks" in findings[("no_reject_first_layer", None)]["detail"]
    assert "EDPB Cookie Banner Taskforce" in findings[("no_reject_first_layer", None)]["rule"]
    assert "localhost" in findings[("third_party_before_consent", None)]["detail"]

    cookies = {(c["name"], c["visitor"]): c for c in doc["cookies"]}
    gcl = cookies[("_gcl_au", "undecided")]
    assert (gcl["set_by"], gcl["transient"]) == ("script", True)
    assert gcl["known_as"]["platform"] == "Google"
    assert cookies[("zq_visit", "undecided")]["category"] == "unknown"
    assert cookies[("zq_visit", "undecided")]["known_as"] is None
    assert cookies[("_hjid", "rejected")]["set_by"] == "script"
    assert doc["banner"]["reject_clicks"] == 2 and doc["banner"]["accept_clicks"] == 1
    hosts = {(r["host"], r["state"]) for r in doc["third_party_requests"]}
    assert ("localhost", "undecided") in hosts


def test_broken_site_without_config_names_cookies_from_the_database(
    broken_site: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --config: the database classifies, the consent cookie is found by what both a
    refusal and an acceptance set, and the text report lists the same findings."""
    status = main(["audit", broken_site.url + "/", "--quiet"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err == ""  # --quiet
    out = captured.out
    assert "Config: none (categories from the cookie database); consent cookie: consent" in out
    assert f"Findings ({len(EXPECTED)}):" in out
    for kind, cookie, visitor in EXPECTED:
        line = f"- {kind}{' ' + cookie if cookie else ''} [{visitor}, /"
        assert line in out, line
    assert "has no category in the cookie database" in out


def test_the_broken_site_without_its_faults_is_clean(
    site_with_faults: Callable[[str], Server], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The control: the same site and banner with no fault has no finding, so each finding
    above comes from its fault."""
    site = site_with_faults("")
    status, doc, _ = audit_json(
        capsys, tmp_path, site.url + "/", "--config", "tests.audit.broken_site:config"
    )
    assert doc["findings"] == []
    assert status == 0
    assert by_visitor(doc) == {
        "rejected": {"consent"},
        "accepted": {"consent", "_fbp"},
        "withdrawn": {"consent", "_fbp"},
    }


def test_a_site_without_a_banner(
    site_with_faults: Callable[[str], Server], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A generic site, without our banner: that is a finding, and what it stores is listed,
    local storage and the Cookie Store API included."""
    site = site_with_faults("no_banner,marketing,storage,cookie_store")
    status, doc, _ = audit_json(capsys, tmp_path, site.url + "/")
    assert status == 1
    found = {(f["kind"], f["cookie"], f["visitor"]) for f in doc["findings"]}
    assert found == {
        ("no_banner", None, "undecided"),
        ("cookie_before_consent", "_fbp", "undecided"),
        ("cookie_before_consent", "_pk_id.1.abcd", "undecided"),
        ("storage_before_consent", "_TCCookieSync", "undecided"),
    }
    assert doc["banner"]["found"] is False
    assert by_visitor(doc)["undecided"] == {"_fbp", "_pk_id.1.abcd"}
    cookies = {(c["name"], c["visitor"]): c for c in doc["cookies"]}
    matomo = cookies[("_pk_id.1.abcd", "undecided")]
    assert (matomo["set_by"], matomo["transient"]) == ("script", True)
    assert matomo["known_as"]["pattern"] == "_pk_id.*"
    (stored,) = [s for s in doc["storage"] if s["visitor"] == "undecided"]
    assert (stored["key"], stored["area"], stored["category"]) == (
        "_TCCookieSync",
        "local",
        "analytics",
    )
    assert stored["origin"] == site.url
    assert doc["notes"]["rejected"] == "no consent banner: no choice could be made"
