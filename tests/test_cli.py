"""The `consent-middleware` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from consent_middleware.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_good_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "tests.fixtures.configs:good"]) == 0
    out = capsys.readouterr().out
    assert "_ga* -> analytics" in out and "No findings." in out


def test_config_carried_by_an_app(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "tests.fixtures.configs:app"]) == 0


def test_findings_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "tests.fixtures.configs:weak"]) == 1
    out = capsys.readouterr().out
    assert "secret_key is 3 characters" in out
    assert "category 'settings' has no cookie rule" in out
    assert "'_ga' matches both its own rule and the pattern '_ga*'" in out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.fixtures.configs", "module:attr"),
        ("tests.fixtures.nope:config", "No module named"),
        ("tests.fixtures.configs:missing", "missing"),
        ("tests.fixtures.configs:not_a_config", "not a ConsentConfig"),
    ],
)
def test_usage_errors_exit_2(target: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", target]) == 2
    assert message in capsys.readouterr().err


def test_installed_command_has_help() -> None:
    command = Path(sys.executable).parent / "consent-middleware"
    for args in ([], ["check-config"]):
        result = subprocess.run(
            [str(command), *args, "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONWARNINGS": "error"},
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "Usage: consent-middleware" in result.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from consent_middleware import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"consent-middleware, version {__version__}"


def test_app_as_target(capsys: pytest.CaptureFixture[str]) -> None:
    """The FastAPI and Flask example apps carry the middleware: check-config finds it."""
    for target in ("examples.fastapi_app.app:app", "examples.flask_app.app:app"):
        status = main(["check-config", target])
        out = capsys.readouterr().out
        assert "policy_version: " in out, target
        assert status == 1  # the example's development secret is a finding


def test_probe_finds_cookies_the_config_misses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "tests.fixtures.configs:fastapi_probed", "--probe", "/shop/"]) == 1
    out = capsys.readouterr().out
    assert "GET /shop/ sets '_fbp' at Path=/shop" in out
    assert "CookieRule('marketing', path='/shop')" in out
    assert "sets cookie 'mystery', which no rule in cookies= names" in out
    assert "'session'" not in out.split("Findings:")[1]  # required, and set where its rule says
    assert main(["check-config", "tests.fixtures.configs:fastapi_probed", "--probe", "/"]) == 0
    capsys.readouterr()
    assert main(["check-config", "tests.fixtures.configs:flask_probed", "--probe", "/shop/"]) == 1
    out = capsys.readouterr().out
    assert "sets '_ga' at Path=/ Domain=example.com" in out
    assert "CookieRule('analytics', path='/', domain='example.com')" in out


@pytest.mark.parametrize(
    "args",
    [
        ["tests.fixtures.configs:create_fastapi_app", "--factory"],
        ["tests.fixtures.configs:create_fastapi_app()"],
        ["tests.fixtures.configs:create_flask_app()"],
        ["tests.fixtures.configs:create_flask_app('k8Hq2VxZ0rT5mN7pL1sW4yB6cF9gJ3dB')"],
        ["tests.fixtures.configs:create_flask_app", "--factory"],
    ],
)
def test_an_app_factory_is_called(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`create_app()` (Flask's form) or `--factory` (uvicorn's): the app it returns is
    checked, probes included."""
    assert main(["check-config", *args]) == 0
    assert "policy_version: 1" in capsys.readouterr().out
    if "create_fastapi_app" in args[0]:
        assert main(["check-config", *args, "--probe", "/shop/"]) == 1
        assert "sets cookie 'mystery'" in capsys.readouterr().out


def test_an_app_factory_takes_literal_arguments_by_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check-config", "tests.fixtures.configs:create_flask_app(weak=True)"]) == 1
    assert "secret_key is 3 characters" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.fixtures.configs:create_flask_app(__import__('os'))", "must be literals"),
        ("tests.fixtures.configs:create_flask_app(**{})", "must be literals"),
        ("tests.fixtures.configs:create_flask_app(1), good(2)", "must be literals"),
        ("tests.fixtures.configs:create_flask_app('k')('k')", "must be literals"),
        ("tests.fixtures.configs:create_flask_app(", "neither an attribute nor a call"),
        ("tests.fixtures.configs:good()", "not an app factory"),
        ("tests.fixtures.configs:create_flask_app", "write create_flask_app() to call it"),
        ("tests.fixtures.configs:failing_factory()", "RuntimeError: no DATABASE_URL"),
        ("tests.fixtures.configs:create_flask_app(1, 2)", "TypeError"),
    ],
)
def test_a_factory_that_cannot_be_called_is_a_usage_error(
    target: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad arguments are never evaluated as code; a factory that raises says what and where
    (exit 2, not a traceback)."""
    assert main(["check-config", target]) == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_audit_takes_a_factory_call_as_its_config(capsys: pytest.CaptureFixture[str]) -> None:
    """`audit --config 'module:create_app()'` loads the config the factory's app carries:
    the usage error is then about the URL, not the config."""
    assert main(["audit", "ftp://x/", "--config", "tests.fixtures.configs:create_flask_app()"]) == 2
    err = capsys.readouterr().err
    assert "--config" not in err, err
    assert main(["audit", "ftp://x/", "--config", "tests.fixtures.configs:failing_factory()"]) == 2
    assert "no DATABASE_URL" in capsys.readouterr().err


def test_probe_needs_the_app(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "tests.fixtures.configs:good", "--probe", "/"]) == 2
    assert "--probe needs the app" in capsys.readouterr().err


def test_root_path_without_probe_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Alone, --root-path would change nothing: no silent "No findings." under a prefix."""
    assert main(["check-config", "tests.fixtures.configs:app", "--root-path", "/shop"]) == 2
    captured = capsys.readouterr()
    assert "--probe" in captured.err and "No findings" not in captured.out


def test_hints_are_not_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "tests.fixtures.configs:good"]) == 0
    out = capsys.readouterr().out
    assert "Hints:" in out and "__Host-consent" in out


BROKEN_MODULES = {
    "raises_at_import": "import os\n\nX = 1\nraise RuntimeError('boom at import')\n",
    "bad_syntax": "def broken(:\n    pass\n",
}


@pytest.mark.parametrize("module", sorted(BROKEN_MODULES))
@pytest.mark.parametrize(
    "command",
    [["check-config", "{target}"], ["audit", "http://127.0.0.1:9/", "--config", "{target}"]],
)
def test_a_module_that_fails_to_import_is_a_usage_error(
    module: str,
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A target whose module raises while imported (a RuntimeError, a SyntaxError) "cannot be
    loaded": exit 2 with the error and where it was raised, not a traceback and exit 1,
    which a CI step reads as findings."""
    (tmp_path / f"{module}.py").write_text(BROKEN_MODULES[module], encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    args = [arg.format(target=f"{module}:app") for arg in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"cannot import {module!r}" in err, err
    assert "boom at import" in err or "SyntaxError" in err
    assert f"{module}.py" in err and "line " in err
