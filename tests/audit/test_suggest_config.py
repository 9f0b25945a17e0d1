"""`consent-middleware suggest-config`: a mapping that reproduces the example sites' config,
and `# unknown: decide` where the database does not know a cookie."""

from __future__ import annotations

import ast
import re

import pytest

from consent_middleware import ConsentConfig
from consent_middleware.cli import main
from consent_middleware.discovery import load_config
from tests.browser.helpers import Server

pytestmark = pytest.mark.browser

TARGETS = {"fastapi": "examples.fastapi_app.app:app", "flask": "examples.flask_app.app:app"}


def mapping(out: str) -> dict[str, str]:
    match = re.search(r"^cookies=(\{.*?^\})", out, re.MULTILINE | re.DOTALL)
    assert match, out
    value = ast.literal_eval(match.group(1))
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("example_site", ["fastapi", "flask"], indirect=True)
def test_mapping_reproduces_the_example_config(
    example_site: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["suggest-config", example_site.url + "/", "--pages", "2", "--quiet"])
    out = capsys.readouterr().out
    assert status == 0
    suggested = mapping(out)
    # Every cookie the visitors met, named by the database (`_ga_js` through its `_ga_`
    # prefix); the consent cookie needs no rule, and nothing is left to decide.
    assert suggested == {"_fbp": "marketing", "_ga": "analytics", "_ga_*": "analytics"}
    assert "# Google Analytics (Analytics): _ga_js" in out
    assert "unknown" not in suggested.values()
    assert "# The consent cookie (consent) needs no rule." in out

    site = load_config(TARGETS[example_site.kind])
    rebuilt = ConsentConfig(secret_key="x" * 32, cookies=suggested)
    for name in ("_ga", "_ga_js", "_fbp"):
        ours, theirs = rebuilt.rules.match(name), site.rules.match(name)
        assert ours is not None and theirs is not None
        assert ours.category == theirs.category, name


def test_unknown_cookies_are_left_to_decide(
    broken_site: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["suggest-config", broken_site.url + "/", "--quiet"])
    out = capsys.readouterr().out
    assert status == 0
    suggested = mapping(out)
    assert suggested == {
        "_fbp": "marketing",
        "_gcl_au": "marketing",
        "_hjid": "analytics",
        "zq_visit": "unknown",
    }
    assert '"zq_visit": "unknown",  # unknown: decide' in out
    # "unknown" is no category: pasted as it is, the config refuses to start.
    with pytest.raises(ValueError, match="zq_visit"):
        ConsentConfig(secret_key="x" * 32, cookies=suggested)
