"""Gating's second look, once a page has opened SVG, MathML or a `<select>`, or once its
charset may still change (`charsets.MetaSniffer`): every `<script` and `<iframe` of a
refused category is made inert wherever it stands, in text and comments too.

Why: after foreign content, what a browser reads as markup and what it reads as text (a
CDATA section, a comment, the raw text of a `<style>`) depends on the tree it has built:
which HTML elements are open (`<div><svg></div>` leaves SVG), a `<font>`'s attributes, an
`<annotation-xml>`'s `encoding`, an `<mglyph>` in an integration point. The tokenizer builds
no tree, so its reading and a browser's can part there, and a refused script can hide in
the difference. Rather than guess which reading is the browser's, this look covers them
all: any bytes that some reading could take for a refused tag get an attribute that makes
that tag inert (`type=text/plain`, or an empty `srcdoc` and `hidden` for an iframe).

What it writes has no quote, `<`, `>` or `-`: where the bytes were text (a comment, a
string in a script) the text gains a few bytes; inside another tag, it is one more
attribute. It never ends or starts a construct in any reading. A tag the tokenizer already
gated is inert and left alone, as is an allowed one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .inert import INERT
from .start_tags import GATED_TAG_START, MAX_TAG, T_END, T_NAME, scan_tag

if TYPE_CHECKING:
    from .html import TagFilter

__all__ = ["INERT", "LatentTagGuard"]

#: In XML, with any namespace prefix (`<h:script xmlns:h="http://www.w3.org/1999/xhtml">`
#: is a script; names are case-sensitive, but matching more costs nothing that can run).
_XML_START = re.compile(rb"<(?:[^\t\n\f\r />:]+:)?(script|iframe)(?=[\t\n\f\r />])", re.IGNORECASE)
#: A "<" this close to the end may start a name that the next chunk completes.
_NAME_HOLD = len(b"<script")
#: In XML, a prefixed one: a "<" and a name not yet ended, this long at most.
_PREFIXED_HOLD = 256
_UNENDED_NAME = re.compile(rb"<[^\t\n\f\r />]*")
#: Bytes of tags read per byte of input, beyond one `MAX_TAG`: past it (a page of countless
#: unfinished tags), the rest of the chunk's tags are made inert unread, so that reading
#: stays linear in the page.
_READ_BUDGET = 8


class LatentTagGuard:
    """Streams the rewriter's output from where the second look starts (`feed`, then
    `finish`)."""

    __slots__ = ("_tags", "_pending", "_resume", "_start", "_xml")

    def __init__(self, tags: TagFilter, *, xml: bool = False) -> None:
        self._tags = tags
        # XML (an XHTML page): prefixed names count, and what is written must be well-formed
        # (a duplicate attribute is fatal there): a tag is rewritten whole by the gate.
        self._xml = xml
        self._start = _XML_START if xml else GATED_TAG_START
        self._pending = b""
        # Where the scan of the tag that `_pending` starts with stopped, and in what state:
        # a tag fed byte by byte is read once, not again with every byte.
        self._resume: tuple[int, int] | None = None

    def feed(self, chunk: bytes) -> bytes:
        data = self._pending + chunk if self._pending else chunk
        return self._guard(data, final=False)

    def finish(self) -> bytes:
        """What waited: a tag cut off by the end of the page is made inert if it names a
        gated one (a browser drops it anyway), and so is any inside it."""
        rest, self._pending = self._pending, b""
        return self._guard(rest, final=True)

    def _guard(self, data: bytes, *, final: bool) -> bytes:
        self._pending = b""
        resume, self._resume = self._resume, None
        out: list[bytes] = []
        last = pos = 0
        n = len(data)
        budget = _READ_BUDGET * n + MAX_TAG
        while (match := self._start.search(data, pos)) is not None:
            at, name_end = match.start(), match.end()
            name = match.group(1).lower()
            end = None
            if budget > 0:
                start, state = resume if at == 0 and resume is not None else (name_end, T_NAME)
                stop, state = scan_tag(data, start, state)
                budget -= stop - start
                if state == T_END:
                    end = stop
                elif not final and n - at <= MAX_TAG and budget > 0:
                    # Its end may come in the next chunk: hold it whole until then.
                    out.append(data[last:at])
                    self._pending = data[at:]
                    self._resume = (stop - at, state)
                    return b"".join(out)
            if end is None:
                # In XML, the gate's own neutraliser: well-formed there.
                inert = self._tags.neutralize(name) if self._xml else INERT[name]
                out += (data[last:name_end], inert)
                last = name_end
            else:
                tag = data[at:end]
                new = self._tags.rewrite(name, tag, name_end - at)
                if new != tag and self._xml:
                    # Rewritten whole: no "<" can stand in a well-formed tag's attributes.
                    out += (data[last:at], new)
                    last = pos = end
                    continue
                elif new != tag:
                    out += (data[last:name_end], INERT[name])
                    last = name_end
            # On from the name, not the tag's end: inside this tag's attributes, another
            # reading may see a tag of its own.
            pos = name_end
        hold = _PREFIXED_HOLD if self._xml else _NAME_HOLD
        tail = -1 if final else data.rfind(b"<", max(pos, n - hold))
        if tail >= 0 and _could_start(data[tail:], self._xml):
            out.append(data[last:tail])
            self._pending = data[tail:]
        else:
            out.append(data[last:])
        return b"".join(out)


def _could_start(tail: bytes, xml: bool) -> bool:
    """Whether `tail` (from a "<" to the end of the data) may begin `<script` or `<iframe`
    (in XML, after a prefix: any name not yet ended may)."""
    if xml:
        return _UNENDED_NAME.fullmatch(tail) is not None
    lowered = tail.lower()
    return b"<script".startswith(lowered) or b"<iframe".startswith(lowered)
