"""Render the banner with Jinja2, and stream it into an HTML body before `</body>`.

Sans-IO: strings and bytes in, strings and bytes out. Rendering is cached per kind of
visitor; per-visitor values (nonce, return_to, the state JSON) are filled into slots after.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from .assets import load_assets
from .config import ConsentConfig
from .consent import Consent
from .i18n import choose_language, texts_for

__all__ = [
    "BannerRenderer",
    "HtmlInjector",
    "csp_nonce",
    "google_consent_types",
    "safe_return_to",
]

Mode = Literal["snippet", "banner", "page"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_CACHE_SIZE = 256
_STATE_CACHE_SIZE = 4096
# Slots survive autoescaping unchanged (NUL is never escaped, and never in a safe value).
_SLOT_RE = re.compile("\x00(nonce|ret|retq|state)\x00")
_NONCE = "\x00nonce\x00"
_RET = "\x00ret\x00"
_RETQ = "\x00retq\x00"
_STATE = Markup("\x00state\x00")
_INDENT_RE = re.compile(r"\n\s+")
_PLAIN_PATH_RE = re.compile(r"/(?!/)[A-Za-z0-9/._~-]{0,1998}")


def _json_for_script(value: Any) -> str:
    """JSON that can sit in a <script> element: no "<", ">" or "&" can close or open a tag."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _Template:
    """Rendered HTML split at its slots: literal, slot name, literal, ..., literal."""

    __slots__ = ("parts",)

    def __init__(self, html: str) -> None:
        self.parts = tuple(_SLOT_RE.split(html))

    def fill(self, values: Mapping[str, str]) -> str:
        out = list(self.parts)
        for index in range(1, len(out), 2):
            out[index] = values[out[index]]
        return "".join(out)


class BannerRenderer:
    """Renders the banner, its snippet and the preferences page for one configuration."""

    def __init__(self, config: ConsentConfig) -> None:
        self.config = config
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_TEMPLATES),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        self._banner = self.env.get_template("banner.html")
        self._page = self.env.get_template("preferences.html")
        assets = load_assets()
        prefix = config.path_prefix
        self.css_href = f"{prefix}/banner.css?v={assets['banner.css'].version}"
        self.js_href = f"{prefix}/banner.js?v={assets['banner.js'].version}"
        self._texts = {lang: texts_for(config, lang) for lang in config.enabled_languages}
        # What banner.js needs besides the visitor's state; the same for every visitor.
        rules = _rules_in_match_order(config)
        gpc = [name for name in config.category_names if name in config.gpc_categories]
        tail: dict[str, Any] = {"prefix": prefix, "rules": rules, "gpc_categories": gpc}
        if config.google_consent_mode:
            tail["gcm"] = google_consent_types(config)
        self._json_tail = {
            lang: _json_for_script({**tail, "texts": {"saved": t["saved"]}})[1:]
            for lang, t in self._texts.items()
        }
        self._cache: dict[tuple[Any, ...], _Template] = {}
        self._states: dict[tuple[Any, ...], str] = {}

    # -- public ------------------------------------------------------------------------

    def snippet(
        self, consent: Consent, language: str, *, nonce: str | None = None, return_to: str = "/"
    ) -> str:
        """What goes before `</body>` of every HTML page: stylesheet, banner, state, script.

        Pure ASCII (other characters as references), so it fits a page in any charset.
        """
        language = self._language(language)
        template = self._cached("snippet", consent, language, nonce is not None)
        return template.fill(self._slots(consent, language, nonce, return_to))

    def render_banner(self, consent: Consent, language: str, *, return_to: str = "/") -> str:
        """Only the `<section id="consent-banner">`, for apps that place it themselves."""
        language = self._language(language)
        template = self._cached("banner", consent, language, False)
        return template.fill(self._slots(consent, language, None, return_to))

    def preferences_page(
        self, consent: Consent, language: str, *, nonce: str | None = None, return_to: str = "/"
    ) -> str:
        """A whole HTML document to change the choice, usable without JavaScript."""
        language = self._language(language)
        decided_at = consent.decided_at if consent.decided else None
        html = self._page.render(
            self._context("page", consent, language, nonce is not None),
            decided_at=decided_at.strftime("%Y-%m-%dT%H:%M:%SZ") if decided_at else None,
            decided_at_text=decided_at.strftime("%Y-%m-%d %H:%M UTC") if decided_at else None,
        )
        return _Template(html).fill(self._slots(consent, language, nonce, return_to))

    # -- internals -----------------------------------------------------------------------

    def _language(self, language: str) -> str:
        if language in self._texts:
            return language
        return choose_language(self.config, language)

    def _cached(self, mode: Mode, consent: Consent, language: str, has_nonce: bool) -> _Template:
        # Everything the rendered HTML depends on, except the slots filled per visitor.
        key = (
            mode,
            language,
            consent.decided,
            consent.gpc,
            has_nonce,
            tuple(consent.categories.items()),
        )
        template = self._cache.get(key)
        if template is None:
            html = self._banner.render(self._context(mode, consent, language, has_nonce))
            html = _INDENT_RE.sub("\n", html).strip()
            # Character references instead of UTF-8: the page may be windows-1251 or latin-1.
            html = html.encode("ascii", "xmlcharrefreplace").decode("ascii")
            template = _Template(html)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()  # rare (keys are kinds of visitor), and thread-safe
            self._cache[key] = template
        return template

    def _context(
        self, mode: Mode, consent: Consent, language: str, has_nonce: bool
    ) -> dict[str, Any]:
        texts = self._texts[language]
        categories = [
            {
                "name": cat.name,
                "label": texts.get(f"category.{cat.name}.label", cat.label),
                "description": texts.get(f"category.{cat.name}.description", cat.description),
                "required": cat.required,
                "checked": cat.required or consent.allows(cat.name),
            }
            for cat in self.config.category_list
        ]
        prefix = self.config.path_prefix
        return {
            "mode": mode,
            "t": texts,
            "lang": language,
            "consent": consent,
            "categories": categories,
            "hidden": consent.decided and mode != "page",
            "prefix": prefix,
            "privacy_url": self.config.privacy_policy_url,
            "settings_link": self.config.settings_link,
            "css_href": self.css_href,
            "js_href": self.js_href,
            "nonce": _NONCE if has_nonce else None,
            "return_to": _RET,
            "prefs_href": f"{prefix}/preferences?return_to={_RETQ}",
            "state_json": _STATE,
        }

    def _slots(
        self, consent: Consent, language: str, nonce: str | None, return_to: str
    ) -> dict[str, str]:
        if _PLAIN_PATH_RE.fullmatch(return_to):  # the usual case: nothing to check or escape
            ret = retq = return_to
        else:
            safe = safe_return_to(return_to)
            ret, retq = str(escape(safe)), str(escape(quote(safe, safe="/")))
        return {
            "nonce": str(escape(nonce)) if nonce else "",
            "ret": ret,
            "retq": retq,
            "state": '{"state":' + self._state_json(consent) + "," + self._json_tail[language],
        }

    def _state_json(self, consent: Consent) -> str:
        """The visitor's state as JSON; cached, as the codec hands out the same few values."""
        key = (
            consent.decided,
            consent.gpc,
            consent.policy_version,
            consent.consent_id,
            consent.decided_ts,
            tuple(consent.categories.items()),
        )
        state = self._states.get(key)
        if state is None:
            state = _json_for_script(consent.to_state())
            if len(self._states) >= _STATE_CACHE_SIZE:
                self._states.clear()
            self._states[key] = state
        return state


