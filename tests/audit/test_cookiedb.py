"""The bundled Open Cookie Database and its overlay: the traps of a site's own cookie names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consent_middleware.audit.cookiedb import (
    OVERLAY,
    CookieDatabase,
    KnownCookie,
    default_database,
    source_info,
)

DATA = Path(__file__).resolve().parents[2] / "consent_middleware" / "audit" / "data"


@pytest.mark.parametrize(
    ("name", "pattern", "platform", "category", "suggested"),
    [
        pytest.param("_ga", "_ga", "Google Analytics", "Analytics", "analytics", id="exact"),
        pytest.param(
            "_ga_ABC123", "_ga_*", "Google Analytics", "Analytics", "analytics", id="prefix"
        ),
        pytest.param("_fbp", "_fbp", "Facebook", "Marketing", "marketing", id="marketing"),
        pytest.param("_hjid", "_hjid", "Hotjar", "Analytics", "analytics", id="hotjar"),
        # The traps named in the data's README: the overlay wins over the database.
        pytest.param(
            "sessionid", "sessionid", "Django", "Necessary", "authentication", id="django-session"
        ),
        pytest.param("session", "session", "Flask", "Necessary", "authentication", id="flask"),
        pytest.param("csrftoken", "csrftoken", "Django", "Security", "authentication", id="csrf"),
        pytest.param(
            "remember_token",
            "remember_token",
            "Flask-Login",
            "Necessary",
            "authentication",
            id="flask-login",
        ),
        pytest.param(
            "ph_phc_abc_posthog", "ph_*", "PostHog", "Analytics", "analytics", id="posthog"
        ),
        # A name written as a pattern in the CSV ("SSPR_*") is a prefix.
        pytest.param("SSPR_1234", "SSPR_*", "Adkernel", "Marketing", "marketing", id="star"),
    ],
)
def test_lookup(name: str, pattern: str, platform: str, category: str, suggested: str) -> None:
    known = default_database().lookup(name)
    assert known is not None
    assert (known.pattern, known.platform, known.category) == (pattern, platform, category)
    assert known.suggested == suggested


def test_unknown_names() -> None:
    database = default_database()
    for name in ("zq_visit", "theme", "", "_sx"):  # "_s" is a prefix too short to match
        assert database.lookup(name) is None, name


def test_exact_before_prefix_and_longest_prefix_first() -> None:
    entries = [
        KnownCookie("ab_", True, "Short", "Analytics"),
        KnownCookie("ab_cd", True, "Long", "Marketing"),
        KnownCookie("ab_cd_exact", False, "Exact", "Functional"),
    ]
    database = CookieDatabase(entries)
    assert database.lookup("ab_cd_exact").platform == "Exact"  # type: ignore[union-attr]
    assert database.lookup("ab_cd_x").platform == "Long"  # type: ignore[union-attr]
    assert database.lookup("ab_x").platform == "Short"  # type: ignore[union-attr]
    assert database.lookup("ab") is None


def test_overlay_wins_over_a_database_exact_name() -> None:
    database = CookieDatabase(
        [KnownCookie("sessionid", False, "Instagram", "Marketing")],
        [KnownCookie("session", True, "Framework", "Necessary", source="overlay")],
    )
    known = database.lookup("sessionid")
    assert known is not None and known.platform == "Framework"


def test_duplicates_are_merged_and_the_strictest_category_counts() -> None:
    known = default_database().lookup("token")  # Adform (Marketing) and Xandr (Functional)
    assert known is not None
    platforms = {known.platform, *(a.platform for a in known.alternatives)}
    assert platforms == {"Adform", "Xandr"}
    assert known.suggested == "marketing"
    assert known.as_json()["alternatives"]


def test_bundled_file_matches_its_notice() -> None:
    document = json.loads((DATA / "open-cookie-database.json").read_text(encoding="utf-8"))
    assert len(document["cookies"]) == 2264
    assert len(default_database()) == 2264
    info = source_info()
    assert info["license"] == "Apache-2.0"
    notice = (DATA / "NOTICE").read_text(encoding="utf-8")
    assert info["commit"] in notice and info["url"] in notice
    assert "Apache License" in (DATA / "LICENSE").read_text(encoding="utf-8")
    assert all(entry.source == "overlay" for entry in OVERLAY)
