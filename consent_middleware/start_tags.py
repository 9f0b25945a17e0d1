"""The syntax of a start tag, read as browsers read it (WHATWG 13.2.5, from "tag open" to
"self-closing start tag"): where it ends, and its attributes. The tokenizer (`html.py`) and
the second look of gating (`latent_tags.py`) read tags alike through it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "GATED_TAG_START",
    "MAX_TAG",
    "T_END",
    "T_NAME",
    "TAG_NAME",
    "Attr",
    "attributes",
    "first_by_name",
    "scan_tag",
    "self_closing",
    "tag_end",
]

#: The largest start tag held back for the tag filter; a longer one is neutralised.
MAX_TAG = 65536

#: Where a start tag of the names gating acts on (`<script`, `<iframe`) may begin.
GATED_TAG_START = re.compile(rb"<(script|iframe)(?=[\t\n\f\r />])", re.IGNORECASE)

#: A tag name, up to what ends it.
TAG_NAME = re.compile(rb"[^\t\n\f\r />]*")

# Tag sub-states, for a tag that streams through (the tokenizer's own states, merged where
# they behave the same: "after attribute value (quoted)" and "self-closing start tag" act
# like "before attribute name").
(
    T_NAME,
    _T_BEFORE_ATTR,
    _T_ATTR_NAME,
    _T_AFTER_ATTR,
    _T_BEFORE_VALUE,
    _T_DQ,
    _T_SQ,
    _T_UQ,
    T_END,
) = range(9)
_T_RUNS = (
    TAG_NAME,
    re.compile(rb"[\t\n\f\r /]*"),
    re.compile(rb"[^\t\n\f\r />=]*"),
    re.compile(rb"[\t\n\f\r ]*"),
    re.compile(rb"[\t\n\f\r ]*"),
    re.compile(rb'[^"]*'),
    re.compile(rb"[^']*"),
    re.compile(rb"[^\t\n\f\r >]*"),
)
_GT, _EQ, _SLASH, _DQ, _SQ = 0x3E, 0x3D, 0x2F, 0x22, 0x27
# Complete attributes, skipped at C speed from the "before attribute name" state. Each must be
# followed by a character that settles it, so that the state after them is again "before
# attribute name" (a valueless name at the end of the data could still get "=value").
_ATTRS_SKIP = re.compile(
    rb"(?:[\t\n\f\r /]*[^\t\n\f\r />][^\t\n\f\r />=]*(?=[\t\n\f\r />=])"
    rb"""(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:"[^"]*"|'[^']*'"""
    rb"""|[^\t\n\f\r >"'][^\t\n\f\r >]*(?=[\t\n\f\r >])|(?=>))"""
    rb"|(?=[\t\n\f\r ]*[^\t\n\f\r =])))*"
)


def scan_tag(data: bytes, pos: int, state: int, end: int | None = None) -> tuple[int, int]:
    """Advance through a tag from `pos` in `state`, reading `data` up to `end` (default: all of
    it); (position after ">", T_END) when it ends there, else (end, the state to resume in)."""
    n = len(data) if end is None else end
    runs = _T_RUNS
    while True:
        if state == _T_BEFORE_ATTR:
            skipped = _ATTRS_SKIP.match(data, pos, n)
            pos = skipped.end() if skipped is not None else pos
        match = runs[state].match(data, pos, n)
        pos = match.end() if match is not None else pos
        if pos >= n:
            return n, state
        c = data[pos]
        pos += 1
        if c == _GT and state not in (_T_DQ, _T_SQ):
            return pos, T_END
        if state in (T_NAME, _T_UQ, _T_DQ, _T_SQ):
            state = _T_BEFORE_ATTR
        elif state == _T_BEFORE_ATTR:
            state = _T_ATTR_NAME
        elif state in (_T_ATTR_NAME, _T_AFTER_ATTR):
            if c == _EQ:
                state = _T_BEFORE_VALUE
            elif c == _SLASH:
                state = _T_BEFORE_ATTR
            elif state == _T_ATTR_NAME:
                state = _T_AFTER_ATTR
            else:  # a new attribute: read it again from "before attribute name" (faster)
                state = _T_BEFORE_ATTR
                pos -= 1
        else:  # _T_BEFORE_VALUE
            state = _T_DQ if c == _DQ else _T_SQ if c == _SQ else _T_UQ


def tag_end(data: bytes, name_end: int) -> int | None:
    """Where a tag whose name ends at `name_end` ends (after its ">"), or None when `data`
    ends first."""
    end, state = scan_tag(data, name_end, T_NAME)
    return end if state == T_END else None


_ATTR_RE = re.compile(
    rb"[\t\n\f\r /]*([^\t\n\f\r />][^\t\n\f\r />=]*)"
    rb"""(?:[\t\n\f\r ]*=[\t\n\f\r ]*("[^"]*"|'[^']*'|[^\t\n\f\r >"'][^\t\n\f\r >]*|))?"""
)


class Attr(NamedTuple):
    name: bytes  # lowercased
    start: int  # where the name starts
    name_end: int
    end: int  # after the value (and its closing quote)
    value: bytes  # raw, still HTML-encoded, without quotes; b"" when there is none


def attributes(tag: bytes, pos: int) -> list[Attr]:
    """The attributes of a complete tag, from `pos` (just after the tag name)."""
    attrs = []
    while (match := _ATTR_RE.match(tag, pos)) is not None:
        raw = match.group(2) or b""
        if raw[:1] in (b'"', b"'"):
            raw = raw[1:-1]
        attrs.append(Attr(match.group(1).lower(), match.start(1), match.end(1), match.end(), raw))
        pos = match.end()
    return attrs


def first_by_name(attrs: list[Attr]) -> dict[bytes, Attr]:
    """Attributes by name; as in a browser, the first of duplicates wins."""
    by_name: dict[bytes, Attr] = {}
    for attr in attrs:
        by_name.setdefault(attr.name, attr)
    return by_name


def self_closing(data: bytes, start: int, state: int, end: int, before: int | None) -> bool:
    """Whether a tag ending at `end` (after its ">"), whose scan in `data` began at `start` in
    `state`, closes itself: `before` (the byte before its ">") is a "/" outside an unquoted
    attribute value. In one, the "/" is part of the value: `<svg a=b/>` and `<svg a=/>` open
    an SVG element, as `<svg/>` and `<svg a="b"/>` do not."""
    if before != _SLASH:
        return False
    _, last = scan_tag(data, start, state, end - 1)  # the state that reads the ">"
    return last != _T_UQ
