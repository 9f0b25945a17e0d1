"""UTF-16 pages through the page filter, which reads ASCII-compatible bytes.

Browsers read a page as UTF-16 when it starts with a UTF-16 byte order mark (whatever its
Content-Type says) or, without one, when its charset label is a UTF-16 one. Appending the
banner's bytes to such a page shows them as garbage and misses every gated script; so the
page is decoded to UTF-8 as it streams, rewritten, and encoded back in its own byte order,
byte for byte where the filter changed nothing (lone surrogates and all).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import TYPE_CHECKING

from .meta_charset import MORE, encoding_of, meta_charset
from .mime import extract_mime_type

if TYPE_CHECKING:
    from .core import BodyFilter

__all__ = [
    "BomSniffer",
    "MetaSniffer",
    "Recoded",
    "Utf16Page",
    "charset_reading",
    "names_charset",
    "recoded_codec",
    "utf16_order",
]

#: The byte order of each WHATWG encoding of UTF-16.
_UTF16 = {"utf-16le": "le", "utf-16be": "be"}
_BOMS = {codecs.BOM_UTF16_LE: "le", codecs.BOM_UTF16_BE: "be"}


#: The Python codec of ISO-2022-JP: 7-bit bytes whose escape sequences switch to two-byte
#: text, in which `<!--` or `<` can be part of a character. (The other ISO-2022 labels name
#: the replacement encoding in browsers: nothing in such a page runs.)
_RECODED = {"iso-2022-jp": "iso2022_jp"}


def charset_reading(content_type: str) -> tuple[str | None, str | None, bool]:
    """What the page filter needs of a Content-Type's charset, from one parse of it:
    `utf16_order`, `recoded_codec` and `names_charset`."""
    charset = extract_mime_type(content_type)[1]
    if charset is None:
        return None, None, False
    encoding = encoding_of(charset)
    if encoding is None:
        return None, None, False
    return _UTF16.get(encoding), _RECODED.get(encoding), True


def recoded_codec(content_type: str) -> str | None:
    """The Python codec of a charset label the tokenizer cannot read as ASCII, else None."""
    return charset_reading(content_type)[1]


def names_charset(content_type: str) -> bool:
    """Whether a Content-Type names a charset that browsers know (then no `<meta>` counts)."""
    return charset_reading(content_type)[2]


def utf16_order(content_type: str) -> str | None:
    """ "le" or "be" when a Content-Type's charset label names UTF-16 (read as browsers
    read it, see `mime.py`), else None."""
    return charset_reading(content_type)[0]


class Utf16Page:
    """`inner` (a filter of UTF-8 bytes) over a UTF-16 body. The byte order is the body's
    own mark's, else `order` (the label's). Adds exactly twice the bytes `inner` adds
    (`added`, when known). A body that starts with a UTF-8 mark is UTF-8 whatever its label
    says (the mark wins in browsers): it goes through `inner` as it is, padded with
    spaces so that the length announced for UTF-16 (`added`) holds."""

    __slots__ = ("_inner", "_order", "_head", "_decoder", "_recode", "_utf8", "_added")

    def __init__(self, inner: BodyFilter, order: str, added: int | None = None) -> None:
        self._inner = inner
        self._order = order
        self._added = added
        self._utf8 = False
        self._head = b""  # the first bytes, until the mark can be read
        self._decoder: codecs.IncrementalDecoder | None = None
        self._recode = codecs.getincrementaldecoder("utf-8")("surrogatepass").decode

    def feed(self, chunk: bytes) -> bytes:
        if self._utf8:
            return self._inner.feed(chunk)
        decoder = self._decoder
        if decoder is None:
            chunk = self._head + chunk
            if len(chunk) < 3 and codecs.BOM_UTF8.startswith(chunk):
                self._head = chunk
                return b""
            self._head = b""
            if chunk.startswith(codecs.BOM_UTF8):
                self._utf8 = True
                return self._inner.feed(chunk)
            self._order = _BOMS.get(chunk[:2], self._order)
            decoder = codecs.getincrementaldecoder(f"utf-16-{self._order}")("surrogatepass")
            self._decoder = decoder
        text = decoder.decode(chunk)
        return self._encode(self._inner.feed(text.encode("utf-8", "surrogatepass")))

    def finish(self) -> bytes:
        if self._utf8:
            # `inner` added half of what was announced for UTF-16: the rest as spaces.
            return self._inner.finish() + b" " * ((self._added or 0) // 2)
        out, tail = b"", self._head  # a body of one byte holds no character at all
        decoder = self._decoder
        if decoder is not None:
            # What the decoder still holds: a lone high surrogate, and maybe an odd last
            # byte, which is sent on as it came.
            pending = decoder.getstate()[0]
            even = len(pending) // 2 * 2
            decoder.reset()
            rest = decoder.decode(pending[:even], True)
            tail = pending[even:]
            out = self._encode(self._inner.feed(rest.encode("utf-8", "surrogatepass")))
        return out + self._encode(self._inner.finish(), final=True) + tail

    def _encode(self, data: bytes, final: bool = False) -> bytes:
        text = self._recode(data, final)
        return text.encode(f"utf-16-{self._order}", "surrogatepass") if text else b""


class Recoded:
    """`inner` (a filter of UTF-8 bytes) over a body in `codec` (ISO-2022-JP): decoded to
    UTF-8 as it streams, rewritten, and encoded back. The length is not kept."""

    __slots__ = ("_inner", "_decode", "_encode", "_recode")

    def __init__(self, inner: BodyFilter, codec: str) -> None:
        self._inner = inner
        self._decode = codecs.getincrementaldecoder(codec)("replace").decode
        self._encode = codecs.getincrementalencoder(codec)("replace").encode
        self._recode = codecs.getincrementaldecoder("utf-8")("replace").decode

    def feed(self, chunk: bytes) -> bytes:
        rewritten = self._inner.feed(self._decode(chunk).encode("utf-8"))
        return self._encode(self._recode(rewritten))

    def finish(self) -> bytes:
        rest = self._inner.feed(self._decode(b"", True).encode("utf-8")) + self._inner.finish()
        return self._encode(self._recode(rest, True), True)


class MetaSniffer:
    """A page whose `Content-Type` names no charset: its first bytes wait until a browser
    would know its charset from its `<meta>` (`meta_charset.py`; the whole head, at most
    `HOLD` bytes). Through `Recoded(inner)` when a `<meta>` names ISO-2022-JP, else through
    `plain` (a page that starts with a byte order mark too: the mark wins). Only for pages
    whose length is not kept anyway (gated, recompressed): recoding changes it.

    A head longer than `HOLD` with no charset yet is read as ASCII, and `undecided` is
    called: a browser reads on, and a `<meta>` further on may still name ISO-2022-JP, whose
    two-byte text the tokenizer would read as markup (gating then takes a second look)."""

    #: The most bytes held back for the scan; a longer head is read as ASCII.
    HOLD = 65536

    __slots__ = ("_inner", "_plain", "_head", "_scanned", "_chosen", "_undecided")

    def __init__(
        self,
        inner: BodyFilter,
        plain: BodyFilter,
        undecided: Callable[[], None] | None = None,
    ) -> None:
        self._inner = inner
        self._plain = plain
        self._undecided = undecided
        self._head = b""
        self._scanned = 0  # the held length at the last scan: scans double it (linear)
        self._chosen: BodyFilter | None = None

    def feed(self, chunk: bytes) -> bytes:
        chosen = self._chosen
        if chosen is not None:
            return chosen.feed(chunk)
        head = self._head + chunk
        if len(head) < min(self.HOLD, max(64, 2 * self._scanned)):
            self._head = head
            return b""
        self._scanned = len(head)
        chosen = self._choose(head, final=False, give_up=len(head) >= self.HOLD)
        if chosen is None:
            self._head = head
            return b""
        self._head = b""
        return chosen.feed(head)

    def finish(self) -> bytes:
        chosen = self._chosen
        if chosen is None:
            head, self._head = self._head, b""
            chosen = self._choose(head, final=True)
            assert chosen is not None
            return chosen.feed(head) + chosen.finish()
        return chosen.finish()

    def _choose(self, head: bytes, final: bool, give_up: bool = False) -> BodyFilter | None:
        if head[:2] in _BOMS or head.startswith(codecs.BOM_UTF8):
            label = None
        else:
            try:
                label = meta_charset(head, final)
            except Exception:  # pragma: no cover - a bug; never lose the bytes held
                label = None
            if label == MORE:
                if not give_up:
                    return None
                label = None
                if self._undecided is not None:
                    self._undecided()
        encoding = encoding_of(label) if label is not None else None
        codec = _RECODED.get(encoding) if encoding is not None else None
        self._chosen = self._plain if codec is None else Recoded(self._inner, codec)
        return self._chosen


class BomSniffer:
    """A page without a UTF-16 label that may still start with a UTF-16 mark (a `.html`
    file saved as UTF-16 and served as UTF-8, say): through `inner` as it is, unless it
    does. Then through `Utf16Page` when its length is unknown anyway (`added` None: gated
    pages), else as the app wrote it, padded with `added` bytes of UTF-16 spaces (the
    length announced for the banner must hold), reported once."""

    __slots__ = ("_inner", "_added", "_report", "_head", "_chosen")

    def __init__(self, inner: BodyFilter, added: int | None, report: Callable[[str], None]) -> None:
        self._inner = inner
        self._added = added
        self._report = report
        self._head = b""
        self._chosen: BodyFilter | None = None

    def feed(self, chunk: bytes) -> bytes:
        chosen = self._chosen
        if chosen is not None:
            return chosen.feed(chunk)
        chunk = self._head + chunk
        if len(chunk) < 2:
            self._head = chunk
            return b""
        self._head = b""
        chosen = self._choose(chunk)
        return chosen.feed(chunk)

    def finish(self) -> bytes:
        chosen = self._chosen
        if chosen is None:
            chosen = self._choose(self._head)
            head, self._head = self._head, b""
            return chosen.feed(head) + chosen.finish()
        return chosen.finish()

    def _choose(self, start: bytes) -> BodyFilter:
        order = _BOMS.get(start[:2])
        chosen: BodyFilter = self._inner
        if order is not None:
            if self._added is not None:
                self._report(
                    "left a page that starts with a UTF-16 mark under another charset label"
                    " as it was: label it charset=utf-16 for the banner to show"
                )
                space = " ".encode(f"utf-16-{order}")
                chosen = _Padded(space * (self._added // 2))
            else:
                chosen = Utf16Page(self._inner, order)
        self._chosen = chosen
        return chosen


class _Padded:
    """The body as it came, then `padding`."""

    __slots__ = ("_padding",)

    def __init__(self, padding: bytes) -> None:
        self._padding = padding

    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> bytes:
        return self._padding
