"""Set-Cookie lookalikes of deletions against Chromium's own cookie jar: sent as they are,
Chromium keeps the ones the table says it keeps; through the middleware, no `_fbp` survives
for a visitor who never agreed to marketing. Real deletions delete."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext

from ..fixtures.lookalikes import DELETIONS, LOOKALIKES
from ..servers import Running, free_port, running, server_command

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Running]]:
    logs = tmp_path_factory.mktemp("lookalike-servers")
    ports = {"with": free_port(), "without": free_port()}
    apps = {"with": "asgi", "without": "bare_asgi"}
    with (
        running(
            server_command("uvicorn", f"tests.fixtures.wire_apps:{apps['with']}", ports["with"]),
            ports["with"],
            logs / "with.log",
        ) as with_mw,
        running(
            server_command(
                "uvicorn", f"tests.fixtures.wire_apps:{apps['without']}", ports["without"]
            ),
            ports["without"],
            logs / "without.log",
        ) as bare,
    ):
        yield {"with": with_mw, "without": bare}


def jar_after(browser: Browser, url: str, carried: bool) -> list[dict[str, object]]:
    context: BrowserContext = browser.new_context()
    try:
        if carried:
            # Where the app had set it: the site's root path.
            context.add_cookies(
                [{"name": "_fbp", "value": "old", "domain": "127.0.0.1", "path": "/"}]
            )
        page = context.new_page()
        page.goto(url)
        return [c for c in context.cookies() if c["name"] == "_fbp"]  # type: ignore[misc]
    finally:
        context.close()


@pytest.mark.parametrize("index", range(len(LOOKALIKES)), ids=[x.id for x in LOOKALIKES])
def test_lookalikes_in_chromium(browser: Browser, servers: dict[str, Running], index: int) -> None:
    lookalike = LOOKALIKES[index]
    bare = jar_after(browser, f"{servers['without'].url}/lookalike/{index}", carried=True)
    kept = [c for c in bare if c["value"] == "x"]
    assert bool(kept) == lookalike.chromium_keeps, bare
    for carried in (False, True):
        jar = jar_after(browser, f"{servers['with'].url}/lookalike/{index}", carried=carried)
        assert jar == [], (lookalike.value, carried)


@pytest.mark.parametrize("index", range(len(DELETIONS)))
def test_real_deletions_in_chromium(
    browser: Browser, servers: dict[str, Running], index: int
) -> None:
    value = DELETIONS[index]
    # Through the middleware the carried cookie goes, whatever path the app's deletion had.
    assert jar_after(browser, f"{servers['with'].url}/deletion/{index}", carried=True) == []
    # Without it, a deletion without Path only hits its default path (/deletion).
    bare = jar_after(browser, f"{servers['without'].url}/deletion/{index}", carried=True)
    assert (bare == []) == ("path=/" in value.lower()), bare
