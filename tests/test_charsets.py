"""UTF-16 pages get the banner and gating in UTF-16, as browsers read them: by their
charset label, or by a byte order mark whatever the label says. Over both adapters."""

from __future__ import annotations

import codecs
from collections.abc import Callable

import pytest

from consent_middleware.charsets import Utf16Page, utf16_order
from consent_middleware.mime import extract_mime_type

from .conftest import AppSpec, Site

PAGE = (
    "<html><head><title>Привіт</title></head><body><p>Ünïcödé 😀</p>"
    '<script data-consent-category="analytics">track()</script>'
    "</body></html>"
)
BOMS = {"le": codecs.BOM_UTF16_LE, "be": codecs.BOM_UTF16_BE}


def utf16(order: str, bom: bool) -> bytes:
    return (BOMS[order] if bom else b"") + PAGE.encode(f"utf-16-{order}")


def read(body: bytes, order: str) -> str:
    # As a browser does: a mark decides, else the label's order; strict, so garbage fails.
    for named, mark in BOMS.items():
        if body.startswith(mark):
            return body[2:].decode(f"utf-16-{named}")
    return body.decode(f"utf-16-{order}")


def gated_tag(text: str) -> str:
    """The start tag of the page's analytics script, as it left."""
    at = text.index('data-consent-category="analytics"')
    return text[text.rindex("<script", 0, at) : text.index(">", at) + 1]


@pytest.mark.parametrize(
    ("label", "order", "bom"),
    [("utf-16", "le", True), ("UTF-16BE", "be", False), ("utf-16le", "le", False)],
)
@pytest.mark.parametrize("gate", [False, True])
def test_a_labelled_utf16_page_gets_banner_and_gating(
    make_site: Callable[..., Site], label: str, order: str, bom: bool, gate: bool
) -> None:
    body = utf16(order, bom)
    spec = AppSpec(body=body, content_type=f"text/html; charset={label}")
    response = make_site(spec, gate_scripts=gate).get("/")
    text = read(response.content, order)
    assert 'id="consent-banner"' in text
    assert text.startswith("<html><head><title>Привіт</title>") and "Ünïcödé 😀" in text
    assert text.index('id="consent-banner"') < text.index("</body></html>")
    gated = gated_tag(text)
    if gate:
        assert 'type="text/plain"' in gated  # held until consent
        assert "content-length" not in response.headers
    else:
        assert 'type="text/plain"' not in gated
        assert response.headers["content-length"] == str(len(response.content))


def test_a_utf16_mark_under_a_utf8_label_is_read_as_utf16_when_gated(
    make_site: Callable[..., Site],
) -> None:
    """StaticFiles labels every .html file UTF-8; a browser reads one that starts with a
    UTF-16 mark as UTF-16. Gated, its length is unknown anyway: rewritten in UTF-16."""
    spec = AppSpec(body=utf16("le", True), content_type="text/html; charset=utf-8")
    response = make_site(spec, gate_scripts=True).get("/")
    text = read(response.content, "le")
    assert 'id="consent-banner"' in text and "Ünïcödé 😀" in text
    assert 'type="text/plain"' in gated_tag(text)


def test_a_utf16_mark_under_a_utf8_label_with_a_length_is_left_whole(
    make_site: Callable[..., Site], caplog: pytest.LogCaptureFixture
) -> None:
    """Without gating the length was announced for a UTF-8 snippet: the page is left as
    the app wrote it, padded with UTF-16 spaces to that length, and reported."""
    body = utf16("be", True)
    spec = AppSpec(body=body, content_type="text/html; charset=utf-8")
    response = make_site(spec).get("/")
    assert response.content.startswith(body)
    assert response.headers["content-length"] == str(len(response.content))
    assert read(response.content, "be").rstrip(" ") == PAGE  # no garbage, only spaces
    assert "UTF-16 mark" in caplog.text


def test_a_utf8_page_is_unchanged_by_the_sniffer(make_site: Callable[..., Site]) -> None:
    spec = AppSpec(body=PAGE.encode(), content_type="text/html")
    response = make_site(spec).get("/")
    assert 'id="consent-banner"' in response.content.decode("utf-8")


class Identity:
    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> bytes:
        return b""


@pytest.mark.parametrize(
    "body",
    [
        utf16("le", True),
        utf16("be", False),
        b"\xff\xfe" + "a\ud800b".encode("utf-16-le", "surrogatepass"),  # a lone surrogate
        utf16("le", False) + b"\x41",  # an odd last byte
        b"\x3c",
        b"",
    ],
)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 10_000])
def test_utf16_streams_byte_for_byte(body: bytes, size: int) -> None:
    page = Utf16Page(Identity(), "be" if body.startswith(b"\x00<") else "le")
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    out = b"".join(page.feed(c) for c in chunks) + page.finish()
    assert out == body


