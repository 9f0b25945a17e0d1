"""The headers of a rewritten page that say what its body is, however often the app sends
them: a length the filter changes, validators that must name the consent state."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import AppSpec, Site

BODY = b"<html><body><p>hello</p></body></html>"


@pytest.mark.parametrize("lengths", [[str(len(BODY))] * 2, [str(len(BODY)), "5"]])
def test_every_content_length_is_corrected_or_none_is_sent(
    make_site: Callable[..., Site], lengths: list[str]
) -> None:
    site = make_site(AppSpec(body=BODY, extra_headers=[("Content-Length", n) for n in lengths]))
    # The AppSpec app adds its own Content-Length too: the same value as the first.
    response = site.get("/")
    assert b'id="consent-banner"' in response.content
    sent = response.headers.get_list("content-length")
    if len(set(lengths)) == 1:
        assert sent == [str(len(response.content))]
    else:
        assert sent == []  # no single length to correct: the server sends the page chunked


def test_every_etag_names_the_state(make_site: Callable[..., Site]) -> None:
    site = make_site(AppSpec(body=BODY, extra_headers=[("ETag", '"a"'), ("ETag", 'W/"b"')]))
    tags = site.get("/").headers.get_list("etag")
    assert len(tags) == 2 and all(t.startswith('W/"') and "-cm" in t for t in tags)
