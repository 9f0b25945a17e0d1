"""The streaming HTML rewriter of issue 4 (script/iframe gating, snippet insertion) and
Google Consent Mode's commands."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from consent_middleware.config import DEFAULT_GOOGLE_CONSENT_MAPPING
from consent_middleware.consent import Consent
from consent_middleware.consent_mode import consent_mode_default, consent_mode_update
from consent_middleware.gating import TagGate
from consent_middleware.html import _SKIPS, _TAG_REST
from consent_middleware.html import HtmlRewriter as _Rewriter
from consent_middleware.start_tags import MAX_TAG, T_END, T_NAME, scan_tag

from .conftest import AppSpec, Site, make_config


def HtmlRewriter(  # noqa: N802 - the rewriter as the core builds it, with or without gating
    *,
    granted: Iterable[str],
    gate: bool,
    head_snippet: bytes = b"",
    body_snippet: bytes = b"",
    **texts: Any,
) -> _Rewriter:
    tags = TagGate(frozenset(granted), **texts) if gate else None
    return _Rewriter(head_snippet=head_snippet, body_snippet=body_snippet, tags=tags)


GRANTED = frozenset({"authentication", "analytics"})
PLAIN = 'type="text/plain"'


def rewrite(
    body: bytes | str,
    chunks: Iterable[bytes] | None = None,
    *,
    granted: Iterable[str] = GRANTED,
    gate: bool = True,
    **options: Any,
) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    rewriter = HtmlRewriter(granted=frozenset(granted), gate=gate, **options)
    parts = [rewriter.feed(chunk) for chunk in (chunks if chunks is not None else [data])]
    out = b"".join(parts) + rewriter.finish()
    assert not rewriter._failed
    return out


def gated(body: str, **options: Any) -> str:
    return rewrite(body, **options).decode()


# --- scripts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            '<script data-consent-category="marketing">track()</script>',
            f'<script {PLAIN} data-consent-category="marketing">track()</script>',
            id="inline-refused",
        ),
        pytest.param(
            '<script data-consent-category="analytics">count()</script>',
            '<script data-consent-category="analytics">count()</script>',
            id="inline-granted",
        ),
        pytest.param(
            '<script src="/fb.js" async data-consent-category="marketing"></script>',
            f'<script {PLAIN} src="/fb.js" async data-consent-category="marketing"></script>',
            id="src-refused",
        ),
        pytest.param(
            '<script src="/ga.js" data-consent-category="analytics"></script>',
            '<script src="/ga.js" data-consent-category="analytics"></script>',
            id="src-granted",
        ),
        pytest.param(
            '<script type="module" src="/m.js" data-consent-category="marketing"></script>',
            f'<script {PLAIN} data-consent-type="module" src="/m.js"'
            ' data-consent-category="marketing"></script>',
            id="module-type-kept",
        ),
        pytest.param(
            "<script type='text/javascript' data-consent-category=marketing>x</script>",
            f'<script {PLAIN} data-consent-type="text/javascript"'
            " data-consent-category=marketing>x</script>",
            id="single-quoted-type-unquoted-category",
        ),
        pytest.param(
            '<script type="text/plain" data-consent-category="marketing">x</script>',
            '<script type="text/plain" data-consent-category="marketing">x</script>',
            id="already-text-plain",
        ),
        pytest.param(
            '<script TYPE="Text/Plain; charset=utf-8" data-consent-category="marketing"></script>',
            '<script TYPE="Text/Plain; charset=utf-8" data-consent-category="marketing"></script>',
            id="already-text-plain-any-case",
        ),
        pytest.param(
            '<script data-consent-category="analytics marketing">x</script>',
            f'<script {PLAIN} data-consent-category="analytics marketing">x</script>',
            id="several-one-refused",
        ),
        pytest.param(
            '<script data-consent-category=" analytics\tauthentication ">x</script>',
            '<script data-consent-category=" analytics\tauthentication ">x</script>',
            id="several-all-granted",
        ),
        pytest.param(
            '<SCRIPT DATA-CONSENT-CATEGORY="marketing" SRC="/x.js"></SCRIPT>',
            f'<SCRIPT {PLAIN} DATA-CONSENT-CATEGORY="marketing" SRC="/x.js"></SCRIPT>',
            id="uppercase",
        ),
        pytest.param(
            "<script data-consent-category='marketing' src='/x.js?a=1&b=2'></script>",
            f"<script {PLAIN} data-consent-category='marketing' src='/x.js?a=1&b=2'></script>",
            id="single-quotes",
        ),
        pytest.param(
            "<script data-consent-category=marketing src=/x.js></script>",
            f"<script {PLAIN} data-consent-category=marketing src=/x.js></script>",
            id="unquoted",
        ),
        pytest.param(
            '<script data-x="a>b" data-consent-category="marketing">x</script>',
            f'<script {PLAIN} data-x="a>b" data-consent-category="marketing">x</script>',
            id="gt-in-value",
        ),
        pytest.param(
            "<script data-x='>' type=\"module\" data-consent-category='marketing'>x</script>",
            f"<script data-x='>' {PLAIN} data-consent-type=\"module\""
            " data-consent-category='marketing'>x</script>",
            id="gt-in-single-quoted-value",
        ),
        pytest.param(
            '<script data-consent-category="market&#105;ng">x</script>',
            f'<script {PLAIN} data-consent-category="market&#105;ng">x</script>',
            id="entity-refused",
        ),
        pytest.param(
            '<script data-consent-category="analytic&#x73;">x</script>',
            '<script data-consent-category="analytic&#x73;">x</script>',
            id="entity-granted",
        ),
        pytest.param(
            "<script type='a\"b' data-consent-category=marketing></script>",
            f'<script {PLAIN} data-consent-type="a&quot;b" data-consent-category=marketing>'
            "</script>",
            id="quote-in-kept-type",
        ),
        pytest.param(
            '<script type="" data-consent-category="marketing"></script>',
            f'<script {PLAIN} data-consent-category="marketing"></script>',
            id="empty-type-not-kept",
        ),
        pytest.param(
            '<script type="module" type="text/plain" data-consent-category="marketing"></script>',
            f'<script {PLAIN} data-consent-type="module" type="text/plain"'
            ' data-consent-category="marketing"></script>',
            id="duplicate-type-first-wins",
        ),
        pytest.param(
            '<script data-consent-category="marketing" data-consent-category="analytics"></script>',
            f'<script {PLAIN} data-consent-category="marketing"'
            ' data-consent-category="analytics"></script>',
            id="duplicate-category-first-wins",
        ),
        pytest.param(
            '<script data-consent-category="">x</script>',
            f'<script {PLAIN} data-consent-category="">x</script>',
            id="empty-category-fails-closed",
        ),
        pytest.param(
            '<script data-consent-category="Analytics">x</script>',
            f'<script {PLAIN} data-consent-category="Analytics">x</script>',
            id="category-case-sensitive",
        ),
        pytest.param(
            '<script/data-consent-category="marketing"/src="/x.js"></script>',
            f'<script {PLAIN}/data-consent-category="marketing"/src="/x.js"></script>',
            id="slashes-between-attributes",
        ),
        pytest.param(
            '<script\ndata-consent-category\n=\n"marketing"\n></script>',
            f'<script {PLAIN}\ndata-consent-category\n=\n"marketing"\n></script>',
            id="newlines-around-equals",
        ),
        pytest.param(
            '<script src="/app.js"></script><script>go()</script>',
            '<script src="/app.js"></script><script>go()</script>',
            id="no-category-untouched",
        ),
        pytest.param(
            '<scripts data-consent-category="marketing"></scripts>',
            '<scripts data-consent-category="marketing"></scripts>',
            id="other-tag-name",
        ),
        pytest.param(
            '<noscript><script data-consent-category="marketing"></script></noscript>',
            f'<noscript><script {PLAIN} data-consent-category="marketing"></script></noscript>',
            id="inside-noscript",
        ),
    ],
)
def test_scripts(html: str, expected: str) -> None:
    assert gated(html) == expected


def test_scripts_pass_without_gate() -> None:
    html = '<script data-consent-category="marketing">x</script>'
    assert gated(html, gate=False) == html


def test_all_granted_passes_byte_for_byte() -> None:
    html = (
        "<SCRIPT data-consent-category=marketing TYPE=module>1</SCRIPT>"
        "<iframe src=/v data-consent-category='marketing analytics'></iframe>"
    )
    assert gated(html, granted={"marketing", "analytics"}) == html


# --- iframes -------------------------------------------------------------------------------


def placeholder(names: str, label: str | None = None) -> str:
    label = names if label is None else label
    return (
        f'<div class="consent-placeholder" data-consent-placeholder="{names}">'
        f"<p>This content is blocked until you allow {label} cookies.</p>"
        f'<button type="button" data-consent-allow="{names}">Allow {label} cookies</button></div>'
    )


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            '<iframe src="https://yt.example/v" data-consent-category="marketing"></iframe>',
            placeholder("marketing") + '<iframe hidden="" data-consent-src="https://yt.example/v"'
            ' data-consent-category="marketing"></iframe>',
            id="refused",
        ),
        pytest.param(
            '<iframe src="https://maps.example/" data-consent-category="analytics"></iframe>',
            '<iframe src="https://maps.example/" data-consent-category="analytics"></iframe>',
            id="granted",
        ),
        pytest.param(
            "<IFRAME SRC=https://x/ DATA-CONSENT-CATEGORY=marketing HIDDEN></IFRAME>",
            placeholder("marketing")
            + "<IFRAME data-consent-SRC=https://x/ DATA-CONSENT-CATEGORY=marketing HIDDEN>"
            "</IFRAME>",
            id="uppercase-already-hidden",
        ),
        pytest.param(
            "<iframe data-consent-category='analytics marketing settings' src='/w'></iframe>",
            placeholder("marketing settings", "marketing, settings")
            + "<iframe hidden=\"\" data-consent-category='analytics marketing settings'"
            " data-consent-src='/w'></iframe>",
            id="several-names-refused-ones",
        ),
        pytest.param(
            '<iframe src="/a" src="/b" srcdoc="<p>x</p>" data-consent-category="marketing">',
            placeholder("marketing")
            + '<iframe hidden="" data-consent-src="/a" data-consent-src="/b"'
            ' data-consent-srcdoc="<p>x</p>" data-consent-category="marketing">',
            id="every-src-and-srcdoc",
        ),
        pytest.param(
            '<iframe data-consent-src="/v" data-consent-category="marketing"></iframe>',
            '<iframe data-consent-src="/v" data-consent-category="marketing"></iframe>',
            id="nothing-to-load",
        ),
        pytest.param(
            '<iframe src="/v"></iframe>',
            '<iframe src="/v"></iframe>',
            id="no-category",
        ),
        # A srcdoc document is the page's own origin, and no gate reads it: an iframe that
        # may load waits for the categories its document's tags need.
        pytest.param(
            '<iframe srcdoc="<script data-consent-category=marketing>x()</script>"></iframe>',
            placeholder("marketing")
            + '<iframe hidden="" data-consent-srcdoc="<script data-consent-category=marketing>'
            'x()</script>"></iframe>',
            id="srcdoc-holds-a-refused-script",
        ),
        pytest.param(
            "<iframe srcdoc='&lt;SCRIPT DATA-CONSENT-CATEGORY=\"marketing\"&gt;'></iframe>",
            placeholder("marketing") + '<iframe hidden="" data-consent-srcdoc=\'&lt;SCRIPT'
            ' DATA-CONSENT-CATEGORY="marketing"&gt;\'></iframe>',
            id="srcdoc-encoded",
        ),
        pytest.param(
            "<iframe srcdoc=\"<iframe srcdoc='&amp;lt;script data-consent-category=marketing"
            "&amp;gt;'></iframe>\"></iframe>",
            placeholder("marketing")
            + '<iframe hidden="" data-consent-srcdoc="<iframe srcdoc=\'&amp;lt;script'
            " data-consent-category=marketing&amp;gt;'></iframe>\"></iframe>",
            id="srcdoc-in-srcdoc",
        ),
        pytest.param(
            '<iframe srcdoc="<script data-consent-category=analytics>x()</script>"></iframe>',
            '<iframe srcdoc="<script data-consent-category=analytics>x()</script>"></iframe>',
            id="srcdoc-granted",
        ),
        pytest.param(
            '<iframe srcdoc="<script title=\'x"></iframe>',
            placeholder("", "") + '<iframe hidden="" data-consent-srcdoc="<script title=\'x">'
            "</iframe>",
            id="srcdoc-tag-cut-off",
        ),
        pytest.param(
            '<iframe title="a > b" src="/v" data-consent-category="marketing">'
            '<script data-consent-category="marketing"></script></iframe>',
            placeholder("marketing") + '<iframe hidden="" title="a > b" data-consent-src="/v"'
            ' data-consent-category="marketing">'
            '<script data-consent-category="marketing"></script></iframe>',
            id="content-is-raw-text",
        ),
        # An iframe fires `load` for the empty document it shows without a source: the
        # vendor's inline handlers wait with the frame.
        pytest.param(
            "<iframe data-consent-category=marketing src=/v onload=\"track('v')\" ONERROR=x()"
            " title=t onmouseover=y()></iframe>",
            placeholder("marketing") + '<iframe hidden="" data-consent-category=marketing'
            " data-consent-src=/v data-consent-onload=\"track('v')\" data-consent-ONERROR=x()"
            " title=t data-consent-onmouseover=y()></iframe>",
            id="refused-handlers",
        ),
        pytest.param(
            '<iframe onload="track()" data-consent-category="marketing"></iframe>',
            '<iframe data-consent-onload="track()" data-consent-category="marketing"></iframe>',
            id="refused-handler-without-source",
        ),
        pytest.param(
            '<iframe onload="resize(this)" src="/v" data-consent-category="analytics"></iframe>',
            '<iframe onload="resize(this)" src="/v" data-consent-category="analytics"></iframe>',
            id="granted-handlers",
        ),
    ],
)
def test_iframes(html: str, expected: str) -> None:
    assert gated(html) == expected


def test_placeholder_texts_are_escaped() -> None:
    out = gated(
        '<iframe src="/v" data-consent-category="marketing"></iframe>',
        placeholder_text='Blocked: {category} <b>"&"</b>',
        placeholder_button="Allow {category} – now",
        category_labels={"marketing": "Ads & <Marketing>"},
    )
    assert out.startswith(
        '<div class="consent-placeholder" data-consent-placeholder="marketing">'
        "<p>Blocked: Ads &amp; &lt;Marketing&gt; &lt;b&gt;&quot;&amp;&quot;&lt;/b&gt;</p>"
        '<button type="button" data-consent-allow="marketing">'
        "Allow Ads &amp; &lt;Marketing&gt; &#8211; now</button></div><iframe hidden"
    )


def test_placeholder_category_from_entities_is_escaped() -> None:
    out = gated('<iframe src="/v" data-consent-category="&quot;&gt;&lt;x"></iframe>')
    assert 'data-consent-placeholder="&quot;&gt;&lt;x"' in out
    assert "<x" not in out


# --- not rewritten: comments, raw text, attribute values ---------------------------------------

TRAP = '<script data-consent-category="marketing">'


@pytest.mark.parametrize(
    "html",
    [
        pytest.param(f"<!-- {TRAP} -->", id="comment"),
        pytest.param(f"<!--{TRAP}--!>", id="comment-bang-end"),
        pytest.param(f"<!-- a -- > {TRAP} -->", id="comment-false-end"),
        pytest.param(f"<script>var s = '{TRAP}';</script>", id="script-string"),
        pytest.param(f"<script>var s = '</scripts>{TRAP}';</script>", id="script-near-end-tag"),
        pytest.param(
            f"<script><!-- document.write('<script>{TRAP}</script>'); --></script>",
            id="script-double-escaped",
        ),
        pytest.param(f"<style>a::after {{ content: '{TRAP}' }}</style>", id="style"),
        pytest.param(f"<textarea>{TRAP}</textarea>", id="textarea"),
        pytest.param(f"<title>{TRAP}</title>", id="title"),
        pytest.param(f"<TITLE>{TRAP}</Title >", id="title-end-tag-any-case"),
        pytest.param(f"<xmp>{TRAP}</xmp>", id="xmp"),
        pytest.param(f"<noframes>{TRAP}</noframes>", id="noframes"),
        pytest.param(f"<div title='{TRAP}'>x</div>", id="attribute-value"),
        pytest.param(f'<div data-x="<a>" title="{TRAP}">', id="attribute-value-after-tag-like"),
        pytest.param(f"<!doctype html>{TRAP.replace('<', '<!')}", id="bogus-comment"),
        pytest.param(f"<?php {TRAP[1:]} ?>", id="processing-instruction"),
        pytest.param(f"</ {TRAP[1:]}", id="bogus-end-tag"),
        pytest.param(f"<plaintext>{TRAP}</plaintext>{TRAP}", id="plaintext-never-ends"),
    ],
)
def test_not_rewritten(html: str) -> None:
    assert gated(html) == html


@pytest.mark.parametrize(
    "html",
    [
        pytest.param(f"<!---->{TRAP}", id="empty-comment"),
        pytest.param(f"<!-->{TRAP}", id="abrupt-comment"),
        pytest.param(f"<!--->{TRAP}", id="abrupt-comment-dash"),
        pytest.param(f"<script>1</script >{TRAP}", id="after-script"),
        pytest.param(f"<script><!--></script>{TRAP}", id="script-escape-closed-at-once"),
        pytest.param(f"<script><!-- x --></script>{TRAP}", id="after-escaped-script"),
        pytest.param(f"<script><!-- x </script>{TRAP}", id="end-tag-in-escaped-script"),
        pytest.param(f"<script><!-- <script> </script> </script>{TRAP}", id="double-escape-undone"),
        pytest.param(f"<script><!-- <script> --> </script>{TRAP}", id="double-escape-closed"),
        pytest.param(f"<style>p{{}}</style>{TRAP}", id="after-style"),
        pytest.param(f"<title>t</title\n>{TRAP}", id="after-title"),
        pytest.param(f"<div title='a>b'>{TRAP}", id="after-gt-in-value"),
        pytest.param(f"<p it's>{TRAP}", id="quote-in-attribute-name"),
        pytest.param(f"<a b=c'd>{TRAP}", id="quote-in-unquoted-value"),
        pytest.param(f"a < b {TRAP}", id="lone-less-than"),
        pytest.param(f"</>{TRAP}", id="empty-end-tag"),
    ],
)
def test_rewritten_after(html: str) -> None:
    assert gated(html) == html.replace("<script ", f"<script {PLAIN} ")


# --- snippets --------------------------------------------------------------------------------

H, B = b"[HEAD]", b"[BODY]"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            "<html><head><title>t</title>", "<html><head>[HEAD]<title>t</title>", id="head"
        ),
        pytest.param("<HEAD lang=x>", "<HEAD lang=x>[HEAD]", id="head-uppercase-attributes"),
        pytest.param('<head data-x="a>b">', '<head data-x="a>b">[HEAD]', id="head-gt-in-value"),
        pytest.param(
            "<head><script>1</script><head>",
            "<head>[HEAD]<script>1</script><head>",
            id="first-head-only",
        ),
        pytest.param(
            "<html><header>x</header><head>", "<html><header>x</header><head>[HEAD]", id="header"
        ),
        pytest.param(
            "<!-- <head> --><title>t</title><script>1</script>",
            "<!-- <head> --><title>t</title>[HEAD]<script>1</script>",
            id="no-head-script",
        ),
        pytest.param(
            '<title><head></title><link rel="x"><script></script>',
            '<title><head></title>[HEAD]<link rel="x"><script></script>',
            id="no-head-link",
        ),
        pytest.param("<p>x</p><BODY><script>", "<p>x</p>[HEAD]<BODY><script>", id="no-head-body"),
        pytest.param("<p>x</p><bodyx>", "<p>x</p><bodyx>[HEAD]", id="no-head-nothing"),
        pytest.param(
            "<p>x</p></body></html>", "<p>x</p>[HEAD]</body></html>", id="no-head-before-body-end"
        ),
    ],
)
def test_head_snippet(html: str, expected: str) -> None:
    assert gated(html, gate=False, head_snippet=H) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param("<body>x</body></html>", "<body>x[BODY]</body></html>", id="body-end"),
        pytest.param("<body>x</BODY >", "<body>x[BODY]</BODY >", id="uppercase"),
        pytest.param("<p>x</body></body>", "<p>x[BODY]</body></body>", id="first-only"),
        pytest.param("<p>x</p>", "<p>x</p>[BODY]", id="none-appended"),
        pytest.param("<p>x</bodyx>", "<p>x</bodyx>[BODY]", id="other-end-tag"),
        pytest.param(
            "<script>s='</body>'</script><!-- </body> --></body>",
            "<script>s='</body>'</script><!-- </body> -->[BODY]</body>",
            id="not-in-script-or-comment",
        ),
        pytest.param("<p>x<", "<p>x[BODY]<", id="before-unfinished-tag"),
        pytest.param("<p>x<!-- y", "<p>x<!-- y[BODY]", id="inside-unclosed-comment"),
    ],
)
def test_body_snippet(html: str, expected: str) -> None:
    assert gated(html, gate=False, body_snippet=B) == expected


def test_both_snippets_once_each() -> None:
    html = "<html><head></head><body><p>x</p></body></html>"
    out = gated(html, gate=True, head_snippet=H, body_snippet=B)
    assert out == "<html><head>[HEAD]</head><body><p>x</p>[BODY]</body></html>"
    out = gated("<p>no markers</p>", gate=False, head_snippet=H, body_snippet=B)
    assert out == "<p>no markers</p>[HEAD][BODY]"
    out = gated("<p>x</body>", gate=False, head_snippet=H, body_snippet=B)
    assert out == "<p>x[HEAD][BODY]</body>"


@pytest.mark.parametrize(
    ("gate", "predictable"),
    [pytest.param(False, True, id="insert-only"), pytest.param(True, False, id="gating")],
)
def test_length_prediction(gate: bool, predictable: bool) -> None:
    rewriter = HtmlRewriter(granted=set(), gate=gate, head_snippet=H, body_snippet=B)
    assert rewriter.length_is_predictable is predictable
    assert rewriter.added_length == len(H) + len(B)


# --- streaming -------------------------------------------------------------------------------

PAGE = (
    b"<!DOCTYPE html>\n<html lang=en><HEAD data-x='>'>\n<title>a <script></title>\n"
    b"<!-- <script data-consent-category=marketing> --><!----><!-->\n"
    b'<script data-consent-category="analytics" src="/ga.js"></script>\n'
    b"<SCRIPT TYPE=module data-consent-category='marketing'>var s='</scrip'+'t>';</SCRIPT>\n"
    b'<script><!-- document.write("<script>x()</script>"); --></script>\n'
    b"<style>p::after{content:'</body>'}</style></head>\n<body class=x>\n"
    b'<div title="a > <script data-consent-category=marketing>">&lt;x&gt;</div>\n'
    b'<iframe width=5 src="https://yt.example/v?a=1&amp;b=2" data-consent-category="marketing">'
    b"</iframe>\n<textarea></body><script></textarea>\n"
    b'<script data-consent-category="marketing analytics">fbq()</script>\n'
    b"<p>caf\xc3\xa9</p></body></html>\n"
)
OPTIONS: dict[str, Any] = {"head_snippet": H, "body_snippet": B}


def test_page_reference_output() -> None:
    out = rewrite(PAGE, **OPTIONS)
    assert out.count(b"[HEAD]") == out.count(b"[BODY]") == 1
    assert b"<HEAD data-x='>'>[HEAD]" in out
    assert b"[BODY]</body></html>" in out
    assert out.count(b'type="text/plain"') == 2  # the module and the "marketing analytics" one
    assert b'data-consent-type="module"' in out
    assert b'hidden="" width=5 data-consent-src="https://yt.example/v?a=1&amp;b=2"' in out


@pytest.mark.parametrize("gate", [pytest.param(True, id="gate"), pytest.param(False, id="plain")])
def test_every_split_point(gate: bool) -> None:
    whole = rewrite(PAGE, gate=gate, **OPTIONS)
    for at in range(len(PAGE) + 1):
        assert rewrite(PAGE, [PAGE[:at], PAGE[at:]], gate=gate, **OPTIONS) == whole, at


@pytest.mark.parametrize("gate", [pytest.param(True, id="gate"), pytest.param(False, id="plain")])
def test_one_byte_chunks(gate: bool) -> None:
    whole = rewrite(PAGE, gate=gate, **OPTIONS)
    chunks = [PAGE[k : k + 1] for k in range(len(PAGE))]
    assert rewrite(PAGE, chunks, gate=gate, **OPTIONS) == whole
    if not gate:
        assert len(whole) == len(PAGE) + len(H) + len(B)


def test_every_three_way_split_of_a_tag() -> None:
    html = b"x<script a='>' data-consent-category=marketing type=module>1</script><p>"
    whole = rewrite(html)
    for i in range(len(html) + 1):
        for j in range(i, len(html) + 1):
            assert rewrite(html, [html[:i], html[i:j], html[j:]]) == whole, (i, j)


def test_streams_without_buffering() -> None:
    rewriter = HtmlRewriter(granted=set(), gate=True, head_snippet=H, body_snippet=B)
    chunk = b"<p class='x'>text &amp; more</p><!-- c --><script>1<2</script>\n" * 100
    for _ in range(50):
        out = rewriter.feed(chunk)
        assert len(chunk) - 16 <= len(out) <= len(chunk) + len(H)
    rewriter.finish()


def test_only_a_tag_to_rewrite_is_held() -> None:
    rewriter = HtmlRewriter(granted=set(), gate=True)
    assert rewriter.feed(b"<p>a</p><div title='") == b"<p>a</p><div title='"
    assert rewriter.feed(b"x>") == b"x>"
    assert rewriter.feed(b"'><script data-consent-category=m") == b"'>"
    assert (
        rewriter.feed(b"arketing>") == f"<script {PLAIN} data-consent-category=marketing>".encode()
    )
    assert rewriter.finish() == b""


@pytest.mark.parametrize("granted", [frozenset(), frozenset({"marketing"})])
def test_an_oversized_tag_is_neutralised_and_parsing_goes_on(granted: frozenset[str]) -> None:
    """A start tag too long to hold cannot be judged whole: it must not run, whatever its
    category (its data-consent-category may come after the first MAX_TAG bytes)."""
    big = b"<script data-x='" + b"a>" * MAX_TAG + b"' data-consent-category=marketing>"
    html = big + b"var s='<iframe src=/v data-consent-category=marketing>'</script>" + TRAP.encode()
    chunks = [html[k : k + 1000] for k in range(0, len(html), 1000)]
    out = rewrite(html, chunks, granted=granted)
    assert out.startswith(f"<script {PLAIN} data-x='".encode())
    assert out[len(f"<script {PLAIN}") :].startswith(big[len("<script") :])
    # The rest of the page is read as before: the script's text is no tag.
    trap = TRAP.replace("<script ", f"<script {PLAIN} ") if not granted else TRAP
    assert out.endswith(b"'</script>" + trap.encode())
    # In one piece the whole tag is there and gets judged as any other.
    whole = rewrite(html, granted=granted)
    assert whole.startswith(f"<script {PLAIN} data-x=".encode()) != bool(granted)


def test_an_oversized_iframe_cannot_load() -> None:
    big = b"<iframe title='" + b"x" * (MAX_TAG + 5000) + b"' src='/tracker' onload='track()'>"
    chunks = [big[k : k + 4096] for k in range(0, len(big), 4096)]
    out = rewrite(big + b"</iframe>", [*chunks, b"</iframe>"])
    # srcdoc wins over any src that follows it, and the first of duplicates counts: an
    # empty onload (and every other handler) too, before the tag's own.
    head = out[: out.index(b" title=")]
    assert head.startswith(b'<iframe srcdoc="" hidden="" ')
    assert b' onload=""' in head and b' onerror=""' in head and b' onfocus=""' in head
    assert out.endswith(big[len(b"<iframe") :][-40:] + b"</iframe>")


def test_feed_after_finish_passes_through() -> None:
    rewriter = HtmlRewriter(granted=set(), gate=True, body_snippet=B)
    assert rewriter.feed(b"") == b""
    assert rewriter.finish() == B
    assert rewriter.finish() == b""
    assert rewriter.feed(b"<script data-consent-category=x>") == b"<script data-consent-category=x>"


# --- properties ------------------------------------------------------------------------------

SOUP = st.lists(
    st.sampled_from(
        [
            "<",
            ">",
            "/",
            '"',
            "'",
            "=",
            " ",
            "\n",
            "!",
            "-",
            "?",
            "a",
            "x",
            "&amp;",
            "&#",
            "script",
            "SCRIPT",
            "iframe",
            "style",
            "title",
            "textarea",
            "head",
            "body",
            "link",
            "plaintext",
            " data-consent-category=",
            "marketing",
            "analytics",
            " src=",
            " type=",
            "module",
            "text/plain",
            "<!--",
            "-->",
            "--!>",
            "<script>",
            "</script>",
            "<script ",
            "</script ",
            "<iframe ",
            "</iframe>",
            "<head>",
            "</body>",
            "<body>",
            "<title>",
            "</title>",
            "<!doctype html>",
            " hidden",
        ]  # fmt: skip
    ),
    max_size=60,
).map(lambda parts: "".join(parts).encode())


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_random_bytes_identity_without_changes(data: bytes, cuts: list[int]) -> None:
    assert rewrite(data, split(data, cuts), gate=False) == data


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(st.binary(max_size=300), SOUP),
    cuts=st.lists(st.integers(0, 300), max_size=12),
    gate=st.booleans(),
)
def test_any_chunking_gives_the_same_output(data: bytes, cuts: list[int], gate: bool) -> None:
    whole = rewrite(data, gate=gate, **OPTIONS)
    assert rewrite(data, split(data, cuts), gate=gate, **OPTIONS) == whole
    assert whole.count(H) == data.count(H) + 1
    assert whole.count(B) == data.count(B) + 1
    if not gate:
        assert len(whole) == len(data) + len(H) + len(B)


def reference_tag_end(data: bytes, pos: int) -> int | None:
    """The HTML tokenizer's tag states, one character at a time, as the spec writes them."""
    ws = b"\t\n\f\r "
    state = "tag name"
    while pos < len(data):
        c = data[pos : pos + 1]
        if state == "tag name":
            if c in ws:
                state = "before attribute name"
            elif c == b"/":
                state = "self-closing"
            elif c == b">":
                return pos + 1
        elif state == "before attribute name":
            if c in b"/>":
                state = "after attribute name"
                continue
            if c not in ws:
                state = "attribute name"
        elif state == "attribute name":
            if c in ws or c in b"/>":
                state = "after attribute name"
                continue
            if c == b"=":
                state = "before attribute value"
        elif state == "after attribute name":
            if c == b"/":
                state = "self-closing"
            elif c == b"=":
                state = "before attribute value"
            elif c == b">":
                return pos + 1
            elif c not in ws:
                state = "attribute name"
        elif state == "before attribute value":
            if c == b">":
                return pos + 1
            if c in b"\"'":
                state = "double-quoted" if c == b'"' else "single-quoted"
            elif c not in ws:
                state = "unquoted"
                continue
        elif state in ("double-quoted", "single-quoted"):
            if c == (b'"' if state == "double-quoted" else b"'"):
                state = "after quoted value"
        elif state == "unquoted":
            if c in ws:
                state = "before attribute name"
            elif c == b">":
                return pos + 1
        elif state == "after quoted value":
            if c in ws:
                state = "before attribute name"
            elif c == b"/":
                state = "self-closing"
            elif c == b">":
                return pos + 1
            else:
                state = "before attribute name"
                continue
        else:  # self-closing start tag
            if c == b">":
                return pos + 1
            state = "before attribute name"
            continue
        pos += 1
    return None


