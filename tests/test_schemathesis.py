"""Schemathesis against the example sites under their real servers (FastAPI under uvicorn,
Flask under waitress), from the document each one serves at /consent/openapi.json: no 5xx,
and every response as the document says (status, media type, body, headers), 405 with the
right `Allow` for every other method, invalid input refused.

`st run` runs in a subprocess, deterministic (the same cases every run, no example
database), one worker, bounded by `MAX_EXAMPLES` per operation. tests/schemathesis_hooks.py
adds real consent cookies (decided visitors, with records) and the checks of docs/api.md
that no schema can say. A second run sends `Sec-Fetch-Site: cross-site` on every request:
every write must be refused.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser.helpers import SITES, Server, start_server

pytestmark = pytest.mark.server

HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
MAX_EXAMPLES = 100
#: Schemathesis' own checks that apply here, and ours (tests/schemathesis_hooks.py).
#: Left out: `positive_data_acceptance` (a valid `dismiss_notice` from an undecided visitor
#: is a 400 that no schema can foresee), and the checks of authentication and of stateful
#: resources, which these endpoints do not have.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "allow_header_conformance",
    "errors_set_no_cookie",
    "redirects_stay_on_site",
    "cross_site_writes_refused",
)
#: The visitors whose cookies the generated requests may carry: their choices.
CHOICES: list[dict[str, Any]] = [
    {"action": "accept_all"},
    {"action": "reject_all"},
    {"action": "save", "categories": ["analytics"]},
]
RUN_TIMEOUT = 300


@pytest.fixture(scope="module", params=list(SITES))
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    server = start_server(request.param, tmp_path_factory.mktemp(f"schemathesis-{request.param}"))
    try:
        yield server
    finally:
        server.stop()


def _consent_cookie(site: Server, choice: dict[str, Any] | None, cookie: str = "") -> str:
    """The consent cookie value that one real choice through the endpoint sets (None:
    a withdrawal, `DELETE /consent`)."""
    request = urllib.request.Request(
        site.url + "/consent",
        data=None if choice is None else json.dumps(choice).encode(),
        headers={"Content-Type": "application/json", "Cookie": f"consent={cookie}"},
        method="DELETE" if choice is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        for value in response.headers.get_all("Set-Cookie") or []:
            if value.startswith("consent="):
                return str(value.split(";", 1)[0].removeprefix("consent="))
    raise AssertionError(f"{request.method} /consent set no consent cookie")


def visitors(site: Server) -> list[str]:
    """Decided visitors' cookies, each with its records in the site's store."""
    values = [_consent_cookie(site, choice) for choice in CHOICES]
    # Accepted all, then withdrew: one consent id with two records.
    return [*values, _consent_cookie(site, None, _consent_cookie(site, CHOICES[0]))]


def schemathesis(
    site: Server, out: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """Run `st run` against the site's own document; its output, and the verdict per
    operation from its JUnit report ("" for passed, else the failure's text)."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{site.url}/consent/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--no-color",
        "--output-sanitize",
        "false",
        "--report",
        "junit",
        "--report-dir",
        str(out),
        *extra,
    ]
    result = subprocess.run(
        command,
        cwd=out,  # schemathesis keeps a cache folder in its working directory
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": str(HOOKS),
            "CONSENT_ST_COOKIES": json.dumps(visitors(site)),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    output = result.stdout + result.stderr
    (report,) = out.glob("junit*.xml")
    verdicts = {
        case.attrib["name"]: "".join(f.text or "" for f in case if f.tag in ("failure", "error"))
        for case in ET.parse(report).iter("testcase")
    }
    assert (result.returncode == 0) == (not any(verdicts.values())), output
    # The middleware fails closed on its own bugs (logged, never a 500): none may hide here.
    assert "Traceback" not in site.log.read_text(errors="replace"), site.log.read_text()
    return output, verdicts


def _operations(site: Server) -> set[str]:
    with urllib.request.urlopen(site.url + "/consent/openapi.json", timeout=10) as response:
        document = json.load(response)
    return {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
    }


def test_every_operation_conforms(site: Server, tmp_path: Path) -> None:
    output, verdicts = schemathesis(site, tmp_path)
    failed = {name: text for name, text in verdicts.items() if text}
    assert not failed, output
    # Every operation was tested; schemathesis leaves out the GET of the document it loaded.
    assert set(verdicts) == _operations(site) - {"GET /consent/openapi.json"}
    generated = re.search(r"(\d+) generated", output)
    assert generated is not None and int(generated.group(1)) >= 1000, output


def test_cross_site_writes_are_refused(site: Server, tmp_path: Path) -> None:
    """Schemathesis sends no Origin and no Sec-Fetch-Site, so its writes pass the cross-site
    check; here every request says `cross-site`, and every POST and DELETE must be a 403
    (tests/schemathesis_hooks.py, `cross_site_writes_refused`) that conforms."""
    output, verdicts = schemathesis(
        site,
        tmp_path,
        "--header",
        "Sec-Fetch-Site: cross-site",
        "--include-method",
        "POST",
        "--include-method",
        "DELETE",
        "--warnings",
        "off",  # "only 403 responses": that is the point
        env={"CONSENT_ST_EXPECT": "cross-site"},
    )
    assert verdicts == {"POST /consent": "", "DELETE /consent": ""}, output
