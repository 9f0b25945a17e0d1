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