TAGGY = st.lists(
    st.sampled_from(
        ['"', "'", "=", " ", "\t", "/", ">", "a", "b", "<", " a=", " a='", ' a="', "= ", "'>'"]
    ),
    max_size=20,
).map(lambda parts: ("<p" + "".join(parts)).encode())


TAG_RE = re.compile(rb"<[a-zA-Z]" + _TAG_REST)


@settings(max_examples=400, deadline=None)
@given(tag=TAGGY)
@example(tag=b"<p a='>'>")
@example(tag=b"<p a = \">\"b='>'/c=d/>")
@example(tag=b"<p =a=\"> x'>")
def test_tag_end_matches_the_tokenizer(tag: bytes) -> None:
    expected = reference_tag_end(tag, 2)
    end, state = scan_tag(tag, 2, T_NAME)
    assert (end if state == T_END else None) == expected
    match = TAG_RE.match(tag)
    assert (match.end() if match is not None else None) == expected
    if expected is not None:  # the fast scan takes a whole tag it need not act on
        skip = _SKIPS[False, False].match(tag[:expected])
        assert skip is not None and skip.end() == expected


def test_tag_end_matches_the_tokenizer_exhaustively() -> None:
    alphabet = [b"a", b" ", b"/", b"=", b'"', b"'", b">"]
    tails = [b""]
    for _ in range(6):
        tails = [tail + c for tail in tails for c in alphabet]
        for tail in tails:
            tag = b"<p " + tail
            expected = reference_tag_end(tag, 2)
            end, state = scan_tag(tag, 2, T_NAME)
            assert (end if state == T_END else None) == expected, tag
            match = TAG_RE.match(tag)
            assert (match.end() if match is not None else None) == expected, tag
            if len(tail) <= 5:  # resuming at every cut gives the same end
                for cut in range(2, len(tag)):
                    pos, state = scan_tag(tag[:cut], 2, T_NAME)
                    if state != T_END:
                        pos, state = scan_tag(tag, pos, state)
                    assert (pos if state == T_END else None) == expected, (tag, cut)


