"""Schemathesis hooks for tests/test_schemathesis.py (loaded by `st run` through
SCHEMATHESIS_HOOKS, in its own process).

Generated cookies are never validly signed, so without help every request would come from an
undecided visitor: `flatmap_cookies` also sends real consent cookies that the test got from
the running site (CONSENT_ST_COOKIES, a JSON list), so that decided visitors, their
receipts and their changes of mind are exercised too. The checks hold what docs/api.md
promises beyond the document's schemas.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

#: The site's consent cookie name, and real values of it (one per kind of visitor).
COOKIE_NAME = os.environ.get("CONSENT_ST_COOKIE_NAME", "consent")
VISITORS: list[str] = json.loads(os.environ.get("CONSENT_ST_COOKIES", "[]"))
#: "cross-site": every request carries `Sec-Fetch-Site: cross-site`, so every write is a 403.
EXPECT = os.environ.get("CONSENT_ST_EXPECT", "")
_WRITES = ("POST", "DELETE")


@schemathesis.hook
def flatmap_cookies(context: Any, cookies: dict[str, Any] | None) -> Any:
    """The generated cookies, or the same with a real consent cookie instead."""
    if cookies is None or not VISITORS:
        return st.just(cookies)
    real = st.sampled_from(VISITORS).map(lambda value: {**cookies, COOKIE_NAME: value})
    return st.one_of(st.just(cookies), real)


@schemathesis.check
def errors_set_no_cookie(ctx: Any, response: Any, case: Any) -> bool | None:
    """docs/api.md, Errors: "none sets a cookie" (a refused choice must not half-apply)."""
    if response.status_code >= 400 and response.headers.get("set-cookie"):
        raise AssertionError(
            f"a {response.status_code} sets cookies: {response.headers['set-cookie']}"
        )
    return None


@schemathesis.check
def redirects_stay_on_site(ctx: Any, response: Any, case: Any) -> bool | None:
    """A form's 303 goes back to a path on this site, never to another host."""
    if response.status_code == 303:
        (location,) = response.headers.get("location", [""])
        if not location.startswith("/") or location.startswith(("//", "/\\")):
            raise AssertionError(f"303 to {location!r} leaves the site")
    return None


@schemathesis.check
def cross_site_writes_refused(ctx: Any, response: Any, case: Any) -> bool | None:
    """With `Sec-Fetch-Site: cross-site` on every request, no write gets through."""
    if EXPECT == "cross-site" and case.method.upper() in _WRITES:
        sent = response.request.headers.get("sec-fetch-site")
        if sent != "cross-site":
            raise AssertionError(f"the request carried Sec-Fetch-Site {sent!r}")
        if response.status_code != 403:
            raise AssertionError(f"a cross-site {case.method} got {response.status_code}")
    return None
