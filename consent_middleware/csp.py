"""Reading a page's Content-Security-Policy: the nonce that lets our scripts run there."""

from __future__ import annotations

import re

__all__ = ["csp_nonce"]

_NONCE_RE = re.compile(r"'nonce-([A-Za-z0-9+/_=-]+)'", re.IGNORECASE)
_SCRIPT_DIRECTIVES = ("script-src-elem", "script-src", "default-src")


def csp_nonce(csp: str | None) -> str | None:
    """The nonce that lets our <script> run under a Content-Security-Policy, if it has one."""
    if not isinstance(csp, str) or not csp:
        return None
    # A header may carry several policies joined by commas; each must allow the script.
    for policy in csp[:8192].split(","):
        directives: dict[str, str] = {}
        for directive in policy.split(";"):
            words = directive.split(None, 1)
            if words:
                directives.setdefault(words[0].lower(), words[1] if len(words) > 1 else "")
        for name in _SCRIPT_DIRECTIVES:
            if name in directives:
                match = _NONCE_RE.search(directives[name])
                if match:
                    return match.group(1)
                break
    return None
