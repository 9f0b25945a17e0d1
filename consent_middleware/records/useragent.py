"""Short user agents: browser family and major version, and the operating system.

A full User-Agent string narrows a visitor down more than a proof of consent needs
(GDPR art. 5(1)(c), data minimisation). "Firefox 128 on Linux" says enough to show how
the banner looked to them. Strings we do not recognise are cut to 120 printable
characters instead: still short, never lost.
"""

from __future__ import annotations

import re

__all__ = ["MAX_USER_AGENT", "shorten_user_agent"]

MAX_USER_AGENT = 120

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Edge", re.compile(r"\bEdg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"\bOPR/(\d+)")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/(\d+)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"\bVersion/(\d+)(?:\.\d+)*(?: Mobile/\S+)? Safari/")),
    ("curl", re.compile(r"^curl/(\d+)")),
)
_SYSTEMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Android", re.compile(r"\bAndroid\b")),
    ("iOS", re.compile(r"\b(?:iPhone|iPad|iPod)\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b")),
)
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def shorten_user_agent(value: str | None) -> str:
    """ "Chrome 126 on Windows", "Safari 17 on iOS"; else the first 120 printable characters."""
    if not value or not isinstance(value, str):
        return ""
    text = _UNPRINTABLE.sub(" ", value[:1024]).strip()
    browser = None
    for name, pattern in _BROWSERS:
        match = pattern.search(text)
        if match:
            browser = f"{name} {match.group(1)}"
            break
    system = next((name for name, pattern in _SYSTEMS if pattern.search(text)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return browser
    return text[:MAX_USER_AGENT].rstrip()
