"""A FastAPI app's own error page, in Chromium: Starlette runs the handler for `Exception`
outside every `add_middleware` middleware, yet an undecided visitor gets no `_ga` from it,
its analytics tag does not run, and the banner asks (`consent_middleware/error_pages.py`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from ..servers import Running, free_port, running, server_command

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    port = free_port()
    log: Path = tmp_path_factory.mktemp("error-pages") / "uvicorn.log"
    command = server_command("uvicorn", "tests.fixtures.error_page_apps:app", port)
    with running(command, port, log) as run:
        yield run


def test_an_undecided_visitor_on_the_error_page(
    server: Running, new_context: Callable[..., BrowserContext]
) -> None:
    context = new_context()
    page = context.new_page()
    answer = page.goto(server.url + "/crash")
    assert answer is not None and answer.status == 500
    page.wait_for_load_state("load")
    assert page.locator("#consent-banner").is_visible()
    assert page.evaluate("window.analyticsRan === undefined")
    names = {c["name"] for c in context.cookies()}
    assert "_ga" not in names and "_ga_js" not in names
    assert "RuntimeError: the view failed" in server.output()  # still logged
