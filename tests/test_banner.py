"""The banner: streaming injection, rendering, languages, request values and static files."""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_middleware.assets import load_assets
from consent_middleware.banner import BannerRenderer, _js_regex, google_consent_types
from consent_middleware.config import Category, ConsentConfig
from consent_middleware.consent import Consent, ConsentCodec
from consent_middleware.csp import csp_nonce
from consent_middleware.html import HtmlRewriter
from consent_middleware.i18n import BUNDLED_LANGUAGES, TEXTS, choose_language, texts_for
from consent_middleware.redirects import safe_return_to

SNIPPET = b"<!--SNIPPET-->"
RULES = {"session": "authentication", "lang": "settings", "_ga*": "analytics", "_fbp": "marketing"}


def make_config(**overrides: Any) -> ConsentConfig:
    options: dict[str, Any] = {"secret_key": "s" * 24, "cookies": RULES, "policy_version": "7"}
    options.update(overrides)
    return ConsentConfig(**options)


def HtmlInjector(snippet: bytes) -> HtmlRewriter:  # noqa: N802 - what the banner uses
    """The banner's injector: the streaming rewriter with a body snippet and no gating."""
    return HtmlRewriter(body_snippet=snippet)


def run(chunks: list[bytes], snippet: bytes = SNIPPET) -> bytes:
    injector = HtmlInjector(snippet)
    return b"".join(injector.feed(chunk) for chunk in chunks) + injector.finish()


def expected(body: bytes, snippet: bytes = SNIPPET) -> bytes:
    match = re.search(b"</body", body, re.IGNORECASE)
    if match is None:
        return body + snippet
    return body[: match.start()] + snippet + body[match.start() :]


# -- HtmlInjector ------------------------------------------------------------------------

PAGES = [
    pytest.param(b"<html><body><p>hi</p></body></html>", id="lower"),
    pytest.param(b"<HTML><BODY><P>hi</P></BODY></HTML>", id="upper"),
    pytest.param(b"<html><body>x</body ></html>\n", id="space"),
    pytest.param(b"<body>a</BoDy\n></html>", id="mixed-newline"),
    pytest.param(b"<body><</b</bo</bod></p></body></html>", id="near-misses"),
    pytest.param(b"</body>", id="marker-only"),
    pytest.param("<body>Привіт</body>".encode(), id="utf8"),
]


@pytest.mark.parametrize("page", PAGES)
def test_every_split_in_two(page: bytes) -> None:
    want = expected(page)
    assert want.count(SNIPPET) == 1
    for cut in range(len(page) + 1):
        assert run([page[:cut], page[cut:]]) == want, cut


@pytest.mark.parametrize("page", PAGES)
def test_every_split_in_three(page: bytes) -> None:
    want = expected(page)
    for first in range(len(page) + 1):
        for second in range(first, len(page) + 1):
            assert run([page[:first], page[first:second], page[second:]]) == want


@pytest.mark.parametrize("page", PAGES)
def test_one_byte_per_chunk_with_empty_chunks(page: bytes) -> None:
    chunks = [b""]
    for byte in page:
        chunks += [bytes([byte]), b""]
    out = run(chunks)
    assert out == expected(page)
    index = out.index(SNIPPET)
    assert out[index + len(SNIPPET) :][:6].lower() == b"</body"


def test_snippet_goes_before_the_first_body_end_only() -> None:
    page = b"<body>a</body><p>late</p></body>"
    out = run([page[:9], page[9:]])
    assert out == b"<body>a" + SNIPPET + b"</body><p>late</p></body>"


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([b"<p>fragment</p>"], id="one"),
        pytest.param([b"<p>", b"", b"frag</bo", b"dx</b", b"od"], id="false-marker"),
        pytest.param([], id="no-chunks"),
        pytest.param([b""], id="empty"),
    ],
)
def test_without_body_end_the_snippet_goes_last(chunks: list[bytes]) -> None:
    assert run(chunks) == b"".join(chunks) + SNIPPET


def test_an_unfinished_tag_at_the_end_gets_the_snippet_before_it() -> None:
    # A browser drops a tag cut off by the end of the body: the banner must not go inside.
    assert run([b"<p>a</p></bod"]) == b"<p>a</p>" + SNIPPET + b"</bod"


