"""A streaming HTML tokenizer that rewrites a page as it passes: it inserts snippets (the
banner, Google Consent Mode's default) at their real places and hands the start tags of
`<script>` and `<iframe>` to a tag filter (gating). The banner injector and gating share it.

Sans-IO: `HtmlRewriter` takes the body chunk by chunk and returns bytes; it never buffers the
body whole. It follows the HTML tokenizer (WHATWG, section 13.2.5) closely enough for real
pages: tags with double-, single- or unquoted attribute values (a `>` inside quotes does not end
a tag), comments, bogus comments and doctypes, and the raw text of `<script>` (with its
`<!--`/`<script>` escaping rules), `<style>`, `<textarea>`, `<title>`, `<iframe>`, `<xmp>`,
`<noembed>`, `<noframes>` and `<plaintext>`. Nothing inside a comment or raw text is rewritten.

Only a tag that a filter may rewrite (a `<script>` or `<iframe>` start tag) is held back whole,
up to `MAX_TAG` bytes; every other construct streams, and at most a few bytes (a possible end
marker split between chunks) wait for the next chunk.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

from .latent_tags import LatentTagGuard
from .page_memo import MAX_PAGE, PageMemo, Places
from .start_tags import (
    MAX_TAG,
    T_END,
    T_NAME,
    TAG_NAME,
    Attr,
    attributes,
    first_by_name,
    scan_tag,
    self_closing,
    tag_end,
)

__all__ = [
    "MAX_TAG",
    "Attr",
    "HtmlRewriter",
    "TagFilter",
    "attributes",
    "first_by_name",
    "tag_end",
]

logger = logging.getLogger("consent_middleware")


class TagFilter(Protocol):
    """Rewrites the start tags of `<script>` and `<iframe>` (gating)."""

    def rewrite(self, name: bytes, tag: bytes, name_end: int) -> bytes:
        """The tag to send instead of `tag` (a whole start tag; its name ends at
        `name_end`), or `tag` itself."""
        ...

    def neutralize(self, name: bytes) -> bytes:
        """Attributes to insert right after the name of a start tag too long to hold, so
        that it cannot load or run whatever follows (the first of duplicate attributes
        wins in HTML)."""
        ...


# --- Tokenizer pieces --------------------------------------------------------------------------
# HTML whitespace is exactly TAB, LF, FF, CR and SPACE (not VT, unlike Python's \s).

# An attribute, written so that every string has at most one way to match (no backtracking
# blow-up when a tag is cut off at a chunk end): a name ends only at a delimiter, a name followed
# by "=" must take a value, an unquoted value ends only at whitespace or ">".
_ATTR = (
    rb"[^\t\n\f\r />][^\t\n\f\r />=]*(?=[\t\n\f\r />=])"
    rb"""(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:"[^"]*"|'[^']*'"""
    rb"""|[^\t\n\f\r >"'][^\t\n\f\r >]*(?=[\t\n\f\r >])|(?=>))"""
    rb"|(?![\t\n\f\r ]*=))"
)
# The rest of a tag after its first letter: name, attributes (each followed by any number of
# whitespace or "/"), ">".
_TAG_REST = rb"[^\t\n\f\r />]*(?=[\t\n\f\r />])[\t\n\f\r /]*(?:" + _ATTR + rb"[\t\n\f\r /]*)*>"
_DELIM = rb"(?=[\t\n\f\r />])"

