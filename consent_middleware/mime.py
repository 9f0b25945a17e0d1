"""A response's MIME type and charset as browsers read them: the Fetch standard's "extract
a MIME type" over every Content-Type value (several headers, or one with commas).

A page the middleware does not take for HTML, but the browser does, would run its gated
scripts unseen; a UTF-16 label the middleware misses would get UTF-8 bytes appended. So
both are read the way Chromium and Firefox read them: the last valid type counts, `*/*`
is skipped, and a later value of the same type without a charset keeps the earlier one's.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import BodyFilter

__all__ = ["SNIFFED_TYPES", "HtmlSniffer", "extract_mime_type", "loose_essences", "sniffs_html"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_WS = " \t\r\n"
#: Where Chromium's reading of a type ends (net's ParseContentType): at whitespace, ";" or "(".
_LOOSE_END = re.compile(r"[ \t;(]")


def loose_essences(value: str) -> list[str]:
    """The types Chromium reads in a Content-Type value: each item up to its first space,
    tab, ";" or "(", lower case. `text/html charset=utf-8` (a space for the ";") is no
    valid MIME type to the Fetch standard, but Chromium shows it as a page."""
    return [_LOOSE_END.split(item.strip(_WS), 1)[0].lower() for item in _split_commas(value)]


def extract_mime_type(value: str) -> tuple[str | None, str | None]:
    """The essence (`text/html`) and the charset label (lower case, or None) of a
    Content-Type value; for several headers, their values joined with ", "."""
    essence: str | None = None
    charset: str | None = None
    for item in _split_commas(value):
        parsed = _parse(item)
        if parsed is None or parsed[0] == "*/*":
            continue
        if parsed[0] != essence:
            essence, charset = parsed
        elif parsed[1] is not None:
            charset = parsed[1]
    return essence, charset


def _split_commas(value: str) -> list[str]:
    """Split at commas outside quoted strings (Fetch: "get, decode, and split")."""
    items: list[str] = []
    start = at = 0
    quoted = False
    while at < len(value):
        char = value[at]
        if quoted:
            if char == "\\":
                at += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ",":
            items.append(value[start:at])
            start = at + 1
        at += 1
    items.append(value[start:])
    return items


def _parse(item: str) -> tuple[str, str | None] | None:
    """(essence, charset) of one MIME type (WHATWG MIME Sniffing, "parse a MIME type"),
    or None when it is no valid one."""
    text = item.strip(_WS)
    slash = text.find("/")
    if slash < 0:
        return None
    kind = text[:slash]
    semi = text.find(";", slash)
    subtype = (text[slash + 1 :] if semi < 0 else text[slash + 1 : semi]).rstrip(_WS)
    if not _TOKEN.fullmatch(kind) or not _TOKEN.fullmatch(subtype):
        return None
    charset: str | None = None
    at = len(text) if semi < 0 else semi
    while at < len(text):
        at += 1  # past the ";"
        while at < len(text) and text[at] in _WS:
            at += 1
        end = at
        while end < len(text) and text[end] not in ";=":
            end += 1
        name = text[at:end].lower()
        at = end
        if at >= len(text) or text[at] == ";":
            continue
        at += 1  # past the "="
        if at < len(text) and text[at] == '"':
            value, at = _quoted(text, at)
            semi = text.find(";", at)
            at = len(text) if semi < 0 else semi
        else:
            semi = text.find(";", at)
            end = len(text) if semi < 0 else semi
            value = text[at:end].rstrip(_WS)
            at = end
            if not value:
                continue
        if name == "charset" and charset is None and _TOKEN.fullmatch(name):
            charset = value.lower()
    return f"{kind}/{subtype}".lower(), charset


def _quoted(text: str, at: int) -> tuple[str, int]:
    """A quoted string's value from `text[at]` (its opening quote), and where it ends."""
    out: list[str] = []
    at += 1
    while at < len(text):
        char = text[at]
        if char == "\\" and at + 1 < len(text):
            out.append(text[at + 1])
            at += 2
            continue
        if char == '"':
            return "".join(out), at + 1
        out.append(char)
        at += 1
    return "".join(out), at


# --- Sniffing: a response without a type browsers know -------------------------------------

#: Types under which browsers sniff the body (besides no type, or one that is no valid type).
SNIFFED_TYPES = frozenset({"unknown/unknown", "application/unknown", "*/*"})
#: How many bytes browsers read to sniff (WHATWG MIME Sniffing; Chromium's kMaxBytesToSniff).
_SNIFF_BYTES = 512
# The tags that make a body HTML, after leading whitespace, in any case, each followed by a
# space or ">" (Chromium's kSniffableTags; the standard's list): a "/" and the other
# whitespace count too, as a tag ends there in HTML (what cannot leak when they differ).
_HTML_START = re.compile(
    rb"[\t\n\f\r ]*<(?:!doctype html|script|html|!--|head|iframe|h1|div|font|table|a|style"
    rb"|title|b|body|br|p)(?:[\t\n\f\r />]|$)",
    re.IGNORECASE,
)
_LONGEST_START = len(b"<!doctype html") + 1


def sniffs_html(data: bytes, complete: bool) -> bool | None:
    """Whether browsers take a body starting with `data` for HTML when it has no type they
    know; None while more of it is needed to tell (`complete`: the body ends here)."""
    match = _HTML_START.match(data, 0, _SNIFF_BYTES)
    if match is not None and (match.end() < len(data) or complete):
        return True
    stripped = len(data) - len(data.lstrip(b"\t\n\f\r "))
    if complete or len(data) >= _SNIFF_BYTES or len(data) - stripped > _LONGEST_START:
        return match is not None
    if stripped < len(data) and data[stripped] != 60:  # "<": every tag starts with one
        return False
    return None


class HtmlSniffer:
    """The body of a response without a type that browsers know (no Content-Type, `*/*`,
    one that is no valid type): its first bytes are read as browsers sniff them, and it
    goes through `inner` (the page's rewriter) only if they show HTML; else as it is."""

    __slots__ = ("_inner", "_head", "_html")

    def __init__(self, inner: BodyFilter) -> None:
        self._inner = inner
        self._head = b""
        self._html: bool | None = None

    def feed(self, chunk: bytes) -> bytes:
        if self._html is None:
            return self._sniff(chunk, complete=False)
        return self._inner.feed(chunk) if self._html else chunk

    def finish(self) -> bytes:
        out = self._sniff(b"", complete=True) if self._html is None else b""
        return out + self._inner.finish() if self._html else out

    def _sniff(self, chunk: bytes, complete: bool) -> bytes:
        data = self._head + chunk
        self._html = sniffs_html(data, complete)
        if self._html is None:
            self._head = data
            return b""
        self._head = b""
        return self._inner.feed(data) if self._html else data
