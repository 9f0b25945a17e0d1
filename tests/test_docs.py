"""The documentation's examples run as written: each quick start's app, exactly as its page
shows it, hides `_ga` until analytics is granted, shows the banner, and answers
`get_consent` in a route. The Django quick start's `wsgi.py` and `asgi.py` are the ones
that tests/frameworks/test_django.py runs."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

DOCS = Path(__file__).resolve().parents[1] / "docs"
PROJECT = Path(__file__).resolve().parent / "frameworks" / "django_project"


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


def run_quickstart(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The page's `app.py`, run as a module of that name (Litestar looks its module up)."""
    (source,) = [s for s in python_blocks(DOCS / "quickstart" / f"{name}.md") if "app = " in s]
    module = types.ModuleType("app")
    monkeypatch.setitem(sys.modules, "app", module)
    exec(compile(source, f"docs/quickstart/{name}.md", "exec"), module.__dict__)
    return module.app


@pytest.fixture(params=["fastapi", "starlette", "flask", "litestar", "quart"])
def client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("CONSENT_SECRET", "docs-test-secret-0123456789abcdef")
    app = run_quickstart(str(request.param), monkeypatch)
    if request.param == "flask":
        transport = httpx.WSGITransport(app=app)
        with httpx.Client(transport=transport, base_url="http://testserver") as wsgi:
            yield wsgi
    else:
        with TestClient(app, base_url="http://testserver") as asgi:
            yield asgi


def get(client: Any, path: str, cookie: str = "") -> Any:
    client.cookies.clear()
    return client.get(path, headers={"cookie": cookie} if cookie else {})


def test_quickstart_app(client: Any) -> None:
    first = get(client, "/")
    assert first.status_code == 200
    assert first.headers.get_list("set-cookie") == []  # _ga waits for consent
    assert 'id="consent-banner"' in first.text
    assert get(client, "/api/me").json() == {"analytics": False}

    client.cookies.clear()
    choice = client.post("/consent", json={"action": "accept_all"})
    (consent,) = [v.split(";")[0] for v in choice.headers.get_list("set-cookie")]
    granted = get(client, "/", cookie=consent)
    (ga,) = granted.headers.get_list("set-cookie")
    assert ga.startswith("_ga=GA1.1.42;") and "httponly" in ga.lower()
    assert get(client, "/api/me", cookie=consent).json() == {"analytics": True}


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_django_quickstart_is_the_tested_project(kind: str) -> None:
    (block,) = [b for b in python_blocks(DOCS / "quickstart" / "django.md") if f"_{kind}_" in b]
    tested = (PROJECT / f"{kind}.py").read_text(encoding="utf-8").splitlines()
    renames = {
        "from mysite.consent import config": "from ..common import CONFIG as config",
        '"mysite.settings"': '"tests.frameworks.django_project.settings"',
    }
    for line in block.splitlines():
        for ours, theirs in renames.items():
            line = line.replace(ours, theirs)
        assert line in tested, line
