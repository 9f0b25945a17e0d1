"""A newcomer's round 4: what the Flask quick start says about Flask-Compress is what its
app does. Its page once said the middleware "cannot read Brotli or zstd" and passes such
pages on without a banner, while Flask-Compress (which installs brotli and backports.zstd)
answers Chromium with zstd first and the middleware reads both: a reader was told to
expect no banner, or to turn br and zstd off, for nothing."""

from __future__ import annotations

import gzip
import re
import sys
import types
import zlib
from collections.abc import Callable
from pathlib import Path

import brotli
import httpx2 as httpx
import pytest
from flask import Flask
from flask_compress import Compress

if sys.version_info >= (3, 14):  # pragma: no cover - the stdlib's own zstd
    from compression import zstd
else:
    from backports import zstd

QUICKSTART = Path(__file__).resolve().parents[1] / "docs" / "quickstart" / "flask.md"

DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "br": brotli.decompress,
    "zstd": zstd.decompress,
}

# How the page may name each encoding.
SPELLINGS = {
    "gzip": ("gzip",),
    "deflate": ("deflate",),
    "br": ("br", "brotli"),
    "zstd": ("zstd", "zstandard"),
}


def compression_bullet() -> str:
    """The quick start's "What to know" bullet about Flask-Compress."""
    text = QUICKSTART.read_text(encoding="utf-8")
    (bullet,) = [b for b in re.split(r"\n- ", text) if "Flask-Compress" in b]
    return bullet.lower()


def quickstart_app_with_compress(monkeypatch: pytest.MonkeyPatch) -> Flask:
    (source,) = re.findall(r"```python\n(.*?)```", QUICKSTART.read_text(encoding="utf-8"), re.S)
    monkeypatch.setenv("CONSENT_SECRET", "round4-docs-secret-0123456789abcdef")
    module = types.ModuleType("app")
    monkeypatch.setitem(sys.modules, "app", module)
    exec(compile(source, str(QUICKSTART), "exec"), module.__dict__)
    flask_app: Flask = module.app
    flask_app.config["COMPRESS_MIN_SIZE"] = 0
    Compress(flask_app)
    return flask_app


@pytest.mark.parametrize("encoding", list(DECODERS))
def test_flask_quickstart_says_what_flask_compress_pages_get(
    encoding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = quickstart_app_with_compress(monkeypatch)
    transport = httpx.WSGITransport(app=app)
    with (
        httpx.Client(transport=transport, base_url="http://t") as client,
        client.stream("GET", "/", headers={"Accept-Encoding": encoding}) as response,
    ):
        raw = b"".join(response.iter_raw())  # the bytes on the wire, still compressed
    assert response.headers["content-encoding"] == encoding  # Flask-Compress did compress
    has_banner = b'id="consent-banner"' in DECODERS[encoding](raw)
    bullet = compression_bullet()
    said_unreadable = any(
        re.search(rf"cannot read[^.]*\b{name}\b", bullet) for name in SPELLINGS[encoding]
    )
    # The page never calls an encoding unreadable that gets the banner, and names it as
    # one that works.
    assert has_banner
    assert not said_unreadable, f"the quick start says {encoding} pages get no banner"
    assert any(re.search(rf"\b{name}\b", bullet) for name in SPELLINGS[encoding])


def test_security_page_says_br_and_zstd_pages_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/security.md's limits say which pages get no banner: never br or zstd pages that
    the middleware reads (the test above sees them get the banner)."""
    text = (QUICKSTART.parents[1] / "security.md").read_text(encoding="utf-8")
    (bullet,) = [b for b in re.split(r"\n- ", text) if "encoding it cannot read" in b]
    app = quickstart_app_with_compress(monkeypatch)
    transport = httpx.WSGITransport(app=app)
    for encoding in ("br", "zstd"):
        with (
            httpx.Client(transport=transport, base_url="http://t") as client,
            client.stream("GET", "/", headers={"Accept-Encoding": encoding}) as response,
        ):
            raw = b"".join(response.iter_raw())
        assert b'id="consent-banner"' in DECODERS[encoding](raw)
        said = re.search(rf"`{encoding}`[^.;]*(page )?gets? neither banner", bullet)
        without_library = re.search(r"without (its|their) librar", bullet)
        assert not said or without_library, f"security.md says {encoding} pages get no banner"