def google_consent_types(config: ConsentConfig) -> dict[str, list[str]]:
    """Google Consent Mode type -> the categories that must all be granted for "granted".

    The inverse of `config.google_mapping` (category -> types), in the categories' order, so
    banner.js can send `gtag('consent', 'update', ...)` with the same values as the server's
    default command.
    """
    types: dict[str, list[str]] = {}
    for category in config.category_names:
        for gtype in config.google_mapping.get(category, ()):
            types.setdefault(gtype, []).append(category)
    return types


def _rules_in_match_order(config: ConsentConfig) -> list[list[str]]:
    """[pattern, category] pairs in the order the server matches them: exact names,
    then prefixes longest first, then other globs, so JS and server agree on overlaps."""
    exact, prefixes, globs = [], [], []
    for pattern, target in config.cookies.items():
        pair = [pattern, target if isinstance(target, str) else target.category]
        if not any(ch in pattern for ch in "*?["):
            exact.append(pair)
        elif pattern.endswith("*") and not any(ch in pattern[:-1] for ch in "*?["):
            prefixes.append(pair)
        else:
            globs.append(pair)
    prefixes.sort(key=lambda pair: len(pair[0]), reverse=True)
    return exact + prefixes + globs


# -- request values ----------------------------------------------------------------------

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


_UNSAFE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Kept as they are: what a URL path and query may hold, and "%" so escapes stay single.
_PATH_SAFE = "/?#[]@!$&'()*+,;=:%~-._"


def safe_return_to(value: str | None, fallback: str = "/") -> str:
    """`value` if it is a path on this site, percent-encoded to ASCII; else `fallback`.

    Refuses "//host" and "/\\host" (browsers read both as another site), absolute URLs,
    control characters (browsers drop tabs and newlines, which could make "//").
    """
    if (
        not isinstance(value, str)
        or len(value) > 2000
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or _UNSAFE_RE.search(value)
    ):
        return fallback
    return quote(value, safe=_PATH_SAFE)


# -- streaming ---------------------------------------------------------------------------

_BODY_END = re.compile(b"</body", re.IGNORECASE)
_TAIL = len(b"</body") - 1


class HtmlInjector:
    """Streams an HTML body, inserting `snippet` before the first `</body` (any case).

    Only the last few bytes wait between chunks, in case the marker is split; the body is
    never buffered. Without `</body` the snippet goes at the end, so the output is always
    exactly `len(snippet)` longer than the input (the adapters fix Content-Length up front).
    """

    __slots__ = ("_done", "_snippet", "_tail")

    def __init__(self, snippet: bytes) -> None:
        self._snippet = snippet
        self._tail = b""
        self._done = False

    def feed(self, chunk: bytes) -> bytes:
        if self._done:
            return chunk
        data = self._tail + chunk if self._tail else chunk
        match = _BODY_END.search(data)
        if match is not None:
            self._done = True
            self._tail = b""
            at = match.start()
            return data[:at] + self._snippet + data[at:]
        # Hold back only what could begin the marker: its one "<" among the last bytes.
        start = data.rfind(b"<", max(0, len(data) - _TAIL))
        if start < 0 or not b"</body".startswith(data[start:].lower()):
            self._tail = b""
            return data
        self._tail = data[start:]
        return data[:start]

    def finish(self) -> bytes:
        """The held-back tail, plus the snippet if no `</body` came."""
        if self._done:
            return b""
        self._done = True
        rest, self._tail = self._tail, b""
        return rest + self._snippet
