"""App shapes of ordinary FastAPI apps where the banner or the page broke (probe round 3):

- a page holding a `<template>` whose content has a `</body>` of its own (a component, a
  print view kept as a whole document): the parser ignores a `</body>` inside a template,
  but the banner went before it, into the template's inert content, and never showed;
- a page that leaves a form (or a select, a closed details, SVG, a button) open at its
  `</body>`: the banner became part of it, its own form dropped as a nested form;
- a FastAPI app that mounts a Flask app through a WSGI bridge (Starlette's
  `WSGIMiddleware`, asgiref's `WsgiToAsgi`), each with its own middleware: the Flask app's
  environ carries no sign of the outer one, so both rewrote the page (two banners).

Each page is read as a browser builds it (html5lib): the banner must be in the document
itself, not in a template's content. tests/browser/test_app_shapes_round3.py shows the same
pages in Chromium.
"""

from __future__ import annotations

import xml.dom.minidom
from typing import Any

import html5lib
import pytest

from consent_middleware import ConsentMiddleware
from consent_middleware.html import HtmlRewriter

from .fixtures.app_shapes_round3 import (
    BRIDGES,
    TEMPLATES,
    UNCLOSED,
    asgi,
    config,
    flask_app,
    mounted_flask,
)
from .raw import http_scope, run_asgi, wsgi_call


def asgi_page(path: str, app: Any = asgi) -> tuple[dict[str, Any], bytes]:
    sent = run_asgi(app, http_scope(path))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0], body


def banner_in_document(page: bytes) -> bool:
    """Whether the banner is an element of the document (html5lib keeps a template's content
    as the template's children; a browser keeps it in an inert fragment)."""
    tree = html5lib.parse(page.decode("utf-8"), namespaceHTMLElements=False)

    def walk(element: Any) -> bool:
        for child in element:
            if child.tag == "template":
                continue
            if child.get("id") == "consent-banner" or walk(child):
                return True
        return False

    return walk(tree)


def test_the_oracle_can_fail() -> None:
    inside = b"<body><template><section id='consent-banner'></section></template></body>"
    assert not banner_in_document(inside)
    assert banner_in_document(b"<body><section id='consent-banner'></section></body>")


@pytest.mark.parametrize("shape", list(TEMPLATES))
def test_the_banner_is_not_put_inside_a_template(shape: str) -> None:
    start, body = asgi_page(f"/template/{shape}")
    assert start["status"] == 200
    assert body.count(b'id="consent-banner"') == 1
    assert banner_in_document(body)
    assert body.index(b'id="consent-banner"') > body.rindex(b"</template>")


@pytest.mark.parametrize("bridge", list(BRIDGES))
def test_a_flask_app_mounted_in_fastapi_gets_one_banner(bridge: str) -> None:
    start, body = asgi_page(f"/{bridge}/", mounted_flask)
    assert start["status"] == 200
    assert body.count(b'id="consent-banner"') == 1
    assert body.count(b"/consent/banner.js") == 1
    assert b"<p id='decided'>False</p>" in body  # get_consent in Flask reads the outer one
    cookies = [v for k, v in start["headers"] if k.lower() == b"set-cookie"]
    assert not [c for c in cookies if c.startswith((b"_ga=", b"_fbp="))]


def test_the_mounted_flask_app_alone_still_decides() -> None:
    """Without an outer middleware (the same Flask app under a WSGI server), its own does."""
    status, headers, chunks = wsgi_call(flask_app, "/")
    body = b"".join(chunks)
    assert status.startswith("200")
    assert body.count(b'id="consent-banner"') == 1
    assert not [v for k, v in headers if k.lower() == "set-cookie" and v.startswith("_ga=")]


@pytest.mark.parametrize("shape", list(TEMPLATES))
def test_a_template_page_cut_anywhere_gives_the_same_page(shape: str) -> None:
    """The rewriter streams: a `<template`, `</template` or `</body` split between two
    chunks must not move the banner."""
    source = TEMPLATES[shape].encode()

    def rewrite(chunks: list[bytes]) -> bytes:
        rewriter = HtmlRewriter(head_snippet=b"<!--H-->", body_snippet=b"<!--B-->")
        return b"".join(rewriter.feed(chunk) for chunk in chunks) + rewriter.finish()

    whole = rewrite([source])
    assert whole.index(b"<!--B-->") > whole.rindex(b"</template>")
    for cut in range(1, len(source)):
        assert rewrite([source[:cut], source[cut:]]) == whole, cut


def banner_ancestry(page: bytes) -> tuple[list[str], bool]:
    """The names of the banner's ancestors, as a browser builds the page (html5lib), and
    whether the banner has its own form."""
    tree = html5lib.parse(page.decode("utf-8"), namespaceHTMLElements=False)
    parents = {child: parent for parent in tree.iter() for child in parent}
    found = [e for e in tree.iter() if e.get("id") == "consent-banner"]
    assert len(found) == 1
    names, node = [], found[0]
    while node in parents:
        node = parents[node]
        names.append(str(node.tag).rpartition("}")[2])
    return names, found[0].find(".//form") is not None


def test_the_ancestry_oracle_can_fail() -> None:
    names, has_form = banner_ancestry(
        b"<body><form><section id='consent-banner'><form><button>x</button></form>"
    )
    assert "form" in names and not has_form


@pytest.mark.parametrize("kind", list(UNCLOSED))
def test_an_element_left_open_at_body_end_does_not_take_the_banner_in(kind: str) -> None:
    start, body = asgi_page(f"/unclosed/{kind}")
    assert start["status"] == 200
    names, has_form = banner_ancestry(body)
    assert names == ["body", "html"] and has_form
    assert body.count(b"<form") == 1 + (kind == "form")


def test_an_xhtml_page_gets_no_stray_end_tags() -> None:
    """In XML a stray end tag is a fatal error: XHTML pages are well-formed anyway."""
    xhtml = (
        '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>x'
        "</title></head><body><p>x</p></body></html>"
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/xhtml+xml")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": xhtml.encode()})

    _, body = asgi_page("/", ConsentMiddleware(app, config=config))
    assert b'id="consent-banner"' in body and b"</select>" not in body
    xml.dom.minidom.parseString(body)