_RAW_NAMES = (b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed", b"noframes")
# `<svg>` and `<math>` open foreign content, where those names are no raw text (see
# `HtmlRewriter._foreign_start`); from a `<select>` on, gating takes a second look
# (`latent_tags.py`).
_ALWAYS_STOP = (
    b"script",
    b"plaintext",
    b"noscript",
    b"svg",
    b"math",
    b"select",
    *_RAW_NAMES,
)
_HEAD_STOP = (b"head", b"link", b"body")


def _names(names: tuple[bytes, ...]) -> bytes:
    """An alternation of tag names followed by a delimiter, grouped by first letter (faster)."""
    groups: dict[bytes, list[bytes]] = {}
    for name in names:
        groups.setdefault(name[:1], []).append(re.escape(name[1:]))
    return (
        b"(?:"
        + b"|".join(first + b"(?:" + b"|".join(rests) + b")" for first, rests in groups.items())
        + b")"
        + _DELIM
    )


def _skip_re(start_stops: tuple[bytes, ...], end_stops: tuple[bytes, ...]) -> re.Pattern[bytes]:
    """Consumes, at C speed, everything in the data state that needs no action: text, complete
    comments and bogus comments, and complete tags other than the `*_stops` ones."""
    end_tag = (rb"(?!" + _names(end_stops) + rb")" if end_stops else b"") + rb"[a-zA-Z]"
    # A tag without a quote before its first ">" ends there (no quoted value can hide a
    # ">"): most tags take this short way, the others the exact one.
    tag = rb"(?:[^>\"']*+>|" + _TAG_REST + rb")"
    # One repetition takes the text before a "<" and what that "<" opens, so a page costs
    # half as many repetitions as tokens (each costs sre more than the bytes it reads); the
    # text after the last construct it can take is the final [^<]*. The quantifiers are
    # possessive: `match` succeeds whatever follows (zero repetitions match), so sre never
    # needs to give a repetition back, and not recording how to saves it a third of its
    # instructions per page (counted with callgrind on the benchmark's page).
    return re.compile(
        rb"(?:[^<]*+<(?:"
        rb"(?!"
        + _names(start_stops)
        + rb")[a-zA-Z]"
        + tag
        + rb"|/(?:"
        + end_tag
        + tag
        + rb"|(?=[^a-zA-Z])[^>]*>)"  # an end tag; "</>" or a bogus comment
        rb"|!(?:--(?:-?>|.*?--!?>)|(?!--)[^>]*>)"  # comment (also <!--> and <!--->), doctype
        rb"|\?[^>]*>"  # a bogus comment
        rb"|(?=[^a-zA-Z/!?])"  # a "<" that opens nothing is text
        rb"))*+[^<]*+",
        re.IGNORECASE | re.DOTALL,
    )


# A `<template>`'s content is an inert fragment, where the parser ignores `</body>`: while a
# snippet waits for its place, template start and end tags matter too.
_TEMPLATE = (b"template",)
# Keyed by (head snippet still waiting for its place, a "</body" still matters); inside a
# <noscript>, its end tag matters too.
_SKIPS = {
    (head, body): _skip_re(
        _ALWAYS_STOP + (_HEAD_STOP if head else ()) + (_TEMPLATE if head or body else ()),
        (b"body", *_TEMPLATE) if body else (),
    )
    for head in (False, True)
    for body in (False, True)
}
_SKIPS_IN_NOSCRIPT = {
    (head, body): _skip_re(
        _ALWAYS_STOP + (_HEAD_STOP if head else ()) + (_TEMPLATE if head or body else ()),
        (b"noscript", b"body", *_TEMPLATE) if body else (b"noscript",),
    )
    for head in (False, True)
    for body in (False, True)
}

#: Inside foreign content every tag counts: the scan stops at each "<".
_SKIP_EACH = re.compile(rb"[^<]*")
#: HTML start tags that end foreign content (WHATWG 13.2.6.5, "any other start tag"
#: aside); `font` is one only with color, face or size, taken as one always.
_BREAKOUT = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i"
    b" img li listing menu meta nobr ol p pre ruby s small span strike strong sub sup table"
    b" tt u ul var font".split()
)
#: Elements of SVG and MathML whose content is read as HTML again (integration points).
_INTEGRATION = {
    b"svg": frozenset({b"foreignobject", b"desc", b"title"}),
    b"math": frozenset({b"mi", b"mo", b"mn", b"ms", b"mtext"}),
}
#: The entries of `HtmlRewriter._modes`, one object each (a page nesting thousands of
#: `<svg>` costs a pointer per level, not a tuple).
_ROOT_ENTRY = {name: (name, name) for name in (b"svg", b"math")}
#: `<svg>` in MathML and `<math>` in SVG: an element of the namespace around it (browsers
#: open no new foreign root there), named like a root, so that its end tag closes it alone.
#: The one exception: an `<svg>` right inside MathML's `<annotation-xml>` is SVG.
_CROSS_ENTRY = {(b"math", b"svg"): (b"math", b"svg"), (b"svg", b"math"): (b"svg", b"math")}
_IP_ENTRY = {name: (b"ip", name) for names in _INTEGRATION.values() for name in names}
#: The longest tag name the tokenizer acts on anywhere (`annotation-xml`): a longer one
#: can stream before its end is seen, in foreign content too.
_LONGEST_NAME = max(
    len(name)
    for name in (
        *_BREAKOUT,
        *_IP_ENTRY,
        *_ROOT_ENTRY,
        b"annotation-xml",
        *_ALWAYS_STOP,
        *_HEAD_STOP,
        *_TEMPLATE,
        b"p",
        b"br",
    )
)
_COMMENT_END = re.compile(rb"--!?>")
#: An end tag of those a body snippet starts with (`core._CLOSE_OPEN`).
_END_TAG = re.compile(rb"</([a-zA-Z]++)>")
_SCRIPT_DATA_RE = re.compile(rb"<!--|</script" + _DELIM, re.IGNORECASE)
_SCRIPT_ESCAPED_RE = re.compile(rb"-->|</script" + _DELIM + rb"|<script" + _DELIM, re.IGNORECASE)
_SCRIPT_DOUBLE_RE = re.compile(rb"-->|</script" + _DELIM, re.IGNORECASE)
_RAW_END = {
    name: re.compile(rb"</" + name + _DELIM, re.IGNORECASE) for name in (*_RAW_NAMES, b"script")
}
_NOSCRIPT_END = re.compile(rb"</noscript" + _DELIM, re.IGNORECASE)
#: Bytes kept back inside a <noscript>: its end tag may be split between chunks.
_NOSCRIPT_HOLD = len(b"</noscript")
_GT, _SLASH = 0x3E, 0x2F

