"""A page whose Content-Type names no charset is read in the charset its `<meta>` names
(`meta_charset.py`, `charsets.MetaSniffer`): for ISO-2022-JP, whose two-byte text can hold
`<!--`, that decides whether a gated script after it is seen. The table of pages is
Chromium's (tests/browser/test_meta_charset.py checks it there)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_middleware.charsets import MetaSniffer, names_charset
from consent_middleware.html import HtmlRewriter
from consent_middleware.meta_charset import MORE, NONE, meta_charset

from .conftest import AppSpec, Site
from .fixtures.meta_charsets import META_PAGES
from .test_charsets import gated_tag

JIS_PAGE = (
    b"<!doctype html><html><head><meta charset=iso-2022-jp><title>t</title></head><body>"
    b"<p>\x1b$BF|K\\8l<!--\x1b(B</p>"
    b'<script data-consent-category="analytics">track()</script><p>--></p></body></html>'
)


@pytest.mark.parametrize("case", list(META_PAGES))
def test_the_label_is_the_one_chromium_reads(case: str) -> None:
    page, label, _ = META_PAGES[case]
    assert meta_charset(page, True) == (label or NONE)


@pytest.mark.parametrize("case", list(META_PAGES))
def test_a_part_of_the_page_never_decides_otherwise(case: str) -> None:
    page, label, _ = META_PAGES[case]
    for cut in range(len(page)):
        assert meta_charset(page[:cut], False) in (MORE, label or NONE), cut


@pytest.mark.parametrize("size", [1, 7, 100, 4096])
def test_a_meta_named_iso_2022_jp_page_is_gated_in_any_chunks(size: int) -> None:
    """Read as ASCII, `ESC $ B ... <!-- ESC ( B` opens a comment that hides the script."""
    out = recoded(JIS_PAGE, size)
    text = out.decode("iso2022_jp")
    assert "日本語" in text  # the two-byte text, read in its charset
    assert 'type="text/plain"' in gated_tag(text)


def recoded(page: bytes, size: int) -> bytes:
    from consent_middleware.gating import TagGate

    inner = HtmlRewriter(body_snippet=b"<i>banner</i>", tags=TagGate(frozenset()))
    sniffer = MetaSniffer(inner, inner)
    chunks = [page[i : i + size] for i in range(0, len(page), size)]
    return b"".join(sniffer.feed(chunk) for chunk in chunks) + sniffer.finish()


class Plain:
    """A body filter that changes nothing, and keeps what it saw."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def feed(self, chunk: bytes) -> bytes:
        self.seen.append(chunk)
        return chunk

    def finish(self) -> bytes:
        return b""


def test_a_page_with_a_byte_order_mark_is_not_read_by_its_meta() -> None:
    page = b"\xef\xbb\xbf" + JIS_PAGE
    plain = Plain()
    sniffer = MetaSniffer(HtmlRewriter(), plain)
    assert sniffer.feed(page) + sniffer.finish() == page
    assert b"".join(plain.seen) == page


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.binary(max_size=300))
def test_the_sniffer_passes_every_byte_of_a_plain_page(size: int, tail: bytes) -> None:
    """Held bytes all come out, in order, whatever the chunking."""
    page = b"<!doctype html><head><title>x</title></head><body>" + tail.replace(b"<", b"")
    chunks = [page[i : i + size] for i in range(0, len(page), size)]
    sniffer = MetaSniffer(HtmlRewriter(), HtmlRewriter())
    assert b"".join(sniffer.feed(c) for c in chunks) + sniffer.finish() == page


def test_a_head_longer_than_the_hold_is_read_as_ascii() -> None:
    """At most `MetaSniffer.HOLD` bytes wait; a page whose head runs longer streams on."""
    page = b"<head><style>" + b"x" * (MetaSniffer.HOLD + 10) + b"</style><meta charset=iso-2022-jp>"
    sniffer = MetaSniffer(HtmlRewriter(), Plain())
    first = sniffer.feed(page[: MetaSniffer.HOLD + 5])
    assert len(first) == MetaSniffer.HOLD + 5
    assert first + sniffer.feed(page[MetaSniffer.HOLD + 5 :]) + sniffer.finish() == page


def test_scanning_a_long_head_in_small_chunks_stays_linear() -> None:
    """Each scan waits for twice the bytes of the last: 1-byte chunks cost no quadratic time."""
    import time

    page = b"<head><style>" + b"x" * 60000 + b"</style></head><body>"
    sniffer = MetaSniffer(HtmlRewriter(), HtmlRewriter())
    start = time.process_time()
    out = b"".join(sniffer.feed(page[i : i + 1]) for i in range(len(page))) + sniffer.finish()
    assert out == page
    assert time.process_time() - start < 5  # quadratic rescans would take minutes


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("text/html", False),
        ("text/html; charset=utf-8", True),
        ("text/html; charset=bogus", False),  # an unknown label: the <meta> decides
        ("text/html; charset=iso-2022-jp", True),
    ],
)
def test_a_header_names_a_charset_only_with_a_known_label(content_type: str, named: bool) -> None:
    assert names_charset(content_type) is named


@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=bogus"])
def test_a_meta_named_iso_2022_jp_page_is_gated_through_the_middleware(
    make_site: Callable[..., Site], content_type: str
) -> None:
    response = make_site(AppSpec(body=JIS_PAGE, content_type=content_type), gate_scripts=True).get(
        "/"
    )
    text = response.content.decode("iso2022_jp", "replace")
    assert "日本語" in text and 'id="consent-banner"' in text
    assert 'type="text/plain"' in gated_tag(text)
    assert "content-length" not in response.headers


