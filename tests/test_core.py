"""The sans-IO core on its own: `begin` reads a request, `plan_response` decides every
header and the body filter. No adapter, no framework: plain values in, plain values out."""

from __future__ import annotations

from typing import Any

import pytest

from consent_middleware.consent import ConsentCodec
from consent_middleware.core import ConsentCore

from .conftest import make_config

PAGE = b"<html><body><p>x</p></body></html>"


@pytest.fixture
def core() -> ConsentCore:
    return ConsentCore(make_config())


def consent_cookie(core: ConsentCore, granted: list[str]) -> str:
    codec: ConsentCodec = core.policy.codec
    return "consent=" + codec.encode(codec.decide(granted))


def body_of(plan: Any, chunks: list[bytes]) -> bytes:
    _, page_filter = plan
    assert page_filter is not None
    out: bytes = b"".join(page_filter.feed(c) for c in chunks) + page_filter.finish()
    return out


def test_begin_reads_the_request(core: ConsentCore) -> None:
    ctx = core.begin(
        consent_cookie(core, ["analytics"]) + "; _fbp=1; lang=en",
        True,
        method="POST",
        root="/app/",
        path="/shop",
        query="a=1",
        accept_language="uk",
        fragment=True,
    )
    assert ctx.consent.decided and ctx.consent.allows("analytics")
    assert ctx.state.refused == ("_fbp", "lang")
    assert ctx.state.filtered_cookie_header is not None
    assert "_fbp" not in ctx.state.filtered_cookie_header
    assert ctx.root == "/app" and ctx.return_to == "/app/shop?a=1"
    assert ctx.fragment and ctx.method == "POST"


@pytest.mark.parametrize("root", ["/a b", "//evil.example", "/x<script>", "javascript:x"])
def test_a_strange_prefix_counts_as_none(core: ConsentCore, root: str) -> None:
    assert core.begin("", False, root=root).root == ""


def test_plan_keeps_what_is_granted_and_adds_expiries(core: ConsentCore) -> None:
    ctx = core.begin(consent_cookie(core, ["analytics"]) + "; _fbp=old", False)
    headers = [
        (b"content-type", b"application/json"),
        (b"set-cookie", b"_ga=1; Path=/"),
        (b"set-cookie", b"_fbp=2; Path=/"),
        (b"set-cookie", b"session=3"),
        (b"content-length", b"2"),
    ]
    sent, page_filter = core.plan_response(ctx, 200, headers, as_bytes=True)
    assert page_filter is None
    assert sent[:2] == [headers[0], headers[1]]
    assert headers[2] not in sent
    assert sent[2:4] == [headers[3], headers[4]]
    assert sent[4][0] == b"set-cookie" and sent[4][1].startswith(b"_fbp=;")
    assert sent is not headers and len(headers) == 5


