"""The wheel carries what an installed package needs: the banner files, the templates,
py.typed, the OpenAPI document, the audit's cookie database with its licence, the command,
the project's own licence, and the version that `consent_middleware.__version__` names (its
one place)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import consent_middleware

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("consent_middleware-*.whl")
    return built


def test_wheel_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "consent_middleware/static/banner/banner.js",
        "consent_middleware/static/banner/banner.css",
        "consent_middleware/templates/banner.html",
        "consent_middleware/templates/preferences.html",
        "consent_middleware/py.typed",
        # The OpenAPI document that every site serves at <path_prefix>/openapi.json.
        "consent_middleware/openapi.json",
        # The audit's cookie names: the derived database, its licence and where it comes from.
        "consent_middleware/audit/data/open-cookie-database.json",
        "consent_middleware/audit/data/LICENSE",
        "consent_middleware/audit/data/NOTICE",
        "consent_middleware/audit/templates/report.html",
    ):
        assert needed in names
    assert not any("/src/" in name for name in names)  # the build's sources stay home
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "consent-middleware = consent_middleware.cli:entry_point" in text


def test_wheel_version_and_licence(wheel: Path) -> None:
    version = consent_middleware.__version__
    assert wheel.name.startswith(f"consent_middleware-{version}-")
    archive = zipfile.ZipFile(wheel)
    dist_info = f"consent_middleware-{version}.dist-info"
    metadata = archive.read(f"{dist_info}/METADATA").decode()
    assert f"\nVersion: {version}\n" in metadata
    assert "\nLicense-Expression: MIT\n" in metadata
    assert "\nLicense-File: LICENSE\n" in metadata
    assert archive.read(f"{dist_info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()


def test_installed_wheel_serves_its_own_files(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    script = (
        "import consent_middleware, consent_middleware.assets as a;"
        "from consent_middleware import ConsentConfig;"
        "from consent_middleware.banner import BannerRenderer;"
        "from consent_middleware.consent import ConsentCodec;"
        "c = ConsentConfig(secret_key='s');"
        "html = BannerRenderer(c).snippet(ConsentCodec(c).undecided, 'en');"
        "from consent_middleware.audit.cookiedb import default_database;"
        "print(consent_middleware.__file__);"
        "print(sorted(a.load_assets()));"
        "print('consent-banner' in html);"
        "print(default_database().lookup('_ga').platform);"
        "from consent_middleware.openapi import site_document;"
        "print(sorted(site_document(c)['paths'])[0]);"
        "import importlib.metadata as m;"
        "print(m.version('consent-middleware'), consent_middleware.__version__)"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(target)!r}); "
            + "sys.path.extend("
            + repr([p for p in sys.path if "site-packages" in p])
            + "); "
            + script,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    lines = result.stdout.splitlines()
    file_line, assets_line, banner_line, cookiedb_line, openapi_line, version_line = lines
    assert file_line.startswith(str(target))
    assert assets_line == "['banner.css', 'banner.js']"
    assert banner_line == "True"
    assert cookiedb_line == "Google Analytics"  # read from the installed wheel's data
    assert openapi_line == "/.well-known/gpc.json"  # the document, from the wheel too
    installed, imported = version_line.split()
    assert installed == imported == consent_middleware.__version__


def test_a_flask_site_needs_no_starlette(wheel: Path, tmp_path: Path) -> None:
    """`pip install 'consent-middleware[flask]'` into a fresh environment: no Starlette (the
    package never needs it), and a Flask app under the middleware works."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"{wheel}[flask]",
        ],
        check=True,
        capture_output=True,
    )
    script = (
        "import importlib.util, flask;"
        "from consent_middleware import ConsentConfig, ConsentWSGIMiddleware, get_consent;"
        "app = flask.Flask('x');"
        "app.add_url_rule('/', 'page', lambda: ('<html><body>hi</body></html>', 200,"
        " [('Set-Cookie', '_ga=1'), ('Content-Type', 'text/html')]));"
        "me = lambda: {'a': get_consent(flask.request).allows('analytics')};"
        "app.add_url_rule('/me', 'me', me);"
        "c = ConsentConfig(secret_key='s', cookies={'_ga*': 'analytics'});"
        "app.wsgi_app = ConsentWSGIMiddleware(app.wsgi_app, config=c);"
        "client = app.test_client(); page = client.get('/'); me = client.get('/me');"
        "find = importlib.util.find_spec;"
        "print(find('starlette') is None, find('anyio') is None);"
        "print(page.headers.getlist('Set-Cookie'), b'consent-banner' in page.data, me.json)"
    )
    result = subprocess.run(
        [str(python), "-I", "-c", script], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert result.stdout.splitlines() == ["True True", "[] True {'a': False}"]


def test_example_records_leave_git_status_clean() -> None:
    """`make demo` and `make demo-flask` keep records in `integrica-records.db` at the root
    of the clone; SQLite's WAL sidecar files (`-wal`, `-shm`, left behind by a server that
    is stopped with a signal) are ignored by git like the database itself."""
    for name in ("integrica-records.db", "integrica-records.db-wal", "integrica-records.db-shm"):
        done = subprocess.run(
            ["git", "-C", str(ROOT), "check-ignore", "--no-index", "-q", name], check=False
        )
        assert done.returncode == 0, f"{name} is not ignored by .gitignore"
