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


#: What each extra of pyproject.toml brings, by the modules a page imports or runs.
EXTRAS = {"flask": {"flask"}, "fastapi": {"fastapi", "starlette"}, "starlette": {"starlette"}}
SERVERS = {"uvicorn", "hypercorn", "flask", "quart", "waitress-serve", "gunicorn"}


@pytest.mark.parametrize("name", ["fastapi", "starlette", "flask", "litestar", "quart", "django"])
def test_quickstart_installs_what_it_runs(name: str) -> None:
    """The page's `pip install` line brings every framework its app imports and the server
    its run line starts: a newcomer copies the two lines and runs the app."""
    page = (DOCS / "quickstart" / f"{name}.md").read_text(encoding="utf-8")
    shell = "\n".join(re.findall(r"```sh\n(.*?)```", page, re.S))
    (pip,) = [line for line in shell.splitlines() if line.startswith("pip install ")]
    installed: set[str] = set()
    for word in pip.split("#")[0].split()[2:]:
        word = word.strip("'\"")
        extras = re.search(r"\[(.*)\]", word)
        for extra in extras.group(1).split(",") if extras else ():
            installed |= EXTRAS.get(extra, set())
        installed.add(re.sub(r"\[.*\]", "", word))
    needed = {
        module
        for block in python_blocks(DOCS / "quickstart" / f"{name}.md")
        for module in re.findall(r"^(?:from|import) (\w+)", block, re.M)
        if module in {"fastapi", "starlette", "flask", "litestar", "quart", "django"}
    }
    runs = {line.split()[0] for line in shell.splitlines() if line.strip()}
    needed |= {command.removesuffix("-serve") for command in runs & SERVERS}
    assert needed <= installed, f"{pip!r} does not install {sorted(needed - installed)}"


def test_pip_install_by_name_says_it_is_not_on_pypi_yet() -> None:
    """While README.md says the package is not on PyPI, a page that tells to
    `pip install consent-middleware` by name also says so, with the way that works."""
    if "Not on PyPI yet" not in (DOCS.parent / "README.md").read_text(encoding="utf-8"):
        pytest.skip("published")
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        if re.search(r"^\s*pip install .*'?consent-middleware", text, re.M):
            assert "not on pypi yet" in text.lower(), page.name


def test_examples_run_lines_serve_where_the_page_says() -> None:
    """docs/examples.md runs each example, then says "open http://127.0.0.1:8000/": every
    run line listens there (uvicorn's default port is 8000; Flask's is 5000)."""
    page = (DOCS / "examples.md").read_text(encoding="utf-8")
    assert "Then open <http://127.0.0.1:8000/>" in page
    shell = re.findall(r"```sh\n(.*?)```", page, re.S)[0]
    for line in shell.splitlines():
        command = line.split("#")[0].strip()
        if command and not command.startswith(".venv/bin/uvicorn"):
            assert "--port 8000" in command or "--port=8000" in command, command


def test_examples_page_names_every_variable_the_sites_read() -> None:
    """Each environment variable that the example sites read is in docs/examples.md's
    table, so a newcomer knows, e.g., where `make demo` keeps its records."""
    examples = DOCS.parent / "examples"
    read = {
        name
        for source in examples.rglob("*.py")
        for name in re.findall(r"os\.environ(?:\.get\(|\[)\"([A-Z_]+)\"", source.read_text())
    }
    assert read, "no variables found: the pattern is stale"
    page = (DOCS / "examples.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", page, re.M))
    assert read <= documented, sorted(read - documented)
