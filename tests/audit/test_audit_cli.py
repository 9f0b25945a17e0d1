"""The audit commands' usage errors (exit 2), before or without a browser, and their help."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from consent_middleware.cli import main
from tests.browser.helpers import REPO_ROOT
from tests.servers import free_port


@pytest.mark.parametrize("command", ["audit", "suggest-config"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["ftp://example.com/"], "not an http:// or https:// URL", id="scheme"),
        pytest.param(["example.com"], "not an http:// or https:// URL", id="no-scheme"),
        pytest.param(
            ["http://127.0.0.1:1/", "--config", "tests.fixtures.configs:not_a_config"],
            "not a ConsentConfig",
            id="config",
        ),
        pytest.param(
            ["http://127.0.0.1:1/", "--config", "tests.fixtures.nope:config"],
            "No module named",
            id="config-module",
        ),
        pytest.param(
            ["http://127.0.0.1:1/", "--browser", "/nonexistent/chromium"],
            "no browser at '/nonexistent/chromium'",
            id="browser",
        ),
        pytest.param(
            ["http://127.0.0.1:1/", "--output", "/nonexistent/folder/report.txt"],
            "cannot write /nonexistent/folder/report.txt",
            id="output",
        ),
        pytest.param(["http://127.0.0.1:1/", "--pages", "0"], "--pages", id="pages"),
        pytest.param([], "Missing argument", id="no-url"),
    ],
)
def test_usage_errors_exit_2(
    command: str, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, *args]) == 2
    assert message in capsys.readouterr().err


def test_without_playwright_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "playwright" or m.startswith("playwright.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "playwright", None)  # import playwright fails
    assert main(["audit", "http://127.0.0.1:1/"]) == 2
    assert "pip install 'consent-middleware[browser]'" in capsys.readouterr().err


@pytest.mark.browser
def test_a_start_page_that_does_not_load_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    assert main(["audit", url, "--quiet", "--timeout", "5"]) == 2
    assert f"could not load {url}" in capsys.readouterr().err


def test_installed_command_has_help() -> None:
    command = Path(sys.executable).parent / "consent-middleware"
    for args in (["audit"], ["suggest-config"]):
        result = subprocess.run(
            [str(command), *args, "--help"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONWARNINGS": "error"},
            check=False,
        )
        assert result.returncode == 0, result.stderr
        for option in ("--pages", "--config", "--browser", "--timeout", "--output"):
            assert option in result.stdout
    assert (
        "--format [text|json|html]"
        in subprocess.run(
            [str(command), "audit", "--help"], capture_output=True, text=True, check=True
        ).stdout
    )


def _command() -> list[str]:
    return [str(Path(sys.executable).parent / "consent-middleware"), "audit"]


@pytest.mark.browser
def test_a_server_that_is_down_is_one_line_of_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    result = subprocess.run(
        [*_command(), url, "--quiet", "--timeout", "5"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"Error: could not load {url}: Page.goto: net::ERR_CONNECTION_REFUSED at {url}"
    ]


@pytest.mark.browser
@pytest.mark.parametrize("example_site", ["fastapi"], indirect=True)
def test_ctrl_c_aborts_with_130_and_no_traceback(example_site: Any) -> None:
    """SIGINT to the whole process group, as a terminal sends it: Chromium and Playwright's
    driver get it too."""
    process = subprocess.Popen(
        [*_command(), example_site.url + "/", "--pages", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        assert process.stderr is not None
        while "audit: [" not in process.stderr.readline():  # the visit is under way
            assert time.monotonic() < deadline and process.poll() is None
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130
    lines = err.splitlines()
    assert lines[-1] == "Aborted."
    assert "Traceback" not in err and "never retrieved" not in err
    assert all(line.startswith("audit: ") for line in lines[:-1]), err
