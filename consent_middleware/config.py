"""`ConsentConfig` and `Category`: every option validated and compiled once, at construction.

A bad option raises `ValueError` naming the bad value here, never at the first request.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

__all__ = ["ALWAYS", "Category", "ConsentConfig", "CookieRule", "DEFAULT_CATEGORIES"]

#: The pseudo-category of cookies that always pass (`unknown_cookies="allow"`).
ALWAYS = "*"

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_PATTERN_CHARS_RE = re.compile(r"^[\x21-\x7e]+$")
_FORBIDDEN_IN_PATTERN = set(';=," \t')

SameSite = Literal["lax", "strict", "none"]
UnknownCookies = str  # "block", "allow", or a category name


@dataclass(frozen=True)
class Category:
    """A purpose for which cookies are set; the visitor grants or refuses each one."""

    name: str
    label: str = ""
    description: str = ""
    required: bool = False
    #: Refused when the visitor sends Global Privacy Control (sale or sharing of data).
    gpc: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ValueError(
                f"category name {self.name!r} must be 1-40 lowercase letters, digits, '_' or '-',"
                " starting with a letter"
            )
        if not self.label:
            object.__setattr__(self, "label", self.name.capitalize())


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category(
        "authentication",
        "Authentication",
        "Keeps you signed in and protects your session. Always on.",
        required=True,
    ),
    Category("settings", "Settings", "Remembers your choices, such as language or theme."),
    Category("analytics", "Analytics", "Counts visits so that we can improve the site."),
    Category("marketing", "Marketing", "Measures advertising and shows relevant ads.", gpc=True),
)


@dataclass(frozen=True)
class CookieRule:
    """Which category a cookie belongs to, and where it lives (used to expire it)."""

    category: str
    path: str = "/"
    domain: str | None = None


@dataclass(frozen=True)
class _CompiledRules:
    exact: dict[str, CookieRule]
    prefixes: tuple[tuple[str, CookieRule], ...]
    globs: tuple[tuple[re.Pattern[str], CookieRule], ...]

    def match(self, name: str) -> CookieRule | None:
        rule = self.exact.get(name)
        if rule is not None:
            return rule
        for prefix, prule in self.prefixes:
            if name.startswith(prefix):
                return prule
        for regex, grule in self.globs:
            if regex.match(name):
                return grule
        return None


DEFAULT_GOOGLE_CONSENT_MAPPING: dict[str, tuple[str, ...]] = {
    "authentication": ("security_storage",),
    "settings": ("functionality_storage", "personalization_storage"),
    "analytics": ("analytics_storage",),
    "marketing": ("ad_storage", "ad_user_data", "ad_personalization"),
}
GOOGLE_CONSENT_TYPES = frozenset(
    {
        "ad_storage",
        "ad_user_data",
        "ad_personalization",
        "analytics_storage",
        "functionality_storage",
        "personalization_storage",
        "security_storage",
    }
)


@dataclass(frozen=True, eq=False)
class ConsentConfig:
    """Everything the middleware needs to know about a site's cookies and its banner."""

    secret_key: str | Sequence[str]
    cookies: Mapping[str, str | CookieRule] = field(default_factory=dict)
    policy_version: str = "1"
    categories: Sequence[Category] | None = None
    unknown_cookies: UnknownCookies = "block"
    cookie_name: str = "consent"
    max_age: int | timedelta = timedelta(days=180)
    secure: bool | None = None
    same_site: SameSite = "lax"
    cookie_domain: str | None = None
    path_prefix: str = "/consent"
    inject_banner: bool = True
    privacy_policy_url: str | None = None
    honor_gpc: bool = True
    honor_dnt: bool = False
    filter_request_cookies: bool = True
    gate_scripts: bool = False
    google_consent_mode: bool = False
    google_consent_mapping: Mapping[str, Sequence[str]] | None = None
    languages: Sequence[str] = ("en", "uk")
    #: Force one language instead of choosing from Accept-Language.
    language: str | None = None
    #: Text overrides: {"en": {"title": "...", ...}, "uk": {...}}.
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Show the small default "Cookie settings" link once the visitor has decided.
    settings_link: bool = True
    #: Largest request body accepted by the /consent endpoints, in bytes.
    max_body_size: int = 4096
    #: How many verified consent cookies to remember (saves an HMAC per request).
    cache_size: int = 4096

    # Derived, filled in by __post_init__.
    secret_keys: tuple[str, ...] = field(init=False)
    category_list: tuple[Category, ...] = field(init=False)
    category_names: tuple[str, ...] = field(init=False)
    optional_categories: tuple[str, ...] = field(init=False)
    required_categories: frozenset[str] = field(init=False)
    max_age_seconds: int = field(init=False)
    rules: _CompiledRules = field(init=False, repr=False)
    unknown_rule: CookieRule | None = field(init=False, repr=False)
    google_mapping: dict[str, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "secret_keys", _secret_keys(self.secret_key))
        cats = tuple(DEFAULT_CATEGORIES if self.categories is None else self.categories)
        _check_categories(cats)
        set_(self, "category_list", cats)
        set_(self, "category_names", tuple(c.name for c in cats))
        set_(self, "optional_categories", tuple(c.name for c in cats if not c.required))
        set_(self, "required_categories", frozenset(c.name for c in cats if c.required))

        if not isinstance(self.policy_version, str) or not self.policy_version.strip():
            raise ValueError(f"policy_version {self.policy_version!r} must be a non-empty string")
        if not isinstance(self.cookie_name, str) or not _TOKEN_RE.match(self.cookie_name):
            raise ValueError(f"cookie_name {self.cookie_name!r} is not a valid cookie name")
        seconds = (
            int(self.max_age.total_seconds())
            if isinstance(self.max_age, timedelta)
            else self.max_age
        )
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            raise ValueError(f"max_age {self.max_age!r} must be a positive number of seconds")
        set_(self, "max_age_seconds", seconds)
        if self.secure not in (None, True, False):
            raise ValueError(f"secure {self.secure!r} must be True, False or None")
        if self.same_site not in ("lax", "strict", "none"):
            raise ValueError(f"same_site {self.same_site!r} must be 'lax', 'strict' or 'none'")
        if self.same_site == "none" and self.secure is False:
            raise ValueError("same_site 'none' needs secure cookies, but secure is False")
        if self.cookie_domain is not None and (
            not isinstance(self.cookie_domain, str)
            or not re.match(r"^\.?[A-Za-z0-9.-]+$", self.cookie_domain)
        ):
            raise ValueError(f"cookie_domain {self.cookie_domain!r} is not a domain")
        if not isinstance(self.path_prefix, str) or not re.match(
            r"^/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$", self.path_prefix
        ):
            raise ValueError(
                f"path_prefix {self.path_prefix!r} must start with '/' and not end with '/'"
            )
        if self.privacy_policy_url is not None and (
            not isinstance(self.privacy_policy_url, str)
            or self.privacy_policy_url.strip().lower().startswith(("javascript:", "data:"))
        ):
            raise ValueError(f"privacy_policy_url {self.privacy_policy_url!r} is not a link")
        languages = tuple(self.languages)
        if not languages or any(
            not isinstance(lang, str) or not re.match(r"^[a-z]{2,3}$", lang) for lang in languages
        ):
            raise ValueError(f"languages {self.languages!r} must be language codes like 'en'")
        set_(self, "languages", languages)
        if self.language is not None and self.language not in languages:
            raise ValueError(f"language {self.language!r} is not one of languages {languages!r}")
        for lang, overrides in self.texts.items():
            if lang not in languages:
                raise ValueError(f"texts has language {lang!r}, which is not in languages")
            if not isinstance(overrides, Mapping):
                raise ValueError(f"texts[{lang!r}] must be a mapping of text keys to strings")
        for name in ("max_body_size", "cache_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} {value!r} must be a non-negative integer")

        known = set(self.category_names)
        set_(self, "rules", _compile_rules(self.cookies, known, self.cookie_name))
        if self.unknown_cookies == "block":
            unknown_rule = None
        elif self.unknown_cookies == "allow":
            unknown_rule = CookieRule(ALWAYS)
        elif self.unknown_cookies in known:
            unknown_rule = CookieRule(self.unknown_cookies)
        else:
            raise ValueError(
                f"unknown_cookies {self.unknown_cookies!r} must be 'block', 'allow' or a category"
            )
        set_(self, "unknown_rule", unknown_rule)
        set_(self, "google_mapping", _google_mapping(self.google_consent_mapping, known))

    def rule_for(self, name: str) -> CookieRule | None:
        """The rule a cookie name matches, or None when no rule names it."""
        return self.rules.match(name)

    def category(self, name: str) -> Category:
        for cat in self.category_list:
            if cat.name == name:
                return cat
        raise KeyError(name)

    @property
    def gpc_categories(self) -> frozenset[str]:
        return frozenset(c.name for c in self.category_list if c.gpc and not c.required)