# --- Google Consent Mode -----------------------------------------------------------------------

MAPPING = DEFAULT_GOOGLE_CONSENT_MAPPING
UNDECIDED = Consent(
    {"authentication": True, "settings": False, "analytics": False, "marketing": False},
    decided=False,
)
PARTIAL = Consent(
    {"authentication": True, "settings": True, "analytics": True, "marketing": False},
    decided=True,
)
ALL = Consent(
    {"authentication": True, "settings": True, "analytics": True, "marketing": True},
    decided=True,
)


def default_command(script: bytes) -> dict[str, object]:
    match = re.search(rb"gtag\('consent','default',(\{.*?\})\);", script)
    assert match is not None
    value = json.loads(match.group(1))
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize(
    ("consent", "expected"),
    [
        pytest.param(
            UNDECIDED,
            {
                "ad_personalization": "denied",
                "ad_storage": "denied",
                "ad_user_data": "denied",
                "analytics_storage": "denied",
                "functionality_storage": "denied",
                "personalization_storage": "denied",
                "security_storage": "granted",
                "wait_for_update": 500,
            },
            id="undecided",
        ),
        pytest.param(
            PARTIAL,
            {
                "ad_personalization": "denied",
                "ad_storage": "denied",
                "ad_user_data": "denied",
                "analytics_storage": "granted",
                "functionality_storage": "granted",
                "personalization_storage": "granted",
                "security_storage": "granted",
            },
            id="partial",
        ),
        pytest.param(
            ALL,
            {
                "ad_personalization": "granted",
                "ad_storage": "granted",
                "ad_user_data": "granted",
                "analytics_storage": "granted",
                "functionality_storage": "granted",
                "personalization_storage": "granted",
                "security_storage": "granted",
            },
            id="all",
        ),
    ],
)
def test_consent_mode_default(consent: Consent, expected: dict[str, object]) -> None:
    script = consent_mode_default(consent, MAPPING, nonce=None)
    assert script.startswith(b"<script>window.dataLayer=window.dataLayer||[];")
    assert b"window.gtag=window.gtag||function(){dataLayer.push(arguments);};" in script
    assert script.endswith(b"</script>")
    assert default_command(script) == expected
    redaction = b"gtag('set','ads_data_redaction',true);" in script
    assert redaction is (expected["ad_storage"] == "denied")
    update = {k: v for k, v in expected.items() if k != "wait_for_update"}
    assert consent_mode_update(consent, MAPPING) == update