def test_plan_spells_added_headers_like_the_adapter(core: ConsentCore) -> None:
    ctx = core.begin("_fbp=old", False)
    page = [("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))]
    sent, page_filter = core.plan_response(ctx, 200, page, as_bytes=False)
    names = [name for name, _ in sent]
    # An undecided visitor's page: the banner's choice token makes it private.
    assert names == ["Content-Type", "Content-Length", "Set-Cookie", "Vary", "Cache-Control"]
    assert all(isinstance(v, str) for _, v in sent)
    out = body_of((sent, page_filter), [PAGE[:10], PAGE[10:]])
    assert int(dict(sent)["Content-Length"]) == len(out)
    assert out.count(b'id="consent-banner"') == 1


def test_plan_for_an_unknown_length(core: ConsentCore) -> None:
    gating = ConsentCore(make_config(gate_scripts=True))
    ctx = gating.begin("", False)
    sent, page_filter = gating.plan_response(
        ctx, 200, [(b"content-type", b"text/html"), (b"content-length", b"34")], as_bytes=True
    )
    # Streamed instead; private, as an undecided visitor's page with the banner.
    assert [n for n, _ in sent] == [b"content-type", b"vary", b"cache-control"]


def test_plan_fails_closed(core: ConsentCore, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = core.begin(consent_cookie(core, ["analytics", "marketing", "settings"]), False)

    def broken(*args: object) -> bool:
        raise RuntimeError("bug")

    monkeypatch.setattr(core.policy, "keeps", broken)
    headers = [
        (b"content-type", b"text/html"),
        (b"set-cookie", b"_ga=1"),
        (b"set-cookie", b"session=1"),
        (b"content-length", b"34"),
    ]
    sent, page_filter = core.plan_response(ctx, 200, headers, as_bytes=True)
    assert sent == [headers[0], headers[2], headers[3]]  # only the required cookie
    assert page_filter is None  # the page as the app wrote it, with its own length


@pytest.mark.parametrize("status", [101, 204, 206, 301, 304])
def test_no_page_work_for_these_statuses(core: ConsentCore, status: int) -> None:
    ctx = core.begin("", False)
    headers = [(b"content-type", b"text/html")]
    if status == 301:
        headers.append((b"location", b"/next"))  # a redirect: without one, a page is shown
    sent, page_filter = core.plan_response(ctx, status, headers, as_bytes=True)
    assert page_filter is None and sent == headers


def test_a_3xx_without_location_is_a_page(core: ConsentCore) -> None:
    """Chromium shows the page of a 300 (or any 3xx) that names no Location."""
    ctx = core.begin("", False)
    sent, page_filter = core.plan_response(
        ctx, 300, [(b"content-type", b"text/html")], as_bytes=True
    )
    assert b'id="consent-banner"' in body_of((sent, page_filter), [PAGE])


def test_keeps_is_the_one_judgement(core: ConsentCore) -> None:
    undecided = core.begin("", False).state
    accepted = core.begin(consent_cookie(core, ["analytics", "marketing"]), False).state
    assert core.keeps(b"session=1", undecided) and core.keeps("session=1", undecided)
    assert not core.keeps("_ga=1", undecided) and core.keeps("_ga=1", accepted)
    assert core.keeps("_ga=; Max-Age=0", undecided)
    assert not core.keeps("_ga=1; Max-Age=0; Max-Age=abc", undecided)
    assert not core.keeps("consent=forged", accepted)  # the app may not set ours
    # Fresh values every time: the verdict is by name, never by value.
    for n in range(50):
        assert not core.keeps(f"_fbp=fb.1.{n}; Path=/; Max-Age=7776000", undecided)
    assert len(undecided.names) <= 4


GATED_PAGE = (
    b"<html><head></head><body>"
    b'<script data-consent-category="analytics" src="/a.js"></script>'
    b'<iframe data-consent-category="marketing" src="https://video.example/v"></iframe>'
    b"</body></html>"
)


def test_one_core_serves_each_state_its_own_page() -> None:
    """What the core remembers per consent state and language (the tag filter, Consent
    Mode's default) never carries one visitor's page over to the next."""
    core = ConsentCore(make_config(gate_scripts=True, google_consent_mode=True))
    html = [(b"content-type", b"text/html")]

    def page(cookie: str, language: str, csp: str | None = None) -> bytes:
        headers = html if csp is None else [*html, (b"content-security-policy", csp.encode())]
        ctx = core.begin(cookie, False, accept_language=language)
        return body_of(core.plan_response(ctx, 200, headers, True), [GATED_PAGE])

    analytics = consent_cookie(core, ["analytics"])
    marketing = consent_cookie(core, ["marketing"])
    for _ in range(2):  # the second round is served from what the first one left
        de = page(analytics, "de")
        assert b'data-consent-category="analytics" src="/a.js"' in de  # granted: untouched
        assert b'data-consent-src="https://video.example/v"' in de  # refused: gated
        assert b'data-consent-placeholder="marketing" lang="de"' in de and b"Werbung" in de
        assert b'"analytics_storage":"granted"' in de and b'"ad_storage":"denied"' in de
        uk = page(marketing, "uk")
        assert b'type="text/plain"' in uk and b'src="https://video.example/v"' in uk
        assert b"consent-placeholder" not in uk and b'lang="uk"' in uk
        assert b'"analytics_storage":"denied"' in uk and b'"ad_storage":"granted"' in uk
        undecided = page("", "en")
        assert b'"wait_for_update":500' in undecided
        for nonce in ("n0nce1", "n0nce2"):
            with_csp = page(analytics, "en", f"script-src 'nonce-{nonce}'")
            assert f'<script nonce="{nonce}">window.dataLayer'.encode() in with_csp


@pytest.mark.parametrize("as_bytes", [True, False])
def test_a_remembered_shape_holds_only_for_values_that_fold_in_nothing(
    core: ConsentCore, as_bytes: bool
) -> None:
    """The plan looks a Set-Cookie up by its shape (the header without its value): a value
    that could fold in a cookie of its own (a comma, whitespace) or that breaks the line is
    judged again, whatever the shape says."""
    ctx = core.begin(consent_cookie(core, ["settings"]), False)

    def sent(value: str) -> list[str]:
        header = (b"set-cookie", value.encode()) if as_bytes else ("Set-Cookie", value)
        out, _ = core.plan_response(ctx, 200, [header], as_bytes=as_bytes)
        return [v.decode() if isinstance(v, bytes) else v for _, v in out]

    for fresh in ("en", "uk", "de"):  # remembered from the first on
        assert sent(f"lang={fresh}; Path=/") == [f"lang={fresh}; Path=/"]
    assert sent("lang=en,_fbp=1; Path=/") == []  # `_fbp` is marketing: refused
    assert sent("lang=en _fbp=1; Path=/") == []
    assert sent("lang=en\t_fbp=1; Path=/") == []
    assert sent("lang=en\r\nSet-Cookie: _fbp=1; Path=/") == []
    assert sent("lang=fr; Path=/") == ["lang=fr; Path=/"]
