"""Reading a page's Content-Security-Policy: the nonce that lets our script run there, and
whether an inline `<style>` may (the banner paints with the page when it can inline its CSS).
"""

from __future__ import annotations

import re

__all__ = ["csp_nonce", "inline_style_nonce"]

_NONCE_RE = re.compile(r"'nonce-([A-Za-z0-9+/_=-]+)'", re.IGNORECASE)
_SCRIPT_DIRECTIVES = ("script-src-elem", "script-src", "default-src")
_STYLE_DIRECTIVES = ("style-src-elem", "style-src", "default-src")
_MAX = 8192


def _policies(csp: str) -> list[dict[str, str]]:
    """Each policy of a header (several may be joined by commas) as directive -> value."""
    out = []
    for policy in csp[:_MAX].split(","):
        directives: dict[str, str] = {}
        for directive in policy.split(";"):
            words = directive.split(None, 1)
            if words:
                directives.setdefault(words[0].lower(), words[1] if len(words) > 1 else "")
        out.append(directives)
    return out


def _governing(directives: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in directives:
            return directives[name]
    return None


def csp_nonce(csp: str | None) -> str | None:
    """The nonce that lets our <script> run under a Content-Security-Policy, if it has one."""
    if not isinstance(csp, str) or not csp:
        return None
    for directives in _policies(csp):
        value = _governing(directives, _SCRIPT_DIRECTIVES)
        if value is not None:
            match = _NONCE_RE.search(value)
            if match:
                return match.group(1)
    return None


def inline_style_nonce(csp: str | None) -> tuple[bool, str | None]:
    """Whether an inline <style> may apply under `csp`, and the nonce it needs (or None).

    Every policy of the header must allow it: by its nonce, or by 'unsafe-inline' where no
    nonce or hash switches that off, or by having no style rule at all."""
    if not isinstance(csp, str) or not csp:
        return True, None
    nonce: str | None = None
    for directives in _policies(csp):
        value = _governing(directives, _STYLE_DIRECTIVES)
        if value is None:
            continue
        match = _NONCE_RE.search(value)
        lowered = value.lower()
        if match:
            if nonce is not None and match.group(1) != nonce:
                return False, None
            nonce = match.group(1)
        elif "'unsafe-inline'" not in lowered or "'sha" in lowered:
            return False, None
    return True, nonce
