"""The charset that a page's `<meta>` names, found as Chromium finds it (Blink's
`HTMLMetaCharsetParser`), for a page whose `Content-Type` names none.

It matters for one charset only: ISO-2022-JP, whose two-byte text holds bytes that read as
`<!--` or `<` in ASCII (see `charsets.Recoded`); every other charset a browser knows reads
markup as ASCII does. Checked in Chromium 156: the scan reads tokens as the tokenizer does
(no `<meta>` counts inside a comment, an attribute value, a `<script>`, `<title>` or
`<textarea>`), reads the whole `<head>` however long, and after it stops 1024 bytes into
the page; the first `<meta>` that names a charset it knows wins (an unknown label is
skipped); `content="...; charset=..."` counts only beside `http-equiv="Content-Type"`.
"""

from __future__ import annotations

import re
from typing import Final

import webencodings

from .html import attributes, first_by_name, tag_end

__all__ = ["MORE", "NONE", "PRESCAN_BYTES", "encoding_of", "known_label", "meta_charset"]

#: Past the head, the scan stops after this many bytes of the page.
PRESCAN_BYTES = 1024
#: Results of `meta_charset` that are not a label.
MORE: Final = "more"  # the bytes so far cannot tell: more may name one
NONE: Final = "none"  # no <meta> names a charset

_WS = " \t\n\f\r"
_LETTER = re.compile(rb"[a-zA-Z]")
_NAME = re.compile(rb"[^\t\n\f\r />]*")
_COMMENT = re.compile(rb"<!--(?:-?>|.*?--!?>)", re.DOTALL)
#: Elements whose content is text to the tokenizer (scripting on: `<noscript>` too).
_RAW_TEXT_END = {
    name: re.compile(rb"</" + name + rb"[\t\n\f\r />]", re.IGNORECASE)
    for name in b"script style title textarea xmp iframe noembed noframes noscript".split()
}
#: Start tags that leave the head for the scan (any other tag does; end tags too, except
#: these).
_HEAD_TAGS = frozenset(b"script noscript style link meta object title base".split())
_CHARSET_IN_CONTENT = re.compile(rb"charset", re.IGNORECASE)


def meta_charset(data: bytes, final: bool) -> str:
    """The charset label the first `<meta>` in `data` names (lowercased, trimmed), `NONE`,
    or `MORE` when the page goes on (`final` False) and its next bytes may still name one."""
    pos = 0
    in_head = True
    n = len(data)

    def undecided() -> str:
        return MORE if not final and (in_head or n <= PRESCAN_BYTES) else NONE

    while True:
        if not in_head and pos > PRESCAN_BYTES:
            return NONE
        lt = data.find(b"<", pos)
        if lt < 0:
            return undecided()
        if data.startswith(b"<!--", lt):
            comment = _COMMENT.match(data, lt)
            if comment is None:
                return undecided()
            pos = comment.end()
            continue
        after = data[lt + 1 : lt + 2]
        closing = after == b"/"
        start = lt + 2 if closing else lt + 1
        if not _LETTER.match(data, start):
            if lt + 2 > n or (closing and start >= n):
                return undecided()
            if after in (b"!", b"?") or closing:  # a doctype or a bogus comment
                gt = data.find(b">", lt)
                if gt < 0:
                    return undecided()
                pos = gt + 1
            else:
                pos = lt + 1  # a "<" of text
            continue
        name_end = _NAME.match(data, start).end()  # type: ignore[union-attr]
        end = tag_end(data, name_end)
        if end is None:
            return undecided()
        name = data[start:name_end].lower()
        if not closing and name == b"meta":
            label = _label(data[lt:end], name_end - lt)
            if label is not None:
                return label
        if name not in _HEAD_TAGS and (closing or name not in (b"html", b"head")):
            in_head = False
        pos = end
        if not closing and name == b"plaintext":
            return NONE  # the rest of the page is text
        text_end = None if closing else _RAW_TEXT_END.get(name)
        if text_end is not None:
            found = text_end.search(data, pos)
            if found is None:
                return undecided()
            pos = found.start()


def _label(tag: bytes, name_end: int) -> str | None:
    """The label a `<meta>` tag names, when it is one Chromium knows (else None: the scan
    goes on)."""
    attrs = first_by_name(attributes(tag, name_end))
    pragma = b"http-equiv" in attrs and _html_text(attrs[b"http-equiv"].value) == "content-type"
    label = None
    if b"charset" in attrs:
        label = _html_text(attrs[b"charset"].value)
    elif b"content" in attrs and pragma:
        label = _from_content(attrs[b"content"].value)
    if not label or not known_label(label):
        return None
    return label


def known_label(label: str) -> bool:
    """Whether browsers know a charset label: the WHATWG Encoding Standard's table of
    labels (`webencodings`), not Python's codecs. A label Python knows and browsers do not
    (`utf-32`, `utf-7`) is skipped by browsers, which then read the next `<meta>`; one only
    browsers know (`x-user-defined`, `windows-874`) ends their scan."""
    return encoding_of(label) is not None


def encoding_of(label: str) -> str | None:
    """The name of the WHATWG encoding a label names (`iso-2022-jp`, `utf-16le`), or None
    when browsers know no such label."""
    try:
        found = webencodings.lookup(label)
    except (TypeError, ValueError):  # pragma: no cover - a label no page can spell
        return None
    return None if found is None else str(found.name)


def _html_text(value: bytes) -> str:
    return value.decode("latin-1").strip(_WS).lower()


def _from_content(content: bytes) -> str | None:
    """WHATWG "extracting a character encoding from a meta element", on `content`."""
    pos = 0
    while (found := _CHARSET_IN_CONTENT.search(content, pos)) is not None:
        pos = found.end()
        rest = content[pos:].lstrip(b"\t\n\f\r ")
        if not rest.startswith(b"="):
            continue
        value = rest[1:].lstrip(b"\t\n\f\r ")
        if value[:1] in (b'"', b"'"):
            close = value.find(value[:1], 1)
            return None if close < 0 else _html_text(value[1:close])
        token = re.match(rb"[^\t\n\f\r ;]*", value)
        return _html_text(token.group()) if token and token.group() else None
    return None