def _secret_keys(secret: str | Sequence[str]) -> tuple[str, ...]:
    keys = (secret,) if isinstance(secret, (str, bytes)) else tuple(secret)
    if not keys:
        raise ValueError("secret_key is empty: give a long random string")
    for key in keys:
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"secret_key {key!r} must be a non-empty string")
    return keys


def _check_categories(cats: tuple[Category, ...]) -> None:
    if not cats:
        raise ValueError("categories is empty: give at least one category")
    seen: set[str] = set()
    for cat in cats:
        if not isinstance(cat, Category):
            raise ValueError(f"categories item {cat!r} is not a Category")
        if cat.name in seen:
            raise ValueError(f"duplicate category {cat.name!r}")
        seen.add(cat.name)


def _compile_rules(
    cookies: Mapping[str, str | CookieRule], known: set[str], consent_cookie: str
) -> _CompiledRules:
    exact: dict[str, CookieRule] = {}
    prefixes: list[tuple[str, CookieRule]] = []
    globs: list[tuple[re.Pattern[str], CookieRule]] = []
    for pattern, target in cookies.items():
        rule = CookieRule(target) if isinstance(target, str) else target
        if not isinstance(rule, CookieRule):
            raise ValueError(f"cookies[{pattern!r}] must be a category name or a CookieRule")
        if rule.category not in known:
            raise ValueError(
                f"cookies[{pattern!r}] names unknown category {rule.category!r}"
                f" (known: {', '.join(sorted(known))})"
            )
        if not rule.path.startswith("/"):
            raise ValueError(f"cookies[{pattern!r}] path {rule.path!r} must start with '/'")
        if (
            not isinstance(pattern, str)
            or not _PATTERN_CHARS_RE.match(pattern)
            or _FORBIDDEN_IN_PATTERN.intersection(pattern)
            or pattern.count("[") != pattern.count("]")
        ):
            raise ValueError(f"cookie pattern {pattern!r} is not a cookie name or glob pattern")
        if pattern == consent_cookie:
            raise ValueError(f"cookie pattern {pattern!r} is the consent cookie's own name")
        if not any(ch in pattern for ch in "*?["):
            exact[pattern] = rule
        elif pattern.endswith("*") and not any(ch in pattern[:-1] for ch in "*?["):
            prefixes.append((pattern[:-1], rule))
        else:
            globs.append((re.compile(fnmatch.translate(pattern)), rule))
    # Longest prefix first, so "_ga_" beats "_ga".
    prefixes.sort(key=lambda item: len(item[0]), reverse=True)
    return _CompiledRules(exact, tuple(prefixes), tuple(globs))


def _google_mapping(
    mapping: Mapping[str, Sequence[str]] | None, known: set[str]
) -> dict[str, tuple[str, ...]]:
    source = DEFAULT_GOOGLE_CONSENT_MAPPING if mapping is None else mapping
    result: dict[str, tuple[str, ...]] = {}
    for category, types in source.items():
        if category not in known:
            if mapping is None:
                continue
            raise ValueError(f"google_consent_mapping names unknown category {category!r}")
        for gtype in types:
            if gtype not in GOOGLE_CONSENT_TYPES:
                raise ValueError(f"google_consent_mapping type {gtype!r} is not a consent type")
        result[category] = tuple(types)
    return result