# Tokenizer states of the rewriter.
(
    _DATA,
    _TAG,
    _COMMENT,
    _BOGUS,
    _RAW,
    _SCRIPT,
    _SCRIPT_ESC,
    _SCRIPT_DOUBLE,
    _PLAINTEXT,
    _CDATA,
) = range(10)
# Bytes kept back in a raw-text state: one less than its longest end marker (+ delimiter).
_SCRIPT_HOLD = len(b"</script")
_COMMENT_HOLD = len(b"--!")


class HtmlRewriter:
    """Streams an HTML body once, chunk by chunk: inserts snippets, filters script and
    iframe start tags.

    - `tags`: every `<script>` and `<iframe>` start tag goes through `tags.rewrite` whole
      (see `gating.TagGate`); one still unfinished after `MAX_TAG` bytes gets
      `tags.neutralize` after its name instead, so it can neither run nor load.
    - `head_snippet` goes right after the first `<head>` start tag; without one, before the
      first `<script>`, `<link>` or `<body>` start tag, whichever comes first (streaming cannot
      wait to learn whether a `<head>` follows); without any of these, with the body snippet.
    - `body_snippet` goes before the first `</body>` end tag; without one, at the end.
      Neither goes inside a `<template>` (its content is an inert fragment: a banner there
      would never show, and the parser ignores a `</body>` in it) or a `<noscript>` (text
      to a browser with scripting on: a `</body>` or `<script>` there is no place).

    - `xml`: the page is XHTML (`application/xhtml+xml`), which browsers read as XML: with
      `tags`, gating takes its second look over the whole page (`latent_tags.py`).
    - `memo`: where the snippets went in pages seen before (`page_memo.PageMemo`); a first
      chunk found there is answered without tokenizing (never with `tags`).

    Both snippets are inserted exactly once whatever the body holds, so without `tags` the
    output is exactly `added_length` bytes longer than the input (`length_is_predictable`).
    Without `tags`, once both have their place the rest of the body passes unread.
    A tag filter may change lengths, so `length_is_predictable` is then False.

    Markers are honoured only where the tokenizer would see them: a `</body>` or `<script>`
    inside a comment, an attribute value, a script's text or a `<title>` is not one. The
    content of `<noscript>` is read both ways: as markup (as with scripting off), so a tag
    manager's `<noscript><iframe>` is gated too, and as text that its first `</noscript`
    ends (as with scripting on), so that a comment, raw-text element or tag left open
    inside it cannot hide what follows it. Inside `<svg>` and `<math>` (foreign content)
    tags are read as browsers read them there: no raw text (`<style>`, `<title>` hold markup,
    and an SVG `<script>` is gated with its content read as markup), `/>` closes an element,
    CDATA sections are text; integration points (`<foreignObject>`, `<desc>`, `<title>`,
    MathML's `<mi>`...) hold HTML again, and the HTML tags that end foreign content (`<p>`,
    `<div>`, `</p>`, ...) end it.
    When the body ends inside an unfinished comment, raw-text element or streamed tag, the
    snippets still go at the end, where the browser will not run them (bytes already sent
    cannot be revised); an unfinished tag still held back gets them before it.
    Never raises on any input.
    """

    __slots__ = (
        "added_length",
        "length_is_predictable",
        "_tags",
        "_head",
        "_body",
        "_head_after_tag",
        "_state",
        "_tag_state",
        "_after",
        "_raw_end",
        "_raw_hold",
        "_next_raw_end",
        "_next_raw_hold",
        "_skip",
        "_noscript",
        "_opens_noscript",
        "_pending",
        "_held",
        "_out",
        "_emitted",
        "_finished",
        "_failed",
        "_modes",
        "_open",
        "_push",
        "_tail",
        "_closing",
        "_templates",
        "_after_axml",
        "_latent",
        "_latent_from",
        "_xml",
        "_memo",
        "_fed",
        "_places",
        "_started",
    )

    def __init__(
        self,
        *,
        head_snippet: bytes = b"",
        body_snippet: bytes = b"",
        tags: TagFilter | None = None,
        memo: PageMemo | None = None,
        xml: bool = False,
    ) -> None:
        self._tags = tags
        # Where the snippets went in pages seen before (`page_memo.py`): never with a tag
        # filter, whose rewriting is not the page's alone.
        self._memo = memo if tags is None else None
        self._fed = False
        # Where this page's snippets went, while learning it for the memo.
        self._places: list[tuple[int, bool, bool]] | None = None
        self._head = bytes(head_snippet)
        self._body = bytes(body_snippet)
        self.length_is_predictable = tags is None
        self.added_length = len(self._head) + len(self._body)
        self._pending = b""
        self._finished = False
        self._failed = False
        # Gating's second look (`latent_tags.py`), once it starts, and where in this chunk's
        # output it starts.
        self._latent: LatentTagGuard | None = None
        self._latent_from = 0
        self._xml = xml
        if xml and tags is not None:
            # An XHTML page is XML to browsers: no raw text, no script escapes, CDATA
            # sections anywhere, prefixed names (`<h:script>`). The second look covers the
            # whole page, writing well-formed XML.
            self._latent = LatentTagGuard(tags, xml=True)
        # The tokenizer's state is set up only when a page is read (`_start`): a page that
        # the memo of pages knows never needs it.
        self._started = False

    def _start(self) -> None:
        self._started = True
        self._head_after_tag = False
        self._state = _DATA
        self._tag_state = T_NAME
        self._after = _DATA
        self._raw_end = _RAW_END[b"style"]
        self._raw_hold = 0
        self._next_raw_end = self._raw_end
        self._next_raw_hold = 0
        self._held: tuple[int, int] | None = None
        self._out: list[bytes] = []
        self._emitted = 0
        self._skip = _SKIPS[False, False]
        self._noscript = False
        self._opens_noscript = False
        # Open SVG/MathML roots and integration points, innermost last: (b"svg" or b"math",
        # or b"ip" for an integration point, the element's name). Empty: HTML.
        self._modes: list[tuple[bytes, bytes]] = []
        # How many entries of `_modes` each element name has: an end tag that closes none
        # of them is told at once, not by walking every open element.
        self._open: dict[bytes, int] = {}
        self._push: tuple[bytes, bytes] | None = None  # once the tag ends, unless "/>"
        self._tail = b""  # the last byte read before this chunk (a "/" before its ">")
        # The first "</noscript" of this chunk's data at or after the last place looked from:
        # (start, end), (-1, -1) for none, None for not looked for yet. Looked for once per
        # chunk, not at every step (that was quadratic in a long <noscript>).
        self._closing: tuple[int, int] | None = None
        # Open HTML <template> elements, innermost last: how many `_modes` entries were open
        # when each started (its end tag closes the foreign content opened inside it).
        self._templates: list[int] = []
        # The last tag read in MathML was an `<annotation-xml>` start tag: an `<svg>` now
        # opens SVG (anywhere else in MathML it is a MathML element).
        self._after_axml = False
        self._refresh()

    # --- public -------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> bytes:
        """The output for `chunk`; a few bytes (or a tag to rewrite) may wait for the next."""
        if not chunk:
            return b""
        if self._finished:
            return bytes(chunk)
        data = self._pending + chunk if self._pending else bytes(chunk)
        memo = None
        if not self._fed:
            self._fed = True
            if self._memo is not None and len(data) <= MAX_PAGE:
                memo = self._memo
                waiting = (bool(self._head), bool(self._body))
                places = memo.get(*waiting, data)
                if places is not None:
                    return self._replay(data, places)
                if memo.seen_before(*waiting, data):
                    self._places = []
        if not self._started:
            self._start()
        self._pending = b""
        self._out = []
        self._emitted = 0
        try:
            self._run(data)
        except Exception:  # pragma: no cover - a bug; never break the page over it
            logger.exception("consent-middleware could not rewrite HTML; passing it through")
            self._failed = True
            self._state = _PLAINTEXT
            self._pending = b""
            self._held = None
            self._out.append(data[self._emitted :])
        out, self._out = self._out, []
        found, self._places = self._places, None
        if self._tags is None and not (self._head or self._body or self._failed):
            # Every snippet has its place and nothing else changes: the rest of the body,
            # what waited included, passes as it is.
            out.append(self._pending)
            self._pending = b""
            self._finished = True
            if memo is not None and found is not None:
                memo.put(*waiting, data, tuple(found))
        result = b"".join(out)
        if self._latent is not None:
            start, self._latent_from = self._latent_from, 0
            return result[:start] + self._latent.feed(result[start:])
        return result

    def look_twice(self) -> None:
        """From the next output on, gating takes a second look (`latent_tags.py`): the page's
        charset is still unknown (`charsets.MetaSniffer`), and one that a `<meta>` further on
        names may make a browser read its bytes otherwise."""
        if self._tags is not None and self._latent is None:
            self._latent = LatentTagGuard(self._tags)
            self._latent_from = 0

    def finish(self) -> bytes:
        """Whatever waited, and the snippets that found no place in the body."""
        if self._finished:
            return b""
        if not self._started:
            self._start()
        self._finished = True
        rest, self._pending, self._held = self._pending, b"", None
        snippets = self._head + self._body
        if (
            (self._modes or self._templates or self._noscript)
            and self._head
            and _END_TAG.match(self._body)
        ):
            # Still in SVG or MathML, a template or a noscript: the body snippet's leading
            # end tags close it first, or the head snippet would be a foreign script (a
            # MathML one never runs), inert, or text.
            snippets = self._body + self._head
        self._head = self._body = b""
        # In the data state, what waits is an unfinished tag the browser will drop (or a
        # lone "<"), so the snippets can still go before it and run.
        out = snippets + rest if self._state == _DATA else rest + snippets
        if self._latent is not None:
            return self._latent.feed(out) + self._latent.finish()
        return out

    def _replay(self, data: bytes, places: Places) -> bytes:
        """The output for a page seen before (`page_memo.py`): its bytes, the snippets at the
        places the tokenizer found in it."""
        out = []
        last = 0
        for at, head, body in places:
            out.append(data[last:at])
            if head:
                out.append(self._head)
            if body:
                out.append(self._body)
            last = at
        out.append(data[last:])
        self._head = self._body = b""
        self._finished = True
        return b"".join(out)

    # --- the tokenizer --------------------------------------------------------------------------

    def _refresh(self) -> None:
        if self._modes:
            self._skip = _SKIP_EACH
            return
        head = bool(self._head) and not self._head_after_tag
        skips = _SKIPS_IN_NOSCRIPT if self._noscript else _SKIPS
        self._skip = skips[head, bool(self._head or self._body)]

    def _insert(self, data: bytes, at: int, text: bytes) -> None:
        self._out.append(data[self._emitted : at])
        self._out.append(text)
        self._emitted = at

    def _place(self, data: bytes, at: int, head: bool, body: bool) -> None:
        """The waiting snippets named go at `at`: the head snippet first."""
        head = head and bool(self._head)
        body = body and bool(self._body)
        if self._places is not None:
            self._places.append((at, head, body))
        self._insert(data, at, (self._head if head else b"") + (self._body if body else b""))
        if head:
            self._head = b""
        if body:
            self._body = b""

    def _replace(self, data: bytes, start: int, end: int, text: bytes) -> None:
        self._out.append(data[self._emitted : start])
        self._out.append(text)
        self._emitted = end

    def _noscript_end(self, data: bytes, i: int) -> tuple[int, int] | None:
        """Where the first "</noscript" at or after `i` starts and its name ends; None if none."""
        known = self._closing
        if known is None or (known[0] >= 0 and known[0] < i):
            found = _NOSCRIPT_END.search(data, i)
            known = (-1, -1) if found is None else (found.start(), found.end())
            self._closing = known
        return None if known[0] < 0 else known

    def _run(self, data: bytes) -> None:
        n = len(data)
        i = 0
        cut = n  # data[cut:] waits for the next chunk
        self._closing = None
        while i < n:
            if self._state == _DATA:
                if self._noscript:
                    # The fast scan may not take a comment or a tag across "</noscript".
                    closing = self._noscript_end(data, i)
                    match = self._skip.match(data, i, n if closing is None else closing[0])
                else:
                    match = self._skip.match(data, i)
                if match is not None:
                    i = match.end()
                if i >= n:
                    break
                at = self._markup(data, i)
                if at < 0:
                    cut = i
                    break
                i = at
                continue
            if not self._noscript:
                i, stop = self._step(data, i, n)
                if stop >= 0:
                    cut = stop
                    break
                continue
            # Inside a <noscript>, a browser with scripting on reads text up to the first
            # "</noscript": whatever the markup reading is in (a comment, raw text, a tag),
            # it ends there too, so that nothing after it is hidden from gating.
            closing = self._noscript_end(data, i)
            limit = closing[0] if closing is not None else _noscript_limit(data, i, n)
            i, stop = self._step(data, i, limit)
            if stop < 0:
                continue
            if closing is None:
                cut = stop
                break
            i = self._close_noscript(closing[1])
        if cut < n:
            self._pending = data[cut:]
        if cut:
            self._tail = data[cut - 1 : cut]
        self._out.append(data[self._emitted : cut])
        self._emitted = cut

    def _step(self, data: bytes, i: int, n: int) -> tuple[int, int]:
        """One step in a state other than data, reading `data` up to `n`: the position to go
        on from, and where to stop the chunk (data[stop:] waits for more), or -1 to go on."""
        state = self._state
        if state == _TAG:
            start, start_state = i, self._tag_state
            i, self._tag_state = scan_tag(data, i, start_state, n)
            if self._tag_state != T_END:
                return n, n
            self._tag_ended(data, i, start, start_state)
            return i, -1
        if state == _COMMENT:
            found = _COMMENT_END.search(data, i, n)
            if found is None:
                return i, max(i, n - _COMMENT_HOLD)
            self._state = _DATA
            return found.end(), -1
        if state == _CDATA:
            end = data.find(b"]]>", i, n)
            if end < 0:
                return i, max(i, n - 2)
            self._state = _DATA
            return end + 3, -1
        if state == _BOGUS:
            gt = data.find(b">", i, n)
            if gt < 0:
                return n, n
            self._state = _DATA
            return gt + 1, -1
        if state == _RAW:
            found = self._raw_end.search(data, i, n)
            if found is None:
                return i, max(i, n - self._raw_hold)
            return self._end_tag(found.end()), -1
        if state in (_SCRIPT, _SCRIPT_ESC, _SCRIPT_DOUBLE):
            regex = (
                _SCRIPT_DATA_RE
                if state == _SCRIPT
                else _SCRIPT_ESCAPED_RE
                if state == _SCRIPT_ESC
                else _SCRIPT_DOUBLE_RE
            )
            found = regex.search(data, i, n)
            if found is None:
                return i, max(i, n - _SCRIPT_HOLD)
            token = found.group()
            if token == b"<!--":
                # Its dashes may close it again at once: "<!-->" is no escape.
                self._state = _SCRIPT_ESC
                return found.start() + 2, -1
            if token == b"-->":
                self._state = _SCRIPT
                return found.end(), -1
            if token[1:2] == b"/":
                if state == _SCRIPT_DOUBLE:
                    self._state = _SCRIPT_ESC
                    return found.end(), -1
                return self._end_tag(found.end()), -1
            self._state = _SCRIPT_DOUBLE  # "<script" inside an escaped script
            return found.end(), -1
        return n, n  # _PLAINTEXT: nothing else ever ends it

    def _close_noscript(self, at: int) -> int:
        """A "</noscript" ends the noscript (its name ends at `at`): its end tag follows."""
        self._noscript = False
        self._refresh()
        return self._end_tag(at)

    def _end_tag(self, at: int) -> int:
        """The end tag of a raw-text element starts; its name ends at `at`."""
        self._state = _TAG
        self._tag_state = T_NAME
        self._after = _DATA
        self._opens_noscript = False
        return at

    def _tag_ended(self, data: bytes, at: int, start: int, start_state: int) -> None:
        """A tag ends at `at` (after its ">"); this chunk's scan of it began at `start` in
        `start_state`."""
        if self._push is not None:
            before = data[at - 2] if at >= 2 else (self._tail[0] if self._tail else None)
            if not self_closing(data, start, start_state, at, before):  # "<svg/>" opens nothing
                self._modes.append(self._push)
                self._open[self._push[1]] = self._open.get(self._push[1], 0) + 1
                self._refresh()
                if self._tags is not None and self._latent is None:
                    self._start_latent(self._tags, at)
            self._push = None
        if self._head_after_tag:
            self._head_after_tag = False
            self._place(data, at, True, False)
            self._refresh()
        self._state = self._after
        self._raw_end = self._next_raw_end
        self._raw_hold = self._next_raw_hold
        if self._opens_noscript:
            # Only once its start tag has ended: a "</noscript>" in one of its own
            # attributes ends nothing.
            self._opens_noscript = False
            self._noscript = True
            self._refresh()

    def _stream_tag(self, at: int, after: int, raw: bytes = b"") -> int:
        self._state = _TAG
        self._tag_state = T_NAME
        self._after = after
        if raw:
            self._next_raw_end = _RAW_END[raw]
            self._next_raw_hold = len(raw) + 2
        return at

    def _markup(self, data: bytes, i: int) -> int:
        """At a "<" the fast scan stopped at: what it starts. The position to go on from, or -1
        when the next chunk is needed to tell."""
        n = len(data)
        if i + 1 >= n:
            return -1
        c = data[i + 1]
        if c == 0x21:  # "<!"
            if data.startswith(b"--", i + 2):
                if i + 4 >= n or (data[i + 4] == 0x2D and i + 5 >= n):
                    return -1
                if data[i + 4] == _GT:
                    return i + 5
                if data.startswith(b"->", i + 4):
                    return i + 6
                self._state = _COMMENT
                return i + 4
            foreign = self._in_foreign()
            if foreign or (self._modes and self._tags is not None):
                if data.startswith(b"[CDATA[", i + 2):
                    if foreign:
                        # A CDATA section: text up to "]]>" (in HTML, a bogus comment).
                        self._state = _CDATA
                    else:
                        # In an integration point a browser reads a CDATA section (up to
                        # "]]>") while the integration point itself is the current node, and
                        # a bogus comment (up to ">") once an HTML element is open in it,
                        # which only a tree builder knows. Gating closes the section at once
                        # ("<![CDATA[]]>"): both readings then agree with this one, and no
                        # script can hide in the difference (gating allows a new length).
                        self._insert(data, i + 9, b"]]>")
                    return i + 9
                if i + 9 > n and b"[CDATA[".startswith(data[i + 2 :]):
                    return -1
            if i + 3 >= n and b"--".startswith(data[i + 2 :]):
                return -1
            self._state = _BOGUS
            return i + 2
        if c == 0x3F:  # "<?"
            self._state = _BOGUS
            return i + 2
        is_end = c == _SLASH
        start = i + 2 if is_end else i + 1
        if start >= n:
            return -1
        if not 0x61 <= data[start] | 0x20 <= 0x7A:  # not an ASCII letter
            if is_end:
                self._state = _BOGUS
                return start
            return i + 1  # a "<" that opens nothing (the fast scan takes these itself)
        match = TAG_NAME.match(data, start)
        name_end = match.end() if match is not None else start
        name = data[start:name_end].lower()
        if name_end >= n:
            # The name may go on in the next chunk: wait if it could become one we act on
            # (in foreign content, any name no longer than the longest it acts on).
            stops = (
                (b"body", b"noscript", *_TEMPLATE)
                if is_end
                else _ALWAYS_STOP + _HEAD_STOP + _TEMPLATE
            )
            if (self._modes and len(name) <= _LONGEST_NAME) or any(
                stop.startswith(name) for stop in stops
            ):
                return -1
            return self._stream_tag(name_end, _DATA)
        if is_end and name == b"template" and self._templates:
            self._close_template()
            return self._stream_tag(name_end, _DATA)
        if self._modes:
            if is_end:
                self._foreign_end(name)
            elif self._in_foreign():
                if (
                    name == b"script"
                    and self._head
                    and not self._head_after_tag
                    and self._modes[-1][0] == b"svg"
                ):
                    # Before any script, as in HTML (an SVG script runs; a MathML one
                    # does not, and the snippet would not run there either).
                    self._place(data, i, True, False)
                at = self._foreign_start(data, i, name, name_end)
                if at is not None:
                    return at
                if name == b"body" and self._head and not self._head_after_tag:
                    # A <body> that ends foreign content: before it, the snippet would
                    # still be SVG or MathML (a MathML script never runs); after it, HTML.
                    self._head_after_tag = True
                    self._refresh()
        if is_end:
            if name == b"noscript" and self._noscript:
                return self._close_noscript(name_end)
            # Inside a <noscript>, a browser with scripting on reads text: no end of body.
            if (
                name == b"body"
                and (self._head or self._body)
                and not self._templates
                and not self._noscript
            ):
                snippet = self._body
                self._place(data, i, True, True)
                if self._modes:
                    # The banner's snippet starts with end tags (`</svg></math>...`) that
                    # close open foreign content: read them as the page's own, or a CDATA
                    # section after them (text in SVG, a bogus comment in HTML) would hide
                    # a script that then runs.
                    pos = 0
                    while self._modes and (closer := _END_TAG.match(snippet, pos)):
                        self._foreign_end(closer.group(1).lower())
                        pos = closer.end()
                self._head = self._body = b""
                self._head_after_tag = False
                self._refresh()
            return self._stream_tag(name_end, _DATA)
        if name == b"template":
            self._templates.append(len(self._modes))
        elif self._head and not self._head_after_tag and not self._templates and not self._noscript:
            if name == b"head":
                self._head_after_tag = True
                self._refresh()
            elif name in (b"script", b"link", b"body"):
                self._place(data, i, True, False)
                self._refresh()
        if name == b"script":
            if self._xml:
                # XML has no script escapes: the content ends at the first "</script".
                if self._tags is not None:
                    return self._held_tag(data, i, name_end, _RAW, b"script")
                return self._stream_tag(name_end, _RAW, b"script")
            if self._tags is not None:
                return self._held_tag(data, i, name_end, _SCRIPT)
            return self._stream_tag(name_end, _SCRIPT)
        if name == b"iframe":
            if self._tags is not None:
                return self._held_tag(data, i, name_end, _RAW)
            return self._stream_tag(name_end, _RAW, name)
        if name in _RAW_END:
            return self._stream_tag(name_end, _RAW, name)
        if name == b"plaintext":
            return self._stream_tag(name_end, _PLAINTEXT)
        if name == b"noscript":
            self._opens_noscript = True
        if name in (b"svg", b"math"):
            self._push = _ROOT_ENTRY[name]  # foreign content, once its start tag ends
        elif name == b"select" and self._tags is not None and self._latent is None:
            # Browsers that follow the older select parser ignore some tags in it (a
            # `<style>`, an `<svg>`) that the tokenizer reads.
            self._start_latent(self._tags, i)
        return self._stream_tag(name_end, _DATA)

    def _start_latent(self, tags: TagFilter, at: int) -> None:
        """From `at` in this chunk's data on, gating takes a second look (`latent_tags.py`):
        browsers' readings and the tokenizer's may part after SVG, MathML or a `<select>`."""
        self._latent = LatentTagGuard(tags)
        self._latent_from = sum(map(len, self._out)) + at - self._emitted

    def _close_template(self) -> None:
        """A `</template>` closes the innermost template, and any SVG or MathML opened in it
        (the parser pops up to the template, whatever foreign element is open)."""
        depth = self._templates.pop()
        while len(self._modes) > depth:
            self._open[self._modes.pop()[1]] -= 1
        self._refresh()

    # --- foreign content (SVG, MathML) -------------------------------------------------------

    def _in_foreign(self) -> bool:
        """Whether tags are read as SVG or MathML here (not HTML, not an integration point):
        no raw text, `/>` closes, CDATA sections."""
        return bool(self._modes) and self._modes[-1][0] != b"ip"

    def _leave_foreign(self) -> None:
        """Back to HTML: out to the innermost integration point, or out of foreign content."""
        while self._modes and self._modes[-1][0] != b"ip":
            self._open[self._modes.pop()[1]] -= 1
        self._refresh()

    def _foreign_start(self, data: bytes, i: int, name: bytes, name_end: int) -> int | None:
        """A start tag in foreign content (its "<" at `i`): the position to go on from (as
        `_markup` returns it), or None to read it as HTML (it ended foreign content)."""
        after_axml, self._after_axml = self._after_axml, False
        if name in _BREAKOUT:
            self._leave_foreign()
            return None
        root = self._modes[-1][0]
        if name in (b"svg", b"math"):
            crossed = name != root and not (name == b"svg" and after_axml)
            self._push = _CROSS_ENTRY[root, name] if crossed else _ROOT_ENTRY[name]
        elif name in _INTEGRATION[root]:
            self._push = _IP_ENTRY[name]
        elif name == b"annotation-xml" and root == b"math":
            self._after_axml = True
        if name in (b"script", b"iframe") and self._tags is not None:
            # An SVG script runs: gated like any, its content read as markup (an SVG
            # `iframe` loads nothing, and is gated all the same: what cannot leak).
            return self._held_tag(data, i, name_end, _DATA, name)
        return self._stream_tag(name_end, _DATA)

    def _foreign_end(self, name: bytes) -> None:
        """An end tag while foreign content is open: it closes the innermost open root or
        integration point of that name, and what is inside it; `</p>` and `</br>` in SVG or
        MathML end foreign content, as a breakout start tag does."""
        modes = self._modes
        self._after_axml = False
        if self._open.get(name):
            # The innermost of that name: what is walked here is closed, so each open
            # element is walked once.
            while True:
                closed = modes.pop()[1]
                self._open[closed] -= 1
                if closed == name:
                    break
            self._refresh()
        elif name in (b"p", b"br") and self._in_foreign():
            self._leave_foreign()

    def _held_tag(
        self, data: bytes, i: int, name_end: int, after: int, name: bytes | None = None
    ) -> int:
        """A start tag that may need rewriting: rewrite it once whole, or wait for the rest."""
        if i == 0 and self._held is not None:
            pos, tag_state = self._held
        else:
            pos, tag_state = name_end, T_NAME
        self._held = None
        # Inside a <noscript>, a "</noscript" ends the text before the tag would end.
        closing = self._noscript_end(data, name_end) if self._noscript else None
        pos, tag_state = scan_tag(data, pos, tag_state, None if closing is None else closing[0])
        if name is None:
            name = b"script" if after == _SCRIPT else b"iframe"
        if after == _RAW:
            self._next_raw_end = _RAW_END[name]
            self._next_raw_hold = len(name) + 2
        tags = self._tags
        assert tags is not None
        if closing is not None and tag_state != T_END:
            # With scripting off it is still a tag (which goes on past "</noscript"): it
            # must not run either way.
            self._insert(data, name_end, tags.neutralize(name))
            return self._close_noscript(closing[1])
        if tag_state == T_END:
            tag = data[i:pos]
            new = tags.rewrite(name, tag, name_end - i)
            if new != tag and after == _DATA and name == b"iframe":
                # An SVG or MathML `iframe` loads nothing, but a placeholder `<div>` before it
                # would end foreign content and make it an HTML iframe, whose raw text takes
                # the rest of the page (and the banner): it gets the inert attributes alone.
                new = tag[: name_end - i] + tags.neutralize(name) + tag[name_end - i :]
            if new != tag:
                self._replace(data, i, pos, new)
            self._state = after
            self._raw_end = self._next_raw_end
            self._raw_hold = self._next_raw_hold
            return pos
        if pos - i > MAX_TAG:
            # Too long to hold: whatever its attributes turn out to be, it must not run.
            _log_once(f"a <{name.decode()}> start tag over {MAX_TAG} bytes was neutralised")
            self._insert(data, name_end, tags.neutralize(name))
            self._state = _TAG
            self._tag_state = tag_state
            self._after = after
            return pos
        self._held = (pos - i, tag_state)
        return -1


def _noscript_limit(data: bytes, i: int, n: int) -> int:
    """How far to read inside a <noscript> without its end tag in sight: up to a last "<"
    that a "</noscript" split between chunks may start at, else to the end."""
    at = data.rfind(b"<", max(i, n - _NOSCRIPT_HOLD), n)
    if at >= 0 and b"</noscript".startswith(data[at:n].lower()):
        return at
    return n


_LOGGED: set[str] = set()


def _log_once(message: str) -> None:
    if message not in _LOGGED:
        _LOGGED.add(message)
        logger.warning("consent-middleware: %s (logged once)", message)
