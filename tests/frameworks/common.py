"""What every framework test checks, over any client: the same small site built with
Django, Litestar and Quart, each under the middleware the way its recipe says.

Every site has the same two routes:

- `GET /`: an HTML page that sets `session` (authentication, HttpOnly) and `_ga`
  (analytics) on every visit, as a careless analytics integration would;
- `GET /state`: JSON from the view's own `get_consent(request)`, and the names of the
  cookies the framework's request object shows the view.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx

from consent_middleware import Consent, ConsentConfig

from ..servers import Running, free_port, running

CONFIG = ConsentConfig(
    secret_key="framework-test-secret-0123456789abcdef",
    cookies={"session": "authentication", "_ga*": "analytics", "_fbp": "marketing"},
    policy_version="2024-02-24",
)

PAGE = "<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1></body></html>"
#: What the home page sets: (name, value, HttpOnly).
HOME_COOKIES = [("session", "s1", True), ("_ga", "GA1.1.42", False)]


def state(consent: Consent, cookie_names: Any) -> dict[str, Any]:
    """The `/state` answer of every site."""
    return {
        "decided": consent.decided,
        "analytics": consent.allows("analytics"),
        "cookies": sorted(cookie_names),
    }


def request(client: httpx.Client, method: str, path: str, cookie: str = "", **kw: Any) -> Any:
    """One request with exactly the cookies given (the client's jar is never used)."""
    client.cookies.clear()
    headers = dict(kw.pop("headers", {}))
    if cookie:
        headers["cookie"] = cookie
    return client.request(method, path, headers=headers, follow_redirects=False, **kw)


def set_names(response: httpx.Response) -> list[str]:
    """Names of the cookies a response sets (deletions left out)."""
    return sorted(
        v.split("=", 1)[0].strip()
        for v in response.headers.get_list("set-cookie")
        if "max-age=0" not in v.lower()
    )


def deleted_names(response: httpx.Response) -> list[str]:
    return sorted(
        v.split("=", 1)[0].strip()
        for v in response.headers.get_list("set-cookie")
        if "max-age=0" in v.lower()
    )


def consent_cookie(client: httpx.Client, choice: dict[str, Any]) -> str:
    """`consent=<value>` for a choice made through the middleware's own endpoint, as the
    framework's server stack carries it."""
    response = request(
        client,
        "POST",
        "/consent",
        content=json.dumps(choice).encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    (value,) = [
        v for v in response.headers.get_list("set-cookie") if v.startswith(CONFIG.cookie_name)
    ]
    return str(value.split(";", 1)[0])


# The checks: each framework's test module runs every one over each of its stacks.


def check_refused_cookie_is_stripped(client: httpx.Client) -> None:
    response = request(client, "GET", "/")
    assert response.status_code == 200
    assert set_names(response) == ["session"]  # _ga, set by the view, never leaves
    (session,) = response.headers.get_list("set-cookie")
    assert "httponly" in session.lower()


def check_carried_refused_cookie_is_expired(client: httpx.Client) -> None:
    response = request(client, "GET", "/", cookie="session=s1; _ga=GA1.1.7; _fbp=fb.1.2")
    assert deleted_names(response) == ["_fbp", "_ga"]
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(("_ga=", "_fbp=")):
            assert "path=/" in value.lower()


def check_banner_is_injected(client: httpx.Client) -> None:
    response = request(client, "GET", "/")
    body = response.text
    assert body.count('id="consent-banner"') == 1
    assert body.index('id="consent-banner"') < body.rindex("</body>") < body.rindex("</html>")
    assert body.startswith(PAGE[: PAGE.index("</body>")])
    if "content-length" in response.headers:
        assert int(response.headers["content-length"]) == len(response.content)
    assert "cookie" in response.headers["vary"].lower()


def check_granted_cookies_pass_once_accepted(client: httpx.Client) -> None:
    consent = consent_cookie(client, {"action": "accept_all"})
    response = request(client, "GET", "/", cookie=consent)
    assert set_names(response) == ["_ga", "session"]
    assert deleted_names(response) == []


def check_get_consent_in_a_view(client: httpx.Client) -> None:
    carried = "session=s1; _ga=GA1.1.7"
    undecided = request(client, "GET", "/state", cookie=carried).json()
    # Refused cookies are hidden from the framework's own request object too.
    assert undecided == {"decided": False, "analytics": False, "cookies": ["session"]}

    accepted = consent_cookie(client, {"action": "accept_all"})
    decided = request(client, "GET", "/state", cookie=f"{carried}; {accepted}").json()
    assert decided == {"decided": True, "analytics": True, "cookies": ["_ga", "consent", "session"]}

    rejected = consent_cookie(client, {"action": "reject_all"})
    refused = request(client, "GET", "/state", cookie=f"{carried}; {rejected}").json()
    assert refused == {"decided": True, "analytics": False, "cookies": ["consent", "session"]}


CHECKS = [
    check_refused_cookie_is_stripped,
    check_carried_refused_cookie_is_expired,
    check_banner_is_injected,
    check_granted_cookies_pass_once_accepted,
    check_get_consent_in_a_view,
]


@contextmanager
def served(command: list[str], port: int, log: Path) -> Iterator[httpx.Client]:
    """A client for a real server running in a subprocess."""
    server: Running
    with running(command, port, log) as server, httpx.Client(base_url=server.url) as client:
        yield client


__all__ = ["CHECKS", "CONFIG", "HOME_COOKIES", "PAGE", "free_port", "served", "state"]