def test_consent_mode_default_is_deterministic_and_waits_as_told() -> None:
    script = consent_mode_default(UNDECIDED, MAPPING, nonce=None, wait_for_update=1200)
    reordered = dict(reversed(list(MAPPING.items())))
    assert consent_mode_default(UNDECIDED, reordered, nonce=None, wait_for_update=1200) == script
    params = default_command(script)
    assert params["wait_for_update"] == 1200
    assert list(params) == sorted(params)


def test_consent_mode_shared_type_needs_every_category() -> None:
    mapping = {"analytics": ("analytics_storage",), "marketing": ("analytics_storage",)}
    assert consent_mode_update(PARTIAL, mapping) == {"analytics_storage": "denied"}
    assert consent_mode_update(ALL, mapping) == {"analytics_storage": "granted"}
    assert consent_mode_update(PARTIAL, {"analytics": ("analytics_storage",)}) == {
        "analytics_storage": "granted"
    }
    # Types the mapping does not name are not mentioned; without ad_storage, no redaction.
    script = consent_mode_default(UNDECIDED, {"analytics": ("analytics_storage",)}, nonce=None)
    assert default_command(script) == {"analytics_storage": "denied", "wait_for_update": 500}
    assert b"ads_data_redaction" not in script


@pytest.mark.parametrize(
    ("nonce", "opening"),
    [
        pytest.param("r4nd0m+/=", b'<script nonce="r4nd0m+/=">', id="plain"),
        pytest.param(
            '"><script>alert(1)</script>',
            b'<script nonce="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">',
            id="escaped",
        ),
    ],
)
def test_consent_mode_nonce(nonce: str, opening: bytes) -> None:
    script = consent_mode_default(PARTIAL, MAPPING, nonce=nonce)
    assert script.startswith(opening)
    assert script.count(b"<script") == 1
    assert script.count(b"</script") == 1


