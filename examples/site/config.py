"""The `ConsentConfig` of Integrica, the same for the FastAPI and the Flask app.

Environment:
- `CONSENT_SECRET`: signs the consent and session cookies (a development default otherwise).
- `CONSENT_SECRETS`: for key rotation instead, comma-separated, the new key first (it signs)
  and the old ones after it (cookies and records they signed still verify).
- `INTEGRICA_POLICY_VERSION`: overrides the policy version, which asks every visitor again.
- `INTEGRICA_POLICY_UPDATED`: the date of the latest minor policy update (a one-time notice
  for visitors who chose before it).
- `INTEGRICA_DB`: the SQLite file of the page-view counter (see `pageviews.py`).
- `INTEGRICA_RECORDS`: where proof of consent goes (default: the SQLite file
  `integrica-records.db` in the current folder; a `postgresql://` URL works too).
"""

from __future__ import annotations

import os

from consent_middleware import ConsentConfig

DEV_SECRET = "dev-only-not-secret-integrica-example-key"
POLICY_VERSION = "2026-11-25"

#: Every cookie the site sets, by name or pattern, with its category.
COOKIES = {
    "session": "authentication",
    "theme": "settings",
    "_ga*": "analytics",
    "_fbp": "marketing",
}


def secret_keys() -> list[str]:
    """The site's keys, the signing one first: `CONSENT_SECRETS`, else `CONSENT_SECRET`."""
    rotated = [key.strip() for key in os.environ.get("CONSENT_SECRETS", "").split(",")]
    if any(rotated):
        return [key for key in rotated if key]
    return [os.environ.get("CONSENT_SECRET", DEV_SECRET)]


def secret_key() -> str:
    """The key that signs new cookies."""
    return secret_keys()[0]


def make_config() -> ConsentConfig:
    return ConsentConfig(
        secret_key=secret_keys(),
        cookies=COOKIES,
        policy_version=os.environ.get("INTEGRICA_POLICY_VERSION", POLICY_VERSION),
        policy_updated=os.environ.get("INTEGRICA_POLICY_UPDATED") or None,
        privacy_policy_url="/privacy",
        # Every page's footer has its own "Cookie settings" button (data-consent-open).
        settings_link=False,
        # Tags and embeds marked data-consent-category are made inert in the HTML until their
        # category is granted (the analytics tag and the home page's video need no type change).
        gate_scripts=True,
        # gtag('consent', 'default', ...) before any tag, and 'update' on every choice.
        google_consent_mode=True,
        # Proof of consent: one signed record per choice, in a local SQLite file.
        records=os.environ.get("INTEGRICA_RECORDS", "sqlite:///integrica-records.db"),
    )