@pytest.mark.parametrize(
    "page",
    [
        b"<body><script>var s = '</body>';</script><p>x</p></body>",
        b"<body><!-- </body> --><p>x</p></body>",
        b"<body><p title='</body>'>x</p></body>",
        b"<body><textarea></body></textarea></body>",
        b'<body><style>a::after{content:"</body>"}</style></body>',
    ],
)
def test_the_banner_goes_at_the_real_body_end(page: bytes) -> None:
    """Not inside a script's string, a comment, an attribute or raw text: only where the
    browser's tokenizer sees the end tag."""
    for cut in range(len(page) + 1):
        out = run([page[:cut], page[cut:]])
        assert out == page[: -len(b"</body>")] + SNIPPET + b"</body>", cut


def test_streams_without_holding_the_body() -> None:
    injector = HtmlInjector(SNIPPET)
    big = b"<p>" + b"x" * 100_000 + b"</p>\n"
    assert injector.feed(big) == big  # nothing that could start "</body" is held back
    assert injector.feed(b"text </bo") == b"text "  # only the possible marker waits
    assert injector.feed(b"dy>") == SNIPPET + b"</body>"
    assert injector.feed(b"</html>") == b"</html>"
    assert injector.finish() == b""


def test_holds_at_most_five_bytes() -> None:
    injector = HtmlInjector(SNIPPET)
    fed = out = 0
    for chunk in [b"<", b"/", b"b", b"o", b"d", b"<p>", b"</", b"bod"]:
        fed += len(chunk)
        out += len(injector.feed(chunk))
        assert fed - out <= len(b"</body") - 1


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(
        st.one_of(
            st.binary(max_size=20),
            st.sampled_from([b"</body>", b"</BODY>", b"</Body ", b"</bod", b"<", b"</", b"body"]),
        ),
        max_size=12,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
    snippet=st.binary(max_size=30),
)
def test_any_body_any_chunking(parts: list[bytes], cuts: list[int], snippet: bytes) -> None:
    body = b"".join(parts)
    points = sorted({min(cut, len(body)) for cut in cuts})
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    out = run(chunks, snippet)
    assert out == run([body], snippet)  # any chunking gives what one chunk gives
    assert len(out) == len(body) + len(snippet)
    if b"<" not in body.replace(b"</body>", b"").replace(b"</BODY>", b""):
        assert out == expected(body, snippet)


# -- rendering ---------------------------------------------------------------------------


@pytest.fixture
def config() -> ConsentConfig:
    return make_config(privacy_policy_url="/privacy")


@pytest.fixture
def codec(config: ConsentConfig) -> ConsentCodec:
    return ConsentCodec(config)


@pytest.fixture
def renderer(config: ConsentConfig) -> BannerRenderer:
    return BannerRenderer(config)


def section_tag(page: str) -> str:
    match = re.search(r'<section id="consent-banner"[^>]*>', page)
    assert match is not None
    return match.group(0)


def input_tag(page: str, category: str) -> str:
    match = re.search(rf'<input[^>]*id="consent-cat-{category}"[^>]*>', page)
    assert match is not None
    return match.group(0)


def state_of(page: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="consent-state">(.*?)</script>', page, re.S
    )
    assert match is not None
    result: dict[str, Any] = json.loads(match.group(1))
    return result


