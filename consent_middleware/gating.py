"""Gating in the streamed HTML: `<script>` and `<iframe>` tags of refused categories are
made inert, so that a tracker neither runs nor loads before its category is granted.

`TagGate` is the tag filter that `html.HtmlRewriter` calls with every script and iframe
start tag; banner.js turns the tags back on once the visitor grants their category.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping

from .cache import ENTRY_OVERHEAD, BoundedCache
from .html import Attr, attributes, first_by_name, tag_end
from .inert import INERT_XML
from .start_tags import GATED_TAG_START

__all__ = ["TagGate", "TagMemo", "new_tag_memo"]

#: Rewritten start tags, keyed by the gate's fixed-width id and the tag's bytes.
TagMemo = BoundedCache[bytes, bytes]
#: Longer tags are rewritten every time (a site's own tags are far shorter).
_MEMO_MAX_TAG = 4096

_HTML_WS = b"\t\n\f\r "
_CATEGORY_SPLIT = re.compile("[\t\n\f\r ]+")


def _decode(raw: bytes) -> str:
    return html.unescape(raw.decode("utf-8", "replace"))


def _categories(raw: bytes) -> list[str]:
    """Distinct categories of a `data-consent-category` value, in order."""
    return list(dict.fromkeys(c for c in _CATEGORY_SPLIT.split(_decode(raw)) if c))


def _is_text_plain(raw: bytes) -> bool:
    return _decode(raw).split(";", 1)[0].strip("\t\n\f\r ").lower() == "text/plain"


def _escape(text: str) -> bytes:
    """HTML-escaped, as ASCII (character references), so any ASCII-compatible page takes it."""
    return html.escape(text, quote=True).encode("ascii", "xmlcharrefreplace")


class TagGate:
    """Rewrites the script and iframe start tags of refused categories.

    A `<script data-consent-category="X">` start tag is made inert unless every
    (space-separated) category in X is in `granted`: its type becomes "text/plain" and the
    original type, if any, moves to `data-consent-type`. Tags already of type text/plain are
    left alone (banner.js activates them). An `<iframe data-consent-category="X" src=...>`
    of a refused category gets `src` (and `srcdoc`) renamed to `data-consent-src`
    (`data-consent-srcdoc`), the `hidden` attribute, and a placeholder `<div>` before it;
    its event handler attributes (`onload`...) are renamed too (`data-consent-onload`), and
    stay so when banner.js loads the frame: they run from the next page on.
    The placeholder names the refused categories (`data-consent-placeholder`/`-allow`, space
    separated) and their labels (joined with ", ") in place of "{category}" in the texts.
    An empty category value names nothing that could be granted: the tag is gated.
    Categories compare exactly, after HTML-unescaping; tag and attribute names in any case.
    Everything it writes is well-formed XML too (`hidden=""`), for XHTML pages.

    With a `memo` (shared by the gates of one middleware, each with its own `memo_id`), a
    tag seen before is answered from it: a site's pages carry the same few tags on every
    page, and a tag's fate depends on its bytes and the gate alone.
    """

    __slots__ = ("_granted", "_text", "_button", "_labels", "_lang", "_memo", "_memo_id")

    def __init__(
        self,
        granted: frozenset[str] | set[str],
        *,
        placeholder_text: str = "This content is blocked until you allow {category} cookies.",
        placeholder_button: str = "Allow {category} cookies",
        category_labels: Mapping[str, str] | None = None,
        language: str | None = None,
        memo: TagMemo | None = None,
        memo_id: int = 0,
    ) -> None:
        self._memo = memo
        self._memo_id = memo_id.to_bytes(4, "big")  # fixed width: keys cannot collide
        self._granted = frozenset(granted)
        self._text = str(placeholder_text)
        self._button = str(placeholder_button)
        self._labels = {str(k): str(v) for k, v in (category_labels or {}).items()}
        # The placeholder speaks the banner's language, which may not be the page's.
        self._lang = b' lang="' + _escape(language) + b'"' if language else b""

    def rewrite(self, name: bytes, tag: bytes, name_end: int) -> bytes:
        memo = self._memo
        if memo is None or len(tag) > _MEMO_MAX_TAG:
            return self._rewrite(name, tag, name_end)
        # The tag's bytes decide its name and where the name ends: they are the whole key.
        key = self._memo_id + tag
        new = memo.get(key)
        if new is None:
            new = self._rewrite(name, tag, name_end)
            memo.put(key, new)
        return new

    def _rewrite(self, name: bytes, tag: bytes, name_end: int) -> bytes:
        if name == b"script":
            return self._gate_script(tag, name_end)
        return self._gate_iframe(tag, name_end)

    def neutralize(self, name: bytes) -> bytes:
        # An inert type for a script; for an iframe, srcdoc wins over any src after it, and
        # empty event handlers over its own (`inert.py`). Well-formed XML too.
        return INERT_XML[b"script" if name == b"script" else b"iframe"]

    def _refused(self, attrs: dict[bytes, Attr]) -> list[str] | None:
        """The categories of a gated tag that are not granted (maybe []: an empty category
        value), or None when the tag may load."""
        attr = attrs.get(b"data-consent-category")
        if attr is None:
            return None
        categories = _categories(attr.value)
        refused = [c for c in categories if c not in self._granted]
        return refused if refused or not categories else None

    def _gate_script(self, tag: bytes, name_end: int) -> bytes:
        attrs = first_by_name(attributes(tag, name_end))
        if self._refused(attrs) is None:
            return tag
        type_attr = attrs.get(b"type")
        if type_attr is None:
            return tag[:name_end] + b' type="text/plain"' + tag[name_end:]
        if _is_text_plain(type_attr.value):
            return tag
        new = b'type="text/plain"'
        if type_attr.value.strip(_HTML_WS) and b"data-consent-type" not in attrs:
            # The raw value is already HTML-encoded: only a quote needs encoding here.
            new += b' data-consent-type="' + type_attr.value.replace(b'"', b"&quot;") + b'"'
        return tag[: type_attr.start] + new + tag[type_attr.end :]

    def _gate_iframe(self, tag: bytes, name_end: int) -> bytes:
        attrs = attributes(tag, name_end)
        first = first_by_name(attrs)
        refused = self._refused(first)
        if refused is None:
            # An iframe free to load whose `srcdoc` holds a refused script: the document it
            # makes is this page's too (same origin), and no gate reads it. The iframe
            # waits for what its document needs.
            refused = self._refused_inside(a.value for a in attrs if a.name == b"srcdoc")
            if refused is None:
                return tag
        sources = [a for a in attrs if a.name in (b"src", b"srcdoc")]
        # An iframe fires `load` for the empty document it shows without a source: its own
        # event handlers (the vendor's code) wait too, renamed (`data-consent-onload`).
        handlers = [a for a in attrs if a.name.startswith(b"on")]
        if not sources and not handlers:
            return tag
        parts = [tag[:name_end]]
        if sources and b"hidden" not in first:
            parts.append(b' hidden=""')
        prev = name_end
        # Every one: a second src would load once the first is renamed.
        for attr in sorted(sources + handlers, key=lambda a: a.start):
            parts += (tag[prev : attr.start], b"data-consent-")
            prev = attr.start
        parts.append(tag[prev:])
        return (self._placeholder(refused) if sources else b"") + b"".join(parts)

    def _refused_inside(self, documents: Iterable[bytes]) -> list[str] | None:
        """The categories refused by the script and iframe tags in `documents` (`srcdoc`
        values, still HTML-encoded), or None when none is refused. Read as every reading
        could (a tag wherever `<script` or `<iframe` stands once decoded, decoding every
        reference a browser might); a tag cut off names no category, and is refused."""
        refused: list[str] | None = None
        for raw in documents:
            text = html.unescape(raw.decode("utf-8", "replace")).encode("utf-8")
            for match in GATED_TAG_START.finditer(text):
                name_end = match.end()
                end = tag_end(text, name_end)
                if end is None:
                    found: list[str] | None = []
                else:
                    inner = text[match.start() : end]
                    attrs = attributes(inner, name_end - match.start())
                    found = self._refused(first_by_name(attrs))
                    if found is None and match.group(1).lower() == b"iframe":
                        found = self._refused_inside(a.value for a in attrs if a.name == b"srcdoc")
                if found is not None:
                    refused = list(dict.fromkeys((refused or []) + found))
        return refused

    def _placeholder(self, refused: list[str]) -> bytes:
        names = " ".join(refused)
        label = ", ".join(self._labels.get(name, name) for name in refused)
        text = self._text.replace("{category}", label)
        button = self._button.replace("{category}", label)
        return (
            b'<div class="consent-placeholder" data-consent-placeholder="'
            + _escape(names)
            + b'"'
            + self._lang
            + b"><p>"
            + _escape(text)
            + b'</p><button type="button" data-consent-allow="'
            + _escape(names)
            + b'">'
            + _escape(button)
            + b"</button></div>"
        )


def new_tag_memo(max_bytes: int, limit: int = 4096) -> TagMemo:
    """The memo of rewritten tags for the gates of one middleware, within `max_bytes`."""
    return BoundedCache(
        limit,
        _MEMO_MAX_TAG + 4,
        max_bytes=max_bytes,
        size_of=lambda key, new: len(key) + len(new) + ENTRY_OVERHEAD,
    )