def test_consent_mode_json_cannot_close_the_script() -> None:
    evil = "</script><script>alert(1)</script><!--&"
    script = consent_mode_default(UNDECIDED, {"marketing": (evil,)}, nonce=None)
    assert script.count(b"</script") == 1
    assert script.endswith(b"</script>")
    assert b"<!--" not in script and b"&" not in script
    assert default_command(script) == {evil: "denied", "wait_for_update": 500}
    assert consent_mode_update(UNDECIDED, {"marketing": (evil,)}) == {evil: "denied"}


# --- through the middleware: a visitor who granted every category ------------------------

MISNAMED = [
    '<script data-consent-category="stats">window.a = 1</script>',  # no such category
    '<script data-consent-category="Analytics">window.b = 1</script>',  # another case
    '<script data-consent-category="">window.c = 1</script>',  # names nothing
]


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_a_tag_naming_no_category_stays_gated_when_everything_is_granted(adapter: str) -> None:
    """Before the choice such a tag waited; it must not run once all is granted either
    (it used to, from the next page on: gating was skipped for such a visitor)."""
    released = '<script data-consent-category="analytics">window.d = 1</script>'
    body = ("<html><body>" + "".join(MISNAMED) + released + "</body></html>").encode()
    site = Site(adapter, AppSpec(body=body), make_config(gate_scripts=True))
    everything = site.consent_cookie({"action": "accept_all"})
    page = site.get("/", cookie=everything).text
    for tag in MISNAMED:
        assert tag not in page
        assert tag.replace("<script ", f"<script {PLAIN} ") in page
    assert released in page
    site.client.close()