def test_undecided_snippet(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    page = renderer.snippet(codec.undecided, "en", return_to="/shop?page=2")
    # The banner's CSS inline: it paints with the page, without waiting for a stylesheet.
    css = load_assets()["banner.css"].body.decode().strip()
    assert page.startswith("<style>" + css + "</style>")
    assert "<link" not in page
    assert "hidden" not in section_tag(page)
    assert 'role="region"' in section_tag(page)
    assert 'aria-labelledby="consent-banner-title"' in section_tag(page)
    assert '<h2 id="consent-banner-title" tabindex="-1">We use cookies</h2>' in page
    # A fresh choice token per page: a retried post of the same choice is recorded once.
    token = r"[0-9a-f]{8}[A-Za-z0-9_-]{16}"  # when the page was rendered, then random
    assert re.search(
        r'<form method="post" action="/consent\?t=' + token + '" autocomplete="off">', page
    )
    assert '<input type="hidden" name="return_to" value="/shop?page=2" />' in page
    assert 'href="/consent/preferences?return_to=/shop%3Fpage%3D2"' in page
    assert '<a href="/privacy">Privacy policy</a>' in page
    for action in ("accept_all", "reject_all", "save"):
        assert page.count(f'data-consent-action="{action}"') == 1
    # Accept and Reject look the same.
    accept = re.search(r'<button([^>]*)data-consent-action="accept_all"', page)
    reject = re.search(r'<button([^>]*)data-consent-action="reject_all"', page)
    assert accept and reject
    assert accept.group(1) == reject.group(1).replace("reject_all", "accept_all")
    assert page.rstrip().endswith('defer=""></script>')
    assert re.search(r'<script src="/consent/banner\.js\?v=[0-9a-f]{10}" defer="">', page)
    assert 'class="consent-settings-link" data-consent-open="" hidden="">' in page
    assert page.isascii()


def test_stylesheet_link_where_inline_style_is_not_allowed(
    renderer: BannerRenderer, codec: ConsentCodec
) -> None:
    blocked = renderer.snippet(codec.undecided, "en", inline_style=False)
    assert blocked.startswith('<link rel="stylesheet" href="/consent/banner.css?v=')
    with_nonce = renderer.snippet(codec.undecided, "en", style_nonce="abc123")
    assert with_nonce.startswith('<style nonce="abc123">')
    decided = renderer.snippet(codec.decide(["analytics"]), "en")
    assert decided.startswith('<link rel="stylesheet" href="/consent/banner.css?v=')
    assert "<style" not in decided  # decided visitors' pages are no heavier than before


@pytest.mark.parametrize(
    ("csp", "inline", "nonce"),
    [
        (None, True, None),
        ("default-src 'self'", False, None),
        ("script-src 'self'", True, None),
        ("style-src 'self' 'nonce-r4nd0m'", True, "r4nd0m"),
        ("style-src 'self' 'unsafe-inline'", True, None),
        ("style-src 'unsafe-inline' 'sha256-abc='", False, None),
        ("default-src 'self' 'nonce-n1'; style-src-elem 'self'", False, None),
        ("style-src 'nonce-a', style-src 'nonce-b'", False, None),
        ("style-src 'nonce-a', default-src 'unsafe-inline'", True, "a"),
    ],
)
def test_inline_style_follows_the_csp(csp: str | None, inline: bool, nonce: str | None) -> None:
    from consent_middleware.csp import inline_style_nonce

    assert inline_style_nonce(csp) == (inline, nonce)


def test_checkboxes_follow_the_choice(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    consent = codec.decide(["analytics"])
    page = renderer.snippet(consent, "en")
    assert " checked" in input_tag(page, "analytics")
    assert " checked" not in input_tag(page, "settings")
    assert " checked" not in input_tag(page, "marketing")
    required = input_tag(page, "authentication")
    assert " checked" in required and " disabled" in required and "name=" not in required
    names = re.findall(r'<input type="checkbox" name="category"[^>]*value="([a-z]+)"', page)
    assert names == ["settings", "analytics", "marketing"]
    for name in ("settings", "analytics", "marketing"):
        assert f'<label for="consent-cat-{name}">' in page
        assert f'aria-describedby="consent-cat-{name}-desc"' in page
        assert f'id="consent-cat-{name}-desc"' in page


def test_decided_visitor_gets_a_hidden_banner(
    renderer: BannerRenderer, codec: ConsentCodec
) -> None:
    page = renderer.snippet(codec.decide(["settings"]), "en")
    assert section_tag(page).endswith(' hidden="">')
    assert 'class="consent-settings-link" data-consent-open="">Cookie settings</button>' in page
    assert state_of(page)["state"]["decided"] is True


def test_settings_link_can_be_turned_off(codec: ConsentCodec) -> None:
    page = BannerRenderer(make_config(settings_link=False)).snippet(codec.decide([]), "en")
    assert "consent-settings-link" not in page


def gpc_notice(page: str) -> str:
    match = re.search(r'<p class="consent-gpc"[^>]*>([^<]*)</p>', page)
    assert match is not None
    return match.group(0)


def test_gpc_notice(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    shown = gpc_notice(renderer.snippet(codec.make_undecided(gpc=True), "en"))
    assert shown.startswith('<p class="consent-gpc">') and "Global Privacy Control" in shown
    # Always rendered, so banner.js can show it when navigator.globalPrivacyControl is set.
    for consent in (codec.undecided, codec.decide(["marketing"])):
        hidden = gpc_notice(renderer.snippet(consent, "en"))
        assert hidden.startswith('<p class="consent-gpc" hidden="">')
    uk = html.unescape(gpc_notice(renderer.snippet(codec.make_undecided(gpc=True), "uk")))
    assert TEXTS["uk"]["gpc_notice"] in uk


def test_no_privacy_link_without_url(codec: ConsentCodec) -> None:
    page = BannerRenderer(make_config()).snippet(codec.undecided, "en")
    assert "Privacy policy" not in page


def test_nonce_on_every_tag(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    page = renderer.snippet(codec.decide(["analytics"]), "en", nonce="r4nd0m+/=")
    assert page.count(' nonce="r4nd0m+/="') == 2
    assert re.search(r'<link [^>]*nonce="r4nd0m\+/="', page)
    assert re.search(r'<script src=[^>]*nonce="r4nd0m\+/="', page)
    assert "nonce" not in renderer.snippet(codec.undecided, "en")
    hostile = renderer.snippet(codec.undecided, "en", nonce='x"><script>alert(1)</script>')
    assert "<script>alert" not in hostile
    assert 'nonce="x&#34;&gt;&lt;script&gt;' in hostile


def test_state_json(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    consent = codec.decide(["analytics"], consent_id="a" * 32, now=1_700_000_000)
    data = state_of(renderer.snippet(consent, "en"))
    assert data["state"] == consent.to_state()
    assert data["prefix"] == "/consent"
    # In the order the server matches them: exact names, then prefixes; each pattern as
    # the JavaScript regular expression of its glob.
    assert data["rules"] == [
        ["^session$", "authentication"],
        ["^lang$", "settings"],
        ["^_fbp$", "marketing"],
        ["^_ga.*$", "analytics"],
    ]
    assert data["gpc_categories"] == ["marketing"]
    assert data["texts"] == {"saved": "Your choice has been saved."}
    assert "gcm" not in data  # only with google_consent_mode=True


#: Patterns with every glob feature and the characters a regular expression would read.
GLOBS = [
    "_ga*",
    "_ga_?",
    "id[0-9]",
    "x[!a-c]y",
    "[]]z",
    "[!]]z",
    "a[^b]",
    "a\\b[\\]",
    "a[b",
    "a.b+c$",
    "(x)|{y}",
    "*.*",
    "a[[]b",
    "[a-]",
    "a-b/c",
]
NAMES = [
    "",
    "_ga",
    "_ga_1",
    "_ga_12",
    "id5",
    "idx",
    "xdy",
    "xby",
    "]z",
    "az",
    "^z",
    "a^",
    "ab",
    "a\\b\\",
    "a[b",
    "a.b+c$",
    "aXb+c$",
    "(x)|{y}",
    "a.b",
    "ab",
    "a[b",
    "a",
    "-",
    "a-b/c",
]


def test_rule_patterns_go_to_the_browser_as_the_servers_reading() -> None:
    """banner.js deletes a refused script cookie by the rules' patterns: each goes as the
    JavaScript RegExp that matches exactly the names that `fnmatch` (the server) matches."""
    if shutil.which("node") is None:
        pytest.fail("this test needs node")
    cases = [[_js_regex(g), [bool(fnmatch.fnmatchcase(n, g)) for n in NAMES]] for g in GLOBS]
    script = (
        "const [cases, names] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(cases.map(([r]) => names.map(n => RegExp(r).test(n)))));"
    )
    out = subprocess.run(
        ["node", "-e", script],
        input=json.dumps([cases, NAMES]),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(out.stdout) == [expected for _, expected in cases]


def test_state_json_carries_the_consent_mode_mapping(codec: ConsentCodec) -> None:
    renderer = BannerRenderer(make_config(google_consent_mode=True))
    data = state_of(renderer.snippet(codec.undecided, "en"))
    assert data["gcm"] == {
        "security_storage": ["authentication"],
        "functionality_storage": ["settings"],
        "personalization_storage": ["settings"],
        "analytics_storage": ["analytics"],
        "ad_storage": ["marketing"],
        "ad_user_data": ["marketing"],
        "ad_personalization": ["marketing"],
    }
    assert list(data)[-1] == "texts"  # the visitor's state first, then the shared part
    assert data["state"] == codec.undecided.to_state()


def test_consent_mode_mapping_is_configurable(codec: ConsentCodec) -> None:
    # A type named by several categories is granted only when all of them are.
    config = make_config(
        google_consent_mode=True,
        google_consent_mapping={
            "analytics": ["analytics_storage", "ad_user_data"],
            "marketing": ["ad_storage", "ad_user_data"],
        },
    )
    assert google_consent_types(config) == {
        "analytics_storage": ["analytics"],
        "ad_user_data": ["analytics", "marketing"],
        "ad_storage": ["marketing"],
    }
    data = state_of(BannerRenderer(config).snippet(codec.decide(["analytics"]), "uk"))
    assert data["gcm"] == google_consent_types(config)


def test_consent_id_never_leaks_between_visitors(
    renderer: BannerRenderer, codec: ConsentCodec
) -> None:
    first = codec.decide(["analytics"], consent_id="1" * 32)
    second = codec.decide(["analytics"], consent_id="2" * 32)
    renderer.snippet(first, "en", return_to="/one")
    page = renderer.snippet(second, "en", return_to="/two")
    assert "1" * 32 not in page and "2" * 32 in page
    assert "/one" not in page and 'value="/two"' in page


HOSTILE = "</script><script>alert(1)</script>"


def test_everything_is_escaped(codec: ConsentCodec) -> None:
    config = make_config(
        privacy_policy_url='/p"><script>alert(1)</script>',
        texts={"en": {"title": "<script>alert(1)</script>", "saved": HOSTILE}},
        policy_version=HOSTILE,
        categories=[
            Category("authentication", required=True),
            Category("stats", label=HOSTILE, description='"><img src=x onerror=alert(1)>'),
        ],
        cookies={"s": "authentication"},
    )
    renderer = BannerRenderer(config)
    codec = ConsentCodec(config)
    for page in (
        renderer.snippet(codec.undecided, "en"),
        renderer.render_banner(codec.undecided, "en"),
        renderer.preferences_page(codec.undecided, "en"),
    ):
        assert "<script>alert" not in page
        assert "<img" not in page
        assert 'href="/p&#34;&gt;&lt;script&gt;' in page
        # Only our own two script elements close.
        assert page.count("</script>") == (0 if "<section" in page[:10] else 2)
    data = state_of(renderer.snippet(codec.undecided, "en"))
    assert data["state"]["policy_version"] == HOSTILE
    assert data["texts"]["saved"] == HOSTILE


@pytest.mark.parametrize(
    ("return_to", "value"),
    [
        ("/a b?x=<y>&z", "/a%20b?x=%3Cy%3E&amp;z"),
        ("//evil.com", "/"),
        ("https://evil.com", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_return_to_in_the_form(
    renderer: BannerRenderer, codec: ConsentCodec, return_to: str, value: str
) -> None:
    page = renderer.snippet(codec.undecided, "en", return_to=return_to)
    assert f'name="return_to" value="{value}"' in page


def test_render_banner_is_the_section_alone(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    page = renderer.render_banner(codec.undecided, "en", return_to="/x")
    assert page.startswith('<section id="consent-banner"')
    assert page.endswith("</section>")
    assert "<script" not in page and "<link" not in page
    assert section_tag(renderer.render_banner(codec.decide([]), "en")).endswith(' hidden="">')


def test_preferences_page(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    consent = codec.decide(["settings"], consent_id="c" * 32, now=1_700_000_000)
    page = renderer.preferences_page(consent, "en", nonce="n0nce", return_to="/back?to=1")
    assert page.startswith("<!doctype html>")
    assert '<html lang="en">' in page
    assert "<title>Cookie preferences</title>" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "c" * 32 in page
    assert "2023-11-14 22:13 UTC" in page
    assert "hidden" not in section_tag(page)
    assert "consent-inline" in section_tag(page)
    assert '<div class="consent-customize" id="consent-choices">' in page  # open, not hidden
    assert "data-consent-customize" not in page  # the choices are the page: no button
    assert " checked" in input_tag(page, "settings")
    assert " checked" not in input_tag(page, "analytics")
    assert '<a href="/back?to=1">Back to the site</a>' in page
    assert page.count('nonce="n0nce"') == 2
    assert state_of(page)["state"]["consent_id"] == "c" * 32


def test_preferences_page_without_a_choice(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    page = renderer.preferences_page(codec.undecided, "uk")
    assert '<html lang="uk">' in page
    assert "Ви ще не зробили вибору." in page
    assert "<title>Налаштування файлів cookie</title>" in page


STYLE_OR_HANDLER = re.compile(r"<[^>]*\s(style|on[a-z]+)\s*=", re.IGNORECASE)


@pytest.mark.parametrize("language", ["en", "uk"])
def test_no_inline_styles_or_handlers(
    renderer: BannerRenderer, codec: ConsentCodec, language: str
) -> None:
    for consent in (codec.undecided, codec.decide(["analytics"]), codec.make_undecided(True)):
        for page in (
            renderer.snippet(consent, language, nonce="n"),
            renderer.render_banner(consent, language),
            renderer.preferences_page(consent, language),
        ):
            assert not STYLE_OR_HANDLER.search(page)


def test_ukrainian(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    page = renderer.snippet(codec.undecided, "uk")
    assert page.isascii()  # references, so pages in any charset show it right
    text = html.unescape(page)
    for key in ("title", "accept_all", "reject_all", "customize", "save", "privacy_link"):
        assert TEXTS["uk"][key] in text
    assert "Аналітика" in text and 'lang="uk"' in page
    assert "We use cookies" not in text


def test_unknown_language_falls_back(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    assert 'lang="uk"' in renderer.snippet(codec.undecided, "uk-UA")
    assert 'lang="en"' in renderer.snippet(codec.undecided, "xx")


def test_text_overrides(codec: ConsentCodec) -> None:
    config = make_config(texts={"uk": {"accept_all": "Так, усі"}, "en": {"title": "Cookies!"}})
    renderer = BannerRenderer(config)
    assert "Cookies!" in renderer.snippet(codec.undecided, "en")
    uk = html.unescape(renderer.snippet(codec.undecided, "uk"))
    assert "Так, усі" in uk and TEXTS["uk"]["reject_all"] in uk and "Cookies!" not in uk


def test_custom_categories_bring_their_words() -> None:
    config = make_config(
        categories=[
            Category("authentication", "Needed", "Sign-in.", required=True),
            Category("analytics", "Analytics", "Counts visits so that we can improve the site."),
            Category("video", "Video", "Embedded videos."),
        ],
        cookies={"s": "authentication"},
    )
    uk = texts_for(config, "uk")
    assert uk["category.video.label"] == "Video"
    assert uk["category.authentication.label"] == "Needed"  # changed: the site's words
    assert uk["category.analytics.label"] == "Аналітика"  # as shipped: translated
    page = html.unescape(BannerRenderer(config).snippet(ConsentCodec(config).undecided, "uk"))
    assert "Embedded videos." in page and "Needed" in page


def test_every_language_has_every_text() -> None:
    # tests/test_i18n.py checks every bundled language in depth.
    for language in BUNDLED_LANGUAGES:
        assert list(TEXTS[language]) == list(TEXTS["en"]), language
        for key, value in TEXTS[language].items():
            assert value and (language == "en" or value != TEXTS["en"][key]), (language, key)


@pytest.mark.parametrize("language", BUNDLED_LANGUAGES)
def test_placeholder_texts_name_the_category(language: str) -> None:
    texts = texts_for(make_config(), language)
    for key in ("placeholder", "placeholder_button"):
        assert texts[key].count("{category}") == 1, key
    label = texts["category.marketing.label"]
    assert label in texts["placeholder_button"].replace("{category}", label)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("uk", "uk"),
        ("uk-UA,uk;q=0.9,en;q=0.5", "uk"),
        ("en-US,en;q=0.9,uk;q=0.8", "en"),
        ("de-DE,de;q=0.9,uk;q=0.7,en;q=0.3", "de"),
        ("UK-ua", "uk"),
        ("en;q=0.5, uk;q=0.8", "uk"),
        ("uk;q=0, en", "en"),
        ("uk;q=0, *", "en"),
        ("en;q=0, *", "bg"),  # the first enabled language that is not refused
        ("*", "en"),
        ("fr, de", "fr"),
        ("nb, sv;q=0.5", "sv"),
        ("uk;q=abc, en;q=0.1", "en"),
        ("uk;q=2", "en"),
        ("uk;q=nan", "en"),
        (";;;,,,==", "en"),
        ("\x00\xff💥", "en"),
        ("uk," * 10_000, "uk"),
    ],
)
def test_choose_language(header: str | None, language: str) -> None:
    assert choose_language(make_config(), header) == language


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-DE,de;q=0.9,uk;q=0.7,en;q=0.3", "uk"),
        ("en;q=0, *", "uk"),
        ("fr, de", "en"),
        ("uk;q=0, *", "en"),
    ],
)
def test_choose_language_within_the_configured_ones(header: str, language: str) -> None:
    assert choose_language(make_config(languages=("en", "uk")), header) == language


def test_forced_language_and_order() -> None:
    assert choose_language(make_config(language="uk"), "en") == "uk"
    # Accept-Language names none of them: default_language, whatever the order.
    assert choose_language(make_config(languages=("uk", "en")), "fr") == "en"
    config = make_config(languages=("uk", "en"), default_language="uk")
    assert choose_language(config, "fr") == "uk"
    assert choose_language(config, None) == "uk"


@given(st.text(max_size=200))
def test_choose_language_never_raises(header: str) -> None:
    assert choose_language(make_config(), header) in BUNDLED_LANGUAGES
    assert choose_language(make_config(languages=("en", "uk")), header) in ("en", "uk")


# -- request values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("csp", "nonce"),
    [
        (None, None),
        ("", None),
        ("default-src 'self'", None),
        ("script-src 'nonce-abc123' 'strict-dynamic'", "abc123"),
        ("default-src 'self'; script-src 'self' 'NONCE-Zm9v+/='", "Zm9v+/="),
        ("default-src 'nonce-dflt'", "dflt"),
        ("default-src 'nonce-dflt'; script-src 'self'", None),
        ("script-src-elem 'nonce-elem'; script-src 'nonce-other'", "elem"),
        ("style-src 'nonce-style'", None),
        ("script-src\t'nonce-tab'", "tab"),
        ("script-src 'self', script-src 'nonce-second'", "second"),
        ("script-src 'nonce-'", None),
        ("script-src nonce-bare", None),
        ("script-src 'nonce-a\"b'", None),
        (";;; ,,, script-src", None),
        ("\x00\xff", None),
    ],
)
def test_csp_nonce(csp: str | None, nonce: str | None) -> None:
    assert csp_nonce(csp) == nonce


@given(st.text(max_size=100))
def test_csp_nonce_never_raises(csp: str) -> None:
    csp_nonce(csp)


@pytest.mark.parametrize(
    ("value", "result"),
    [
        ("/", "/"),
        ("/shop/item?id=3&x=y#top", "/shop/item?id=3&x=y#top"),
        ("/a%2Fb", "/a%2Fb"),
        ("/шлях", "/%D1%88%D0%BB%D1%8F%D1%85"),
        ('/a"b<c>', "/a%22b%3Cc%3E"),
        ("/a\\b", "/a%5Cb"),
        (None, "/"),
        ("", "/"),
        ("//evil.com", "/"),
        ("/\\evil.com", "/"),
        ("https://evil.com", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.com/path", "/"),
        ("/\t/evil.com", "/"),
        ("/ok\r\nLocation: //evil.com", "/"),
        ("/ok\n", "/"),
        ("/\x00", "/"),
        ("/\x7f", "/"),
        ("/" + "a" * 1999, "/" + "a" * 1999),
        ("/" + "a" * 2000, "/"),
    ],
)
def test_safe_return_to(value: str | None, result: str) -> None:
    assert safe_return_to(value) == result


def test_safe_return_to_fallback() -> None:
    assert safe_return_to("//evil.com", fallback="/home") == "/home"
    assert safe_return_to(42, fallback="/x") == "/x"  # type: ignore[arg-type]


# -- static files ------------------------------------------------------------------------


REPO = Path(__file__).resolve().parents[1]
BANNER_DIR = REPO / "static" / "banner"
BUILD = REPO / "scripts" / "build-banner"
# banner.js + banner.css, each gzipped at level 9: under 3 KiB (README, docs/banner.md, and
# the size target of `make bench`).
BUDGET = 3072


def gzipped_size(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=9))


def test_assets_fit_in_three_kilobytes() -> None:
    assets = load_assets()
    total = sum(gzipped_size(a.body) for a in assets.values())
    assert total <= BUDGET, total


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """banner.js and banner.css as scripts/build-banner makes them from static/banner/src/."""
    if shutil.which("node") is None or not (REPO / "node_modules" / ".bin" / "terser").exists():
        pytest.fail("the banner build needs node and the npm packages: run 'npm install'")
    out = tmp_path_factory.mktemp("banner-build")
    subprocess.run(["bash", str(BUILD), str(out)], check=True, cwd=REPO, timeout=120)
    return {name: (out / name).read_bytes() for name in ("banner.js", "banner.css")}


@pytest.mark.parametrize("name", ["banner.js", "banner.css"])
def test_committed_assets_are_the_build_of_the_sources(built: dict[str, bytes], name: str) -> None:
    committed = (BANNER_DIR / name).read_bytes()
    assert built[name] == committed, (
        f"static/banner/{name} is not the build of static/banner/src/{name}:"
        " run scripts/build-banner and commit the result"
    )


def test_built_assets_fit_in_three_kilobytes(built: dict[str, bytes]) -> None:
    sizes = {name: gzipped_size(body) for name, body in built.items()}
    assert sum(sizes.values()) <= BUDGET, sizes
    source = sum(gzipped_size((BANNER_DIR / "src" / n).read_bytes()) for n in built)
    assert sum(sizes.values()) < source  # minified: smaller than the readable sources


def test_built_assets_are_minified_ascii(built: dict[str, bytes]) -> None:
    for name, body in built.items():
        assert body.isascii(), name
        assert body.count(b"\n") == 1 and body.endswith(b"\n"), name  # one line
        assert b"/*" not in body, name


def test_assets_are_stable() -> None:
    assets = load_assets()
    assert set(assets) == {"banner.js", "banner.css"}
    assert assets["banner.js"].content_type == "text/javascript; charset=utf-8"
    assert assets["banner.css"].content_type == "text/css; charset=utf-8"
    for name, asset in assets.items():
        digest = hashlib.sha256(asset.body).hexdigest()
        assert asset.name == name
        assert asset.etag == f'"{digest[:16]}"'
        assert asset.version == digest[:10]
        assert gzip.decompress(asset.gzip_body) == asset.body
        assert gzip.compress(asset.body, compresslevel=9, mtime=0) == asset.gzip_body
    assert load_assets() is assets


def test_renderer_links_the_current_versions(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    assets = load_assets()
    page = renderer.snippet(codec.decide([]), "en")
    assert f"/consent/banner.css?v={assets['banner.css'].version}" in page
    assert f"/consent/banner.js?v={assets['banner.js'].version}" in page


def test_banner_js_keeps_the_contract() -> None:
    source = (BANNER_DIR / "src" / "banner.js").read_text()
    assert "form.getAttribute('action')" in source
    code = re.sub(r"//[^\n]*", "", source)
    assert "form.action" not in code  # shadowed by the buttons named "action"
    js = load_assets()["banner.js"].body.decode()
    assert re.search(r"[\w$]+\.getAttribute\(\"action\"\)", js)
    assert not re.search(r"\.action\b", js)
    needles = (
        "consent:change",
        "consentMiddleware",
        "data-consent-open",
        "data-consent-allow",
        "iframe[data-consent-category]",
        "data-consent-placeholder",
        "globalPrivacyControl",
        '"consent","update"',
    )
    for needle in needles:
        assert needle in js, needle
    for text in (source, js):
        assert "eval(" not in text and "innerHTML" not in text


@pytest.mark.parametrize("path", ["banner.css", "src/banner.css"])
def test_banner_css_is_scoped(path: str) -> None:
    text = (BANNER_DIR / path).read_text()
    css = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    css = re.sub(r"@media[^{]*\{", "", css)
    for selector_list in re.findall(r"([^{}]+)\{", css):
        for selector in selector_list.split(","):
            assert selector.strip().startswith(("#consent-banner", ".consent-")), selector
    assert "prefers-reduced-motion" in text
    assert ".consent-placeholder" in text


def test_consent_type_is_what_the_renderer_takes() -> None:
    consent = Consent({"authentication": True, "analytics": True}, decided=True)
    page = BannerRenderer(make_config()).render_banner(consent, "en")
    assert " checked" in input_tag(page, "analytics")


def test_customize_is_a_real_button(renderer: BannerRenderer, codec: ConsentCodec) -> None:
    html = renderer.snippet(codec.undecided, "en")
    button = re.search(r"<button[^>]*data-consent-customize[^>]*>", html)
    assert button is not None
    tag = button.group(0)
    assert 'type="submit"' in tag and 'name="action"' in tag and 'value="customize"' in tag
    assert 'aria-expanded="false"' in tag and 'aria-controls="consent-choices"' in tag
    assert '<div class="consent-customize" id="consent-choices" hidden="">' in html
