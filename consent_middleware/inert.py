"""What makes a gated start tag inert when it cannot be read whole (too long to hold, or cut
off where gating takes its second look): attributes inserted right after the tag's name.

The first of duplicate attributes wins in HTML, so what is inserted there overrides what the
tag says after it: a script gets an inert type, an iframe an empty `srcdoc` (which wins over
any `src`), `hidden`, and an empty value for every event handler, because an iframe fires
`load` even for the empty document it then shows, and its inline `onload` would run the
vendor's code before consent.
"""

from __future__ import annotations

__all__ = ["EVENT_HANDLERS", "INERT", "INERT_XML"]

#: The event handler attributes of HTML elements (WHATWG HTML, `GlobalEventHandlers`, with
#: the CSS animation and transition, pointer, touch and legacy WebKit ones browsers accept).
EVENT_HANDLERS = (
    b"onabort onanimationcancel onanimationend onanimationiteration onanimationstart"
    b" onauxclick onbeforeinput onbeforematch onbeforetoggle onblur oncancel oncanplay"
    b" oncanplaythrough onchange onclick onclose oncommand oncontentvisibilityautostatechange"
    b" oncontextlost oncontextmenu oncontextrestored oncopy oncuechange oncut ondblclick"
    b" ondrag ondragend ondragenter ondragleave ondragover ondragstart ondrop"
    b" ondurationchange onemptied onended onerror onfocus onfocusin onfocusout onformdata"
    b" ongotpointercapture oninput oninvalid onkeydown onkeypress onkeyup onload"
    b" onloadeddata onloadedmetadata onloadstart onlostpointercapture onmousedown"
    b" onmouseenter onmouseleave onmousemove onmouseout onmouseover onmouseup onmousewheel"
    b" onpaste onpause onplay onplaying onpointercancel onpointerdown onpointerenter"
    b" onpointerleave onpointermove onpointerout onpointerover onpointerrawupdate onpointerup"
    b" onprogress onratechange onreset onresize onscroll onscrollend onscrollsnapchange"
    b" onscrollsnapchanging onsecuritypolicyviolation onseeked onseeking onselect"
    b" onselectionchange onselectstart onslotchange onstalled onsubmit onsuspend"
    b" ontimeupdate ontoggle ontouchcancel ontouchend ontouchmove ontouchstart"
    b" ontransitioncancel ontransitionend ontransitionrun ontransitionstart onvolumechange"
    b" onwaiting onwebkitanimationend onwebkitanimationiteration onwebkitanimationstart"
    b" onwebkittransitionend onwheel"
).split()

#: By tag name, for an HTML page: valueless attributes (an empty value).
INERT = {
    b"script": b" type=text/plain",
    b"iframe": b" srcdoc hidden" + b"".join(b" " + name for name in EVENT_HANDLERS),
}
#: The same, well-formed XML too (XHTML pages).
INERT_XML = {
    b"script": b' type="text/plain"',
    b"iframe": b' srcdoc="" hidden=""' + b"".join(b" " + name + b'=""' for name in EVENT_HANDLERS),
}
