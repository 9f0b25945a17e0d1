"""Render the banner, its snippet and the preferences page with Jinja2.

Sans-IO: strings in, strings out. Rendering is cached per kind of visitor (and mount
prefix); per-visitor values (nonce, return_to, the state JSON) are filled into slots after.
The markup is well-formed XML as well as HTML, so XHTML pages take it too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from .assets import load_assets
from .choice_tokens import new_page_token
from .config import ConsentConfig
from .consent import Consent
from .i18n import choose_language, texts_for
from .redirects import form_room, safe_return_to, within

__all__ = ["PAGE_CSS", "PAGE_STYLE_SOURCE", "BannerRenderer", "google_consent_types"]

Mode = Literal["snippet", "banner", "page"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_CACHE_SIZE = 256
_STATE_CACHE_SIZE = 4096
# Slots survive autoescaping unchanged (NUL is never escaped, and never in a safe value).
_SLOT_RE = re.compile("\x00(nonce|snonce|ret|retq|state|tok)\x00")
_NONCE = "\x00nonce\x00"
_STYLE_NONCE = "\x00snonce\x00"
_RET = "\x00ret\x00"
_RETQ = "\x00retq\x00"
_TOKEN = "\x00tok\x00"
_STATE = Markup("\x00state\x00")
_INDENT_RE = re.compile(r"\n\s+")
#: The policy-update notice's own look, inline where it shows (never in banner.css).
_NOTICE_CSS = (
    "#consent-notice{position:fixed;z-index:2147483000;left:1rem;right:1rem;bottom:1rem;"
    "max-width:32rem;margin:0;padding:1rem 1.25rem;color:#1a1a1a;background:#fff;"
    "border:1px solid #595959;border-radius:.5rem;box-shadow:0 .25rem 1.5rem #0005;"
    "font:1rem/1.5 system-ui,sans-serif;overflow-wrap:anywhere}"
    "#consent-notice p{margin:0 0 .75rem}#consent-notice a{color:#0645ad}"
    "#consent-notice button{min-height:2.75rem;padding:.5rem 1rem;color:#fff;"
    "background:#1a1a1a;border:2px solid #1a1a1a;border-radius:.375rem;font:inherit;"
    "font-weight:600;cursor:pointer}"
)
#: The look of the middleware's own pages (preferences, messages), inline in them (their CSP
#: allows it by hash: `PAGE_STYLE_SOURCE`), so that the banner.css every page of the site
#: loads stays small. A one-word title ("Cookievoorkeuren") or a consent ID is wider than a
#: phone: the word breaks, not the layout.
PAGE_CSS = (
    ".consent-page{margin:0;color:#1a1a1a;background:#fff;font:1rem/1.5 system-ui,sans-serif;"
    "overflow-wrap:anywhere}.consent-main{max-width:40rem;margin:0 auto;padding:1rem}"
    "#consent-banner.consent-inline{position:static;max-width:none;max-height:none;"
    "overflow:visible;box-shadow:none}"
)
#: The CSP source that allows `PAGE_CSS` as an inline style, and nothing else.
PAGE_STYLE_SOURCE = (
    "'sha256-" + base64.b64encode(hashlib.sha256(PAGE_CSS.encode()).digest()).decode() + "'"
)
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
        self._message = self.env.get_template("message.html")
        assets = load_assets()
        self._css_query = f"/banner.css?v={assets['banner.css'].version}"
        # Inlined for undecided visitors; "</" cannot occur in it (it ends a <style>).
        self._css_text = assets["banner.css"].body.decode("utf-8").strip().replace("</", "<\\/")
        updated = config.policy_updated
        self._updated_ts = (
            None
            if updated is None
            else datetime.fromisoformat(updated).replace(tzinfo=timezone.utc).timestamp()
        )
        self._js_query = f"/banner.js?v={assets['banner.js'].version}"
        self._return_room = form_room(config.max_body_size, len(config.category_names))
        self._texts = {lang: texts_for(config, lang) for lang in config.enabled_languages}
        # What banner.js needs besides the visitor's state; the same for every visitor.
        rules = _rules_in_match_order(config)
        gpc = [name for name in config.category_names if name in config.gpc_categories]
        self._tail: dict[str, Any] = {"rules": rules, "gpc_categories": gpc}
        if config.google_consent_mode:
            self._tail["gcm"] = google_consent_types(config)
        self._json_tails: dict[tuple[str, str], str] = {}
        self._cache: dict[tuple[Any, ...], _Template] = {}
        self._states: dict[tuple[Any, ...], str] = {}

    # -- public ------------------------------------------------------------------------

    def snippet(
        self,
        consent: Consent,
        language: str,
        *,
        nonce: str | None = None,
        return_to: str = "/",
        root: str = "",
        inline_style: bool = True,
        style_nonce: str | None = None,
    ) -> str:
        """What goes before `</body>` of every HTML page: styles, banner, state, script.

        Pure ASCII (other characters as references), so it fits a page in any charset.
        `root` is the mount prefix that every URL gets (ASGI root_path, WSGI SCRIPT_NAME).
        A visitor who has not decided gets the banner's CSS inline (when `inline_style`: the
        page's CSP allows it, with `style_nonce`), so that the banner paints with the page
        instead of waiting for its stylesheet; decided visitors get the cached stylesheet.
        """
        language = self._language(language)
        inline = inline_style and (not consent.decided or self._notice(consent))
        template = self._cached(
            "snippet", consent, language, nonce is not None, root, inline, style_nonce is not None
        )
        slots = self._slots(consent, language, nonce, return_to, root)
        if style_nonce is not None:  # its template has the slot
            slots["snonce"] = str(escape(style_nonce)) if style_nonce else ""
        return template.fill(slots)

    def render_banner(
        self, consent: Consent, language: str, *, return_to: str = "/", root: str = ""
    ) -> str:
        """Only the `<section id="consent-banner">`, for apps that place it themselves."""
        language = self._language(language)
        template = self._cached("banner", consent, language, False, root, False, False)
        return template.fill(self._slots(consent, language, None, return_to, root))

    def preferences_page(
        self,
        consent: Consent,
        language: str,
        *,
        nonce: str | None = None,
        return_to: str = "/",
        root: str = "",
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """A whole HTML document to change the choice, usable without JavaScript."""
        language = self._language(language)
        decided_at = consent.decided_at if consent.decided else None
        html = self._page.render(
            self._context("page", consent, language, nonce is not None, root, False, False),
            decided_at=decided_at.strftime("%Y-%m-%dT%H:%M:%SZ") if decided_at else None,
            decided_at_text=decided_at.strftime("%Y-%m-%d %H:%M UTC") if decided_at else None,
            **{"history": None, "keeps_records": False, **(extra or {})},
        )
        return _Template(html).fill(self._slots(consent, language, nonce, return_to, root))

    def message_page(
        self, language: str, title_key: str, message_key: str, *, back: str, root: str = ""
    ) -> str:
        """A small page that says why a choice was not saved, with a way back (no JS)."""
        language = self._language(language)
        texts = self._texts[language]
        prefix = root + self.config.path_prefix
        return self._message.render(
            t=texts,
            lang=language,
            title=texts[title_key],
            message=texts[message_key],
            back=safe_return_to(back),
            prefs_href=f"{prefix}/preferences?return_to={quote(safe_return_to(back), safe='/')}",
            css_href=prefix + self._css_query,
            page_css=Markup(PAGE_CSS),
        )

    # -- internals -----------------------------------------------------------------------

    def _language(self, language: str) -> str:
        if language in self._texts:
            return language
        return choose_language(self.config, language)

    def _notice(self, consent: Consent) -> bool:
        """Whether the visitor chose before the latest minor policy update, unseen since."""
        return self._updated_ts is not None and consent.predates(self._updated_ts)

    def _cached(
        self,
        mode: Mode,
        consent: Consent,
        language: str,
        has_nonce: bool,
        root: str,
        inline: bool,
        has_style_nonce: bool,
    ) -> _Template:
        # Everything the rendered HTML depends on, except the slots filled per visitor.
        key = (
            mode,
            root,
            language,
            consent.decided,
            consent.gpc,
            has_nonce,
            inline,
            has_style_nonce,
            self._notice(consent),
            tuple(consent.categories.items()),
        )
        template = self._cache.get(key)
        if template is None:
            context = self._context(
                mode, consent, language, has_nonce, root, inline, has_style_nonce
            )
            html = self._banner.render(context)
            html = _INDENT_RE.sub("\n", html).strip()
            # Character references instead of UTF-8: the page may be windows-1251 or latin-1.
            html = html.encode("ascii", "xmlcharrefreplace").decode("ascii")
            template = _Template(html)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()  # rare (keys are kinds of visitor), and thread-safe
            self._cache[key] = template
        return template

    def _context(
        self,
        mode: Mode,
        consent: Consent,
        language: str,
        has_nonce: bool,
        root: str,
        inline: bool,
        has_style_nonce: bool,
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
        prefix = root + self.config.path_prefix
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
            "css_href": prefix + self._css_query,
            "page_css": Markup(PAGE_CSS),
            "js_href": prefix + self._js_query,
            "nonce": _NONCE if has_nonce else None,
            "return_to": _RET,
            "prefs_href": f"{prefix}/preferences?return_to={_RETQ}",
            "state_json": _STATE,
            "token": _TOKEN,
            "inline_css": Markup(self._css_text) if inline else None,
            "style_nonce": _STYLE_NONCE if has_style_nonce else None,
            "notice": (
                texts["policy_notice"].replace("{date}", self.config.policy_updated or "")
                if mode == "snippet" and self._notice(consent)
                else None
            ),
            "notice_css": Markup(_NOTICE_CSS),
            "policy_updated": self.config.policy_updated,
        }

    def _slots(
        self, consent: Consent, language: str, nonce: str | None, return_to: str, root: str
    ) -> dict[str, str]:
        if len(return_to) <= self._return_room and _PLAIN_PATH_RE.fullmatch(return_to):
            ret = retq = return_to  # the usual case: nothing to check or escape
        else:
            safe = within(safe_return_to(return_to), self._return_room)
            ret, retq = str(escape(safe)), str(escape(quote(safe, safe="/")))
        return {
            "nonce": str(escape(nonce)) if nonce else "",
            "ret": ret,
            "retq": retq,
            "state": self._state_script(consent, language, root),
            # A fresh token per page: a retried post of the same choice is recorded once.
            "tok": new_page_token(),
        }

    def _json_tail(self, language: str, root: str) -> str:
        key = (language, root)
        tail = self._json_tails.get(key)
        if tail is None:
            texts = {"saved": self._texts[language]["saved"]}
            value = {"prefix": root + self.config.path_prefix, **self._tail, "texts": texts}
            tail = _json_for_script(value)[1:]
            if len(self._json_tails) >= _CACHE_SIZE:
                self._json_tails.clear()
            self._json_tails[key] = tail
        return tail

    def _state_script(self, consent: Consent, language: str, root: str) -> str:
        """The text of the page's state script: the visitor's state and what banner.js
        needs besides. Cached whole, as the codec hands out the same few values (one
        returning visitor's pages all carry the same)."""
        key = (
            consent.decided,
            consent.gpc,
            consent.policy_version,
            consent.consent_id,
            consent.decided_ts,
            tuple(consent.categories.items()),
            language,
            root,
        )
        state = self._states.get(key)
        if state is None:
            state = (
                '{"state":'
                + _json_for_script(consent.to_state())
                + ","
                + self._json_tail(language, root)
            )
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
    """[regular expression, category] pairs in the order the server matches them: exact
    names, then prefixes longest first, then other globs, so JS and server agree on
    overlaps. Each pattern goes as the JavaScript regular expression of its glob (what
    `fnmatch` reads it as), so banner.js needs no glob code of its own."""
    exact, prefixes, globs = [], [], []
    for pattern, target in config.cookies.items():
        pair = [_js_regex(pattern), target if isinstance(target, str) else target.category]
        if not any(ch in pattern for ch in "*?["):
            exact.append(pair)
        elif pattern.endswith("*") and not any(ch in pattern[:-1] for ch in "*?["):
            prefixes.append(pair)
        else:
            globs.append(pair)
    prefixes.sort(key=lambda pair: len(pair[0]), reverse=True)
    return exact + prefixes + globs


def _js_regex(pattern: str) -> str:
    """The JavaScript `RegExp` source that matches the names the glob `pattern` matches, as
    `fnmatch` reads it: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]`; a `[` without its `]` is
    itself. Patterns are printable ASCII (the config checks), so every other character that
    is not a letter, a digit or `_` is escaped with a backslash (an identity escape)."""
    out, i, n = ["^"], 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append("\\[")
                continue
            inner = re.sub(r"([\\\[\]])", r"\\\1", pattern[i:j])
            i = j + 1
            if inner.startswith("!"):
                inner = "^" + inner[1:]
            elif inner.startswith("^"):
                inner = "\\" + inner
            out.append(f"[{inner}]")
        elif ch.isalnum() or ch == "_":
            out.append(ch)
        else:
            out.append("\\" + ch)
    out.append("$")
    return "".join(out)