@pytest.mark.parametrize(
    ("content_type", "order"),
    [
        ("text/html; charset=utf-16", "le"),
        ('text/html; charset="UTF-16BE"', "be"),
        ("text/html;charset=unicodeFFFE", "be"),
        ("text/html; charset=ucs-2", "le"),
        ("text/html; charset=utf-8", None),
        ("text/html", None),
        ("text/html; charset=utf-32", None),  # no browser reads UTF-32
    ],
)
def test_utf16_order(content_type: str, order: str | None) -> None:
    assert utf16_order(content_type) == order


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text/html", ("text/html", None)),
        ("Text/HTML; Charset=UTF-16", ("text/html", "utf-16")),
        ("text/html; charset=utf-16, text/html", ("text/html", "utf-16")),  # kept
        ("text/html; charset=utf-8, text/html; charset=utf-16", ("text/html", "utf-16")),
        ("text/html; charset=utf-16, text/plain", ("text/plain", None)),  # another type
        ("application/json, text/html", ("text/html", None)),  # the last valid one
        ("text/html, garbage", ("text/html", None)),
        ("text/html, */*", ("text/html", None)),
        ('text/html; foo="a;charset=utf-8"; charset=utf-16', ("text/html", "utf-16")),
        ('text/html; charset="utf-16"', ("text/html", "utf-16")),
        ("text/html; charset=utf-8; charset=utf-16", ("text/html", "utf-8")),  # the first
        ("nonsense", (None, None)),
        ("", (None, None)),
    ],
)
def test_mime_types_read_as_browsers_do(value: str, expected: tuple[str | None, ...]) -> None:
    assert extract_mime_type(value) == expected


@pytest.mark.parametrize(
    "content_types",
    [
        ["text/html; charset=utf-16", "text/html"],  # the second keeps the first's charset
        ["text/html; charset=utf-8, text/html; charset=utf-16"],
        ['text/html; foo="a;charset=utf-8"; charset=utf-16'],
    ],
)
def test_utf16_labels_browsers_read_are_read(
    make_site: Callable[..., Site], content_types: list[str]
) -> None:
    body = utf16("le", False)
    spec = AppSpec(body=body, content_type=content_types[0])
    spec.extra_headers = [("Content-Type", ct) for ct in content_types[1:]]
    text = read(make_site(spec, gate_scripts=True).get("/").content, "le")
    assert 'id="consent-banner"' in text and 'type="text/plain"' in gated_tag(text)


def test_a_page_browsers_take_for_html_is_one(make_site: Callable[..., Site]) -> None:
    spec = AppSpec(body=PAGE.encode(), content_type="application/json, text/html")
    text = make_site(spec, gate_scripts=True).get("/").content.decode()
    assert 'id="consent-banner"' in text and 'type="text/plain"' in gated_tag(text)


@pytest.mark.parametrize("gate", [False, True])
def test_a_utf8_mark_wins_over_a_utf16_label(make_site: Callable[..., Site], gate: bool) -> None:
    body = codecs.BOM_UTF8 + PAGE.encode()
    spec = AppSpec(body=body, content_type="text/html; charset=utf-16")
    response = make_site(spec, gate_scripts=gate).get("/")
    text = response.content.decode("utf-8-sig")
    assert 'id="consent-banner"' in text and "Ünïcödé 😀" in text
    assert ('type="text/plain"' in gated_tag(text)) is gate
    if not gate:
        assert response.headers["content-length"] == str(len(response.content))


@pytest.mark.parametrize("label", ["iso-2022-jp", "csISO2022JP"])
def test_an_iso_2022_jp_page_is_read_in_its_charset(
    make_site: Callable[..., Site], label: str
) -> None:
    """Its two-byte text can hold `<!--` (`ESC $ B <!-- ESC ( B` is two characters to a
    browser): read as ASCII, a comment would seem to open and hide the gated script after
    it. (`--` is an NEC row-13 character, which Python's codec writes back as `?`.)"""
    body = (
        b"<html><body><p>\x1b$BF|K\\8l<!--\x1b(B</p>"
        b'<script data-consent-category="analytics">track()</script></body></html>'
    )
    spec = AppSpec(body=body, content_type=f"text/html; charset={label}")
    response = make_site(spec, gate_scripts=True).get("/")
    text = response.content.decode("iso2022_jp", "replace")
    assert text.startswith("<html><body><p>日本語") and 'id="consent-banner"' in text
    assert 'type="text/plain"' in gated_tag(text)
    assert "content-length" not in response.headers