def test_a_utf8_header_wins_over_the_meta(make_site: Callable[..., Site]) -> None:
    """Browsers read the page as UTF-8: its bytes are left as they are (no recoding)."""
    spec = AppSpec(body=JIS_PAGE, content_type="text/html; charset=utf-8")
    response = make_site(spec, gate_scripts=True).get("/")
    assert b"\x1b$BF|K\\8l<!--\x1b(B" in response.content


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.booleans())
def test_the_scan_never_raises(data: bytes, final: bool) -> None:
    """Whatever a page holds (a NUL or a lone surrogate in a label, say), the scan answers."""
    for page in (data, b"<meta charset=" + data, b"<meta http-equiv=content-type content=" + data):
        assert meta_charset(page, final) is not None


def test_a_label_no_codec_can_name_is_skipped() -> None:
    page = b"<meta charset='\x00'><meta charset='utf-8\xff\x00'><meta charset=iso-2022-jp><p>a"
    assert meta_charset(page, True) == "iso-2022-jp"
    plain = Plain()
    sniffer = MetaSniffer(HtmlRewriter(), plain)
    assert b"\x00" in sniffer.feed(page[:40]) + sniffer.feed(page[40:]) + sniffer.finish()


@pytest.mark.parametrize("size", [4096, 65536 + 7])
def test_a_meta_past_the_hold_cannot_hide_a_refused_script(size: int) -> None:
    """A head longer than `HOLD` streams on, read as ASCII before its `<meta>` is seen; a
    browser still reads the page as the ISO-2022-JP it names, whose `ESC $ B <!-- ESC ( B`
    is text, not a comment. Gating then takes a second look: the script after it is inert
    however the tokenizer reads the bytes before it (Chromium ran it, chunks of 4096)."""
    from consent_middleware.core import ConsentCore

    from .conftest import make_config

    page = (
        b"<!doctype html><html><head><style>/*" + b"a" * 70000 + b"*/</style>"
        b"<meta charset=iso-2022-jp></head><body>\x1b$B<!--\x1b(B"
        b"<script data-consent-category=marketing>track()</script></body></html>"
    )
    core = ConsentCore(make_config(gate_scripts=True))
    sent, page_filter = core.plan_response(
        core.begin("", False), 200, [(b"content-type", b"text/html")], True
    )
    assert page_filter is not None
    chunks = [page[i : i + size] for i in range(0, len(page), size)]
    out = b"".join(page_filter.feed(c) for c in chunks) + page_filter.finish()
    assert b"<script type=text/plain data-consent-category=marketing>" in out


#: Body of a page whose `<meta>` names ISO-2022-JP after `FIRST`: in its two-byte text,
#: `ESC $ B <!-- ESC ( B` is no comment, and the refused script after it runs.
JIS_AFTER = (
    b"<!doctype html><html><head>%s<meta charset=iso-2022-jp></head><body>\x1b$B<!--\x1b(B"
    b"<script data-consent-category=marketing>track()</script>--></body></html>"
)


@pytest.mark.parametrize(
    ("content_type", "first"),
    [
        # Labels Python knows and browsers do not: browsers skip them and read on.
        ("text/html; charset=utf-32", b""),
        ("text/html; charset=utf-8-sig", b""),
        ("text/html", b'<meta charset="utf-32">'),
        ("text/html", b'<meta charset="utf-7">'),
        ("text/html", b'<meta charset="cp037">'),
        ("text/html", b'<meta http-equiv="content-type" content="text/html; charset=hex">'),
    ],
)
def test_a_label_only_python_knows_is_skipped_as_browsers_skip_it(
    make_site: Callable[..., Site], content_type: str, first: bytes
) -> None:
    """Read as ASCII, the JIS text's `<!--` hid the script from gating; Chromium ran it."""
    body = JIS_AFTER.replace(b"%s", first)
    spec = AppSpec(body=body, content_type=content_type)
    text = make_site(spec, gate_scripts=True).get("/").content.decode("iso2022_jp", "replace")
    assert '<script type="text/plain" data-consent-category=marketing>' in text


@pytest.mark.parametrize(
    ("content_type", "first"),
    [
        # Labels browsers know and Python does not: they end browsers' search, so the page
        # is read as ASCII by both, not as the ISO-2022-JP a later <meta> names.
        ("text/html; charset=x-user-defined", b""),
        ("text/html; charset=windows-874", b""),
        ("text/html; charset=x-sjis", b""),
        ("text/html", b'<meta charset="unicode20utf8">'),
        ("text/html", b'<meta charset="mac">'),
    ],
)
def test_a_label_only_browsers_know_ends_the_search(
    make_site: Callable[..., Site], content_type: str, first: bytes
) -> None:
    """Decoded as ISO-2022-JP, `ESC $ B </STYLE> ESC ( B` became four characters and kept
    a `<style>` open over the refused script, which Chromium (reading ASCII) ran."""
    body = (
        b"<!doctype html><html><head>" + first + b'<meta charset="iso-2022-jp"></head><body>'
        b"<style>\x1b$B</STYLE>\x1b(B<script data-consent-category=marketing>track()</script>"
        b"</style></body></html>"
    )
    spec = AppSpec(body=body, content_type=content_type)
    out = make_site(spec, gate_scripts=True).get("/").content
    assert b"\x1b$B</STYLE>\x1b(B" in out  # read as ASCII, as Chromium reads it
    assert b'<script type="text/plain" data-consent-category=marketing>' in out
